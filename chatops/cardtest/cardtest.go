// Package cardtest holds the one table of conversation cards that every chat
// surface renders in its golden-file tests, so Slack and Teams are checked
// against the same cases, and the helper that compares (or, with -update,
// rewrites) the golden files.
package cardtest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

// update rewrites golden files: go test ./chatops/... -update
var update = flag.Bool("update", false, "rewrite golden files")

// Case is one card to render.
type Case struct {
	Name string
	Card bridge.Card
}

// Cases returns the shared table: each status a card can show, with and
// without an assignee, one with tags, team, escalation and snooze, a customer without a name, and customer text that
// tries to inject markup.
func Cases() []Case {
	ann := bridge.Agent{ID: 1, Name: "Ann"}
	snoozed := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	return []Case{
		{"card_open", bridge.Card{
			Conversation: bridge.Conversation{Number: 1042, Platform: bridge.PlatformTelegram, Status: bridge.StatusOpen, Priority: bridge.P3},
			Customer:     bridge.Identity{Name: "Alice Doe", Handle: "alice_d"},
			FirstMessage: "Hi, my order <#1234> hasn't arrived & I'm @channel upset",
		}},
		{"card_claimed", bridge.Card{
			Conversation: bridge.Conversation{Number: 1043, Platform: bridge.PlatformTelegram, Status: bridge.StatusPending, Priority: bridge.P1},
			Customer:     bridge.Identity{Name: "Bob"}, FirstMessage: "I was hacked", Assignee: &ann,
		}},
		{"card_resolved", bridge.Card{
			Conversation: bridge.Conversation{Number: 1044, Platform: bridge.PlatformInstagram, Status: bridge.StatusResolved, Priority: bridge.P4},
			Customer:     bridge.Identity{ExternalUserID: "991"}, Assignee: &ann,
		}},
		{"card_escalated", bridge.Card{
			Conversation: bridge.Conversation{Number: 1046, Platform: bridge.PlatformTelegram, Status: bridge.StatusPending, Priority: bridge.P1,
				Tags: []string{"refund", "vip"}, Team: "billing", Escalation: bridge.EscalateCritical, SnoozedUntil: &snoozed, UpdatedAt: snoozed.Add(-time.Hour)},
			Customer: bridge.Identity{Name: "Eve"}, FirstMessage: "Someone took over my account",
		}},
		// A public comment: the card offers moderation and Move to DM.
		{"card_comment", bridge.Card{
			Conversation: bridge.Conversation{Number: 1047, Platform: bridge.PlatformFacebook, Source: bridge.SourceComment, Status: bridge.StatusOpen, Priority: bridge.P3},
			Customer:     bridge.Identity{Name: "Gus"}, FirstMessage: "Worst service ever", MoveToDM: true,
		}},
		{"card_markup", bridge.Card{
			Conversation: bridge.Conversation{Number: 1045, Platform: bridge.PlatformMessenger, Status: bridge.StatusOpen, Priority: bridge.P2},
			Customer:     bridge.Identity{Name: "<at>Eve</at> **bold**", Handle: "eve"},
			FirstMessage: "[click](https://evil.test) <at>General</at> ![x](https://evil.test/p.png)\nsecond line",
		}},
		// SLA clocks: due times, and a breach marker with a paused clock.
		{"card_sla_due", bridge.Card{
			Conversation: bridge.Conversation{Number: 1046, Platform: bridge.PlatformTelegram, Status: bridge.StatusOpen, Priority: bridge.P2},
			Customer:     bridge.Identity{Name: "Cleo"}, FirstMessage: "Where is my refund?",
			SLA: []bridge.CardClock{
				{Kind: bridge.ClockFirstResponse, State: bridge.SLARunning, Due: time.Date(2026, 12, 1, 15, 45, 0, 0, time.UTC)},
				{Kind: bridge.ClockResolution, State: bridge.SLARunning, Due: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)},
			},
		}},
		{"card_sla_breached", bridge.Card{
			Conversation: bridge.Conversation{Number: 1047, Platform: bridge.PlatformTelegram, Status: bridge.StatusPending, Priority: bridge.P1},
			Customer:     bridge.Identity{Name: "Dan"}, FirstMessage: "Account locked", Assignee: &ann,
			SLA: []bridge.CardClock{
				{Kind: bridge.ClockFirstResponse, State: bridge.SLAStopped, Breached: true},
				{Kind: bridge.ClockResolution, State: bridge.SLAPaused, Left: 50 * time.Minute},
			},
		}},
	}
}

// Golden compares got with dir/name.golden.json, rewriting it first when
// the test runs with -update.
func Golden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	path := filepath.Join(dir, name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}
