package bridge

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The command grammar is the one language of agent actions. Slash commands
// (/threadline resolve 1042), button values, message shortcuts, modal
// submissions and Teams text all become a Command through ParseCommand, and
// every Command runs through Bridge.Dispatch. A surface adds only what is
// its own: how a mention of a user or a team is written (Syntax), and which
// conversation a thread shows.
//
//	command      = verb [conversation] args
//	conversation = "#"digits | digits            (right after the verb)
//	claim | unassign | pending | resolve | reopen | history | audit
//	assign       user
//	reply        [text]                          (no text: the surface opens its reply form)
//	dm           [text]                          (no text: the configured private message)
//	note         text
//	transfer     (user | team) [reason]
//	escalate     ("supervisor" | "manager" | "critical") [reason]
//	priority     "p1" | "p2" | "p3" | "p4" | "urgent" | "high" | "normal" | "low"
//	tag          tag... | "-"tag...              (add; a leading "-" removes)
//	snooze       duration                        (30m, 2h, 1d, 1w, 1h30m)
//	mine | queue | away | back
//	report       [period] [platform] [user] ["csv"]  (any order)
//	hours        [user] ["off" | schedule [zone]]  (schedule: mon-fri 09:00-17:00)
//	help         [verb]
//
// Verbs are case-insensitive. A conversation number is read only right
// after the verb, so "note 1042 42 items missing" is a note on #1042; in a
// thread "note 42 items missing" names #42 too, so surfaces that know the
// thread fill Command.Conversation themselves and check a number typed
// there against it.

// Verb names an agent action.
type Verb string

const (
	VerbClaim    Verb = "claim"
	VerbAssign   Verb = "assign"
	VerbUnassign Verb = "unassign"
	VerbReply    Verb = "reply"
	VerbNote     Verb = "note"
	VerbTransfer Verb = "transfer"
	VerbEscalate Verb = "escalate"
	VerbPriority Verb = "priority"
	VerbTag      Verb = "tag"
	VerbPending  Verb = "pending"
	VerbSnooze   Verb = "snooze"
	VerbResolve  Verb = "resolve"
	VerbReopen   Verb = "reopen"
	// Moderation of the public comment a conversation is about.
	VerbHide   Verb = "hide"
	VerbUnhide Verb = "unhide"
	VerbDelete Verb = "delete"
	// VerbDM moves a public comment to a private conversation.
	VerbDM      Verb = "dm"
	VerbHistory Verb = "history"
	VerbAudit   Verb = "audit"
	VerbMine    Verb = "mine"
	VerbQueue   Verb = "queue"
	VerbAway    Verb = "away"
	VerbBack    Verb = "back"
	VerbHelp    Verb = "help"
	VerbMacro   Verb = "macro"
	VerbReport  Verb = "report"
	VerbHours   Verb = "hours"
)

// VerbSpec documents one verb: the help text and the README table come from
// this list, so a verb cannot exist undocumented.
type VerbSpec struct {
	Verb  Verb
	Usage string // arguments after the verb, e.g. "1042 @agent"
	Help  string
	// Conversation says whether the verb acts on one conversation (and so
	// needs a number outside a thread).
	Conversation bool
	// MinRole is the least role that may use the verb at all; finer rules
	// (the assignee, the state) are checked by Dispatch.
	MinRole Role
}

// Verbs lists every verb in the order help shows them.
var Verbs = []VerbSpec{
	{VerbClaim, "1042", "take an unassigned conversation", true, RoleAgent},
	{VerbAssign, "1042 @agent", "hand a conversation to a teammate", true, RoleAgent},
	{VerbUnassign, "1042", "put a conversation back in the queue", true, RoleAgent},
	{VerbReply, "1042 text", "send text to the customer (without text, in Slack: opens the reply form)", true, RoleAgent},
	{VerbNote, "1042 text", "add an internal note; never sent to the customer", true, RoleAgent},
	{VerbTransfer, "1042 @agent|#team reason", "hand over to a teammate or a team, with a reason", true, RoleAgent},
	{VerbEscalate, "1042 supervisor|manager|critical reason", "supervisor: P2 and the least-loaded available supervisor; manager: P1 and a manager; critical: also an alert in the escalation channel", true, RoleAgent},
	{VerbPriority, "1042 p1|p2|p3|p4", "set the priority (P1 is urgent)", true, RoleAgent},
	{VerbTag, "1042 refund vip -spam", "add tags; a leading - removes one", true, RoleAgent},
	{VerbPending, "1042", "waiting on the customer; their next message reopens it", true, RoleAgent},
	{VerbSnooze, "1042 2h", "waiting, and back in the queue after the duration (1m to 30d) or the customer's next message", true, RoleAgent},
	{VerbResolve, "1042", "mark done", true, RoleAgent},
	{VerbReopen, "1042", "open a resolved conversation again", true, RoleAgent},
	{VerbHide, "1042", "hide the public comment a comment conversation is about (Facebook, Instagram)", true, RoleAgent},
	{VerbUnhide, "1042", "show a hidden comment again", true, RoleAgent},
	{VerbDelete, "1042", "delete the public comment on the platform (supervisors, managers, admins)", true, RoleSupervisor},
	{VerbDM, "1042 [private message]", "move a public comment to a private conversation: a short public reply under the comment and a private message to its author, where the platform allows it (Facebook, Instagram)", true, RoleAgent},
	{VerbHistory, "1042", "this customer's earlier conversations on every platform", true, RoleAgent},
	{VerbAudit, "1042", "who did what on a conversation (supervisors, managers, admins)", true, RoleSupervisor},
	{VerbMine, "", "your open conversations", false, RoleAgent},
	{VerbQueue, "", "unassigned conversations, most urgent first", false, RoleAgent},
	{VerbAway, "", "stop receiving assignments and escalations", false, RoleAgent},
	{VerbBack, "", "receive assignments and escalations again", false, RoleAgent},
	{VerbHours, "[@agent] mon-fri 09:00-17:00 Europe/Berlin|off", "working hours: outside them no assignments or escalations reach you (away still wins); without a schedule: show them; for someone else: supervisors, managers and admins", false, RoleAgent},
	{VerbMacro, "add|edit name [lang=en] [intent=refund] text | list | delete name", "canned replies offered in the reply form; add, edit and delete are for supervisors, managers and admins. Text may hold {customer.name} {agent.name} {platform} {conversation.id}", false, RoleAgent},
	{VerbReport, "[today|yesterday|7d|30d|2026-11-01..2026-11-30] [platform] [@agent] [csv]", "the team's figures (conversations, response times, SLA, CSAT) for a period, 7 days by default (supervisors, managers, admins)", false, RoleSupervisor},
	{VerbHelp, "[verb]", "this help", false, RoleAgent},
}

// Spec returns the documentation of a verb.
func (v Verb) Spec() (VerbSpec, bool) {
	i := slices.IndexFunc(Verbs, func(s VerbSpec) bool { return s.Verb == v })
	if i < 0 {
		return VerbSpec{}, false
	}
	return Verbs[i], true
}

// EscalationLevel says how far up a conversation is escalated.
type EscalationLevel string

const (
	EscalateSupervisor EscalationLevel = "supervisor"
	EscalateManager    EscalationLevel = "manager"
	EscalateCritical   EscalationLevel = "critical"
)

// MentionKind says what a mention names.
type MentionKind int

const (
	// MentionUser names one person. Dispatch accepts it only with an ID,
	// the surface's stable user id: a bare name could be anyone.
	MentionUser MentionKind = iota + 1
	// MentionTeam names a team: a channel or a user group (with an ID), or
	// a bare #name used as a label.
	MentionTeam
)

// Mention is a reference to a user or a team, as a surface's Syntax read
// it. The bridge resolves users by (Actor.Surface, Actor.Workspace, ID).
type Mention struct {
	Kind MentionKind
	// ID is the surface's id (Slack U123 / W123 for users, C123 channels,
	// S123 user groups; Teams AAD object ids). Empty for a bare name.
	ID string
	// Name is the display name when the surface gave one ("ann", "billing").
	Name string
	// Raw is the token as typed, for error messages.
	Raw string
}

// Label is how a mention reads in messages: its name, else its id.
func (m Mention) Label() string {
	if m.Name != "" {
		return m.Name
	}
	if m.ID != "" {
		return m.ID
	}
	return m.Raw
}

// Syntax is a surface's way of writing mentions. The grammar asks it to
// split a token off the front of the text (a Slack mention <@U1|ann smith>
// holds a space) and to read a token as a mention.
type Syntax interface {
	// NextToken returns the first token of s (s has no leading space) and
	// the rest after it.
	NextToken(s string) (tok, rest string)
	// Mention reads a token as a user or team mention.
	Mention(tok string) (Mention, bool)
}

// PlainSyntax reads "@name" as a user and "#name" as a team, without ids:
// what a person types where the surface has no mention markup. Users named
// this way are refused by assign and transfer.
type PlainSyntax struct{}

// NextToken splits at the first space.
func (PlainSyntax) NextToken(s string) (string, string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// Mention implements Syntax.
func (PlainSyntax) Mention(tok string) (Mention, bool) {
	switch {
	case len(tok) > 1 && tok[0] == '@':
		return Mention{Kind: MentionUser, Name: tok[1:], Raw: tok}, true
	case len(tok) > 1 && tok[0] == '#' && !isDigits(tok[1:]):
		return Mention{Kind: MentionTeam, Name: tok[1:], Raw: tok}, true
	}
	return Mention{}, false
}

// Command is one parsed agent action. Which fields are set depends on the
// verb (see the grammar above); the zero value of a field means "not given".
// Surfaces may also build a Command directly (a modal's fields), but should
// still go through Validate so that every way in is checked alike.
type Command struct {
	Verb Verb
	// Conversation is the conversation acted on; zero when the text named
	// none (a surface fills it from the thread before Dispatch).
	Conversation ConversationRef
	// Target is who assign and transfer hand over to.
	Target Mention
	// Level is how far escalate goes.
	Level EscalationLevel
	// Priority is what priority sets.
	Priority Priority
	// AddTags and RemoveTags are what tag changes, normalized to lower case.
	AddTags, RemoveTags []string
	// Duration is how long snooze waits.
	Duration time.Duration
	// Text is the reply or note text, or the reason of transfer and escalate.
	Text string
	// HelpVerb is the verb help was asked about.
	HelpVerb Verb
	// Macro is what macro does; Text is the macro's text.
	Macro MacroArgs
	// Report is what report covers.
	Report ReportArgs
	// Hours is what hours sets; Target is whose, when not the actor's.
	Hours HoursArgs

	// The fields below are set by surfaces, never by the parser.

	// NoteIfForbidden keeps a reply the actor may not send as an internal
	// note instead of refusing it (a thread message from a bystander).
	NoteIfForbidden bool
	// ChatRef is the agent's own chat message carrying a reply or note, so
	// delivery is marked on it and it is not shown twice.
	ChatRef *ChatMessageRef
	// ExpectLastSeq, when set, makes a reply fail with *StaleReplyError if
	// the conversation has agent replies after this sequence number (the
	// agent answered what they saw, and someone else answered since).
	ExpectLastSeq int64
}

// Limits of the grammar.
const (
	MaxCommandText = 4000
	MaxTags        = 20
	MaxTagLength   = 32
	MinSnooze      = time.Minute
	MaxSnooze      = 30 * 24 * time.Hour
)

// ParseError is a command that could not be read; its message says how to
// write it.
type ParseError struct {
	Verb   Verb // empty when the verb itself was not understood
	Reason string
}

func (e *ParseError) Error() string {
	if e.Verb == "" {
		return e.Reason
	}
	spec, _ := e.Verb.Spec()
	return fmt.Sprintf("%s. Usage: %s %s", e.Reason, e.Verb, spec.Usage)
}

// Is makes a ParseError an ErrInvalidInput.
func (e *ParseError) Is(target error) bool { return target == ErrInvalidInput }

// ParseCommand reads a command written with PlainSyntax.
func ParseCommand(text string) (Command, error) { return ParseCommandWith(PlainSyntax{}, text) }

var verbAliases = map[string]Verb{
	"take": VerbClaim, "unclaim": VerbUnassign, "release": VerbUnassign, "comment": VerbNote,
	"prio": VerbPriority, "tags": VerbTag, "wait": VerbPending, "done": VerbResolve, "close": VerbResolve,
	"trail": VerbAudit, "?": VerbHelp, "todm": VerbDM, "private": VerbDM,
}

// ParseCommandWith reads a command, asking syn about tokens.
func ParseCommandWith(syn Syntax, text string) (Command, error) {
	if len(text) > MaxCommandText {
		return Command{}, &ParseError{Reason: fmt.Sprintf("Too long: commands are at most %d bytes", MaxCommandText)}
	}
	if !utf8.ValidString(text) {
		return Command{}, &ParseError{Reason: "The command is not valid text"}
	}
	p := parser{syn: syn, rest: strings.TrimSpace(text)}
	word := strings.ToLower(p.next())
	if word == "" {
		return Command{Verb: VerbHelp}, nil
	}
	verb := Verb(word)
	if a, ok := verbAliases[word]; ok {
		verb = a
	}
	spec, ok := verb.Spec()
	if !ok {
		return Command{}, &ParseError{Reason: fmt.Sprintf("Unknown command %q; try help", truncateRunes(word, 40))}
	}
	cmd := Command{Verb: verb}
	if spec.Conversation {
		if tok := p.peek(); tok != "" {
			if n, err := ParseConversationNumber(tok); err == nil && (tok[0] == '#' || isDigits(tok)) {
				cmd.Conversation = ConversationRef{Number: n}
				p.next()
			}
		}
	}
	fail := func(format string, a ...any) (Command, error) {
		return Command{}, &ParseError{Verb: verb, Reason: fmt.Sprintf(format, a...)}
	}
	switch verb {
	case VerbAssign, VerbTransfer:
		tok := p.next()
		if tok == "" {
			if verb == VerbAssign {
				return fail("Say who to assign it to")
			}
			return fail("Say who or which team to transfer it to")
		}
		m, ok := p.syn.Mention(tok)
		if !ok || (verb == VerbAssign && m.Kind != MentionUser) {
			return fail("%q is not a mention of a teammate; pick them from the @ menu", truncateRunes(tok, 40))
		}
		cmd.Target = m
		cmd.Text = p.text()
	case VerbReply, VerbDM:
		cmd.Text = p.text()
	case VerbNote:
		cmd.Text = p.text()
		if cmd.Text == "" {
			return fail("Write the note")
		}
	case VerbEscalate:
		switch lvl := EscalationLevel(strings.ToLower(p.next())); lvl {
		case EscalateSupervisor, EscalateManager, EscalateCritical:
			cmd.Level = lvl
		case "":
			return fail("Say how far: supervisor, manager or critical")
		default:
			return fail("%q is not supervisor, manager or critical", truncateRunes(string(lvl), 40))
		}
		cmd.Text = p.text()
	case VerbPriority:
		tok := p.next()
		pr, ok := ParsePriority(tok)
		if !ok {
			return fail("%q is not a priority (p1 to p4)", truncateRunes(tok, 40))
		}
		cmd.Priority = pr
	case VerbTag:
		for tok := p.next(); tok != ""; tok = p.next() {
			for _, t := range strings.Split(tok, ",") {
				remove := strings.HasPrefix(t, "-")
				t = strings.ToLower(strings.TrimLeft(t, "-+#"))
				if t == "" {
					continue
				}
				if !validTag(t) {
					return fail("%q is not a tag: use letters, digits, - and _, up to %d", truncateRunes(t, 40), MaxTagLength)
				}
				if remove {
					cmd.RemoveTags = appendUnique(cmd.RemoveTags, t)
				} else {
					cmd.AddTags = appendUnique(cmd.AddTags, t)
				}
			}
		}
		if len(cmd.AddTags)+len(cmd.RemoveTags) == 0 {
			return fail("Name at least one tag")
		}
		if len(cmd.AddTags) > MaxTags {
			return fail("At most %d tags", MaxTags)
		}
	case VerbSnooze:
		tok := p.next()
		d, err := ParseDuration(tok)
		if err != nil {
			return fail("%v", err)
		}
		cmd.Duration = d
	case VerbMacro:
		action := MacroAction(strings.ToLower(p.next()))
		cmd.Macro.Action = action
		switch action {
		case MacroList:
		case MacroAdd, MacroEdit, MacroDelete:
			name := strings.ToLower(p.next())
			if !validTag(name) {
				return fail("Name the macro with letters, digits, - and _ (up to %d)", MaxTagLength)
			}
			cmd.Macro.Name = name
			if action == MacroDelete {
				break
			}
			for {
				tok := p.peek()
				k, v, ok := strings.Cut(tok, "=")
				if !ok || (k != "lang" && k != "intent") {
					break
				}
				p.next()
				if k == "lang" {
					cmd.Macro.Language = strings.ToLower(v)
					continue
				}
				for _, i := range strings.Split(v, ",") {
					in := Intent(strings.ToLower(i))
					if !slices.Contains(Intents, in) {
						return fail("%q is not an intent (%s)", truncateRunes(i, 40), intentList())
					}
					cmd.Macro.Intents = append(cmd.Macro.Intents, in)
				}
			}
			cmd.Text = p.text()
			if cmd.Text == "" {
				return fail("Write the macro's text")
			}
		default:
			return fail("Say add, edit, list or delete")
		}
	case VerbReport:
		for tok := p.next(); tok != ""; tok = p.next() {
			low := strings.ToLower(tok)
			m, isMention := p.syn.Mention(tok)
			switch {
			case low == "csv":
				cmd.Report.CSV = true
			case isMention && m.Kind == MentionUser && cmd.Report.Agent.Kind == 0:
				cmd.Report.Agent = m
			case ParsePlatform(low) != "" && cmd.Report.Platform == "":
				cmd.Report.Platform = ParsePlatform(low)
			case cmd.Report.Period == "" && !isMention:
				cmd.Report.Period = tok
			default:
				return fail("Unexpected %q", truncateRunes(tok, 40))
			}
		}
	case VerbHours:
		if err := parseHours(&p, &cmd); err != nil {
			return fail("%s", err)
		}
	case VerbHelp:
		if w := strings.ToLower(p.next()); w != "" {
			v := Verb(w)
			if a, ok := verbAliases[w]; ok {
				v = a
			}
			if _, ok := v.Spec(); ok {
				cmd.HelpVerb = v
			}
		}
		return cmd, nil
	}
	if extra := p.text(); extra != "" && cmd.Text == "" && verb != VerbReply && verb != VerbDM {
		return fail("Unexpected %q", truncateRunes(extra, 40))
	}
	return cmd, nil
}

type parser struct {
	syn  Syntax
	rest string
}

func (p *parser) peek() string {
	tok, _ := p.syn.NextToken(p.rest)
	return tok
}

func (p *parser) next() string {
	if p.rest == "" {
		return ""
	}
	tok, rest := p.syn.NextToken(p.rest)
	if tok == "" && rest == p.rest { // a syntax that cannot split: take everything
		tok, rest = p.rest, ""
	}
	p.rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	return tok
}

// text is the remainder as typed, spaces and line breaks kept.
func (p *parser) text() string {
	t := strings.TrimSpace(p.rest)
	p.rest = ""
	return t
}

// ParsePriority reads p1..p4 (or urgent, high, normal, low).
func ParsePriority(s string) (Priority, bool) {
	switch strings.ToLower(s) {
	case "p1", "urgent":
		return P1, true
	case "p2", "high":
		return P2, true
	case "p3", "normal":
		return P3, true
	case "p4", "low":
		return P4, true
	}
	return 0, false
}

var durationPart = regexp.MustCompile(`^(\d{1,6})(w|d|h|m)`)

// ParseDuration reads snooze durations: a sequence of number+unit with units
// w (weeks), d (days), h and m, e.g. 30m, 2h, 1d, 1h30m, between MinSnooze
// and MaxSnooze.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("Say for how long, e.g. 30m, 2h or 1d")
	}
	rest := strings.ToLower(s)
	var d time.Duration
	for rest != "" {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("%q is not a duration like 30m, 2h or 1d", truncateRunes(s, 40))
		}
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"w": 7 * 24 * time.Hour, "d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[m[2]]
		if time.Duration(n) > MaxSnooze/unit+1 {
			return 0, fmt.Errorf("%q is longer than %s", truncateRunes(s, 40), FormatDuration(MaxSnooze))
		}
		d += time.Duration(n) * unit
		rest = rest[len(m[0]):]
	}
	if d < MinSnooze || d > MaxSnooze {
		return 0, fmt.Errorf("Snooze between %s and %s", FormatDuration(MinSnooze), FormatDuration(MaxSnooze))
	}
	return d, nil
}

// FormatDuration writes a duration the way ParseDuration reads it.
func FormatDuration(d time.Duration) string {
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0m"
	}
	return b.String()
}

func validTag(t string) bool {
	if len(t) > MaxTagLength {
		return false
	}
	for _, r := range t {
		if !(r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func appendUnique(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// HelpText is the help for all verbs, or one, in plain text with the
// command prefix a surface uses ("/threadline ").
func HelpText(prefix string, only Verb) string {
	var b strings.Builder
	for _, s := range Verbs {
		if only != "" && s.Verb != only {
			continue
		}
		usage := string(s.Verb)
		if s.Usage != "" {
			usage += " " + s.Usage
		}
		fmt.Fprintf(&b, "`%s%s`: %s\n", prefix, usage, s.Help)
	}
	return strings.TrimRight(b.String(), "\n")
}
