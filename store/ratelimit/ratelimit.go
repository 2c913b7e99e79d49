// Package ratelimit spaces outbound calls (one Slack post per channel per
// second, one Telegram message per chat per second) so Threadline stays
// inside the limits of the APIs it calls. Callers that must wait get the
// wait back and hand it to their job queue; nothing sleeps or drops work.
package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Limiter spaces calls per key. Reserve counts a call and returns 0 when it
// may go now; otherwise it counts nothing and returns how long to wait.
type Limiter interface {
	Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error)
}

// Local is an in-process Limiter: the budget of one replica.
type Local struct {
	clock bridge.Clock
	mu    sync.Mutex
	next  map[string]time.Time
}

// NewLocal returns an in-process limiter.
func NewLocal(clock bridge.Clock) *Local {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	return &Local{clock: clock, next: map[string]time.Time{}}
}

// Reserve implements Limiter.
func (l *Local) Reserve(_ context.Context, key string, interval time.Duration) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if n, ok := l.next[key]; ok && now.Before(n) {
		return n.Sub(now), nil
	}
	l.next[key] = now.Add(interval)
	if len(l.next) > 10_000 {
		// Forget keys whose interval has passed so memory stays bounded.
		for k, n := range l.next {
			if !now.Before(n) {
				delete(l.next, k)
			}
		}
	}
	return 0, nil
}

// Fallback uses a shared limiter and, while it fails (Redis down), a local
// one: Redis is an accelerator, not a source of truth.
type Fallback struct {
	primary  Limiter
	local    Limiter
	log      *slog.Logger
	degraded atomic.Bool
}

// NewFallback wraps primary with a local fallback.
func NewFallback(primary Limiter, clock bridge.Clock, log *slog.Logger) *Fallback {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fallback{primary: primary, local: NewLocal(clock), log: log}
}

// Reserve implements Limiter.
func (f *Fallback) Reserve(ctx context.Context, key string, interval time.Duration) (time.Duration, error) {
	wait, err := f.primary.Reserve(ctx, key, interval)
	if err == nil {
		if f.degraded.CompareAndSwap(true, false) {
			f.log.Info("shared rate limiter is back")
		}
		return wait, nil
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	if f.degraded.CompareAndSwap(false, true) {
		f.log.Warn("shared rate limiter unavailable, limiting per process", "err", err)
	}
	return f.local.Reserve(ctx, key, interval)
}

// Degraded reports whether the shared limiter is failing.
func (f *Fallback) Degraded() bool { return f.degraded.Load() }
