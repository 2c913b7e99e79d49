package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/testclock"
	"github.com/threadline/threadline/store/ratelimit"
)

func TestLocalBlocks(t *testing.T) {
	c := testclock.New(time.Unix(0, 0))
	l := ratelimit.NewLocalBlocks(c)
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		block   time.Duration // 0: none
		key     string
		want    time.Duration
	}{
		{0, 0, "a", 0},
		{0, time.Minute, "a", time.Minute},
		{0, 0, "b", 0},
		{10 * time.Second, 0, "a", 50 * time.Second},
		{0, 5 * time.Second, "a", 50 * time.Second}, // a shorter block does not shorten
		{0, 2 * time.Minute, "a", 2 * time.Minute},
		{2 * time.Minute, 0, "a", 0},
	}
	for i, s := range steps {
		c.Advance(s.advance)
		if s.block > 0 {
			if err := l.Block(ctx, s.key, s.block); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := l.Blocked(ctx, s.key); err != nil || got != s.want {
			t.Errorf("step %d: blocked %v, %v; want %v", i, got, err, s.want)
		}
	}
}

type flakyBlocks struct {
	mu   sync.Mutex
	fail bool
	wait time.Duration
}

func (f *flakyBlocks) Block(_ context.Context, _ string, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("redis down")
	}
	f.wait = max(f.wait, d)
	return nil
}

func (f *flakyBlocks) Blocked(context.Context, string) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("redis down")
	}
	return f.wait, nil
}

// TestFallbackBlocks: a block another replica shared is honoured; while
// the shared store fails, what this replica was told still holds.
func TestFallbackBlocks(t *testing.T) {
	shared := &flakyBlocks{wait: 30 * time.Second} // set by another replica
	f := ratelimit.NewFallbackBlocks(shared, testclock.New(time.Unix(0, 0)), nil)
	ctx := context.Background()
	if w, err := f.Blocked(ctx, "k"); err != nil || w != 30*time.Second || f.Degraded() {
		t.Fatalf("shared block: %v %v degraded=%v", w, err, f.Degraded())
	}
	shared.fail = true
	if err := f.Block(ctx, "k", time.Minute); err != nil {
		t.Fatalf("block while the shared store fails: %v", err)
	}
	if w, err := f.Blocked(ctx, "k"); err != nil || w != time.Minute || !f.Degraded() {
		t.Fatalf("local copy: %v %v degraded=%v", w, err, f.Degraded())
	}
	shared.fail = false
	if w, _ := f.Blocked(ctx, "k"); w != time.Minute || f.Degraded() {
		t.Errorf("after recovery: %v degraded=%v (the longer wait holds)", w, f.Degraded())
	}
}
