package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Receipts: platforms that report what became of a sent message on the
// customer's side (Meta's deliveries and reads) tell the bridge with a
// ReceiptEvent; the agent's chat message then gets a mark for it, once.

// ReceiptStatus is how far an outbound message got on the customer's side.
// Statuses are ordered: a message seen was delivered.
type ReceiptStatus int

const (
	// ReceiptDelivered: the message reached the customer's device.
	ReceiptDelivered ReceiptStatus = 1
	// ReceiptSeen: the customer read it.
	ReceiptSeen ReceiptStatus = 2
)

func (s ReceiptStatus) String() string {
	switch s {
	case ReceiptDelivered:
		return "delivered"
	case ReceiptSeen:
		return "seen"
	}
	return "unknown"
}

// parseReceiptStatus reads String's output back.
func parseReceiptStatus(s string) (ReceiptStatus, bool) {
	for _, r := range []ReceiptStatus{ReceiptDelivered, ReceiptSeen} {
		if r.String() == s {
			return r, true
		}
	}
	return 0, false
}

// KindReceipt marks an agent's chat message with a platform's receipt;
// the delivery's Text holds the status.
const KindReceipt DeliveryKind = "receipt"

// ReceiptEvent is a platform's report that outbound messages of a thread
// were delivered or seen: those it names, and those sent at or before
// Watermark (when set).
type ReceiptEvent struct {
	Platform Platform
	// Account is the account's platform id, Thread the platform thread id.
	Account, Thread    string
	Status             ReceiptStatus
	PlatformMessageIDs []string
	Watermark          time.Time
}

// ReceiptMarker is an optional ability of a chat surface: showing a
// receipt on the chat message of an agent's reply. Surfaces without it
// show none.
type ReceiptMarker interface {
	MarkReceipt(ctx context.Context, t ChatThread, ref string, status ReceiptStatus) error
}

// ReceiptTx is the part of Tx that keeps receipts.
type ReceiptTx interface {
	// FindPlatformThread returns an account's platform thread by platform
	// ids, or ErrNotFound.
	FindPlatformThread(ctx context.Context, platform Platform, account, thread string) (PlatformThread, error)
	// RaiseReceipts records the status for the thread's delivered outbound
	// messages it matches, and returns those whose status rose, oldest
	// first. A status never falls.
	RaiseReceipts(ctx context.Context, p RaiseReceiptsParams) ([]Message, error)
	// GetReceipt returns a message's status, zero when none was reported.
	GetReceipt(ctx context.Context, id MessageID) (ReceiptStatus, error)
}

// RaiseReceiptsParams selects messages by platform id or watermark.
type RaiseReceiptsParams struct {
	Thread             PlatformThreadID
	Status             ReceiptStatus
	PlatformMessageIDs []string
	Watermark          time.Time
	At                 time.Time
}

// RecordReceipt stores a receipt and queues the chat marks of the messages
// whose status rose; it returns how many. A redelivered receipt, or one for
// a thread or message never seen here, changes nothing.
func (b *Bridge) RecordReceipt(ctx context.Context, ev ReceiptEvent) (int, error) {
	if ev.Platform == "" || ev.Account == "" || ev.Thread == "" {
		return 0, fmt.Errorf("%w: receipt lacks platform, account or thread", ErrInvalidInput)
	}
	if _, ok := parseReceiptStatus(ev.Status.String()); !ok {
		return 0, fmt.Errorf("%w: receipt status %d", ErrInvalidInput, ev.Status)
	}
	if len(ev.PlatformMessageIDs) == 0 && ev.Watermark.IsZero() {
		return 0, nil
	}
	var n int
	err := b.store.InTx(ctx, func(ctx context.Context, tx Tx) error {
		n = 0
		thread, err := tx.FindPlatformThread(ctx, ev.Platform, ev.Account, ev.Thread)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		raised, err := tx.RaiseReceipts(ctx, RaiseReceiptsParams{
			Thread: thread.ID, Status: ev.Status, PlatformMessageIDs: ev.PlatformMessageIDs, Watermark: ev.Watermark, At: b.opts.Clock.Now(),
		})
		if err != nil {
			return err
		}
		convs := map[ConversationID]Conversation{}
		for _, m := range raised {
			conv, ok := convs[m.ConversationID]
			if !ok {
				if conv, err = tx.GetConversation(ctx, m.ConversationID); err != nil {
					return err
				}
				convs[conv.ID] = conv
			}
			seq, err := tx.NextSeq(ctx, conv.ID)
			if err != nil {
				return err
			}
			// After the post of the message in the same lane, so the mark
			// finds it even when the message was echoed a moment ago.
			if err := b.enqueueChat(ctx, tx, conv, KindReceipt, Message{ID: m.ID, Seq: seq}, ev.Status.String(), ""); err != nil {
				return err
			}
		}
		n = len(raised)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("record %s receipt: %w", ev.Platform, err)
	}
	return n, nil
}

// showReceipt marks the chat message of an outbound message.
func (b *Bridge) showReceipt(ctx context.Context, s ChatSurface, t ChatThread, d Delivery) (string, recordFunc, error) {
	m, ok := s.(ReceiptMarker)
	if !ok {
		return "", nil, nil
	}
	status, ok := parseReceiptStatus(d.Text)
	if !ok {
		return "", nil, Permanent(fmt.Errorf("receipt status %q", d.Text))
	}
	ref, err := b.chatRef(ctx, d.MessageID, s.Surface())
	if err != nil {
		return "", nil, err
	}
	return ref, nil, m.MarkReceipt(ctx, t, ref, status)
}
