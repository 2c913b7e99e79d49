// Package testclock is a clock for tests that moves only when the test moves
// it, safe for the goroutines that read it meanwhile. It satisfies every
// Now() time.Time clock in Threadline (bridge.Clock, the limiters', the Teams
// validator's).
package testclock

import (
	"sync"
	"time"
)

// Clock reads the time the test set.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at at.
func New(at time.Time) *Clock { return &Clock{now: at} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
