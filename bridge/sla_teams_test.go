package bridge_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/businesshours"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skip(err)
	}
	return loc
}

func schedule(t *testing.T, spec string, loc *time.Location, holidays ...string) *businesshours.Schedule {
	t.Helper()
	var ds []businesshours.Date
	for _, h := range holidays {
		d, err := businesshours.ParseDate(h)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	s, err := businesshours.Parse(spec, loc, ds...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// teamPolicy counts in Berlin office hours unless a conversation is with
// the "us" team (New York, closed on Thanksgiving) or "night" (around the
// clock in Tokyo).
func teamPolicy(t *testing.T) *bridge.SLAPolicy {
	berlin, ny, tokyo := zone(t, "Europe/Berlin"), zone(t, "America/New_York"), zone(t, "Asia/Tokyo")
	return &bridge.SLAPolicy{
		FirstResponse: targets(t, "p3=8h"),
		Resolution:    targets(t, "p3=24h"),
		WarnAt:        0.75,
		Hours:         schedule(t, "mon-fri 09:00-17:00", berlin),
		Teams: map[string]*businesshours.Schedule{
			"us":    schedule(t, "mon-fri 09:00-17:00", ny, "2026-11-26"),
			"night": schedule(t, "24/7", tokyo),
		},
	}
}

func TestSLATransferToAnotherTeamsCalendar(t *testing.T) {
	p := teamPolicy(t)
	berlin, ny := p.Hours.Location(), p.Teams["us"].Location()
	h, alerts := newSLAHarness(t, p)
	h.clock.Set(time.Date(2026, 11, 25, 16, 0, 0, 0, berlin)) // Wednesday, 10:00 in New York
	res := h.ingest(h.customer("c1", "1", "hello"))
	n := res.Number.String()[1:]
	// Berlin: 1h on Wednesday, 7h on Thursday.
	if c := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; !c.DueAt.Equal(time.Date(2026, 11, 26, 16, 0, 0, 0, berlin)) {
		t.Fatalf("due in Berlin's calendar %v", c.DueAt.In(berlin))
	}
	h.clock.Advance(30 * time.Minute)
	h.must(ann, "transfer "+n+" #US customer is in Boston")
	// 30 minutes used in Berlin; 7h30 left in New York: 6h30 on Wednesday
	// (10:30-17:00), Thursday is Thanksgiving, 1h on Friday.
	fr := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]
	if want := time.Date(2026, 11, 27, 10, 0, 0, 0, ny); !fr.DueAt.Equal(want) || fr.Consumed != 30*time.Minute {
		t.Fatalf("after transfer: due %v (want %v), consumed %s", fr.DueAt.In(ny), want, fr.Consumed)
	}
	// The warning (at 6h) moved too: 5h30 of New York time after 10:30.
	if want := time.Date(2026, 11, 25, 16, 0, 0, 0, ny); fr.WarnAt == nil || !fr.WarnAt.Equal(want) {
		t.Fatalf("warning at %v, want %v", fr.WarnAt, want)
	}
	// Nothing is due on Thanksgiving; the breach comes on Friday at 10:00 New York time.
	h.clock.Set(time.Date(2026, 11, 25, 16, 0, 0, 0, ny))
	if r := h.checkSLA(); r.Warnings != 1 {
		t.Fatalf("warning: %+v", r)
	}
	h.clock.Set(time.Date(2026, 11, 26, 23, 0, 0, 0, ny))
	if r := h.checkSLA(); r != (bridge.SLACheckResult{}) {
		t.Fatalf("Thanksgiving: %+v", r)
	}
	h.clock.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, ny))
	if r := h.checkSLA(); r.Breaches != 1 {
		t.Fatalf("breach: %+v", r)
	}
	h.drain(res.ConversationID)
	// Alerts and the card show the team's time zone.
	if len(alerts.channel) != 1 || !strings.Contains(alerts.channel[0].Text, "was due at Fri 10:00 EST") {
		t.Fatalf("breach alert: %+v", alerts.channel)
	}
	cards := h.surface.cards
	last := cards[len(cards)-1]
	if len(last.SLA) == 0 || last.SLA[0].Due.Location() != ny {
		t.Fatalf("card clocks %+v", last.SLA)
	}
}

func TestSLATeamCalendarKeepsPausedTimeAndFallsBack(t *testing.T) {
	p := teamPolicy(t)
	berlin := p.Hours.Location()
	h, _ := newSLAHarness(t, p)
	h.clock.Set(time.Date(2026, 11, 27, 16, 0, 0, 0, berlin)) // Friday
	res := h.ingest(h.customer("c1", "1", "hello"))
	n := res.Number.String()[1:]
	h.must(ann, "claim "+n)
	h.clock.Advance(30 * time.Minute)
	h.must(ann, "pending "+n) // resolution paused with 30 minutes used
	h.clock.Advance(2 * time.Hour)
	h.must(ann, "transfer "+n+" #night weekend shift")
	c := h.clocks(res.ConversationID)
	// The running first-response clock moved: 1h used in Berlin (16:00-17:00), 7h left around the clock.
	if fr := c[bridge.ClockFirstResponse]; fr.Consumed != time.Hour || !fr.DueAt.Equal(h.clock.Now().Add(7*time.Hour)) || fr.DueAt.Location() == berlin {
		t.Fatalf("first response after transfer: consumed %s due %v", fr.Consumed, fr.DueAt)
	}
	if rs := c[bridge.ClockResolution]; rs.State != bridge.SLAPaused || rs.Consumed != 30*time.Minute || rs.DueAt != nil {
		t.Fatalf("paused resolution after transfer: %+v", rs)
	}
	// The customer writes: resolution resumes, counting in Tokyo's 24/7.
	h.clock.Advance(time.Hour)
	h.ingest(h.customer("c1", "2", "still there?"))
	if rs := h.clocks(res.ConversationID)[bridge.ClockResolution]; rs.State != bridge.SLARunning || !rs.DueAt.Equal(h.clock.Now().Add(23*time.Hour+30*time.Minute)) {
		t.Fatalf("resumed resolution: %+v due %v", rs, rs.DueAt)
	}
	// A transfer to a team without its own calendar counts in the global one again.
	h.must(ann, "transfer "+n+" #billing refund")
	fr := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]
	// 1h in Berlin, 1h around the clock (Friday 18:30 to 19:30 Berlin), 6h left: Monday 09:00-15:00.
	if want := time.Date(2026, 11, 30, 15, 0, 0, 0, berlin); fr.Consumed != 2*time.Hour || !fr.DueAt.Equal(want) {
		t.Fatalf("back on the global calendar: consumed %s due %v, want %v", fr.Consumed, fr.DueAt.In(berlin), want)
	}
	// A transfer to a person keeps the team and its calendar.
	before := fr
	h.clock.Advance(time.Hour)
	h.must(ann, "transfer "+n+" <UBOB Bob> knows billing")
	if fr := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; !fr.DueAt.Equal(*before.DueAt) || h.conv(res.ConversationID).Team != "billing" {
		t.Fatalf("transfer to a person moved the clock: %v -> %v", before.DueAt, fr.DueAt)
	}
}

// Property: however a conversation moves between teams, the business time
// its first-response clock counts, summed over the calendar of each stretch,
// reaches the target exactly at the stored due time and not before.
func TestSLATransfersKeepBusinessTimeExact(t *testing.T) {
	p := teamPolicy(t)
	p.FirstResponse = targets(t, "p3=20h")
	p.WarnAt = 0
	teams := []string{"", "us", "night", "billing"}
	h, _ := newSLAHarness(t, p)
	r := rand.New(rand.NewPCG(8, 8))
	// Start around the end of daylight saving time in both zones.
	base := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	moved := 0
	for i := range 25 {
		h.clock.Set(base.Add(time.Duration(r.Int64N(int64(20 * 24 * time.Hour)))).Truncate(time.Minute))
		res := h.ingest(h.customer("p"+string(rune('a'+i)), "1", "hello"))
		n := res.Number.String()[1:]
		team, since := "", h.clock.Now()
		var used time.Duration
		for range 1 + r.IntN(4) {
			h.clock.Advance(time.Duration(r.Int64N(int64(30 * time.Hour))).Truncate(time.Minute))
			next := teams[r.IntN(len(teams))]
			if next == team || next == "" {
				continue
			}
			fr := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]
			if fr.DueAt == nil || !fr.DueAt.After(h.clock.Now()) {
				break // due already: a transfer no longer changes it
			}
			used += p.HoursFor(team).Between(since, h.clock.Now())
			h.must(ann, "transfer "+n+" #"+next+" moving on")
			team, since = next, h.clock.Now()
			moved++
		}
		fr := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]
		if fr.DueAt == nil {
			t.Fatalf("#%d: no due time", i)
		}
		cal := p.HoursFor(team)
		if !fr.DueAt.After(since) {
			continue
		}
		total := used + cal.Between(since, *fr.DueAt)
		if total != 20*time.Hour {
			t.Fatalf("#%d with %q: %s counted by the due time %v", i, team, total, fr.DueAt)
		}
		if cal.Between(since, fr.DueAt.Add(-time.Minute))+used >= 20*time.Hour {
			t.Fatalf("#%d: the target was reached before the due time %v", i, fr.DueAt)
		}
	}
	if moved < 15 {
		t.Fatalf("only %d transfers happened before the due times", moved)
	}
}
