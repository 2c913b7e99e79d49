package app

import (
	"context"
	"time"

	"github.com/threadline/threadline/internal/metrics"
)

// jobLoop keeps the queue job gauges (by kind and state) current; the lane
// gauges (backlogLoop) say what waits to be delivered, these say whether
// the jobs that deliver it are being picked up.
func (a *App) jobLoop(ctx context.Context) error {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		counts, err := a.store.JobCounts(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("queue job counts", "err", err)
		}
		if err == nil {
			now := time.Now()
			states := make([]metrics.JobState, 0, len(counts))
			for _, c := range counts {
				states = append(states, metrics.JobState{Kind: c.Kind, State: c.State, Count: c.Count, Oldest: now.Sub(c.Oldest)})
			}
			a.metrics.JobStates(states)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
