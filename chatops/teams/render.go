package teams

import (
	"encoding/json"
	"fmt"
	"html"
	"slices"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Verbs of the card's buttons (Action.Execute verb, and the "verb" field
// of the Action.Submit fallback's data).
const (
	VerbClaim   = "claim"
	VerbResolve = "resolve"
	VerbReopen  = "reopen"
	VerbHide    = "hide"
	VerbUnhide  = "unhide"
	VerbDelete  = "delete"
	VerbDM      = "dm"
	VerbReply   = "reply"
	VerbNote    = "note"
	// VerbMore applies the command picked in the card's More… list.
	VerbMore = "more"
)

var statusLabels = map[bridge.Status]string{
	bridge.StatusOpen: "🟢 Open", bridge.StatusPending: "⏳ Waiting for customer",
	bridge.StatusResolved: "✅ Resolved", bridge.StatusClosed: "🔒 Closed",
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func customerName(c bridge.Card) string {
	if c.Customer.Name != "" {
		return c.Customer.Name
	}
	return "Customer " + c.Customer.ExternalUserID
}

// markdownEscaper backslash-escapes what Adaptive Card markdown would
// render, for the few agent-facing values that sit in markdown fields.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `(`, `\(`, `)`, `\)`,
	"`", "\\`", `#`, `\#`, `~`, `\~`, `<`, `&lt;`, `>`, `&gt;`)

// CardText is the notification and fallback text of a card.
func CardText(c bridge.Card) string {
	return fmt.Sprintf("%s %s on %s: %s", c.Conversation.Number, customerName(c), c.Conversation.Platform.DisplayName(),
		truncate(c.FirstMessage, 150))
}

// cardTime is how the card writes instants: a FactSet value cannot be
// localized per reader as Slack's dates are, so it says its time zone.
const cardTime = "2006-01-02 15:04 UTC"

// AdaptiveCard is the JSON of an Adaptive Card; elements are maps so the
// golden files show exactly what Teams receives.
type AdaptiveCard map[string]any

// RenderCard renders the neutral card as an Adaptive Card. Customer text
// goes into TextRuns, which Teams never reads as markdown: a customer must
// not be able to forge links, images or mentions in the agents' channel.
func RenderCard(c bridge.Card) AdaptiveCard {
	conv := c.Conversation
	who := customerName(c)
	if c.Customer.Handle != "" {
		who += " (@" + c.Customer.Handle + ")"
	}
	assignee := "Unassigned"
	if c.Assignee != nil {
		assignee = markdownEscaper.Replace(c.Assignee.Name)
	}
	style := "default"
	if conv.Priority == bridge.P1 || slices.ContainsFunc(c.SLA, func(k bridge.CardClock) bool { return k.Breached }) {
		style = "attention"
	}
	header := []any{
		map[string]any{"type": "RichTextBlock", "inlines": []any{
			textRun("💬 ", false), textRun(truncate(who, 200), true), textRun(" on "+conv.Platform.DisplayName(), false),
		}},
	}
	if c.FirstMessage != "" {
		header = append(header, map[string]any{"type": "RichTextBlock", "inlines": []any{
			map[string]any{"type": "TextRun", "text": truncate(c.FirstMessage, 2900), "italic": true},
		}})
	}
	facts := []any{
		fact("Conversation", conv.Number.String()),
		fact("Status", statusLabels[conv.Status]),
		fact("Priority", conv.Priority.String()),
		fact("Assignee", assignee),
		fact("Platform", markdownEscaper.Replace(conv.Platform.DisplayName())),
	}
	if c.AccountName != "" {
		facts = append(facts, fact("Account", markdownEscaper.Replace(c.AccountName)))
	}
	if conv.SnoozedUntil != nil && conv.Status == bridge.StatusPending {
		facts[1] = fact("Status", "💤 Snoozed until "+conv.SnoozedUntil.UTC().Format(cardTime))
	}
	if conv.Team != "" {
		facts = append(facts, fact("Team", markdownEscaper.Replace(conv.Team)))
	}
	if conv.Escalation != "" {
		facts = append(facts, fact("Escalated", "🚨 "+string(conv.Escalation)))
	}
	if len(conv.Tags) > 0 {
		facts = append(facts, fact("Tags", markdownEscaper.Replace(strings.Join(conv.Tags, ", "))))
	}
	facts = append(facts, slaFacts(c.SLA)...)
	if !conv.UpdatedAt.IsZero() {
		facts = append(facts, fact("Updated", conv.UpdatedAt.UTC().Format(cardTime)))
	}
	number := fmt.Sprint(int64(conv.Number))
	var actions []any
	switch conv.Status {
	case bridge.StatusOpen, bridge.StatusPending:
		if c.Assignee == nil {
			actions = append(actions, action(VerbClaim, "Claim", number, "positive"))
		}
		actions = append(actions,
			textForm("Reply…", "Message to the customer", VerbReply, "Send to customer", number, "positive"),
			textForm("Note…", "Internal note, never sent", VerbNote, "Add note", number, ""),
			action(VerbResolve, "Resolve", number, ""))
	default:
		actions = append(actions, action(VerbReopen, "Reopen", number, ""))
	}
	if c.MoveToDM {
		// A second press, as for deleting: the platform allows it once.
		actions = append(actions, showCard("Move to DM…", []any{
			map[string]any{"type": "TextBlock", "wrap": true, "text": "A short public reply goes under the comment and its author gets a private message. The platform allows this once per comment."},
		}, []any{action(VerbDM, "Move to DM", number, "positive")}))
	}
	if conv.Source == bridge.SourceComment {
		actions = append(actions, action(VerbHide, "Hide comment", number, ""), action(VerbUnhide, "Unhide", number, ""),
			// Adaptive Cards have no confirm dialog: deleting takes a second press.
			showCard("Delete comment…", []any{
				map[string]any{"type": "TextBlock", "wrap": true, "text": "The comment is removed from the post for everyone. This cannot be undone."},
			}, []any{action(VerbDelete, "Delete", number, "destructive")}))
	}
	actions = append(actions, moreActions(c, number))
	return AdaptiveCard{
		"type":    "AdaptiveCard",
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"version": "1.4",
		"msteams": map[string]any{"width": "Full"},
		"body": []any{
			map[string]any{"type": "Container", "style": style, "items": header},
			map[string]any{"type": "FactSet", "facts": facts},
		},
		"actions": actions,
	}
}

// slaFacts are the card's due times and breach markers, one fact per clock
// (times in the SLA time zone, as the bridge gives them).
func slaFacts(clocks []bridge.CardClock) []any {
	var out []any
	for _, c := range clocks {
		var v string
		switch {
		case c.State == bridge.SLARunning && c.Breached:
			v = "🚨 Overdue since " + c.Due.Format("Mon 2 Jan 15:04 MST")
		case c.State == bridge.SLARunning:
			v = "⏱️ Due " + c.Due.Format("Mon 2 Jan 15:04 MST")
		case c.State == bridge.SLAPaused && c.Breached:
			v = "🚨 Breached (paused)"
		case c.State == bridge.SLAPaused:
			v = "⏸️ Paused, " + shortDuration(c.Left) + " left"
		case c.Breached:
			v = "🚨 Breached"
		default:
			continue
		}
		out = append(out, fact(c.Kind.Label(), v))
	}
	return out
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

func textRun(s string, bold bool) map[string]any {
	r := map[string]any{"type": "TextRun", "text": s}
	if bold {
		r["weight"] = "Bolder"
	}
	return r
}

func fact(title, value string) map[string]any {
	return map[string]any{"title": title, "value": value}
}

// moreActions is the card's "More…": the commands its state allows, as in
// Slack's More menu, picked from a list and applied with one Action.Execute.
func moreActions(c bridge.Card, n string) map[string]any {
	var choices []any
	for _, o := range bridge.MoreMenu(c) {
		choices = append(choices, map[string]any{"title": o.Label, "value": o.Command})
	}
	return showCard("More…", []any{
		map[string]any{"type": "Input.ChoiceSet", "id": "command", "style": "compact", "value": choices[0].(map[string]any)["value"], "choices": choices},
	}, []any{action(VerbMore, "Apply", n, "")})
}

// textForm is a "…" card with one text box and the button that sends it.
func textForm(title, placeholder, verb, button, number, style string) map[string]any {
	return showCard(title, []any{
		map[string]any{"type": "Input.Text", "id": "text", "isMultiline": true, "placeholder": placeholder, "maxLength": 4000},
	}, []any{action(verb, button, number, style)})
}

func showCard(title string, body, actions []any) map[string]any {
	return map[string]any{"type": "Action.ShowCard", "title": title, "card": map[string]any{
		"type": "AdaptiveCard", "body": body, "actions": actions,
	}}
}

// ActionData is what a card button sends back, in an Action.Execute's data
// and an Action.Submit's value alike.
type ActionData struct {
	Verb         string `json:"verb"`
	Conversation string `json:"conversation"`
	// Command is the More… choice and Text the Reply… or Note… text
	// (inputs of the card, merged into the data by Teams).
	Command string `json:"command,omitempty"`
	Text    string `json:"text,omitempty"`
}

// action is an Action.Execute (Universal Actions: Teams answers with the
// card our invoke response returns) falling back to Action.Submit on
// clients without it.
func action(verb, title, number, style string) map[string]any {
	data := ActionData{Verb: verb, Conversation: number}
	a := map[string]any{
		"type": "Action.Execute", "title": title, "verb": verb, "data": data,
		"fallback": map[string]any{"type": "Action.Submit", "title": title, "data": data},
	}
	if style != "" {
		a["style"] = style
	}
	return a
}

// cardActivity wraps a card into a message activity.
func cardActivity(c bridge.Card) (Activity, error) {
	content, err := json.Marshal(RenderCard(c))
	if err != nil {
		return Activity{}, err
	}
	return Activity{
		Type: TypeMessage, Summary: CardText(c),
		Attachments: []Attachment{{ContentType: ContentTypeAdaptiveCard, Content: content}},
	}, nil
}

// MessageText renders a message shown in a thread as Teams' XML (HTML)
// text format, everything that came from outside escaped.
func MessageText(m bridge.MessageView) string {
	var b strings.Builder
	name := html.EscapeString(m.SenderName)
	switch m.Message.Direction {
	case bridge.Inbound:
		fmt.Fprintf(&b, "<b>%s:</b> ", name)
	case bridge.Outbound:
		fmt.Fprintf(&b, "<b>%s</b> (agent): ", name)
	case bridge.Note:
		fmt.Fprintf(&b, "📝 <b>%s</b> (internal note): ", name)
	}
	writeText(&b, m.Message)
	// Coalesced messages follow, one a line, in the order they were sent.
	for _, more := range m.More {
		b.WriteString("<br>")
		writeText(&b, more)
	}
	return b.String()
}

func writeText(b *strings.Builder, m bridge.Message) {
	b.WriteString(escapeText(m.Text))
	for _, a := range m.Attachments {
		label := a.Name
		if label == "" {
			label = a.Kind
		}
		fmt.Fprintf(b, "<br>📎 %s", html.EscapeString(label))
	}
	if m.EditedAt != nil {
		b.WriteString(" <i>(edited)</i>")
	}
}

func escapeText(s string) string {
	return strings.ReplaceAll(html.EscapeString(truncate(s, 20000)), "\n", "<br>")
}

func textActivity(text string) Activity {
	return Activity{Type: TypeMessage, TextFormat: "xml", Text: text}
}
