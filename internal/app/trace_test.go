package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/testlog"
)

// TestRequestIDFollowsTheMessage: the id of the webhook request that
// brought a customer message is on the log line of the job that shows it in
// Slack (here a failed first attempt), with the conversation; delivery
// outcomes are counted by destination; and with tracing on, the webhook's
// span, the delivery job's span (across the queue) and its Slack calls are
// one trace.
func TestRequestIDFollowsTheMessage(t *testing.T) {
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 1, Code: 500})
	env := map[string]string{
		"THREADLINE_DATA_DIR": t.TempDir(), "THREADLINE_LOG_FORMAT": "json",
		"THREADLINE_TELEGRAM_BOT_TOKEN": tg.Token(), "THREADLINE_TELEGRAM_API_URL": tg.URL(),
		"THREADLINE_TELEGRAM_MODE": "webhook", "THREADLINE_TELEGRAM_WEBHOOK_SECRET": "tg-secret",
		"THREADLINE_SLACK_BOT_TOKEN": sl.Token(), "THREADLINE_SLACK_SIGNING_SECRET": "sign",
		"THREADLINE_SLACK_CHANNEL": "C0INBOX", "THREADLINE_SLACK_API_URL": sl.URL(),
	}
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	spans := tracetest.NewInMemoryExporter()
	base := serve(ctx, t, env, slog.New(slog.NewJSONHandler(logs, nil)), app.Options{SpanExporter: spans}).base

	update := `{"update_id":1,"message":{"message_id":5,"date":1700000000,"text":"where is my order?",
		"from":{"id":77,"is_bot":false,"first_name":"Ada"},"chat":{"id":77,"type":"private"}}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/telegram", strings.NewReader(update))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(telegram.SecretHeader, "tg-secret")
	req.Header.Set("X-Request-Id", "req-follow-1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", res.StatusCode)
	}
	// The first post fails (500), the retry lands.
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool { return len(s.Messages("C0INBOX")) > 0 }); err != nil {
		t.Fatal(err)
	}
	var failed map[string]any
	for _, r := range logs.Records() {
		if r["msg"] == "delivery attempt failed" {
			failed = r
		}
	}
	if failed == nil || failed["request_id"] != "req-follow-1" || failed["conversation_id"] == nil || failed["target"] != "chat:slack" {
		t.Errorf("failed attempt logged as %v, want request_id req-follow-1 and the conversation", failed)
	}
	// The delivered outcome is recorded just after the post lands; the SLA
	// state gauge is counted when the app starts (no clock breached here).
	wants := []string{
		`threadline_deliveries_by_destination_total{destination="slack",outcome="retry"} 1`,
		`threadline_deliveries_by_destination_total{destination="slack",outcome="delivered"} 1`,
		`threadline_sla_conversations{state="breached"} 0`,
	}
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		res, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if containsAll(string(body), wants) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	for _, want := range wants {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	slackURL, err := url.Parse(sl.URL())
	if err != nil {
		t.Fatal(err)
	}
	checkOneTrace(t, spans, slackURL.Host)
}

// checkOneTrace waits for the webhook's server span, a delivery job's span
// and a successful Slack call's span, then checks they are one trace: the
// job's span a child of the webhook's (its traceparent crossed the queue),
// the Slack call a child of a job's.
func checkOneTrace(t *testing.T, exp *tracetest.InMemoryExporter, slackHost string) {
	t.Helper()
	var webhook, slackOK tracetest.SpanStub
	var deliver []tracetest.SpanStub
	for deadline := time.Now().Add(10 * time.Second); ; {
		webhook, slackOK, deliver = tracetest.SpanStub{}, tracetest.SpanStub{}, nil
		for _, s := range exp.GetSpans() {
			switch {
			case s.Name == "POST /webhooks/telegram" && s.SpanKind == trace.SpanKindServer:
				webhook = s
			case strings.HasPrefix(s.Name, "deliver "):
				deliver = append(deliver, s)
			case s.Name == "POST "+slackHost && s.SpanKind == trace.SpanKindClient && s.Status.Code != codes.Error:
				slackOK = s
			}
		}
		if webhook.Name != "" && slackOK.Name != "" && len(deliver) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline: spans end after the post lands
	}
	if webhook.Name == "" || slackOK.Name == "" || len(deliver) == 0 {
		t.Fatalf("spans: webhook %q, slack call %q, %d deliveries; all: %v", webhook.Name, slackOK.Name, len(deliver), exp.GetSpans())
	}
	traceID := webhook.SpanContext.TraceID()
	parents := map[trace.SpanID]bool{}
	for _, d := range deliver {
		if d.SpanContext.TraceID() != traceID || d.Parent.SpanID() != webhook.SpanContext.SpanID() {
			t.Errorf("%s: trace %s parent %s, want trace %s parent %s (the webhook)", d.Name, d.SpanContext.TraceID(), d.Parent.SpanID(), traceID, webhook.SpanContext.SpanID())
		}
		parents[d.SpanContext.SpanID()] = true
	}
	if slackOK.SpanContext.TraceID() != traceID || !parents[slackOK.Parent.SpanID()] {
		t.Errorf("Slack call: trace %s parent %s, want trace %s under a delivery span", slackOK.SpanContext.TraceID(), slackOK.Parent.SpanID(), traceID)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
