package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
)

// TestNoPublicURL runs serve as the README's five-minute setup does:
// Telegram in poll mode and Slack in Socket Mode, so nothing calls in.
func TestNoPublicURL(t *testing.T) {
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	env := map[string]string{
		"THREADLINE_DATA_DIR":           t.TempDir(),
		"THREADLINE_TELEGRAM_BOT_TOKEN": tg.Token(),
		"THREADLINE_TELEGRAM_API_URL":   tg.URL(),
		"THREADLINE_SLACK_BOT_TOKEN":    sl.Token(),
		"THREADLINE_SLACK_APP_TOKEN":    "xapp-test",
		"THREADLINE_SLACK_CHANNEL":      "C0INBOX",
		"THREADLINE_SLACK_API_URL":      sl.URL(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := serve(ctx, t, env, slog.New(slog.DiscardHandler), app.Options{TelegramPollTimeout: time.Second})
	defer func() {
		if err := srv.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if err := sl.WaitSocket(ctx); err != nil {
		t.Fatal(err)
	}
	customer := telegramtest.User{ID: 42, FirstName: "Ada"}
	if _, _, err := tg.CustomerSends(ctx, customer, telegramtest.Message{Text: "where is my refund?"}); err != nil {
		t.Fatal(err)
	}
	var parentTS string
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		for _, m := range s.Messages("C0INBOX") {
			if m.ThreadTS == "" {
				parentTS = m.TS
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	m := sl.AddUserMessage("C0INBOX", parentTS, "U0ANN", "Refunded today.")
	envlp := slacktest.EventEnvelope(sl.TeamID(), "EvLIVE1", map[string]any{"type": "message", "channel": "C0INBOX",
		"user": "U0ANN", "text": m.Text, "ts": m.TS, "thread_ts": parentTS})
	if err := sl.DeliverSocketEvent(ctx, envlp); err != nil {
		t.Fatal(err)
	}
	sent, err := tg.WaitSent(ctx, customer.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "Refunded today." {
		t.Errorf("customer got %q", sent[0].Text)
	}
	wants := []string{
		`threadline_deliveries_total{outcome="delivered",target="chat:slack"}`,
		`threadline_delivery_latency_seconds_count{target="chat:slack"}`,
		`threadline_webhooks_total{outcome="reply",source="slack_events"} 1`,
	}
	// The event's outcome is counted once its handler returns, which may be
	// after the reply already reached Telegram: poll with a deadline.
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(srv.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		all := true
		for _, w := range wants {
			all = all && strings.Contains(string(body), w)
		}
		if all || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range wants {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
