package meta_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
)

const (
	pageID  = "112233445566778"
	igID    = "17841400000000001"
	secret  = "meta-app-secret"
	verify  = "meatyhamhock"
	token   = "EAAPAGETOKEN1"
	igToken = "IGQTOKEN2"
)

// recorder is a fake bridge that records what the webhook hands it.
type recorder struct {
	mu       sync.Mutex
	inbound  []bridge.InboundEvent
	outbound []bridge.ObservedOutbound
	receipts []bridge.ReceiptEvent
	err      error
}

func (r *recorder) RecordReceipt(_ context.Context, ev bridge.ReceiptEvent) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	r.receipts = append(r.receipts, ev)
	return 1, nil
}

func (r *recorder) Ingest(_ context.Context, ev bridge.InboundEvent) (bridge.IngestResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return bridge.IngestResult{}, r.err
	}
	r.inbound = append(r.inbound, ev)
	return bridge.IngestResult{}, nil
}

func (r *recorder) ObserveOutbound(_ context.Context, ev bridge.ObservedOutbound) (bridge.IngestResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return bridge.IngestResult{}, r.err
	}
	r.outbound = append(r.outbound, ev)
	return bridge.IngestResult{}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inbound) + len(r.outbound)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func newAdapter(t testing.TB, apiURL string, mod func(*meta.Options)) *meta.Adapter {
	t.Helper()
	if apiURL == "" {
		// Never the real Graph API: an emulator that knows no customer.
		emu := metatest.New(metatest.Options{})
		t.Cleanup(emu.Close)
		apiURL = emu.URL()
	}
	opts := meta.Options{
		AppSecret: secret, VerifyToken: verify, APIURL: apiURL, HumanAgentTag: true,
		Accounts: []meta.Account{{ID: pageID, Token: token}, {ID: igID, Token: igToken}},
	}
	if mod != nil {
		mod(&opts)
	}
	a, err := meta.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends a body to the handler, signed unless sig is given.
func post(h http.Handler, body []byte, sig *string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/meta", bytes.NewReader(body))
	s := meta.Sign(secret, body)
	if sig != nil {
		s = *sig
	}
	if s != "" {
		req.Header.Set(meta.SignatureHeader, s)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestHandshake(t *testing.T) {
	var desc struct {
		Query          map[string]string `json:"query"`
		ExpectedStatus int               `json:"expected_status"`
		ExpectedBody   string            `json:"expected_body"`
	}
	if err := json.Unmarshal(fixture(t, "messenger_verify_request.json"), &desc); err != nil {
		t.Fatal(err)
	}
	h := newAdapter(t, "", nil).WebhookHandler(&recorder{}, nil)
	with := func(k, v string) url.Values {
		q := url.Values{}
		for k, v := range desc.Query {
			q.Set(k, v)
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	tests := []struct {
		name   string
		q      url.Values
		status int
		body   string
	}{
		{"documented request", with("", ""), desc.ExpectedStatus, desc.ExpectedBody},
		{"wrong verify token", with("hub.verify_token", "meatyhamhocks"), 403, ""},
		{"no verify token", with("hub.verify_token", ""), 403, ""},
		{"other mode", with("hub.mode", "unsubscribe"), 403, ""},
		{"no challenge", with("hub.challenge", ""), 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhooks/meta?"+tc.q.Encode(), nil))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q, want the challenge %q", w.Body, tc.body)
			}
			if tc.status != 200 && strings.Contains(w.Body.String(), desc.Query["hub.challenge"]) {
				t.Error("a refused handshake echoed the challenge")
			}
		})
	}
}

// TestSignature: fixtures are re-signed at test time; anything not signed
// with the app secret over these exact bytes is refused and stores nothing.
func TestSignature(t *testing.T) {
	body := fixture(t, "messenger_message_text.json")
	tampered := bytes.Replace(body, []byte("#1234"), []byte("#9999"), 1)
	wrong := meta.Sign("other-secret", body)
	upper := "sha256=" + strings.ToUpper(strings.TrimPrefix(meta.Sign(secret, body), "sha256="))
	sha1 := "sha1=" + strings.TrimPrefix(meta.Sign(secret, body), "sha256=")[:40]
	empty := ""
	good := meta.Sign(secret, body)
	goodForOriginal := &good
	tests := []struct {
		name   string
		body   []byte
		sig    *string
		status int
		stored int
	}{
		{"signed fixture", body, nil, 200, 1},
		{"tampered copy", tampered, goodForOriginal, 401, 0},
		{"wrong secret", body, &wrong, 401, 0},
		{"no signature", body, &empty, 401, 0},
		{"sha1 only", body, &sha1, 401, 0},
		{"upper-case hex", body, &upper, 200, 1},
		{"signed garbage", []byte(`{"object":`), nil, 400, 0},
		{"too large", append(bytes.Repeat([]byte(" "), meta.MaxWebhookBody), body...), nil, 413, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := newAdapter(t, "", nil).WebhookHandler(rec, nil)
			w := post(h, tc.body, tc.sig)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			if rec.count() != tc.stored {
				t.Errorf("stored %d events, want %d", rec.count(), tc.stored)
			}
		})
	}
}

func TestNoSecretRefusesEverything(t *testing.T) {
	if _, err := meta.New(meta.Options{VerifyToken: "v", Accounts: []meta.Account{{ID: "1", Token: "t"}}}); err == nil {
		t.Fatal("an adapter without app secret must not exist")
	}
	if meta.VerifySignature("", []byte("{}"), meta.Sign("", []byte("{}"))) {
		t.Fatal("an empty secret verified a signature")
	}
}

func TestFixtures(t *testing.T) {
	a := newAdapter(t, "", nil)
	t.Run("messenger text", func(t *testing.T) {
		rec := &recorder{}
		if w := post(a.WebhookHandler(rec, nil), fixture(t, "messenger_message_text.json"), nil); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		if len(rec.inbound) != 1 {
			t.Fatalf("inbound %+v", rec.inbound)
		}
		ev := rec.inbound[0]
		want := bridge.InboundEvent{Kind: bridge.EventMessage, Platform: bridge.PlatformMessenger,
			Account: bridge.UpsertAccountParams{ExternalID: pageID}, Thread: "6789012345678901", Source: bridge.SourceDM,
			Sender:            bridge.UpsertIdentityParams{ExternalUserID: "6789012345678901"},
			PlatformMessageID: "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
			Text:              "Hi, my order #1234 hasn't arrived yet", Timestamp: time.UnixMilli(1732379999876).UTC()}
		if !equalEvent(ev, want) {
			t.Errorf("got  %+v\nwant %+v", ev, want)
		}
	})
	t.Run("instagram text", func(t *testing.T) {
		rec := &recorder{}
		if w := post(a.WebhookHandler(rec, nil), fixture(t, "instagram_message_text.json"), nil); w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
		if len(rec.inbound) != 1 || rec.inbound[0].Platform != bridge.PlatformInstagram || rec.inbound[0].Thread != "1234567890123456" ||
			rec.inbound[0].Text != "Do you ship to Canada?" || rec.inbound[0].Account.ExternalID != igID {
			t.Errorf("inbound %+v", rec.inbound)
		}
	})
}

func equalEvent(a, b bridge.InboundEvent) bool {
	a.Timestamp, b.Timestamp = a.Timestamp.UTC(), b.Timestamp.UTC()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func messaging(sender, recipient string, fields string) string {
	return `{"sender":{"id":"` + sender + `"},"recipient":{"id":"` + recipient + `"},"timestamp":1732379999876,` + fields + `}`
}

func TestParseKinds(t *testing.T) {
	a := newAdapter(t, "", nil)
	const psid = "6789012345678901"
	in := func(fields string) string { return messaging(psid, pageID, fields) }
	echo := func(fields string) string { return messaging(pageID, psid, fields) }
	tests := []struct {
		name  string
		event string
		check func(t *testing.T, p meta.Parsed)
	}{
		{"image, video, audio, file", in(`"message":{"mid":"m1","attachments":[
			{"type":"image","payload":{"url":"https://scontent.xx.fbcdn.net/v/t1/photo_123.jpg?_nc_sig=x"}},
			{"type":"video","payload":{"url":"https://video.xx.fbcdn.net/v/clip.mp4?oe=1"}},
			{"type":"audio","payload":{"url":"https://cdn.fbsbx.com/v/audioclip-1.mp4"}},
			{"type":"file","payload":{"url":"https://cdn.fbsbx.com/v/invoice.pdf"}}]}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Inbound
				var kinds, names []string
				for _, at := range ev.Attachments {
					kinds, names = append(kinds, at.Kind), append(names, at.Name)
				}
				if strings.Join(kinds, ",") != "photo,video,audio,document" || strings.Join(names, ",") != "photo_123.jpg,clip.mp4,audioclip-1.mp4,invoice.pdf" {
					t.Errorf("attachments %+v", ev.Attachments)
				}
				if !strings.HasPrefix(ev.Attachments[0].PlatformRef, "https://scontent.xx.fbcdn.net/") {
					t.Errorf("ref %q", ev.Attachments[0].PlatformRef)
				}
			}},
		{"sticker", in(`"message":{"mid":"m2","attachments":[{"type":"image","payload":{"url":"https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png","sticker_id":369239263222822}}]}`),
			func(t *testing.T, p meta.Parsed) {
				if at := one(t, p).Inbound.Attachments; len(at) != 1 || at[0].Kind != "sticker" {
					t.Errorf("attachments %+v", at)
				}
			}},
		{"shared post and fallback link", in(`"message":{"mid":"m3","text":"look","attachments":[
			{"type":"share","payload":{"url":"https://www.facebook.com/acme/posts/1"}},
			{"type":"fallback","title":"Acme sale","url":"https://acme.example/sale","payload":null}]}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Inbound
				want := "look\n[shared share] https://www.facebook.com/acme/posts/1\n[shared fallback] Acme sale https://acme.example/sale"
				if ev.Text != want || len(ev.Attachments) != 0 {
					t.Errorf("text %q, attachments %+v", ev.Text, ev.Attachments)
				}
			}},
		{"quick reply", in(`"message":{"mid":"m4","text":"Track my order","quick_reply":{"payload":"TRACK"}}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Text != "Track my order" || ev.PlatformMessageID != "m4" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"survey answer", in(`"message":{"mid":"m4s","text":"4 ★★★★","quick_reply":{"payload":"csat:12:4"}}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Inbound
				if ev.Kind != bridge.EventSurveyAnswer || ev.Survey == nil || ev.Survey.Data != "csat:12:4" || ev.DeliveryID != "csat:m4s" || ev.Thread != psid {
					t.Errorf("event %+v", ev)
				}
			}},
		{"echo of our survey", echo(`"message":{"mid":"m4e","is_echo":true,"metadata":"threadline:survey","text":"How did we do?"}`),
			func(t *testing.T, p meta.Parsed) {
				if len(p.Events) != 0 || p.Ignored != 1 {
					t.Errorf("parsed %+v", p)
				}
			}},
		{"postback", in(`"postback":{"mid":"m5","title":"Get Started","payload":"GET_STARTED"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Text != "[tapped] Get Started" || ev.PlatformMessageID != "m5" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"postback without mid", in(`"postback":{"title":"","payload":"MENU_HELP"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Text != "[tapped] MENU_HELP" || ev.PlatformMessageID != "postback:"+psid+":1732379999876" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"edit", in(`"message_edit":{"mid":"m1","text":"order #1235, sorry","num_edit":1}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Kind != bridge.EventEdit || ev.PlatformMessageID != "m1" || ev.Text != "order #1235, sorry" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"echo of our send", echo(`"message":{"mid":"m6","is_echo":true,"app_id":100200300,"metadata":"threadline:msg:42","text":"On its way"}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Outbound
				if ev == nil || ev.OurMessageID != 42 || ev.Thread != psid || ev.Customer.ExternalUserID != psid || ev.Text != "On its way" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"echo of an inbox reply", echo(`"message":{"mid":"m7","is_echo":true,"app_id":263902037430900,"text":"Hi, Jo here"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Outbound; ev == nil || ev.OurMessageID != 0 || ev.PlatformMessageID != "m7" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"echo with someone else's metadata", echo(`"message":{"mid":"m8","is_echo":true,"metadata":"bridge:slack:C123ABC456:1732380000.000100","text":"x"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Outbound; ev == nil || ev.OurMessageID != 0 {
					t.Errorf("event %+v", ev)
				}
			}},
		{"delivery, read and a deleted message", in(`"delivery":{"mids":["m6"],"watermark":1732379999000}`) + `,` +
			in(`"read":{"watermark":1732379999500}`) + `,` + in(`"message":{"mid":"m1","is_deleted":true}`),
			func(t *testing.T, p meta.Parsed) {
				if len(p.Events) != 2 || p.Ignored != 1 {
					t.Fatalf("parsed %+v", p)
				}
				d, r := p.Events[0].Receipt, p.Events[1].Receipt
				if d == nil || d.Status != bridge.ReceiptDelivered || strings.Join(d.PlatformMessageIDs, ",") != "m6" || d.Watermark.UnixMilli() != 1732379999000 || d.Thread != psid || d.Account != pageID {
					t.Errorf("delivery %+v", d)
				}
				if r == nil || r.Status != bridge.ReceiptSeen || len(r.PlatformMessageIDs) != 0 || r.Watermark.UnixMilli() != 1732379999500 || r.Thread != psid {
					t.Errorf("read %+v", r)
				}
			}},
		{"delivery without mids or watermark", in(`"delivery":{"watermark":0}`),
			func(t *testing.T, p meta.Parsed) {
				if len(p.Events) != 0 || p.Ignored != 1 {
					t.Errorf("parsed %+v", p)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"object":"page","entry":[{"id":"` + pageID + `","time":1732380000123,"messaging":[` + tc.event + `]}]}`
			w, err := meta.DecodeWebhook([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, a.Parse(w))
		})
	}
}

func one(t *testing.T, p meta.Parsed) meta.Event {
	t.Helper()
	if len(p.Events) != 1 {
		t.Fatalf("want one event, got %+v", p)
	}
	return p.Events[0]
}

// TestBatch: every event of every entry is stored, in order, before the
// 200; an entry of an account that is not connected is acknowledged and
// skipped; a failure to store answers 500 so Meta delivers again.
func TestBatch(t *testing.T) {
	body := []byte(`{"object":"page","entry":[
		{"id":"` + pageID + `","time":1,"messaging":[` + messaging("u1", pageID, `"message":{"mid":"a1","text":"one"}`) + `,` +
		messaging("u2", pageID, `"message":{"mid":"a2","text":"two"}`) + `]},
		{"id":"999000999","time":1,"messaging":[` + messaging("u3", "999000999", `"message":{"mid":"x1","text":"not ours"}`) + `]},
		{"id":"` + pageID + `","time":2,"messaging":[` + messaging("u1", pageID, `"message":{"mid":"a3","text":"three"}`) + `,` +
		messaging(pageID, "u1", `"message":{"mid":"a4","is_echo":true,"text":"four"}`) + `]}]}`)
	var logs bytes.Buffer
	a := newAdapter(t, "", func(o *meta.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	rec := &recorder{}
	if w := post(a.WebhookHandler(rec, nil), body, nil); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	var texts []string
	for _, ev := range rec.inbound {
		texts = append(texts, ev.Text)
	}
	if strings.Join(texts, ",") != "one,two,three" || len(rec.outbound) != 1 || rec.outbound[0].Text != "four" {
		t.Errorf("inbound %q outbound %+v", texts, rec.outbound)
	}
	if !strings.Contains(logs.String(), "account=999000999") {
		t.Errorf("no log line for the unknown account: %s", logs.String())
	}
	failing := &recorder{err: errors.New("database down")}
	if w := post(a.WebhookHandler(failing, nil), body, nil); w.Code != 500 {
		t.Errorf("store failure answered %d, want 500", w.Code)
	}
}

// TestProfileCached: the sender's name and picture come from the Graph API
// once, then from the cache.
func TestProfileCached(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{{ID: pageID, Token: token, Name: "Acme"}}})
	defer emu.Close()
	emu.AddCustomer(metatest.Customer{ID: "u1", Name: "Jo Doe", FirstName: "Jo", LastName: "Doe", ProfilePic: "https://scontent.xx.fbcdn.net/jo.jpg"})
	a := newAdapter(t, emu.URL(), nil)
	rec := &recorder{}
	h := a.WebhookHandler(rec, nil)
	for i, mid := range []string{"p1", "p2"} {
		body := metatest.Envelope("page", pageID, time.Now(), map[string]any{
			"sender": map[string]string{"id": "u1"}, "recipient": map[string]string{"id": pageID}, "timestamp": 1,
			"message": map[string]string{"mid": mid, "text": "hi"}})
		if w := post(h, body, nil); w.Code != 200 {
			t.Fatalf("message %d: status %d", i, w.Code)
		}
	}
	if len(rec.inbound) != 2 || rec.inbound[1].Sender.Name != "Jo Doe" || rec.inbound[1].Sender.AvatarURL != "https://scontent.xx.fbcdn.net/jo.jpg" {
		t.Errorf("inbound %+v", rec.inbound)
	}
	if n := emu.Calls("profile"); n != 1 {
		t.Errorf("%d profile lookups, want 1", n)
	}
	// A failed lookup stores the message anyway, without a name.
	emu.Inject(metatest.Fault{Kind: "profile", Count: 1, Status: 500, Code: 2})
	body := metatest.Envelope("page", pageID, time.Now(), map[string]any{
		"sender": map[string]string{"id": "u9"}, "recipient": map[string]string{"id": pageID}, "timestamp": 1,
		"message": map[string]string{"mid": "p3", "text": "hello?"}})
	if w := post(h, body, nil); w.Code != 200 || len(rec.inbound) != 3 || rec.inbound[2].Sender.Name != "" {
		t.Errorf("status %d inbound %+v", w.Code, rec.inbound)
	}
}

func TestDownloadFile(t *testing.T) {
	emu := metatest.New(metatest.Options{})
	defer emu.Close()
	u := emu.AddFile("invoice.pdf", []byte("%PDF-1.4"))
	a := newAdapter(t, emu.URL(), nil)
	name, body, err := a.DownloadFile(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(body)
	body.Close()
	if name != "invoice.pdf" || string(got) != "%PDF-1.4" {
		t.Errorf("%q %q", name, got)
	}
	if _, _, err := a.DownloadFile(t.Context(), emu.URL()+"/cdn/expired.jpg"); !bridge.IsPermanent(err) {
		t.Errorf("expired link: %v, want permanent", err)
	}
	if _, _, err := a.DownloadFile(t.Context(), "file:///etc/passwd"); !bridge.IsPermanent(err) {
		t.Errorf("file URL: %v, want permanent refusal", err)
	}
}

// TestProfileBudget: while the Graph API is slow, a batch of new customers
// is stored without names once the lookup budget is spent, and they are
// looked up again with their next message rather than marked as failed.
func TestProfileBudget(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{{ID: pageID, Token: token, Name: "Acme"}}})
	defer emu.Close()
	for _, id := range []string{"n1", "n2", "n3"} {
		emu.AddCustomer(metatest.Customer{ID: id, Name: "Name " + id})
	}
	emu.Inject(metatest.Fault{Kind: "profile", Count: 1, Status: 500, Code: 2, Delay: 300 * time.Millisecond})
	a := newAdapter(t, emu.URL(), func(o *meta.Options) { o.ProfileBudget = 100 * time.Millisecond })
	rec := &recorder{}
	h := a.WebhookHandler(rec, nil)
	var events []string
	for i, id := range []string{"n1", "n2", "n3"} {
		events = append(events, messaging(id, pageID, `"message":{"mid":"b`+string(rune('0'+i))+`","text":"hi"}`))
	}
	body := []byte(`{"object":"page","entry":[{"id":"` + pageID + `","time":1,"messaging":[` + strings.Join(events, ",") + `]}]}`)
	if w := post(h, body, nil); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if n := emu.Calls("profile"); n != 1 {
		t.Errorf("%d lookups, want 1 before the budget ran out", n)
	}
	rec.mu.Lock()
	stored := len(rec.inbound)
	rec.mu.Unlock()
	if stored != 3 {
		t.Fatalf("stored %d of 3", stored)
	}
	next := metatest.Envelope("page", pageID, time.Now(), map[string]any{
		"sender": map[string]string{"id": "n2"}, "recipient": map[string]string{"id": pageID}, "timestamp": 2,
		"message": map[string]string{"mid": "b9", "text": "hello?"}})
	if w := post(h, next, nil); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := rec.inbound[3].Sender.Name; got != "Name n2" {
		t.Errorf("next message named %q, want the profile's name", got)
	}
}

// TestReceiptFixtures: Meta's documented delivery, read and seen payloads,
// signed, become receipts of the customer's thread.
func TestReceiptFixtures(t *testing.T) {
	tests := []struct {
		file      string
		status    bridge.ReceiptStatus
		thread    string
		ids       string
		watermark int64
	}{
		{"messenger_message_deliveries.json", bridge.ReceiptDelivered, "6789012345678901", "m_1457764197618:41d102a3e1ae206a38", 1732380059000},
		{"messenger_message_reads.json", bridge.ReceiptSeen, "6789012345678901", "", 1732380120253},
		{"instagram_messaging_seen.json", bridge.ReceiptSeen, "1234567890123456", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODE3MzI4NjE4MDY3NzQ1Mw", 1732380180000},
	}
	a := newAdapter(t, "", nil)
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rec := &recorder{}
			if w := post(a.WebhookHandler(rec, nil), fixture(t, tc.file), nil); w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			if len(rec.receipts) != 1 || rec.count() != 0 {
				t.Fatalf("receipts %+v, other events %d", rec.receipts, rec.count())
			}
			r := rec.receipts[0]
			if r.Status != tc.status || r.Thread != tc.thread || strings.Join(r.PlatformMessageIDs, ",") != tc.ids || r.Watermark.UnixMilli() != tc.watermark {
				t.Errorf("receipt %+v", r)
			}
		})
	}
}
