package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Actor is the chat user behind a command, as the surface identified them.
type Actor struct {
	Surface   Surface
	Workspace string
	UserID    string
	Name      string
}

// DeliveryKey identifies the chat request that carried a command (a Slack
// event_id). A redelivered request with the same key changes nothing.
type DeliveryKey struct {
	Source string
	ID     string
}

// ClaimedError says another agent owns the conversation.
type ClaimedError struct {
	Number ConversationNumber
	Owner  Agent
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("%s is already claimed by %s", e.Number, e.Owner.Name)
}

func (e *ClaimedError) Is(target error) bool { return target == ErrConflict }

// ConversationRef names a conversation by id or by its human number.
type ConversationRef struct {
	ID     ConversationID
	Number ConversationNumber
}

func (r ConversationRef) load(ctx context.Context, tx Tx) (Conversation, error) {
	switch {
	case r.ID != 0:
		return tx.GetConversation(ctx, r.ID)
	case r.Number != 0:
		return tx.GetConversationByNumber(ctx, r.Number)
	}
	return Conversation{}, fmt.Errorf("%w: no conversation given", ErrInvalidInput)
}

// CommandResult is what a command left behind, for the surface to answer with.
type CommandResult struct {
	Conversation Conversation
	MessageID    MessageID
	Duplicate    bool
}

// Agent finds the agent behind a chat user, creating one with the agent role
// the first time a user acts.
func (b *Bridge) agentFor(ctx context.Context, tx Tx, a Actor) (Agent, error) {
	if a.Surface == "" || a.UserID == "" {
		return Agent{}, fmt.Errorf("%w: command without an actor", ErrInvalidInput)
	}
	agent, err := tx.FindAgentByChatIdentity(ctx, a.Surface, a.Workspace, a.UserID)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return agent, err
	}
	name := a.Name
	if name == "" {
		name = a.UserID
	}
	agent, err = tx.CreateAgent(ctx, CreateAgentParams{Name: name, Role: RoleAgent, Capacity: 10, Available: true})
	if err != nil {
		return Agent{}, err
	}
	return agent, tx.LinkAgentChatIdentity(ctx, AgentChatIdentity{AgentID: agent.ID, Surface: a.Surface, Workspace: a.Workspace, UserID: a.UserID})
}

// command runs one agent command in a transaction: dedupe the request, load
// and lock the conversation, resolve the agent, then apply fn.
func (b *Bridge) command(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef,
	fn func(ctx context.Context, tx Tx, agent Agent, conv Conversation, now time.Time) (CommandResult, error),
) (CommandResult, error) {
	var res CommandResult
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		now := b.opts.Clock.Now()
		if key.ID != "" {
			isNew, err := tx.MarkProcessed(ctx, key.Source, key.ID, now)
			if err != nil {
				return err
			}
			if !isNew {
				return ErrDuplicateEvent
			}
		}
		agent, err := b.agentFor(ctx, tx, actor)
		if err != nil {
			return err
		}
		conv, err := ref.load(ctx, tx)
		if err != nil {
			return err
		}
		res, err = fn(ctx, tx, agent, conv, now)
		return err
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return CommandResult{Duplicate: true}, nil
	}
	return res, err
}

// Claim assigns the conversation to the acting agent. Exactly one of several
// simultaneous claims wins; the others get a *ClaimedError naming the owner.
func (b *Bridge) Claim(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.command(ctx, key, actor, ref, func(ctx context.Context, tx Tx, agent Agent, conv Conversation, now time.Time) (CommandResult, error) {
		if conv.Status == StatusResolved || conv.Status == StatusClosed {
			return CommandResult{}, fmt.Errorf("%w: %s is %s; reopen it first", ErrIllegalState, conv.Number, conv.Status)
		}
		if conv.AssigneeID == agent.ID {
			return CommandResult{Conversation: conv}, nil
		}
		if conv.AssigneeID != 0 {
			owner, err := tx.GetAgent(ctx, conv.AssigneeID)
			if err != nil {
				return CommandResult{}, err
			}
			return CommandResult{Conversation: conv}, &ClaimedError{Number: conv.Number, Owner: owner}
		}
		before := conv
		conv.AssigneeID = agent.ID
		return CommandResult{Conversation: conv}, b.saveChange(ctx, tx, agent.ID, "claimed", before, conv, now)
	})
}

// ReplyParams is an agent's reply to the customer.
type ReplyParams struct {
	Key     DeliveryKey
	Actor   Actor
	Ref     ConversationRef
	Text    string
	ChatRef *ChatMessageRef // the agent's own chat message, to mark delivery on
}

// Reply stores an agent's reply and queues it for the customer's platform. An
// unassigned conversation is assigned to the replying agent.
func (b *Bridge) Reply(ctx context.Context, p ReplyParams) (CommandResult, error) {
	if strings.TrimSpace(p.Text) == "" {
		return CommandResult{}, fmt.Errorf("%w: empty reply", ErrInvalidInput)
	}
	return b.command(ctx, p.Key, p.Actor, p.Ref, func(ctx context.Context, tx Tx, agent Agent, conv Conversation, now time.Time) (CommandResult, error) {
		if conv.Status == StatusResolved || conv.Status == StatusClosed {
			return CommandResult{}, fmt.Errorf("%w: %s is %s; reopen it before replying", ErrIllegalState, conv.Number, conv.Status)
		}
		msg, err := b.addAgentMessage(ctx, tx, agent, conv, Outbound, p.Text, p.ChatRef, now)
		if err != nil {
			return CommandResult{}, err
		}
		if err := b.enqueueDelivery(ctx, tx, conv.Priority, Delivery{
			ConversationID: conv.ID, Target: TargetPlatform, Kind: KindMessage, MessageID: msg.ID, Seq: msg.Seq,
		}); err != nil {
			return CommandResult{}, err
		}
		if err := b.slaReplied(ctx, tx, conv, now); err != nil {
			return CommandResult{}, err
		}
		before := conv
		conv.Status = StatusPending
		if conv.AssigneeID == 0 {
			conv.AssigneeID = agent.ID
		}
		if conv.FirstResponseAt == nil {
			conv.FirstResponseAt = &now
		}
		if err := b.saveChange(ctx, tx, agent.ID, "replied", before, conv, now); err != nil {
			return CommandResult{}, err
		}
		return CommandResult{Conversation: conv, MessageID: msg.ID}, nil
	})
}

// AddNote stores an internal note; it is never sent to the customer.
func (b *Bridge) AddNote(ctx context.Context, p ReplyParams) (CommandResult, error) {
	if strings.TrimSpace(p.Text) == "" {
		return CommandResult{}, fmt.Errorf("%w: empty note", ErrInvalidInput)
	}
	return b.command(ctx, p.Key, p.Actor, p.Ref, func(ctx context.Context, tx Tx, agent Agent, conv Conversation, now time.Time) (CommandResult, error) {
		msg, err := b.addAgentMessage(ctx, tx, agent, conv, Note, p.Text, p.ChatRef, now)
		if err != nil {
			return CommandResult{}, err
		}
		if err := tx.AppendAudit(ctx, AuditEntry{ActorAgentID: agent.ID, Action: "noted", ConversationID: conv.ID, At: now}); err != nil {
			return CommandResult{}, err
		}
		return CommandResult{Conversation: conv, MessageID: msg.ID}, nil
	})
}

func (b *Bridge) addAgentMessage(ctx context.Context, tx Tx, agent Agent, conv Conversation, dir Direction, text string, chatRef *ChatMessageRef, now time.Time) (Message, error) {
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return Message{}, err
	}
	status := DeliveryDelivered
	if dir == Outbound {
		status = DeliveryPending
	}
	msg, _, err := tx.InsertMessage(ctx, InsertMessageParams{
		ConversationID: conv.ID, PlatformThreadID: conv.PlatformThreadID, Seq: seq, Direction: dir,
		SenderAgentID: agent.ID, Text: text, PlatformTime: now, CreatedAt: now, DeliveryStatus: status,
	})
	if err != nil {
		return Message{}, err
	}
	var skip Surface
	if chatRef != nil {
		chatRef.MessageID = msg.ID
		if err := tx.AddChatMessageRef(ctx, *chatRef); err != nil {
			return Message{}, err
		}
		skip = chatRef.Surface
	}
	return msg, b.enqueueChat(ctx, tx, conv, KindMessage, msg, "", skip)
}

// Resolve marks the conversation done.
func (b *Bridge) Resolve(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.command(ctx, key, actor, ref, func(ctx context.Context, tx Tx, agent Agent, conv Conversation, now time.Time) (CommandResult, error) {
		if conv.Status != StatusOpen && conv.Status != StatusPending {
			return CommandResult{Conversation: conv}, fmt.Errorf("%w: %s is already %s", ErrIllegalState, conv.Number, conv.Status)
		}
		before := conv
		conv.Status, conv.ResolvedAt = StatusResolved, &now
		return CommandResult{Conversation: conv}, b.saveChange(ctx, tx, agent.ID, "resolved", before, conv, now)
	})
}

// Reopen puts a resolved or closed conversation back to open. A closed one
// can be reopened only while no newer conversation is open on its thread.
func (b *Bridge) Reopen(ctx context.Context, key DeliveryKey, actor Actor, ref ConversationRef) (CommandResult, error) {
	return b.command(ctx, key, actor, ref, func(ctx context.Context, tx Tx, agent Agent, conv Conversation, now time.Time) (CommandResult, error) {
		if conv.Status != StatusResolved && conv.Status != StatusClosed {
			return CommandResult{Conversation: conv}, fmt.Errorf("%w: %s is %s, not resolved", ErrIllegalState, conv.Number, conv.Status)
		}
		if conv.Status == StatusClosed {
			latest, err := tx.LatestConversation(ctx, conv.PlatformThreadID)
			if err != nil {
				return CommandResult{}, err
			}
			if latest.ID != conv.ID && latest.Status != StatusClosed {
				return CommandResult{Conversation: conv}, fmt.Errorf("%w: %s has a newer open conversation %s", ErrIllegalState, conv.Number, latest.Number)
			}
		}
		before := conv
		conv.Status, conv.ResolvedAt, conv.ClosedAt = StatusOpen, nil, nil
		return CommandResult{Conversation: conv}, b.saveChange(ctx, tx, agent.ID, "reopened", before, conv, now)
	})
}

// ConversationByChatThread finds the conversation a chat thread shows.
func (b *Bridge) ConversationByChatThread(ctx context.Context, surface Surface, channel, threadRef string) (Conversation, error) {
	var conv Conversation
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		t, err := tx.FindChatThread(ctx, surface, channel, threadRef)
		if err != nil {
			return err
		}
		conv, err = tx.GetConversation(ctx, t.ConversationID)
		return err
	})
	return conv, err
}
