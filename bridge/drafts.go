package bridge

import (
	"context"
	"errors"
	"time"
)

// A draft is an agent's open reply form (a Slack modal) on a conversation.
// Chat tools have no typing indicator, so drafts are how agents learn that
// someone else is answering the same customer. They are stored, so every
// replica sees them, and expire, so a form closed without notice is
// forgotten.

// DraftTTL is how long an open reply form counts as a draft.
const DraftTTL = 15 * time.Minute

// DraftTx keeps open reply forms, one per agent and conversation.
type DraftTx interface {
	// PutDraft records d on conv, replacing the same user's draft there.
	PutDraft(ctx context.Context, conv ConversationID, d Draft) error
	DeleteDraft(ctx context.Context, conv ConversationID, a Actor) error
	// ListDrafts returns the drafts of conv not expired at now, oldest
	// expiry first.
	ListDrafts(ctx context.Context, conv ConversationID, now time.Time) ([]Draft, error)
	// DeleteExpiredDrafts forgets the drafts of conv expired before now.
	DeleteExpiredDrafts(ctx context.Context, conv ConversationID, now time.Time) error
}

// Draft is one open reply form.
type Draft struct {
	Surface   Surface
	Workspace string
	UserID    string
	// ViewRef is the surface's handle of the form (a Slack view id).
	ViewRef string
	// SeenSeq is the conversation's last sequence number when the form
	// opened: replies after it are news to this agent.
	SeenSeq int64
	Until   time.Time
}

// OpenDraft records that actor opened a reply form on the conversation
// (seenSeq: its last sequence number then) and returns the other drafts
// open on it.
func (b *Bridge) OpenDraft(ctx context.Context, actor Actor, conv ConversationID, viewRef string, seenSeq int64) ([]Draft, error) {
	var others []Draft
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		now := b.opts.Clock.Now()
		if err := tx.DeleteExpiredDrafts(ctx, conv, now); err != nil {
			return err
		}
		all, err := tx.ListDrafts(ctx, conv, now)
		if err != nil {
			return err
		}
		others = others[:0]
		for _, d := range all {
			if d.Surface != actor.Surface || d.Workspace != actor.Workspace || d.UserID != actor.UserID {
				others = append(others, d)
			}
		}
		// A second form of the same agent replaces the first.
		return tx.PutDraft(ctx, conv, Draft{Surface: actor.Surface, Workspace: actor.Workspace, UserID: actor.UserID,
			ViewRef: viewRef, SeenSeq: seenSeq, Until: now.Add(DraftTTL)})
	})
	return others, err
}

// CloseDraft forgets the actor's reply form (sent or closed).
func (b *Bridge) CloseDraft(ctx context.Context, actor Actor, conv ConversationID) error {
	return b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		return tx.DeleteDraft(ctx, conv, actor)
	})
}

// Drafts returns the reply forms open on a conversation.
func (b *Bridge) Drafts(ctx context.Context, conv ConversationID) ([]Draft, error) {
	var out []Draft
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		out, err = tx.ListDrafts(ctx, conv, b.opts.Clock.Now())
		return err
	})
	return out, err
}

// ReplyContext is what a reply form shows: the conversation, the customer,
// who owns it and the latest messages.
type ReplyContext struct {
	Conversation Conversation
	Customer     Identity
	Assignee     *Agent
	// AssigneeUser is the assignee's user id on the asking surface, if any.
	AssigneeUser string
	// Recent are the latest customer messages, replies and notes, oldest first.
	Recent []MessageView
	// Thread is the conversation's thread on the asking surface, if shown.
	Thread *ChatThread
}

// ReplyContextFor loads what a reply form on surface shows, with up to n
// recent messages.
func (b *Bridge) ReplyContextFor(ctx context.Context, surface Surface, ref ConversationRef, n int) (ReplyContext, error) {
	var rc ReplyContext
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		rc = ReplyContext{}
		var err error
		if rc.Conversation, err = ref.load(ctx, tx); err != nil {
			return err
		}
		c := rc.Conversation
		if rc.Customer, err = tx.GetIdentity(ctx, c.IdentityID); err != nil {
			return err
		}
		if c.AssigneeID != 0 {
			a, err := tx.GetAgent(ctx, c.AssigneeID)
			if err != nil {
				return err
			}
			rc.Assignee = &a
			id, err := tx.GetAgentChatIdentity(ctx, a.ID, surface)
			switch {
			case err == nil:
				rc.AssigneeUser = id.UserID
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		t, err := tx.GetChatThread(ctx, c.ID, surface)
		switch {
		case err == nil:
			rc.Thread = &t
		case !errors.Is(err, ErrNotFound):
			return err
		}
		msgs, err := tx.ListMessages(ctx, c.ID)
		if err != nil {
			return err
		}
		if len(msgs) > n {
			msgs = msgs[len(msgs)-n:]
		}
		names := map[AgentID]string{}
		for _, m := range msgs {
			v := MessageView{Message: m, SenderName: rc.Customer.Name, Platform: c.Platform}
			if m.SenderAgentID != 0 {
				if _, ok := names[m.SenderAgentID]; !ok {
					a, err := tx.GetAgent(ctx, m.SenderAgentID)
					if err != nil {
						return err
					}
					names[m.SenderAgentID] = a.Name
				}
				v.SenderName = names[m.SenderAgentID]
			}
			rc.Recent = append(rc.Recent, v)
		}
		return nil
	})
	return rc, err
}
