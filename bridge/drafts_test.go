package bridge_test

import (
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

func TestDraftsSeeEachOtherAndExpire(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		res := h.ingest(h.customer("100", "1", "hi"))
		other := h.ingest(h.customer("200", "1", "other"))
		if others, err := h.b.OpenDraft(h.ctx, ann, res.ConversationID, "V1", 1); err != nil || len(others) != 0 {
			t.Fatalf("first draft: %v %v", others, err)
		}
		// Ann opens a second form: it replaces her first, and is not "another".
		if others, err := h.b.OpenDraft(h.ctx, ann, res.ConversationID, "V2", 1); err != nil || len(others) != 0 {
			t.Fatalf("Ann's second form: %v %v", others, err)
		}
		others, err := h.b.OpenDraft(h.ctx, bob, res.ConversationID, "V3", 2)
		if err != nil || len(others) != 1 || others[0].UserID != "UANN" || others[0].ViewRef != "V2" || others[0].SeenSeq != 1 {
			t.Fatalf("Bob sees %+v, %v; want Ann's V2", others, err)
		}
		if others, _ := h.b.OpenDraft(h.ctx, bob, other.ConversationID, "V4", 1); len(others) != 0 {
			t.Errorf("a draft on another conversation counts: %+v", others)
		}
		if err := h.b.CloseDraft(h.ctx, ann, res.ConversationID); err != nil {
			t.Fatal(err)
		}
		if d, _ := h.b.Drafts(h.ctx, res.ConversationID); len(d) != 1 || d[0].UserID != "UBOB" {
			t.Errorf("after Ann closed: %+v", d)
		}
		h.clock.Advance(bridge.DraftTTL + time.Second)
		if d, _ := h.b.Drafts(h.ctx, res.ConversationID); len(d) != 0 {
			t.Errorf("expired drafts listed: %+v", d)
		}
	})
}

func TestReplyContext(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	res := h.ingest(h.customer("100", "1", "one"))
	h.ingest(h.customer("100", "2", "two"))
	h.must(ann, "reply "+res.Number.String()[1:]+" three")
	h.drain(res.ConversationID)
	rc, err := h.b.ReplyContextFor(h.ctx, bridge.SurfaceSlack, bridge.ConversationRef{Number: res.Number}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Recent) != 2 || rc.Recent[0].Message.Text != "two" || rc.Recent[1].SenderName != "Ann" || rc.Assignee == nil ||
		rc.AssigneeUser != "UANN" || rc.Thread == nil || rc.Customer.Name != "Ada 100" {
		t.Errorf("reply context %+v", rc)
	}
}
