package bridge_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/threadline/threadline/bridge"
)

func TestDetectIntentAndLanguage(t *testing.T) {
	tests := []struct {
		text   string
		intent bridge.Intent
		lang   string
	}{
		{"Where is my parcel? The tracking hasn't moved", bridge.IntentOrderTracking, "en"},
		{"I want my money back, I was charged twice", bridge.IntentRefund, "en"},
		{"Thanks, this is great, love it", bridge.IntentPraise, "en"},
		{"Please cancel my subscription", bridge.IntentCancellation, "en"},
		{"The blender is broken and does not work", bridge.IntentProductIssue, "en"},
		{"This is unacceptable, worst service ever", bridge.IntentComplaint, "en"},
		{"Wo ist mein Paket? Die Lieferung ist nicht da", bridge.IntentOrderTracking, "de"},
		{"Quiero un reembolso, el pedido no llegó", bridge.IntentRefund, "es"},
		{"Je veux annuler ma commande", bridge.IntentCancellation, "fr"},
		{"Thanks! But it arrived broken", bridge.IntentProductIssue, "en"},
		{"hello", "", ""},
	}
	for _, tc := range tests {
		if got := bridge.DetectIntent(tc.text); got != tc.intent {
			t.Errorf("DetectIntent(%q) = %q, want %q", tc.text, got, tc.intent)
		}
		if got := bridge.DetectLanguage(tc.text); got != tc.lang {
			t.Errorf("DetectLanguage(%q) = %q, want %q", tc.text, got, tc.lang)
		}
	}
}

func TestMacrosManagedBySupervisorsAndRanked(t *testing.T) {
	stores(t, func(t *testing.T, h *harness) {
		if _, err := h.do(ann, "macro add thanks Thank you!"); !errors.Is(err, bridge.ErrForbidden) {
			t.Errorf("an agent adds a macro: %v", err)
		}
		h.must(sue, "macro add tracking lang=en intent=order_tracking Hi {customer.name}, your order in {conversation.id} ships today. {agent.name}")
		h.must(sue, "macro add tracking_de lang=de intent=order_tracking Hallo {customer.name}, Ihr Paket ist unterwegs.")
		h.must(sue, "macro add refund lang=en intent=refund Your refund is on its way.")
		h.must(sue, "macro add goodbye Anything else on {platform}?")
		if _, err := h.do(sue, "macro add refund again"); !errors.Is(err, bridge.ErrConflict) {
			t.Errorf("adding an existing macro: %v", err)
		}
		if _, err := h.do(sue, "macro edit nothere x"); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("editing a missing macro: %v", err)
		}
		if _, err := bridge.ParseCommand("macro add x intent=weather hi"); err == nil || !strings.Contains(err.Error(), "not an intent") {
			t.Errorf("unknown intent: %v", err)
		}
		h.must(sue, "macro edit goodbye Anything else I can help with on {platform}?")
		h.must(sue, "macro add temp x")
		h.must(sue, "macro delete temp")
		list := h.must(ann, "macro list")
		if !strings.HasPrefix(list.Text, "4 macros.") || strings.Contains(list.Text, "temp") {
			t.Errorf("list: %q", list.Text)
		}

		res := h.ingest(h.customer("100", "1", "Where is my parcel? tracking says nothing"))
		rc, err := h.b.ReplyContextFor(h.ctx, bridge.SurfaceSlack, bridge.ConversationRef{ID: res.ConversationID}, 5)
		if err != nil {
			t.Fatal(err)
		}
		got, intent, lang, err := h.b.SuggestMacros(h.ctx, rc, "Ann")
		if err != nil || intent != bridge.IntentOrderTracking || lang != "en" {
			t.Fatalf("suggest: %v %q %q", err, intent, lang)
		}
		var names []string
		for _, m := range got {
			names = append(names, m.Name)
		}
		if !slices.Equal(names, []string{"tracking", "refund", "goodbye", "tracking_de"}) {
			t.Errorf("ranked %q", names)
		}
		if want := "Hi Ada 100, your order in " + res.Number.String() + " ships today. Ann"; got[0].Expanded != want {
			t.Errorf("expanded %q, want %q", got[0].Expanded, want)
		}
		if got[2].Expanded != "Anything else I can help with on telegram?" {
			t.Errorf("edited macro expands to %q", got[2].Expanded)
		}
	})
}
