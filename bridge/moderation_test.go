package bridge_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// moderatingPlatform is the fake platform with comment moderation.
type moderatingPlatform struct {
	*fakePlatform
	mu   sync.Mutex
	done []bridge.ModerationRequest
	fail error
}

func (p *moderatingPlatform) Moderate(_ context.Context, r bridge.ModerationRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.done = append(p.done, r)
	return nil
}

func TestModeration(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	mod := &moderatingPlatform{fakePlatform: h.platform}
	h.b.AddPlatform(mod)
	ev := h.customer("comment:c1", "c1", "this product is a scam")
	ev.Source = bridge.SourceComment
	res := h.ingest(ev)
	h.drain(res.ConversationID)
	ref := bridge.ConversationRef{ID: res.ConversationID}
	if _, err := h.b.Reply(h.ctx, bridge.ReplyParams{Actor: ann, Ref: ref, Text: "Sorry to hear that, we sent you a DM."}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.b.HideComment(h.ctx, bridge.DeliveryKey{Source: "test", ID: "hide-1"}, ann, ref); err != nil {
		t.Fatal(err)
	}
	// A redelivered click changes nothing.
	if r, err := h.b.HideComment(h.ctx, bridge.DeliveryKey{Source: "test", ID: "hide-1"}, ann, ref); err != nil || !r.Duplicate {
		t.Errorf("repeated click: %+v %v", r, err)
	}
	h.drain(res.ConversationID)
	h.drain(res.ConversationID)
	mod.mu.Lock()
	done := append([]bridge.ModerationRequest(nil), mod.done...)
	mod.mu.Unlock()
	if len(done) != 1 || done[0].Action != bridge.ModerateHide || done[0].ThreadExternalID != "comment:c1" || done[0].Account.ExternalID != "bot1" {
		t.Fatalf("moderation %+v", done)
	}
	// In order: the reply was sent before the comment was hidden.
	if got := h.platform.texts(); len(got) != 1 {
		t.Errorf("platform got %q", got)
	}
	if log := strings.Join(h.surface.entries(), "|"); !strings.Contains(log, "notice The comment was hidden on the platform.") {
		t.Errorf("chat log %q", log)
	}

	mod.mu.Lock()
	mod.fail = bridge.Permanent(errors.New("comment does not exist"))
	mod.mu.Unlock()
	// Deleting a customer's words is for supervisors and up.
	if _, err := h.b.DeleteComment(h.ctx, bridge.DeliveryKey{}, ann, ref); !errors.Is(err, bridge.ErrForbidden) {
		t.Errorf("an agent deleting: %v, want ErrForbidden", err)
	}
	sue := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "USUE", Name: "Sue", Role: bridge.RoleSupervisor}
	if _, err := h.b.DeleteComment(h.ctx, bridge.DeliveryKey{}, sue, ref); err != nil {
		t.Fatal(err)
	}
	h.drain(res.ConversationID)
	h.drain(res.ConversationID)
	if log := strings.Join(h.surface.entries(), "|"); !strings.Contains(log, "notice Could not delete the comment: comment does not exist") {
		t.Errorf("chat log %q, want the failure in the thread", log)
	}

	dm := h.ingest(h.customer("200", "1", "hi"))
	if _, err := h.b.HideComment(h.ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: dm.ConversationID}); !errors.Is(err, bridge.ErrIllegalState) {
		t.Errorf("hiding a DM: %v, want ErrIllegalState", err)
	}
}
