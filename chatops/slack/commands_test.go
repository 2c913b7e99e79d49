package slack_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/threadline/threadline/bridge"
	tlslack "github.com/threadline/threadline/chatops/slack"
	"github.com/threadline/threadline/chatops/slack/slacktest"
)

func TestSlackMentionSyntax(t *testing.T) {
	tests := []struct {
		in   string
		want bridge.Command
		err  string
	}{
		{"assign 1042 <@U0BOB|bob smith>", bridge.Command{Verb: bridge.VerbAssign, Conversation: bridge.ConversationRef{Number: 1042},
			Target: bridge.Mention{Kind: bridge.MentionUser, ID: "U0BOB", Name: "bob smith", Raw: "<@U0BOB|bob smith>"}}, ""},
		{"assign 1042 <@W0ENT>", bridge.Command{Verb: bridge.VerbAssign, Conversation: bridge.ConversationRef{Number: 1042},
			Target: bridge.Mention{Kind: bridge.MentionUser, ID: "W0ENT", Raw: "<@W0ENT>"}}, ""},
		{"transfer 1042 <#C0BILL|billing> refund <@U0ANN|ann> said so", bridge.Command{Verb: bridge.VerbTransfer, Conversation: bridge.ConversationRef{Number: 1042},
			Target: bridge.Mention{Kind: bridge.MentionTeam, ID: "C0BILL", Name: "billing", Raw: "<#C0BILL|billing>"}, Text: "refund <@U0ANN|ann> said so"}, ""},
		{"transfer 1042 <!subteam^S0SUP|@support-leads> over my head", bridge.Command{Verb: bridge.VerbTransfer, Conversation: bridge.ConversationRef{Number: 1042},
			Target: bridge.Mention{Kind: bridge.MentionTeam, ID: "S0SUP", Name: "support-leads", Raw: "<!subteam^S0SUP|@support-leads>"}, Text: "over my head"}, ""},
		{"assign 1042 <!here>", bridge.Command{}, "not a mention"},
		{"assign 1042 <@u0bob|x>", bridge.Command{}, "not a mention"},
		{"assign 1042 <https://evil.test|@ann>", bridge.Command{}, "not a mention"},
	}
	for _, tc := range tests {
		got, err := bridge.ParseCommandWith(tlslack.Syntax{}, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %+v %v, want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !equalCommands(got, tc.want) {
			t.Errorf("%q:\n got %+v %v\nwant %+v", tc.in, got, err, tc.want)
		}
	}
}

func equalCommands(a, b bridge.Command) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func FuzzSlackCommandText(f *testing.F) {
	for _, s := range []string{"assign 1042 <@U0BOB|bob>", "transfer 1 <!subteam^S1|@x> y", "<#C1|a", "<>", "tag 1 <@U1>", "note 1042 <@U1|a b> c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cmd, err := bridge.ParseCommandWith(tlslack.Syntax{}, in)
		if err != nil {
			return
		}
		if cmd.Target.ID != "" && strings.ContainsAny(cmd.Target.ID, "<>|@#! ") {
			t.Fatalf("%q: mention id %q", in, cmd.Target.ID)
		}
	})
}

func (r *rig) command(user, text string) string {
	r.t.Helper()
	code, body, err := r.client.SendCommand(r.ctx, slacktest.Command{TeamID: r.sl.TeamID(), UserID: user, UserName: strings.ToLower(user[2:]), Channel: channel, Text: text})
	if err != nil || code != 200 {
		r.t.Fatalf("/threadline %s: %d %v", text, code, err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return "" // answered with a form
	}
	var res struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.ResponseType != "ephemeral" {
		r.t.Fatalf("/threadline %s: %s %v", text, body, err)
	}
	return res.Text
}

func (r *rig) waitCard(parentTS, what string) {
	r.t.Helper()
	r.waitSlack("card shows "+what, func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.TS == parentTS && strings.Contains(string(mustJSON(m.Blocks)), what) {
				return true
			}
		}
		return false
	})
}

func (r *rig) waitEphemeral(user, what string) slacktest.Ephemeral {
	r.t.Helper()
	var found slacktest.Ephemeral
	r.waitSlack("ephemeral to "+user+": "+what, func(s *slacktest.Server) bool {
		for _, e := range s.Ephemerals() {
			if e.User == user && strings.Contains(e.Text, what) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func TestSlashCommandRefusals(t *testing.T) {
	r := newRigWith(t, rigOptions{replyMode: tlslack.ReplyAuto})
	r.customer("my parcel")
	parent := r.parent()
	n := number(parent)
	if got := r.command("U0ANN", "claim "+n); !strings.Contains(got, "You claimed") {
		t.Fatalf("claim: %q", got)
	}
	r.waitCard(parent.TS, "Assigned to ann")
	before := string(mustJSON(r.parent().Blocks))
	tests := []struct{ user, text, says string }{
		{"U0BOB", "resolve " + n, "Not done: " + "#" + n + " is assigned to ann; only they or a supervisor, manager or admin may resolve it."},
		{"U0BOB", "transfer " + n + " <#C0BILL|billing> refund", "may transfer it"},
		{"U0BOB", "audit " + n, "Not done: Audit is for supervisors, managers and admins."},
		{"U0BOB", "claim " + n, "already claimed by ann"},
		{"U0ANN", "assign " + n + " bob", `"bob" is not a mention of a teammate; pick them from the @ menu`},
		{"U0ANN", "assign " + n + " @bob", `"@bob" is only a name; mention the teammate`},
		{"U0ANN", "resolve 9999", "There is no conversation #9999."},
		{"U0ANN", "resolve", "Say which conversation: `/threadline resolve 1042 `"},
		{"U0ANN", "reopen " + n, "is open, not resolved"},
		{"U0ANN", "escalate " + n + " ceo", `"ceo" is not supervisor, manager or critical`},
		{"U0ANN", "snooze " + n + " forever", `"forever" is not a duration`},
		{"U0ANN", "frobnicate", `Unknown command "frobnicate"`},
	}
	for _, tc := range tests {
		if got := r.command(tc.user, tc.text); !strings.Contains(got, tc.says) {
			t.Errorf("%s /threadline %s:\n got %q\nwant %q", tc.user, tc.text, got, tc.says)
		}
	}
	if after := string(mustJSON(r.parent().Blocks)); after != before {
		t.Errorf("a refused command changed the card")
	}
	if got := r.tg.Sent(alice.ID); len(got) != 0 {
		t.Errorf("customer got %+v", got)
	}
	if help := r.command("U0ANN", "help"); !strings.Contains(help, "/threadline escalate 1042 supervisor|manager|critical reason") {
		t.Errorf("help: %q", help)
	}
}

func TestSlackCommandsChangeTheCard(t *testing.T) {
	for name, openStore := range map[string]func(*testing.T) rigStore{"sqlite": openSQLite, "postgres": openPostgres} {
		t.Run(name, func(t *testing.T) {
			r := newRigWith(t, rigOptions{replyMode: tlslack.ReplyAuto, openStore: openStore,
				roles:  tlslack.Roles{Supervisors: []string{"S0LEADS"}},
				groups: map[string][]string{"S0LEADS": {"U0SUE"}}, escalationChannel: "C0ESCALATE"})
			r.customer("my order never came")
			parent := r.parent()
			n := number(parent)
			if got := r.command("U0ANN", "assign "+n+" <@U0BOB|bob>"); !strings.Contains(got, "assigned to bob") {
				t.Fatalf("assign: %q", got)
			}
			r.waitCard(parent.TS, "Assigned to bob")
			r.command("U0BOB", "tag "+n+" refund vip")
			r.waitCard(parent.TS, "refund, vip")
			// The More select carries a whole command.
			code, _, err := r.client.SendAction(r.ctx, slacktest.Action{TeamID: r.sl.TeamID(), UserID: "U0BOB", UserName: "bob", Channel: channel,
				MessageTS: parent.TS, ActionID: tlslack.ActionMore, Selected: "snooze " + n + " 1h"})
			if err != nil || code != 200 {
				t.Fatalf("select: %d %v", code, err)
			}
			r.waitCard(parent.TS, "Snoozed until")
			// Bob escalates: Sue (a supervisor through the user group) gets it.
			if got := r.command("U0BOB", "escalate "+n+" supervisor angry customer"); !strings.Contains(got, "escalated to Sue and P2") {
				t.Fatalf("escalate: %q", got)
			}
			r.waitCard(parent.TS, "Escalated (supervisor)")
			r.waitCard(parent.TS, "Assigned to Sue")
			// Sue sees the audit trail; Bob may not.
			trail := r.command("U0SUE", "audit "+n)
			for _, want := range []string{"*bob* tagged", "*ann* assigned: assignee `nobody` → `bob`", "*bob* escalated supervisor", "snoozed",
				"tags `none` → `refund,vip`"} {
				if !strings.Contains(trail, want) {
					t.Errorf("audit trail lacks %q:\n%s", want, trail)
				}
			}
			// Critical: an alert in the escalation channel linking the thread.
			r.command("U0SUE", "escalate "+n+" critical account takeover")
			r.waitSlack("alert in the escalation channel", func(s *slacktest.Server) bool {
				for _, m := range s.Messages("C0ESCALATE") {
					if strings.Contains(m.Text, "Critical: #"+n) && strings.Contains(m.Text, "/archives/"+channel+"/p"+strings.ReplaceAll(parent.TS, ".", "")) {
						return true
					}
				}
				return false
			})
			// Sue resolves over Bob's head; the card offers Reopen only.
			r.command("U0SUE", "resolve "+n)
			r.waitCard(parent.TS, tlslack.ActionReopen)
			if strings.Contains(string(mustJSON(r.parent().Blocks)), tlslack.ActionResolve) {
				t.Errorf("resolved card still offers Resolve")
			}
		})
	}
}

func TestBystanderThreadMessageStaysInternal(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.customer("help")
	parent := r.parent()
	r.command("U0ANN", "claim "+number(parent))
	r.agentSays("U0BOB", parent.TS, "I think we should refund")
	e := r.waitEphemeral("U0BOB", "Kept as an internal note, not sent")
	if e.ThreadTS != parent.TS {
		t.Errorf("explanation not in the thread: %+v", e)
	}
	r.agentSays("U0ANN", parent.TS, "Refund is on its way")
	sent, err := r.tg.WaitSent(r.ctx, alice.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || sent[0].Text != "Refund is on its way" {
		t.Errorf("customer got %+v", sent)
	}
}

func TestShortcutsAndLists(t *testing.T) {
	r := newRig(t, tlslack.ReplyAuto)
	r.customer("first")
	parent := r.parent()
	n := number(parent)
	r.customer("second")
	var reply slacktest.Message
	r.waitSlack("second message", func(s *slacktest.Server) bool {
		for _, m := range s.Messages(channel) {
			if m.ThreadTS == parent.TS && strings.Contains(m.Text, "second") {
				reply = m
				return true
			}
		}
		return false
	})
	// Claim from the shortcut menu of a thread message.
	code, _, err := r.client.SendShortcut(r.ctx, slacktest.Shortcut{TeamID: r.sl.TeamID(), UserID: "U0ANN", UserName: "ann", Channel: channel,
		CallbackID: "threadline_claim", MessageTS: reply.TS, ThreadTS: parent.TS})
	if err != nil || code != 200 {
		t.Fatalf("shortcut: %d %v", code, err)
	}
	r.waitCard(parent.TS, "Assigned to ann")
	r.waitEphemeral("U0ANN", "You claimed #"+n)
	// A shortcut needing more than a click opens its form.
	if _, _, err := r.client.SendShortcut(r.ctx, slacktest.Shortcut{TeamID: r.sl.TeamID(), UserID: "U0ANN", UserName: "ann", Channel: channel,
		CallbackID: "threadline_transfer", MessageTS: parent.TS}); err != nil {
		t.Fatal(err)
	}
	if v := r.sl.Views("U0ANN"); len(v) != 1 || v[0].CallbackID != "threadline_form_transfer" {
		t.Errorf("transfer shortcut opened %+v", v)
	}
	// A shortcut outside any conversation thread.
	if _, _, err := r.client.SendShortcut(r.ctx, slacktest.Shortcut{TeamID: r.sl.TeamID(), UserID: "U0ANN", UserName: "ann", Channel: channel,
		CallbackID: "threadline_claim", MessageTS: "1.000001"}); err != nil {
		t.Fatal(err)
	}
	r.waitEphemeral("U0ANN", "not in a Threadline conversation thread")
	mine := r.command("U0ANN", "mine")
	if !strings.Contains(mine, "You have 1 open conversations.") || !strings.Contains(mine, "/archives/"+channel+"/p"+strings.ReplaceAll(parent.TS, ".", "")+"|#"+n+">") {
		t.Errorf("mine: %q", mine)
	}
	if q := r.command("U0BOB", "queue"); !strings.Contains(q, "0 unassigned") {
		t.Errorf("queue: %q", q)
	}
	if got := r.command("U0BOB", "away"); !strings.Contains(got, "You are away") {
		t.Errorf("away: %q", got)
	}
}

// The README's command table and the manifest's shortcuts stay in step with
// the grammar.
func TestREADMEAndManifestMatchTheGrammar(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bridge.Verbs {
		if !strings.Contains(string(readme), "| `"+string(s.Verb)) {
			t.Errorf("README's command table lacks %s", s.Verb)
		}
	}
	raw, err := os.ReadFile("../../deploy/slack/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command      string `yaml:"command"`
				ShouldEscape bool   `yaml:"should_escape"`
			} `yaml:"slash_commands"`
			Shortcuts []struct {
				Type       string `yaml:"type"`
				CallbackID string `yaml:"callback_id"`
			} `yaml:"shortcuts"`
		} `yaml:"features"`
		OAuth struct {
			Scopes struct {
				Bot []string `yaml:"bot"`
			} `yaml:"scopes"`
		} `yaml:"oauth_config"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 || !m.Features.SlashCommands[0].ShouldEscape {
		t.Errorf("/threadline must escape mentions: %+v", m.Features.SlashCommands)
	}
	for _, s := range m.Features.Shortcuts {
		verb, ok := strings.CutPrefix(s.CallbackID, "threadline_")
		if _, known := bridge.Verb(verb).Spec(); !ok || !known || s.Type != "message" {
			t.Errorf("shortcut %+v names no verb", s)
		}
	}
	if !slices.Contains(m.OAuth.Scopes.Bot, "usergroups:read") {
		t.Errorf("roles by user group need usergroups:read")
	}
}
