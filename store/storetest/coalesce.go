package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

// testCoalescedRefs: a lane lists its undelivered items in order, one chat
// message may show several messages, and the backlog counts conversations.
func testCoalescedRefs(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "flood1")
		if err != nil {
			return err
		}
		lane := bridge.ChatTarget(bridge.SurfaceSlack)
		var convs []bridge.Conversation
		var msgs []bridge.Message
		for i := range 2 {
			c, err := f.newConv(ctx, tx, bridge.P3)
			if err != nil {
				return err
			}
			convs = append(convs, c)
			if i == 0 {
				// close it so the second conversation may open on the thread
				c.Status = bridge.StatusClosed
				if err := tx.UpdateConversation(ctx, c); err != nil {
					return err
				}
			}
		}
		for seq := int64(1); seq <= 4; seq++ {
			m, _, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: convs[0].ID, PlatformThreadID: f.thread.ID, Seq: seq,
				Direction: bridge.Inbound, PlatformMessageID: "pm" + string(rune('0'+seq)), Text: "t", PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered})
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		for _, seq := range []int64{4, 2, 3, 1} {
			status := bridge.DeliveryPending
			if seq == 1 {
				status = bridge.DeliveryDelivered
			}
			if _, err := tx.InsertDelivery(ctx, bridge.Delivery{ConversationID: convs[0].ID, Target: lane, Kind: bridge.KindMessage,
				MessageID: msgs[seq-1].ID, Seq: seq, Status: status, NextAttemptAt: t0, CreatedAt: t0.Add(-time.Duration(seq) * time.Second)}); err != nil {
				return err
			}
		}
		if _, err := tx.InsertDelivery(ctx, bridge.Delivery{ConversationID: convs[1].ID, Target: lane, Kind: bridge.KindNotice, Seq: 1,
			Status: bridge.DeliveryPending, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
			return err
		}
		got, err := tx.ListLaneDeliveries(ctx, convs[0].ID, lane, 2)
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 3 {
			t.Errorf("ListLaneDeliveries = %+v, want seq 2 and 3", got)
		}
		for _, m := range msgs[1:] {
			if err := tx.AddChatMessageRef(ctx, bridge.ChatMessageRef{MessageID: m.ID, Surface: bridge.SurfaceSlack, Channel: "C1", Ref: "9.0001"}); err != nil {
				return err
			}
		}
		shown, err := tx.ListMessagesByChatRef(ctx, bridge.SurfaceSlack, "C1", "9.0001")
		if err != nil {
			return err
		}
		if len(shown) != 3 || shown[0].ID != msgs[1].ID || shown[2].ID != msgs[3].ID {
			t.Errorf("ListMessagesByChatRef = %+v, want messages 2-4 in order", shown)
		}
		first, err := tx.FindMessageByChatRef(ctx, bridge.SurfaceSlack, "C1", "9.0001")
		if err != nil || first.ID != msgs[1].ID {
			t.Errorf("FindMessageByChatRef = %+v, %v; want the first message shown", first, err)
		}
		backlog, err := tx.DeliveryBacklog(ctx)
		if err != nil {
			return err
		}
		if len(backlog) != 1 || backlog[0].Count != 4 || backlog[0].Conversations != 2 || !backlog[0].Oldest.Equal(t0.Add(-4*time.Second)) {
			t.Errorf("DeliveryBacklog = %+v, want 4 items of 2 conversations", backlog)
		}
		return nil
	})
}

// testPostponeAndStalled: a postponed lane is not stalled until its new
// time, and a stalled lane's job carries the conversation's priority.
func testPostponeAndStalled(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "stall1")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P1)
		if err != nil {
			return err
		}
		lane := bridge.ChatTarget(bridge.SurfaceSlack)
		if _, err := tx.InsertDelivery(ctx, bridge.Delivery{ConversationID: c.ID, Target: lane, Kind: bridge.KindNotice, Seq: 1,
			Status: bridge.DeliveryPending, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
			return err
		}
		stalled, err := tx.ListStalledLanes(ctx, t0.Add(time.Minute), t0.Add(time.Minute), 10)
		if err != nil {
			return err
		}
		if len(stalled) != 1 || stalled[0].ConversationID != c.ID || stalled[0].Priority != bridge.P1 {
			t.Errorf("ListStalledLanes = %+v, want the lane with priority P1", stalled)
		}
		if err := tx.PostponeLane(ctx, c.ID, lane, t0.Add(2*time.Minute)); err != nil {
			return err
		}
		if stalled, err = tx.ListStalledLanes(ctx, t0.Add(time.Minute), t0.Add(time.Minute), 10); err != nil || len(stalled) != 0 {
			t.Errorf("postponed lane listed as stalled: %+v, %v", stalled, err)
		}
		d, err := tx.NextDelivery(ctx, c.ID, lane)
		if err != nil || !d.NextAttemptAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("postponed delivery due %v, %v; want %v", d.NextAttemptAt, err, t0.Add(2*time.Minute))
		}
		return nil
	})
}
