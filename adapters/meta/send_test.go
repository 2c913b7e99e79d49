package meta_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type sendRig struct {
	emu   *metatest.Server
	a     *meta.Adapter
	clock *clock
	rec   *recorder
}

// newSendRig connects an adapter to the emulator, webhook included, and has
// customer "c1" write at t0.
func newSendRig(t *testing.T, mod func(*meta.Options)) *sendRig {
	t.Helper()
	c := &clock{now: t0}
	emu := metatest.New(metatest.Options{Now: c.Now, Pages: []metatest.Page{{ID: pageID, Token: token, Name: "Acme"}}})
	t.Cleanup(emu.Close)
	a := newAdapter(t, emu.URL(), func(o *meta.Options) {
		o.Clock = c
		o.Accounts = []meta.Account{{ID: pageID, Token: token}}
		if mod != nil {
			mod(o)
		}
	})
	rec := &recorder{}
	srv := httptest.NewServer(a.WebhookHandler(rec, nil))
	t.Cleanup(srv.Close)
	if err := emu.Subscribe(t.Context(), srv.URL, verify); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CustomerSends(t.Context(), pageID, metatest.Customer{ID: "c1", Name: "Cy"}, metatest.Message{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	return &sendRig{emu: emu, a: a, clock: c, rec: rec}
}

func (r *sendRig) send(ctx context.Context, text string, lastInbound time.Time) (bridge.SendResult, error) {
	return r.a.For(bridge.PlatformMessenger).Send(ctx, bridge.OutboundMessage{
		Account: bridge.Account{ExternalID: pageID, Platform: bridge.PlatformMessenger}, ThreadExternalID: "c1",
		MessageID: 77, Text: text, LastInboundAt: lastInbound,
	})
}

// TestMessagingWindow: inside 24 hours a reply is a RESPONSE; up to 7 days
// it carries the HUMAN_AGENT tag when allowed; beyond, it is refused before
// any call, with a reason an agent can read.
func TestMessagingWindow(t *testing.T) {
	tests := []struct {
		name     string
		age      time.Duration
		tagOff   bool
		never    bool
		wantType string
		wantErr  string
	}{
		{name: "just now", age: time.Minute, wantType: "RESPONSE"},
		{name: "23h59m", age: 24*time.Hour - time.Minute, wantType: "RESPONSE"},
		{name: "three days, tag allowed", age: 72 * time.Hour, wantType: "MESSAGE_TAG"},
		{name: "three days, tag off", age: 72 * time.Hour, tagOff: true, wantErr: "human agent tag is off"},
		{name: "eight days", age: 8 * 24 * time.Hour, wantErr: "last wrote 8 days ago"},
		{name: "customer never wrote", never: true, wantErr: "has not written"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSendRig(t, func(o *meta.Options) { o.HumanAgentTag = !tc.tagOff })
			last := t0
			if tc.never {
				last = time.Time{}
			}
			r.clock.set(t0.Add(tc.age))
			res, err := r.send(t.Context(), "We are on it", last)
			calls := r.emu.Calls("messages")
			if tc.wantErr != "" {
				if !bridge.IsPermanent(err) || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "nothing was sent") {
					t.Fatalf("err %v, want a permanent error saying %q", err, tc.wantErr)
				}
				if calls != 0 {
					t.Errorf("%d Send API calls for a refused reply", calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sent := r.emu.Sent("c1")
			if len(sent) != 1 || sent[0].MessagingType != tc.wantType || sent[0].Text != "We are on it" ||
				sent[0].Metadata != "threadline:msg:77" || res.PlatformMessageID != sent[0].MID {
				t.Fatalf("sent %+v, result %+v", sent, res)
			}
			if tc.wantType == "MESSAGE_TAG" && sent[0].Tag != "HUMAN_AGENT" {
				t.Errorf("tag %q", sent[0].Tag)
			}
		})
	}
}

// TestSendFailures: throttling waits (without using up an attempt), refusals
// are permanent with a readable reason, server trouble is retried; the
// token never appears in an error.
func TestSendFailures(t *testing.T) {
	tests := []struct {
		name      string
		fault     metatest.Fault
		retry     time.Duration // want *bridge.RetryAfterError with this wait
		permanent string        // want bridge.Permanent containing this
		// blocked: the next send waits without calling
		blocked bool
	}{
		{name: "429 Retry-After", fault: metatest.Fault{Status: 429, Code: 4, RetryAfter: 7}, retry: 7 * time.Second, blocked: true},
		{name: "app limit code 4", fault: metatest.Fault{Status: 400, Code: 4}, retry: 30 * time.Second},
		{name: "user limit code 17", fault: metatest.Fault{Status: 400, Code: 17}, retry: 30 * time.Second},
		{name: "page limit code 32", fault: metatest.Fault{Status: 400, Code: 32}, retry: 30 * time.Second},
		{name: "code 613 with business usage", fault: metatest.Fault{Status: 400, Code: 613, Header: map[string]string{
			"X-Business-Use-Case-Usage": `{"` + pageID + `":[{"type":"messenger","call_count":100,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":2}]}`}},
			retry: 2 * time.Minute, blocked: true},
		{name: "app usage at 100%", fault: metatest.Fault{Status: 400, Code: 4, Header: map[string]string{"X-App-Usage": `{"call_count":100,"total_time":12,"total_cputime":9}`}},
			retry: time.Minute, blocked: true},
		{name: "token revoked", fault: metatest.Fault{Status: 400, Code: 190}, permanent: "reconnect the account"},
		{name: "outside window per Meta", fault: metatest.Fault{Status: 400, Code: 10, Subcode: 2018278}, permanent: "outside the messaging window"},
		{name: "person unavailable", fault: metatest.Fault{Status: 400, Code: 551}, permanent: "cannot be reached"},
		{name: "server error", fault: metatest.Fault{Status: 500, Code: 1}},
		{name: "transient code 2", fault: metatest.Fault{Status: 503, Code: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newSendRig(t, nil)
			tc.fault.Kind, tc.fault.Count = "messages", 1
			r.emu.Inject(tc.fault)
			_, err := r.send(t.Context(), "hi", t0)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("the token is in the error: %v", err)
			}
			var retry *bridge.RetryAfterError
			switch {
			case tc.retry > 0:
				if !errors.As(err, &retry) || retry.After != tc.retry {
					t.Fatalf("err %v, want retry after %s", err, tc.retry)
				}
			case tc.permanent != "":
				if !bridge.IsPermanent(err) || !strings.Contains(err.Error(), tc.permanent) {
					t.Fatalf("err %v, want permanent saying %q", err, tc.permanent)
				}
			default:
				if bridge.IsPermanent(err) || errors.As(err, &retry) {
					t.Fatalf("err %v, want a plain (retried) error", err)
				}
			}
			calls := r.emu.Calls("messages")
			_, err = r.send(t.Context(), "hi again", t0)
			if tc.blocked {
				if !errors.As(err, &retry) || r.emu.Calls("messages") != calls {
					t.Errorf("while throttled: err %v after %d calls (was %d), want a wait without a call", err, r.emu.Calls("messages"), calls)
				}
				r.clock.set(t0.Add(tc.retry + time.Second))
				if _, err := r.send(t.Context(), "after the wait", t0); err != nil {
					t.Errorf("after the wait: %v", err)
				}
			} else if tc.permanent == "" && err != nil {
				t.Errorf("the next send failed: %v", err)
			}
		})
	}
}

func TestSendRefusesBadInput(t *testing.T) {
	r := newSendRig(t, nil)
	for name, m := range map[string]bridge.OutboundMessage{
		"empty":           {Account: bridge.Account{ExternalID: pageID}, ThreadExternalID: "c1", Text: "  ", LastInboundAt: t0},
		"too long":        {Account: bridge.Account{ExternalID: pageID}, ThreadExternalID: "c1", Text: strings.Repeat("é", 2001), LastInboundAt: t0},
		"unknown account": {Account: bridge.Account{ExternalID: "555"}, ThreadExternalID: "c1", Text: "hi", LastInboundAt: t0},
	} {
		if _, err := r.a.For(bridge.PlatformMessenger).Send(t.Context(), m); !bridge.IsPermanent(err) {
			t.Errorf("%s: %v, want permanent", name, err)
		}
	}
	if n := r.emu.Calls("messages"); n != 0 {
		t.Errorf("%d calls", n)
	}
}

// TestTokenScrubbed: a Graph error quoting the token, and a transport
// failure, never carry it.
func TestTokenScrubbed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"error":{"message":"Malformed access token ` + token + `","type":"OAuthException","code":190}}`))
	}))
	defer srv.Close()
	a := newAdapter(t, srv.URL, nil)
	m := bridge.OutboundMessage{Account: bridge.Account{ExternalID: pageID}, ThreadExternalID: "c1", Text: "hi", LastInboundAt: time.Now()}
	_, err := a.For(bridge.PlatformMessenger).Send(t.Context(), m)
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "<token>") {
		t.Errorf("err %v", err)
	}
	srv.Close()
	if _, err := a.For(bridge.PlatformMessenger).Send(t.Context(), m); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("transport err %v", err)
	}
	if err := a.Connect(t.Context()); err != nil {
		t.Errorf("an unreachable Graph API at start should only warn: %v", err)
	}
}

func TestConnect(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{{ID: pageID, Token: token, Name: "Acme Support"}}})
	defer emu.Close()
	a := newAdapter(t, emu.URL(), func(o *meta.Options) { o.Accounts = []meta.Account{{ID: pageID, Token: token}} })
	if err := a.Connect(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := a.Parse(mustDecode(t, metatest.Envelope("page", pageID, t0, map[string]any{
		"sender": map[string]string{"id": "u1"}, "recipient": map[string]string{"id": pageID}, "timestamp": 1,
		"message": map[string]string{"mid": "m", "text": "hi"}})))
	if ev := one(t, p).Inbound; ev.Account.DisplayName != "Acme Support" {
		t.Errorf("account %+v", ev.Account)
	}
	bad := newAdapter(t, emu.URL(), func(o *meta.Options) { o.Accounts = []meta.Account{{ID: pageID, Token: "EAAWRONG"}} })
	if err := bad.Connect(t.Context()); err == nil || strings.Contains(err.Error(), "EAAWRONG") {
		t.Errorf("a refused token: %v", err)
	}
}

func mustDecode(t *testing.T, body []byte) meta.Webhook {
	t.Helper()
	w, err := meta.DecodeWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
