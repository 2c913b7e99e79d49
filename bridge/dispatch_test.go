package bridge_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

var (
	sue  = bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "USUE", Name: "Sue", Role: bridge.RoleSupervisor}
	sam  = bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "USAM", Name: "Sam", Role: bridge.RoleSupervisor}
	max_ = bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "UMAX", Name: "Max", Role: bridge.RoleManager}
)

// stores runs a test on both backends: permissions and state changes are
// transactions whose locking differs between them.
func stores(t *testing.T, fn func(t *testing.T, h *harness)) {
	onBothStores(t, func(t *testing.T, s bridge.Store) { fn(t, newHarnessOn(t, bridge.Options{}, s)) })
}

// onBothStores runs fn on a fresh store of each backend.
// storeKinds open a fresh, migrated store of each backend.
var storeKinds = []struct {
	name string
	open func(t *testing.T) bridge.Store
}{
	{"sqlite", func(t *testing.T) bridge.Store { return open.SQLite(t, sqlite.Options{}) }},
	{"postgres", func(t *testing.T) bridge.Store { return open.Postgres(t, 4) }},
}

func onBothStores(t *testing.T, fn func(t *testing.T, s bridge.Store)) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) { fn(t, kind.open(t)) })
	}
}

func (h *harness) do(actor bridge.Actor, text string) (bridge.CommandResult, error) {
	h.t.Helper()
	cmd, err := bridge.ParseCommandWith(angleSyntax{}, text)
	if err != nil {
		h.t.Fatalf("parse %q: %v", text, err)
	}
	return h.b.Dispatch(h.ctx, bridge.DeliveryKey{}, actor, cmd)
}

func (h *harness) must(actor bridge.Actor, text string) bridge.CommandResult {
	h.t.Helper()
	res, err := h.do(actor, text)
	if err != nil {
		h.t.Fatalf("%s: %q: %v", actor.Name, text, err)
	}
	return res
}

// snapshot is everything a refused command must leave as it was.
type snapshot struct {
	conv     bridge.Conversation
	audit    int
	messages int
	pending  int
}

func (h *harness) snapshot(id bridge.ConversationID) snapshot {
	h.t.Helper()
	var s snapshot
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		if s.conv, err = tx.GetConversation(ctx, id); err != nil {
			return err
		}
		a, err := tx.ListAudit(ctx, id)
		s.audit = len(a)
		if err != nil {
			return err
		}
		m, err := tx.ListMessages(ctx, id)
		s.messages = len(m)
		if err != nil {
			return err
		}
		s.pending, err = tx.CountDeliveries(ctx, bridge.DeliveryFilter{ConversationID: id, Status: bridge.DeliveryPending})
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) audit(id bridge.ConversationID) []bridge.AuditEntry {
	h.t.Helper()
	var out []bridge.AuditEntry
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		out, err = tx.ListAudit(ctx, id)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func TestRefusalsChangeNothing(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		res := h.ingest(h.customer("100", "1", "where is my parcel"))
		done := h.ingest(h.customer("200", "1", "thanks, all good"))
		n, d := res.Number.String()[1:], done.Number.String()[1:]
		h.must(ann, "claim "+n)
		h.must(ann, "resolve "+d)
		tests := []struct {
			who  bridge.Actor
			cmd  string
			want error
			says string
		}{
			{bob, "reply " + n + " I can help", bridge.ErrForbidden, "assigned to Ann; only they or a supervisor"},
			{bob, "resolve " + n, bridge.ErrForbidden, "assigned to Ann"},
			{bob, "transfer " + n + " #billing refund", bridge.ErrForbidden, "may transfer it"},
			{bob, "unassign " + n, bridge.ErrForbidden, "may unassign it"},
			{bob, "pending " + n, bridge.ErrForbidden, "may set pending it"},
			{bob, "snooze " + n + " 1h", bridge.ErrForbidden, "may snooze it"},
			{bob, "priority " + n + " p4", bridge.ErrForbidden, "lower the priority"},
			{bob, "audit " + n, bridge.ErrForbidden, "audit is for supervisors, managers and admins"},
			{bob, "report 7d", bridge.ErrForbidden, "report is for supervisors, managers and admins"},
			{sue, "report lastweek", bridge.ErrInvalidInput, "period"},
			{sue, "report 7d @bob", bridge.ErrInvalidInput, "pick them from the @ menu"},
			{bob, "claim " + n, bridge.ErrConflict, "already claimed by Ann"},
			{ann, "resolve 9999", bridge.ErrNotFound, "there is no conversation #9999"},
			{ann, "resolve", bridge.ErrInvalidInput, "say which conversation"},
			{ann, "assign " + n + " @bob", bridge.ErrInvalidInput, `"@bob" is only a name`},
			{ann, "transfer " + n + " @bob he knows", bridge.ErrInvalidInput, `"@bob" is only a name`},
			{ann, "transfer " + n + " #billing", bridge.ErrInvalidInput, "say why"},
			{ann, "reply " + n, bridge.ErrInvalidInput, "empty reply"},
			{ann, "reopen " + n, bridge.ErrIllegalState, "not resolved"},
			{ann, "claim " + d, bridge.ErrIllegalState, "is resolved; reopen it"},
			{ann, "reply " + d + " hello?", bridge.ErrIllegalState, "is resolved"},
			{ann, "escalate " + d + " manager", bridge.ErrIllegalState, "is resolved"},
			{ann, "resolve " + d, bridge.ErrIllegalState, "already resolved"},
			{ann, "transfer " + d + " #billing why", bridge.ErrIllegalState, "is resolved"},
			{ann, "priority " + d + " p1", bridge.ErrIllegalState, "is resolved"},
		}
		for _, tc := range tests {
			target := res.ConversationID
			if strings.Contains(tc.cmd, d) {
				target = done.ConversationID
			}
			before := h.snapshot(target)
			_, err := h.do(tc.who, tc.cmd)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%s %q: err = %v, want %v saying %q", tc.who.Name, tc.cmd, err, tc.want, tc.says)
			}
			if after := h.snapshot(target); !reflect.DeepEqual(before, after) {
				t.Errorf("%s %q changed something:\nbefore %+v\nafter  %+v", tc.who.Name, tc.cmd, before, after)
			}
		}
		// Unassign of an unassigned conversation is a wrong state too.
		h.must(ann, "unassign "+n)
		before := h.snapshot(res.ConversationID)
		if _, err := h.do(ann, "unassign "+n); !errors.Is(err, bridge.ErrIllegalState) {
			t.Errorf("unassign twice: %v", err)
		}
		if after := h.snapshot(res.ConversationID); !reflect.DeepEqual(before, after) {
			t.Errorf("second unassign changed something")
		}
	})
}

func TestSupervisorsMayActOnOthersConversations(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		res := h.ingest(h.customer("100", "1", "hi"))
		n := res.Number.String()[1:]
		h.must(ann, "claim "+n)
		h.must(sue, "reply "+n+" A supervisor here")
		h.must(sue, "priority "+n+" p4")
		r := h.must(sue, "audit "+n)
		var actions []string
		for _, e := range r.Audit {
			actions = append(actions, e.Actor+":"+e.Action)
		}
		want := []string{":created", "Ann:claimed", "Sue:replied", "Sue:priority_set"}
		if !slices.Equal(actions, want) {
			t.Errorf("audit %q, want %q", actions, want)
		}
		// The trail names agents, not ids.
		if len(r.Audit) == 4 && !slices.Contains(r.Audit[1].Changes, bridge.AuditChange{Field: "assignee", Before: "nobody", After: "Ann"}) {
			t.Errorf("claim changes %+v", r.Audit[1].Changes)
		}
		h.must(sue, "resolve "+n)
		if c := h.conv(res.ConversationID); c.Status != bridge.StatusResolved || c.AssigneeID == 0 {
			t.Errorf("after a supervisor resolved: %+v", c)
		}
		// A manager's reopen and an agent's reopen both work: reopening is
		// never harmful.
		h.must(bob, "reopen "+n)
	})
}

func TestBystanderReplyIsKeptAsNote(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "hi"))
	h.must(ann, "claim "+res.Number.String()[1:])
	r, err := h.b.Dispatch(h.ctx, bridge.DeliveryKey{Source: "slack", ID: "Ev1"}, bob, bridge.Command{
		Verb: bridge.VerbReply, Conversation: bridge.ConversationRef{ID: res.ConversationID}, Text: "I would refund", NoteIfForbidden: true,
		ChatRef: &bridge.ChatMessageRef{Surface: bridge.SurfaceSlack, Channel: "C1", Ref: "9.1"},
	})
	if err != nil || !r.Demoted || !r.Attention || !strings.Contains(r.Text, "Kept as an internal note") {
		t.Fatalf("result %+v, %v", r, err)
	}
	h.drain(res.ConversationID)
	if got := h.platform.texts(); len(got) != 0 {
		t.Errorf("customer got %q", got)
	}
	var msgs []bridge.Message
	_ = h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		msgs, err = tx.ListMessages(ctx, res.ConversationID)
		return err
	})
	if last := msgs[len(msgs)-1]; last.Direction != bridge.Note || last.Text != "I would refund" {
		t.Errorf("last message %+v, want the note", last)
	}
}

func TestClaimOnReplyIsConfigurable(t *testing.T) {
	for _, keep := range []bool{false, true} {
		h := newHarness(t, bridge.Options{KeepUnassignedOnReply: keep})
		res := h.ingest(h.customer("100", "1", "hi"))
		h.must(ann, "reply "+res.Number.String()[1:]+" hello")
		if c := h.conv(res.ConversationID); (c.AssigneeID != 0) == keep {
			t.Errorf("KeepUnassignedOnReply=%t: assignee %d", keep, c.AssigneeID)
		}
	}
}

func TestAssignTransferAndTeams(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		res := h.ingest(h.customer("100", "1", "hi"))
		n := res.Number.String()[1:]
		r := h.must(ann, "assign "+n+" <UBOB Bob>")
		bobAgent := h.conv(res.ConversationID).AssigneeID
		if bobAgent == 0 || !strings.Contains(r.Text, "assigned to Bob") {
			t.Fatalf("assign: %+v", r)
		}
		// Bob acts later: he is the agent the mention created, not a new one.
		h.must(bob, "reply "+n+" on it")
		if c := h.conv(res.ConversationID); c.AssigneeID != bobAgent {
			t.Errorf("Bob's reply changed the assignee to %d", c.AssigneeID)
		}
		if _, err := h.do(bob, "transfer "+n+" <UBOB Bob> me again"); !errors.Is(err, bridge.ErrIllegalState) {
			t.Errorf("transfer to the assignee: %v", err)
		}
		h.must(bob, "transfer "+n+" <UANN Ann> she handled the order")
		if c := h.conv(res.ConversationID); c.AssigneeID == bobAgent || c.AssigneeID == 0 {
			t.Errorf("after transfer to Ann: assignee %d", c.AssigneeID)
		}
		h.must(ann, "transfer "+n+" #billing refund over 100 EUR")
		c := h.conv(res.ConversationID)
		if c.Team != "billing" || c.AssigneeID != 0 {
			t.Errorf("after transfer to a team: %+v", c)
		}
		h.drain(res.ConversationID)
		log := strings.Join(h.surface.entries(), "\n")
		for _, want := range []string{"notice Transferred to Ann by Bob: she handled the order", "notice Transferred to team billing by Ann: refund over 100 EUR"} {
			if !strings.Contains(log, want) {
				t.Errorf("thread lacks %q:\n%s", want, log)
			}
		}
		last := h.audit(res.ConversationID)
		if e := last[len(last)-1]; e.Action != "transferred" || !strings.Contains(e.After, "team=billing") || !strings.Contains(e.Before, "assignee=") {
			t.Errorf("audit %+v", e)
		}
	})
}

func TestEscalation(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		// Sue and Sam are supervisors; Sam has more work; Max the manager is away.
		if err := h.b.SyncRoles(h.ctx, bridge.SurfaceSlack, "T1", []bridge.Member{
			{UserID: "USUE", Name: "Sue", Role: bridge.RoleSupervisor}, {UserID: "USAM", Name: "Sam", Role: bridge.RoleSupervisor},
			{UserID: "UMAX", Name: "Max", Role: bridge.RoleManager}}); err != nil {
			t.Fatal(err)
		}
		busy := h.ingest(h.customer("900", "1", "busy"))
		h.must(sam, "claim "+busy.Number.String()[1:])
		h.must(max_, "away")

		res := h.ingest(h.customer("100", "1", "hi"))
		n := res.Number.String()[1:]
		h.must(ann, "claim "+n)
		r := h.must(ann, "escalate "+n+" supervisor customer threatens to sue")
		c := h.conv(res.ConversationID)
		sueID := c.AssigneeID
		if c.Priority != bridge.P2 || c.Escalation != bridge.EscalateSupervisor || !strings.Contains(r.Text, "escalated to Sue and P2") {
			t.Fatalf("supervisor escalation: %+v / %q", c, r.Text)
		}
		// Nobody available: the priority still rises and the actor learns whom to find.
		r = h.must(ann, "escalate "+n+" manager")
		c = h.conv(res.ConversationID)
		if c.Priority != bridge.P1 || c.AssigneeID != sueID || !r.Attention || !strings.Contains(r.Text, "no manager is available: find Max (away)") {
			t.Fatalf("manager escalation with the manager away: %+v / %q", c, r.Text)
		}
		h.must(max_, "back")
		r = h.must(ann, "escalate "+n+" critical account hacked")
		c = h.conv(res.ConversationID)
		if c.Escalation != bridge.EscalateCritical || c.AssigneeID == sueID || !strings.Contains(r.Text, "Max") {
			t.Fatalf("critical escalation: %+v / %q", c, r.Text)
		}
		h.drain(res.ConversationID)
		log := strings.Join(h.surface.entries(), "\n")
		// The fake surface has no alert channel: the alert falls back to a notice.
		for _, want := range []string{"Escalated (supervisor, P2) by Ann, now with Sue: customer threatens to sue",
			"No manager is available: find Max (away)", "notice Critical: " + res.Number.String()} {
			if !strings.Contains(log, want) {
				t.Errorf("thread lacks %q:\n%s", want, log)
			}
		}
		// With no one in the role at all, the message says so.
		other := h.newSetup("300")
		if err := h.b.SyncRoles(h.ctx, bridge.SurfaceSlack, "T1", nil); err != nil {
			t.Fatal(err)
		}
		r = h.must(ann, "escalate "+other+" supervisor")
		if !strings.Contains(r.Text, "nobody has the supervisor role") {
			t.Errorf("no supervisors: %q", r.Text)
		}
	})
}

func (h *harness) newSetup(chat string) string {
	h.t.Helper()
	return h.ingest(h.customer(chat, "1", "hello from "+chat)).Number.String()[1:]
}

func TestTagsPriorityPendingSnooze(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		res := h.ingest(h.customer("100", "1", "hi"))
		n := res.Number.String()[1:]
		h.must(ann, "tag "+n+" refund vip")
		h.must(bob, "tag "+n+" -vip order") // tagging is open to everyone
		if c := h.conv(res.ConversationID); !slices.Equal(c.Tags, []string{"order", "refund"}) {
			t.Errorf("tags %q", c.Tags)
		}
		if r := h.must(ann, "tag "+n+" order"); !strings.Contains(r.Text, "unchanged") {
			t.Errorf("same tags again: %q", r.Text)
		}
		h.must(bob, "priority "+n+" p1") // anyone may raise it
		h.must(ann, "claim "+n)
		h.must(ann, "priority "+n+" p3")
		h.must(ann, "pending "+n)
		if c := h.conv(res.ConversationID); c.Status != bridge.StatusPending || c.Priority != bridge.P3 {
			t.Errorf("after pending: %+v", c)
		}
		h.must(ann, "snooze "+n+" 2h")
		c := h.conv(res.ConversationID)
		if c.SnoozedUntil == nil || !c.SnoozedUntil.Equal(h.clock.Now().Add(2*time.Hour)) {
			t.Fatalf("snoozed until %v", c.SnoozedUntil)
		}
		if woken, err := h.b.WakeSnoozed(h.ctx); err != nil || woken != 0 {
			t.Errorf("woke %d early, %v", woken, err)
		}
		h.clock.Advance(2*time.Hour + time.Second)
		if woken, err := h.b.WakeSnoozed(h.ctx); err != nil || woken != 1 {
			t.Errorf("woke %d, %v; want 1", woken, err)
		}
		if c := h.conv(res.ConversationID); c.Status != bridge.StatusOpen || c.SnoozedUntil != nil {
			t.Errorf("after the snooze: %+v", c)
		}
		// A customer message ends a snooze too.
		h.must(ann, "snooze "+n+" 1d")
		h.ingest(h.customer("100", "2", "any news?"))
		if c := h.conv(res.ConversationID); c.Status != bridge.StatusOpen || c.SnoozedUntil != nil {
			t.Errorf("after the customer wrote: %+v", c)
		}
		if woken, _ := h.b.WakeSnoozed(h.ctx); woken != 0 {
			t.Errorf("woke %d after the customer already did", woken)
		}
	})
}

func TestListsHistoryAndAvailability(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		low := h.ingest(h.customer("100", "1", "question"))
		urgent := h.ingest(h.customer("200", "1", "account hacked"))
		h.must(ann, "priority "+urgent.Number.String()[1:]+" p1")
		mine := h.ingest(h.customer("300", "1", "mine"))
		h.must(ann, "claim "+mine.Number.String()[1:])

		q := h.must(bob, "queue")
		var got []bridge.ConversationNumber
		for _, s := range q.Conversations {
			got = append(got, s.Conversation.Number)
		}
		if !slices.Equal(got, []bridge.ConversationNumber{urgent.Number, low.Number}) {
			t.Errorf("queue %v, want the P1 first, then the other unassigned", got)
		}
		m := h.must(ann, "mine")
		if len(m.Conversations) != 1 || m.Conversations[0].Conversation.ID != mine.ConversationID || m.Conversations[0].Assignee != "Ann" {
			t.Errorf("mine: %+v", m.Conversations)
		}
		// History: the customer's conversation, resolved and later a new one.
		h.drain(low.ConversationID)
		h.must(ann, "resolve "+low.Number.String()[1:])
		h.clock.Advance(8 * 24 * time.Hour)
		next := h.ingest(h.customer("100", "2", "me again"))
		if next.ConversationID == low.ConversationID {
			t.Fatal("expected a new conversation after the reopen window")
		}
		hist := h.must(bob, "history "+next.Number.String()[1:])
		if len(hist.Conversations) != 2 || hist.Conversations[0].Conversation.ID != next.ConversationID ||
			hist.Conversations[1].Conversation.ID != low.ConversationID || len(hist.Conversations[1].Chats) != 1 {
			t.Errorf("history %+v", hist.Conversations)
		}
		// Away and back are audited and idempotent.
		h.must(ann, "away")
		h.must(ann, "away")
		h.must(ann, "back")
	})
}

func TestDuplicateCommandAppliesOnce(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "hi"))
	cmd := bridge.Command{Verb: bridge.VerbTag, Conversation: bridge.ConversationRef{ID: res.ConversationID}, AddTags: []string{"vip"}}
	key := bridge.DeliveryKey{Source: "slack_command", ID: "trigger-1"}
	if r, err := h.b.Dispatch(h.ctx, key, ann, cmd); err != nil || r.Duplicate {
		t.Fatal(r, err)
	}
	if r, err := h.b.Dispatch(h.ctx, key, ann, cmd); err != nil || !r.Duplicate {
		t.Errorf("second delivery: %+v %v", r, err)
	}
	if n := len(h.audit(res.ConversationID)); n != 2 {
		t.Errorf("%d audit entries, want created + tagged", n)
	}
	// Reads are answered again on redelivery.
	cmd = bridge.Command{Verb: bridge.VerbHistory, Conversation: bridge.ConversationRef{ID: res.ConversationID}}
	for range 2 {
		if r, err := h.b.Dispatch(h.ctx, bridge.DeliveryKey{Source: "x", ID: "read"}, ann, cmd); err != nil || r.Duplicate || len(r.Conversations) != 1 {
			t.Errorf("history: %+v %v", r, err)
		}
	}
}

func TestSyncRolesDemotesThoseNoLongerNamed(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	if err := h.b.SyncRoles(h.ctx, bridge.SurfaceSlack, "T1", []bridge.Member{{UserID: "USUE", Name: "Sue", Role: bridge.RoleSupervisor}}); err != nil {
		t.Fatal(err)
	}
	res := h.ingest(h.customer("100", "1", "hi"))
	n := res.Number.String()[1:]
	plainSue := sue
	plainSue.Role = "" // the surface does not say: the stored role counts
	h.must(plainSue, "audit "+n)
	if err := h.b.SyncRoles(h.ctx, bridge.SurfaceSlack, "T1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.do(plainSue, "audit "+n); !errors.Is(err, bridge.ErrForbidden) {
		t.Errorf("after removal from the role: %v", err)
	}
}

// TestReportChecksAndHandsBackTheQuery: report is checked by Dispatch like
// every verb and hands the surface the query to run.
func TestReportChecksAndHandsBackTheQuery(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	h.must(ann, "claim "+h.ingest(h.customer("100", "1", "hi")).Number.String()[1:])
	report := func(args bridge.ReportArgs) (bridge.CommandResult, error) {
		return h.b.Dispatch(h.ctx, bridge.DeliveryKey{Source: "test", ID: "same"}, sue, bridge.Command{Verb: bridge.VerbReport, Report: args})
	}
	res, err := report(bridge.ReportArgs{Period: "30d", Platform: bridge.PlatformTelegram, Agent: bridge.Mention{Kind: bridge.MentionUser, ID: "UANN"}, CSV: true})
	if err != nil || res.Report == nil {
		t.Fatalf("report: %+v %v", res, err)
	}
	q := res.Report.Query
	if q.Platform != bridge.PlatformTelegram || q.Agent == 0 || !res.Report.CSV || q.To.Sub(q.From) < 29*24*time.Hour ||
		!strings.Contains(q.Label, "last 30 days · Ann · Telegram") || !strings.Contains(res.Text, "Preparing the report for last 30 days") {
		t.Errorf("report query %+v, text %q", q, res.Text)
	}
	// Read-only: asked again with the same delivery key, it answers again.
	if again, err := report(bridge.ReportArgs{}); err != nil || again.Duplicate || again.Report == nil {
		t.Errorf("second report: %+v %v", again, err)
	}
	if _, err := report(bridge.ReportArgs{Agent: bridge.Mention{Kind: bridge.MentionUser, ID: "UNOBODY", Name: "nobody"}}); !errors.Is(err, bridge.ErrNotFound) ||
		!strings.Contains(err.Error(), "nobody has not worked a conversation yet") {
		t.Errorf("unknown agent: %v", err)
	}
}
