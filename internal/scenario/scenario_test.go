// Package scenario runs one customer story against every chat surface:
// the same customer messages, the same agent actions, the same outcomes,
// through `serve`'s real wiring, the platforms' and surfaces' emulators
// and the real HTTP endpoints.
package scenario

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/adapters/telegram/telegramtest"
	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/chatops/slack/slacktest"
	"github.com/threadline/threadline/chatops/teams/teamstest"
	"github.com/threadline/threadline/internal/app"
	"github.com/threadline/threadline/internal/config"
)

// agent is a teammate, known to each surface by its own id.
type agent struct {
	name            string
	slackID, teamID string
}

var (
	ann = agent{name: "Ann", slackID: "U0ANN", teamID: "29:ann"}
	bob = agent{name: "Bob", slackID: "U0BOB", teamID: "29:bob"}
)

// card is what a conversation's card shows, read back from the surface.
type card struct {
	number   string
	status   bridge.Status
	priority string // P1 to P4
	assignee string // "" when unassigned
}

// surface drives one chat surface as agents use it.
type surface interface {
	// card waits until the conversation's card satisfies cond.
	card(t *testing.T, cond func(card) bool) card
	// press presses a card button (claim, resolve, reopen).
	press(t *testing.T, a agent, verb string)
	// say writes a thread message the way agents of the surface do when
	// they answer the customer.
	say(t *testing.T, a agent, text string)
	// note writes an internal note in the thread.
	note(t *testing.T, a agent, text string)
	// ask writes a thread message addressed to a teammate.
	ask(t *testing.T, a, teammate agent, text string)
	// command runs a text command on the thread's conversation; mention,
	// when set, is written after the command as the surface writes a
	// mention picked from its @ menu.
	command(t *testing.T, a agent, text string, mention *agent)
	// refused waits until the agent was told, only them, why an action was
	// refused.
	refused(t *testing.T, a agent, contains string)
	// waitDelivered waits until the agent's reply is marked delivered.
	waitDelivered(t *testing.T, text string)
	// threadHas waits until the thread shows a message containing text.
	threadHas(t *testing.T, text string)
}

type rig struct {
	ctx  context.Context
	tg   *telegramtest.Server
	sl   *slacktest.Server
	em   *teamstest.Server
	base string
}

func start(t *testing.T, defaultSurface string) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	r := &rig{ctx: ctx, tg: telegramtest.New(telegramtest.Options{}), sl: slacktest.New(slacktest.Options{}), em: teamstest.New(teamstest.Options{})}
	t.Cleanup(r.tg.Close)
	t.Cleanup(r.sl.Close)
	t.Cleanup(r.em.Close)
	r.sl.SetUserName(ann.slackID, ann.name)
	r.sl.SetUserName(bob.slackID, bob.name)
	env := map[string]string{
		"THREADLINE_DATA_DIR":                  t.TempDir(),
		"THREADLINE_TELEGRAM_BOT_TOKEN":        r.tg.Token(),
		"THREADLINE_TELEGRAM_API_URL":          r.tg.URL(),
		"THREADLINE_TELEGRAM_CHAT_INTERVAL":    "10ms",
		"THREADLINE_SLACK_BOT_TOKEN":           r.sl.Token(),
		"THREADLINE_SLACK_SIGNING_SECRET":      "sign",
		"THREADLINE_SLACK_CHANNEL":             "C0INBOX",
		"THREADLINE_SLACK_API_URL":             r.sl.URL(),
		"THREADLINE_SLACK_POST_INTERVAL":       "10ms",
		"THREADLINE_SLACK_UPDATE_INTERVAL":     "10ms",
		"THREADLINE_TEAMS_APP_ID":              r.em.AppID(),
		"THREADLINE_TEAMS_APP_PASSWORD":        r.em.AppPassword(),
		"THREADLINE_TEAMS_TENANT_ID":           r.em.TenantID(),
		"THREADLINE_TEAMS_CHANNEL":             r.em.Channel(),
		"THREADLINE_TEAMS_SERVICE_URL":         r.em.ServiceURL(),
		"THREADLINE_TEAMS_OPENID_METADATA_URL": r.em.MetadataURL(),
		"THREADLINE_TEAMS_TOKEN_URL":           r.em.TokenURL(),
		"THREADLINE_DEFAULT_SURFACE":           defaultSurface,
	}
	cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{TelegramPollTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.base = "http://" + ln.Addr().String()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, ln) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

var customer = telegramtest.User{ID: 501, FirstName: "Alice", LastName: "Doe", Username: "alice_d"}

// TestScenario is the story every surface must tell alike.
func TestScenario(t *testing.T) {
	for _, name := range []string{"slack", "teams"} {
		t.Run(name, func(t *testing.T) {
			r := start(t, name)
			var s surface
			if name == "slack" {
				s = &slackSurface{r: r, client: &slacktest.Client{BaseURL: r.base, SigningSecret: "sign"}}
			} else {
				s = &teamsSurface{r: r}
			}
			story(t, r, s)
		})
	}
}

func story(t *testing.T, r *rig, s surface) {
	send := func(text string) {
		t.Helper()
		if _, _, err := r.tg.CustomerSends(r.ctx, customer, telegramtest.Message{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	// The customer writes: a thread with an open, unassigned card.
	send("Hi, my order hasn't arrived")
	c := s.card(t, func(c card) bool { return c.status == bridge.StatusOpen && c.assignee == "" && c.number != "" })
	send("It was due Monday")
	s.threadHas(t, "It was due Monday")

	// Ann claims with the card's button.
	s.press(t, ann, "claim")
	s.card(t, func(c card) bool { return c.assignee == ann.name })

	// Bob cannot claim it from under her.
	s.press(t, bob, "claim")
	s.refused(t, bob, "already claimed by Ann")

	// Ann answers; a note and a question to Bob stay internal.
	s.say(t, ann, "Sorry! A replacement ships today.")
	s.note(t, ann, "offered a voucher")
	s.ask(t, ann, bob, "can you double-check stock?")
	sent, err := r.tg.WaitSent(r.ctx, customer.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0].Text != "Sorry! A replacement ships today." {
		t.Errorf("customer got %q", sent[0].Text)
	}
	s.waitDelivered(t, "Sorry! A replacement ships today.")
	s.card(t, func(c card) bool { return c.status == bridge.StatusPending && c.assignee == ann.name })

	// The customer answers: open again; Ann resolves with a command.
	send("Thanks, got the tracking number")
	s.card(t, func(c card) bool { return c.status == bridge.StatusOpen })
	s.command(t, ann, "resolve", nil)
	s.card(t, func(c card) bool { return c.status == bridge.StatusResolved })
	// Reopen with the button, raise the priority and hand it to Bob.
	s.press(t, ann, "reopen")
	s.card(t, func(c card) bool { return c.status == bridge.StatusOpen && c.assignee == ann.name })
	s.command(t, ann, "priority p1", nil)
	s.card(t, func(c card) bool { return c.priority == "P1" })
	s.command(t, ann, "assign", &bob)
	s.card(t, func(c card) bool { return c.assignee == bob.name && c.priority == "P1" })

	if got := r.tg.Sent(customer.ID); len(got) != 1 {
		t.Errorf("customer received %d messages, want only the reply: %+v", len(got), got)
	}
	_ = c
}

// --- Slack ---

type slackSurface struct {
	r      *rig
	client *slacktest.Client
	parent slacktest.Message
}

var (
	slackAssignee = regexp.MustCompile(`Assigned to ([^·*]+?)\s*(?:·|$)`)
	slackPriority = regexp.MustCompile(`· (P[1-4]) ·`)
)

func (s *slackSurface) card(t *testing.T, cond func(card) bool) card {
	t.Helper()
	var got card
	err := s.r.sl.WaitFor(s.r.ctx, func(sl *slacktest.Server) bool {
		for _, m := range sl.Messages("C0INBOX") {
			if m.ThreadTS != "" {
				continue
			}
			s.parent = m
			blocks, _ := json.Marshal(m.Blocks)
			text := string(blocks)
			got = card{number: slackNumber(m)}
			for st, label := range map[bridge.Status]string{bridge.StatusOpen: "Open", bridge.StatusPending: "Waiting for customer", bridge.StatusResolved: "Resolved", bridge.StatusClosed: "Closed"} {
				if strings.Contains(text, ":"+map[bridge.Status]string{bridge.StatusOpen: "large_green_circle", bridge.StatusPending: "hourglass", bridge.StatusResolved: "white_check_mark", bridge.StatusClosed: "lock"}[st]+": "+label) {
					got.status = st
				}
			}
			if m := slackAssignee.FindStringSubmatch(text); m != nil {
				got.assignee = m[1]
			}
			if m := slackPriority.FindStringSubmatch(text); m != nil {
				got.priority = m[1]
			}
			return cond(got)
		}
		return false
	})
	if err != nil {
		t.Fatalf("slack card: %v (last: %+v)", err, got)
	}
	return got
}

func slackNumber(p slacktest.Message) string {
	var blocks []struct {
		Elements []struct {
			Value string `json:"value"`
		} `json:"elements"`
	}
	b, _ := json.Marshal(p.Blocks)
	_ = json.Unmarshal(b, &blocks)
	for _, bl := range blocks {
		for _, e := range bl.Elements {
			if e.Value != "" {
				return e.Value
			}
		}
	}
	return ""
}

func (s *slackSurface) press(t *testing.T, a agent, verb string) {
	t.Helper()
	code, body, err := s.client.SendAction(s.r.ctx, slacktest.Action{TeamID: s.r.sl.TeamID(), UserID: a.slackID, UserName: a.name, Channel: "C0INBOX",
		MessageTS: s.parent.TS, ActionID: "threadline_" + verb, Value: slackNumber(s.parent)})
	if err != nil || code != 200 {
		t.Fatalf("slack %s: %d %s %v", verb, code, body, err)
	}
}

func (s *slackSurface) post(t *testing.T, a agent, text string) {
	t.Helper()
	m := s.r.sl.AddUserMessage("C0INBOX", s.parent.TS, a.slackID, text)
	if _, code, err := s.client.SendMessageEvent(s.r.ctx, s.r.sl.TeamID(), m); err != nil || code != 200 {
		t.Fatalf("slack event: %d %v", code, err)
	}
}

func (s *slackSurface) say(t *testing.T, a agent, text string)  { s.post(t, a, text) }
func (s *slackSurface) note(t *testing.T, a agent, text string) { s.post(t, a, "note: "+text) }
func (s *slackSurface) ask(t *testing.T, a, mate agent, text string) {
	s.post(t, a, "<@"+mate.slackID+"> "+text)
}

func (s *slackSurface) command(t *testing.T, a agent, text string, mention *agent) {
	t.Helper()
	verb, args, _ := strings.Cut(text, " ")
	line := strings.TrimSpace(verb + " " + slackNumber(s.parent) + " " + args)
	if mention != nil {
		line += " <@" + mention.slackID + "|" + mention.name + ">"
	}
	code, body, err := s.client.SendCommand(s.r.ctx, slacktest.Command{TeamID: s.r.sl.TeamID(), UserID: a.slackID, UserName: a.name,
		Channel: "C0INBOX", Text: line})
	if err != nil || code != 200 {
		t.Fatalf("slack command: %d %s %v", code, body, err)
	}
}

func (s *slackSurface) refused(t *testing.T, a agent, contains string) {
	t.Helper()
	if err := s.r.sl.WaitFor(s.r.ctx, func(sl *slacktest.Server) bool {
		for _, e := range sl.Ephemerals() {
			if e.User == a.slackID && strings.Contains(e.Text, contains) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("slack: %s was not told %q: %v (%+v)", a.name, contains, err, s.r.sl.Ephemerals())
	}
}

func (s *slackSurface) waitDelivered(t *testing.T, text string) {
	t.Helper()
	if err := s.r.sl.WaitFor(s.r.ctx, func(sl *slacktest.Server) bool {
		for _, m := range sl.Messages("C0INBOX") {
			if m.Text == text && len(m.Reactions) > 0 && m.Reactions[0] == "white_check_mark" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("slack delivered mark: %v", err)
	}
}

func (s *slackSurface) threadHas(t *testing.T, text string) {
	t.Helper()
	if err := s.r.sl.WaitFor(s.r.ctx, func(sl *slacktest.Server) bool {
		for _, m := range sl.Messages("C0INBOX") {
			if m.ThreadTS == s.parent.TS && strings.Contains(m.Text, text) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("slack thread lacks %q: %v", text, err)
	}
}

var _ = tlslack.ActionClaim

// --- Teams ---

type teamsSurface struct {
	r    *rig
	root teamstest.Message
	told map[string][]string // invoke answers shown to one person, by user id
}

func (s *teamsSurface) user(a agent) teamstest.User {
	return teamstest.User{ID: a.teamID, Name: a.name}
}

func (s *teamsSurface) card(t *testing.T, cond func(card) bool) card {
	t.Helper()
	var got card
	err := s.r.em.WaitFor(s.r.ctx, func(em *teamstest.Server) bool {
		roots := em.Roots()
		if len(roots) == 0 {
			return false
		}
		s.root = roots[0]
		got = teamsCard(s.root.Card)
		return cond(got)
	})
	if err != nil {
		t.Fatalf("teams card: %v (last: %+v)", err, got)
	}
	return got
}

func teamsCard(raw json.RawMessage) card {
	var c struct {
		Body []struct {
			Facts []struct {
				Title, Value string
			} `json:"facts"`
		} `json:"body"`
	}
	_ = json.Unmarshal(raw, &c)
	var out card
	for _, b := range c.Body {
		for _, f := range b.Facts {
			switch f.Title {
			case "Conversation":
				out.number = strings.TrimPrefix(f.Value, "#")
			case "Priority":
				out.priority = f.Value
			case "Assignee":
				if f.Value != "Unassigned" {
					out.assignee = f.Value
				}
			case "Status":
				for st, label := range map[bridge.Status]string{bridge.StatusOpen: "Open", bridge.StatusPending: "Waiting for customer", bridge.StatusResolved: "Resolved", bridge.StatusClosed: "Closed"} {
					if strings.HasSuffix(f.Value, " "+label) {
						out.status = st
					}
				}
			}
		}
	}
	return out
}

// press sends the Action.Execute invoke Teams sends for a button, and
// checks the answer carries the updated card or a refusal.
func (s *teamsSurface) press(t *testing.T, a agent, verb string) {
	t.Helper()
	n := teamsCard(s.root.Card).number
	code, body, err := s.r.em.PressButton(s.r.ctx, s.r.base+"/teams/messages", s.root.ConversationID, s.root.ID, s.user(a), verb, map[string]string{"verb": verb, "conversation": n})
	if err != nil || code != 200 {
		t.Fatalf("teams %s: %d %s %v", verb, code, body, err)
	}
	var res struct {
		StatusCode int             `json:"statusCode"`
		Type       string          `json:"type"`
		Value      json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.StatusCode != 200 {
		t.Fatalf("teams %s answer: %s %v", verb, body, err)
	}
	switch res.Type {
	case "application/vnd.microsoft.card.adaptive":
		if c := teamsCard(res.Value); c.number != n {
			t.Errorf("teams %s answered a card of %q", verb, c.number)
		}
	case "application/vnd.microsoft.activity.message":
		var text string
		_ = json.Unmarshal(res.Value, &text)
		if s.told == nil {
			s.told = map[string][]string{}
		}
		s.told[a.teamID] = append(s.told[a.teamID], text)
	default:
		t.Errorf("teams %s answered type %q", verb, res.Type)
	}
}

func (s *teamsSurface) post(t *testing.T, a agent, text string, mentions ...agent) {
	t.Helper()
	var users []teamstest.User
	for _, m := range mentions {
		users = append(users, s.user(m))
	}
	act := s.r.em.UserMessage(s.root.ConversationID, s.user(a), text, true, users...)
	if code, body, err := s.r.em.Send(s.r.ctx, s.r.base+"/teams/messages", act); err != nil || code != 200 {
		t.Fatalf("teams message: %d %s %v", code, body, err)
	}
}

// Without the ChannelMessage.Read.Group permission agents address the bot.
func (s *teamsSurface) say(t *testing.T, a agent, text string)  { s.post(t, a, text) }
func (s *teamsSurface) note(t *testing.T, a agent, text string) { s.post(t, a, "note "+text) }
func (s *teamsSurface) ask(t *testing.T, a, mate agent, text string) {
	s.post(t, a, text, mate)
}
func (s *teamsSurface) command(t *testing.T, a agent, text string, mention *agent) {
	if mention != nil {
		s.post(t, a, text+" <at>"+mention.name+"</at>", *mention)
		return
	}
	s.post(t, a, text)
}

// refused: a button's refusal is the invoke's answer, shown to the one who
// pressed.
func (s *teamsSurface) refused(t *testing.T, a agent, contains string) {
	t.Helper()
	for _, m := range s.told[a.teamID] {
		if strings.Contains(m, contains) {
			return
		}
	}
	t.Fatalf("teams: %s was not told %q (told %q)", a.name, contains, s.told[a.teamID])
}

func (s *teamsSurface) waitDelivered(t *testing.T, text string) {
	t.Helper()
	if err := s.r.em.WaitFor(s.r.ctx, func(em *teamstest.Server) bool {
		var agentMsg string
		for _, m := range em.Messages(s.root.ConversationID) {
			if !m.FromBot && strings.Contains(m.Text, text) {
				agentMsg = m.ID
			}
			if agentMsg != "" && m.FromBot && m.ReplyToID == agentMsg && strings.Contains(m.Text, "Delivered") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("teams delivered mark: %v", err)
	}
}

func (s *teamsSurface) threadHas(t *testing.T, text string) {
	t.Helper()
	if err := s.r.em.WaitFor(s.r.ctx, func(em *teamstest.Server) bool {
		for _, m := range em.Messages(s.root.ConversationID) {
			if m.FromBot && strings.Contains(m.Text, text) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("teams thread lacks %q: %v", text, err)
	}
}
