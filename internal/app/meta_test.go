package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/meta/metatest"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/testenv"
)

// shiftedClock is the emulator's clock, moved back to date a customer's
// message in the past.
type shiftedClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *shiftedClock) set(d time.Duration) {
	c.mu.Lock()
	c.shift = d
	c.mu.Unlock()
}

// TestMessengerEndToEnd runs serve with Messenger and Slack (Socket Mode):
// a customer's message becomes a Slack thread with their name, the agent's
// reply goes out through the Send API tagged with our id, its echo is not
// shown twice, a reply typed in Meta's inbox appears in the thread, and a
// reply outside Meta's window fails visibly without a call.
func TestMessengerEndToEnd(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) { testMessengerEndToEnd(t, store) })
	}
}

func testMessengerEndToEnd(t *testing.T, store string) {
	clock := &shiftedClock{}
	// On SQLite the echo beats the Send API's answer, as Meta's sometimes
	// does: only its metadata tells it apart from an inbox reply.
	emu := metatest.New(metatest.Options{Now: clock.Now, EchoFirst: store == "sqlite", Pages: []metatest.Page{
		{ID: "112233445566778", Token: "EAAPAGE", Name: "Acme Support"},
		{ID: "17841400000000001", Token: "IGTOKEN", Name: "acme.shop", Instagram: true},
	}})
	defer emu.Close()
	sl := slacktest.New(slacktest.Options{})
	defer sl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := map[string]string{}
	if store == "postgres" {
		env["THREADLINE_DATABASE_URL"] = testenv.PostgresURL(t)
		st, _, err := app.OpenStore(ctx, app.StoreOptions{DatabaseURL: env["THREADLINE_DATABASE_URL"]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	serveMeta(t, ctx, emu, sl, "", env)
	page := emu.Page().ID
	maya := metatest.Customer{ID: "6789012345678901", Name: "Maya Lopez", FirstName: "Maya", LastName: "Lopez"}
	if _, err := emu.CustomerSends(ctx, page, maya, metatest.Message{Text: "my parcel is lost"}); err != nil {
		t.Fatal(err)
	}
	parent := waitParent(t, ctx, sl, "my parcel is lost")
	if !strings.Contains(parent.Text, "Maya Lopez") || !strings.Contains(parent.Text, "Messenger") {
		t.Errorf("parent %q lacks the customer's name or platform", parent.Text)
	}

	agentSays(t, ctx, sl, parent.TS, "EvM1", "A new one ships today.")
	sent, err := emu.WaitSent(ctx, maya.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "A new one ships today." || sent[0].MessagingType != "RESPONSE" || !strings.HasPrefix(sent[0].Metadata, "threadline:msg:") {
		t.Errorf("sent %+v", sent[0])
	}
	emu.Settle() // the echo is in
	if _, err := emu.InboxReply(ctx, page, maya.ID, "Jo from the warehouse: found it!"); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		return findText(s.Messages("C0INBOX"), parent.TS, "Jo from the warehouse") != nil
	}); err != nil {
		t.Fatalf("inbox reply not shown: %v\n%+v", err, sl.Messages("C0INBOX"))
	}
	inbox := findText(sl.Messages("C0INBOX"), parent.TS, "Jo from the warehouse")
	if !strings.Contains(inbox.Text, "Acme Support, outside Threadline") {
		t.Errorf("inbox reply shown as %q", inbox.Text)
	}
	if n := countText(sl.Messages("C0INBOX"), parent.TS, "A new one ships today."); n != 1 {
		t.Errorf("the agent's reply is in the thread %d times; its echo must not add one", n)
	}
	if n := len(emu.Sent(maya.ID)); n != 2 { // our reply and the inbox reply
		t.Errorf("%d messages to the customer", n)
	}

	// Deliveries and reads: the agent's reply gets a mark for each, once,
	// however often Meta reports them. (A report that beats the recording
	// of the send marks it with Meta's next report, whose watermark covers
	// it: the send is recorded first here.)
	hasReaction := func(name string) func(s *slacktest.Server) bool {
		return func(s *slacktest.Server) bool {
			m := findText(s.Messages("C0INBOX"), parent.TS, "A new one ships today.")
			return m != nil && slices.Contains(m.Reactions, name)
		}
	}
	if err := sl.WaitFor(ctx, hasReaction("white_check_mark")); err != nil {
		t.Fatalf("the reply is not marked sent: %v", err)
	}
	if _, err := emu.CustomerGets(ctx, page, maya.ID); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitFor(ctx, hasReaction("incoming_envelope")); err != nil {
		t.Fatalf("no delivered mark: %v\n%+v", err, findText(sl.Messages("C0INBOX"), parent.TS, "A new one ships today."))
	}
	if err := emu.CustomerReads(ctx, page, maya.ID); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitFor(ctx, hasReaction("eyes")); err != nil {
		t.Fatalf("no seen mark: %v", err)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		m := findText(s.Messages("C0INBOX"), parent.TS, "Jo from the warehouse")
		return m != nil && slices.Contains(m.Reactions, "eyes")
	}); err != nil {
		t.Fatalf("the inbox reply, read too, has no seen mark: %v", err)
	}
	reactions := sl.Calls("reactions.add")
	if err := emu.CustomerReads(ctx, page, maya.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CustomerGets(ctx, page, maya.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CustomerSends(ctx, page, maya, metatest.Message{Text: "thanks!"}); err != nil {
		t.Fatal(err)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		return findText(s.Messages("C0INBOX"), parent.TS, "thanks!") != nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := sl.Calls("reactions.add"); n != reactions {
		t.Errorf("reports again of a delivery and a read added %d reactions", n-reactions)
	}

	// Instagram: a story reply becomes a thread with the story's link; the
	// reply goes back as an Instagram DM.
	rae := metatest.Customer{ID: "1234567890123456", Name: "Rae Sun", Username: "rae.sun"}
	if _, err := emu.CustomerSends(ctx, "17841400000000001", rae, metatest.Message{Text: "is this in stock?", StoryURL: "https://www.instagram.com/stories/acme.shop/42"}); err != nil {
		t.Fatal(err)
	}
	igParent := waitParent(t, ctx, sl, "is this in stock?")
	if !strings.Contains(igParent.Text, "Rae Sun") || !strings.Contains(igParent.Text, "Instagram") || !strings.Contains(igParent.Text, "stories/acme.shop/42") {
		t.Errorf("Instagram parent %q", igParent.Text)
	}
	agentSays(t, ctx, sl, igParent.TS, "EvI1", "Yes, all sizes.")
	if sent, err := emu.WaitSent(ctx, rae.ID, 1); err != nil || sent[0].Text != "Yes, all sizes." || sent[0].PageID != "17841400000000001" {
		t.Fatalf("Instagram reply: %+v %v", sent, err)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		m := findText(s.Messages("C0INBOX"), igParent.TS, "Yes, all sizes.")
		return m != nil && slices.Contains(m.Reactions, "white_check_mark")
	}); err != nil {
		t.Fatalf("the Instagram reply is not marked sent: %v", err)
	}
	if err := emu.CustomerReads(ctx, "17841400000000001", rae.ID); err != nil { // messaging_seen names the message
		t.Fatal(err)
	}
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		m := findText(s.Messages("C0INBOX"), igParent.TS, "Yes, all sizes.")
		return m != nil && slices.Contains(m.Reactions, "eyes")
	}); err != nil {
		t.Fatalf("no seen mark on the Instagram reply: %v", err)
	}

	// A Facebook comment: a thread naming the post; a reply goes under the
	// comment, "dm:" sends the private reply, and its echo (in Messenger)
	// opens nothing.
	jane := metatest.Customer{ID: "24242424242424242", Name: "Jane Customer"}
	comment, err := emu.CustomerComments(ctx, page, jane, metatest.NewComment{Text: "Still waiting on my refund...", Permalink: "https://www.facebook.com/acme/posts/pfbid0abc"})
	if err != nil {
		t.Fatal(err)
	}
	fbParent := waitParent(t, ctx, sl, "Still waiting on my refund")
	if !strings.Contains(fbParent.Text, "Facebook") || !strings.Contains(fbParent.Text, "posts/pfbid0abc") {
		t.Errorf("comment parent %q", fbParent.Text)
	}
	agentSays(t, ctx, sl, fbParent.TS, "EvF1", "Refund issued, see your inbox.")
	agentSays(t, ctx, sl, fbParent.TS, "EvF2", "dm: Here is your refund reference: R-77.")
	sentJane, err := emu.WaitSent(ctx, jane.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sentJane[0].Kind != "comment_reply" || sentJane[0].CommentID != comment || sentJane[1].Kind != "private_reply" || sentJane[1].Text != "Here is your refund reference: R-77." {
		t.Errorf("comment replies %+v", sentJane)
	}
	emu.Settle()
	// Hide the comment from the card's moderation button.
	clickCard(t, ctx, sl, fbParent, "threadline_hide")
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		return findText(s.Messages("C0INBOX"), fbParent.TS, "The comment was hidden") != nil
	}); err != nil {
		t.Fatalf("no moderation notice: %v\n%+v", err, sl.Messages("C0INBOX"))
	}
	if c, _ := emu.Comment(comment); !c.Hidden {
		t.Errorf("comment %+v, want hidden", c)
	}

	// A customer who last wrote 8 days ago: the reply is refused in the
	// thread, and Meta is not called.
	clock.set(-8 * 24 * time.Hour)
	old := metatest.Customer{ID: "7000000000000007", Name: "Old Timer"}
	if _, err := emu.CustomerSends(ctx, page, old, metatest.Message{Text: "anyone there?"}); err != nil {
		t.Fatal(err)
	}
	clock.set(0)
	oldParent := waitParent(t, ctx, sl, "anyone there?")
	calls := emu.Calls("messages")
	agentSays(t, ctx, sl, oldParent.TS, "EvM2", "Sorry for the wait!")
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		return findText(s.Messages("C0INBOX"), oldParent.TS, "messaging window") != nil
	}); err != nil {
		t.Fatalf("no refusal in the thread: %v\n%+v", err, sl.Messages("C0INBOX"))
	}
	if emu.Calls("messages") != calls || len(emu.Sent(old.ID)) != 0 {
		t.Errorf("a reply outside the window reached the Send API")
	}
	for _, m := range sl.Messages("C0INBOX") {
		if m.ThreadTS == "" && strings.Contains(m.Text, "R-77") {
			t.Errorf("the echo of a private reply opened a thread: %q", m.Text)
		}
	}
}

// serveMeta runs serve with the Graph API emulator's accounts and Slack in
// Socket Mode (inbox C0INBOX), subscribed to the emulator's webhooks, until
// the test ends. env adds or replaces settings; path is a YAML file or "".
func serveMeta(t *testing.T, ctx context.Context, emu *metatest.Server, sl *slacktest.Server, path string, env map[string]string) *app.App {
	t.Helper()
	all := map[string]string{
		"THREADLINE_DATA_DIR":            t.TempDir(),
		"THREADLINE_META_APP_SECRET":     emu.AppSecret(),
		"THREADLINE_META_VERIFY_TOKEN":   "verify-me",
		"THREADLINE_META_API_URL":        emu.URL(),
		"THREADLINE_SLACK_BOT_TOKEN":     sl.Token(),
		"THREADLINE_SLACK_APP_TOKEN":     "xapp-test",
		"THREADLINE_SLACK_CHANNEL":       "C0INBOX",
		"THREADLINE_SLACK_API_URL":       sl.URL(),
		"THREADLINE_SLACK_POST_INTERVAL": "1ms",
	}
	if path == "" {
		all["THREADLINE_META_ACCOUNTS"] = emu.Accounts()
	}
	for k, v := range env {
		all[k] = v
	}
	if path != "" {
		all["THREADLINE_CONFIG"] = path
	}
	r := serve(ctx, t, all, slog.New(slog.DiscardHandler), app.Options{})
	t.Cleanup(func() {
		emu.Settle() // before serve's own cleanup stops Run
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if err := sl.WaitSocket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := emu.Subscribe(ctx, r.base+"/webhooks/meta", "verify-me"); err != nil {
		t.Fatal(err)
	}
	return r.app
}

func waitParent(t *testing.T, ctx context.Context, sl *slacktest.Server, text string) slacktest.Message {
	t.Helper()
	var p slacktest.Message
	if err := sl.WaitFor(ctx, func(s *slacktest.Server) bool {
		for _, m := range s.Messages("C0INBOX") {
			if m.ThreadTS == "" && strings.Contains(m.Text, text) {
				p = m
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("no thread for %q: %v", text, err)
	}
	return p
}

func agentSays(t *testing.T, ctx context.Context, sl *slacktest.Server, threadTS, eventID, text string) {
	t.Helper()
	m := sl.AddUserMessage("C0INBOX", threadTS, "U0ANN", text)
	envlp := slacktest.EventEnvelope(sl.TeamID(), eventID, map[string]any{"type": "message", "channel": "C0INBOX",
		"user": "U0ANN", "text": m.Text, "ts": m.TS, "thread_ts": threadTS})
	if err := sl.DeliverSocketEvent(ctx, envlp); err != nil {
		t.Fatal(err)
	}
}

func findText(msgs []slacktest.Message, threadTS, text string) *slacktest.Message {
	for _, m := range msgs {
		if m.ThreadTS == threadTS && strings.Contains(m.Text, text) {
			return &m
		}
	}
	return nil
}

func countText(msgs []slacktest.Message, threadTS, text string) int {
	n := 0
	for _, m := range msgs {
		if m.ThreadTS == threadTS && strings.Contains(m.Text, text) {
			n++
		}
	}
	return n
}

var cardNumber = regexp.MustCompile(`"value":"(\d+)"`)

// clickCard presses a card button over Socket Mode, as Slack delivers it.
func clickCard(t *testing.T, ctx context.Context, sl *slacktest.Server, parent slacktest.Message, actionID string) {
	t.Helper()
	blocks, _ := json.Marshal(parent.Blocks)
	if !strings.Contains(string(blocks), actionID) {
		t.Fatalf("card has no %s button: %s", actionID, blocks)
	}
	m := cardNumber.FindSubmatch(blocks)
	if m == nil {
		t.Fatalf("no conversation number on the card: %s", blocks)
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": "trig." + actionID,
		"user":      map[string]any{"id": "U0ANN", "username": "ann", "name": "ann", "team_id": sl.TeamID()},
		"team":      map[string]any{"id": sl.TeamID()},
		"channel":   map[string]any{"id": "C0INBOX"},
		"container": map[string]any{"type": "message", "message_ts": parent.TS, "channel_id": "C0INBOX"},
		"actions": []map[string]any{{"type": "button", "action_id": actionID, "block_id": "moderation", "value": string(m[1]),
			"action_ts": "1732380000.000001"}},
	})
	if _, err := sl.SendSocket(ctx, "interactive", payload, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}
