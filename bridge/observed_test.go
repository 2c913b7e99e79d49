package bridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

func (h *harness) observed(chat, mid, text string, ours bridge.MessageID) bridge.IngestResult {
	h.t.Helper()
	res, err := h.b.ObserveOutbound(h.ctx, bridge.ObservedOutbound{
		Platform: bridge.PlatformTelegram, Account: bridge.UpsertAccountParams{ExternalID: "bot1"}, Thread: chat,
		Customer: bridge.UpsertIdentityParams{ExternalUserID: "user-" + chat}, PlatformMessageID: mid, OurMessageID: ours, Text: text,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// TestObserveOutbound: echoes of our own replies change nothing; a reply
// typed on the platform joins the thread as outbound, attributed to the
// account, and is never sent again.
func TestObserveOutbound(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	wrote := h.clock.Now()
	res := h.ingest(h.customer("100", "1", "help"))
	h.drain(res.ConversationID)
	h.clock.Advance(time.Hour)
	reply, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "on it"})
	if err != nil {
		t.Fatal(err)
	}
	// The echo may come before the send is recorded, with our id in its
	// metadata, or after, with the platform id the send returned.
	if r := h.observed("100", "echo-before-answer", "on it", reply.MessageID); !r.Duplicate {
		t.Errorf("echo naming our message: %+v", r)
	}
	h.drain(res.ConversationID)
	if r := h.observed("100", "sent-1", "on it", 0); !r.Duplicate {
		t.Errorf("echo with the platform id of our send: %+v", r)
	}
	inbox := h.observed("100", "inbox-1", "Jo from the shop here", 0)
	if inbox.Duplicate || inbox.ConversationID != res.ConversationID || inbox.NewConversation {
		t.Fatalf("inbox reply: %+v", inbox)
	}
	if r := h.observed("100", "inbox-1", "Jo from the shop here", 0); !r.Duplicate {
		t.Errorf("redelivered inbox echo: %+v", r)
	}
	// An id in the metadata that is not a reply of this thread is not ours.
	if r := h.observed("100", "inbox-2", "from another deployment", res.MessageID); r.Duplicate {
		t.Errorf("echo naming the customer's message taken as ours: %+v", r)
	}
	h.drain(res.ConversationID)
	log := strings.Join(h.surface.entries(), "|")
	for _, want := range []string{"post Acme, outside Threadline: Jo from the shop here", "post Acme, outside Threadline: from another deployment"} {
		if !strings.Contains(log, want) {
			t.Errorf("chat log %q lacks %q", log, want)
		}
	}
	// A reply without a chat message of its own is posted once, by us.
	if strings.Count(log, "on it") != 1 {
		t.Errorf("our own reply shown again from its echo: %q", log)
	}
	if got := h.platform.texts(); len(got) != 1 || got[0] != "on it" {
		t.Errorf("platform got %q: an observed message must never be sent", got)
	}
	// The window counts from the customer's message, not from any reply.
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "more"}); err != nil {
		t.Fatal(err)
	}
	h.drain(res.ConversationID)
	h.platform.mu.Lock()
	sent := append([]bridge.OutboundMessage(nil), h.platform.sent...)
	h.platform.mu.Unlock()
	if len(sent) != 2 || !sent[0].LastInboundAt.Equal(wrote) || !sent[1].LastInboundAt.Equal(wrote) {
		t.Errorf("sends %+v, want LastInboundAt %v on both", sent, wrote)
	}
	c := h.conv(res.ConversationID)
	if c.Status != bridge.StatusPending {
		t.Errorf("status %s", c.Status)
	}

	// The customer writes again; an answer from the platform's inbox
	// counts as the response: the conversation waits for the customer.
	h.ingest(h.customer("100", "2", "and the invoice?"))
	if c := h.conv(res.ConversationID); c.Status != bridge.StatusOpen {
		t.Fatalf("status after the customer wrote %s", c.Status)
	}
	h.observed("100", "inbox-3", "invoice attached", 0)
	if c := h.conv(res.ConversationID); c.Status != bridge.StatusPending {
		t.Errorf("status after an inbox reply %s, want pending", c.Status)
	}

	// A resolved conversation gets the message without reopening.
	if _, err := h.b.Resolve(h.ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: res.ConversationID}); err != nil {
		t.Fatal(err)
	}
	if r := h.observed("100", "inbox-4", "thanks for shopping", 0); r.ConversationID != res.ConversationID || h.conv(res.ConversationID).Status != bridge.StatusResolved {
		t.Errorf("inbox message after resolve: %+v, status %s", r, h.conv(res.ConversationID).Status)
	}

	// A message the account starts on the platform opens a conversation,
	// already answered.
	fresh := h.observed("200", "inbox-9", "Your order shipped", 0)
	if !fresh.NewConversation {
		t.Errorf("first message of a thread: %+v", fresh)
	}
	if c := h.conv(fresh.ConversationID); c.Status != bridge.StatusPending || c.FirstResponseAt == nil {
		t.Errorf("conversation started outside: %+v", c)
	}
}

func TestObserveOutboundRejectsIncomplete(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	if _, err := h.b.ObserveOutbound(h.ctx, bridge.ObservedOutbound{Platform: bridge.PlatformTelegram, Thread: "1"}); err == nil {
		t.Error("accepted an observed message without account, customer or id")
	}
}

// TestObservedReplyStopsResponseClock: an answer typed in the platform's
// inbox is a response; no breach follows it.
func TestObservedReplyStopsResponseClock(t *testing.T) {
	h, alerts := newSLAHarness(t, testPolicy(t))
	res := h.ingest(h.customer("100", "1", "help"))
	h.clock.Advance(10 * time.Minute)
	h.observed("100", "inbox-1", "on it, from the app", 0)
	if c := h.clocks(res.ConversationID)[bridge.ClockFirstResponse]; c.State != bridge.SLAStopped {
		t.Errorf("first response clock %+v, want stopped", c)
	}
	h.clock.Advance(time.Hour)
	if r := h.checkSLA(); r.Breaches != 0 {
		t.Errorf("breaches %+v after an inbox reply", r)
	}
	alerts.mu.Lock()
	defer alerts.mu.Unlock()
	if len(alerts.channel) != 0 {
		t.Errorf("alerts %+v", alerts.channel)
	}
}

// TestEchoOfReplyInAnotherThread: a private reply to a comment is echoed in
// the commenter's DM thread, on the same page's Messenger account; it is
// ours, not a message from outside.
func TestEchoOfReplyInAnotherThread(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("comment:c1", "c1", "refund?"))
	reply, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: bridge.ConversationRef{ID: res.ConversationID}, Text: "dm: order number?"})
	if err != nil {
		t.Fatal(err)
	}
	echo := bridge.ObservedOutbound{Platform: bridge.PlatformMessenger, Account: bridge.UpsertAccountParams{ExternalID: "bot1"}, Thread: "psid-9",
		Customer: bridge.UpsertIdentityParams{ExternalUserID: "psid-9"}, PlatformMessageID: "m_1", OurMessageID: reply.MessageID, Text: "order number?"}
	if r, err := h.b.ObserveOutbound(h.ctx, echo); err != nil || !r.Duplicate {
		t.Errorf("echo of our private reply: %+v %v", r, err)
	}
	echo.Account.ExternalID, echo.PlatformMessageID = "other-page", "m_2"
	if r, err := h.b.ObserveOutbound(h.ctx, echo); err != nil || r.Duplicate {
		t.Errorf("another page's echo naming our id: %+v %v", r, err)
	}
}
