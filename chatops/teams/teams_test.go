package teams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/threadline/threadline/adapters/telegram"
	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/cardtest"
	"github.com/threadline/threadline/chatops/teams"
	"github.com/threadline/threadline/chatops/teams/teamstest"
	"github.com/threadline/threadline/internal/testclock"
	"github.com/threadline/threadline/internal/testlog"
	"github.com/threadline/threadline/store/ratelimit"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

func TestRenderCardGolden(t *testing.T) {
	for _, tc := range cardtest.Cases() {
		got, err := json.MarshalIndent(map[string]any{"summary": teams.CardText(tc.Card), "card": teams.RenderCard(tc.Card)}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		cardtest.Golden(t, "testdata", tc.Name, got)
	}
}

func TestMessageTextEscapes(t *testing.T) {
	got := teams.MessageText(bridge.MessageView{SenderName: "<at>Eve</at>", Message: bridge.Message{
		Direction: bridge.Inbound, Text: "<at>General</at> <a href=\"https://evil.test\">x</a>\nline 2"}})
	want := "<b>&lt;at&gt;Eve&lt;/at&gt;:</b> &lt;at&gt;General&lt;/at&gt; &lt;a href=&#34;https://evil.test&#34;&gt;x&lt;/a&gt;<br>line 2"
	if got != want {
		t.Errorf("MessageText = %q\nwant %q", got, want)
	}
	// Coalesced messages follow one a line, escaped alike.
	got = teams.MessageText(bridge.MessageView{SenderName: "Alice", Message: bridge.Message{Direction: bridge.Inbound, Text: "one"},
		More: []bridge.Message{{Text: "two <b>"}, {Text: "three", Attachments: []bridge.Attachment{{Kind: "photo"}}}}})
	if want := "<b>Alice:</b> one<br>two &lt;b&gt;<br>three<br>📎 photo"; got != want {
		t.Errorf("coalesced MessageText = %q\nwant %q", got, want)
	}
}

func TestDecodeActivityFixture(t *testing.T) {
	body, err := os.ReadFile("testdata/activity_thread_mention.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := teams.DecodeActivity(body)
	if err != nil {
		t.Fatal(err)
	}
	channel, root, ok := teams.ThreadRoot(a.Conversation.ID)
	if !ok || channel != "19:4a95f7d8db4c4e7fae857bcebe0623e6@thread.tacv2" || root != "1732380000000" {
		t.Errorf("thread root of %q: %q %q %v", a.Conversation.ID, channel, root, ok)
	}
	if a.TenantID() != "72f988bf-86f1-41af-91ab-2d7cd011db47" || a.From.AADObjectID == "" {
		t.Errorf("activity %+v", a)
	}
	if len(a.Entities) == 0 || a.Entities[0].Mentioned == nil || a.Entities[0].Mentioned.ID != "28:00000000-1111-2222-3333-444444444444" {
		t.Errorf("mention entity lost its id: %+v", a.Entities)
	}
	for _, bad := range []string{
		`{}`, `{"type":"message"}`, `{"type":"message","serviceUrl":"ftp://x","conversation":{"id":"c"},"from":{"id":"u"}}`,
		`{"type":"message","serviceUrl":"https://user:pw@x/","conversation":{"id":"c"},"from":{"id":"u"}}`,
		`{"type":"message","serviceUrl":"https://x/","conversation":{"id":"c"}}`, `[1]`, `{"type":1}`,
	} {
		if _, err := teams.DecodeActivity([]byte(bad)); !errors.Is(err, bridge.ErrInvalidInput) {
			t.Errorf("DecodeActivity(%s) = %v, want ErrInvalidInput", bad, err)
		}
	}
}

func FuzzDecodeActivity(f *testing.F) {
	if b, err := os.ReadFile("testdata/activity_thread_mention.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"type":"invoke","name":"adaptiveCard/action","serviceUrl":"https://x/","conversation":{"id":"c;messageid=1"},"from":{"id":"u"},"value":{"action":{"verb":"claim"}}}`))
	f.Add([]byte(`{"type":"conversationUpdate","serviceUrl":"https://x/","conversation":{"id":"c"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := teams.DecodeActivity(body)
		if err != nil {
			return
		}
		if a.Type == "" || a.Conversation == nil || a.Conversation.ID == "" || a.ServiceURL == "" {
			t.Errorf("accepted an activity without type, conversation or serviceUrl: %s", body)
		}
		if (a.Type == teams.TypeMessage || a.Type == teams.TypeInvoke) && (a.From == nil || a.From.ID == "") {
			t.Errorf("accepted a %s without sender: %s", a.Type, body)
		}
		_, _, _ = teams.ThreadRoot(a.Conversation.ID)
		_ = a.TenantID()
	})
}

// TestInboundTokens: every request is authenticated before its body is
// read; a bad token gets 401 and a log line, whatever the body.
func TestInboundTokens(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	logs := &testlog.Buffer{}
	learned := map[string]string{}
	h := teams.NewHandler(teams.HandlerOptions{Auth: newValidator(em, nil), AppID: em.AppID(), TenantID: em.TenantID(),
		Learner: learnerFunc(func(_ context.Context, tenant, url string) error { learned[tenant] = url; return nil }), Logger: logs.Logger()})
	r := chi.NewRouter()
	h.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	endpoint := srv.URL + "/teams/messages"
	ctx := context.Background()
	user := teamstest.User{ID: "29:ann", Name: "Ann"}
	activity := em.UserMessage(em.Channel()+";messageid=1", user, "hello", true)
	spec := func(f func(*teamstest.TokenSpec)) string {
		s := em.ValidSpec()
		f(&s)
		return "Bearer " + em.ChannelToken(s)
	}
	unendorsed := em.UserMessage(em.Channel()+";messageid=1", user, "hello", true)
	unendorsed["channelId"] = "telegram"
	tests := []struct {
		name, auth string
		body       any
		want       int
	}{
		{"tampered", "Bearer " + strings.Replace(em.ChannelToken(em.ValidSpec()), ".", ".x", 1), activity, 401},
		{"expired", spec(func(s *teamstest.TokenSpec) { s.Expires = time.Now().Add(-time.Hour) }), activity, 401},
		{"wrong audience", spec(func(s *teamstest.TokenSpec) { s.Audience = "someone-else" }), activity, 401},
		{"wrong serviceurl", spec(func(s *teamstest.TokenSpec) { s.ServiceURL = "https://evil.test/" }), activity, 401},
		{"forged", spec(func(s *teamstest.TokenSpec) { s.ForeignKey = true }), activity, 401},
		{"no token", "", activity, 401},
		{"garbage body, no token", "", []byte(`{not json`), 401},
		{"key not endorsed for the channel", "Bearer " + em.ChannelToken(em.ValidSpec()), unendorsed, 401},
		{"garbage body, good token", "Bearer " + em.ChannelToken(em.ValidSpec()), []byte(`{not json`), 400},
		{"good", "Bearer " + em.ChannelToken(em.ValidSpec()), activity, 200},
	}
	for _, tc := range tests {
		before := strings.Count(logs.String(), "teams request rejected")
		code, body, err := teamstest.Deliver(ctx, endpoint, tc.body, tc.auth)
		if err != nil {
			t.Fatal(err)
		}
		if code != tc.want {
			t.Errorf("%s: HTTP %d %s, want %d", tc.name, code, body, tc.want)
		}
		if rejected := strings.Count(logs.String(), "teams request rejected") > before; rejected != (tc.want == 401) {
			t.Errorf("%s: log line written = %v, want %v\n%s", tc.name, rejected, tc.want == 401, logs.String())
		}
	}
	if learned[em.TenantID()] != em.ServiceURL() {
		t.Errorf("service url not learned from the valid activity: %v", learned)
	}
	if strings.Contains(logs.String(), em.ChannelToken(em.ValidSpec())[:40]) {
		t.Error("a token reached the log")
	}
}

type learnerFunc func(ctx context.Context, tenant, url string) error

func (f learnerFunc) Learn(ctx context.Context, tenant, url string) error { return f(ctx, tenant, url) }

func newConnector(em *teamstest.Server) *teams.Connector {
	return &teams.Connector{Tokens: &teams.TokenSource{AppID: em.AppID(), Password: em.AppPassword(), TokenURL: em.TokenURL()}}
}

func TestConnectorErrors(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	c := newConnector(em)
	ctx := context.Background()
	params := func() teams.ConversationParameters {
		a := teams.Activity{Type: teams.TypeMessage, Text: "root"}
		return teams.ConversationParameters{IsGroup: true, TenantID: em.TenantID(), Activity: &a,
			ChannelData: &teams.ChannelData{Channel: &teams.IDName{ID: em.Channel()}}}
	}
	res, err := c.CreateConversation(ctx, em.ServiceURL(), params())
	if err != nil || res.ID != em.Channel()+";messageid="+res.ActivityID {
		t.Fatalf("create: %+v %v", res, err)
	}
	em.AddFault(teamstest.Fault{Op: "replyToActivity", Count: 1, Code: 429, RetryAfter: 3 * time.Second})
	_, err = c.ReplyToActivity(ctx, em.ServiceURL(), res.ID, res.ActivityID, teams.Activity{Type: teams.TypeMessage, Text: "x"})
	var retry *bridge.RetryAfterError
	if !errors.As(err, &retry) || retry.After != 3*time.Second {
		t.Errorf("429: %v, want retry after 3s", err)
	}
	for _, code := range []int{412, 502, 504, 500} {
		em.AddFault(teamstest.Fault{Op: "replyToActivity", Count: 1, Code: code})
		_, err = c.ReplyToActivity(ctx, em.ServiceURL(), res.ID, res.ActivityID, teams.Activity{Type: teams.TypeMessage, Text: "x"})
		var ce *teams.ConnectorError
		if err == nil || bridge.IsPermanent(err) || errors.As(err, &retry) || !errors.As(err, &ce) || ce.StatusCode != code {
			t.Errorf("%d: %v, want a retryable ConnectorError", code, err)
		}
	}
	_, err = c.ReplyToActivity(ctx, em.ServiceURL(), "19:nope@thread.tacv2;messageid=1", "1", teams.Activity{Type: teams.TypeMessage, Text: "x"})
	if !bridge.IsPermanent(err) || !strings.Contains(err.Error(), "ConversationNotFound") {
		t.Errorf("unknown conversation: %v, want permanent with the connector's code", err)
	}
	id, err := c.ReplyToActivity(ctx, em.ServiceURL(), res.ID, res.ActivityID, teams.Activity{Type: teams.TypeMessage, Text: "ok"})
	if err != nil || id == "" {
		t.Fatalf("reply: %q %v", id, err)
	}
	if err := c.UpdateActivity(ctx, em.ServiceURL(), res.ID, id, teams.Activity{Type: teams.TypeMessage, Text: "edited"}); err != nil {
		t.Fatal(err)
	}
	// One token served every call.
	if n := em.Calls("token"); n != 1 {
		t.Errorf("token fetched %d times, want 1 (cached)", n)
	}
	bad := &teams.Connector{Tokens: &teams.TokenSource{AppID: em.AppID(), Password: "wrong-password", TokenURL: em.TokenURL()}}
	_, err = bad.CreateConversation(ctx, em.ServiceURL(), params())
	if !bridge.IsPermanent(err) || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("bad credentials: %v, want permanent without the password", err)
	}
}

// rig: Telegram emulator -> adapter -> bridge (SQLite, River) -> Teams
// surface -> connector emulator.
type rig struct {
	t      *testing.T
	ctx    context.Context
	tg     *telegramtest.Server
	em     *teamstest.Server
	store  *sqlite.Store
	b      *bridge.Bridge
	teams  *teams.Surface
	h      *teams.Handler
	botURL string
}

var alice = telegramtest.User{ID: 501, FirstName: "Alice", LastName: "Doe", Username: "alice_d"}

func newRig(t *testing.T, em *teamstest.Server, store *sqlite.Store, serviceURL string) *rig {
	return newRigWith(t, em, nil, store, serviceURL, nil)
}

func newRigWith(t *testing.T, em *teamstest.Server, tg *telegramtest.Server, store *sqlite.Store, serviceURL string, roles teams.RoleSource) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if tg == nil {
		tg = telegramtest.New(telegramtest.Options{})
		t.Cleanup(tg.Close)
	}
	tga, err := telegram.New(telegram.Options{Token: tg.Token(), APIURL: tg.URL(), WebhookSecret: "tg-secret", MinChatInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := teams.NewSurface(teams.Options{AppID: em.AppID(), TenantID: em.TenantID(), Channel: em.Channel(), ServiceURL: serviceURL,
		Connector: newConnector(em), ServiceURLs: teams.StoreServiceURLs{Store: store}, ThreadInterval: time.Millisecond, AppInterval: time.Microsecond})
	b := bridge.New(store, bridge.Options{Surfaces: []bridge.Surface{bridge.SurfaceTeams}, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	b.AddPlatform(tga)
	b.AddSurface(s)
	h := teams.NewHandler(teams.HandlerOptions{Auth: newValidator(em, nil), Learner: s, AppID: em.AppID(), TenantID: em.TenantID(),
		Bridge: b, Teller: s, ReplyMode: replyMode(t), Roles: roles, Reports: b})
	r := chi.NewRouter()
	h.Routes(r)
	r.Method("POST", "/webhooks/telegram", tga.WebhookHandler(b, nil))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	open.StartWorkers(ctx, t, store, b)
	if err := tg.SetWebhook(ctx, srv.URL+"/webhooks/telegram", "tg-secret"); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, ctx: ctx, tg: tg, em: em, store: store, b: b, teams: s, h: h, botURL: srv.URL + "/teams/messages"}
}

func (r *rig) customer(text string) {
	r.t.Helper()
	if _, _, err := r.tg.CustomerSends(r.ctx, alice, telegramtest.Message{Text: text}); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) wait(what string, cond func(s *teamstest.Server) bool) {
	r.t.Helper()
	if err := r.em.WaitFor(r.ctx, cond); err != nil {
		dump, _ := json.MarshalIndent(r.em.Messages(""), "", "  ")
		r.t.Fatalf("%s: %v\nteams: %s", what, err, dump)
	}
}

func (r *rig) root() teamstest.Message {
	r.t.Helper()
	r.wait("thread root", func(s *teamstest.Server) bool { return len(s.Roots()) > 0 })
	return r.em.Roots()[0]
}

func cardFacts(t *testing.T, m teamstest.Message) map[string]string {
	t.Helper()
	var card struct {
		Body []struct {
			Type  string `json:"type"`
			Facts []struct {
				Title string `json:"title"`
				Value string `json:"value"`
			} `json:"facts"`
		} `json:"body"`
	}
	if err := json.Unmarshal(m.Card, &card); err != nil {
		t.Fatalf("card of %+v: %v", m, err)
	}
	facts := map[string]string{}
	for _, b := range card.Body {
		for _, f := range b.Facts {
			facts[f.Title] = f.Value
		}
	}
	return facts
}

func TestTelegramToTeamsThread(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	store := open.SQLite(t, sqlite.Options{})
	r := newRig(t, em, store, em.ServiceURL())
	r.customer("Hi, my order hasn't arrived")
	root := r.root()
	facts := cardFacts(t, root)
	if facts["Status"] != "🟢 Open" || facts["Assignee"] != "Unassigned" || facts["Platform"] != "Telegram" || facts["Conversation"] == "" {
		t.Errorf("card facts %v", facts)
	}
	if !strings.Contains(root.Summary, "Alice Doe on Telegram: Hi, my order hasn't arrived") {
		t.Errorf("card summary %q", root.Summary)
	}
	r.customer("It was due <b>Monday</b>")
	r.wait("second message in the thread", func(s *teamstest.Server) bool {
		for _, m := range s.Messages(root.ConversationID) {
			if m.ReplyToID == root.ID && strings.Contains(m.Text, "It was due &lt;b&gt;Monday&lt;/b&gt;") && m.TextFormat == "xml" {
				return true
			}
		}
		return false
	})

	// A claim from any surface updates the card in place.
	n, err := bridge.ParseConversationNumber(strings.TrimPrefix(facts["Conversation"], "#"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.b.Claim(r.ctx, bridge.DeliveryKey{}, bridge.Actor{Surface: bridge.SurfaceTeams, Workspace: em.TenantID(), UserID: "29:ann", Name: "Ann"}, bridge.ConversationRef{Number: n}); err != nil {
		t.Fatal(err)
	}
	r.wait("card shows the assignee", func(s *teamstest.Server) bool {
		for _, m := range s.Roots() {
			if m.ID == root.ID && m.Updates > 0 && cardFacts(t, m)["Assignee"] == "Ann" {
				return true
			}
		}
		return false
	})
	if len(em.Roots()) != 1 {
		t.Errorf("%d threads, want 1", len(em.Roots()))
	}
}

// TestProactiveAfterRestart: the thread reference and the tenant's service
// URL are in the store, so a new process posts into the existing thread.
func TestProactiveAfterRestart(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	path := filepath.Join(t.TempDir(), "threadline.db")
	store := open.SQLiteAt(t, sqlite.Options{Path: path})
	r := newRig(t, em, store, em.ServiceURL())
	// Teams tells the bot its tenant's service URL with every activity.
	code, body, err := em.Send(r.ctx, r.botURL, em.UserMessage(em.Channel()+";messageid=0", teamstest.User{ID: "29:ann", Name: "Ann"}, "hi", true))
	if err != nil || code != 200 {
		t.Fatalf("activity: %d %s %v", code, body, err)
	}
	r.customer("first")
	root := r.root()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := store.StopWorkers(sctx); err != nil {
		t.Fatal(err)
	}
	store.Close()
	// The new process is configured with a wrong service URL: only the
	// learned one, read from the store, reaches the connector.
	r = newRigWith(t, em, r.tg, open.SQLiteAt(t, sqlite.Options{Path: path}), "http://127.0.0.1:1/", nil)
	r.customer("after restart")
	r.wait("message after restart in the same thread", func(s *teamstest.Server) bool {
		for _, m := range s.Messages(root.ConversationID) {
			if strings.Contains(m.Text, "after restart") {
				return true
			}
		}
		return false
	})
}

func TestSendsArePacedPerThreadAndApp(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	c := testclock.New(time.Now())
	s := teams.NewSurface(teams.Options{AppID: em.AppID(), TenantID: em.TenantID(), Channel: em.Channel(), ServiceURL: em.ServiceURL(),
		Connector: newConnector(em), Limiter: ratelimit.NewLocal(c)})
	ctx := context.Background()
	card := cardtest.Cases()[0].Card
	t1, err := s.OpenThread(ctx, card, bridge.MessageView{})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	post := func(th bridge.ChatThread) error {
		_, err := s.PostMessage(ctx, th, bridge.MessageView{SenderName: "Ann", Message: bridge.Message{Direction: bridge.Outbound, Text: "hi"}})
		return err
	}
	if err := post(t1); err != nil {
		t.Fatal(err)
	}
	// The thread's budget: the next send waits half a second.
	var retry *bridge.RetryAfterError
	if err := post(t1); !errors.As(err, &retry) || retry.After != 500*time.Millisecond {
		t.Fatalf("second send to the thread: %v, want a 500ms wait", err)
	}
	// Another thread waits only for the app's budget (1/30 s).
	c.Advance(10 * time.Millisecond)
	if err := s.UpdateCard(ctx, bridge.ChatThread{Channel: "19:other@thread.tacv2;messageid=1", ThreadRef: "1"}, card); !errors.As(err, &retry) || retry.After > 30*time.Millisecond {
		t.Fatalf("send to another thread: %v, want a short app-level wait", err)
	}
	c.Advance(500 * time.Millisecond)
	if err := post(t1); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	if n := em.Calls("replyToActivity"); n != 2 {
		t.Errorf("%d replies reached the connector, want 2 (paced calls are not sent)", n)
	}
}

// TestThreadRateLimit: Teams answers 429 past about 7 sends a second to a
// thread; a burst of customer messages still arrives complete, in order,
// once each (messages waiting together may share one post).
func TestThreadRateLimit(t *testing.T) {
	em := teamstest.New(teamstest.Options{ThreadRate: 2})
	defer em.Close()
	r := newRig(t, em, open.SQLite(t, sqlite.Options{}), em.ServiceURL())
	r.customer("message 0")
	root := r.root()
	const n = 8
	shown := func() []string {
		var seen []string
		for _, m := range em.Messages(root.ConversationID) {
			if !m.IsRoot() {
				seen = append(seen, messageN.FindAllString(m.Text, -1)...)
			}
		}
		return seen
	}
	// One at a time, each its own post, faster than the thread allows.
	for i := 1; i < n; i++ {
		r.customer(fmt.Sprintf("message %d", i))
		r.wait("message shown", func(s *teamstest.Server) bool { return len(shown()) >= i })
	}
	// Nothing is left to send: then exactly n messages means none doubled.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pending int
		if err := r.store.InTx(r.ctx, func(ctx context.Context, tx bridge.Tx) error {
			for _, st := range []bridge.DeliveryStatus{bridge.DeliveryPending, bridge.DeliverySending} {
				n, err := tx.CountDeliveries(ctx, bridge.DeliveryFilter{Target: bridge.ChatTarget(bridge.SurfaceTeams), Status: st})
				if err != nil {
					return err
				}
				pending += n
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", pending)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline, not hoping
	}
	got := shown()
	if len(got) != n-1 {
		t.Fatalf("thread shows %v, want message 1 to %d once each", got, n-1)
	}
	for i, m := range got {
		if m != fmt.Sprintf("message %d", i+1) {
			t.Errorf("thread position %d shows %q", i, m)
		}
	}
	if em.RateLimited() == 0 {
		t.Error("the burst never hit the emulated rate limit; the test proves nothing")
	}
	t.Logf("429s answered: %d, posts: %d", em.RateLimited(), len(em.Messages(root.ConversationID)))
}

var messageN = regexp.MustCompile(`message \d+`)

// replyMode lets a test pick the reply mode by its name.
func replyMode(t *testing.T) string {
	if strings.Contains(t.Name(), "Explicit") {
		return teams.ReplyExplicit
	}
	return teams.ReplyAuto
}

func (r *rig) send(a teamstest.Activity) {
	r.t.Helper()
	code, body, err := r.em.Send(r.ctx, r.botURL, a)
	if err != nil || code != 200 {
		r.t.Fatalf("activity: %d %s %v", code, body, err)
	}
}

func (r *rig) botSaid(text string) {
	r.t.Helper()
	r.wait("bot says "+text, func(s *teamstest.Server) bool {
		for _, m := range s.Messages("") {
			if m.FromBot && strings.Contains(m.Text, text) {
				return true
			}
		}
		return false
	})
}

var (
	annT = teamstest.User{ID: "29:ann", Name: "Ann", AADObjectID: "aad-ann"}
	bobT = teamstest.User{ID: "29:bob", Name: "Bob"}
	sueT = teamstest.User{ID: "29:sue", Name: "Sue"}
)

// TestCardShowsTeamEscalationAndSnooze: the fields Slack's card shows
// follow the conversation on the Teams card as agents act in the thread.
func TestCardShowsTeamEscalationAndSnooze(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRigWith(t, em, nil, open.SQLite(t, sqlite.Options{}), em.ServiceURL(), teams.Roles{Supervisors: []string{sueT.ID}})
	r.customer("My card was charged twice")
	root := r.root()
	if f := cardFacts(t, root); f["Team"] != "" || f["Escalated"] != "" || f["Updated"] == "" {
		t.Errorf("new card facts %v", f)
	}
	card := func(what string, ok func(map[string]string) bool) map[string]string {
		t.Helper()
		var facts map[string]string
		r.wait(what, func(s *teamstest.Server) bool {
			for _, m := range s.Roots() {
				if m.ID == root.ID {
					facts = cardFacts(t, m)
					return ok(facts)
				}
			}
			return false
		})
		return facts
	}
	// Sue is known once she has acted: then escalations can reach her.
	r.send(em.UserMessage(root.ConversationID, sueT, "mine", true))
	r.botSaid("You have 0 open conversations")
	r.send(em.UserMessage(root.ConversationID, annT, "transfer #billing duplicate charge", true))
	card("team on the card", func(f map[string]string) bool { return f["Team"] == "billing" })
	r.send(em.UserMessage(root.ConversationID, annT, "escalate supervisor angry customer", true))
	f := card("escalation on the card", func(f map[string]string) bool { return f["Escalated"] == "🚨 supervisor" })
	if f["Assignee"] != "Sue" || f["Priority"] != "P2" {
		t.Errorf("escalated card facts %v", f)
	}
	r.send(em.UserMessage(root.ConversationID, sueT, "snooze 2h", true))
	f = card("snooze on the card", func(f map[string]string) bool { return strings.HasPrefix(f["Status"], "💤 Snoozed until ") })
	until, err := time.Parse("2006-01-02 15:04 UTC", strings.TrimPrefix(f["Status"], "💤 Snoozed until "))
	if err != nil || until.Before(time.Now().Add(time.Hour)) || until.After(time.Now().Add(3*time.Hour)) {
		t.Errorf("snoozed until %q (%v), want about 2 hours from now", f["Status"], err)
	}
	if f["Team"] != "billing" || f["Escalated"] != "🚨 supervisor" || f["Updated"] == "" {
		t.Errorf("snoozed card facts %v", f)
	}
}

// TestSupervisorVerbs: a supervisor's audit in a thread shows who changed
// what by name, and report answers with the figures; an agent is refused
// both.
func TestSupervisorVerbs(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRigWith(t, em, nil, open.SQLite(t, sqlite.Options{}), em.ServiceURL(), teams.Roles{Supervisors: []string{sueT.ID}})
	r.customer("Where is my order?")
	root := r.root()
	r.send(em.UserMessage(root.ConversationID, annT, "claim", true))
	r.send(em.UserMessage(root.ConversationID, annT, "tag refund", true))
	r.send(em.UserMessage(root.ConversationID, annT, "audit", true))
	r.botSaid("Audit is for supervisors, managers and admins")
	r.send(em.UserMessage(root.ConversationID, sueT, "audit", true))
	r.botSaid("Ann claimed: assignee nobody → Ann")
	r.botSaid("Ann tagged: tags none → refund")

	r.send(em.UserMessage(root.ConversationID, annT, "report 7d", true))
	r.botSaid("Report is for supervisors, managers and admins")
	r.send(em.UserMessage(root.ConversationID, sueT, "report 7d telegram nope", true))
	r.botSaid("Unexpected &#34;nope&#34;")
	r.send(em.UserMessage(root.ConversationID, sueT, "report 7d telegram", true))
	r.botSaid("Threadline report · last 7 days · Telegram")
	r.botSaid("1 conversations, 0 resolved, 1 open")
	r.botSaid("By agent**<br>- Ann: 1 conversations")
	for _, m := range em.Messages("") {
		if m.FromBot && strings.Contains(m.Text, "Threadline report") && strings.Count(m.Text, "Threadline report") != 1 {
			t.Errorf("report told twice in one message: %s", m.Text)
		}
	}
}

// TestThreadMessages: messages the bot sees without being mentioned (the
// ChannelMessage.Read.Group permission) and those addressed to it follow
// Slack's reply-safety rule; commands use the shared grammar.
func TestThreadMessages(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRig(t, em, open.SQLite(t, sqlite.Options{}), em.ServiceURL())
	r.customer("Where is my order?")
	root := r.root()
	n := cardFacts(t, root)["Conversation"]

	// With the permission: a plain message goes to the customer, twice
	// delivered by Teams but sent once.
	plain := em.UserMessage(root.ConversationID, annT, "It ships today &amp; arrives Friday.", false)
	r.send(plain)
	r.send(plain)
	// A note, a question to a teammate and a mention typed as text stay internal.
	r.send(em.UserMessage(root.ConversationID, annT, "note: VIP customer", false))
	r.send(em.UserMessage(root.ConversationID, annT, "can you check stock?", false, bobT))
	r.send(em.UserMessage(root.ConversationID, annT, "<at>Bob</at> typed, not picked", true))
	// Addressed to the bot: the bot's own mention is no teammate.
	r.send(em.UserMessage(root.ConversationID, annT, "reply Second answer, with <at>Bob</at> in it", true, bobT))
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "It ships today & arrives Friday." || sent[1].Text != "Second answer, with Bob in it" {
		t.Errorf("customer got %q and %q", sent[0].Text, sent[1].Text)
	}
	// A number that is not the thread's is refused, with an answer in the thread.
	r.send(em.UserMessage(root.ConversationID, annT, "claim 9999", true))
	r.botSaid("this thread is " + n)
	// A grammar error is explained, not sent.
	r.send(em.UserMessage(root.ConversationID, annT, "priority p9", true))
	r.botSaid("is not a priority")
	// Action.Submit fallback: a message carrying the button's data.
	submit := em.UserMessage(root.ConversationID, annT, "", false)
	submit["text"] = ""
	submit["value"] = map[string]string{"verb": "resolve", "conversation": strings.TrimPrefix(n, "#")}
	r.send(submit)
	r.wait("card shows resolved", func(s *teamstest.Server) bool {
		for _, m := range s.Roots() {
			if m.ID == root.ID && cardFacts(t, m)["Status"] == "✅ Resolved" {
				return true
			}
		}
		return false
	})
	// A supervisors' command is refused to an agent, not sent as a message.
	r.send(em.UserMessage(root.ConversationID, annT, "report 7d", true))
	r.botSaid("Report is for supervisors, managers and admins")
	// Help answers in the thread.
	r.send(em.UserMessage(root.ConversationID, annT, "help", true))
	r.botSaid("claim")
	if got := r.tg.Sent(alice.ID); len(got) != 2 {
		t.Errorf("customer received %d messages, want 2: %+v", len(got), got)
	}
}

func TestThreadMessagesExplicitMode(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRig(t, em, open.SQLite(t, sqlite.Options{}), em.ServiceURL())
	r.customer("Hello?")
	root := r.root()
	r.send(em.UserMessage(root.ConversationID, annT, "thinking out loud", true))
	r.send(em.UserMessage(root.ConversationID, annT, "also thinking", false))
	r.send(em.UserMessage(root.ConversationID, annT, "reply: Hello! How can I help?", false))
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "Hello! How can I help?" {
		t.Errorf("customer got %q", sent[0].Text)
	}
	if got := r.tg.Sent(alice.ID); len(got) != 1 {
		t.Errorf("customer received %d messages in explicit mode, want 1", len(got))
	}
}

func TestRoles(t *testing.T) {
	r := teams.Roles{Supervisors: []string{"29:sue"}, Managers: []string{"aad-max"}, Admins: []string{"29:ada"}}
	for _, tc := range []struct {
		u    teams.ChannelAccount
		want bridge.Role
	}{
		{teams.ChannelAccount{ID: "29:sue"}, bridge.RoleSupervisor},
		{teams.ChannelAccount{ID: "29:max", AADObjectID: "aad-max"}, bridge.RoleManager},
		{teams.ChannelAccount{ID: "29:ada"}, bridge.RoleAdmin},
		{teams.ChannelAccount{ID: "29:ann", AADObjectID: "aad-ann"}, bridge.RoleAgent},
		{teams.ChannelAccount{}, bridge.RoleAgent},
	} {
		if got := r.RoleOf(context.Background(), tc.u); got != tc.want {
			t.Errorf("RoleOf(%+v) = %q, want %q", tc.u, got, tc.want)
		}
	}
}

func TestOnlyTeamsActivitiesAct(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRig(t, em, open.SQLite(t, sqlite.Options{}), em.ServiceURL())
	r.customer("Hello")
	root := r.root()
	// A Web Chat user names themselves: never an agent.
	a := em.UserMessage(root.ConversationID, annT, "You have been refunded", false)
	a["channelId"] = "webchat"
	r.send(a)
	// Another tenant's activity changes nothing either.
	b := em.UserMessage(root.ConversationID, annT, "Also refunded", false)
	b["conversation"].(map[string]any)["tenantId"] = "another-tenant"
	b["channelData"].(map[string]any)["tenant"] = map[string]any{"id": "another-tenant"}
	r.send(b)
	// Then a real one goes through, and is the only one the customer gets.
	r.send(em.UserMessage(root.ConversationID, annT, "Real answer", false))
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Text != "Real answer" {
		t.Errorf("customer got %+v", sent)
	}
}

// TestMoreMenu: the card's More… list applies a command of the grammar
// through the same Action.Execute path; a choice for another conversation
// is refused.
func TestMoreMenu(t *testing.T) {
	em := teamstest.New(teamstest.Options{})
	defer em.Close()
	r := newRig(t, em, open.SQLite(t, sqlite.Options{}), em.ServiceURL())
	r.customer("Hello")
	root := r.root()
	n := strings.TrimPrefix(cardFacts(t, root)["Conversation"], "#")
	press := func(command string) (string, json.RawMessage) {
		t.Helper()
		code, body, err := em.PressButton(r.ctx, r.botURL, root.ConversationID, root.ID, annT, "more", map[string]string{"verb": "more", "conversation": n, "command": command})
		if err != nil || code != 200 {
			t.Fatalf("more %q: %d %s %v", command, code, body, err)
		}
		var res struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		return res.Type, res.Value
	}
	if typ, _ := press("priority " + n + " p1"); typ != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("priority answered %s", typ)
	}
	if got := cardFacts(t, em.Roots()[0])["Priority"]; got != "P1" {
		t.Errorf("card priority %q after the More choice", got)
	}
	if typ, v := press("priority 999999 p4"); typ != "application/vnd.microsoft.activity.message" || !strings.Contains(string(v), "not for") {
		t.Errorf("a choice for another conversation: %s %s", typ, v)
	}
	if typ, v := press("history " + n); typ != "application/vnd.microsoft.activity.message" || len(v) < 3 {
		t.Errorf("history answered %s %s", typ, v)
	}
	// Move to DM on a Telegram chat: refused in the answer, nothing sent.
	code, body, err := em.PressButton(r.ctx, r.botURL, root.ConversationID, root.ID, annT, "dm", map[string]string{"verb": "dm", "conversation": n})
	if err != nil || code != 200 || !strings.Contains(string(body), "not a public comment") {
		t.Errorf("Move to DM on Telegram: %d %s %v", code, body, err)
	}
	if got := r.tg.Sent(alice.ID); len(got) != 0 {
		t.Errorf("a refused Move to DM sent %+v", got)
	}
	if got := cardFacts(t, em.Roots()[0])["Priority"]; got != "P1" {
		t.Errorf("a refused or read-only choice changed the card: priority %q", got)
	}
	// Reply… and Note… send their text box through the same path.
	form := func(verb, text string) (string, json.RawMessage) {
		t.Helper()
		code, body, err := em.PressButton(r.ctx, r.botURL, root.ConversationID, root.ID, annT, verb, map[string]string{"verb": verb, "conversation": n, "text": text})
		if err != nil || code != 200 {
			t.Fatalf("%s: %d %s %v", verb, code, body, err)
		}
		var res struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		}
		_ = json.Unmarshal(body, &res)
		return res.Type, res.Value
	}
	if typ, v := form("reply", "  "); typ != "application/vnd.microsoft.activity.message" || !strings.Contains(string(v), "Write the reply") {
		t.Errorf("empty reply: %s %s", typ, v)
	}
	form("note", "checked the warehouse")
	form("reply", "It ships <today> & arrives Friday")
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Text != "It ships <today> & arrives Friday" {
		t.Errorf("customer got %+v", sent)
	}
	r.wait("reply and note shown in the thread", func(s *teamstest.Server) bool {
		var reply, note bool
		for _, m := range s.Messages(root.ConversationID) {
			reply = reply || strings.Contains(m.Text, "(agent): It ships &lt;today&gt; &amp; arrives Friday")
			note = note || strings.Contains(m.Text, "(internal note): checked the warehouse")
		}
		return reply && note
	})
}
