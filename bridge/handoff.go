package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The public comment -> private conversation handoff ("move to DM"): one
// action answers the comment publicly with a short acknowledgement and
// writes privately to its author, where the platform lets a business do so.

// KindPrivateReply carries an agent's private message to the author of a
// public comment in the platform lane, after the public reply queued before
// it.
const KindPrivateReply DeliveryKind = "private_reply"

// PrivateReplier is an optional ability of a platform adapter: a private
// message to the author of the public comment a thread is about (Meta's
// private replies). Errors follow Send's conventions; a platform that
// allows it only under conditions (a time window, once per comment) fails
// permanently when they are not met.
type PrivateReplier interface {
	SendPrivateReply(ctx context.Context, m OutboundMessage) (SendResult, error)
}

// DMHandoff words the handoff. Both texts may hold the macro variables
// ({customer.name}, {agent.name}, {platform}, {conversation.id}).
type DMHandoff struct {
	// PublicReply answers the comment where everyone sees it.
	PublicReply string
	// PrivateMessage opens the private conversation when the agent wrote
	// none.
	PrivateMessage string
}

// DefaultDMHandoff is the wording when none is configured.
var DefaultDMHandoff = DMHandoff{
	PublicReply:    "Thanks {customer.name}, we've sent you a private message so we can look into this together.",
	PrivateMessage: "Hi {customer.name}, this is {agent.name} following up on your comment. How can we help?",
}

func (h DMHandoff) orDefault() DMHandoff {
	if strings.TrimSpace(h.PublicReply) == "" {
		h.PublicReply = DefaultDMHandoff.PublicReply
	}
	if strings.TrimSpace(h.PrivateMessage) == "" {
		h.PrivateMessage = DefaultDMHandoff.PrivateMessage
	}
	return h
}

// offersMoveToDM says whether a card shows the handoff's button: an active
// comment on a platform with private replies, not moved yet.
func (b *Bridge) offersMoveToDM(ctx context.Context, tx Tx, c Conversation) (bool, error) {
	if _, ok := b.platforms[c.Platform].(PrivateReplier); !ok || c.Source != SourceComment ||
		c.Status == StatusResolved || c.Status == StatusClosed {
		return false, nil
	}
	moved, err := movedToDM(ctx, tx, c.ID)
	return !moved, err
}

func movedToDM(ctx context.Context, tx Tx, conv ConversationID) (bool, error) {
	entries, err := tx.ListAudit(ctx, conv)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(entries, func(e AuditEntry) bool { return e.Action == auditMovedToDM }), nil
}

// doDM queues the public acknowledgement and the private message, both as
// the agent's replies: they show in the thread, are retried, and a failure
// is shown there like any reply's.
func (b *Bridge) doDM(ctx context.Context, o *op) error {
	conv := o.conv
	if conv.Source != SourceComment {
		return fmt.Errorf("%w: %s is a %s, not a public comment: it is private already", ErrIllegalState, conv.Number, conv.Source)
	}
	if _, ok := b.platforms[conv.Platform].(PrivateReplier); !ok {
		return fmt.Errorf("%w: %s does not let a business write privately to a commenter; answer in public or ask them to write to you", ErrIllegalState, conv.Platform.DisplayName())
	}
	if err := o.active("move it to a private conversation"); err != nil {
		return err
	}
	if err := o.mayWork(ctx, "move"); err != nil {
		return err
	}
	if moved, err := movedToDM(ctx, o.tx, conv.ID); err != nil {
		return err
	} else if moved {
		return fmt.Errorf("%w: %s was moved to a private conversation already (%s allows one private message per comment)", ErrConflict, conv.Number, conv.Platform.DisplayName())
	}
	customer, err := o.tx.GetIdentity(ctx, conv.IdentityID)
	if err != nil {
		return err
	}
	name := customer.Name
	if name == "" {
		name = "there"
	}
	vars := MacroVars{CustomerName: name, AgentName: o.agent.Name, Platform: conv.Platform.DisplayName(), Conversation: conv.Number}
	words := b.opts.DMHandoff.orDefault()
	private := strings.TrimSpace(o.cmd.Text)
	if private == "" {
		private = Macro{Text: words.PrivateMessage}.Expand(vars)
	}
	public := Macro{Text: words.PublicReply}.Expand(vars)
	if _, err := b.queueReply(ctx, o, public, KindMessage, nil); err != nil {
		return err
	}
	msg, err := b.queueReply(ctx, o, private, KindPrivateReply, o.cmd.ChatRef)
	if err != nil {
		return err
	}
	if err := b.replied(ctx, o); err != nil {
		return err
	}
	o.res.MessageID = msg.ID
	o.res.Text = fmt.Sprintf("%s: a public reply and a private message to %s are queued; their answer arrives as a new private conversation.", conv.Number, name)
	return b.save(ctx, o, auditMovedToDM)
}

const auditMovedToDM = "moved_to_dm"
