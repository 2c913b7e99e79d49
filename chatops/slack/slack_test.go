package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/cardtest"
	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestVerifier(t *testing.T) {
	body, err := os.ReadFile("testdata/event_thread_reply.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1732380100, 0)
	v := tlslack.Verifier{Secret: "shh", Clock: fixedClock(now)}
	ts := fmt.Sprint(now.Unix())
	good := slacktest.Sign("shh", now.Unix(), body)
	tampered := append([]byte{}, body...)
	tampered[len(tampered)/2] ^= 1
	stale := now.Add(-6 * time.Minute).Unix()
	tests := []struct {
		name, ts, sig string
		body          []byte
		ok            bool
	}{
		{"good", ts, good, body, true},
		{"tampered body", ts, good, tampered, false},
		{"wrong secret", ts, slacktest.Sign("other", now.Unix(), body), body, false},
		{"stale", fmt.Sprint(stale), slacktest.Sign("shh", stale, body), body, false},
		{"future", fmt.Sprint(now.Add(6 * time.Minute).Unix()), slacktest.Sign("shh", now.Add(6*time.Minute).Unix(), body), body, false},
		{"missing signature", ts, "", body, false},
		{"missing timestamp", "", good, body, false},
		{"garbage timestamp", "soon", good, body, false},
	}
	for _, tc := range tests {
		if err := v.Verify(tc.ts, tc.sig, tc.body); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestClassifyMessage(t *testing.T) {
	tests := []struct {
		text, mode string
		want       tlslack.Intent
		body       string
	}{
		{"Your parcel ships today", tlslack.ReplyAuto, tlslack.IntentReply, "Your parcel ships today"},
		{"note: VIP, be nice", tlslack.ReplyAuto, tlslack.IntentNote, "VIP, be nice"},
		{"  NOTE:  check refund", tlslack.ReplyAuto, tlslack.IntentNote, "check refund"},
		{"<@U0ANN> can you take this?", tlslack.ReplyAuto, tlslack.IntentNote, "<@U0ANN> can you take this?"},
		{"<@U0ANN|ann> thoughts?", tlslack.ReplyAuto, tlslack.IntentNote, "<@U0ANN|ann> thoughts?"},
		{"<@U0BOT> hello", tlslack.ReplyAuto, tlslack.IntentReply, "<@U0BOT> hello"},
		{"reply: thanks <@U0ANN> will check", tlslack.ReplyAuto, tlslack.IntentReply, "thanks <@U0ANN> will check"},
		{"Your parcel ships today", tlslack.ReplyExplicit, tlslack.IntentNote, "Your parcel ships today"},
		{"Reply: it ships today", tlslack.ReplyExplicit, tlslack.IntentReply, "it ships today"},
	}
	for _, tc := range tests {
		intent, body := tlslack.ClassifyMessage(tc.text, "U0BOT", tc.mode)
		if intent != tc.want || body != tc.body {
			t.Errorf("%q (%s): %v %q, want %v %q", tc.text, tc.mode, intent, body, tc.want, tc.body)
		}
	}
}

func TestPlainText(t *testing.T) {
	for in, want := range map[string]string{
		"a &lt;b&gt; &amp; c":                         "a <b> & c",
		"see <https://acme.test/t|tracking>":          "see tracking (https://acme.test/t)",
		"see <https://acme.test/t>":                   "see https://acme.test/t",
		"mail <mailto:help@acme.test|help@acme.test>": "mail help@acme.test (mailto:help@acme.test)",
	} {
		if got := tlslack.PlainText(in); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderCardGolden(t *testing.T) {
	for _, tc := range cardtest.Cases() {
		got, err := json.MarshalIndent(map[string]any{"text": tlslack.CardText(tc.Card), "blocks": tlslack.RenderCard(tc.Card)}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		cardtest.Golden(t, "testdata", tc.Name, got)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	if b, err := os.ReadFile("testdata/event_thread_reply.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"url_verification","challenge":"x"}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"message","subtype":"bot_message"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, msg, err := tlslack.DecodeEvent(body)
		if err == nil && env.Type == "event_callback" && env.EventID == "" {
			t.Errorf("accepted event_callback without id: %+v %+v", env, msg)
		}
	})
}

func FuzzDecodeInteraction(f *testing.F) {
	if b, err := os.ReadFile("testdata/block_actions.json"); err == nil {
		f.Add([]byte("payload=" + string(b)))
	}
	f.Add([]byte("payload=%7B%22type%22%3A%22block_actions%22%7D"))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = tlslack.DecodeInteraction(body)
	})
}

// rig is the whole loop: Telegram emulator -> adapter -> bridge (SQLite,
// River workers) -> Slack surface -> Slack emulator, and Slack's requests
// back through the real HTTP handlers.
type rig struct {
	t       *testing.T
	ctx     context.Context
	tg      *telegramtest.Server
	sl      *slacktest.Server
	client  *slacktest.Client
	b       *bridge.Bridge
	surface *tlslack.Surface
	handler *tlslack.Handler
}

const channel = "C0INBOX"

type rigStore interface {
	bridge.Store
	Migrate(ctx context.Context) ([]string, error)
	StartWorkers(ctx context.Context, r queue.Runner) error
	StopWorkers(ctx context.Context) error
	Close() error
}

func openSQLite(t *testing.T) rigStore { return open.SQLite(t, sqlite.Options{}) }

func openPostgres(t *testing.T) rigStore { return open.Postgres(t, 8) }

func newRig(t *testing.T, replyMode string) *rig { return newRigOn(t, replyMode, openSQLite) }

func newRigOn(t *testing.T, replyMode string, openStore func(t *testing.T) rigStore) *rig {
	t.Helper()
	return newRigWith(t, rigOptions{replyMode: replyMode, openStore: openStore})
}

// rigOptions are the settings a test may change.
type rigOptions struct {
	replyMode         string
	openStore         func(t *testing.T) rigStore
	roles             tlslack.Roles
	groups            map[string][]string
	escalationChannel string
}

func newRigWith(t *testing.T, o rigOptions) *rig {
	t.Helper()
	replyMode, openStore := o.replyMode, o.openStore
	if openStore == nil {
		openStore = openSQLite
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	store := openStore(t)
	tg := telegramtest.New(telegramtest.Options{})
	t.Cleanup(tg.Close)
	sl := slacktest.New(slacktest.Options{})
	t.Cleanup(sl.Close)
	sl.SetUserName("U0ANN", "Ann")
	sl.SetUserName("U0BOB", "Bob")
	sl.SetUserName("U0SUE", "Sue")
	for id, members := range o.groups {
		sl.SetUserGroup(id, members...)
	}
	tga, err := telegram.New(telegram.Options{Token: tg.Token(), APIURL: tg.URL(), WebhookSecret: "tg-secret", MinChatInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	surface, err := tlslack.New(ctx, tlslack.Options{Token: sl.Token(), APIURL: sl.URL(), Channel: channel,
		PostInterval: time.Millisecond, UpdateInterval: time.Millisecond, EscalationChannel: o.escalationChannel,
		Files: map[bridge.Platform]tlslack.FileSource{bridge.PlatformTelegram: tga}})
	if err != nil {
		t.Fatal(err)
	}
	b := bridge.New(store, bridge.Options{Logger: testLogger(t), Surfaces: []bridge.Surface{bridge.SurfaceSlack}, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	b.AddPlatform(tga)
	b.AddSurface(surface)
	roles := tlslack.NewRoleDirectory(o.roles, surface, nil, testLogger(t))
	// What the app's role loop does at start.
	members, err := roles.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range members {
		members[i].Name = surface.UserName(ctx, members[i].UserID)
	}
	if err := b.SyncRoles(ctx, bridge.SurfaceSlack, surface.TeamID(), members); err != nil {
		t.Fatal(err)
	}
	h := tlslack.NewHandler(tlslack.HandlerOptions{Bridge: b, Notifier: surface, Names: surface, Verifier: tlslack.Verifier{Secret: "sign"}, Logger: testLogger(t),
		Roles: roles, Links: surface, Views: surface,
		BotUserID: surface.BotUserID(), InboxChannel: channel, ReplyMode: replyMode})
	r := chi.NewRouter()
	h.Routes(r)
	r.Method("POST", "/webhooks/telegram", tga.WebhookHandler(b, nil))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	open.StartWorkers(ctx, t, store, b)
	if err := tg.SetWebhook(ctx, srv.URL+"/webhooks/telegram", "tg-secret"); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, tg: tg, sl: sl, b: b, surface: surface, handler: h, client: &slacktest.Client{BaseURL: srv.URL, SigningSecret: "sign"}}
}

var alice = telegramtest.User{ID: 501, FirstName: "Alice", LastName: "Doe", Username: "alice_d"}

func (r *rig) customer(text string) {
	r.t.Helper()
	if _, _, err := r.tg.CustomerSends(r.ctx, alice, telegramtest.Message{Text: text}); err != nil {
		r.t.Fatal(err)
	}
}

// parent waits for the conversation's parent message and returns it.
// socketMode runs the handler over Socket Mode, connected once this returns,
// until the test ends.
func (r *rig) socketMode() {
	r.t.Helper()
	done := make(chan error, 1)
	ctx, stop := context.WithCancel(r.ctx)
	go func() { done <- r.handler.RunSocketMode(ctx, r.surface.SocketClient("xapp-test")) }()
	r.t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			r.t.Errorf("RunSocketMode: %v", err)
		}
	})
	if err := r.sl.WaitSocket(r.ctx); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) parent() slacktest.Message {
	r.t.Helper()
	var p slacktest.Message
	if err := r.sl.WaitFor(r.ctx, func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.ThreadTS == "" {
				p = m
				return true
			}
		}
		return false
	}); err != nil {
		r.t.Fatal(err)
	}
	return p
}

func (r *rig) agentSays(user, threadTS, text string) slacktest.Message {
	r.t.Helper()
	m := r.sl.AddUserMessage(channel, threadTS, user, text)
	if _, code, err := r.client.SendMessageEvent(r.ctx, r.sl.TeamID(), m); err != nil || code != 200 {
		r.t.Fatalf("event: %d %v", code, err)
	}
	return m
}

func (r *rig) waitSlack(what string, cond func(s *slacktest.Server) bool) {
	r.t.Helper()
	if err := r.sl.WaitFor(r.ctx, cond); err != nil {
		r.t.Fatalf("%s: %v\nslack: %+v", what, err, r.sl.Messages(""))
	}
}

func number(p slacktest.Message) string {
	var card struct {
		Blocks []struct {
			Elements []struct {
				Value string `json:"value"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	b, _ := json.Marshal(map[string]any{"blocks": p.Blocks})
	_ = json.Unmarshal(b, &card)
	for _, bl := range card.Blocks {
		for _, e := range bl.Elements {
			if e.Value != "" {
				return e.Value
			}
		}
	}
	return ""
}

func TestTelegramToSlackAndBack(t *testing.T) {
	for name, openStore := range map[string]func(*testing.T) rigStore{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) { testRoundTrip(t, newRigOn(t, tlslack.ReplyAuto, openStore)) })
	}
}

func testRoundTrip(t *testing.T, r *rig) {
	r.customer("Hi, my order hasn't arrived")
	parent := r.parent()
	if !strings.Contains(parent.Text, "Alice Doe on Telegram: Hi, my order hasn't arrived") || number(parent) == "" {
		t.Fatalf("parent %+v", parent)
	}
	r.customer("It was due Monday")
	r.waitSlack("second customer message in thread", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.ThreadTS == parent.TS && strings.Contains(m.Text, "It was due Monday") {
				return true
			}
		}
		return false
	})

	// Claim through the real interactivity endpoint.
	code, _, err := r.client.SendAction(r.ctx, slacktest.Action{TeamID: r.sl.TeamID(), UserID: "U0ANN", UserName: "ann", Channel: channel,
		MessageTS: parent.TS, ActionID: tlslack.ActionClaim, Value: number(parent)})
	if err != nil || code != 200 {
		t.Fatalf("claim: %d %v", code, err)
	}
	r.waitSlack("card shows the assignee", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.TS == parent.TS && strings.Contains(string(mustJSON(m.Blocks)), "Assigned to ann") {
				return true
			}
		}
		return false
	})

	// The agent replies in the thread; a note and a teammate mention stay internal.
	reply := r.agentSays("U0ANN", parent.TS, "Sorry! A replacement ships today &amp; arrives Friday.")
	r.agentSays("U0ANN", parent.TS, "note: offered a voucher")
	r.agentSays("U0ANN", parent.TS, "<@U0BOB> can you double-check stock?")
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "Sorry! A replacement ships today & arrives Friday." {
		t.Errorf("customer got %q", sent[0].Text)
	}
	r.waitSlack("delivered mark on the agent's reply", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.TS == reply.TS && len(m.Reactions) == 1 && m.Reactions[0] == "white_check_mark" {
				return true
			}
		}
		return false
	})

	// Resolve with the slash command.
	code, body, err := r.client.SendCommand(r.ctx, slacktest.Command{TeamID: r.sl.TeamID(), UserID: "U0ANN", UserName: "ann", Channel: channel, Text: "resolve " + number(parent)})
	if err != nil || code != 200 || !strings.Contains(string(body), "is resolved") || !strings.Contains(string(body), `"ephemeral"`) {
		t.Fatalf("resolve command: %d %s %v", code, body, err)
	}
	r.waitSlack("card shows resolved", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.TS == parent.TS && strings.Contains(string(mustJSON(m.Blocks)), "Resolved") {
				return true
			}
		}
		return false
	})
	if got := r.tg.Sent(alice.ID); len(got) != 1 {
		t.Errorf("customer received %d messages, want only the reply: %+v", len(got), got)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func TestBotMessagesAndRetriesAreNotRelayed(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.customer("hello")
	parent := r.parent()
	// Our own bot's message and another bot's come back as events: ignored.
	for _, m := range []slacktest.Message{
		{Channel: channel, TS: "1.1", ThreadTS: parent.TS, User: r.sl.BotUserID(), Text: "echo", BotID: "B0BOT"},
		{Channel: channel, TS: "1.2", ThreadTS: parent.TS, User: "U0OTHER", Text: "other bot", BotID: "B0OTHER"},
	} {
		if _, code, err := r.client.SendMessageEvent(r.ctx, r.sl.TeamID(), m); err != nil || code != 200 {
			t.Fatalf("event: %d %v", code, err)
		}
	}
	// One agent reply delivered three times (Slack retries) goes out once.
	m := r.sl.AddUserMessage(channel, parent.TS, "U0ANN", "on it")
	env := slacktest.EventEnvelope(r.sl.TeamID(), "EvRETRY1", map[string]any{"type": "message", "channel": channel, "user": "U0ANN",
		"text": "on it", "ts": m.TS, "thread_ts": parent.TS})
	if code, err := r.client.DeliverEvent(r.ctx, env); err != nil || code != 200 {
		t.Fatalf("delivery: %d %v", code, err)
	}
	for retry := 1; retry <= 2; retry++ {
		if code, err := r.client.SendEvent(r.ctx, env, retry); err != nil || code != 200 {
			t.Fatalf("redelivery %d: %d %v", retry, code, err)
		}
	}
	if _, err := r.tg.WaitSent(r.ctx, alice.ID, 1); err != nil {
		t.Fatal(err)
	}
	r.customer("thanks")
	r.waitSlack("customer's next message", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if strings.Contains(m.Text, "thanks") {
				return true
			}
		}
		return false
	})
	if got := r.tg.Sent(alice.ID); len(got) != 1 || got[0].Text != "on it" {
		t.Errorf("customer received %+v, want one 'on it'", got)
	}
}

func TestUnsignedRequestsRejected(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	bad := &slacktest.Client{BaseURL: r.client.BaseURL, SigningSecret: "wrong"}
	if code, err := bad.SendEvent(r.ctx, slacktest.EventEnvelope("T", "Ev1", map[string]any{"type": "message"}), 0); err != nil || code != 401 {
		t.Errorf("events with a wrong signature: %d %v", code, err)
	}
	if code, _, err := bad.SendCommand(r.ctx, slacktest.Command{UserID: "U", Text: "help"}); err != nil || code != 401 {
		t.Errorf("command with a wrong signature: %d %v", code, err)
	}
	old := &slacktest.Client{BaseURL: r.client.BaseURL, SigningSecret: "sign", Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}
	if code, _, err := old.SendAction(r.ctx, slacktest.Action{UserID: "U", ActionID: tlslack.ActionClaim, Value: "1001"}); err != nil || code != 401 {
		t.Errorf("replayed action: %d %v", code, err)
	}
	body, _ := json.Marshal(map[string]string{"type": "url_verification", "challenge": "c-123"})
	req, _ := http.NewRequest("POST", r.client.BaseURL+"/slack/events", strings.NewReader(string(body)))
	ts := time.Now().Unix()
	req.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(ts))
	req.Header.Set("X-Slack-Signature", slacktest.Sign("sign", ts, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got [16]byte
	n, _ := res.Body.Read(got[:])
	if res.StatusCode != 200 || string(got[:n]) != "c-123" {
		t.Errorf("url_verification: %d %q", res.StatusCode, got[:n])
	}
}

func TestConcurrentClaimsOneWinnerOthersTold(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.customer("help")
	parent := r.parent()
	var wg sync.WaitGroup
	for _, u := range []string{"U0ANN", "U0BOB"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, err := r.client.SendAction(r.ctx, slacktest.Action{TeamID: r.sl.TeamID(), UserID: u, UserName: strings.ToLower(u[3:]),
				Channel: channel, MessageTS: parent.TS, ActionID: tlslack.ActionClaim, Value: number(parent)})
			if err != nil || code != 200 {
				t.Errorf("claim by %s: %d %v", u, code, err)
			}
		}()
	}
	wg.Wait()
	r.waitSlack("loser told who owns it", func(s *slacktest.Server) bool {
		for _, e := range s.Ephemerals() {
			if strings.Contains(e.Text, "already claimed by") {
				return true
			}
		}
		return false
	})
	if n := len(r.sl.Ephemerals()); n != 1 {
		t.Errorf("%d ephemeral messages, want 1", n)
	}
}

func TestRateLimitedPostStillArrives(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 2, Code: 429, RetryAfter: time.Second})
	r.customer("hello despite 429")
	p := r.parent()
	if !strings.Contains(p.Text, "hello despite 429") || r.sl.RateLimited() != 2 {
		t.Errorf("parent %q after %d 429s", p.Text, r.sl.RateLimited())
	}
	if n := len(r.sl.Messages(channel)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestExplicitModeKeepsMessagesInternal(t *testing.T) {
	r := newRig(t, tlslack.ReplyExplicit)
	r.customer("hello")
	parent := r.parent()
	r.agentSays("U0ANN", parent.TS, "internal by default")
	r.agentSays("U0ANN", parent.TS, "reply: this one goes out")
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Text != "this one goes out" {
		t.Errorf("customer got %+v", sent)
	}
}

func TestAttachmentReachesSlackAsFile(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	if _, _, err := r.tg.CustomerSends(r.ctx, alice, telegramtest.Message{Caption: "the invoice",
		Document: &telegramtest.Document{Name: "invoice.pdf", MIMEType: "application/pdf", Body: []byte("%PDF-1.4 fake")}}); err != nil {
		t.Fatal(err)
	}
	r.waitSlack("file in thread", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if len(m.Files) == 1 && m.Files[0].Name == "invoice.pdf" {
				return true
			}
		}
		return false
	})
	for _, m := range r.sl.Messages(channel) {
		if strings.Contains(m.Text, r.tg.Token()) || strings.Contains(string(mustJSON(m.Blocks)), "TEST-TOKEN") {
			t.Errorf("a Slack message carries the bot token: %+v", m)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestPostsArePacedPerChannel(t *testing.T) {
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	ctx := context.Background()
	s, err := tlslack.New(ctx, tlslack.Options{Token: sl.Token(), APIURL: sl.URL(), Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	thread := bridge.ChatThread{Channel: channel, ThreadRef: "1.0"}
	msg := bridge.MessageView{Message: bridge.Message{Direction: bridge.Inbound, Text: "hi"}, SenderName: "A"}
	if _, err := s.PostMessage(ctx, thread, msg); err != nil {
		t.Fatal(err)
	}
	var retry *bridge.RetryAfterError
	if _, err := s.PostMessage(ctx, thread, msg); !errors.As(err, &retry) || retry.After <= 0 || retry.After > time.Second {
		t.Errorf("second post within a second: err = %v, want a retry-after up to 1s", err)
	}
	if _, err := s.PostMessage(ctx, bridge.ChatThread{Channel: "C0OTHER", ThreadRef: "1.0"}, msg); err != nil {
		t.Errorf("another channel is not paced: %v", err)
	}
	if n := sl.Calls("chat.postMessage"); n != 2 {
		t.Errorf("%d chat.postMessage calls, want 2 (the paced one never reached Slack)", n)
	}
}

func TestSocketMode(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.socketMode()
	r.customer("hello over socket mode")
	parent := r.parent()
	m := r.sl.AddUserMessage(channel, parent.TS, "U0ANN", "replied over the socket")
	env := slacktest.EventEnvelope(r.sl.TeamID(), "EvSOCKET1", map[string]any{"type": "message", "channel": channel,
		"user": "U0ANN", "text": m.Text, "ts": m.TS, "thread_ts": parent.TS})
	if err := r.sl.DeliverSocketEvent(r.ctx, env); err != nil {
		t.Fatal(err)
	}
	// Slack redelivers with retry_attempt when an ack was lost: no second send.
	if _, err := r.sl.SendSocket(r.ctx, "events_api", env, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tg.WaitSent(r.ctx, alice.ID, 1); err != nil {
		t.Fatal(err)
	}
	cmd, _ := json.Marshal(map[string]string{"command": "/threadline", "text": "resolve " + number(parent), "team_id": r.sl.TeamID(),
		"user_id": "U0ANN", "user_name": "ann", "channel_id": channel, "trigger_id": "trig-1"})
	ack, err := r.sl.SendSocket(r.ctx, "slash_commands", cmd, 0, 5*time.Second)
	if err != nil || !strings.Contains(string(ack), "is resolved") {
		t.Fatalf("slash command over socket: %s %v", ack, err)
	}
	action, _ := json.Marshal(map[string]any{"type": "block_actions", "trigger_id": "trig-2",
		"user": map[string]any{"id": "U0BOB", "name": "bob"}, "team": map[string]any{"id": r.sl.TeamID()},
		"channel": map[string]any{"id": channel}, "message": map[string]any{"ts": parent.TS},
		"actions": []map[string]any{{"type": "button", "block_id": "actions", "action_id": tlslack.ActionReopen, "value": number(parent), "action_ts": "1.2"}}})
	if _, err := r.sl.SendSocket(r.ctx, "interactive", action, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.waitSlack("card reopened", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.TS == parent.TS && strings.Contains(string(mustJSON(m.Blocks)), "Open") && strings.Contains(string(mustJSON(m.Blocks)), "threadline_resolve") {
				return true
			}
		}
		return false
	})
	// The connection drops; the client reconnects and what Slack sends next
	// still arrives.
	r.sl.DropSockets()
	if err := r.sl.WaitSocket(r.ctx); err != nil {
		t.Fatal(err)
	}
	m2 := r.sl.AddUserMessage(channel, parent.TS, "U0ANN", "after the reconnect")
	env2 := slacktest.EventEnvelope(r.sl.TeamID(), "EvSOCKET2", map[string]any{"type": "message", "channel": channel,
		"user": "U0ANN", "text": m2.Text, "ts": m2.TS, "thread_ts": parent.TS})
	if err := r.sl.DeliverSocketEvent(r.ctx, env2); err != nil {
		t.Fatal(err)
	}
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[1].Text != "after the reconnect" {
		t.Errorf("customer got %+v", sent)
	}
}

// TestPostWhoseAnswerWasLostIsNotRepeated: Slack applies a post but the
// answer is lost (a 500 after the fact). The retry finds the post by its
// metadata instead of posting it twice.
func TestPostWhoseAnswerWasLostIsNotRepeated(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 1, Code: 500, Applied: true})
	r.customer("first, answer lost")
	parent := r.parent()
	r.sl.Inject(slacktest.Fault{Method: "chat.postMessage", Count: 1, Code: 500, Applied: true})
	r.customer("second, answer lost too")
	r.customer("third")
	r.waitSlack("third message shown", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if strings.Contains(m.Text, "third") {
				return true
			}
		}
		return false
	})
	var parents, seconds int
	for _, m := range r.sl.Messages(channel) {
		if m.ThreadTS == "" {
			parents++
		}
		if strings.Contains(m.Text, "second, answer lost too") {
			seconds++
		}
	}
	if parents != 1 || seconds != 1 {
		t.Errorf("%d parents and %d copies of the second message, want 1 and 1: %+v", parents, seconds, r.sl.Messages(channel))
	}
	// The thread works: the parent found by reconciliation is the recorded thread.
	r.agentSays("U0ANN", parent.TS, "all good")
	if _, err := r.tg.WaitSent(r.ctx, alice.ID, 1); err != nil {
		t.Fatal(err)
	}
}

func TestSLAAlertsReachChannelAndAssignee(t *testing.T) {
	ctx := context.Background()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	s, err := tlslack.New(ctx, tlslack.Options{Token: sl.Token(), APIURL: sl.URL(), Channel: "C0INBOX", AlertChannel: "C0ALERTS"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasAlertChannel() {
		t.Fatal("alert channel not configured")
	}
	view := bridge.AlertView{
		Conversation: bridge.Conversation{Number: 1042}, Text: "SLA breached: first response of #1042 (P1) was due at Tue 15:45 UTC (target 15m).",
		Thread: &bridge.ChatThread{Channel: "C0INBOX", ThreadRef: "1700000000.000100"}, Assignee: "UANN", Supervisors: []string{"USUE"},
	}
	if _, err := s.PostAlert(ctx, view); err != nil {
		t.Fatal(err)
	}
	view.Recipient = "UANN"
	if _, err := s.NotifyUser(ctx, view); err != nil {
		t.Fatal(err)
	}
	alerts := sl.Messages("C0ALERTS")
	if len(alerts) != 1 {
		t.Fatalf("alerts channel: %+v", alerts)
	}
	for _, want := range []string{"SLA breached", "<https://test.slack.com/archives/C0INBOX/p1700000000000100|Open the thread>", "<@UANN>", "<@USUE>"} {
		if !strings.Contains(alerts[0].Text, want) {
			t.Errorf("alert %q lacks %q", alerts[0].Text, want)
		}
	}
	dms := sl.Messages(slacktest.DMChannel("UANN"))
	if len(dms) != 1 || !strings.Contains(dms[0].Text, "SLA breached") || strings.Contains(dms[0].Text, "<@USUE>") {
		t.Fatalf("direct message: %+v", dms)
	}
	// Without an alert channel the surface says so, and posts nothing.
	quiet, err := tlslack.New(ctx, tlslack.Options{Token: sl.Token(), APIURL: sl.URL(), Channel: "C0INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	if quiet.HasAlertChannel() {
		t.Fatal("alert channel reported without one")
	}
}
