// Package emulator holds the plumbing the local emulators of Slack, Teams,
// Telegram and Meta (slacktest, teamstest, telegramtest, metatest) share:
// waking tests when an emulator's state changes, and hanging up as a
// timed-out server does. What each emulates stays in its own
// package.
package emulator

import (
	"context"
	"fmt"
	"net/http"
	"sync"
)

// Changes wakes the tests waiting on an emulator whenever its state changes.
// The zero value is ready.
type Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

func (c *Changes) current() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify says the state changed.
func (c *Changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
	}
	c.ch = make(chan struct{})
}

// WaitFor blocks until cond holds (checked at once and after every change)
// or ctx ends; name says whose condition it was in the error.
func (c *Changes) WaitFor(ctx context.Context, name string, cond func() bool) error {
	for {
		// Take the channel before checking, so a change made meanwhile
		// closes the one waited on and is not missed.
		ch := c.current()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s: condition not met: %w", name, ctx.Err())
		}
	}
}

// HangUp closes the connection without an answer, as when the caller's
// deadline passes before the server answers.
func HangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // closes the connection without a response
}
