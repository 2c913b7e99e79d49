package bridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testclock"
)

func TestParseReportPeriod(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	now := time.Date(2026, 12, 1, 15, 30, 0, 0, berlin)
	mid := time.Date(2026, 12, 1, 0, 0, 0, 0, berlin)
	for _, tc := range []struct {
		in       string
		from, to time.Time
	}{
		{"today", mid, now},
		{"", mid.AddDate(0, 0, -6), now},
		{"7d", mid.AddDate(0, 0, -6), now},
		{"30D", mid.AddDate(0, 0, -29), now},
		{"yesterday", mid.AddDate(0, 0, -1), mid},
		// The range crosses the end of daylight saving time (25 October).
		{"2026-10-20..2026-10-31", time.Date(2026, 10, 20, 0, 0, 0, 0, berlin), time.Date(2026, 11, 1, 0, 0, 0, 0, berlin)},
	} {
		from, to, label, err := bridge.ParseReportPeriod(tc.in, now, berlin)
		if err != nil || !from.Equal(tc.from) || !to.Equal(tc.to) || label == "" {
			t.Errorf("%q: %v..%v %q %v, want %v..%v", tc.in, from, to, label, err, tc.from, tc.to)
		}
	}
	for _, bad := range []string{"soon", "0d", "7x", "2026-12-01..2026-11-01", "2020-01-01..2026-01-01", "-3d", "3dd"} {
		if _, _, _, err := bridge.ParseReportPeriod(bad, now, berlin); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 6, 7, 8, 9}
	if got := bridge.Percentile(ds, 50); got != 5 {
		t.Errorf("median %d", got)
	}
	if got := bridge.Percentile(ds, 90); got != 9 {
		t.Errorf("p90 %d", got)
	}
	if got := bridge.Percentile(nil, 50); got != 0 {
		t.Errorf("empty %d", got)
	}
	if ds[0] != 5 {
		t.Error("Percentile sorted its input")
	}
}

// TestReportFigures builds three days of work with a controlled clock and
// checks every figure, on both stores.
func TestReportFigures(t *testing.T) {
	onBothStores(t, func(t *testing.T, s bridge.Store) {
		ctx := context.Background()
		clock := testclock.New(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
		b := bridge.New(s, bridge.Options{Clock: clock, Surfaces: []bridge.Surface{bridge.SurfaceSlack}, SLA: testPolicy(t)})
		h := &harness{t: t, ctx: ctx, b: b, clock: clock}
		ref := func(r bridge.IngestResult) bridge.ConversationRef {
			return bridge.ConversationRef{ID: r.ConversationID}
		}
		reply := func(actor bridge.Actor, r bridge.IngestResult) {
			if _, err := b.Reply(ctx, bridge.ReplyParams{Actor: actor, Ref: ref(r), Text: "on it"}); err != nil {
				t.Fatal(err)
			}
		}
		resolve := func(r bridge.IngestResult) {
			if _, err := b.Resolve(ctx, bridge.DeliveryKey{}, ann, ref(r)); err != nil {
				t.Fatal(err)
			}
		}
		// Before the period: an old conversation still open (backlog).
		old := h.ingest(h.customer("old", "1", "from last week"))
		clock.Set(time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)) // day 1
		if r, err := b.CheckSLA(ctx); err != nil || r.Breaches != 2 {
			t.Fatalf("old conversation's breaches: %+v %v", r, err)
		}
		c1 := h.ingest(h.customer("c1", "1", "a"))
		clock.Advance(10 * time.Minute)
		reply(ann, c1) // first response 10m, within 40m
		clock.Advance(50 * time.Minute)
		resolve(c1) // resolution 1h
		c2 := h.ingest(h.customer("c2", "1", "b"))
		clock.Advance(50 * time.Minute) // past the 40m first-response target
		if r, err := b.CheckSLA(ctx); err != nil || r.Breaches != 1 {
			t.Fatalf("breach of c2: %+v %v", r, err)
		}
		reply(bob, c2)                                           // first response 50m, breached
		clock.Set(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)) // day 2
		c3 := h.ingest(h.customer("c3", "1", "c"))
		clock.Advance(30 * time.Minute)
		reply(ann, c3) // first response 30m
		resolve(c3)
		clock.Advance(time.Hour)
		if _, err := b.Reopen(ctx, bridge.DeliveryKey{}, ann, ref(c3)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Hour)
		resolve(c3)                                             // resolved twice, reopened once; current resolution 2h30m
		clock.Set(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) // day 3 (today)
		h.ingest(h.customer("c4", "1", "d"))                    // unanswered: backlog
		clock.Advance(5 * time.Minute)

		from := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
		rep, err := b.Report(ctx, bridge.ReportQuery{From: from, To: clock.Now(), Label: "3 days"})
		if err != nil {
			t.Fatal(err)
		}
		f := rep.Total
		want := bridge.ReportFigures{
			Conversations: 4, Resolved: 3, Backlog: 3, Reopens: 1,
			FirstResponseMedian: 30 * time.Minute, FirstResponseP90: 50 * time.Minute, FirstResponses: 3,
			ResolutionMedian: time.Hour, Resolutions: 2,
			// c1: first met, resolution met; c2: first breached, next? none;
			// c3: first met, next response restarted by the reopen and stopped by
			// the resolve (not breached), resolution met; c4: running, left out.
			SLACycles: 6, SLABreaches: 1,
		}
		// c3's resolution is 2h30m elapsed; with c1's 1h the median (nearest rank) is 1h.
		if f != want {
			t.Fatalf("total:\n got %+v\nwant %+v", f, want)
		}
		if share, ok := f.Compliance(); !ok || fmt.Sprintf("%.3f", share) != "0.833" {
			t.Errorf("compliance %v %v", share, ok)
		}
		if rate, ok := f.ReopenRate(); !ok || fmt.Sprintf("%.3f", rate) != "0.333" {
			t.Errorf("reopen rate %v", rate)
		}
		if len(rep.Days) != 3 || rep.Days[0].Conversations != 2 || rep.Days[0].Resolved != 1 || rep.Days[0].FirstResponseMedian != 10*time.Minute ||
			rep.Days[1].Conversations != 1 || rep.Days[1].Resolved != 1 || rep.Days[2].Conversations != 1 || rep.Days[2].FirstResponses != 0 {
			t.Errorf("days: %+v", rep.Days)
		}
		if len(rep.ByPlatform) != 1 || rep.ByPlatform[0].Platform != bridge.PlatformTelegram || rep.ByPlatform[0].Conversations != 4 {
			t.Errorf("by platform: %+v", rep.ByPlatform)
		}
		byAgent := map[string]bridge.ReportFigures{}
		for _, g := range rep.ByAgent {
			name := "(unassigned)"
			if g.Agent != nil {
				name = g.Agent.Name
			}
			byAgent[name] = g.ReportFigures
		}
		if byAgent["Ann"].Conversations != 2 || byAgent["Bob"].Conversations != 1 || byAgent["Bob"].SLABreaches != 1 || byAgent["(unassigned)"].Backlog != 2 {
			t.Errorf("by agent: %+v", byAgent)
		}
		// Filtered to one agent.
		var annID bridge.AgentID
		for _, g := range rep.ByAgent {
			if g.Agent != nil && g.Agent.Name == "Ann" {
				annID = g.Agent.ID
			}
		}
		only, err := b.Report(ctx, bridge.ReportQuery{From: from, To: clock.Now(), Agent: annID})
		if err != nil || only.Total.Conversations != 2 || only.Total.Resolved != 3 || len(only.ByAgent) != 1 {
			t.Errorf("Ann only: %+v %v", only.Total, err)
		}
		none, err := b.Report(ctx, bridge.ReportQuery{From: from, To: clock.Now(), Platform: bridge.PlatformMessenger})
		if err != nil || none.Total.Conversations != 0 || none.Total.Backlog != 0 {
			t.Errorf("messenger: %+v %v", none.Total, err)
		}
		_ = old
	})
}
