package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ObservedOutbound is a message the brand's account sent on the platform
// itself: a reply typed in the platform's own inbox, or the platform's echo
// of a reply Threadline sent. Platforms that echo the account's messages
// (Meta) report both; only the first kind is new to Threadline.
type ObservedOutbound struct {
	// DeliveryID is optional, as with InboundEvent.
	DeliveryID string
	Platform   Platform
	Account    UpsertAccountParams
	Thread     string
	Source     Source
	// Customer is the person the thread is with (the echo's recipient);
	// AccountID and Platform are filled in.
	Customer          UpsertIdentityParams
	PlatformMessageID string
	// OurMessageID is the Threadline message the platform says this is (Meta
	// echoes the metadata of our sends), zero when it names none.
	OurMessageID MessageID
	Text         string
	Attachments  []Attachment
	Timestamp    time.Time
}

// ObserveOutbound records a message the account sent outside Threadline as
// an outbound message of the thread's conversation, shown in chat and never
// sent again. An echo of one of our own replies, named by OurMessageID or
// by a platform message id already stored, changes nothing (Duplicate).
func (b *Bridge) ObserveOutbound(ctx context.Context, ev ObservedOutbound) (IngestResult, error) {
	if ev.Platform == "" || ev.Account.ExternalID == "" || ev.Thread == "" || ev.Customer.ExternalUserID == "" || ev.PlatformMessageID == "" {
		return IngestResult{}, fmt.Errorf("%w: observed message lacks platform, account, thread, customer or message id", ErrInvalidInput)
	}
	var res IngestResult
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		res, err = b.observeTx(ctx, tx, ev)
		return err
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return IngestResult{Duplicate: true}, nil
	}
	if err != nil {
		return IngestResult{}, fmt.Errorf("observe %s message %s: %w", ev.Platform, ev.PlatformMessageID, err)
	}
	return res, nil
}

func (b *Bridge) observeTx(ctx context.Context, tx Tx, ev ObservedOutbound) (IngestResult, error) {
	now := b.opts.Clock.Now()
	if err := markDelivery(ctx, tx, ev.Platform, ev.DeliveryID, now); err != nil {
		return IngestResult{}, err
	}
	account, identity, thread, err := upsertThread(ctx, tx, threadParams{
		Platform: ev.Platform, Account: ev.Account, Customer: ev.Customer, Thread: ev.Thread, Source: ev.Source,
	})
	if err != nil {
		return IngestResult{}, err
	}
	if _, err := tx.FindMessageByPlatformID(ctx, thread.ID, ev.PlatformMessageID); err == nil {
		return IngestResult{}, ErrDuplicateEvent // our send, already recorded, or a redelivery
	} else if !errors.Is(err, ErrNotFound) {
		return IngestResult{}, err
	}
	if ev.OurMessageID != 0 {
		// The echo may beat the send's answer: the id in its metadata is
		// what tells it apart from a reply typed on the platform.
		// It may name a reply of another thread of the account: a private
		// reply to a comment is echoed in the commenter's new DM thread.
		m, err := tx.GetMessage(ctx, ev.OurMessageID)
		switch {
		case err == nil && m.Direction == Outbound:
			sent := thread
			if m.PlatformThreadID != thread.ID {
				if sent, err = tx.GetPlatformThread(ctx, m.PlatformThreadID); err != nil {
					return IngestResult{}, err
				}
			}
			same := sent.AccountID == account.ID
			if !same {
				// The same page may be two accounts here (its Messenger
				// inbox and its Facebook comments).
				other, err := tx.GetAccount(ctx, sent.AccountID)
				if err != nil {
					return IngestResult{}, err
				}
				same = other.ExternalID == account.ExternalID
			}
			if same {
				return IngestResult{}, ErrDuplicateEvent
			}
		case err != nil && !errors.Is(err, ErrNotFound):
			return IngestResult{}, err
		}
		// Not ours after all (another deployment on the same account?):
		// show it like any message sent outside Threadline.
		b.log.Warn("echo names a message this deployment did not send; shown as sent outside Threadline",
			"platform", ev.Platform, "message_id", ev.OurMessageID)
	}

	conv, err := tx.LatestConversation(ctx, thread.ID)
	isNew := false
	switch {
	case err == nil && conv.Status != StatusClosed:
		// A reply from the platform's inbox joins the conversation; it
		// does not reopen a resolved one.
	case err == nil || errors.Is(err, ErrNotFound):
		conv, err = tx.CreateConversation(ctx, CreateConversationParams{
			PlatformThreadID: thread.ID, AccountID: account.ID, Platform: account.Platform,
			IdentityID: identity.ID, Priority: P3, Source: thread.Source, CreatedAt: now,
		})
		if err != nil {
			return IngestResult{}, err
		}
		if err := tx.AppendAudit(ctx, AuditEntry{Action: "created_by_outside_reply", ConversationID: conv.ID, After: string(conv.Status), At: now}); err != nil {
			return IngestResult{}, err
		}
		isNew = true
	default:
		return IngestResult{}, err
	}
	seq, err := tx.NextSeq(ctx, conv.ID)
	if err != nil {
		return IngestResult{}, err
	}
	ts := ev.Timestamp
	if ts.IsZero() {
		ts = now
	}
	msg, created, err := tx.InsertMessage(ctx, InsertMessageParams{
		ConversationID: conv.ID, PlatformThreadID: thread.ID, Seq: seq, Direction: Outbound,
		PlatformMessageID: ev.PlatformMessageID, Text: ev.Text, Attachments: ev.Attachments,
		PlatformTime: ts, CreatedAt: now, DeliveryStatus: DeliveryDelivered,
	})
	if err != nil {
		return IngestResult{}, err
	}
	if !created {
		return IngestResult{}, ErrDuplicateEvent
	}
	if err := b.enqueueChat(ctx, tx, conv, KindMessage, msg, "", ""); err != nil {
		return IngestResult{}, err
	}
	if isActive(conv.Status) {
		// Someone answered the customer, if not here: the response clocks
		// stop and the conversation waits for the customer, as after a reply.
		if err := b.slaReplied(ctx, tx, conv, now); err != nil {
			return IngestResult{}, err
		}
		before := conv
		conv.Status = StatusPending
		if conv.FirstResponseAt == nil {
			conv.FirstResponseAt = &now
		}
		if err := b.saveChange(ctx, tx, 0, "replied_outside_threadline", before, conv, now); err != nil {
			return IngestResult{}, err
		}
	}
	return IngestResult{ConversationID: conv.ID, Number: conv.Number, MessageID: msg.ID, NewConversation: isNew}, nil
}

// OutsideSenderName is how a message the account sent outside Threadline is
// attributed in chat.
func OutsideSenderName(account Account) string {
	name := account.DisplayName
	if name == "" {
		name = "The brand account"
	}
	return name + ", outside Threadline"
}
