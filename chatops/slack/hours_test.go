package slack_test

import (
	"strings"
	"testing"
	"time"

	tlslack "github.com/threadline/threadline/chatops/slack"
)

// Working hours through signed slash commands: refusals, hours set for
// someone else by a supervisor, and escalation and assignment that treat an
// agent outside their hours as away.
func TestSlackWorkingHours(t *testing.T) {
	r := newRigWith(t, rigOptions{replyMode: tlslack.ReplyAuto,
		roles:  tlslack.Roles{Supervisors: []string{"S0LEADS"}},
		groups: map[string][]string{"S0LEADS": {"U0SUE", "U0ANN"}}})
	// A day that is not today (in UTC), so hours on that day only are off now
	// and until its morning, however long the test takes.
	tomorrow := strings.ToLower(time.Now().UTC().Add(24 * time.Hour).Weekday().String()[:3])
	for _, tc := range []struct{ user, text, says string }{
		{"U0BOB", "hours <@U0SUE|sue> mon-fri 09:00-17:00 Europe/Berlin", "Not done: Only supervisors, managers and admins set someone else's working hours."},
		{"U0BOB", "hours mon-fri 9-5", `time "9": want HH:MM. Usage: hours`},
		{"U0BOB", "hours mon-fri 09:00-17:00 Europe/Atlantis", `"Europe/Atlantis" is not a time zone`},
		{"U0BOB", "hours <#C0BILL|billing> off", `is a team; name one teammate`},
		{"U0BOB", "hours", "You have no working hours: available whenever not away."},
	} {
		if got := r.command(tc.user, tc.text); !strings.Contains(got, tc.says) {
			t.Errorf("%s /threadline %s:\n got %q\nwant %q", tc.user, tc.text, got, tc.says)
		}
	}
	if got := r.command("U0SUE", "hours <@U0BOB|bob>"); !strings.Contains(got, "has no working hours") {
		t.Errorf("the refused hours were stored: %q", got)
	}
	// Ann, a supervisor, gives Sue hours on tomorrow only: Sue is off now.
	got := r.command("U0ANN", "hours <@U0SUE|sue> "+tomorrow+" 09:00-17:00 UTC")
	if !strings.Contains(got, "Sue's working hours: "+tomorrow+" 09:00-17:00 UTC.") || !strings.Contains(got, "Now: off hours until ") {
		t.Fatalf("set for Sue: %q", got)
	}
	// Ann is in her hours around the clock.
	if got := r.command("U0ANN", "hours mon-sun 00:00-24:00 Europe/Berlin"); !strings.Contains(got, "Your working hours: mon-sun 00:00-24:00 Europe/Berlin.") || strings.Contains(got, "Now:") {
		t.Fatalf("Ann's hours: %q", got)
	}
	r.customer("my order never came")
	parent := r.parent()
	n := number(parent)
	if got := r.command("U0BOB", "escalate "+n+" supervisor angry customer"); !strings.Contains(got, "escalated to Ann and P2") {
		t.Fatalf("escalation with Sue off hours: %q", got)
	}
	r.waitCard(parent.TS, "Assigned to Ann")
	if got := r.command("U0ANN", "assign "+n+" <@U0SUE|sue>"); !strings.Contains(got, "assigned to Sue. Note: Sue is off hours until ") {
		t.Fatalf("assign to Sue off hours: %q", got)
	}
	r.waitCard(parent.TS, "Assigned to Sue")
	// Away wins over working hours; cleared hours make Sue available again.
	r.command("U0ANN", "away")
	if got := r.command("U0SUE", "hours off"); !strings.Contains(got, "Your working hours are cleared") {
		t.Fatalf("hours off: %q", got)
	}
	r.command("U0SUE", "unassign "+n)
	if got := r.command("U0BOB", "escalate "+n+" supervisor still angry"); !strings.Contains(got, "escalated to Sue and P2") {
		t.Fatalf("escalation with Ann away and Sue without hours: %q", got)
	}
	if help := r.command("U0BOB", "help hours"); !strings.Contains(help, "/threadline hours [@agent] mon-fri 09:00-17:00 Europe/Berlin|off") {
		t.Errorf("help: %q", help)
	}
}
