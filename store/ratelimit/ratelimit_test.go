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

func TestLocal(t *testing.T) {
	c := testclock.New(time.Unix(0, 0))
	l := ratelimit.NewLocal(c)
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		key     string
		want    time.Duration
	}{
		{0, "a", 0},
		{0, "a", time.Second},
		{0, "b", 0},
		{400 * time.Millisecond, "a", 600 * time.Millisecond},
		{600 * time.Millisecond, "a", 0},
		{0, "a", time.Second},
	}
	for i, s := range steps {
		c.Advance(s.advance)
		if got, err := l.Reserve(ctx, s.key, time.Second); err != nil || got != s.want {
			t.Errorf("step %d: wait %v, %v; want %v", i, got, err, s.want)
		}
	}
}

type flaky struct {
	mu   sync.Mutex
	fail bool
}

func (f *flaky) Reserve(context.Context, string, time.Duration) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return 0, errors.New("redis down")
	}
	return 7 * time.Millisecond, nil
}

func TestFallbackDegradesAndRecovers(t *testing.T) {
	p := &flaky{}
	f := ratelimit.NewFallback(p, testclock.New(time.Unix(0, 0)), nil)
	ctx := context.Background()
	if w, _ := f.Reserve(ctx, "k", time.Second); w != 7*time.Millisecond || f.Degraded() {
		t.Fatalf("primary answer not used: %v degraded=%v", w, f.Degraded())
	}
	p.fail = true
	if w, err := f.Reserve(ctx, "k", time.Second); err != nil || w != 0 || !f.Degraded() {
		t.Fatalf("fallback: %v %v degraded=%v", w, err, f.Degraded())
	}
	if w, _ := f.Reserve(ctx, "k", time.Second); w != time.Second {
		t.Errorf("local fallback not limiting: %v", w)
	}
	p.fail = false
	if w, _ := f.Reserve(ctx, "k", time.Second); w != 7*time.Millisecond || f.Degraded() {
		t.Errorf("not recovered: %v degraded=%v", w, f.Degraded())
	}
}
