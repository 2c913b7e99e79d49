package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/slack/slacktest"
)

// TestMetaSurvey: resolving a Messenger conversation sends the survey as
// quick replies; the customer's tap is stored as the rating and shown in
// the thread, and does not reopen the conversation.
func TestMetaSurvey(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{{ID: "112233445566778", Token: "EAAPAGE", Name: "Acme Support"}}})
	defer emu.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := serveMeta(t, ctx, emu, sl, "", map[string]string{"THREADLINE_CSAT_SURVEY": "on", "THREADLINE_CSAT_QUESTION": "How did we do?"})
	page := emu.Page().ID
	maya := metatest.Customer{ID: "6789012345678901", Name: "Maya Lopez"}
	if _, err := emu.CustomerSends(ctx, page, maya, metatest.Message{Text: "my parcel is lost"}); err != nil {
		t.Fatal(err)
	}
	parent := waitParent(t, ctx, sl, "my parcel is lost")
	agentSays(t, ctx, sl, parent.TS, "EvS1", "Found it, it ships today.")
	if _, err := emu.WaitSent(ctx, maya.ID, 1); err != nil {
		t.Fatal(err)
	}
	clickCard(t, ctx, sl, parent, "threadline_resolve")
	sent, err := emu.WaitSent(ctx, maya.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	survey := sent[1]
	if survey.Text != "How did we do?" || len(survey.QuickReplies) != 5 || survey.MessagingType != "RESPONSE" {
		t.Fatalf("survey %+v", survey)
	}
	four := survey.QuickReplies[3]
	if !strings.HasPrefix(four.Title, "4 ") || !strings.HasPrefix(four.Payload, "csat:") || four.ContentType != "text" {
		t.Fatalf("quick reply %+v", four)
	}
	emu.Settle()  // the survey's echo is in, and shown nowhere
	for range 2 { // a tap, and Meta delivering it again
		if _, err := emu.CustomerSends(ctx, page, maya, metatest.Message{Text: four.Title, QuickReply: four.Payload}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		return findText(s.Messages("C0INBOX"), parent.TS, "Customer satisfaction: 4/5") != nil
	}); err != nil {
		t.Fatalf("no rating in the thread: %v\n%+v", err, sl.Messages("C0INBOX"))
	}
	// Another rating replaces it; what came before it is shown by then.
	five := survey.QuickReplies[4]
	if _, err := emu.CustomerSends(ctx, page, maya, metatest.Message{Text: five.Title, QuickReply: five.Payload}); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		return findText(s.Messages("C0INBOX"), parent.TS, "(changed from 4/5)") != nil
	}); err != nil {
		t.Fatalf("no changed rating in the thread: %v", err)
	}
	msgs := sl.Messages("C0INBOX")
	if n := countText(msgs, parent.TS, "Customer satisfaction: 4/5"); n != 1 {
		t.Errorf("the first rating shown %d times", n)
	}
	if findText(msgs, parent.TS, four.Title) != nil || findText(msgs, parent.TS, "How did we do?") != nil {
		t.Errorf("the tap or the survey's echo shown as a message: %+v", msgs)
	}
	var id int64
	if _, err := fmt.Sscanf(five.Payload, "csat:%d:5", &id); err != nil {
		t.Fatalf("payload %q: %v", five.Payload, err)
	}
	err = a.Bridge().Store().InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		conv, err := tx.GetConversation(ctx, bridge.ConversationID(id))
		if err != nil {
			return err
		}
		sv, err := tx.GetSurvey(ctx, conv.ID)
		if err != nil {
			return err
		}
		if conv.Status != bridge.StatusResolved || sv.Rating != 5 || sv.AnsweredAt == nil {
			t.Errorf("after the answers: status %s, rating %d", conv.Status, sv.Rating)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
