package telegram_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

// TestSurveyOnResolveAnsweredByButton runs the satisfaction survey through
// the real bridge and the Bot API emulator: resolve sends the question with
// an inline keyboard, the customer's tap arrives as a callback query on the
// webhook, is stored and acknowledged, and the conversation stays resolved.
func TestSurveyOnResolveAnsweredByButton(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	emu := telegramtest.New(telegramtest.Options{})
	defer emu.Close()
	a := newAdapter(t, emu, telegram.Options{WebhookSecret: "hook-secret", MinChatInterval: time.Nanosecond, BotInterval: time.Nanosecond})
	if _, err := a.GetMe(ctx); err != nil {
		t.Fatal(err)
	}
	store := open.SQLite(t, sqlite.Options{})
	b := bridge.New(store, bridge.Options{CSAT: &bridge.CSATOptions{Question: "How did we do?"}})
	b.AddPlatform(a)
	srv := httptest.NewServer(a.WebhookHandler(b, nil))
	defer srv.Close()
	setWebhook(t, emu, srv.URL, "hook-secret")

	ada := telegramtest.User{ID: 42, FirstName: "Ada"}
	if _, _, err := emu.CustomerSends(ctx, ada, telegramtest.Message{Text: "my parcel?"}); err != nil {
		t.Fatal(err)
	}
	var conv bridge.Conversation
	if err := store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		page, err := tx.ListConversations(ctx, bridge.ConversationFilter{})
		if err == nil && len(page.Conversations) == 1 {
			conv = page.Conversations[0]
		}
		return err
	}); err != nil || conv.ID == 0 {
		t.Fatalf("conversation: %+v %v", conv, err)
	}
	agent := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T", UserID: "UANN", Name: "Ann"}
	ref := bridge.ConversationRef{ID: conv.ID}
	drain := func() {
		for range 10 {
			err := b.RunJob(ctx, bridge.Job{ConversationID: conv.ID, Target: bridge.TargetPlatform})
			var retry *bridge.RetryAfterError
			if err == nil {
				return
			}
			if !errors.As(err, &retry) {
				t.Fatal(err)
			}
		}
	}
	if _, err := b.Reply(ctx, bridge.ReplyParams{Actor: agent, Ref: ref, Text: "On its way!"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve(ctx, bridge.DeliveryKey{}, agent, ref); err != nil {
		t.Fatal(err)
	}
	drain()
	sent := emu.Sent(ada.ID)
	if len(sent) != 2 || sent[1].Text != "How did we do?" || len(sent[1].Buttons) != 1 || len(sent[1].Buttons[0]) != 5 {
		t.Fatalf("sent: %+v", sent)
	}
	survey := sent[1]
	four := survey.Buttons[0][3].CallbackData
	if !strings.HasSuffix(four, ":4") {
		t.Fatalf("button data %q", four)
	}
	if _, err := emu.CustomerPresses(ctx, ada, survey, four); err != nil {
		t.Fatal(err)
	}
	check := func(wantRating int) {
		t.Helper()
		if err := store.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
			s, err := tx.GetSurvey(ctx, conv.ID)
			if err != nil {
				return err
			}
			c, err := tx.GetConversation(ctx, conv.ID)
			if s.Rating != wantRating || s.AnsweredAt == nil || c.Status != bridge.StatusResolved {
				t.Errorf("survey %+v, status %s", s, c.Status)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	check(4)
	if acks := emu.CallbackAnswers(); len(acks) != 1 || !strings.Contains(acks[0].Text, "Thank you") {
		t.Fatalf("callback answers: %+v", acks)
	}
	// A tap naming this conversation from another chat is refused, and
	// acknowledged so that Telegram does not deliver it again.
	eve := telegramtest.User{ID: 66, FirstName: "Eve"}
	forged := survey
	forged.ChatID = eve.ID
	if _, err := emu.CustomerPresses(ctx, eve, forged, survey.Buttons[0][0].CallbackData); err != nil {
		t.Fatal(err)
	}
	check(4)
	if acks := emu.CallbackAnswers(); len(acks) != 2 || !strings.Contains(acks[1].Text, "no longer open") {
		t.Fatalf("forged tap: %+v", acks)
	}
	// Reopen and resolve again: no second survey.
	if _, err := b.Reopen(ctx, bridge.DeliveryKey{}, agent, ref); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Resolve(ctx, bridge.DeliveryKey{}, agent, ref); err != nil {
		t.Fatal(err)
	}
	drain()
	if n := len(emu.Sent(ada.ID)); n != 2 {
		t.Fatalf("second resolve sent %d messages", n)
	}
	// The customer changes their mind: the latest tap counts.
	if _, err := emu.CustomerPresses(ctx, ada, survey, survey.Buttons[0][4].CallbackData); err != nil {
		t.Fatal(err)
	}
	check(5)
}
