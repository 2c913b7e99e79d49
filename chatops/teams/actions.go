package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/threadline/threadline/bridge"
)

// Bridge is what the handler needs from the core: every agent action goes
// through Dispatch, the one path Slack uses too.
type Bridge interface {
	Dispatch(ctx context.Context, key bridge.DeliveryKey, actor bridge.Actor, cmd bridge.Command) (bridge.CommandResult, error)
	ConversationByChatThread(ctx context.Context, surface bridge.Surface, channel, threadRef string) (bridge.Conversation, error)
	CardOf(ctx context.Context, ref bridge.ConversationRef) (bridge.Card, error)
}

// Teller posts the bot's answer to an agent into a thread: a Teams channel
// has no message only one person sees.
type Teller interface {
	Tell(ctx context.Context, conversationID, rootID, text string) error
}

// RoleSource says which role the role settings give a Teams user.
type RoleSource interface {
	RoleOf(ctx context.Context, user ChannelAccount) bridge.Role
}

// Reply modes, as for Slack.
const (
	// ReplyAuto sends a thread message to the customer unless it starts
	// with "note:" or mentions a teammate.
	ReplyAuto = "auto"
	// ReplyExplicit keeps thread messages internal unless they start with
	// "reply:" (or are the reply command).
	ReplyExplicit = "explicit"
)

// Intent is what an agent's thread message means.
type Intent int

const (
	IntentReply Intent = iota
	IntentNote
)

// ClassifyMessage applies Slack's reply-safety rule to a Teams thread
// message whose bot mentions were already removed: a leak to a customer is
// the worst failure of this product, so anything addressed to a teammate
// stays internal. The bot's own mention never counts as a teammate's:
// without the ChannelMessage.Read.Group permission every message the bot
// sees mentions it.
func ClassifyMessage(text string, mentionsTeammate bool, mode string) (Intent, string) {
	t := strings.TrimSpace(text)
	lower := strings.ToLower(t)
	switch {
	case strings.HasPrefix(lower, "reply:"):
		return IntentReply, strings.TrimSpace(t[len("reply:"):])
	case strings.HasPrefix(lower, "note:"):
		return IntentNote, strings.TrimSpace(t[len("note:"):])
	case mode == ReplyExplicit, mentionsTeammate:
		return IntentNote, t
	}
	return IntentReply, t
}

// message is an agent's thread message as the handler reads it.
type message struct {
	text       string // bot mentions removed, other mentions as <at>Name</at>
	mentionsMe bool
	teammates  bool
	syntax     syntax
}

// readMessage removes the bot's mentions and collects the others, by the
// mention entities: the <at> markup alone is typed text and names nobody.
func (h *Handler) readMessage(a Activity) message {
	m := message{text: a.Text, syntax: syntax{mentions: map[string]bridge.Mention{}}}
	me := h.botID(a)
	for _, e := range a.Entities {
		if e.Type != "mention" || e.Mentioned == nil || e.Text == "" {
			continue
		}
		if e.Mentioned.ID == me {
			m.mentionsMe = true
			m.text = strings.ReplaceAll(m.text, e.Text, " ")
			continue
		}
		if !strings.Contains(m.text, e.Text) {
			continue
		}
		m.teammates = true
		kind := bridge.MentionUser
		if strings.HasPrefix(e.Mentioned.ID, "19:") {
			kind = bridge.MentionTeam // a channel or tag
		}
		if _, dup := m.syntax.mentions[e.Text]; !dup {
			m.syntax.mentions[e.Text] = bridge.Mention{Kind: kind, ID: e.Mentioned.ID, Name: e.Mentioned.Name, Raw: e.Text}
		}
	}
	m.text = strings.TrimSpace(m.text)
	// Mention markup left over names someone too (a tag, or an entity
	// Teams left out): when in doubt, the message stays internal.
	if strings.Contains(m.text, "<at>") {
		m.teammates = true
	}
	return m
}

func (h *Handler) botID(a Activity) string {
	if a.Recipient != nil && a.Recipient.ID != "" {
		return a.Recipient.ID
	}
	return "28:" + h.opts.AppID
}

// syntax is how Teams writes mentions for the command grammar: a mention
// is <at>Display Name</at> (spaces and all), resolved by its entity.
type syntax struct{ mentions map[string]bridge.Mention }

func (s syntax) NextToken(str string) (string, string) {
	if strings.HasPrefix(str, "<at>") {
		if i := strings.Index(str, "</at>"); i >= 0 {
			return str[:i+len("</at>")], str[i+len("</at>"):]
		}
	}
	return bridge.PlainSyntax{}.NextToken(str)
}

func (s syntax) Mention(tok string) (bridge.Mention, bool) {
	if m, ok := s.mentions[tok]; ok {
		return m, true
	}
	if strings.HasPrefix(tok, "<at>") {
		return bridge.Mention{}, false
	}
	return bridge.PlainSyntax{}.Mention(tok)
}

var atTag = regexp.MustCompile(`</?at>`)

// PlainText turns a Teams message into what a customer should read.
func PlainText(s string) string {
	return strings.TrimSpace(html.UnescapeString(atTag.ReplaceAllString(s, "")))
}

// handle acts on a validated activity and returns the outcome, the status
// and, for invokes, the response body.
func (h *Handler) handle(ctx context.Context, act Activity) (string, int, []byte) {
	if act.From == nil || act.From.ID == h.botID(act) || act.From.Role == "bot" {
		return "ignored", http.StatusOK, nil // never act on a bot, least of all ourselves
	}
	if h.opts.Bridge == nil {
		return "ignored", http.StatusOK, nil
	}
	switch {
	case act.Type == TypeInvoke && act.Name == "adaptiveCard/action":
		return h.handleExecute(ctx, act)
	case act.Type == TypeMessage && len(act.Value) > 0 && strings.TrimSpace(act.Text) == "":
		return h.handleSubmit(ctx, act)
	case act.Type == TypeMessage:
		outcome, err := h.handleText(ctx, act)
		if err != nil {
			h.log.Error("teams message: bridge", "activity", act.ID, "err", err)
			return "error", http.StatusInternalServerError, nil
		}
		return outcome, http.StatusOK, nil
	}
	return "ignored", http.StatusOK, nil
}

func (h *Handler) actor(ctx context.Context, a Activity) bridge.Actor {
	actor := bridge.Actor{Surface: bridge.SurfaceTeams, Workspace: a.TenantID(), UserID: a.From.ID, Name: a.From.Name}
	if h.opts.Roles != nil {
		actor.Role = h.opts.Roles.RoleOf(ctx, *a.From)
	}
	return actor
}

var cardVerbs = map[string]bridge.Verb{
	VerbClaim: bridge.VerbClaim, VerbResolve: bridge.VerbResolve, VerbReopen: bridge.VerbReopen,
	VerbHide: bridge.VerbHide, VerbUnhide: bridge.VerbUnhide, VerbDelete: bridge.VerbDelete, VerbDM: bridge.VerbDM,
}

// buttonCommand reads a card button's data: a verb of the card, or the
// More… choice, which is a command in the grammar naming the card's
// conversation.
func buttonCommand(d ActionData) (bridge.Command, error) {
	n, err := bridge.ParseConversationNumber(d.Conversation)
	if err != nil {
		return bridge.Command{}, err
	}
	if d.Verb == VerbMore {
		cmd, err := bridge.ParseCommand(d.Command)
		if err != nil {
			return bridge.Command{}, err
		}
		if spec, _ := cmd.Verb.Spec(); spec.Conversation && cmd.Conversation.Number != n {
			return bridge.Command{}, fmt.Errorf("%w: the choice is not for %s", bridge.ErrInvalidInput, n)
		}
		return cmd, nil
	}
	if d.Verb == VerbReply || d.Verb == VerbNote {
		text := strings.TrimSpace(d.Text)
		if text == "" {
			return bridge.Command{}, fmt.Errorf("%w: write the %s first", bridge.ErrInvalidInput, d.Verb)
		}
		return bridge.Command{Verb: bridge.Verb(d.Verb), Conversation: bridge.ConversationRef{Number: n}, Text: text}, nil
	}
	verb, ok := cardVerbs[d.Verb]
	if !ok {
		return bridge.Command{}, fmt.Errorf("%w: unknown card action %q", bridge.ErrInvalidInput, truncate(d.Verb, 40))
	}
	return bridge.Command{Verb: verb, Conversation: bridge.ConversationRef{Number: n}}, nil
}

// invokeValue is an adaptiveCard/action invoke's value.
type invokeValue struct {
	Action struct {
		Type string     `json:"type"`
		Verb string     `json:"verb"`
		Data ActionData `json:"data"`
	} `json:"action"`
}

// Invoke response types of Universal Actions.
const (
	invokeCard    = "application/vnd.microsoft.card.adaptive"
	invokeMessage = "application/vnd.microsoft.activity.message"
	invokeError   = "application/vnd.microsoft.error"
)

func invokeResponse(typ string, value any) []byte {
	b, _ := json.Marshal(map[string]any{"statusCode": 200, "type": typ, "value": value})
	if typ == invokeError {
		b, _ = json.Marshal(map[string]any{"statusCode": 400, "type": typ, "value": value})
	}
	return b
}

// handleExecute answers an Action.Execute in the HTTP response, with the
// updated card (Teams replaces the card with it for everyone) or, when the
// action was refused, a message to the one who pressed.
func (h *Handler) handleExecute(ctx context.Context, act Activity) (string, int, []byte) {
	var v invokeValue
	if err := json.Unmarshal(act.Value, &v); err != nil {
		return "bad_request", http.StatusOK, invokeResponse(invokeError, map[string]string{"code": "BadRequest", "message": "unreadable action"})
	}
	if v.Action.Data.Verb == "" {
		v.Action.Data.Verb = v.Action.Verb
	}
	cmd, err := buttonCommand(v.Action.Data)
	if err != nil {
		return "bad_request", http.StatusOK, invokeResponse(invokeMessage, explain(err))
	}
	res, err := h.opts.Bridge.Dispatch(ctx, bridge.DeliveryKey{Source: "teams_action", ID: act.Conversation.ID + "/" + act.ID}, h.actor(ctx, act), cmd)
	if userFault(err) {
		return "refused", http.StatusOK, invokeResponse(invokeMessage, explain(err))
	}
	if err != nil {
		h.log.Error("teams action: bridge", "verb", cmd.Verb, "err", err)
		return "error", http.StatusInternalServerError, nil
	}
	switch cmd.Verb {
	case bridge.VerbHistory, bridge.VerbAudit:
		// A list is for the one who asked; the card stays as it is.
		return string(cmd.Verb), http.StatusOK, invokeResponse(invokeMessage, answerText(cmd, res))
	}
	if res.Attention && res.Text != "" {
		h.tell(act, res.Text)
	}
	card, err := h.opts.Bridge.CardOf(ctx, cmd.Conversation)
	if err != nil {
		h.log.Error("teams action: card", "err", err)
		return string(cmd.Verb), http.StatusOK, invokeResponse(invokeMessage, "Done.")
	}
	return string(cmd.Verb), http.StatusOK, invokeResponse(invokeCard, RenderCard(card))
}

// handleSubmit handles the Action.Submit fallback of clients without
// Universal Actions: a message activity carrying the button's data. The
// card is updated by its delivery lane.
func (h *Handler) handleSubmit(ctx context.Context, act Activity) (string, int, []byte) {
	var d ActionData
	if err := json.Unmarshal(act.Value, &d); err != nil {
		return "bad_request", http.StatusBadRequest, nil
	}
	cmd, err := buttonCommand(d)
	if err != nil {
		return "bad_request", http.StatusBadRequest, nil
	}
	res, err := h.opts.Bridge.Dispatch(ctx, bridge.DeliveryKey{Source: "teams_action", ID: act.Conversation.ID + "/" + act.ID}, h.actor(ctx, act), cmd)
	if userFault(err) {
		h.tell(act, explain(err))
		return "refused", http.StatusOK, nil
	}
	if err != nil {
		h.log.Error("teams submit: bridge", "verb", cmd.Verb, "err", err)
		return "error", http.StatusInternalServerError, nil
	}
	if res.Attention && res.Text != "" {
		h.tell(act, res.Text)
	}
	return string(cmd.Verb), http.StatusOK, nil
}

// handleText acts on a message: addressed to the bot and starting with a
// verb it is a command (the same grammar as Slack's); otherwise, in a
// conversation thread, it is a reply or a note under the reply-safety rule.
func (h *Handler) handleText(ctx context.Context, act Activity) (string, error) {
	msg := h.readMessage(act)
	var conv *bridge.Conversation
	if _, root, ok := ThreadRoot(act.Conversation.ID); ok {
		c, err := h.threadConversation(ctx, act.Conversation.ID, root)
		switch {
		case err == nil:
			conv = &c
		case !errors.Is(err, bridge.ErrNotFound):
			return "", err
		}
	}
	key := bridge.DeliveryKey{Source: "teams", ID: act.Conversation.ID + "/" + act.ID}
	chatRef := &bridge.ChatMessageRef{Surface: bridge.SurfaceTeams, Channel: act.Conversation.ID, Ref: act.ID}
	if msg.mentionsMe {
		cmd, err := bridge.ParseCommandWith(msg.syntax, msg.text)
		var perr *bridge.ParseError
		notAVerb := errors.As(err, &perr) && perr.Verb == "" && msg.text != ""
		switch {
		case err == nil:
			return h.runCommand(ctx, act, key, conv, chatRef, cmd)
		case !notAVerb:
			h.tell(act, explain(err))
			return "refused", nil
		}
		// "@Threadline Sorry for the wait": a message, not a command.
	}
	if conv == nil {
		if msg.mentionsMe {
			h.tell(act, "This is not a conversation thread: name the conversation, e.g. @Threadline claim 1042, or say @Threadline help.")
			return "refused", nil
		}
		return "ignored", nil // channel chatter
	}
	intent, text := ClassifyMessage(msg.text, msg.teammates, h.opts.ReplyMode)
	cmd := bridge.Command{Verb: bridge.VerbNote, Conversation: bridge.ConversationRef{ID: conv.ID}, Text: text, ChatRef: chatRef}
	if intent == IntentReply {
		// A bystander's message stays internal rather than reaching the
		// customer over the assignee's head.
		cmd.Verb, cmd.Text, cmd.NoteIfForbidden = bridge.VerbReply, PlainText(text), true
	}
	return h.dispatch(ctx, act, key, cmd)
}

// runCommand runs a parsed text command, on the thread's conversation when
// it names none.
func (h *Handler) runCommand(ctx context.Context, act Activity, key bridge.DeliveryKey, conv *bridge.Conversation, chatRef *bridge.ChatMessageRef, cmd bridge.Command) (string, error) {
	spec, _ := cmd.Verb.Spec()
	if spec.Conversation && conv != nil {
		switch {
		case cmd.Conversation.IsZero():
			cmd.Conversation = bridge.ConversationRef{ID: conv.ID}
		case cmd.Conversation.Number != conv.Number:
			h.tell(act, fmt.Sprintf("Not done: this thread is %s, not %s. Leave the number out here.", conv.Number, cmd.Conversation.Number))
			return "refused", nil
		}
	}
	switch cmd.Verb {
	case bridge.VerbReply:
		if strings.TrimSpace(cmd.Text) == "" {
			h.tell(act, "Write the reply after the command: @Threadline reply Thanks, it ships today.")
			return "refused", nil
		}
		cmd.Text, cmd.ChatRef = PlainText(cmd.Text), chatRef
	case bridge.VerbNote:
		cmd.ChatRef = chatRef
	}
	return h.dispatch(ctx, act, key, cmd)
}

func (h *Handler) dispatch(ctx context.Context, act Activity, key bridge.DeliveryKey, cmd bridge.Command) (string, error) {
	res, err := h.opts.Bridge.Dispatch(ctx, key, h.actor(ctx, act), cmd)
	if userFault(err) {
		h.tell(act, explain(err))
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	if res.Duplicate {
		return "duplicate", nil
	}
	if res.Report != nil {
		h.report(act, *res.Report)
		return string(cmd.Verb), nil
	}
	if answer := answerText(cmd, res); answer != "" {
		h.tell(act, answer)
	}
	if res.Demoted {
		return "note", nil
	}
	return string(cmd.Verb), nil
}

// answerText is what the bot says after a command: lists and help always;
// for changes, which show on the card, only what needs attention.
func answerText(cmd bridge.Command, res bridge.CommandResult) string {
	var b strings.Builder
	switch cmd.Verb {
	case bridge.VerbMine, bridge.VerbQueue, bridge.VerbHistory:
		b.WriteString(res.Text)
		for _, c := range res.Conversations {
			who := c.Assignee
			if who == "" {
				who = "unassigned"
			}
			fmt.Fprintf(&b, "\n%s · %s · %s · %s · %s", c.Conversation.Number, c.Customer.Name, c.Conversation.Platform.DisplayName(), c.Conversation.Status, who)
		}
		return b.String()
	case bridge.VerbAudit:
		b.WriteString(res.Text)
		for _, e := range res.Audit {
			actor := e.Actor
			if actor == "" {
				actor = "system"
			}
			fmt.Fprintf(&b, "\n%s %s %s", e.At.UTC().Format(time.RFC3339), actor, strings.ReplaceAll(e.Action, "_", " "))
			if ch := e.ChangeText(nil); ch != "" {
				b.WriteString(": " + ch)
			}
		}
		return b.String()
	case bridge.VerbHelp:
		return res.Text
	}
	if res.Attention || res.Demoted {
		return res.Text
	}
	return ""
}

func userFault(err error) bool {
	return errors.Is(err, bridge.ErrIllegalState) || errors.Is(err, bridge.ErrInvalidInput) ||
		errors.Is(err, bridge.ErrConflict) || errors.Is(err, bridge.ErrForbidden) || errors.Is(err, bridge.ErrNotFound)
}

// explain turns a refusal into plain sentences for the agent.
func explain(err error) string {
	var claimed *bridge.ClaimedError
	if errors.As(err, &claimed) {
		return fmt.Sprintf("Not done: %s is already claimed by %s.", claimed.Number, claimed.Owner.Name)
	}
	var perr *bridge.ParseError
	if errors.As(err, &perr) {
		return perr.Error() + "."
	}
	msg := err.Error()
	for _, sentinel := range []error{bridge.ErrIllegalState, bridge.ErrInvalidInput, bridge.ErrConflict, bridge.ErrForbidden, bridge.ErrNotFound} {
		if _, after, ok := strings.Cut(msg, sentinel.Error()+": "); ok && errors.Is(err, sentinel) {
			msg = after
			break
		}
	}
	if errors.Is(err, bridge.ErrNotFound) && !strings.Contains(msg, "conversation") {
		msg = "no such conversation"
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return "Not done: " + msg + "."
}

// tell answers in the activity's thread in the background: the connector
// waits for our HTTP answer, which must not wait for another call.
func (h *Handler) tell(act Activity, text string) {
	if h.opts.Teller == nil {
		return
	}
	root := act.ID
	if _, r, ok := ThreadRoot(act.Conversation.ID); ok {
		root = r
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.opts.Teller.Tell(ctx, act.Conversation.ID, root, text); err != nil {
			h.log.Warn("teams: answer in thread", "err", err)
		}
	}()
}

// threadRecordWait bounds how long a thread message waits for its thread to
// be recorded. The root is recorded just after the connector answers its
// creation, so an agent's very quick reply can arrive first; Teams does not
// deliver a message again once we answered, so we wait rather than lose it.
const threadRecordWait = 3 * time.Second

// threadConversation finds the conversation a Teams thread shows, waiting up
// to threadRecordWait for a thread that is not recorded yet.
func (h *Handler) threadConversation(ctx context.Context, conversationID, root string) (bridge.Conversation, error) {
	deadline := time.Now().Add(threadRecordWait)
	for {
		c, err := h.opts.Bridge.ConversationByChatThread(ctx, bridge.SurfaceTeams, conversationID, root)
		if !errors.Is(err, bridge.ErrNotFound) || !time.Now().Before(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return c, err
		case <-time.After(25 * time.Millisecond):
		}
	}
}
