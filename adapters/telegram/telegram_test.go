package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

type recordingIngester struct {
	mu     sync.Mutex
	events []bridge.InboundEvent
	err    error
	got    chan struct{}
}

func newIngester() *recordingIngester { return &recordingIngester{got: make(chan struct{}, 100)} }

func (r *recordingIngester) Ingest(_ context.Context, ev bridge.InboundEvent) (bridge.IngestResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return bridge.IngestResult{}, r.err
	}
	r.events = append(r.events, ev)
	r.got <- struct{}{}
	return bridge.IngestResult{}, nil
}

func (r *recordingIngester) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Text)
	}
	return out
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

func TestEvents(t *testing.T) {
	fixture, err := os.ReadFile("testdata/update_message.json")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := telegram.New(telegram.Options{Token: "999:x"})
	tests := []struct {
		name    string
		body    string
		want    int
		check   func(t *testing.T, ev bridge.InboundEvent)
		wantErr bool
	}{
		{name: "fixture text", body: string(fixture), want: 1, check: func(t *testing.T, ev bridge.InboundEvent) {
			if ev.Text != "Hi, my order #1234 hasn't arrived" || ev.Thread != "123456789" || ev.PlatformMessageID != "42" ||
				ev.Sender.Name != "Alice Doe" || ev.Sender.Handle != "alice_d" || ev.DeliveryID != "update:999:918273645" ||
				ev.Account.ExternalID != "999" || ev.Kind != bridge.EventMessage || ev.Timestamp.Unix() != 1732380000 {
				t.Errorf("event %+v", ev)
			}
		}},
		{name: "photo with caption", body: `{"update_id":5,"message":{"message_id":7,"from":{"id":1,"first_name":"A"},"chat":{"id":1,"type":"private"},"date":1,
			"caption":"broken","photo":[{"file_id":"small","width":90,"height":90},{"file_id":"big","width":800,"height":800,"file_size":5000}]}}`,
			want: 1, check: func(t *testing.T, ev bridge.InboundEvent) {
				if ev.Text != "broken" || len(ev.Attachments) != 1 || ev.Attachments[0].PlatformRef != "big" || ev.Attachments[0].Kind != "photo" {
					t.Errorf("event %+v", ev)
				}
			}},
		{name: "document", body: `{"update_id":6,"message":{"message_id":8,"from":{"id":1,"first_name":"A"},"chat":{"id":1,"type":"private"},"date":1,
			"document":{"file_id":"d1","file_name":"invoice.pdf","mime_type":"application/pdf","file_size":12}}}`,
			want: 1, check: func(t *testing.T, ev bridge.InboundEvent) {
				if len(ev.Attachments) != 1 || ev.Attachments[0].Name != "invoice.pdf" || ev.Attachments[0].MIMEType != "application/pdf" {
					t.Errorf("event %+v", ev)
				}
			}},
		{name: "edit", body: `{"update_id":9,"edited_message":{"message_id":8,"from":{"id":1,"first_name":"A"},"chat":{"id":1,"type":"private"},"date":1,"edit_date":50,"text":"fixed"}}`,
			want: 1, check: func(t *testing.T, ev bridge.InboundEvent) {
				if ev.Kind != bridge.EventEdit || ev.Text != "fixed" || ev.PlatformMessageID != "8" || ev.Timestamp.Unix() != 50 {
					t.Errorf("event %+v", ev)
				}
			}},
		{name: "group message ignored", body: `{"update_id":10,"message":{"message_id":1,"from":{"id":1,"first_name":"A"},"chat":{"id":-5,"type":"group"},"date":1,"text":"hi"}}`},
		{name: "sticker ignored", body: `{"update_id":11,"message":{"message_id":1,"from":{"id":1,"first_name":"A"},"chat":{"id":1,"type":"private"},"date":1,"sticker":{}}}`},
		{name: "callback query ignored", body: `{"update_id":12,"callback_query":{"id":"x"}}`},
		{name: "malformed", body: `{"update_id":`, wantErr: true},
		{name: "no update id", body: `{}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := telegram.DecodeUpdate([]byte(tc.body))
			if tc.wantErr {
				if !errors.Is(err, bridge.ErrInvalidInput) {
					t.Fatalf("err = %v, want ErrInvalidInput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			evs := a.Events(u)
			if len(evs) != tc.want {
				t.Fatalf("%d events, want %d", len(evs), tc.want)
			}
			if tc.check != nil {
				tc.check(t, evs[0])
			}
		})
	}
}

func FuzzDecodeUpdate(f *testing.F) {
	if b, err := os.ReadFile("testdata/update_message.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"update_id":1,"edited_message":{"message_id":1,"from":{"id":1},"chat":{"id":1,"type":"private"},"photo":[]}}`))
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"from":{"id":1},"chat":{"id":1,"type":"private"},"document":{"file_id":""}}}`))
	a, _ := telegram.New(telegram.Options{Token: "1:x"})
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := telegram.DecodeUpdate(body)
		if err != nil {
			return
		}
		for _, ev := range a.Events(u) {
			if ev.PlatformMessageID == "" || ev.Thread == "" || ev.Sender.ExternalUserID == "" {
				t.Errorf("incomplete event from %q: %+v", body, ev)
			}
		}
	})
}

func TestWebhookAuthenticatesBeforeParsing(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	defer emu.Close()
	a := newAdapter(t, emu, telegram.Options{WebhookSecret: "s3cret"})
	ing := newIngester()
	var outcomes []string
	h := a.WebhookHandler(ing, func(o string, _ time.Duration) { outcomes = append(outcomes, o) })
	good := `{"update_id":1,"message":{"message_id":1,"from":{"id":7,"first_name":"A"},"chat":{"id":7,"type":"private"},"date":1,"text":"hi"}}`
	tests := []struct {
		name, secret, body string
		want               int
	}{
		{"missing secret", "", good, 401},
		{"wrong secret", "s3cres", good, 401},
		{"wrong secret, garbage body", "nope", "{", 401},
		{"malformed", "s3cret", "{", 400},
		{"good", "s3cret", good, 200},
		{"redelivered", "s3cret", good, 200},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("POST", "/webhooks/telegram", strings.NewReader(tc.body))
		if tc.secret != "" {
			req.Header.Set(telegram.SecretHeader, tc.secret)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
	}
	if got := ing.texts(); len(got) != 2 {
		t.Errorf("ingested %q; want only the authenticated updates", got)
	}
	if strings.Join(outcomes, ",") != "unauthorized,unauthorized,unauthorized,bad_request,stored,stored" {
		t.Errorf("outcomes %v", outcomes)
	}
	ing.err = errors.New("database down")
	req := httptest.NewRequest("POST", "/webhooks/telegram", strings.NewReader(good))
	req.Header.Set(telegram.SecretHeader, "s3cret")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 500 {
		t.Errorf("ingest failure: %d, want 500 so Telegram retries", rec.Code)
	}
}

func TestSendMapsTelegramAnswers(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	defer emu.Close()
	clock := &stepClock{now: time.Unix(1000, 0)}
	a := newAdapter(t, emu, telegram.Options{Clock: clock})
	ctx := context.Background()
	msg := func(chat, text string) bridge.OutboundMessage {
		return bridge.OutboundMessage{ThreadExternalID: chat, Text: text}
	}
	res, err := a.Send(ctx, msg("42", "hello"))
	if err != nil || res.PlatformMessageID == "" {
		t.Fatalf("send: %+v, %v", res, err)
	}
	// A second message to the same chat within a second waits: the bridge retries.
	var retry *bridge.RetryAfterError
	clock.Advance(40 * time.Millisecond) // past the bot-wide pace
	if _, err := a.Send(ctx, msg("42", "again")); !errors.As(err, &retry) || retry.After != 960*time.Millisecond {
		t.Errorf("paced send: err = %v, want retry after the rest of the chat's second", err)
	}
	// Another chat at once waits only for the bot-wide budget (30/s).
	if _, err := a.Send(ctx, msg("43", "other chat")); !errors.As(err, &retry) || retry.After > 40*time.Millisecond {
		t.Errorf("other chat at once: err = %v, want a short bot-wide wait", err)
	}
	clock.Advance(40 * time.Millisecond)
	if _, err := a.Send(ctx, msg("43", "other chat")); err != nil {
		t.Errorf("other chat is not paced per chat: %v", err)
	}
	tests := []struct {
		name  string
		fault telegramtest.Fault
		check func(error) bool
	}{
		{"429", telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 429, RetryAfter: 7}, func(err error) bool {
			return errors.As(err, &retry) && retry.After == 7*time.Second
		}},
		{"500", telegramtest.Fault{Method: "sendMessage", Count: 1, Code: 500}, func(err error) bool {
			return err != nil && !bridge.IsPermanent(err) && !errors.As(err, &retry)
		}},
	}
	for _, tc := range tests {
		clock.Advance(2 * time.Second)
		emu.Inject(tc.fault)
		if _, err := a.Send(ctx, msg("42", "x")); !tc.check(err) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	clock.Advance(2 * time.Second)
	if _, err := a.Send(ctx, msg("not-a-chat", "x")); !bridge.IsPermanent(err) {
		t.Errorf("bad chat: err = %v, want permanent", err)
	}
	if _, err := a.Send(ctx, msg("44", strings.Repeat("x", 4097))); !bridge.IsPermanent(err) {
		t.Errorf("too long: err = %v, want permanent", err)
	}
	if got := emu.Sent(42); len(got) != 1 || got[0].Text != "hello" {
		t.Errorf("chat 42 received %+v", got)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	a := newAdapter(t, emu, telegram.Options{})
	emu.Close() // every call now fails at the network, quoting the URL
	_, err := a.Send(context.Background(), bridge.OutboundMessage{ThreadExternalID: "1", Text: "x"})
	if err == nil || strings.Contains(err.Error(), emu.Token()) || strings.Contains(err.Error(), "TEST-TOKEN") {
		t.Errorf("err = %v", err)
	}
	if _, _, err := a.DownloadFile(context.Background(), "f"); err == nil || strings.Contains(err.Error(), "TEST-TOKEN") {
		t.Errorf("download err = %v", err)
	}
}

func TestDownloadFile(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	defer emu.Close()
	a := newAdapter(t, emu, telegram.Options{})
	raw, _, err := emu.CustomerSends(context.Background(), telegramtest.User{ID: 5, FirstName: "A"},
		telegramtest.Message{Caption: "see attached", Document: &telegramtest.Document{Name: "a.txt", MIMEType: "text/plain", Body: []byte("contents")}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := telegram.DecodeUpdate(raw)
	ev := a.Events(u)[0]
	_, body, err := a.DownloadFile(context.Background(), ev.Attachments[0].PlatformRef)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b := make([]byte, 100)
	n, _ := body.Read(b)
	if string(b[:n]) != "contents" {
		t.Errorf("downloaded %q", b[:n])
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

func openStore(t *testing.T) *sqlite.Store { return open.SQLite(t, sqlite.Options{}) }

func waitFor(t *testing.T, ch <-chan struct{}, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for range n {
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("waited for %d ingests", n)
		}
	}
}

func TestPollerPersistsOffsetAndElectsOnePoller(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	defer emu.Close()
	store := openStore(t)
	ing := newIngester()
	opts := telegram.Options{PollTimeout: time.Second}
	ctx := context.Background()
	alice := telegramtest.User{ID: 11, FirstName: "Alice"}
	for _, text := range []string{"one", "two"} {
		if _, _, err := emu.CustomerSends(ctx, alice, telegramtest.Message{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- newAdapter(t, emu, opts).RunPoller(pctx, store, ing) }()
	waitFor(t, ing.got, 2)

	// A second replica on the same store does not poll while the first does.
	ing2 := newIngester()
	pctx2, stop2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- newAdapter(t, emu, opts).RunPoller(pctx2, store, ing2) }()
	if _, _, err := emu.CustomerSends(ctx, alice, telegramtest.Message{Text: "three"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ing.got, 1)
	stop2()
	<-done2
	if got := ing2.texts(); len(got) != 0 {
		t.Errorf("second poller ingested %q", got)
	}

	// Restart: the stored offset means nothing is seen twice or skipped.
	stop()
	<-done
	if _, _, err := emu.CustomerSends(ctx, alice, telegramtest.Message{Text: "four"}); err != nil {
		t.Fatal(err)
	}
	ing3 := newIngester()
	pctx3, stop3 := context.WithCancel(ctx)
	defer stop3()
	go func() { _ = newAdapter(t, emu, opts).RunPoller(pctx3, store, ing3) }()
	waitFor(t, ing3.got, 1)
	if got := strings.Join(append(ing.texts(), ing3.texts()...), ","); got != "one,two,three,four" {
		t.Errorf("ingested %q, want one,two,three,four", got)
	}
	if emu.Calls("getUpdates") == 0 {
		t.Error("no getUpdates calls")
	}
}

func TestEmulatorRefusesGetUpdatesWithWebhook(t *testing.T) {
	emu := telegramtest.New(telegramtest.Options{})
	defer emu.Close()
	res, err := http.Post(emu.URL()+"/bot"+emu.Token()+"/setWebhook", "application/json", strings.NewReader(`{"url":"http://127.0.0.1:1/x","secret_token":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = http.Post(emu.URL()+"/bot"+emu.Token()+"/getUpdates", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a struct {
		OK        bool `json:"ok"`
		ErrorCode int  `json:"error_code"`
	}
	_ = json.NewDecoder(res.Body).Decode(&a)
	if a.OK || a.ErrorCode != 409 {
		t.Errorf("getUpdates with a webhook set: %+v", a)
	}
}
