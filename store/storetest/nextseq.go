package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// testLatestConversationNextSeq: the latest conversation comes back with
// the next seq taken, in step with NextSeq, and it is the one
// LatestConversation picks.
func testLatestConversationNextSeq(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "nextseq")
		if err != nil {
			return err
		}
		if _, err := tx.LatestConversationNextSeq(ctx, f.thread.ID); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("thread without conversations: err=%v, want ErrNotFound", err)
		}
		conv, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		for _, step := range []struct {
			nextSeq bool // allocate with NextSeq in between
			want    int64
		}{{false, 1}, {false, 2}, {true, 4}} {
			if step.nextSeq {
				if _, err := tx.NextSeq(ctx, conv.ID); err != nil {
					return err
				}
			}
			got, err := tx.LatestConversationNextSeq(ctx, f.thread.ID)
			if err != nil {
				return err
			}
			if got.ID != conv.ID || got.LastSeq != step.want || got.Number != conv.Number || got.Status != bridge.StatusOpen {
				t.Errorf("got conversation %d seq %d (%s), want %d seq %d", got.ID, got.LastSeq, got.Status, conv.ID, step.want)
			}
		}
		// A closed conversation gives way to a newer one.
		conv.Status = bridge.StatusClosed
		if err := tx.UpdateConversation(ctx, conv); err != nil {
			return err
		}
		next, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		got, err := tx.LatestConversationNextSeq(ctx, f.thread.ID)
		if err != nil {
			return err
		}
		if got.ID != next.ID || got.LastSeq != 1 {
			t.Errorf("after close: conversation %d seq %d, want %d seq 1", got.ID, got.LastSeq, next.ID)
		}
		return nil
	})
}
