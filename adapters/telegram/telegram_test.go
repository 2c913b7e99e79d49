package telegram_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testlog"
)

// recordingIngester is a fake bridge: it records events and signals each.
type recordingIngester struct {
	mu     sync.Mutex
	events []bridge.InboundEvent
	err    error
	after  func(bridge.InboundEvent) // runs after an event is recorded
	got    chan struct{}
}

func newIngester() *recordingIngester { return &recordingIngester{got: make(chan struct{}, 100)} }

func (r *recordingIngester) Ingest(_ context.Context, ev bridge.InboundEvent) (bridge.IngestResult, error) {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return bridge.IngestResult{}, r.err
	}
	r.events = append(r.events, ev)
	after := r.after
	r.mu.Unlock()
	if after != nil {
		after(ev)
	}
	r.got <- struct{}{}
	return bridge.IngestResult{}, nil
}

func (r *recordingIngester) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, e := range r.events {
		out = append(out, e.Text)
	}
	return out
}

// waitFor waits for n more ingests, failing the test after a deadline.
func waitFor(t *testing.T, r *recordingIngester, n int) {
	t.Helper()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for i := range n {
		select {
		case <-r.got:
		case <-timeout.C:
			t.Fatalf("waited for %d ingests, got %d: %q", n, i, r.texts())
		}
	}
}

func newAdapter(t *testing.T, emu *telegramtest.Server, opts telegram.Options) *telegram.Adapter {
	t.Helper()
	opts.Token, opts.APIURL = emu.Token(), emu.URL()
	a, err := telegram.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    telegram.Options
		wantErr bool
	}{
		{"valid", telegram.Options{Token: "123:abc"}, false},
		{"empty", telegram.Options{}, true},
		{"no colon", telegram.Options{Token: "123abc"}, true},
		{"non-numeric bot id", telegram.Options{Token: "bot:abc"}, true},
		{"no secret part", telegram.Options{Token: "123:"}, true},
		{"lease shorter than a poll", telegram.Options{Token: "123:abc", PollTimeout: 10 * time.Second, PollerLease: 5 * time.Second}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := telegram.New(tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && tc.opts.Token != "" && strings.Contains(err.Error(), tc.opts.Token) {
				t.Errorf("error quotes the token: %v", err)
			}
			if err == nil && (a.Platform() != bridge.PlatformTelegram || a.Limits().MaxTextLength != 4096 || a.BotID() != "123") {
				t.Errorf("adapter: %s %+v %s", a.Platform(), a.Limits(), a.BotID())
			}
		})
	}
}

const privateMsg = `"from":{"id":7,"first_name":"Ann","last_name":"Lee","username":"ann"},"chat":{"id":7,"type":"private"},"date":1700000000`

func TestParseUpdate(t *testing.T) {
	fixture, err := os.ReadFile("testdata/update_message.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := telegram.New(telegram.Options{Token: "999:x"})
	if err != nil {
		t.Fatal(err)
	}
	ann := bridge.UpsertIdentityParams{ExternalUserID: "7", Name: "Ann Lee", Handle: "ann"}
	event := func(kind bridge.InboundEventKind, update, msg, text string, unix int64, atts ...bridge.Attachment) bridge.InboundEvent {
		return bridge.InboundEvent{
			Kind: kind, DeliveryID: "update:999:" + update, Platform: bridge.PlatformTelegram,
			Account: bridge.UpsertAccountParams{ExternalID: "999"}, Thread: "7", Source: bridge.SourceDM,
			Sender: ann, PlatformMessageID: msg, Text: text, Attachments: atts, Timestamp: time.Unix(unix, 0).UTC(),
		}
	}
	tests := []struct {
		name       string
		body       string
		want       []bridge.InboundEvent
		wantUpdate int64
		wantErr    bool
	}{
		{name: "fixture", body: string(fixture), wantUpdate: 918273645, want: []bridge.InboundEvent{{
			Kind: bridge.EventMessage, DeliveryID: "update:999:918273645", Platform: bridge.PlatformTelegram,
			Account: bridge.UpsertAccountParams{ExternalID: "999"}, Thread: "123456789", Source: bridge.SourceDM,
			Sender:            bridge.UpsertIdentityParams{ExternalUserID: "123456789", Name: "Alice Doe", Handle: "alice_d"},
			PlatformMessageID: "42", Text: "Hi, my order #1234 hasn't arrived", Timestamp: time.Unix(1732380000, 0).UTC(),
		}}},
		{name: "photo with caption, largest size listed first",
			body: `{"update_id":5,"message":{"message_id":8,` + privateMsg + `,"caption":"broken",
				"photo":[{"file_id":"big","width":1280,"height":960,"file_size":90000},{"file_id":"small","width":90,"height":68,"file_size":900}]}}`,
			wantUpdate: 5,
			want: []bridge.InboundEvent{event(bridge.EventMessage, "5", "8", "broken", 1700000000,
				bridge.Attachment{Kind: "photo", Name: "photo.jpg", MIMEType: "image/jpeg", Size: 90000, PlatformRef: "big"})}},
		{name: "document without caption",
			body: `{"update_id":6,"message":{"message_id":9,` + privateMsg + `,
				"document":{"file_id":"d1","file_unique_id":"u1","file_name":"invoice.pdf","mime_type":"application/pdf","file_size":12}}}`,
			wantUpdate: 6,
			want: []bridge.InboundEvent{event(bridge.EventMessage, "6", "9", "", 1700000000,
				bridge.Attachment{Kind: "document", Name: "invoice.pdf", MIMEType: "application/pdf", Size: 12, PlatformRef: "d1"})}},
		{name: "edit is stamped with edit_date",
			body:       `{"update_id":10,"edited_message":{"message_id":9,` + privateMsg + `,"edit_date":1700000050,"text":"fixed"}}`,
			wantUpdate: 10,
			want:       []bridge.InboundEvent{event(bridge.EventEdit, "10", "9", "fixed", 1700000050)}},
		{name: "group message ignored", wantUpdate: 11,
			body: `{"update_id":11,"message":{"message_id":1,"from":{"id":7,"first_name":"Ann"},"chat":{"id":-5,"type":"group"},"date":1,"text":"hi"}}`},
		{name: "supergroup message ignored", wantUpdate: 12,
			body: `{"update_id":12,"message":{"message_id":1,"from":{"id":7,"first_name":"Ann"},"chat":{"id":-1005,"type":"supergroup"},"date":1,"text":"hi"}}`},
		{name: "channel post ignored", wantUpdate: 13,
			body: `{"update_id":13,"channel_post":{"message_id":1,"chat":{"id":-1006,"type":"channel"},"date":1,"text":"news"}}`},
		{name: "callback query ignored", wantUpdate: 14, body: `{"update_id":14,"callback_query":{"id":"x","from":{"id":7,"first_name":"Ann"}}}`},
		{name: "message from a bot ignored", wantUpdate: 15,
			body: `{"update_id":15,"message":{"message_id":1,"from":{"id":8,"is_bot":true,"first_name":"B"},"chat":{"id":8,"type":"private"},"date":1,"text":"hi"}}`},
		{name: "sticker ignored", wantUpdate: 16, body: `{"update_id":16,"message":{"message_id":1,` + privateMsg + `,"sticker":{"file_id":"s"}}}`},
		{name: "malformed JSON", body: `{"update_id":`, wantErr: true},
		{name: "not an object", body: `[]`, wantErr: true},
		{name: "wrong field type", body: `{"update_id":17,"message":{"message_id":"seventeen"}}`, wantErr: true},
		{name: "no update_id", body: `{"message":{"message_id":1,` + privateMsg + `,"text":"hi"}}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events, updateID, err := a.ParseUpdate([]byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, bridge.ErrInvalidInput) {
					t.Fatalf("err = %v, want one wrapping ErrInvalidInput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if updateID != tc.wantUpdate {
				t.Errorf("update id %d, want %d", updateID, tc.wantUpdate)
			}
			if !reflect.DeepEqual(events, tc.want) {
				t.Errorf("events\n got %+v\nwant %+v", events, tc.want)
			}
		})
	}
}

func FuzzParseUpdate(f *testing.F) {
	fixture, err := os.ReadFile("testdata/update_message.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	f.Add([]byte(`{"update_id":1,"edited_message":{"message_id":1,"from":{"id":1},"chat":{"id":1,"type":"private"},"photo":[]}}`))
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"from":{"id":1},"chat":{"id":1,"type":"private"},"document":{"file_id":""}}}`))
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"from":{"id":1},"chat":{"id":1,"type":"private"},"photo":[{"file_id":"a","width":-1,"height":9223372036854775807}]}}`))
	f.Add([]byte(`{"update_id":1,"callback_query":{}}`))
	f.Add([]byte(`{"update_id":3,"callback_query":{"id":"4242","from":{"id":7,"first_name":"A"},"chat_instance":"1","data":"csat:12:4","message":{"message_id":9,"date":1,"chat":{"id":7,"type":"private"},"text":"How did we do?"}}}`))
	f.Add([]byte(`{"update_id":3,"callback_query":{"id":"4242","from":{"id":7,"first_name":"A"},"data":"csat:12:4","message":{"message_id":9,"chat":{"id":-7,"type":"group"}}}}`))
	f.Add([]byte(`null`))
	a, err := telegram.New(telegram.Options{Token: "1:x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, updateID, err := a.ParseUpdate(body)
		if err != nil {
			if !errors.Is(err, bridge.ErrInvalidInput) {
				t.Errorf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if updateID <= 0 {
			t.Errorf("accepted update id %d from %q", updateID, body)
		}
		for _, ev := range events {
			// Ingest refuses events without these: the parser must not make them.
			if ev.PlatformMessageID == "" || ev.Thread == "" || ev.Sender.ExternalUserID == "" || ev.Account.ExternalID == "" || ev.DeliveryID == "" {
				t.Errorf("incomplete event from %q: %+v", body, ev)
			}
			if (ev.Kind == bridge.EventSurveyAnswer) != (ev.Survey != nil) || (ev.Survey != nil && ev.Survey.AckToken == "") {
				t.Errorf("survey answer without its tap, or the other way round, from %q: %+v", body, ev)
			}
		}
	})
}

func TestWebhook(t *testing.T) {
	const secret = "s3cret"
	good := `{"update_id":1,"message":{"message_id":1,` + privateMsg + `,"text":"hi"}}`
	group := `{"update_id":2,"message":{"message_id":1,"from":{"id":7,"first_name":"A"},"chat":{"id":-5,"type":"group"},"date":1,"text":"hi"}}`
	tests := []struct {
		name          string
		adapterSecret string
		header        *string
		body          string
		ingestErr     error
		wantCode      int
		wantIngested  int
		wantOutcome   string
	}{
		{name: "good", header: ptr(secret), body: good, wantCode: 200, wantIngested: 1, wantOutcome: "stored"},
		{name: "missing secret", body: good, wantCode: 401, wantOutcome: "unauthorized"},
		{name: "empty secret", header: ptr(""), body: good, wantCode: 401, wantOutcome: "unauthorized"},
		{name: "wrong secret", header: ptr("s3cres"), body: good, wantCode: 401, wantOutcome: "unauthorized"},
		{name: "secret prefix", header: ptr("s3c"), body: good, wantCode: 401, wantOutcome: "unauthorized"},
		// 401 rather than 400: the body is not looked at before the secret.
		{name: "wrong secret, garbage body", header: ptr("nope"), body: "{", wantCode: 401, wantOutcome: "unauthorized"},
		{name: "no secret configured", adapterSecret: "-", header: ptr(""), body: good, wantCode: 401, wantOutcome: "unauthorized"},
		{name: "malformed", header: ptr(secret), body: "{", wantCode: 400, wantOutcome: "bad_request"},
		{name: "over the body limit", header: ptr(secret), body: `{"update_id":1,"x":"` + strings.Repeat("a", telegram.MaxWebhookBody) + `"}`, wantCode: 413, wantOutcome: "too_large"},
		{name: "group message acknowledged, not stored", header: ptr(secret), body: group, wantCode: 200, wantOutcome: "stored"},
		{name: "store failure makes Telegram retry", header: ptr(secret), body: good, ingestErr: errors.New("database down"), wantCode: 500, wantOutcome: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := telegram.Options{Token: "1:x", WebhookSecret: secret}
			if tc.adapterSecret == "-" {
				opts.WebhookSecret = ""
			}
			logs := &testlog.Buffer{}
			opts.Logger = logs.Logger()
			a, err := telegram.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			ing := newIngester()
			ing.err = tc.ingestErr
			var outcomes []string
			h := a.WebhookHandler(ing, func(o string, _ time.Duration) { outcomes = append(outcomes, o) })
			req := httptest.NewRequest(http.MethodPost, "/webhooks/telegram", strings.NewReader(tc.body))
			if tc.header != nil {
				req.Header.Set(telegram.SecretHeader, *tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Errorf("status %d, want %d", rec.Code, tc.wantCode)
			}
			if got := len(ing.texts()); got != tc.wantIngested {
				t.Errorf("ingested %d events, want %d", got, tc.wantIngested)
			}
			if len(outcomes) != 1 || outcomes[0] != tc.wantOutcome {
				t.Errorf("outcomes %v, want [%s]", outcomes, tc.wantOutcome)
			}
			if tc.wantCode == 401 && !strings.Contains(logs.String(), "refused") {
				t.Errorf("no log line for a refused request: %q", logs.String())
			}
		})
	}
}

func TestWebhookRedeliveryIsAcknowledged(t *testing.T) {
	// The emulator posts to the real handler; the second delivery of the
	// same update is answered 200 like the first, so Telegram stops.
	emu := telegramtest.New(telegramtest.Options{WebhookRetries: -1})
	t.Cleanup(emu.Close)
	a := newAdapter(t, emu, telegram.Options{WebhookSecret: "hook-secret"})
	ing := newIngester()
	srv := httptest.NewServer(a.WebhookHandler(ing, nil))
	t.Cleanup(srv.Close)
	setWebhook(t, emu, srv.URL, "hook-secret")
	raw, _, err := emu.CustomerSends(t.Context(), telegramtest.User{ID: 3, FirstName: "Cy"}, telegramtest.Message{Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Post(t.Context(), raw, "hook-secret"); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if err := emu.Post(t.Context(), raw, "wrong-secret"); err == nil {
		t.Error("a delivery with the wrong secret was accepted")
	}
	// The fake ingester does not dedupe (the bridge does): both deliveries
	// reach it with the same delivery id.
	ing.mu.Lock()
	defer ing.mu.Unlock()
	if len(ing.events) != 2 || ing.events[0].DeliveryID != ing.events[1].DeliveryID {
		t.Errorf("events %+v", ing.events)
	}
}

func ptr[T any](v T) *T { return &v }

func setWebhook(t *testing.T, emu *telegramtest.Server, hook, secret string) {
	t.Helper()
	form := url.Values{"url": {hook}, "secret_token": {secret}}
	res, err := http.PostForm(emu.URL()+"/bot"+emu.Token()+"/setWebhook", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("setWebhook: %d", res.StatusCode)
	}
}

func TestSend(t *testing.T) {
	tests := []struct {
		name      string
		chat      string
		text      string
		setup     func(emu *telegramtest.Server)
		wantID    string
		wantRetry time.Duration // a *bridge.RetryAfterError with this wait
		wantPerm  bool
		wantCalls int
	}{
		{name: "delivered", chat: "42", text: "hello", wantID: "1", wantCalls: 1},
		{name: "rate limited", chat: "42", text: "hello", wantRetry: 7 * time.Second, wantCalls: 1,
			setup: func(emu *telegramtest.Server) {
				emu.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 429, RetryAfter: 7})
			}},
		{name: "bot blocked by the user", chat: "42", text: "hello", wantPerm: true, wantCalls: 1,
			setup: func(emu *telegramtest.Server) { emu.Block(42) }},
		{name: "chat not found", chat: "42", text: "hello", wantPerm: true, wantCalls: 1,
			setup: func(emu *telegramtest.Server) {
				emu.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 400})
			}},
		{name: "server error is retried", chat: "42", text: "hello", wantCalls: 1,
			setup: func(emu *telegramtest.Server) {
				emu.Inject(telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 500})
			}},
		{name: "not a chat id", chat: "@someone", text: "hello", wantPerm: true},
		{name: "empty text", chat: "42", text: " \n", wantPerm: true},
		{name: "too long", chat: "42", text: strings.Repeat("é", 4097), wantPerm: true},
		{name: "longest allowed", chat: "42", text: strings.Repeat("é", 4096), wantID: "1", wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu := telegramtest.New(telegramtest.Options{})
			t.Cleanup(emu.Close)
			if tc.setup != nil {
				tc.setup(emu)
			}
			a := newAdapter(t, emu, telegram.Options{})
			res, err := a.Send(t.Context(), bridge.OutboundMessage{ThreadExternalID: tc.chat, Text: tc.text})
			var retry *bridge.RetryAfterError
			switch {
			case tc.wantID != "":
				if err != nil || res.PlatformMessageID != tc.wantID {
					t.Fatalf("Send = %+v, %v; want message %s", res, err, tc.wantID)
				}
				if sent := emu.Sent(42); len(sent) != 1 || sent[0].Text != tc.text {
					t.Errorf("emulator received %+v", sent)
				}
			case tc.wantRetry > 0:
				if !errors.As(err, &retry) || retry.After != tc.wantRetry || bridge.IsPermanent(err) {
					t.Errorf("err = %v, want retry after %s", err, tc.wantRetry)
				}
			case tc.wantPerm:
				if !bridge.IsPermanent(err) {
					t.Errorf("err = %v, want permanent", err)
				}
			default:
				if err == nil || bridge.IsPermanent(err) || errors.As(err, &retry) {
					t.Errorf("err = %v, want a plain retryable error", err)
				}
			}
			if got := emu.Calls("sendMessage"); got != tc.wantCalls {
				t.Errorf("%d sendMessage calls, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestSendPacing(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	t.Cleanup(emu.Close)
	clock := &stepClock{now: time.Unix(1000, 0)}
	a := newAdapter(t, emu, telegram.Options{Clock: clock})
	msg := func(chat string) bridge.OutboundMessage {
		return bridge.OutboundMessage{ThreadExternalID: chat, Text: "hi"}
	}
	steps := []struct {
		name      string
		advance   time.Duration
		chat      string
		wantRetry time.Duration // 0: sent
	}{
		{"first message to a chat goes", 0, "42", 0},
		{"second within the second waits for the rest of it", 40 * time.Millisecond, "42", 960 * time.Millisecond},
		{"another chat waits only for the bot-wide budget", 0, "43", time.Second / 30},
		{"another chat goes once that passed", 40 * time.Millisecond, "43", 0},
		{"the first chat goes a second after its last message", 920 * time.Millisecond, "42", 0},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		_, err := a.Send(t.Context(), msg(s.chat))
		var retry *bridge.RetryAfterError
		switch {
		case s.wantRetry == 0 && err != nil:
			t.Errorf("%s: err = %v", s.name, err)
		case s.wantRetry > 0 && (!errors.As(err, &retry) || retry.After != s.wantRetry):
			t.Errorf("%s: err = %v, want retry after %s", s.name, err, s.wantRetry)
		}
	}
	if got := len(emu.Sent(0)); got != 3 {
		t.Errorf("%d messages reached Telegram, want 3", got)
	}
}

func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	token := emu.Token()
	logs := &testlog.Buffer{}
	waited := make(chan struct{}, 1)
	a := newAdapter(t, emu, telegram.Options{Logger: logs.Logger(), Wait: func(ctx context.Context, _ time.Duration) {
		select {
		case waited <- struct{}{}:
		default:
		}
		<-ctx.Done()
	}})
	emu.Close() // every call now fails at the network, and net/http quotes the URL
	ctx := t.Context()
	calls := map[string]func() error{
		"Send": func() error {
			_, err := a.Send(ctx, bridge.OutboundMessage{ThreadExternalID: "1", Text: "x"})
			return err
		},
		"GetMe":         func() error { _, err := a.GetMe(ctx); return err },
		"DeleteWebhook": func() error { return a.DeleteWebhook(ctx) },
		"DownloadFile":  func() error { _, _, err := a.DownloadFile(ctx, "f"); return err },
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s: no error from a closed server", name)
			continue
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "TEST-TOKEN") {
			t.Errorf("%s: token in error %q", name, err)
		}
		// The chain is kept for callers that look for network errors.
		if ue := (*url.Error)(nil); !errors.As(err, &ue) || !strings.Contains(ue.URL, "<token>") {
			t.Errorf("%s: err %v lost its *url.Error", name, err)
		}
	}

	// The poller logs its failures; they must be as clean.
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.RunPoller(pctx, openStore(t), newIngester()) }()
	select {
	case <-waited:
	case <-time.After(20 * time.Second):
		t.Fatal("the poller never backed off")
	}
	stop()
	<-done
	if out := logs.String(); !strings.Contains(out, "telegram poller") || strings.Contains(out, "TEST-TOKEN") {
		t.Errorf("poller log:\n%s", out)
	}
}

func TestTokenNotInAPIErrorDescription(t *testing.T) {
	// A server (or proxy) that echoes the request path must not leak it either.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"ok":false,"error_code":400,"description":"Bad Request: no route `+r.URL.Path+`"}`)
	}))
	t.Cleanup(srv.Close)
	a, err := telegram.New(telegram.Options{Token: "77:SECRET-PART", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Send(t.Context(), bridge.OutboundMessage{ThreadExternalID: "1", Text: "x"})
	if err == nil || strings.Contains(err.Error(), "SECRET-PART") || !bridge.IsPermanent(err) {
		t.Errorf("err = %v", err)
	}
}

func TestGetMe(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{BotUsername: "brand_bot"})
	t.Cleanup(emu.Close)
	a := newAdapter(t, emu, telegram.Options{})
	me, err := a.GetMe(t.Context())
	if err != nil || me.Username != "brand_bot" || !me.IsBot || a.Username() != "brand_bot" {
		t.Fatalf("GetMe = %+v, %v", me, err)
	}
	events, _, err := a.ParseUpdate([]byte(`{"update_id":1,"message":{"message_id":1,` + privateMsg + `,"text":"hi"}}`))
	if err != nil || len(events) != 1 || events[0].Account != (bridge.UpsertAccountParams{ExternalID: "123456", DisplayName: "brand_bot"}) {
		t.Errorf("events %+v, %v", events, err)
	}

	wrong, err := telegram.New(telegram.Options{Token: "123456:WRONG", APIURL: emu.URL()})
	if err != nil {
		t.Fatal(err)
	}
	var api *telegram.APIError
	if _, err := wrong.GetMe(t.Context()); !errors.As(err, &api) || api.Code != 401 || strings.Contains(err.Error(), "WRONG") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestDownloadFile(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	t.Cleanup(emu.Close)
	a := newAdapter(t, emu, telegram.Options{})
	customer := telegramtest.User{ID: 5, FirstName: "Al"}
	tests := []struct {
		name     string
		msg      telegramtest.Message
		wantKind string
		wantBody string
	}{
		{"document", telegramtest.Message{Caption: "see attached", Document: &telegramtest.Document{Name: "a.txt", MIMEType: "text/plain", Body: []byte("contents")}}, "document", "contents"},
		{"photo", telegramtest.Message{Photo: &telegramtest.Photo{Width: 800, Height: 600, Body: []byte("JPEG")}}, "photo", "JPEG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, _, err := emu.CustomerSends(t.Context(), customer, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			events, _, err := a.ParseUpdate(raw)
			if err != nil || len(events) != 1 || len(events[0].Attachments) != 1 || events[0].Attachments[0].Kind != tc.wantKind {
				t.Fatalf("events %+v, %v", events, err)
			}
			path, body, err := a.DownloadFile(t.Context(), events[0].Attachments[0].PlatformRef)
			if err != nil {
				t.Fatal(err)
			}
			defer body.Close()
			b, err := io.ReadAll(body)
			if err != nil || string(b) != tc.wantBody || path == "" || strings.Contains(path, "http") {
				t.Errorf("downloaded %q from %q, %v", b, path, err)
			}
		})
	}
	if _, _, err := a.DownloadFile(t.Context(), "no-such-file"); !bridge.IsPermanent(err) {
		t.Errorf("unknown file: err = %v, want permanent", err)
	}
}

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
