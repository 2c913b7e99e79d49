package app_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
)

// TestMetaAccountsFromYAML: the YAML list of Meta accounts names a Page
// for the cards and opens its conversations in its own Slack channel,
// where agents answer them; an account without a channel uses the inbox.
func TestMetaAccountsFromYAML(t *testing.T) {
	emu := metatest.New(metatest.Options{Pages: []metatest.Page{
		{ID: "112233445566778", Token: "EAAPAGE", Name: "Acme Support"},
		{ID: "17841400000000001", Token: "IGTOKEN", Name: "acme.shop", Instagram: true},
	}})
	defer emu.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	yaml := `THREADLINE_META_ACCOUNTS:
  - id: 112233445566778
    token: EAAPAGE
    name: Acme Help Desk
    slack_channel: C0FBDESK
  - id: "17841400000000001"
    token: IGTOKEN
`
	path := filepath.Join(t.TempDir(), "threadline.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	serveMeta(t, ctx, emu, sl, path, nil)

	maya := metatest.Customer{ID: "6789012345678901", Name: "Maya Lopez"}
	if _, err := emu.CustomerSends(ctx, "112233445566778", maya, metatest.Message{Text: "where is my parcel?"}); err != nil {
		t.Fatal(err)
	}
	rae := metatest.Customer{ID: "1234567890123456", Name: "Rae Sun", Username: "rae.sun"}
	if _, err := emu.CustomerSends(ctx, "17841400000000001", rae, metatest.Message{Text: "in stock?"}); err != nil {
		t.Fatal(err)
	}
	parentIn := func(channel, text string) slacktest.Message {
		t.Helper()
		var p slacktest.Message
		if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
			for _, m := range s.Messages(channel) {
				if m.ThreadTS == "" && strings.Contains(m.Text, text) {
					p = m
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("no thread for %q in %s: %v", text, channel, err)
		}
		return p
	}
	fb := parentIn("C0FBDESK", "where is my parcel?")
	if blocks, _ := json.Marshal(fb.Blocks); !strings.Contains(string(blocks), "Messenger · Acme Help Desk") {
		t.Errorf("card without the configured name: %s", blocks)
	}
	ig := parentIn("C0INBOX", "in stock?")
	if blocks, _ := json.Marshal(ig.Blocks); !strings.Contains(string(blocks), "Instagram · acme.shop") {
		t.Errorf("card without the name from the Graph API: %s", blocks)
	}
	for _, m := range sl.Messages("C0INBOX") {
		if strings.Contains(m.Text, "where is my parcel?") {
			t.Errorf("the Page's conversation also reached the inbox: %q", m.Text)
		}
	}

	// An agent's reply in the Page's own channel reaches the customer.
	m := sl.AddUserMessage("C0FBDESK", fb.TS, "U0ANN", "It ships today.")
	envlp := slacktest.EventEnvelope(sl.TeamID(), "EvDesk1", map[string]any{"type": "message", "channel": "C0FBDESK",
		"user": "U0ANN", "text": m.Text, "ts": m.TS, "thread_ts": fb.TS})
	if err := sl.DeliverSocketEvent(ctx, envlp); err != nil {
		t.Fatal(err)
	}
	if sent, err := emu.WaitSent(ctx, maya.ID, 1); err != nil || sent[0].Text != "It ships today." {
		t.Fatalf("reply from the Page's channel: %+v %v", sent, err)
	}
}
