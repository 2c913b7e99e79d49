package app

import (
	"context"
	"time"
)

// slaStandingEvery is how often the SLA state gauge is recounted: a count of
// the unresolved conversations, cheap enough every scrape interval and not
// worth a query per scrape.
const slaStandingEvery = 15 * time.Second

// slaStandingLoop keeps the SLA state gauge (open conversations by ok,
// warning, breached) current.
func (a *App) slaStandingLoop(ctx context.Context) error {
	t := time.NewTicker(slaStandingEvery)
	defer t.Stop()
	for {
		if s, err := a.bridge.SLAStandings(ctx); err != nil {
			if ctx.Err() == nil {
				a.log.Warn("count SLA standings", "err", err)
			}
		} else {
			a.metrics.SLAStandings(s)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
