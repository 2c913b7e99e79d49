package bridge_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/businesshours"
	"github.com/threadline/threadline/internal/testclock"
	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

func targets(t *testing.T, s string) bridge.SLATargets {
	t.Helper()
	v, err := bridge.ParseSLATargets(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testPolicy(t *testing.T) *bridge.SLAPolicy {
	return &bridge.SLAPolicy{
		FirstResponse: targets(t, "p1=15m,p3=40m"),
		NextResponse:  targets(t, "p1=10m,p3=20m"),
		Resolution:    targets(t, "p1=1h,p3=2h"),
		WarnAt:        0.75,
	}
}

// alertSurface is a fake surface that can also alert outside the thread.
type alertSurface struct {
	*fakeSurface
	mu      sync.Mutex
	channel []bridge.AlertView
	direct  []bridge.AlertView
}

func (s *alertSurface) HasAlertChannel() bool { return true }
func (s *alertSurface) PostAlert(_ context.Context, a bridge.AlertView) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channel = append(s.channel, a)
	return "alert", nil
}
func (s *alertSurface) NotifyUser(_ context.Context, a bridge.AlertView) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.direct = append(s.direct, a)
	return "dm", nil
}

func newSLAHarness(t *testing.T, p *bridge.SLAPolicy) (*harness, *alertSurface) {
	h := newHarness(t, bridge.Options{SLA: p})
	a := &alertSurface{fakeSurface: h.surface}
	h.b.AddSurface(a)
	return h, a
}

func (h *harness) checkSLA() bridge.SLACheckResult {
	h.t.Helper()
	r, err := h.b.CheckSLA(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) clocks(id bridge.ConversationID) map[bridge.SLAClockKind]bridge.SLAClock {
	h.t.Helper()
	return clocksIn(h.t, h.store, id)
}

func clocksIn(t *testing.T, s bridge.Store, id bridge.ConversationID) map[bridge.SLAClockKind]bridge.SLAClock {
	t.Helper()
	out := map[bridge.SLAClockKind]bridge.SLAClock{}
	if err := s.InTx(context.Background(), func(ctx context.Context, tx bridge.Tx) error {
		list, err := tx.ListSLAClocks(ctx, id)
		for _, c := range list {
			out[c.Kind] = c
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (h *harness) notices(prefix string) []string {
	var out []string
	for _, e := range h.surface.entries() {
		if strings.HasPrefix(e, "notice "+prefix) {
			out = append(out, e)
		}
	}
	return out
}

func TestSLAWarningThenBreachOnceEach(t *testing.T) {
	h, alerts := newSLAHarness(t, testPolicy(t))
	res := h.ingest(h.customer("c1", "1", "hello"))
	h.drain(res.ConversationID)
	t0 := h.clock.Now()
	if c := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; c.DueAt == nil || !c.DueAt.Equal(t0.Add(40*time.Minute)) {
		t.Fatalf("first response due %v, want %v", c.DueAt, t0.Add(40*time.Minute))
	}
	h.clock.Advance(29 * time.Minute)
	if r := h.checkSLA(); r != (bridge.SLACheckResult{}) {
		t.Fatalf("before 75%%: %+v", r)
	}
	h.clock.Advance(time.Minute) // 30 of 40 minutes
	if r := h.checkSLA(); r.Warnings != 1 || r.Breaches != 0 {
		t.Fatalf("at 75%%: %+v", r)
	}
	if r := h.checkSLA(); r != (bridge.SLACheckResult{}) {
		t.Fatalf("second check repeated the warning: %+v", r)
	}
	h.drain(res.ConversationID)
	if n := h.notices("SLA warning: first response of #"); len(n) != 1 || !strings.Contains(n[0], "due in 10m") {
		t.Fatalf("warning notices: %v", h.surface.entries())
	}
	h.clock.Advance(10 * time.Minute)
	if r := h.checkSLA(); r.Breaches != 1 || r.Warnings != 0 {
		t.Fatalf("at due: %+v", r)
	}
	h.clock.Advance(time.Hour)
	if r := h.checkSLA(); r.Breaches != 0 {
		t.Fatalf("breach raised again: %+v", r)
	}
	// Resolution (2h) is still to come: warned at 1h30, breached at 2h.
	h.drain(res.ConversationID)
	if n := h.notices("SLA breached: first response"); len(n) != 1 {
		t.Fatalf("breach notices: %v", h.surface.entries())
	}
	if len(alerts.channel) != 1 || !strings.Contains(alerts.channel[0].Text, "SLA breached") || alerts.channel[0].Thread == nil {
		t.Fatalf("alerts channel: %+v", alerts.channel)
	}
	if len(alerts.direct) != 0 {
		t.Fatalf("unassigned conversation alerted someone: %+v", alerts.direct)
	}
	card := h.surface.cards[len(h.surface.cards)-1]
	if len(card.SLA) == 0 || card.SLA[0].Kind != bridge.ClockFirstResponse || !card.SLA[0].Breached {
		t.Fatalf("card does not show the breach: %+v", card.SLA)
	}
}

func TestSLAReplyAnswersAndNextResponseRestarts(t *testing.T) {
	h, alerts := newSLAHarness(t, testPolicy(t))
	res := h.ingest(h.customer("c1", "1", "hello"))
	if _, err := h.b.Claim(h.ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: res.ConversationID}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Minute)
	if _, err := h.b.AddNote(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "looking"}); err != nil {
		t.Fatal(err)
	}
	if c := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; c.State != bridge.SLARunning {
		t.Fatalf("a note answered the customer: %+v", c)
	}
	h.clock.Advance(5 * time.Minute)
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	cl := h.clocks(res.ConversationID)
	if c := cl[bridge.ClockFirstResponse]; c.State != bridge.SLAStopped || c.BreachedAt != nil || c.NextCheckAt != nil {
		t.Fatalf("first response after reply: %+v", c)
	}
	if c := cl[bridge.ClockResolution]; c.State != bridge.SLAPaused || c.Consumed != 10*time.Minute {
		t.Fatalf("resolution while pending: %+v", c)
	}
	if _, ok := cl[bridge.ClockNextResponse]; ok {
		t.Fatal("next response started without a customer message")
	}
	// Pending for three hours costs nothing.
	h.clock.Advance(3 * time.Hour)
	if r := h.checkSLA(); r != (bridge.SLACheckResult{}) {
		t.Fatalf("alerts while pending: %+v", r)
	}
	h.ingest(h.customer("c1", "2", "still broken"))
	resumed := h.clock.Now()
	cl = h.clocks(res.ConversationID)
	if c := cl[bridge.ClockNextResponse]; c.State != bridge.SLARunning || c.Cycle != 1 || !c.DueAt.Equal(resumed.Add(20*time.Minute)) {
		t.Fatalf("next response: %+v", c)
	}
	if c := cl[bridge.ClockResolution]; c.State != bridge.SLARunning || !c.DueAt.Equal(resumed.Add(110*time.Minute)) {
		t.Fatalf("resolution resumed: %+v due %v", c, c.DueAt)
	}
	h.clock.Advance(20 * time.Minute)
	if r := h.checkSLA(); r.Breaches != 1 {
		t.Fatalf("next response breach: %+v", r)
	}
	h.drain(res.ConversationID)
	if len(alerts.direct) < 1 || alerts.direct[len(alerts.direct)-1].Recipient != ann.UserID {
		t.Fatalf("assignee not told: %+v", alerts.direct)
	}
	h.ingest(h.customer("c1", "3", "hello?")) // the clock already runs: no restart
	if c := h.clocks(res.ConversationID)[bridge.ClockNextResponse]; c.Cycle != 1 || c.BreachedAt == nil {
		t.Fatalf("second customer message restarted the clock: %+v", c)
	}
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "sorry"}); err != nil {
		t.Fatal(err)
	}
	if c := h.clocks(res.ConversationID)[bridge.ClockNextResponse]; c.State != bridge.SLAStopped || c.BreachedAt == nil {
		t.Fatalf("late answer: %+v", c)
	}
}

func TestSLAResolveStopsReopenContinues(t *testing.T) {
	h, _ := newSLAHarness(t, testPolicy(t))
	res := h.ingest(h.customer("c1", "1", "hello"))
	ref := bridge.ConversationRef{ID: res.ConversationID}
	h.clock.Advance(10 * time.Minute)
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: ref, Text: "done?"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	if _, err := h.b.Resolve(h.ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
		t.Fatal(err)
	}
	for k, c := range h.clocks(res.ConversationID) {
		if c.State != bridge.SLAStopped || c.NextCheckAt != nil {
			t.Fatalf("%s after resolve: %+v", k, c)
		}
	}
	h.clock.Advance(24 * time.Hour)
	if r := h.checkSLA(); r != (bridge.SLACheckResult{}) {
		t.Fatalf("alerts on a resolved conversation: %+v", r)
	}
	if _, err := h.b.Reopen(h.ctx, bridge.DeliveryKey{}, ann, ref); err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	cl := h.clocks(res.ConversationID)
	if c := cl[bridge.ClockResolution]; c.State != bridge.SLARunning || c.Consumed != 10*time.Minute || !c.DueAt.Equal(now.Add(110*time.Minute)) {
		t.Fatalf("resolution after reopen: %+v", c)
	}
	if c := cl[bridge.ClockNextResponse]; c.State != bridge.SLARunning || !c.DueAt.Equal(now.Add(20*time.Minute)) {
		t.Fatalf("next response after reopen: %+v", c)
	}
	if c := cl[bridge.ClockFirstResponse]; c.State != bridge.SLAStopped {
		t.Fatalf("first response came back: %+v", c)
	}
}

func TestSLAPriorityRaiseTightensTargets(t *testing.T) {
	h, _ := newSLAHarness(t, testPolicy(t))
	h.b = bridge.New(h.store, bridge.Options{Clock: h.clock, Surfaces: []bridge.Surface{bridge.SurfaceSlack}, SLA: testPolicy(t),
		Classify: func(text string) bridge.Priority {
			if strings.Contains(text, "hacked") {
				return bridge.P1
			}
			return bridge.P3
		}})
	res := h.ingest(h.customer("c1", "1", "hello"))
	start := h.clock.Now()
	h.clock.Advance(5 * time.Minute)
	h.ingest(h.customer("c1", "2", "I was hacked"))
	if c := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; c.Target != 15*time.Minute || !c.DueAt.Equal(start.Add(15*time.Minute)) {
		t.Fatalf("after P1: %+v due %v", c, c.DueAt)
	}
}

func TestSLABusinessHours(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	hours, err := businesshours.Parse("mon-fri 09:00-17:00", berlin)
	if err != nil {
		t.Fatal(err)
	}
	p := testPolicy(t)
	p.Hours = hours
	h, _ := newSLAHarness(t, p)
	h.clock.Set(time.Date(2026, 11, 27, 16, 50, 0, 0, berlin)) // a Friday
	res := h.ingest(h.customer("c1", "1", "hello"))
	want := time.Date(2026, 11, 30, 9, 30, 0, 0, berlin) // 10 minutes on Friday, 30 on Monday
	if c := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; !c.DueAt.Equal(want) {
		t.Fatalf("due %v, want %v", c.DueAt.In(berlin), want)
	}
	h.clock.Advance(48 * time.Hour) // Sunday evening: 30 minutes to go, no warning yet
	if r := h.checkSLA(); r != (bridge.SLACheckResult{}) {
		t.Fatalf("weekend: %+v", r)
	}
}

func TestParseSLATargets(t *testing.T) {
	tg := targets(t, "p1=15m, p2=1h,p3=4h,review:p3=24h,telegram:p1=10m")
	for _, tc := range []struct {
		p        bridge.Priority
		platform bridge.Platform
		source   bridge.Source
		want     time.Duration
	}{
		{bridge.P1, bridge.PlatformMessenger, bridge.SourceDM, 15 * time.Minute},
		{bridge.P1, bridge.PlatformTelegram, bridge.SourceDM, 10 * time.Minute},
		{bridge.P3, bridge.PlatformGoogle, bridge.SourceReview, 24 * time.Hour},
		{bridge.P3, bridge.PlatformGoogle, bridge.SourceDM, 4 * time.Hour},
	} {
		if got, ok := tg.For(tc.p, tc.platform, tc.source); !ok || got != tc.want {
			t.Errorf("For(%s, %s, %s) = %s %v, want %s", tc.p, tc.platform, tc.source, got, ok, tc.want)
		}
	}
	if _, ok := tg.For(bridge.P4, bridge.PlatformTelegram, bridge.SourceDM); ok {
		t.Error("p4 has no target")
	}
	for _, bad := range []string{"p5=1h", "p1", "p1=-1m", "p1=soon"} {
		if _, err := bridge.ParseSLATargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSLAClockSurvivesRestart closes the bridge and its store in the middle
// of a countdown and opens new ones over the same database: the breach comes
// exactly once, even with two replicas checking at the same moment.
func TestSLAClockSurvivesRestart(t *testing.T) {
	stores := map[string]func(t *testing.T) func() bridge.Store{
		"sqlite": func(t *testing.T) func() bridge.Store {
			path := filepath.Join(t.TempDir(), "threadline.db")
			return func() bridge.Store { return open.SQLiteAt(t, sqlite.Options{Path: path}) }
		},
		"postgres": func(t *testing.T) func() bridge.Store {
			url := testenv.PostgresURL(t)
			return func() bridge.Store { return open.PostgresAt(t, url, 4) }
		},
	}
	for name, opener := range stores {
		t.Run(name, func(t *testing.T) {
			open := opener(t)
			clock := testclock.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
			mk := func(s bridge.Store) *bridge.Bridge {
				b := bridge.New(s, bridge.Options{Clock: clock, Surfaces: []bridge.Surface{bridge.SurfaceSlack}, SLA: testPolicy(t)})
				b.AddSurface(&alertSurface{fakeSurface: &fakeSurface{}})
				return b
			}
			first := open()
			b1 := mk(first)
			h := &harness{t: t}
			res, err := b1.Ingest(context.Background(), h.customer("c1", "1", "hello"))
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(35 * time.Minute) // past the warning, before the breach
			if r, err := b1.CheckSLA(context.Background()); err != nil || r.Warnings != 1 {
				t.Fatalf("warning before restart: %+v %v", r, err)
			}
			first.(interface{ Close() error }).Close()

			clock.Advance(10 * time.Minute) // the breach fell due while nothing ran
			sA := open()
			sB := sA
			if name == "postgres" {
				sB = open() // a second replica; the embedded store serves one process
			}
			replicas := []*bridge.Bridge{mk(sA), mk(sB)}
			var wg sync.WaitGroup
			results := make([]bridge.SLACheckResult, len(replicas))
			for i, b := range replicas {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := b.CheckSLA(context.Background())
					if err != nil {
						t.Error(err)
					}
					results[i] = r
				}()
			}
			wg.Wait()
			if total := results[0].Breaches + results[1].Breaches; total != 1 || results[0].Warnings+results[1].Warnings != 0 {
				t.Fatalf("after restart, two replicas: %+v", results)
			}
			var clocks, notices int
			if err := sA.InTx(context.Background(), func(ctx context.Context, tx bridge.Tx) error {
				var err error
				if notices, err = tx.CountDeliveries(ctx, bridge.DeliveryFilter{ConversationID: res.ConversationID, Target: bridge.ChatTarget(bridge.SurfaceSlack), Status: bridge.DeliveryPending}); err != nil {
					return err
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			clocks = len(clocksIn(t, sA, res.ConversationID))
			// The first message, one warning notice, one breach notice and one
			// alerts-channel post; nothing doubled.
			if notices != 4 || clocks != 2 {
				t.Fatalf("pending chat deliveries %d (want 4), clocks %d (want 2)", notices, clocks)
			}
		})
	}
}

func TestSLABreachEscalatesOnce(t *testing.T) {
	p := testPolicy(t)
	p.EscalateOnBreach = bridge.EscalateSupervisor
	h, _ := newSLAHarness(t, p)
	var sue bridge.Agent
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		sue, err = tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "Sue", Role: bridge.RoleSupervisor, Capacity: 10, Available: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	res := h.ingest(h.customer("c1", "1", "hello"))
	h.clock.Advance(40 * time.Minute) // P3 first response breached
	if r := h.checkSLA(); r.Breaches != 1 {
		t.Fatalf("check: %+v", r)
	}
	c := h.conv(res.ConversationID)
	if c.Escalation != bridge.EscalateSupervisor || c.Priority != bridge.P2 || c.AssigneeID != sue.ID {
		t.Fatalf("after the breach: escalation %q priority %s assignee %d", c.Escalation, c.Priority, c.AssigneeID)
	}
	// P2 targets now apply; the next breach (resolution) alerts but does
	// not escalate again.
	h.clock.Advance(3 * time.Hour)
	if r := h.checkSLA(); r.Breaches != 1 {
		t.Fatalf("second check: %+v", r)
	}
	var escalations int
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		entries, err := tx.ListAudit(ctx, res.ConversationID)
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "escalated_") {
				escalations++
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if escalations != 1 {
		t.Fatalf("escalations: %d", escalations)
	}
	h.drain(res.ConversationID)
	if n := h.notices("Escalated (supervisor, P2) by Threadline (SLA), now with Sue: first response SLA breached"); len(n) != 1 {
		t.Fatalf("escalation notice: %v", h.surface.entries())
	}
}
