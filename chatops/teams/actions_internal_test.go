package teams

import (
	"strings"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// FuzzThreadText: whatever an agent types and whatever mentions Teams
// attaches, reading the message and parsing it as a command never panics,
// and a message still naming someone other than the bot never goes to the
// customer on the auto rule.
func FuzzThreadText(f *testing.F) {
	f.Add("<at>Threadline</at> reply Thanks! <at>Bob</at>", "<at>Bob</at>", "29:bob")
	f.Add("<at>Threadline</at> assign <at>Ann Smith</at>", "<at>Ann Smith</at>", "29:ann")
	f.Add("<at>Threadline</at> transfer <at>Billing</at> refunds", "<at>Billing</at>", "19:billing@thread.tacv2")
	f.Add("note: <at>x", "", "")
	f.Add("<at></at><at>", "<at></at>", "28:bot")
	h := NewHandler(HandlerOptions{AppID: "bot"})
	f.Fuzz(func(t *testing.T, text, entityText, entityID string) {
		a := Activity{Type: TypeMessage, Text: text, Recipient: &ChannelAccount{ID: "28:bot"}, Entities: []Entity{
			{Type: "mention", Text: "<at>Threadline</at>", Mentioned: &ChannelAccount{ID: "28:bot"}},
			{Type: "mention", Text: entityText, Mentioned: &ChannelAccount{ID: entityID}},
		}}
		m := h.readMessage(a)
		_, _ = bridge.ParseCommandWith(m.syntax, m.text)
		intent, _ := ClassifyMessage(m.text, m.teammates, ReplyAuto)
		names := strings.Contains(m.text, "<at>") || (entityID != "28:bot" && entityText != "" && strings.Contains(m.text, entityText))
		if names && intent == IntentReply && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(m.text)), "reply:") {
			t.Errorf("%q (entity %q) names someone but would go to the customer", text, entityText)
		}
	})
}
