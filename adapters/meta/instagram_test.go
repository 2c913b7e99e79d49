package meta_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
)

func TestParseInstagram(t *testing.T) {
	a := newAdapter(t, "", nil)
	const igsid = "1234567890123456"
	in := func(fields string) string { return messaging(igsid, igID, fields) }
	tests := []struct {
		name  string
		event string
		check func(t *testing.T, p meta.Parsed)
	}{
		{"story reply", in(`"message":{"mid":"ig1","text":"love this!","reply_to":{"story":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1790&signature=x","id":"17900000000000042"}}}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Inbound
				if ev.Platform != bridge.PlatformInstagram || ev.Text != "[replied to your story] https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1790&signature=x\nlove this!" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"story mention", in(`"message":{"mid":"ig2","attachments":[{"type":"story_mention","payload":{"url":"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=555"}}]}`),
			func(t *testing.T, p meta.Parsed) {
				ev := one(t, p).Inbound
				if !strings.HasPrefix(ev.Text, "[mentioned you in their story] https://lookaside.fbsbx.com/") || len(ev.Attachments) != 1 ||
					ev.Attachments[0].Kind != "story" || ev.Attachments[0].Name != "story.jpg" {
					t.Errorf("event %+v", ev)
				}
			}},
		{"shared reel", in(`"message":{"mid":"ig3","attachments":[{"type":"ig_reel","payload":{"url":"https://www.instagram.com/reel/abc","title":"Unboxing"}}]}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; ev.Text != "[shared ig_reel] Unboxing https://www.instagram.com/reel/abc" {
					t.Errorf("text %q", ev.Text)
				}
			}},
		{"unsupported", in(`"message":{"mid":"ig4","is_unsupported":true}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Inbound; !strings.Contains(ev.Text, "Meta does not pass on") {
					t.Errorf("text %q", ev.Text)
				}
			}},
		{"echo", messaging(igID, igsid, `"message":{"mid":"ig5","is_echo":true,"metadata":"threadline:msg:7","text":"thanks!"}`),
			func(t *testing.T, p meta.Parsed) {
				if ev := one(t, p).Outbound; ev == nil || ev.Platform != bridge.PlatformInstagram || ev.OurMessageID != 7 || ev.Thread != igsid {
					t.Errorf("event %+v", ev)
				}
			}},
		{"reaction", in(`"reaction":{"mid":"ig1","action":"react","reaction":"love","emoji":"❤"}`),
			func(t *testing.T, p meta.Parsed) {
				if len(p.Events) != 0 || p.Ignored != 1 {
					t.Errorf("parsed %+v", p)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"object":"instagram","entry":[{"id":"` + igID + `","time":1732380000123,"messaging":[` + tc.event + `]}]}`
			w, err := meta.DecodeWebhook([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, a.Parse(w))
		})
	}
}

// TestInstagramSend: replies to Instagram go to /me/messages with the
// account's token, within Instagram's 1000-byte limit, and the customer's
// name and handle come from the Instagram profile.
func TestInstagramSend(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{{ID: igID, Token: igToken, Name: "acme.shop", Instagram: true}}})
	defer emu.Close()
	a := newAdapter(t, emu.URL(), func(o *meta.Options) { o.Accounts = []meta.Account{{ID: igID, Token: igToken}} })
	rec := &recorder{}
	srv := httptest.NewServer(a.WebhookHandler(rec, nil))
	defer srv.Close()
	if err := emu.Subscribe(t.Context(), srv.URL, verify); err != nil {
		t.Fatal(err)
	}
	cust := metatest.Customer{ID: "ig-c1", Name: "Rae Sun", Username: "rae.sun", ProfilePic: "https://scontent.cdninstagram.com/rae.jpg"}
	if _, err := emu.CustomerSends(t.Context(), igID, cust, metatest.Message{Text: "do you ship to Canada?", StoryURL: "https://www.instagram.com/stories/acme.shop/1"}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	inbound := append([]bridge.InboundEvent(nil), rec.inbound...)
	rec.mu.Unlock()
	if len(inbound) != 1 {
		t.Fatalf("inbound %+v", inbound)
	}
	ev := inbound[0]
	if ev.Platform != bridge.PlatformInstagram || ev.Sender.Name != "Rae Sun" || ev.Sender.Handle != "rae.sun" ||
		!strings.HasPrefix(ev.Text, "[replied to your story] https://www.instagram.com/stories/acme.shop/1") {
		t.Errorf("inbound %+v", ev)
	}
	ig := a.For(bridge.PlatformInstagram)
	m := bridge.OutboundMessage{Account: bridge.Account{ExternalID: igID}, ThreadExternalID: "ig-c1", MessageID: 9, Text: "We do!", LastInboundAt: time.Now()}
	res, err := ig.Send(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	sent := emu.Sent("ig-c1")
	if len(sent) != 1 || sent[0].Text != "We do!" || sent[0].MID != res.PlatformMessageID || sent[0].Metadata != "threadline:msg:9" {
		t.Errorf("sent %+v", sent)
	}
	m.Text = strings.Repeat("é", 501) // 1002 bytes
	if _, err := ig.Send(t.Context(), m); !bridge.IsPermanent(err) || !strings.Contains(err.Error(), "1000-byte") {
		t.Errorf("over the byte limit: %v", err)
	}
	if ig.Limits().MaxTextLength != meta.InstagramMaxTextBytes || a.For(bridge.PlatformMessenger).Limits().MaxTextLength != meta.MessengerMaxText {
		t.Error("limits")
	}
}
