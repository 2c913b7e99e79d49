package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/threadline/threadline/bridge"
)

// testLoadConversation: the one-statement read of a delivery's rows returns
// what the single-row getters return, with and without a message and a
// chat thread.
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
		chat, err := tx.UpsertChatThread(ctx, bridge.ChatThread{ConversationID: conv.ID, Surface: bridge.SurfaceSlack, Workspace: "T1",
			Channel: "C1", ThreadRef: "1700000000.000100", CreatedAt: t0})
		if err != nil {
			return err
		}
		want := bridge.ConversationView{Conversation: wantConv, Thread: f.thread, Account: f.account, Customer: f.identity}
		for _, tc := range []struct {
			name    string
			msg     bridge.MessageID
			want    bridge.Message
			surface bridge.Surface
			chat    *bridge.ChatThread
		}{
			{"without a message", 0, bridge.Message{}, "", nil},
			{"with a message", msg.ID, wantMsg, "", nil},
			{"with its chat thread", 0, bridge.Message{}, bridge.SurfaceSlack, &chat},
			{"with a message and its chat thread", msg.ID, wantMsg, bridge.SurfaceSlack, &chat},
			{"on a surface without its thread", msg.ID, wantMsg, bridge.SurfaceTeams, nil},
		} {
			got, err := tx.LoadConversation(ctx, conv.ID, tc.msg, tc.surface)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			w := want
			w.Message, w.Chat = tc.want, tc.chat
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, w)
			}
		}
		if _, err := tx.LoadConversation(ctx, conv.ID+1000, 0, bridge.SurfaceSlack); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("unknown conversation: err=%v, want ErrNotFound", err)
		}
		if _, err := tx.LoadConversation(ctx, conv.ID, msg.ID+1000, ""); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("unknown message: err=%v, want ErrNotFound", err)
		}
		return nil
	})
}
