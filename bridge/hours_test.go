package bridge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

func TestParseHours(t *testing.T) {
	bobMention := bridge.Mention{Kind: bridge.MentionUser, ID: "UBOB", Name: "Bob", Raw: "<UBOB Bob>"}
	for _, tc := range []struct {
		in   string
		want bridge.Command
		err  string
	}{
		{"hours", bridge.Command{Verb: bridge.VerbHours}, ""},
		{"hours off", bridge.Command{Verb: bridge.VerbHours, Hours: bridge.HoursArgs{Off: true}}, ""},
		{"hours mon-fri 09:00-17:00 Europe/Berlin", bridge.Command{Verb: bridge.VerbHours, Hours: bridge.HoursArgs{Schedule: "mon-fri 09:00-17:00", Zone: "Europe/Berlin"}}, ""},
		{"hours Mon-Fri 08:00-12:00,13:00-17:00; sat 10:00-14:00 america/new_york", bridge.Command{Verb: bridge.VerbHours,
			Hours: bridge.HoursArgs{Schedule: "mon-fri 08:00-12:00,13:00-17:00; sat 10:00-14:00", Zone: "America/New_York"}}, ""},
		{"hours tue-sat 22:00-06:00 utc", bridge.Command{Verb: bridge.VerbHours, Hours: bridge.HoursArgs{Schedule: "tue-sat 22:00-06:00", Zone: "UTC"}}, ""},
		{"hours mon-fri 09:00-17:00", bridge.Command{Verb: bridge.VerbHours, Hours: bridge.HoursArgs{Schedule: "mon-fri 09:00-17:00"}}, ""},
		{"hours <UBOB Bob> off", bridge.Command{Verb: bridge.VerbHours, Target: bobMention, Hours: bridge.HoursArgs{Off: true}}, ""},
		{"hours <UBOB Bob> mon-fri 09:00-17:00 Europe/Berlin", bridge.Command{Verb: bridge.VerbHours, Target: bobMention,
			Hours: bridge.HoursArgs{Schedule: "mon-fri 09:00-17:00", Zone: "Europe/Berlin"}}, ""},
		{"hours <UBOB Bob>", bridge.Command{Verb: bridge.VerbHours, Target: bobMention}, ""},
		{"hours mon-fri 9-5", bridge.Command{}, `time "9": want HH:MM. Usage: hours`},
		{"hours someday 09:00-17:00", bridge.Command{}, `unknown day "someday"`},
		{"hours mon-fri 09:00-17:00 Mars/Olympus_Mons", bridge.Command{}, `"Mars/Olympus_Mons" is not a time zone`},
		{"hours mon-fri 09:00-17:00 ../../etc/passwd", bridge.Command{}, "is not a time zone"},
		{"hours 24/7", bridge.Command{}, "Give days and times such as mon-fri 09:00-17:00, or off"},
		{"hours Europe/Berlin", bridge.Command{}, "Give days and times"},
		{"hours #billing off", bridge.Command{}, `"#billing" is a team; name one teammate`},
		{"hours off now", bridge.Command{}, `unknown day "off"`},
	} {
		got, err := bridge.ParseCommandWith(angleSyntax{}, tc.in)
		if tc.err != "" {
			if !errors.Is(err, bridge.ErrInvalidInput) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %+v %v, want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.Verb != tc.want.Verb || got.Target != tc.want.Target || got.Hours != tc.want.Hours {
			t.Errorf("%q:\n got %+v %v\nwant %+v", tc.in, got, err, tc.want)
		}
	}
}

func (h *harness) hoursOf(a bridge.Actor) (bridge.AgentHours, error) {
	h.t.Helper()
	var out bridge.AgentHours
	err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		agent, err := tx.FindAgentByChatIdentity(ctx, a.Surface, a.Workspace, a.UserID)
		if err != nil {
			return err
		}
		out, err = tx.GetAgentHours(ctx, agent.ID)
		return err
	})
	return out, err
}

// Working hours take agents out of escalation picks outside them, as away
// does, and away wins inside them. The harness clock starts on Tuesday
// 24 November 2026 at 09:00 UTC: 10:00 in Berlin, 04:00 in New York.
func TestWorkingHoursFeedEscalation(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		// Sam acts first, so he is ahead of Sue when their loads are equal.
		if r := h.must(sam, "hours mon-fri 09:00-17:00 America/New_York"); !strings.Contains(r.Text, "Your working hours: mon-fri 09:00-17:00 America/New_York.") ||
			!strings.Contains(r.Text, "Now: off hours until Tue 09:00 EST.") {
			t.Fatalf("Sam's hours: %q", r.Text)
		}
		h.must(sue, "hours mon-fri 09:00-17:00 Europe/Berlin")
		escalate := func(chat string) bridge.CommandResult {
			t.Helper()
			res := h.ingest(h.customer(chat, "1", "help"))
			return h.must(ann, "escalate "+res.Number.String()[1:]+" supervisor angry")
		}
		if r := escalate("e1"); !strings.Contains(r.Text, "escalated to Sue") {
			t.Fatalf("with Sam off hours: %q", r.Text)
		}
		h.clock.Set(time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)) // 16:00 Berlin, 10:00 New York
		if r := escalate("e2"); !strings.Contains(r.Text, "escalated to Sam") {
			t.Fatalf("both in hours, Sam less loaded: %q", r.Text)
		}
		h.clock.Set(time.Date(2026, 11, 24, 17, 30, 0, 0, time.UTC)) // 18:30 Berlin, 12:30 New York
		h.must(sam, "away")
		r := escalate("e3")
		if !r.Attention || !strings.Contains(r.Text, "no supervisor is available: find Sam (away) or Sue (off hours until Wed 09:00 CET)") {
			t.Fatalf("Sam away in his hours, Sue off hours: %q", r.Text)
		}
		// Assigning to someone off hours works, with the same note as away.
		res := h.ingest(h.customer("e4", "1", "hi"))
		n := res.Number.String()[1:]
		if r := h.must(ann, "assign "+n+" <USUE Sue>"); !r.Attention || !strings.HasSuffix(r.Text, "Note: Sue is off hours until Wed 09:00 CET.") {
			t.Fatalf("assign off hours: %q", r.Text)
		}
		if r := h.must(sue, "transfer "+n+" <USAM Sam> he knows"); !r.Attention || !strings.HasSuffix(r.Text, "Note: Sam is away.") {
			t.Fatalf("transfer to away: %q", r.Text)
		}
		// Cleared hours: Sue is available around the clock again.
		if r := h.must(sue, "hours off"); !strings.Contains(r.Text, "Your working hours are cleared") {
			t.Fatalf("off: %q", r.Text)
		}
		if _, err := h.hoursOf(sue); !errors.Is(err, bridge.ErrNotFound) {
			t.Fatalf("hours after off: %v", err)
		}
		if r := escalate("e5"); !strings.Contains(r.Text, "escalated to Sue") {
			t.Fatalf("Sue without hours: %q", r.Text)
		}
	})
}

// auditSpy records the audit entries of committed transactions: working
// hours belong to no conversation, so ListAudit does not show them.
type auditSpy struct {
	bridge.Store
	mu      sync.Mutex
	entries []bridge.AuditEntry
}

func (s *auditSpy) InTx(ctx context.Context, fn func(ctx context.Context, tx bridge.Tx) error) error {
	var pending []bridge.AuditEntry
	err := s.Store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		pending = nil
		return fn(ctx, spyTx{Tx: tx, pending: &pending})
	})
	if err == nil {
		s.mu.Lock()
		s.entries = append(s.entries, pending...)
		s.mu.Unlock()
	}
	return err
}

type spyTx struct {
	bridge.Tx
	pending *[]bridge.AuditEntry
}

func (t spyTx) AppendAudit(ctx context.Context, e bridge.AuditEntry) error {
	*t.pending = append(*t.pending, e)
	return t.Tx.AppendAudit(ctx, e)
}

func TestWorkingHoursForOthers(t *testing.T) {
	onBothStores(t, testWorkingHoursForOthers)
}

func testWorkingHoursForOthers(t *testing.T, store bridge.Store) {
	spy := &auditSpy{Store: store}
	h := newHarnessOn(t, bridge.Options{}, spy)
	{
		h.must(bob, "hours")
		// An agent may not set a teammate's hours; nothing is stored or audited.
		_, err := h.do(ann, "hours <UBOB Bob> mon-fri 09:00-17:00 Europe/Berlin")
		if !errors.Is(err, bridge.ErrForbidden) || !strings.Contains(err.Error(), "only supervisors, managers and admins set someone else's working hours") {
			t.Fatalf("agent for another: %v", err)
		}
		if _, err := h.do(ann, "hours <UBOB Bob> off"); !errors.Is(err, bridge.ErrForbidden) {
			t.Fatalf("agent clears another's: %v", err)
		}
		if _, err := h.hoursOf(bob); !errors.Is(err, bridge.ErrNotFound) {
			t.Fatalf("refused hours were stored: %v", err)
		}
		// A typed name is not a person.
		if _, err := h.do(sue, "hours @bob off"); !errors.Is(err, bridge.ErrInvalidInput) || !strings.Contains(err.Error(), "only a name") {
			t.Fatalf("bare name: %v", err)
		}
		// Anyone may look; a supervisor may set them.
		if r := h.must(ann, "hours <UBOB Bob>"); r.Text != "Bob has no working hours: available whenever not away." {
			t.Fatalf("show none: %q", r.Text)
		}
		if r := h.must(sue, "hours <UBOB Bob> sat-sun 10:00-18:00"); !strings.Contains(r.Text, "Bob's working hours: sat-sun 10:00-18:00 UTC.") ||
			!strings.Contains(r.Text, "Now: off hours until Sat 10:00 UTC.") {
			t.Fatalf("supervisor sets: %q", r.Text)
		}
		got, err := h.hoursOf(bob)
		if err != nil || got.Schedule != "sat-sun 10:00-18:00" || got.Zone != "UTC" || got.SetBy == 0 || !got.UpdatedAt.Equal(h.clock.Now()) {
			t.Fatalf("stored %+v %v", got, err)
		}
		if r := h.must(bob, "hours"); r.Text != "Your working hours: sat-sun 10:00-18:00 UTC. Now: off hours until Sat 10:00 UTC." {
			t.Fatalf("Bob looks: %q", r.Text)
		}
		h.must(bob, "hours off")
		h.must(bob, "hours off") // nothing to clear: not audited
		var actions []string
		for _, e := range spy.entries {
			actions = append(actions, e.Action+" "+e.Before+" -> "+e.After)
		}
		want := []string{"hours_set hours=none -> hours=sat-sun 10:00-18:00 UTC", "hours_cleared hours=sat-sun 10:00-18:00 UTC -> hours=none"}
		if strings.Join(actions, "\n") != strings.Join(want, "\n") {
			t.Fatalf("audit:\n%s", strings.Join(actions, "\n"))
		}
	}
}
