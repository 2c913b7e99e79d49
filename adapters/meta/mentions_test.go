package meta_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/threadline/threadline/adapters/meta"
	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/bridge"
)

// TestMentions: a mentions change carries only ids; what the comment or
// caption says is read from the Graph API before the mention is stored,
// as a conversation with source mention. A mention Meta no longer returns
// is stored with its ids; a Graph API failure answers 500 so Meta
// delivers it again.
func TestMentions(t *testing.T) {
	tests := []struct {
		name    string
		mention metatest.Mention
		fault   *metatest.Fault
		check   func(t *testing.T, ev bridge.InboundEvent, media, comment string)
	}{
		{name: "comment", mention: metatest.Mention{Username: "dana.bakes", Text: "@acme.shop my order never came", Permalink: "https://www.instagram.com/p/DaNa1/"},
			check: func(t *testing.T, ev bridge.InboundEvent, media, comment string) {
				want := "[mentioned you in a comment on https://www.instagram.com/p/DaNa1/ (@dana.bakes's post)]\n@acme.shop my order never came"
				if ev.Text != want || ev.Thread != "mention:"+media+":"+comment || ev.PlatformMessageID != "mention:"+media+":"+comment {
					t.Errorf("event %+v", ev)
				}
				if ev.Timestamp.IsZero() {
					t.Error("no time from the Graph API")
				}
			}},
		{name: "caption", mention: metatest.Mention{Username: "lee.outdoors", Text: "Best tent ever by @acme.shop", Caption: true},
			check: func(t *testing.T, ev bridge.InboundEvent, media, _ string) {
				if !strings.HasPrefix(ev.Text, "[mentioned you in the caption of https://www.instagram.com/p/"+media+"/]\nBest tent ever") ||
					ev.Sender.Handle != "lee.outdoors" || ev.Thread != "mention:"+media+":" {
					t.Errorf("event %+v", ev)
				}
			}},
		{name: "deleted before it was read", mention: metatest.Mention{Text: "x", Gone: true},
			check: func(t *testing.T, ev bridge.InboundEvent, media, _ string) {
				if !strings.Contains(ev.Text, "media "+media) || !strings.Contains(ev.Text, "Meta did not return it") {
					t.Errorf("event %+v", ev)
				}
			}},
		{name: "Graph API down once", mention: metatest.Mention{Username: "sam", Text: "hey @acme.shop"},
			fault: &metatest.Fault{Kind: "mention_lookup", Count: 1, Status: 500, Code: 2},
			check: func(t *testing.T, ev bridge.InboundEvent, _, _ string) {
				if !strings.Contains(ev.Text, "hey @acme.shop") {
					t.Errorf("event %+v", ev)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu := metatest.New(metatest.Options{WebhookRetryDelay: 1, Pages: []metatest.Page{{ID: igID, Token: igToken, Name: "acme.shop", Instagram: true}}})
			t.Cleanup(emu.Close)
			a := newAdapter(t, emu.URL(), func(o *meta.Options) { o.Accounts = []meta.Account{{ID: igID, Token: igToken}} })
			rec := &recorder{}
			srv := httptest.NewServer(a.WebhookHandler(rec, nil))
			t.Cleanup(srv.Close)
			if err := emu.Subscribe(t.Context(), srv.URL, verify); err != nil {
				t.Fatal(err)
			}
			if tc.fault != nil {
				emu.Inject(*tc.fault)
			}
			media, comment, err := emu.CustomerMentions(t.Context(), igID, tc.mention)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.inbound) != 1 {
				t.Fatalf("stored %d events, want 1: %+v", len(rec.inbound), rec.inbound)
			}
			ev := rec.inbound[0]
			if ev.Source != bridge.SourceMention || ev.Platform != bridge.PlatformInstagram {
				t.Errorf("source %s platform %s", ev.Source, ev.Platform)
			}
			tc.check(t, ev, media, comment)
			if tc.fault != nil && emu.Calls("mention_lookup") != 2 {
				t.Errorf("%d lookups, want the failed one and the redelivery's", emu.Calls("mention_lookup"))
			}
		})
	}
}
