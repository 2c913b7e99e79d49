package bridge_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// privatePlatform is the fake platform with private replies to comments.
type privatePlatform struct {
	*fakePlatform
	mu      sync.Mutex
	private []bridge.OutboundMessage
}

func (p *privatePlatform) SendPrivateReply(_ context.Context, m bridge.OutboundMessage) (bridge.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.private = append(p.private, m)
	return bridge.SendResult{PlatformMessageID: "private-1"}, nil
}

func (p *privatePlatform) privateTexts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.private {
		out = append(out, m.Text)
	}
	return out
}

func TestMoveToDM(t *testing.T) {
	h := newHarness(t, bridge.Options{DMHandoff: bridge.DMHandoff{PublicReply: "Hi {customer.name}, check your messages ({conversation.id})."}})
	pp := &privatePlatform{fakePlatform: h.platform}
	h.b.AddPlatform(pp)
	ev := h.customer("comment:c1", "c1", "my order is late!!")
	ev.Source = bridge.SourceComment
	res := h.ingest(ev)
	h.drain(res.ConversationID)
	dm := h.ingest(h.customer("200", "1", "a private question"))
	h.drain(dm.ConversationID)
	n, d := res.Number.String()[1:], dm.Number.String()[1:]
	if !h.cardOf(res.ConversationID).MoveToDM || h.cardOf(dm.ConversationID).MoveToDM {
		t.Errorf("Move to DM offered on the comment %v, on the DM %v", h.cardOf(res.ConversationID).MoveToDM, h.cardOf(dm.ConversationID).MoveToDM)
	}

	h.must(ann, "claim "+n)
	refusals := []struct {
		who  bridge.Actor
		cmd  string
		want error
		says string
	}{
		{ann, "dm " + d, bridge.ErrIllegalState, "not a public comment"},
		{bob, "dm " + n, bridge.ErrForbidden, "assigned to Ann"},
	}
	for _, tc := range refusals {
		before := h.snapshot(res.ConversationID)
		if _, err := h.do(tc.who, tc.cmd); !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s %q: %v, want %v saying %q", tc.who.Name, tc.cmd, err, tc.want, tc.says)
		}
		if after := h.snapshot(res.ConversationID); !reflect.DeepEqual(after, before) {
			t.Errorf("%q changed the conversation", tc.cmd)
		}
	}

	r := h.must(ann, "dm "+n)
	if !strings.Contains(r.Text, "public reply and a private message to Ada comment:c1 are queued") {
		t.Errorf("answer %q", r.Text)
	}
	h.drain(res.ConversationID)
	h.drain(res.ConversationID)
	if got := h.platform.texts(); !slices.Equal(got, []string{"Hi Ada comment:c1, check your messages (" + res.Number.String() + ")."}) {
		t.Errorf("public replies %q", got)
	}
	if got := pp.privateTexts(); !slices.Equal(got, []string{"Hi Ada comment:c1, this is Ann following up on your comment. How can we help?"}) {
		t.Errorf("private replies %q", got)
	}
	if pp.private[0].ThreadExternalID != "comment:c1" || pp.private[0].Account.ExternalID != "bot1" {
		t.Errorf("private reply addressed %+v", pp.private[0])
	}
	c := h.conv(res.ConversationID)
	if c.Status != bridge.StatusPending || c.FirstResponseAt == nil {
		t.Errorf("after the handoff: %+v", c)
	}
	if h.cardOf(res.ConversationID).MoveToDM {
		t.Error("Move to DM still offered after the handoff")
	}
	actions := []string{}
	for _, e := range h.audit(res.ConversationID) {
		actions = append(actions, e.Action)
	}
	if !slices.Contains(actions, "moved_to_dm") {
		t.Errorf("audit %q", actions)
	}
	// Once per comment: a second one is refused and sends nothing.
	if _, err := h.do(ann, "dm "+n+" again?"); !errors.Is(err, bridge.ErrConflict) || !strings.Contains(err.Error(), "moved to a private conversation already") {
		t.Errorf("second handoff: %v", err)
	}
	h.drain(res.ConversationID)
	if len(pp.privateTexts()) != 1 || len(h.platform.texts()) != 1 {
		t.Errorf("second handoff sent something: %q %q", pp.privateTexts(), h.platform.texts())
	}
}

// TestMoveToDMWhereThePlatformCannot: a comment on a platform without
// private replies is refused, changes nothing and offers no button.
func TestMoveToDMWhereThePlatformCannot(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	ev := h.customer("comment:c1", "c1", "nice product")
	ev.Source = bridge.SourceComment
	res := h.ingest(ev)
	h.drain(res.ConversationID)
	if h.cardOf(res.ConversationID).MoveToDM {
		t.Error("Move to DM offered where the platform has no private replies")
	}
	before := h.snapshot(res.ConversationID)
	if _, err := h.do(ann, "dm "+res.Number.String()[1:]+" hello"); !errors.Is(err, bridge.ErrIllegalState) || !strings.Contains(err.Error(), "does not let a business write privately") {
		t.Errorf("dm: %v", err)
	}
	if after := h.snapshot(res.ConversationID); !reflect.DeepEqual(after, before) || len(h.platform.texts()) != 0 {
		t.Errorf("a refused dm changed something: %+v -> %+v, sent %q", before, after, h.platform.texts())
	}
}

func (h *harness) cardOf(id bridge.ConversationID) bridge.Card {
	h.t.Helper()
	c, err := h.b.CardOf(h.ctx, bridge.ConversationRef{ID: id})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}
