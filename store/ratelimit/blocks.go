package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Blocker remembers, per key, until when a platform asked for no calls (a
// throttled Meta app or Page). Unlike a Limiter it counts nothing: the
// platform names the wait, every caller honours it.
type Blocker interface {
	// Block records that no call for key may go in the next d; a later
	// time already recorded stays.
	Block(ctx context.Context, key string, d time.Duration) error
	// Blocked returns how long calls for key must still wait, 0 when none.
	Blocked(ctx context.Context, key string) (time.Duration, error)
}

// LocalBlocks is an in-process Blocker: what one replica was told.
type LocalBlocks struct {
	clock bridge.Clock
	mu    sync.Mutex
	until map[string]time.Time
}

// NewLocalBlocks returns an in-process blocker.
func NewLocalBlocks(clock bridge.Clock) *LocalBlocks {
	if clock == nil {
		clock = bridge.SystemClock{}
	}
	return &LocalBlocks{clock: clock, until: map[string]time.Time{}}
}

// Block implements Blocker.
func (l *LocalBlocks) Block(_ context.Context, key string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.clock.Now().Add(d); until.After(l.until[key]) {
		l.until[key] = until
	}
	return nil
}

// Blocked implements Blocker.
func (l *LocalBlocks) Blocked(_ context.Context, key string) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.until[key]
	if !ok {
		return 0, nil
	}
	wait := until.Sub(l.clock.Now())
	if wait <= 0 {
		delete(l.until, key)
		return 0, nil
	}
	return wait, nil
}

// FallbackBlocks shares blocks through a shared Blocker (Redis) and keeps
// them locally too, so while the shared one fails this replica still
// honours what it was told: Redis is an accelerator, not a source of truth.
type FallbackBlocks struct {
	shared   Blocker
	local    *LocalBlocks
	log      *slog.Logger
	degraded atomic.Bool
}

// NewFallbackBlocks wraps shared with a local copy.
func NewFallbackBlocks(shared Blocker, clock bridge.Clock, log *slog.Logger) *FallbackBlocks {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FallbackBlocks{shared: shared, local: NewLocalBlocks(clock), log: log}
}

// Block implements Blocker.
func (f *FallbackBlocks) Block(ctx context.Context, key string, d time.Duration) error {
	_ = f.local.Block(ctx, key, d)
	if err := f.shared.Block(ctx, key, d); err != nil {
		f.failed(ctx, err)
		return ctx.Err()
	}
	f.recovered()
	return nil
}

// Blocked implements Blocker: the longer of the shared and the local wait.
func (f *FallbackBlocks) Blocked(ctx context.Context, key string) (time.Duration, error) {
	local, _ := f.local.Blocked(ctx, key)
	shared, err := f.shared.Blocked(ctx, key)
	if err != nil {
		f.failed(ctx, err)
		return local, ctx.Err()
	}
	f.recovered()
	return max(local, shared), nil
}

func (f *FallbackBlocks) failed(ctx context.Context, err error) {
	if ctx.Err() == nil && f.degraded.CompareAndSwap(false, true) {
		f.log.Warn("shared throttle unavailable, honouring this process's throttles only", "err", err)
	}
}

func (f *FallbackBlocks) recovered() {
	if f.degraded.CompareAndSwap(true, false) {
		f.log.Info("shared throttle is back")
	}
}

// Degraded reports whether the shared blocker is failing.
func (f *FallbackBlocks) Degraded() bool { return f.degraded.Load() }
