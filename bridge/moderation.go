package bridge

import (
	"context"
	"fmt"
	"time"
)

// ModerationAction is what an agent does to a public comment.
type ModerationAction string

const (
	ModerateHide   ModerationAction = "hide"
	ModerateUnhide ModerationAction = "unhide"
	ModerateDelete ModerationAction = "delete"
)

// KindModerate carries a moderation action in the platform lane, after
// the replies queued before it.
const KindModerate DeliveryKind = "moderate"

// ModerationRequest is one moderation action on the comment a platform
// thread is about.
type ModerationRequest struct {
	Account          Account
	ThreadExternalID string
	Action           ModerationAction
}

// Moderator is an optional ability of a platform adapter: hiding,
// unhiding and deleting public comments. Errors follow Send's conventions.
type Moderator interface {
	Moderate(ctx context.Context, r ModerationRequest) error
}

// HideComment hides the conversation's comment from the public (its author
// and friends still see it).
func (b *Bridge) HideComment(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.Dispatch(ctx, key, actor, Command{Verb: VerbHide, Conversation: ref})
}

// UnhideComment shows a hidden comment again.
func (b *Bridge) UnhideComment(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.Dispatch(ctx, key, actor, Command{Verb: VerbUnhide, Conversation: ref})
}

// DeleteComment deletes the conversation's comment on the platform.
func (b *Bridge) DeleteComment(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.Dispatch(ctx, key, actor, Command{Verb: VerbDelete, Conversation: ref})
}

func (b *Bridge) doHide(ctx context.Context, o *op) error { return b.moderate(ctx, o, ModerateHide) }
func (b *Bridge) doUnhide(ctx context.Context, o *op) error {
	return b.moderate(ctx, o, ModerateUnhide)
}
func (b *Bridge) doDelete(ctx context.Context, o *op) error {
	return b.moderate(ctx, o, ModerateDelete)
}

// moderate queues the action in the platform lane; the outcome appears in
// the thread as a notice, like a failed reply's.
func (b *Bridge) moderate(ctx context.Context, o *op, action ModerationAction) error {
	conv := o.conv
	if conv.Source != SourceComment {
		return fmt.Errorf("%w: %s is a %s, not a comment: there is nothing to %s", ErrIllegalState, conv.Number, conv.Source, action)
	}
	if _, ok := b.platforms[conv.Platform].(Moderator); !ok {
		return fmt.Errorf("%w: comments on %s cannot be moderated from here", ErrIllegalState, conv.Platform.DisplayName())
	}
	seq, err := o.tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return err
	}
	if err := b.enqueueDelivery(ctx, o.tx, conv.Priority, Delivery{
		ConversationID: conv.ID, Target: TargetPlatform, Kind: KindModerate, Seq: seq, Text: string(action),
	}); err != nil {
		return err
	}
	o.res.Text = fmt.Sprintf("Asked %s to %s the comment of %s; the thread will say when it is done.", conv.Platform.DisplayName(), action, conv.Number)
	return o.tx.AppendAudit(ctx, AuditEntry{ActorAgentID: o.agent.ID, Action: "comment_" + string(action), ConversationID: conv.ID, At: o.now})
}

var moderationDone = map[ModerationAction]string{ModerateHide: "hidden", ModerateUnhide: "shown again", ModerateDelete: "deleted"}

// moderateOnPlatform performs a queued moderation action and, once it is
// done, says so in the thread.
func (b *Bridge) moderateOnPlatform(ctx context.Context, d Delivery, l loaded) (string, recordFunc, error) {
	m, ok := b.platforms[l.conv.Platform].(Moderator)
	if !ok {
		return "", nil, Permanent(fmt.Errorf("platform %q cannot moderate comments", l.conv.Platform))
	}
	action := ModerationAction(d.Text)
	if err := m.Moderate(ctx, ModerationRequest{Account: l.account, ThreadExternalID: l.thread.ExternalID, Action: action}); err != nil {
		return "", nil, err
	}
	return "", func(ctx context.Context, tx Tx, now time.Time) error {
		seq, err := tx.NextSeq(ctx, l.conv.ID)
		if err != nil {
			return err
		}
		return b.enqueueChat(ctx, tx, l.conv, KindNotice, Message{Seq: seq}, "The comment was "+moderationDone[action]+" on the platform.", "")
	}, nil
}

// moderationFailed shows a moderation action that could not be done.
func (b *Bridge) moderationFailed(ctx context.Context, tx Tx, d Delivery) error {
	conv, err := tx.GetConversation(ctx, d.ConversationID)
	if err != nil {
		return err
	}
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return err
	}
	return b.enqueueChat(ctx, tx, conv, KindNotice, Message{Seq: seq}, fmt.Sprintf("Could not %s the comment: %s", d.Text, d.LastError), "")
}
