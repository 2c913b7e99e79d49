package slack_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/chatops/slack/slacktest"
)

// press clicks a card button as user.
func (r *rig) press(user, parentTS, actionID, value string) {
	r.t.Helper()
	code, _, err := r.client.SendAction(r.ctx, slacktest.Action{TeamID: r.sl.TeamID(), UserID: user, UserName: strings.ToLower(user[2:]),
		Channel: channel, MessageTS: parentTS, ActionID: actionID, Value: value})
	if err != nil || code != 200 {
		r.t.Fatalf("%s presses %s: %d %v", user, actionID, code, err)
	}
}

// openView waits for the nth view opened for user and returns it.
func (r *rig) openView(user string, nth int) slacktest.View {
	r.t.Helper()
	var v slacktest.View
	r.waitSlack("view for "+user, func(s *slacktest.Server) bool {
		vs := s.Views(user)
		if len(vs) >= nth {
			v = vs[nth-1]
			return true
		}
		return false
	})
	return v
}

type submitAnswer struct {
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
	View           struct {
		CallbackID string            `json:"callback_id"`
		Blocks     []json.RawMessage `json:"blocks"`
		Metadata   string            `json:"private_metadata"`
	} `json:"view"`
}

func (r *rig) submit(viewID string, inputs map[string]map[string]slacktest.Input) submitAnswer {
	r.t.Helper()
	code, body, err := r.client.SubmitView(r.ctx, r.sl, r.sl.TeamID(), viewID, inputs)
	if err != nil || code != 200 {
		r.t.Fatalf("submit %s: %d %s %v", viewID, code, body, err)
	}
	var a submitAnswer
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &a); err != nil {
			r.t.Fatalf("answer %s: %v", body, err)
		}
	}
	return a
}

func text(v string) map[string]slacktest.Input { return map[string]slacktest.Input{"text": {Value: v}} }

func TestReplyFormShowsContextAndSends(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.customer("My order 1234 never came")
	parent := r.parent()
	n := number(parent)
	r.press("U0ANN", parent.TS, "threadline_reply", n)
	v := r.openView("U0ANN", 1)
	blocks := string(mustJSON(v.Blocks))
	if v.CallbackID != "threadline_form_reply" || !strings.Contains(blocks, "My order 1234 never came") || !strings.Contains(blocks, "No canned replies yet") {
		t.Fatalf("reply form %s: %s", v.CallbackID, blocks)
	}
	// Empty: refused under the input, the form stays open, nothing sent.
	if a := r.submit(v.ID, map[string]map[string]slacktest.Input{"reply": text("  ")}); a.ResponseAction != "errors" || !strings.Contains(a.Errors["reply"], "Empty reply") {
		t.Errorf("empty reply answered %+v", a)
	}
	if a := r.submit(v.ID, map[string]map[string]slacktest.Input{"reply": text("It ships today <3 & arrives Friday")}); a.ResponseAction != "" {
		t.Fatalf("reply answered %+v", a)
	}
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "It ships today <3 & arrives Friday" {
		t.Errorf("customer got %q", sent[0].Text)
	}
	// Replying from the form claimed the unassigned conversation.
	r.waitCard(parent.TS, "Assigned to Ann")
	if got := r.sl.Views("U0ANN"); !got[0].Closed {
		t.Errorf("form still open after sending")
	}
}

func TestReplyFormCollisions(t *testing.T) {
	r := newRigWith(t, rigOptions{replyMode: tlslack.ReplyAuto, roles: tlslack.Roles{Supervisors: []string{"U0SUE"}}})
	r.customer("Where is my refund?")
	parent := r.parent()
	n := number(parent)
	r.command("U0ANN", "claim "+n)
	r.waitCard(parent.TS, "Assigned to ann")

	// Ann opens the reply form; then Bob, who does not own it, opens one too.
	if got := r.command("U0ANN", "reply "+n); got != "" {
		t.Errorf("/threadline reply without text answered %q, want the form only", got)
	}
	annView := r.openView("U0ANN", 1)
	r.sl.Type(annView.ID, "reply", "text", "Ann's half-typed answer")
	r.press("U0BOB", parent.TS, "threadline_reply", n)
	bobView := r.openView("U0BOB", 1)
	if b := string(mustJSON(bobView.Blocks)); !strings.Contains(b, "only they or a supervisor may reply") || !strings.Contains(b, `\u003c@U0ANN\u003e is writing a reply too`) {
		t.Errorf("Bob's form does not warn: %s", b)
	}
	// Both are warned, and the owner learns someone opened her conversation.
	r.waitEphemeral("U0BOB", "<@U0ANN> is also writing a reply to #"+n)
	r.waitEphemeral("U0ANN", "<@U0BOB> just opened a reply to #"+n+" too")
	r.waitEphemeral("U0ANN", "<@U0BOB> opened a reply to your conversation #"+n)
	r.waitEphemeral("U0BOB", "#"+n+" is assigned to <@U0ANN>")

	// Bob may not send: his reply is kept as a note.
	if a := r.submit(bobView.ID, map[string]map[string]slacktest.Input{"reply": text("I'd refund now")}); a.ResponseAction != "" {
		t.Fatalf("Bob's submission answered %+v", a)
	}
	r.waitEphemeral("U0BOB", "Kept as an internal note, not sent")

	// A supervisor sends a reply while Ann's form is open.
	if got := r.command("U0SUE", "reply "+n+" Refund approved, 3-5 days."); !strings.Contains(got, "queued") {
		t.Fatalf("Sue's reply: %q", got)
	}
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "Refund approved, 3-5 days." {
		t.Fatalf("customer got %+v", sent)
	}
	// Ann submits what she typed: she sees the reply sent since, and must confirm.
	a := r.submit(annView.ID, nil)
	if a.ResponseAction != "update" || a.View.CallbackID != "threadline_form_confirm_reply" {
		t.Fatalf("stale reply answered %+v", a)
	}
	confirm := string(mustJSON(a.View.Blocks))
	if !strings.Contains(confirm, "Refund approved, 3-5 days.") || !strings.Contains(confirm, "Ann's half-typed answer") {
		t.Errorf("confirmation lacks the other reply or the draft: %s", confirm)
	}
	if got := r.tg.Sent(alice.ID); len(got) != 1 {
		t.Errorf("customer got %d messages before Ann confirmed", len(got))
	}
	// Slack shows the returned view in place of Ann's form; she confirms.
	if a := r.submit(annView.ID, map[string]map[string]slacktest.Input{"reply_again": text("Ann's half-typed answer")}); a.ResponseAction != "" {
		t.Fatalf("confirm answered %+v", a)
	}
	sent, err = r.tg.WaitSent(r.ctx, alice.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sent[1].Text != "Ann's half-typed answer" {
		t.Errorf("customer got %+v", sent)
	}
}

func TestSentReplyUpdatesOtherOpenForms(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.customer("hello?")
	parent := r.parent()
	n := number(parent)
	r.press("U0ANN", parent.TS, "threadline_reply", n)
	annView := r.openView("U0ANN", 1)
	r.sl.Type(annView.ID, "reply", "text", "typing…")
	r.press("U0BOB", parent.TS, "threadline_reply", n)
	bobView := r.openView("U0BOB", 1)
	r.submit(bobView.ID, map[string]map[string]slacktest.Input{"reply": text("Bob was quicker")})
	r.waitSlack("Ann's form shows Bob's reply", func(s *slacktest.Server) bool {
		for _, v := range s.Views("U0ANN") {
			if v.ID == annView.ID && v.Updates > 0 && strings.Contains(string(mustJSON(v.Blocks)), "just replied: Bob was quicker") {
				return v.State["reply"]["text"] == "typing…" // what Ann typed stays
			}
		}
		return false
	})
	// Closing the form without sending forgets Ann's draft: Bob's next form
	// does not warn about her.
	if _, err := r.client.CloseView(r.ctx, r.sl, r.sl.TeamID(), annView.ID); err != nil {
		t.Fatal(err)
	}
	r.press("U0BOB", parent.TS, "threadline_reply", n)
	again := r.openView("U0BOB", 2)
	if strings.Contains(string(mustJSON(again.Blocks)), "is writing a reply too") {
		t.Errorf("closed draft still warned about")
	}
}

func TestNoteTransferEscalateForms(t *testing.T) {
	r := newRigWith(t, rigOptions{replyMode: tlslack.ReplyAuto, roles: tlslack.Roles{Supervisors: []string{"U0SUE"}}})
	r.sl.SetChannelName("C0BILL", "billing")
	r.customer("I was charged twice")
	parent := r.parent()
	n := number(parent)
	r.command("U0ANN", "claim "+n)

	r.press("U0ANN", parent.TS, "threadline_note", n)
	note := r.openView("U0ANN", 1)
	if a := r.submit(note.ID, map[string]map[string]slacktest.Input{"note": text("VIP, double charge confirmed")}); a.ResponseAction != "" {
		t.Fatalf("note: %+v", a)
	}
	r.waitSlack("note in the thread", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.ThreadTS == parent.TS && strings.Contains(m.Text, "(internal note): VIP, double charge confirmed") {
				return true
			}
		}
		return false
	})

	r.press("U0ANN", parent.TS, "threadline_transfer", n)
	tr := r.openView("U0ANN", 2)
	if a := r.submit(tr.ID, map[string]map[string]slacktest.Input{"reason": text("billing issue")}); a.ResponseAction != "errors" || a.Errors["to"] == "" {
		t.Errorf("transfer to nobody answered %+v", a)
	}
	if a := r.submit(tr.ID, map[string]map[string]slacktest.Input{"team": {"channel": {Kind: "conversations_select", Value: "C0BILL"}},
		"reason": text("double charge")}); a.ResponseAction != "" {
		t.Fatalf("transfer: %+v", a)
	}
	r.waitCard(parent.TS, "Team billing")

	r.press("U0ANN", parent.TS, "threadline_escalate", n)
	es := r.openView("U0ANN", 3)
	if a := r.submit(es.ID, map[string]map[string]slacktest.Input{"level": {"level": {Kind: "radio_buttons", Value: "supervisor"}},
		"reason": text("customer is furious")}); a.ResponseAction != "" {
		t.Fatalf("escalate: %+v", a)
	}
	r.waitCard(parent.TS, "Assigned to Sue")
	r.waitCard(parent.TS, "Escalated (supervisor)")
	if got := r.tg.Sent(alice.ID); len(got) != 0 {
		t.Errorf("customer got %+v", got)
	}
}

func TestCannedRepliesInTheReplyForm(t *testing.T) {
	r := newRigWith(t, rigOptions{replyMode: tlslack.ReplyAuto, roles: tlslack.Roles{Supervisors: []string{"U0SUE"}}})
	for _, cmd := range []string{
		"macro add goodbye Anything else?",
		"macro add tracking lang=en intent=order_tracking Hi {customer.name}, {conversation.id} ships today. {agent.name}",
		"macro add refund lang=en intent=refund Your refund is on its way.",
	} {
		if got := r.command("U0SUE", cmd); !strings.Contains(got, "added") {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	if got := r.command("U0ANN", "macro add mine no"); !strings.Contains(got, "for supervisors, managers and admins") {
		t.Errorf("an agent adds a macro: %q", got)
	}
	r.customer("Where is my parcel? The tracking shows nothing")
	parent := r.parent()
	n := number(parent)
	r.press("U0ANN", parent.TS, "threadline_reply", n)
	v := r.openView("U0ANN", 1)
	blocks := string(mustJSON(v.Blocks))
	first, second := strings.Index(blocks, `"value":"tracking"`), strings.Index(blocks, `"value":"refund"`)
	if first < 0 || second < 0 || first > second || !strings.Contains(blocks, "order tracking, in en") {
		t.Fatalf("canned replies not ranked for tracking: %s", blocks)
	}
	if code, err := r.client.PickInView(r.ctx, r.sl, r.sl.TeamID(), v.ID, "canned", "threadline_macro_pick", "tracking"); err != nil || code != 200 {
		t.Fatalf("pick: %d %v", code, err)
	}
	want := "Hi Alice Doe, #" + n + " ships today. Ann"
	r.waitSlack("macro in the reply box", func(s *slacktest.Server) bool {
		for _, x := range s.Views("U0ANN") {
			if x.ID == v.ID && x.State["reply_m_tracking"]["text"] == want {
				return true
			}
		}
		return false
	})
	if a := r.submit(v.ID, nil); a.ResponseAction != "" {
		t.Fatalf("send: %+v", a)
	}
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != want {
		t.Errorf("customer got %q, want %q", sent[0].Text, want)
	}
	if list := r.command("U0ANN", "macro list"); !strings.Contains(list, "3 macros.") {
		t.Errorf("list: %q", list)
	}
}

// Over Socket Mode the form's answer travels in the ack.
func TestFormAnswerInSocketModeAck(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.socketMode()
	r.customer("hi")
	parent := r.parent()
	r.press("U0ANN", parent.TS, "threadline_reply", number(parent))
	v := r.openView("U0ANN", 1)
	submission := func(text string) []byte {
		b, _ := json.Marshal(map[string]any{"type": "view_submission", "team": map[string]any{"id": r.sl.TeamID()},
			"user": map[string]any{"id": "U0ANN"},
			"view": map[string]any{"id": v.ID, "hash": v.Hash + text, "type": "modal", "callback_id": v.CallbackID, "private_metadata": v.Metadata,
				"state": map[string]any{"values": map[string]any{"reply": map[string]any{"text": map[string]any{"type": "plain_text_input", "value": text}}}}}})
		return b
	}
	ack, err := r.sl.SendSocket(r.ctx, "interactive", submission(""), 0, 5*time.Second)
	if err != nil || !strings.Contains(string(ack), `"response_action":"errors"`) {
		t.Fatalf("empty reply over the socket: %s %v", ack, err)
	}
	if _, err := r.sl.SendSocket(r.ctx, "interactive", submission("sent over the socket"), 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil || sent[0].Text != "sent over the socket" {
		t.Fatalf("customer got %+v %v", sent, err)
	}
}
