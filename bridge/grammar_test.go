package bridge_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/threadline/threadline/bridge"
)

func TestParseCommand(t *testing.T) {
	n := bridge.ConversationRef{Number: 1042}
	tests := []struct {
		in   string
		want bridge.Command
		err  string // part of the error message; empty: no error
	}{
		{"", bridge.Command{Verb: bridge.VerbHelp}, ""},
		{"help transfer", bridge.Command{Verb: bridge.VerbHelp, HelpVerb: bridge.VerbTransfer}, ""},
		{"claim 1042", bridge.Command{Verb: bridge.VerbClaim, Conversation: n}, ""},
		{"CLAIM #1042", bridge.Command{Verb: bridge.VerbClaim, Conversation: n}, ""},
		{"  resolve   1042  ", bridge.Command{Verb: bridge.VerbResolve, Conversation: n}, ""},
		{"resolve", bridge.Command{Verb: bridge.VerbResolve}, ""},
		{"take 1042", bridge.Command{Verb: bridge.VerbClaim, Conversation: n}, ""},
		{"resolve 1042 now", bridge.Command{}, `Unexpected "now"`},
		{"resolve -3", bridge.Command{}, `Unexpected "-3"`},
		{"assign 1042 @ann", bridge.Command{Verb: bridge.VerbAssign, Conversation: n,
			Target: bridge.Mention{Kind: bridge.MentionUser, Name: "ann", Raw: "@ann"}}, ""},
		{"assign 1042", bridge.Command{}, "Say who to assign it to"},
		{"assign 1042 ann", bridge.Command{}, `"ann" is not a mention`},
		{"assign 1042 #billing", bridge.Command{}, `"#billing" is not a mention`},
		{"transfer 1042 #billing customer wants a refund\nsee notes", bridge.Command{Verb: bridge.VerbTransfer, Conversation: n,
			Target: bridge.Mention{Kind: bridge.MentionTeam, Name: "billing", Raw: "#billing"}, Text: "customer wants a refund\nsee notes"}, ""},
		{"transfer 1042", bridge.Command{}, "Say who or which team"},
		{"note 1042 42 items missing", bridge.Command{Verb: bridge.VerbNote, Conversation: n, Text: "42 items missing"}, ""},
		{"note 1042", bridge.Command{}, "Write the note"},
		{"note VIP customer", bridge.Command{Verb: bridge.VerbNote, Text: "VIP customer"}, ""},
		{"reply 1042", bridge.Command{Verb: bridge.VerbReply, Conversation: n}, ""},
		{"reply 1042 Hello  there", bridge.Command{Verb: bridge.VerbReply, Conversation: n, Text: "Hello  there"}, ""},
		{"escalate 1042 critical account hacked", bridge.Command{Verb: bridge.VerbEscalate, Conversation: n,
			Level: bridge.EscalateCritical, Text: "account hacked"}, ""},
		{"escalate 1042 Supervisor", bridge.Command{Verb: bridge.VerbEscalate, Conversation: n, Level: bridge.EscalateSupervisor}, ""},
		{"escalate 1042 ceo", bridge.Command{}, `"ceo" is not supervisor, manager or critical`},
		{"escalate 1042", bridge.Command{}, "Say how far"},
		{"priority 1042 P1", bridge.Command{Verb: bridge.VerbPriority, Conversation: n, Priority: bridge.P1}, ""},
		{"priority 1042 low", bridge.Command{Verb: bridge.VerbPriority, Conversation: n, Priority: bridge.P4}, ""},
		{"priority 1042 p5", bridge.Command{}, `"p5" is not a priority`},
		{"priority p2", bridge.Command{Verb: bridge.VerbPriority, Priority: bridge.P2}, ""},
		{"tag 1042 Refund,vip -spam #urgent vip", bridge.Command{Verb: bridge.VerbTag, Conversation: n,
			AddTags: []string{"refund", "vip", "urgent"}, RemoveTags: []string{"spam"}}, ""},
		{"tag 1042", bridge.Command{}, "Name at least one tag"},
		{"tag 1042 a/b", bridge.Command{}, `"a/b" is not a tag`},
		{"report", bridge.Command{Verb: bridge.VerbReport}, ""},
		{"report csv @ann Instagram 30d", bridge.Command{Verb: bridge.VerbReport, Report: bridge.ReportArgs{Period: "30d", Platform: bridge.PlatformInstagram,
			Agent: bridge.Mention{Kind: bridge.MentionUser, Name: "ann", Raw: "@ann"}, CSV: true}}, ""},
		{"report 7d 30d", bridge.Command{}, `Unexpected "30d"`},
		{"report #billing", bridge.Command{}, `Unexpected "#billing"`},
		{"report @ann @bob", bridge.Command{}, `Unexpected "@bob"`},
		{"snooze 1042 1h30m", bridge.Command{Verb: bridge.VerbSnooze, Conversation: n, Duration: 90 * time.Minute}, ""},
		{"snooze 1042 2d", bridge.Command{Verb: bridge.VerbSnooze, Conversation: n, Duration: 48 * time.Hour}, ""},
		{"snooze 1042 1w", bridge.Command{Verb: bridge.VerbSnooze, Conversation: n, Duration: 7 * 24 * time.Hour}, ""},
		{"snooze 1042 0m", bridge.Command{}, "Snooze between 1m and 30d"},
		{"snooze 1042 60d", bridge.Command{}, "longer than 30d"},
		{"snooze 1042 30s", bridge.Command{}, "is not a duration"},
		{"snooze 1042 999999w", bridge.Command{}, "longer than 30d"},
		{"snooze 1042 soon", bridge.Command{}, `"soon" is not a duration`},
		{"snooze 1042", bridge.Command{}, "Say for how long"},
		{"pending 1042", bridge.Command{Verb: bridge.VerbPending, Conversation: n}, ""},
		{"history #1042", bridge.Command{Verb: bridge.VerbHistory, Conversation: n}, ""},
		{"audit 1042", bridge.Command{Verb: bridge.VerbAudit, Conversation: n}, ""},
		{"mine", bridge.Command{Verb: bridge.VerbMine}, ""},
		{"mine 1042", bridge.Command{}, `Unexpected "1042"`},
		{"queue", bridge.Command{Verb: bridge.VerbQueue}, ""},
		{"away", bridge.Command{Verb: bridge.VerbAway}, ""},
		{"back", bridge.Command{Verb: bridge.VerbBack}, ""},
		{"frobnicate 1042", bridge.Command{}, `Unknown command "frobnicate"`},
		{"claim 0", bridge.Command{}, `Unexpected "0"`},
		{strings.Repeat("x", bridge.MaxCommandText+1), bridge.Command{}, "Too long"},
		{"note 1042 \xff", bridge.Command{}, "not valid text"},
	}
	for _, tc := range tests {
		got, err := bridge.ParseCommand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, bridge.ErrInvalidInput) {
				t.Errorf("ParseCommand(%.60q) = %+v, %v; want an invalid-input error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseCommand(%.60q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseErrorShowsUsage(t *testing.T) {
	_, err := bridge.ParseCommand("transfer 1042")
	if err == nil || !strings.Contains(err.Error(), "Usage: transfer 1042 @agent|#team reason") {
		t.Errorf("err = %v, want the usage", err)
	}
}

func TestEveryVerbIsDocumentedAndDispatched(t *testing.T) {
	help := bridge.HelpText("/threadline ", "")
	for _, s := range bridge.Verbs {
		if !strings.Contains(help, "/threadline "+string(s.Verb)) || s.Help == "" {
			t.Errorf("help does not document %s", s.Verb)
		}
		if _, err := bridge.ParseCommand(string(s.Verb)); err != nil && !strings.Contains(err.Error(), "Usage") {
			t.Errorf("%s: %v", s.Verb, err)
		}
	}
}

func TestFormatDurationRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{time.Minute, 90 * time.Minute, 26 * time.Hour, 30 * 24 * time.Hour} {
		got, err := bridge.ParseDuration(bridge.FormatDuration(d))
		if err != nil || got != d {
			t.Errorf("%s -> %q -> %s, %v", d, bridge.FormatDuration(d), got, err)
		}
	}
}

// plainUsers is a Syntax like a surface's: <U123> is a user with an id.
type angleSyntax struct{ bridge.PlainSyntax }

func (angleSyntax) NextToken(s string) (string, string) {
	if strings.HasPrefix(s, "<") {
		if i := strings.IndexByte(s, '>'); i > 0 {
			return s[:i+1], s[i+1:]
		}
	}
	return bridge.PlainSyntax{}.NextToken(s)
}

func (angleSyntax) Mention(tok string) (bridge.Mention, bool) {
	if strings.HasPrefix(tok, "<") && strings.HasSuffix(tok, ">") {
		id, name, _ := strings.Cut(tok[1:len(tok)-1], " ")
		return bridge.Mention{Kind: bridge.MentionUser, ID: id, Name: name, Raw: tok}, true
	}
	return bridge.PlainSyntax{}.Mention(tok)
}

func TestSyntaxIsPluggable(t *testing.T) {
	cmd, err := bridge.ParseCommandWith(angleSyntax{}, "transfer 1042 <U9 Ann Smith> needs billing access")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Target.ID != "U9" || cmd.Target.Name != "Ann Smith" || cmd.Text != "needs billing access" {
		t.Errorf("parsed %+v", cmd)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"claim 1042", "assign 1042 @ann", "transfer #1042 #billing why not", "escalate 1 critical x",
		"tag 1042 a,b -c", "snooze 1042 1h30m", "priority 1042 p1", "note 1042 hi\nthere", "help claim", "reply", "<@U1|a b>",
		"snooze 1042 99999w", "tag " + strings.Repeat("a,", 30)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, syn := range []bridge.Syntax{bridge.PlainSyntax{}, angleSyntax{}} {
			cmd, err := bridge.ParseCommandWith(syn, in)
			if err != nil {
				if !errors.Is(err, bridge.ErrInvalidInput) {
					t.Fatalf("%q: error %v is not ErrInvalidInput", in, err)
				}
				continue
			}
			spec, ok := cmd.Verb.Spec()
			if !ok {
				t.Fatalf("%q: unknown verb %q accepted", in, cmd.Verb)
			}
			if !spec.Conversation && !cmd.Conversation.IsZero() {
				t.Fatalf("%q: %s took a conversation", in, cmd.Verb)
			}
			if cmd.Conversation.Number < 0 || !utf8.ValidString(cmd.Text) || len(cmd.Text) > len(in) {
				t.Fatalf("%q: bad command %+v", in, cmd)
			}
			if cmd.Verb == bridge.VerbSnooze && (cmd.Duration < bridge.MinSnooze || cmd.Duration > bridge.MaxSnooze) {
				t.Fatalf("%q: snooze %s out of bounds", in, cmd.Duration)
			}
			if cmd.Verb == bridge.VerbPriority && (cmd.Priority < bridge.P1 || cmd.Priority > bridge.P4) {
				t.Fatalf("%q: priority %d", in, cmd.Priority)
			}
			if len(cmd.AddTags) > bridge.MaxTags {
				t.Fatalf("%q: %d tags", in, len(cmd.AddTags))
			}
			for _, tag := range append(cmd.AddTags, cmd.RemoveTags...) {
				if tag == "" || len(tag) > bridge.MaxTagLength || strings.ToLower(tag) != tag {
					t.Fatalf("%q: bad tag %q", in, tag)
				}
			}
			if (cmd.Verb == bridge.VerbAssign) && (cmd.Target.Kind != bridge.MentionUser) {
				t.Fatalf("%q: assign without a user: %+v", in, cmd.Target)
			}
		}
	})
}
