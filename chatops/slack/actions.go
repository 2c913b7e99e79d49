package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

// Buttons, selects and shortcuts carry grammar text: a button's action id
// names its verb and its value the conversation number; the "More" select's
// option values and the shortcuts' callback ids are read the same way, so
// every way in ends in bridge.ParseCommand and bridge.Dispatch.

// DecodeInteraction parses the form body of an interactivity request.
func DecodeInteraction(body []byte) (slack.InteractionCallback, error) {
	var cb slack.InteractionCallback
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return cb, fmt.Errorf("%w: slack interaction form: %v", bridge.ErrInvalidInput, err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return cb, fmt.Errorf("%w: slack interaction without payload", bridge.ErrInvalidInput)
	}
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return cb, fmt.Errorf("%w: slack interaction payload: %v", bridge.ErrInvalidInput, err)
	}
	return cb, nil
}

func (h *Handler) serveInteractions(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, ok := h.readVerified(w, r, "slack_interactions")
	if !ok {
		return
	}
	cb, err := DecodeInteraction(body)
	if err != nil {
		h.log.Warn("slack interaction: malformed", "err", err)
		h.opts.Observe("slack_interactions", "bad_request", time.Since(start))
		http.Error(w, "malformed interaction", http.StatusBadRequest)
		return
	}
	outcome, answer, err := h.HandleInteraction(r.Context(), cb)
	if err != nil {
		h.opts.Observe("slack_interactions", "error", time.Since(start))
		http.Error(w, "could not handle interaction", http.StatusInternalServerError)
		return
	}
	h.opts.Observe("slack_interactions", outcome, time.Since(start))
	if answer != nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// HandleInteraction acts on card buttons, the card's More select, message
// shortcuts and form submissions. A non-nil answer is the body to answer a
// view_submission with (errors, or the next view); nil closes the form.
func (h *Handler) HandleInteraction(ctx context.Context, cb slack.InteractionCallback) (string, *slack.ViewSubmissionResponse, error) {
	var outcome string
	var err error
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		outcome, err = h.handleBlockActions(ctx, cb)
	case slack.InteractionTypeMessageAction:
		outcome, err = h.handleShortcut(ctx, cb)
	case slack.InteractionTypeViewSubmission:
		return h.handleSubmission(ctx, cb)
	case slack.InteractionTypeViewClosed:
		outcome, err = h.handleViewClosed(ctx, cb)
	default:
		outcome = "ignored"
	}
	return outcome, nil, err
}

func (h *Handler) handleBlockActions(ctx context.Context, cb slack.InteractionCallback) (string, error) {
	actor := h.actor(ctx, cb.Team.ID, cb.User.ID, cb.User.Name)
	outcome := "ignored"
	for _, a := range cb.ActionCallback.BlockActions {
		if a.ActionID == actionMacroPick && cb.View.ID != "" {
			return h.handleMacroPick(ctx, cb, a)
		}
		text, ok := actionText(a)
		if !ok {
			continue
		}
		if verb, ok := strings.CutPrefix(a.ActionID, actionPrefix); ok && formVerbs[bridge.Verb(verb)] {
			n, err := bridge.ParseConversationNumber(a.Value)
			if err != nil {
				outcome = "bad_request"
				continue
			}
			if err := h.openForm(ctx, bridge.Verb(verb), cb.TriggerID, actor, bridge.ConversationRef{Number: n}, cb.Channel.ID); err != nil {
				return "", err
			}
			outcome = "form"
			continue
		}
		cmd, err := bridge.ParseCommandWith(Syntax{}, text)
		if err == nil && cmd.Conversation.IsZero() {
			err = fmt.Errorf("%w: the button names no conversation", bridge.ErrInvalidInput)
		}
		if err != nil {
			h.log.Warn("slack action: unreadable", "action", a.ActionID, "err", err)
			h.tell(cb.Channel.ID, "", cb.User.ID, explain(err))
			outcome = "bad_request"
			continue
		}
		key := bridge.DeliveryKey{Source: "slack_action", ID: cb.TriggerID + "/" + a.ActionID + "/" + a.ActionTs}
		res, err := h.opts.Bridge.Dispatch(ctx, key, actor, cmd)
		if userFault(err) {
			h.tell(cb.Channel.ID, "", cb.User.ID, explain(err))
			outcome = "refused"
			continue
		}
		if err != nil {
			h.log.Error("slack action: bridge", "action", a.ActionID, "err", err)
			return "", err
		}
		if answer := h.answer(cmd, res, false); answer != "" {
			h.tell(cb.Channel.ID, "", cb.User.ID, answer)
		}
		outcome = string(cmd.Verb)
	}
	return outcome, nil
}

// actionText is the command a button or select stands for.
func actionText(a *slack.BlockAction) (string, bool) {
	if a.ActionID == ActionMore {
		v := a.SelectedOption.Value
		return v, v != ""
	}
	verb, ok := strings.CutPrefix(a.ActionID, actionPrefix)
	if !ok || verb == "" {
		return "", false
	}
	return verb + " " + a.Value, true
}

// Shortcut callback ids (the manifest's message shortcuts) name their verb.
const shortcutPrefix = "threadline_"

func (h *Handler) handleShortcut(ctx context.Context, cb slack.InteractionCallback) (string, error) {
	verb, ok := strings.CutPrefix(cb.CallbackID, shortcutPrefix)
	if !ok {
		return "ignored", nil
	}
	threadTS := cb.Message.ThreadTimestamp
	if threadTS == "" {
		threadTS = cb.Message.Timestamp
	}
	conv, err := h.opts.Bridge.ConversationByChatThread(ctx, bridge.SurfaceSlack, cb.Channel.ID, threadTS)
	if userFault(err) {
		h.tell(cb.Channel.ID, threadTS, cb.User.ID, "This message is not in a Threadline conversation thread.")
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	actor := h.actor(ctx, cb.Team.ID, cb.User.ID, cb.User.Name)
	if formVerbs[bridge.Verb(verb)] && h.opts.Views != nil {
		if err := h.openForm(ctx, bridge.Verb(verb), cb.TriggerID, actor, bridge.ConversationRef{ID: conv.ID}, cb.Channel.ID); err != nil {
			return "", err
		}
		return "form", nil
	}
	cmd, err := bridge.ParseCommandWith(Syntax{}, verb)
	if err == nil && cmd.Verb == bridge.VerbReply {
		err = errNeedsText
	}
	if err != nil {
		// Verbs that need more than a click (a note's text, a transfer's
		// target) are typed as a command.
		spec, _ := bridge.Verb(verb).Spec()
		hint := fmt.Sprintf("Use `/threadline %s %d %s`", verb, conv.Number, strings.TrimPrefix(spec.Usage, "1042 "))
		h.tell(cb.Channel.ID, threadTS, cb.User.ID, hint)
		return "hint", nil
	}
	cmd.Conversation = bridge.ConversationRef{ID: conv.ID}
	res, err := h.opts.Bridge.Dispatch(ctx, bridge.DeliveryKey{Source: "slack_shortcut", ID: cb.TriggerID}, actor, cmd)
	if userFault(err) {
		h.tell(cb.Channel.ID, threadTS, cb.User.ID, explain(err))
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	if answer := h.answer(cmd, res, true); answer != "" {
		h.tell(cb.Channel.ID, threadTS, cb.User.ID, answer)
	}
	return string(cmd.Verb), nil
}

var errNeedsText = fmt.Errorf("%w: needs text", bridge.ErrInvalidInput)

// SlashCommand is /threadline as Slack sends it.
type SlashCommand struct {
	Command, Text, TeamID, UserID, UserName, ChannelID, TriggerID string
}

// DecodeCommand parses a slash command form body.
func DecodeCommand(body []byte) (SlashCommand, error) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return SlashCommand{}, fmt.Errorf("%w: slash command form: %v", bridge.ErrInvalidInput, err)
	}
	c := SlashCommand{Command: v.Get("command"), Text: v.Get("text"), TeamID: v.Get("team_id"), UserID: v.Get("user_id"),
		UserName: v.Get("user_name"), ChannelID: v.Get("channel_id"), TriggerID: v.Get("trigger_id")}
	if c.Command == "" || c.UserID == "" {
		return c, fmt.Errorf("%w: slash command without command or user", bridge.ErrInvalidInput)
	}
	return c, nil
}

func (h *Handler) serveCommands(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, ok := h.readVerified(w, r, "slack_commands")
	if !ok {
		return
	}
	cmd, err := DecodeCommand(body)
	if err != nil {
		h.opts.Observe("slack_commands", "bad_request", time.Since(start))
		http.Error(w, "malformed command", http.StatusBadRequest)
		return
	}
	text, err := h.HandleCommand(r.Context(), cmd)
	if err != nil {
		h.opts.Observe("slack_commands", "error", time.Since(start))
		http.Error(w, "could not handle command", http.StatusInternalServerError)
		return
	}
	h.opts.Observe("slack_commands", "ok", time.Since(start))
	if text == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"response_type": "ephemeral", "text": text})
}

// CommandHelp is the /threadline help text.
func CommandHelp(only bridge.Verb) string {
	h := bridge.HelpText("/threadline ", only)
	if only == "" {
		h = "*Threadline commands* (the number is on the conversation's card; buttons and the message shortcuts act on their own thread)\n" + h +
			"\nIn a conversation thread, your messages go to the customer; start with `note:` (or mention a teammate) to keep one internal, `reply:` to always send."
	}
	return h
}

// HandleCommand runs /threadline and returns the text to show the user.
func (h *Handler) HandleCommand(ctx context.Context, c SlashCommand) (string, error) {
	cmd, err := bridge.ParseCommandWith(Syntax{}, c.Text)
	if err != nil {
		return explain(err), nil
	}
	if cmd.Verb == bridge.VerbHelp {
		return CommandHelp(cmd.HelpVerb), nil
	}
	if spec, _ := cmd.Verb.Spec(); spec.Conversation && cmd.Conversation.IsZero() {
		return fmt.Sprintf("Say which conversation: `/threadline %s 1042 %s` (the number is on the card).", cmd.Verb,
			strings.TrimPrefix(strings.TrimPrefix(spec.Usage, "1042"), " ")), nil
	}
	if cmd.Verb == bridge.VerbReply && cmd.Text == "" {
		if h.opts.Views == nil || c.TriggerID == "" {
			return fmt.Sprintf("Write the reply: `/threadline reply %d your text`.", cmd.Conversation.Number), nil
		}
		if err := h.openForm(ctx, bridge.VerbReply, c.TriggerID, h.actor(ctx, c.TeamID, c.UserID, c.UserName), cmd.Conversation, c.ChannelID); err != nil {
			return "", err
		}
		return "", nil // the form is the answer
	}
	key := bridge.DeliveryKey{Source: "slack_command", ID: c.TriggerID}
	if c.TriggerID == "" {
		key = bridge.DeliveryKey{}
	}
	res, err := h.opts.Bridge.Dispatch(ctx, key, h.actor(ctx, c.TeamID, c.UserID, c.UserName), cmd)
	if userFault(err) {
		return explain(err), nil
	}
	if err != nil {
		return "", err
	}
	if res.Duplicate {
		return "Already done.", nil
	}
	if res.Report != nil {
		return h.startReport(ctx, c, *res.Report), nil
	}
	return h.answer(cmd, res, true), nil
}

// answer renders a result for the actor. Where the card shows the change
// (a button), only what needs attention and lists are worth a message.
func (h *Handler) answer(cmd bridge.Command, res bridge.CommandResult, always bool) string {
	if res.Duplicate {
		return ""
	}
	var b strings.Builder
	if always || res.Attention || len(res.Conversations) > 0 || len(res.Audit) > 0 {
		b.WriteString(escape(res.Text))
	}
	if cmd.Verb == bridge.VerbHelp {
		return CommandHelp(cmd.HelpVerb)
	}
	for _, s := range res.Conversations {
		b.WriteString("\n• " + h.summaryLine(s))
	}
	for _, e := range res.Audit {
		b.WriteString("\n• " + auditLine(e))
	}
	return b.String()
}

func (h *Handler) summaryLine(s bridge.ConversationSummary) string {
	c := s.Conversation
	num := c.Number.String()
	for _, t := range s.Chats {
		if t.Surface == bridge.SurfaceSlack && h.opts.Links != nil {
			if link := h.opts.Links.Permalink(t.Channel, t.ThreadRef); link != "" {
				num = "<" + link + "|" + num + ">"
			}
		}
	}
	name := s.Customer.Name
	if name == "" {
		name = "Customer " + s.Customer.ExternalUserID
	}
	line := fmt.Sprintf("*%s* %s · %s · %s on %s · %s", num, c.Priority, statusLabels[c.Status], escape(name), PlatformName(c.Platform), slackDate(c.CreatedAt))
	if s.Assignee != "" {
		line += " · " + escape(s.Assignee)
	}
	if len(c.Tags) > 0 {
		line += " · " + escape(strings.Join(c.Tags, ", "))
	}
	return line
}

func auditLine(e bridge.AuditView) string {
	who := e.Actor
	if who == "" {
		who = "Threadline"
	}
	line := fmt.Sprintf("%s *%s* %s", slackDate(e.At), escape(who), escape(strings.ReplaceAll(e.Action, "_", " ")))
	if ch := e.ChangeText(func(s string) string { return "`" + escape(s) + "`" }); ch != "" {
		line += ": " + ch
	}
	return line
}
