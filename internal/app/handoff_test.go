package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
)

// TestMoveToDMEndToEnd runs serve with Facebook, Telegram and Slack over
// signed HTTP requests: the comment card's Move to DM button answers the
// comment publicly and privately messages its author through the Graph API;
// a bystander, a second handoff and a Telegram conversation (no public
// comment to move) are refused ephemerally and send nothing.
func TestMoveToDMEndToEnd(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{{ID: "112233445566778", Token: "EAAPAGE", Name: "Acme Support"}}})
	defer emu.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	env := map[string]string{
		"THREADLINE_DATA_DIR":                t.TempDir(),
		"THREADLINE_META_APP_SECRET":         emu.AppSecret(),
		"THREADLINE_META_VERIFY_TOKEN":       "verify-me",
		"THREADLINE_META_ACCOUNTS":           emu.Accounts(),
		"THREADLINE_META_API_URL":            emu.URL(),
		"THREADLINE_TELEGRAM_BOT_TOKEN":      tg.Token(),
		"THREADLINE_TELEGRAM_API_URL":        tg.URL(),
		"THREADLINE_TELEGRAM_MODE":           "webhook",
		"THREADLINE_TELEGRAM_WEBHOOK_SECRET": "tg-secret",
		"THREADLINE_SLACK_BOT_TOKEN":         sl.Token(),
		"THREADLINE_SLACK_SIGNING_SECRET":    "sign",
		"THREADLINE_SLACK_CHANNEL":           "C0INBOX",
		"THREADLINE_SLACK_API_URL":           sl.URL(),
		"THREADLINE_SLACK_POST_INTERVAL":     "1ms",
		"THREADLINE_DM_PUBLIC_REPLY":         "Thanks {customer.name}, check your inbox!",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := serve(ctx, t, env, slog.New(slog.DiscardHandler), app.Options{})
	t.Cleanup(func() {
		emu.Settle() // before serve's own cleanup stops Run
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := r.base
	if err := emu.Subscribe(ctx, base+"/webhooks/meta", "verify-me"); err != nil {
		t.Fatal(err)
	}
	client := &slacktest.Client{BaseURL: base, SigningSecret: "sign"}
	command := func(user, text string) string {
		t.Helper()
		code, body, err := client.SendCommand(ctx, slacktest.Command{TeamID: sl.TeamID(), UserID: user, UserName: strings.ToLower(user[2:]), Channel: "C0INBOX", Text: text})
		if err != nil || code != 200 {
			t.Fatalf("/threadline %s: %d %v", text, code, err)
		}
		var ans struct {
			Text         string `json:"text"`
			ResponseType string `json:"response_type"`
		}
		_ = json.Unmarshal(body, &ans)
		if ans.ResponseType != "ephemeral" {
			t.Errorf("/threadline %s answered %s", text, body)
		}
		return ans.Text
	}
	press := func(user string, parent slacktest.Message, number string) {
		t.Helper()
		code, _, err := client.SendAction(ctx, slacktest.Action{TeamID: sl.TeamID(), UserID: user, UserName: "x", Channel: "C0INBOX",
			MessageTS: parent.TS, ActionID: "threadline_dm", BlockID: "moderation", Value: number})
		if err != nil || code != 200 {
			t.Fatalf("press Move to DM: %d %v", code, err)
		}
	}
	ephemeral := func(user, text string) {
		t.Helper()
		if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
			for _, e := range s.Ephemerals() {
				if e.User == user && strings.Contains(e.Text, text) {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("no ephemeral %q to %s: %v\n%+v", text, user, err, sl.Ephemerals())
		}
	}
	cardOf := func(parent slacktest.Message) string {
		for _, m := range sl.Messages("C0INBOX") {
			if m.TS == parent.TS {
				b, _ := json.Marshal(m.Blocks)
				return string(b)
			}
		}
		return ""
	}

	jane := metatest.Customer{ID: "24242424242424242", Name: "Jane Customer"}
	comment, err := emu.CustomerComments(ctx, emu.Page().ID, jane, metatest.NewComment{Text: "Where is my refund??", Permalink: "https://www.facebook.com/acme/posts/pfbid0abc"})
	if err != nil {
		t.Fatal(err)
	}
	parent := waitParent(t, ctx, sl, "Where is my refund")
	m := cardNumber.FindStringSubmatch(cardOf(parent))
	if m == nil || !strings.Contains(cardOf(parent), `"action_id":"threadline_dm"`) || !strings.Contains(cardOf(parent), "Move to a private conversation?") {
		t.Fatalf("comment card lacks Move to DM with a confirmation: %s", cardOf(parent))
	}
	n := m[1]
	command("U0ANN", "claim "+n)
	// A bystander's press is refused and sends nothing.
	press("U0BOB", parent, n)
	ephemeral("U0BOB", "assigned to ann")
	press("U0ANN", parent, n)
	sent, err := emu.WaitSent(ctx, jane.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Kind != "comment_reply" || sent[0].CommentID != comment || sent[0].Text != "Thanks Jane Customer, check your inbox!" ||
		sent[1].Kind != "private_reply" || sent[1].CommentID != comment || sent[1].Text != "Hi Jane Customer, this is ann following up on your comment. How can we help?" {
		t.Errorf("handoff sent %+v", sent)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		c := cardOf(parent)
		return c != "" && !strings.Contains(c, "threadline_dm") && strings.Contains(c, "threadline_hide")
	}); err != nil {
		t.Errorf("the card still offers Move to DM: %s", cardOf(parent))
	}
	// Once per comment.
	if got := command("U0ANN", "dm "+n+" one more thing"); !strings.Contains(got, "moved to a private conversation already") {
		t.Errorf("second dm: %q", got)
	}

	// Telegram: a private chat already; refused, nothing sent, no button.
	update := `{"update_id":1,"message":{"message_id":5,"date":1700000000,"text":"hello from telegram",
		"from":{"id":77,"is_bot":false,"first_name":"Ada"},"chat":{"id":77,"type":"private"}}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/telegram", strings.NewReader(update))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, "tg-secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	tgParent := waitParent(t, ctx, sl, "hello from telegram")
	tm := cardNumber.FindStringSubmatch(cardOf(tgParent))
	if tm == nil || strings.Contains(cardOf(tgParent), "threadline_dm") {
		t.Fatalf("Telegram card: %s", cardOf(tgParent))
	}
	if got := command("U0ANN", "dm "+tm[1]); !strings.Contains(got, "not a public comment") {
		t.Errorf("dm on Telegram: %q", got)
	}
	if got := command("U0ANN", "dm"); !strings.Contains(got, "Say which conversation") {
		t.Errorf("dm without a number: %q", got)
	}
	emu.Settle()
	if n := len(emu.Sent(jane.ID)); n != 2 {
		t.Errorf("%d messages to the commenter, want 2", n)
	}
	if got := tg.Sent(77); len(got) != 0 {
		t.Errorf("Telegram customer got %+v", got)
	}
}
