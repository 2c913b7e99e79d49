package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// testLoadConversation: the one-statement read of a delivery's rows returns
// what the single-row getters return, with and without a message.
func testLoadConversation(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "load")
		if err != nil {
			return err
		}
		conv, err := f.newConv(ctx, tx, bridge.P2)
		if err != nil {
			return err
		}
		conv.Tags = []string{"billing", "vip"}
		if err := tx.UpdateConversation(ctx, conv); err != nil {
			return err
		}
		msg, _, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: conv.ID, PlatformThreadID: f.thread.ID, Seq: 1,
			Direction: bridge.Inbound, PlatformMessageID: "m1", SenderIdentityID: f.identity.ID, Text: "hello",
			Attachments: []bridge.Attachment{{Kind: "photo", Name: "a.jpg"}}, PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered})
		if err != nil {
			return err
		}
		wantConv, err := tx.GetConversation(ctx, conv.ID)
		if err != nil {
			return err
		}
		wantMsg, err := tx.GetMessage(ctx, msg.ID)
		if err != nil {
			return err
		}
		want := bridge.ConversationView{Conversation: wantConv, Thread: f.thread, Account: f.account, Customer: f.identity}
		for _, tc := range []struct {
			name string
			msg  bridge.MessageID
			want bridge.Message
		}{
			{"without a message", 0, bridge.Message{}},
			{"with a message", msg.ID, wantMsg},
		} {
			got, err := tx.LoadConversation(ctx, conv.ID, tc.msg)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			w := want
			w.Message = tc.want
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, w)
			}
		}
		if _, err := tx.LoadConversation(ctx, conv.ID+1000, 0); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("unknown conversation: err=%v, want ErrNotFound", err)
		}
		if _, err := tx.LoadConversation(ctx, conv.ID, msg.ID+1000); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("unknown message: err=%v, want ErrNotFound", err)
		}
		return nil
	})
}
