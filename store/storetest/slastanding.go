package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

func testSLAStandings(t *testing.T, s Backend) {
	at := func(m int) *time.Time { v := t0.Add(time.Duration(m) * time.Minute); return &v }
	now := t0.Add(time.Hour)
	running := func(due, warn int) bridge.SLAClock {
		return bridge.SLAClock{Kind: bridge.ClockFirstResponse, Cycle: 1, State: bridge.SLARunning, Target: time.Hour,
			StartedAt: t0, SegmentAt: at(0), DueAt: at(due), WarnAt: at(warn), NextCheckAt: at(warn)}
	}
	// Each case is one conversation, its status and clocks.
	cases := []struct {
		name   string
		status bridge.Status
		clocks func() []bridge.SLAClock
	}{
		{"no clocks", bridge.StatusOpen, nil},
		{"running, within target", bridge.StatusOpen, func() []bridge.SLAClock { return []bridge.SLAClock{running(120, 90)} }},
		{"warning share passed, not yet checked", bridge.StatusOpen, func() []bridge.SLAClock { return []bridge.SLAClock{running(90, 45)} }},
		{"warned", bridge.StatusPending, func() []bridge.SLAClock {
			c := running(90, 0)
			c.WarnAt, c.NextCheckAt, c.WarnedAt = nil, at(90), at(45)
			return []bridge.SLAClock{c}
		}},
		{"due passed, not yet checked", bridge.StatusOpen, func() []bridge.SLAClock { return []bridge.SLAClock{running(50, 40)} }},
		{"breach recorded, paused", bridge.StatusPending, func() []bridge.SLAClock {
			return []bridge.SLAClock{{Kind: bridge.ClockResolution, Cycle: 1, State: bridge.SLAPaused, Target: time.Hour,
				StartedAt: t0, Consumed: 2 * time.Hour, WarnedAt: at(45), BreachedAt: at(60)}}
		}},
		{"breached then answered, next clock fine", bridge.StatusOpen, func() []bridge.SLAClock {
			stopped := bridge.SLAClock{Kind: bridge.ClockFirstResponse, Cycle: 1, State: bridge.SLAStopped, Target: time.Minute,
				StartedAt: t0, Consumed: 5 * time.Minute, WarnedAt: at(1), BreachedAt: at(1), StoppedAt: at(5)}
			next := running(180, 150)
			next.Kind = bridge.ClockResolution
			return []bridge.SLAClock{stopped, next}
		}},
		{"resolved with a breach", bridge.StatusResolved, func() []bridge.SLAClock {
			c := running(10, 5)
			c.BreachedAt = at(10)
			return []bridge.SLAClock{c}
		}},
	}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		if got, err := tx.CountSLAStandings(ctx, now); err != nil || got != (bridge.SLAStandings{}) {
			t.Errorf("empty store: %+v %v", got, err)
		}
		for i, tc := range cases {
			f, err := newFixture(ctx, tx, fmt.Sprintf("standing-%d", i))
			if err != nil {
				return err
			}
			conv, err := f.newConv(ctx, tx, bridge.P3)
			if err != nil {
				return err
			}
			if tc.status != conv.Status {
				conv.Status = tc.status
				if err := tx.UpdateConversation(ctx, conv); err != nil {
					return fmt.Errorf("%s: %w", tc.name, err)
				}
			}
			if tc.clocks == nil {
				continue
			}
			for _, c := range tc.clocks() {
				c.ConversationID = conv.ID
				if err := tx.SaveSLAClock(ctx, c); err != nil {
					return fmt.Errorf("%s: %w", tc.name, err)
				}
			}
		}
		got, err := tx.CountSLAStandings(ctx, now)
		if err != nil {
			return err
		}
		if want := (bridge.SLAStandings{OK: 3, Warning: 2, Breached: 2}); got != want {
			t.Errorf("standings at +60: %+v, want %+v", got, want)
		}
		// An hour earlier nothing had passed its warning share yet but the
		// recorded warning and breach.
		got, err = tx.CountSLAStandings(ctx, t0.Add(time.Minute/2))
		if err != nil {
			return err
		}
		if want := (bridge.SLAStandings{OK: 5, Warning: 1, Breached: 1}); got != want {
			t.Errorf("standings at +0.5: %+v, want %+v", got, want)
		}
		return nil
	})
}
