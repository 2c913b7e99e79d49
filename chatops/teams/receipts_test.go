package teams_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/chatops/cardtest"
	"github.com/threadline/threadline/chatops/teams"
	"github.com/threadline/threadline/chatops/teams/teamstest"
)

// TestAccountChannelAndReceipts: a card routed to an account's own channel
// opens its thread there; receipts are short replies under the message.
func TestAccountChannelAndReceipts(t *testing.T) {
	const desk = "19:fbdesk@thread.tacv2"
	em := teamstest.New(teamstest.Options{MoreChannels: []string{desk}})
	defer em.Close()
	s := teams.NewSurface(teams.Options{AppID: em.AppID(), TenantID: em.TenantID(), Channel: em.Channel(), ServiceURL: em.ServiceURL(),
		Connector: newConnector(em), ThreadInterval: time.Nanosecond, AppInterval: time.Nanosecond})
	ctx := context.Background()
	card := cardtest.Cases()[0].Card
	card.Channel = desk
	th, err := s.OpenThread(ctx, card, bridge.MessageView{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(th.Channel, desk+";messageid=") {
		t.Fatalf("thread %+v, want it in %s", th, desk)
	}
	ref, err := s.PostMessage(ctx, th, bridge.MessageView{SenderName: "Ann", Message: bridge.Message{Direction: bridge.Outbound, Text: "It ships today."}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []bridge.ReceiptStatus{bridge.ReceiptDelivered, bridge.ReceiptSeen} {
		if err := s.MarkReceipt(ctx, th, ref, st); err != nil {
			t.Fatal(err)
		}
	}
	var marks []string
	for _, m := range em.Messages(th.Channel) {
		if m.ReplyToID == ref {
			marks = append(marks, m.Text)
		}
	}
	if len(marks) != 2 || !strings.Contains(marks[0], "device") || !strings.Contains(marks[1], "Seen") {
		t.Errorf("marks under the reply: %q", marks)
	}
	if err := s.MarkReceipt(ctx, th, ref, 9); !bridge.IsPermanent(err) {
		t.Errorf("unknown status: %v", err)
	}
}
