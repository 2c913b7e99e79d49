package slack

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

// Action ids of the card's buttons are actionPrefix + verb, their value the
// conversation number; the More select's option values are whole commands.
const (
	actionPrefix  = "threadline_"
	ActionClaim   = actionPrefix + "claim"
	ActionResolve = actionPrefix + "resolve"
	ActionReopen  = actionPrefix + "reopen"
	ActionMore    = actionPrefix + "more"
)

// PlatformName is the display name of a platform.
func PlatformName(p bridge.Platform) string { return p.DisplayName() }

// escape keeps customer text from being read as Slack markup: a customer
// must not be able to @channel the support team or forge links.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func quote(s string) string {
	lines := strings.Split(escape(s), "\n")
	return "> " + strings.Join(lines, "\n> ")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func customerName(c bridge.Card) string {
	name := c.Customer.Name
	if name == "" {
		name = "Customer " + c.Customer.ExternalUserID
	}
	return name
}

var statusLabels = map[bridge.Status]string{
	bridge.StatusOpen: ":large_green_circle: Open", bridge.StatusPending: ":hourglass: Waiting for customer",
	bridge.StatusResolved: ":white_check_mark: Resolved", bridge.StatusClosed: ":lock: Closed",
}

// CardText is the notification and fallback text of a card.
func CardText(c bridge.Card) string {
	return fmt.Sprintf("%s %s on %s: %s", c.Conversation.Number, customerName(c), PlatformName(c.Conversation.Platform),
		truncate(c.FirstMessage, 150))
}

// RenderCard renders the conversation's parent message: who and where, the
// first message, a status line (number, priority, status, assignee, team,
// escalation, snooze, tags, last change) and the actions the state allows:
// Claim (unassigned), Reply, Note, Transfer, Escalate and Resolve while
// open; Reopen and Note once resolved; the rest in the More menu.
func RenderCard(c bridge.Card) []slack.Block {
	conv := c.Conversation
	who := "*" + escape(customerName(c)) + "*"
	if c.Customer.Handle != "" {
		who += " (@" + escape(c.Customer.Handle) + ")"
	}
	where := PlatformName(conv.Platform)
	if c.AccountName != "" {
		// Which Page or account of the brand, when it has several.
		where += " · " + escape(c.AccountName)
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType,
			fmt.Sprintf(":speech_balloon: %s on %s", who, where), false, false), nil, nil),
	}
	if c.FirstMessage != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, quote(truncate(c.FirstMessage, 2900)), false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewContextBlock("status", slack.NewTextBlockObject(slack.MarkdownType, statusLine(c), false, false)))
	if sla := renderSLA(c.SLA); sla != "" {
		blocks = append(blocks, slack.NewContextBlock("sla", slack.NewTextBlockObject(slack.MarkdownType, sla, false, false)))
	}
	blocks = append(blocks, slack.NewActionBlock("actions", cardActions(c)...))
	if c.Conversation.Source == bridge.SourceComment {
		blocks = append(blocks, slack.NewActionBlock("moderation", moderationButtons(fmt.Sprint(int64(c.Conversation.Number)), c.MoveToDM)...))
	}
	return blocks
}

func statusLine(c bridge.Card) string {
	conv := c.Conversation
	parts := []string{"*" + conv.Number.String() + "*", conv.Priority.String(), statusLabels[conv.Status]}
	if conv.SnoozedUntil != nil && conv.Status == bridge.StatusPending {
		parts[2] = ":zzz: Snoozed until " + slackDate(*conv.SnoozedUntil)
	}
	if c.Assignee != nil {
		parts = append(parts, "Assigned to "+escape(c.Assignee.Name))
	} else {
		parts = append(parts, "Unassigned")
	}
	if conv.Team != "" {
		parts = append(parts, "Team "+escape(conv.Team))
	}
	if conv.Escalation != "" {
		parts = append(parts, ":rotating_light: Escalated ("+string(conv.Escalation)+")")
	}
	if len(conv.Tags) > 0 {
		parts = append(parts, ":label: "+escape(strings.Join(conv.Tags, ", ")))
	}
	if !conv.UpdatedAt.IsZero() {
		parts = append(parts, "Updated "+slackDate(conv.UpdatedAt))
	}
	return strings.Join(parts, " · ")
}

func button(verb bridge.Verb, label string, number string, style slack.Style) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(actionPrefix+string(verb), number, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	b.Style = style
	return b
}

// cardActions are the buttons and the More select for the card's state.
func cardActions(c bridge.Card) []slack.BlockElement {
	conv := c.Conversation
	n := fmt.Sprint(int64(conv.Number))
	var out []slack.BlockElement
	switch conv.Status {
	case bridge.StatusOpen, bridge.StatusPending:
		if c.Assignee == nil {
			out = append(out, button(bridge.VerbClaim, "Claim", n, slack.StylePrimary))
		}
		out = append(out, button(bridge.VerbReply, "Reply", n, ""), button(bridge.VerbNote, "Note", n, ""),
			button(bridge.VerbTransfer, "Transfer", n, ""), button(bridge.VerbEscalate, "Escalate", n, slack.StyleDanger),
			button(bridge.VerbResolve, "Resolve", n, ""))
	default:
		out = append(out, button(bridge.VerbReopen, "Reopen", n, ""), button(bridge.VerbNote, "Note", n, ""))
	}
	var more []*slack.OptionBlockObject
	for _, o := range bridge.MoreMenu(c) {
		more = append(more, slack.NewOptionBlockObject(o.Command, slack.NewTextBlockObject(slack.PlainTextType, o.Label, false, false), nil))
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, slack.NewTextBlockObject(slack.PlainTextType, "More…", false, false), ActionMore, more...)
	return append(out, sel)
}

// MessageText renders a message shown in a thread.
func MessageText(m bridge.MessageView) string {
	var b strings.Builder
	switch m.Message.Direction {
	case bridge.Inbound:
		fmt.Fprintf(&b, "*%s:* ", escape(m.SenderName))
	case bridge.Outbound:
		fmt.Fprintf(&b, "*%s* (agent): ", escape(m.SenderName))
	case bridge.Note:
		fmt.Fprintf(&b, ":memo: *%s* (internal note): ", escape(m.SenderName))
	}
	writeText(&b, m.Message)
	// Coalesced messages follow, one a line, in the order they were sent.
	for _, more := range m.More {
		b.WriteString("\n")
		writeText(&b, more)
	}
	return b.String()
}

// slackDate shows an instant in each reader's own time zone; the fallback
// (old clients, notifications) is in the SLA time zone.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.Format("Mon 2 Jan 15:04 MST"))
}

// renderSLA is the card's due time and breach marker.
func renderSLA(clocks []bridge.CardClock) string {
	var parts []string
	for _, c := range clocks {
		label := c.Kind.Label()
		switch {
		case c.State == bridge.SLARunning && c.Breached:
			parts = append(parts, fmt.Sprintf(":rotating_light: *%s overdue* since %s", label, slackDate(c.Due)))
		case c.State == bridge.SLARunning:
			parts = append(parts, fmt.Sprintf(":stopwatch: %s due %s", label, slackDate(c.Due)))
		case c.State == bridge.SLAPaused && c.Breached:
			parts = append(parts, fmt.Sprintf(":rotating_light: *%s breached* (paused)", label))
		case c.State == bridge.SLAPaused:
			parts = append(parts, fmt.Sprintf(":double_vertical_bar: %s paused, %s left", label, shortDuration(c.Left)))
		case c.Breached:
			parts = append(parts, fmt.Sprintf(":rotating_light: *%s SLA breached*", label))
		}
	}
	return strings.Join(parts, "  ·  ")
}

// shortDuration reads like "2h 10m", "45m" or "30s".
func shortDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

func writeText(b *strings.Builder, m bridge.Message) {
	b.WriteString(escape(m.Text))
	if m.EditedAt != nil {
		b.WriteString(" _(edited)_")
	}
}

// moderationButtons act on the public comment of a comment conversation:
// Move to DM (when offered) and deleting ask first.
func moderationButtons(number string, moveToDM bool) []slack.BlockElement {
	text := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	del := button(bridge.VerbDelete, "Delete comment", number, slack.StyleDanger)
	del.Confirm = slack.NewConfirmationBlockObject(text("Delete this comment?"),
		text("It is removed from the post for everyone. This cannot be undone."), text("Delete"), text("Keep it"))
	var out []slack.BlockElement
	if moveToDM {
		dm := button(bridge.VerbDM, "Move to DM", number, slack.StylePrimary)
		dm.Confirm = slack.NewConfirmationBlockObject(text("Move to a private conversation?"),
			text("A short public reply goes under the comment and its author gets a private message. The platform allows this once per comment."),
			text("Move to DM"), text("Not now"))
		out = append(out, dm)
	}
	return append(out,
		button(bridge.VerbHide, "Hide comment", number, ""),
		button(bridge.VerbUnhide, "Unhide", number, ""),
		del,
	)
}
