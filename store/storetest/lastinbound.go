package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

// testLastInbound: the reply window of a thread counts from the customer's
// newest message, across conversations, ignoring replies and notes.
func testLastInbound(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "window")
		if err != nil {
			return err
		}
		if _, err := tx.LastInboundTime(ctx, f.thread.ID); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("empty thread: err=%v, want ErrNotFound", err)
		}
		first, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		insert := func(conv bridge.ConversationID, seq int64, dir bridge.Direction, at time.Time) error {
			_, _, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: conv, PlatformThreadID: f.thread.ID, Seq: seq,
				Direction: dir, SenderIdentityID: f.identity.ID, Text: "x", PlatformTime: at, CreatedAt: at, DeliveryStatus: bridge.DeliveryDelivered})
			return err
		}
		if err := insert(first.ID, 1, bridge.Inbound, t0); err != nil {
			return err
		}
		if err := insert(first.ID, 2, bridge.Outbound, t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := insert(first.ID, 3, bridge.Note, t0.Add(2*time.Hour)); err != nil {
			return err
		}
		if got, err := tx.LastInboundTime(ctx, f.thread.ID); err != nil || !got.Equal(t0) {
			t.Errorf("after a reply and a note: %v %v, want %v", got, err, t0)
		}
		first.Status = bridge.StatusClosed
		if err := tx.UpdateConversation(ctx, first); err != nil {
			return err
		}
		second, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		later := t0.Add(48 * time.Hour)
		if err := insert(second.ID, 1, bridge.Inbound, later); err != nil {
			return err
		}
		if got, err := tx.LastInboundTime(ctx, f.thread.ID); err != nil || !got.Equal(later) {
			t.Errorf("after a new conversation: %v %v, want %v", got, err, later)
		}
		return nil
	})
}
