package slack

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

// Action ids of the card's buttons; their value is the conversation number.
const (
	ActionClaim   = "threadline_claim"
	ActionResolve = "threadline_resolve"
	ActionReopen  = "threadline_reopen"
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

// RenderCard renders the conversation's parent message.
func RenderCard(c bridge.Card) []slack.Block {
	conv := c.Conversation
	who := "*" + escape(customerName(c)) + "*"
	if c.Customer.Handle != "" {
		who += " (@" + escape(c.Customer.Handle) + ")"
	}
	assignee := "Unassigned"
	if c.Assignee != nil {
		assignee = "Assigned to " + escape(c.Assignee.Name)
	}
	number := fmt.Sprint(int64(conv.Number))
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType,
			fmt.Sprintf(":speech_balloon: %s on %s", who, PlatformName(conv.Platform)), false, false), nil, nil),
	}
	if c.FirstMessage != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, quote(truncate(c.FirstMessage, 2900)), false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewContextBlock("status",
		slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("*%s* · %s · %s · %s", conv.Number, conv.Priority, statusLabels[conv.Status], assignee), false, false)))
	var buttons []slack.BlockElement
	switch conv.Status {
	case bridge.StatusOpen, bridge.StatusPending:
		if c.Assignee == nil {
			claim := slack.NewButtonBlockElement(ActionClaim, number, slack.NewTextBlockObject(slack.PlainTextType, "Claim", false, false))
			claim.Style = slack.StylePrimary
			buttons = append(buttons, claim)
		}
		buttons = append(buttons, slack.NewButtonBlockElement(ActionResolve, number, slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false)))
	default:
		buttons = append(buttons, slack.NewButtonBlockElement(ActionReopen, number, slack.NewTextBlockObject(slack.PlainTextType, "Reopen", false, false)))
	}
	blocks = append(blocks, slack.NewActionBlock("actions", buttons...))
	return blocks
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
	b.WriteString(escape(m.Message.Text))
	if m.Message.EditedAt != nil {
		b.WriteString(" _(edited)_")
	}
	return b.String()
}
