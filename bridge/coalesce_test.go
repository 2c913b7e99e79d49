package bridge_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// coalescingSurface shows several customer messages in one post, as the
// Slack surface does, and records the work each call was made for.
type coalescingSurface struct {
	*fakeSurface
	work *[]bridge.Work
}

func (coalescingSurface) CoalesceLimit() (int, int) { return 3, 40 }

func joined(m bridge.MessageView) string {
	texts := []string{m.Message.Text}
	for _, x := range m.More {
		texts = append(texts, x.Text)
	}
	return strings.Join(texts, " / ")
}

func (s coalescingSurface) PostMessage(ctx context.Context, _ bridge.ChatThread, m bridge.MessageView) (string, error) {
	if w, ok := bridge.WorkFrom(ctx); ok {
		*s.work = append(*s.work, w)
	}
	return s.record("post " + joined(m))
}

func (s coalescingSurface) UpdateMessage(_ context.Context, _ bridge.ChatThread, ref string, m bridge.MessageView) error {
	_, err := s.record("edit " + ref + " " + joined(m))
	return err
}

func TestWaitingCustomerMessagesShareOnePost(t *testing.T) {
	h := newHarness(t, bridge.Options{})
	var work []bridge.Work
	h.b.AddSurface(coalescingSurface{h.surface, &work})
	first := h.ingest(h.customer("100", "1", "hello"))
	h.drain(first.ConversationID)
	// Five messages wait together, then one with a photo, then one more:
	// up to three ride in one post, the photo goes alone (files are
	// uploaded per message), and a long one breaks the batch.
	for i, text := range []string{"a", "b", "c", "d", "e"} {
		h.ingest(h.customer("100", string(rune('2'+i)), text))
	}
	photo := h.customer("100", "7", "see photo")
	photo.Attachments = []bridge.Attachment{{Kind: "photo", PlatformRef: "f1"}}
	h.ingest(photo)
	h.ingest(h.customer("100", "8", "f"))
	h.ingest(h.customer("100", "9", strings.Repeat("long ", 10)))
	h.drain(first.ConversationID)
	want := []string{
		"open " + first.Number.String() + " hello",
		"post a / b / c",
		"post d / e",
		"post see photo",
		"post f",
		"post " + strings.Repeat("long ", 10),
	}
	if got := h.surface.entries(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("chat shows\n%q\nwant\n%q", got, want)
	}
	for _, w := range work {
		if w.ConversationID != first.ConversationID || w.Priority != bridge.P3 || w.Number != first.Number {
			t.Errorf("post made for %+v, want conversation %d at P3", w, first.ConversationID)
		}
	}
	var undelivered int
	var refs [][]bridge.ChatMessageRef
	_ = h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		var err error
		undelivered, err = tx.CountDeliveries(ctx, bridge.DeliveryFilter{ConversationID: first.ConversationID, Status: bridge.DeliveryPending})
		msgs, _ := tx.ListMessages(ctx, first.ConversationID)
		for _, m := range msgs {
			r, _ := tx.ListChatMessageRefs(ctx, m.ID)
			refs = append(refs, r)
		}
		return err
	})
	if undelivered != 0 {
		t.Errorf("%d deliveries still pending", undelivered)
	}
	// a, b and c point at the same post, so edits find it after a restart.
	if len(refs) != 9 || len(refs[1]) != 1 || refs[1][0].Ref != refs[2][0].Ref || refs[2][0].Ref != refs[3][0].Ref || refs[4][0].Ref == refs[3][0].Ref {
		t.Fatalf("chat refs: %+v", refs)
	}

	// Editing b re-renders the whole post, keeping a and c.
	edit := h.customer("100", "3", "b2")
	edit.Kind, edit.DeliveryID = bridge.EventEdit, "edit-3"
	h.ingest(edit)
	h.drain(first.ConversationID)
	got := h.surface.entries()[len(want):]
	if !slices.Contains(got, "edit "+refs[1][0].Ref+" a / b2 / c") {
		t.Errorf("after the edit chat shows %q, want the whole post re-rendered", got)
	}
}

func TestUrgentConversationPostsCarryP1(t *testing.T) {
	h := newHarness(t, bridge.Options{Classify: func(text string) bridge.Priority {
		if strings.Contains(text, "fraud") {
			return bridge.P1
		}
		return bridge.P3
	}})
	var work []bridge.Work
	h.b.AddSurface(coalescingSurface{h.surface, &work})
	res := h.ingest(h.customer("200", "1", "hi"))
	h.drain(res.ConversationID)
	h.ingest(h.customer("200", "2", "fraud on my card"))
	h.drain(res.ConversationID)
	if len(work) != 1 || work[0].Priority != bridge.P1 {
		t.Errorf("posts made for %+v, want one at P1", work)
	}
}
