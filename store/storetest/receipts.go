package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

// testReceipts: a receipt matches a thread's delivered outbound messages by
// platform id or watermark, and a message's status only rises, so a report
// delivered again raises nothing.
func testReceipts(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "receipts")
		if err != nil {
			return err
		}
		other, err := newFixture(ctx, tx, "receipts-other")
		if err != nil {
			return err
		}
		if th, err := tx.FindPlatformThread(ctx, bridge.PlatformTelegram, "bot1", "receipts"); err != nil || th.ID != f.thread.ID {
			t.Errorf("find thread: %+v %v", th, err)
		}
		if _, err := tx.FindPlatformThread(ctx, bridge.PlatformMessenger, "bot1", "receipts"); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("thread of another platform: err=%v, want ErrNotFound", err)
		}
		conv, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		otherConv, err := other.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		ids := map[string]bridge.MessageID{}
		insert := func(c bridge.Conversation, th bridge.PlatformThreadID, seq int64, pmid string, dir bridge.Direction, st bridge.DeliveryStatus, at time.Time) error {
			m, _, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: c.ID, PlatformThreadID: th, Seq: seq, Direction: dir,
				PlatformMessageID: pmid, Text: pmid, PlatformTime: at, CreatedAt: at, DeliveryStatus: st})
			ids[pmid] = m.ID
			return err
		}
		for i, m := range []struct {
			pmid string
			dir  bridge.Direction
			st   bridge.DeliveryStatus
		}{
			{"in1", bridge.Inbound, bridge.DeliveryDelivered},
			{"out1", bridge.Outbound, bridge.DeliveryDelivered},
			{"out2", bridge.Outbound, bridge.DeliveryDelivered},
			{"out3", bridge.Outbound, bridge.DeliveryDelivered},
		} {
			if err := insert(conv, f.thread.ID, int64(i+1), m.pmid, m.dir, m.st, t0.Add(time.Duration(i)*time.Minute)); err != nil {
				return err
			}
		}
		if err := insert(otherConv, other.thread.ID, 1, "elsewhere", bridge.Outbound, bridge.DeliveryDelivered, t0); err != nil {
			return err
		}
		raise := func(st bridge.ReceiptStatus, pmids []string, watermark time.Time) string {
			got, err := tx.RaiseReceipts(ctx, bridge.RaiseReceiptsParams{Thread: f.thread.ID, Status: st, PlatformMessageIDs: pmids, Watermark: watermark, At: t0})
			if err != nil {
				t.Fatal(err)
			}
			out := ""
			for _, m := range got {
				out += m.PlatformMessageID + " "
			}
			return out
		}
		tests := []struct {
			name      string
			status    bridge.ReceiptStatus
			pmids     []string
			watermark time.Time
			want      string
		}{
			{"delivered by id", bridge.ReceiptDelivered, []string{"out2", "in1", "elsewhere"}, time.Time{}, "out2 "},
			{"delivered again", bridge.ReceiptDelivered, []string{"out2"}, time.Time{}, ""},
			{"delivered by watermark", bridge.ReceiptDelivered, nil, t0.Add(2 * time.Minute), "out1 "},
			{"seen up to the watermark, oldest first", bridge.ReceiptSeen, nil, t0.Add(2 * time.Minute), "out1 out2 "},
			{"seen again", bridge.ReceiptSeen, nil, t0.Add(2 * time.Minute), ""},
			{"a late delivery of a seen message", bridge.ReceiptDelivered, []string{"out1", "out3"}, time.Time{}, "out3 "},
			{"seen by id", bridge.ReceiptSeen, []string{"out3"}, time.Time{}, "out3 "},
		}
		for _, tc := range tests {
			if got := raise(tc.status, tc.pmids, tc.watermark); got != tc.want {
				t.Errorf("%s: raised %q, want %q", tc.name, got, tc.want)
			}
		}
		for pmid, want := range map[string]bridge.ReceiptStatus{"in1": 0, "out1": bridge.ReceiptSeen, "out3": bridge.ReceiptSeen, "elsewhere": 0} {
			if got, err := tx.GetReceipt(ctx, ids[pmid]); err != nil || got != want {
				t.Errorf("receipt of %s: %v %v, want %v", pmid, got, err, want)
			}
		}
		if _, err := tx.RaiseReceipts(ctx, bridge.RaiseReceiptsParams{Thread: f.thread.ID, Status: 7, Watermark: t0}); !errors.Is(err, bridge.ErrInvalidInput) {
			t.Errorf("unknown status: err=%v", err)
		}
		return nil
	})
}
