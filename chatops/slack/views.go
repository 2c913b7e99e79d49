package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/threadline/threadline/bridge"
)

// Modals (Slack "views") for the verbs that need more than a click: reply,
// note, transfer and escalate. A form's submission is turned into command
// text and read by the same grammar as everything else, so a form can do
// nothing a slash command could not.

// Views opens and updates modals (Surface).
type Views interface {
	OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) (string, error)
	UpdateView(ctx context.Context, viewID string, view slack.ModalViewRequest) error
	ChannelName(ctx context.Context, channelID string) string
}

// Callback ids of the forms; formPrefix + verb.
const (
	formPrefix      = "threadline_form_"
	formConfirm     = formPrefix + "confirm_reply"
	recentInForm    = 5
	formTextMax     = bridge.MaxCommandText - 100
	blockReply      = "reply"
	blockConfirm    = "reply_again" // another id, so the draft is its initial value
	blockNote       = "note"
	blockTo         = "to"
	blockTeam       = "team"
	blockReason     = "reason"
	blockLevel      = "level"
	actionInput     = "text"
	actionUser      = "user"
	actionChannel   = "channel"
	actionLevel     = "level"
	blockCanned     = "canned"
	actionMacroPick = "threadline_macro_pick"
	blockFromMacro  = "reply_m_" // + macro name: a new block id, so the macro is its initial value
	maxMacroOptions = 50
)

// formVerbs open a form instead of acting at once.
var formVerbs = map[bridge.Verb]bool{bridge.VerbReply: true, bridge.VerbNote: true, bridge.VerbTransfer: true, bridge.VerbEscalate: true}

// formMeta travels in a form's private_metadata.
type formMeta struct {
	Conv    bridge.ConversationID     `json:"c"`
	Number  bridge.ConversationNumber `json:"n"`
	SeenSeq int64                     `json:"s"`
	Channel string                    `json:"ch,omitempty"`
	Thread  string                    `json:"ts,omitempty"`
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func textInput(block, label, placeholder, initial string, multiline, optional bool) *slack.InputBlock {
	el := slack.NewPlainTextInputBlockElement(plain(placeholder), actionInput)
	el.Multiline, el.MaxLength, el.InitialValue = multiline, formTextMax, initial
	in := slack.NewInputBlock(block, plain(label), nil, el)
	in.Optional = optional
	return in
}

// openForm shows the form of verb for a conversation to the user behind
// triggerID. Refusals that need no form (unknown or closed conversation)
// are told at once.
func (h *Handler) openForm(ctx context.Context, verb bridge.Verb, triggerID string, actor bridge.Actor, ref bridge.ConversationRef, channel string) error {
	if h.opts.Views == nil {
		h.tell(channel, "", actor.UserID, fmt.Sprintf("Use `/threadline %s`.", verb))
		return nil
	}
	rc, err := h.opts.Bridge.ReplyContextFor(ctx, bridge.SurfaceSlack, ref, recentInForm)
	if userFault(err) {
		h.tell(channel, "", actor.UserID, explain(err))
		return nil
	}
	if err != nil {
		return err
	}
	conv := rc.Conversation
	meta := formMeta{Conv: conv.ID, Number: conv.Number, SeenSeq: conv.LastSeq}
	if rc.Thread != nil {
		meta.Channel, meta.Thread = rc.Thread.Channel, rc.Thread.ThreadRef
		channel = rc.Thread.Channel
	}
	if verb != bridge.VerbNote && (conv.Status == bridge.StatusResolved || conv.Status == bridge.StatusClosed) {
		h.tell(channel, meta.Thread, actor.UserID, fmt.Sprintf("Not done: %s is %s; reopen it first.", conv.Number, conv.Status))
		return nil
	}
	var others []bridge.Draft
	if verb == bridge.VerbReply {
		if others, err = h.opts.Bridge.Drafts(ctx, conv.ID); err != nil {
			return err
		}
		others = withoutUser(others, actor.UserID)
	}
	view := h.formView(ctx, verb, rc, meta, actor, others, nil)
	viewID, err := h.opts.Views.OpenView(ctx, triggerID, view)
	if err != nil {
		return err
	}
	if verb != bridge.VerbReply {
		return nil
	}
	if _, err := h.opts.Bridge.OpenDraft(ctx, actor, conv.ID, viewID, conv.LastSeq); err != nil {
		return err
	}
	h.warnCollisions(actor, rc, meta, others)
	return nil
}

func withoutUser(ds []bridge.Draft, user string) []bridge.Draft {
	var out []bridge.Draft
	for _, d := range ds {
		if d.Surface == bridge.SurfaceSlack && d.UserID != user {
			out = append(out, d)
		}
	}
	return out
}

// warnCollisions tells both sides when a reply form opens on a conversation
// someone else is answering or owns.
func (h *Handler) warnCollisions(actor bridge.Actor, rc bridge.ReplyContext, meta formMeta, others []bridge.Draft) {
	if meta.Channel == "" {
		return
	}
	n := rc.Conversation.Number
	for _, d := range others {
		h.tell(meta.Channel, meta.Thread, actor.UserID, fmt.Sprintf(":warning: <@%s> is also writing a reply to %s.", d.UserID, n))
		h.tell(meta.Channel, meta.Thread, d.UserID, fmt.Sprintf(":warning: <@%s> just opened a reply to %s too: check the thread before you send.", actor.UserID, n))
	}
	if rc.Assignee != nil && rc.AssigneeUser != "" && rc.AssigneeUser != actor.UserID {
		h.tell(meta.Channel, meta.Thread, actor.UserID, fmt.Sprintf(":warning: %s is assigned to <@%s>.", n, rc.AssigneeUser))
		h.tell(meta.Channel, meta.Thread, rc.AssigneeUser, fmt.Sprintf(":warning: <@%s> opened a reply to your conversation %s.", actor.UserID, n))
	}
}

// formView builds the modal of a verb. stale, for a reply, lists replies
// sent since the form opened and asks to confirm.
func (h *Handler) formView(ctx context.Context, verb bridge.Verb, rc bridge.ReplyContext, meta formMeta, actor bridge.Actor,
	others []bridge.Draft, stale *staleForm) slack.ModalViewRequest {
	return h.formViewWith(ctx, verb, rc, meta, actor, others, stale, nil)
}

// formViewWith is formView with a canned reply picked into the reply box.
func (h *Handler) formViewWith(ctx context.Context, verb bridge.Verb, rc bridge.ReplyContext, meta formMeta, actor bridge.Actor,
	others []bridge.Draft, stale *staleForm, picked *bridge.SuggestedMacro) slack.ModalViewRequest {
	conv := rc.Conversation
	md, _ := json.Marshal(meta)
	who := rc.Customer.Name
	if who == "" {
		who = "Customer " + rc.Customer.ExternalUserID
	}
	owner := "Unassigned"
	if rc.Assignee != nil {
		owner = "Assigned to " + escape(rc.Assignee.Name)
	}
	blocks := []slack.Block{slack.NewContextBlock("about", mrkdwn(fmt.Sprintf("*%s* · %s on %s · %s · %s",
		conv.Number, escape(who), PlatformName(conv.Platform), conv.Priority, owner)))}
	v := slack.ModalViewRequest{Type: slack.VTModal, CallbackID: formPrefix + string(verb), PrivateMetadata: string(md),
		Close: plain("Cancel"), NotifyOnClose: verb == bridge.VerbReply}
	switch verb {
	case bridge.VerbReply:
		v.Title, v.Submit = plain("Reply "+conv.Number.String()), plain("Send")
		if rc.Assignee != nil && rc.AssigneeUser != actor.UserID && !h.mayOverride(ctx, actor) {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":lock: %s is assigned to %s: only they or a supervisor may reply. What you send here is kept as an internal note.",
				conv.Number, escape(rc.Assignee.Name))), nil, nil))
		}
		for _, d := range others {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":warning: <@%s> is writing a reply too.", d.UserID)), nil, nil))
		}
		if stale != nil {
			v.CallbackID, v.Submit = formConfirm, plain("Send anyway")
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(":warning: *Since you opened this, the customer got:*"), nil, nil))
			for _, m := range stale.replies {
				blocks = append(blocks, slack.NewSectionBlock(mrkdwn(quote(truncate(m.SenderName+": "+m.Message.Text, 2900))), nil, nil))
			}
			blocks = append(blocks, textInput(blockConfirm, "Your reply (still unsent)", "Edit or send as it is", stale.draft, true, false))
			v.Blocks = slack.Blocks{BlockSet: blocks}
			return v
		}
		blocks = append(blocks, recentBlocks(rc)...)
		blocks = append(blocks, h.cannedBlocks(ctx, rc, actor)...)
		block, initial := blockReply, ""
		if picked != nil {
			block, initial = blockFromMacro+picked.Name, picked.Expanded
		}
		blocks = append(blocks, textInput(block, "Reply to "+truncate(who, 60), "Goes to the customer on "+PlatformName(conv.Platform), initial, true, false))
	case bridge.VerbNote:
		v.Title, v.Submit = plain("Note "+conv.Number.String()), plain("Add note")
		blocks = append(blocks, textInput(blockNote, "Internal note", "Never sent to the customer", "", true, false))
	case bridge.VerbTransfer:
		v.Title, v.Submit = plain("Transfer "+conv.Number.String()), plain("Transfer")
		user := slack.NewOptionsSelectBlockElement(slack.OptTypeUser, plain("Pick a teammate"), actionUser)
		to := slack.NewInputBlock(blockTo, plain("To a teammate"), nil, user)
		to.Optional = true
		team := slack.NewOptionsSelectBlockElement(slack.OptTypeConversations, plain("Pick the team's channel"), actionChannel)
		tb := slack.NewInputBlock(blockTeam, plain("Or to a team"), nil, team)
		tb.Optional = true
		blocks = append(blocks, to, tb, textInput(blockReason, "Why", "So the next person knows", "", true, false))
	case bridge.VerbEscalate:
		v.Title, v.Submit = plain("Escalate "+conv.Number.String()), plain("Escalate")
		radio := slack.NewRadioButtonsBlockElement(actionLevel,
			slack.NewOptionBlockObject(string(bridge.EscalateSupervisor), plain("Supervisor: P2, the least-loaded available supervisor"), nil),
			slack.NewOptionBlockObject(string(bridge.EscalateManager), plain("Manager: P1 and a manager"), nil),
			slack.NewOptionBlockObject(string(bridge.EscalateCritical), plain("Critical: P1, a manager and an alert"), nil))
		blocks = append(blocks, slack.NewInputBlock(blockLevel, plain("How far"), nil, radio), textInput(blockReason, "Why", "What they need to know", "", true, true))
	}
	v.Blocks = slack.Blocks{BlockSet: blocks}
	return v
}

func (h *Handler) mayOverride(ctx context.Context, actor bridge.Actor) bool {
	return actor.Role.AtLeast(bridge.RoleSupervisor)
}

// recentBlocks quote the conversation's latest messages.
func recentBlocks(rc bridge.ReplyContext) []slack.Block {
	var out []slack.Block
	for _, m := range rc.Recent {
		label := escape(m.SenderName)
		switch m.Message.Direction {
		case bridge.Outbound:
			label += " (agent)"
		case bridge.Note:
			label = ":memo: " + label + " (note)"
		}
		out = append(out, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("*%s* %s: %s", label, slackDate(m.Message.CreatedAt), escape(truncate(m.Message.Text, 2000))))))
	}
	return out
}

// cannedBlocks offer the macros, best match for the conversation first.
func (h *Handler) cannedBlocks(ctx context.Context, rc bridge.ReplyContext, actor bridge.Actor) []slack.Block {
	ms, intent, lang, err := h.opts.Bridge.SuggestMacros(ctx, rc, actor.Name)
	if err != nil {
		h.log.Warn("slack form: macros", "err", err)
	}
	if len(ms) == 0 {
		return []slack.Block{slack.NewContextBlock(blockCanned, mrkdwn("No canned replies yet: supervisors add them with `/threadline macro add`."))}
	}
	var opts []*slack.OptionBlockObject
	for i, m := range ms {
		if i == maxMacroOptions {
			break
		}
		label := m.Name
		if m.Score >= 2 {
			label = "★ " + label
		}
		opts = append(opts, slack.NewOptionBlockObject(m.Name, plain(truncate(label+": "+m.Expanded, 75)), nil))
	}
	about := "Canned replies"
	if intent != "" || lang != "" {
		about += fmt.Sprintf(" (the customer writes about %s, in %s)", strings.ReplaceAll(string(orAny(string(intent))), "_", " "), orAny(lang))
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Insert a canned reply"), actionMacroPick, opts...)
	return []slack.Block{slack.NewContextBlock("", mrkdwn(about)), slack.NewActionBlock(blockCanned, sel)}
}

func orAny(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

// handleMacroPick puts the chosen canned reply, expanded, into the reply
// box of the open form (views.update).
func (h *Handler) handleMacroPick(ctx context.Context, cb slack.InteractionCallback, a *slack.BlockAction) (string, error) {
	var meta formMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Conv == 0 || h.opts.Views == nil {
		return "bad_request", nil
	}
	actor := h.actor(ctx, cb.Team.ID, cb.User.ID, cb.User.Name)
	rc, err := h.opts.Bridge.ReplyContextFor(ctx, bridge.SurfaceSlack, bridge.ConversationRef{ID: meta.Conv}, recentInForm)
	if err != nil {
		return "", err
	}
	ms, _, _, err := h.opts.Bridge.SuggestMacros(ctx, rc, actor.Name)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.Name == a.SelectedOption.Value {
			others, err := h.opts.Bridge.Drafts(ctx, meta.Conv)
			if err != nil {
				return "", err
			}
			view := h.formViewWith(ctx, bridge.VerbReply, rc, meta, actor, withoutUser(others, actor.UserID), nil, &m)
			return "macro", h.opts.Views.UpdateView(ctx, cb.View.ID, view)
		}
	}
	return "refused", nil
}

type staleForm struct {
	replies []bridge.MessageView
	draft   string
}

// inputValue is what a submitted form holds in one input.
func inputValue(cb slack.InteractionCallback, block, action string) string {
	a, ok := cb.View.State.Values[block][action]
	if !ok {
		return ""
	}
	switch {
	case a.SelectedUser != "":
		return a.SelectedUser
	case a.SelectedConversation != "":
		return a.SelectedConversation
	case a.SelectedOption.Value != "":
		return a.SelectedOption.Value
	}
	return strings.TrimSpace(a.Value)
}

// formErrors answers a submission with an error under one input.
func formErrors(block, text string) *slack.ViewSubmissionResponse {
	return slack.NewErrorsViewSubmissionResponse(map[string]string{block: text})
}

// handleSubmission runs a form's command. It answers only after the
// command is stored: an empty answer closes the modal.
func (h *Handler) handleSubmission(ctx context.Context, cb slack.InteractionCallback) (string, *slack.ViewSubmissionResponse, error) {
	if cb.View.State == nil {
		cb.View.State = &slack.ViewState{}
	}
	var meta formMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Conv == 0 {
		return "bad_request", nil, nil
	}
	actor := h.actor(ctx, cb.Team.ID, cb.User.ID, cb.User.Name)
	n := int64(meta.Number)
	var text, errBlock string
	switch cb.View.CallbackID {
	case formPrefix + string(bridge.VerbReply):
		errBlock = blockReply
		for b := range cb.View.State.Values {
			if strings.HasPrefix(b, blockFromMacro) {
				errBlock = b
			}
		}
		text = fmt.Sprintf("reply %d %s", n, inputValue(cb, errBlock, actionInput))
	case formConfirm:
		text, errBlock = fmt.Sprintf("reply %d %s", n, inputValue(cb, blockConfirm, actionInput)), blockConfirm
	case formPrefix + string(bridge.VerbNote):
		text, errBlock = fmt.Sprintf("note %d %s", n, inputValue(cb, blockNote, actionInput)), blockNote
	case formPrefix + string(bridge.VerbTransfer):
		user, team := inputValue(cb, blockTo, actionUser), inputValue(cb, blockTeam, actionChannel)
		switch {
		case (user == "") == (team == ""):
			return "refused", formErrors(blockTo, "Pick a teammate or a team, one of them."), nil
		case user != "":
			text = fmt.Sprintf("transfer %d <@%s> %s", n, user, inputValue(cb, blockReason, actionInput))
		default:
			name := ""
			if h.opts.Views != nil {
				name = h.opts.Views.ChannelName(ctx, team)
			}
			text = fmt.Sprintf("transfer %d <#%s|%s> %s", n, team, name, inputValue(cb, blockReason, actionInput))
		}
		errBlock = blockReason
	case formPrefix + string(bridge.VerbEscalate):
		text, errBlock = fmt.Sprintf("escalate %d %s %s", n, inputValue(cb, blockLevel, actionLevel), inputValue(cb, blockReason, actionInput)), blockLevel
	default:
		return "ignored", nil, nil
	}
	cmd, err := bridge.ParseCommandWith(Syntax{}, text)
	if err != nil {
		return "refused", formErrors(errBlock, strings.TrimSuffix(explain(err), ".")), nil
	}
	cmd.Conversation = bridge.ConversationRef{ID: meta.Conv}
	if cmd.Verb == bridge.VerbReply {
		cmd.ExpectLastSeq, cmd.NoteIfForbidden = meta.SeenSeq, true
	}
	key := bridge.DeliveryKey{Source: "slack_view", ID: cb.View.ID + "/" + cb.View.Hash}
	res, err := h.opts.Bridge.Dispatch(ctx, key, actor, cmd)
	var stale *bridge.StaleReplyError
	if errors.As(err, &stale) {
		rc, rerr := h.opts.Bridge.ReplyContextFor(ctx, bridge.SurfaceSlack, cmd.Conversation, recentInForm)
		if rerr != nil {
			return "", nil, rerr
		}
		meta.SeenSeq = stale.LastSeq
		view := h.formView(ctx, bridge.VerbReply, rc, meta, actor, nil, &staleForm{replies: stale.Replies, draft: cmd.Text})
		return "stale", slack.NewUpdateViewSubmissionResponse(&view), nil
	}
	if userFault(err) {
		return "refused", formErrors(errBlock, strings.TrimSuffix(explain(err), ".")), nil
	}
	if err != nil {
		return "", nil, err
	}
	if cmd.Verb == bridge.VerbReply {
		if err := h.opts.Bridge.CloseDraft(ctx, actor, meta.Conv); err != nil {
			h.log.Warn("slack form: close draft", "err", err)
		}
		if !res.Duplicate && !res.Demoted {
			h.refreshOtherForms(actor, meta.Conv, cmd.Text)
		}
	}
	if res.Attention && meta.Channel != "" {
		h.tell(meta.Channel, meta.Thread, actor.UserID, escape(res.Text))
	}
	return string(cmd.Verb), nil, nil
}

// refreshOtherForms shows a reply just sent in the reply forms other
// agents have open on the conversation (views.update; what they typed
// stays). Their own send still asks to confirm.
func (h *Handler) refreshOtherForms(actor bridge.Actor, conv bridge.ConversationID, text string) {
	if h.opts.Views == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		drafts, err := h.opts.Bridge.Drafts(ctx, conv)
		if err != nil || len(drafts) == 0 {
			return
		}
		rc, err := h.opts.Bridge.ReplyContextFor(ctx, bridge.SurfaceSlack, bridge.ConversationRef{ID: conv}, recentInForm)
		if err != nil {
			return
		}
		for _, d := range withoutUser(drafts, actor.UserID) {
			meta := formMeta{Conv: conv, Number: rc.Conversation.Number, SeenSeq: d.SeenSeq}
			if rc.Thread != nil {
				meta.Channel, meta.Thread = rc.Thread.Channel, rc.Thread.ThreadRef
			}
			other := bridge.Actor{Surface: d.Surface, Workspace: d.Workspace, UserID: d.UserID}
			view := h.formView(ctx, bridge.VerbReply, rc, meta, other, nil, nil)
			banner := slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":warning: <@%s> just replied: %s", actor.UserID, escape(truncate(text, 500)))), nil, nil)
			view.Blocks.BlockSet = append([]slack.Block{banner}, view.Blocks.BlockSet...)
			if err := h.opts.Views.UpdateView(ctx, d.ViewRef, view); err != nil {
				h.log.Debug("slack form: update another agent's form", "err", err)
			}
		}
	}()
}

// handleViewClosed forgets a reply form closed without sending.
func (h *Handler) handleViewClosed(ctx context.Context, cb slack.InteractionCallback) (string, error) {
	if cb.View.CallbackID != formPrefix+string(bridge.VerbReply) && cb.View.CallbackID != formConfirm {
		return "ignored", nil
	}
	var meta formMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Conv == 0 {
		return "bad_request", nil
	}
	actor := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: cb.Team.ID, UserID: cb.User.ID}
	return "closed", h.opts.Bridge.CloseDraft(ctx, actor, meta.Conv)
}
