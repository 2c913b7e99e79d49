package bridge_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

type teamsSurface struct{ *fakeSurface }

func (teamsSurface) Surface() bridge.Surface { return bridge.SurfaceTeams }

// TestConversationsStayOnTheirSurface: with two surfaces, a new
// conversation goes where RouteSurface says, and stays there when the
// routing changes later.
func TestConversationsStayOnTheirSurface(t *testing.T) {
	ctx := context.Background()
	s := open.SQLite(t, sqlite.Options{})
	var route atomic.Value
	route.Store(bridge.SurfaceTeams)
	b := bridge.New(s, bridge.Options{
		Surfaces: []bridge.Surface{bridge.SurfaceSlack, bridge.SurfaceTeams},
		RouteSurface: func(_ bridge.Conversation, a bridge.Account) bridge.Surface {
			if a.ExternalID != "bot1" {
				t.Errorf("routed with account %+v", a)
			}
			return route.Load().(bridge.Surface)
		},
	})
	slack, teams := &fakeSurface{}, teamsSurface{&fakeSurface{}}
	b.AddSurface(slack)
	b.AddSurface(teams)
	h := &harness{t: t, ctx: ctx, store: s, b: b}
	count := func(conv bridge.ConversationID, surface bridge.Surface) int {
		var n int
		if err := s.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
			var err error
			n, err = tx.CountDeliveries(ctx, bridge.DeliveryFilter{ConversationID: conv, Target: bridge.ChatTarget(surface)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	run := func(conv bridge.ConversationID, surface bridge.Surface) {
		if err := b.RunJob(ctx, bridge.Job{ConversationID: conv, Target: bridge.ChatTarget(surface)}); err != nil {
			t.Fatal(err)
		}
	}

	first := h.ingest(h.customer("1", "1", "hello"))
	if count(first.ConversationID, bridge.SurfaceTeams) != 1 || count(first.ConversationID, bridge.SurfaceSlack) != 0 {
		t.Fatalf("first message: teams %d, slack %d deliveries", count(first.ConversationID, bridge.SurfaceTeams), count(first.ConversationID, bridge.SurfaceSlack))
	}
	// A second message before the thread is open follows the same route.
	h.ingest(h.customer("1", "2", "anyone?"))
	run(first.ConversationID, bridge.SurfaceTeams)
	if teams.threads != 1 || slack.threads != 0 {
		t.Fatalf("threads: teams %d, slack %d", teams.threads, slack.threads)
	}
	// The routing changes: the open conversation stays on Teams, a new
	// one goes to Slack.
	route.Store(bridge.SurfaceSlack)
	h.ingest(h.customer("1", "3", "still there?"))
	if n := count(first.ConversationID, bridge.SurfaceTeams); n != 3 {
		t.Errorf("teams deliveries %d, want 3", n)
	}
	if n := count(first.ConversationID, bridge.SurfaceSlack); n != 0 {
		t.Errorf("slack deliveries %d for a Teams conversation", n)
	}
	if _, err := b.Claim(ctx, bridge.DeliveryKey{}, ann, bridge.ConversationRef{ID: first.ConversationID}); err != nil {
		t.Fatal(err)
	}
	if err := b.RunJob(ctx, bridge.Job{ConversationID: first.ConversationID, Target: bridge.CardTarget(bridge.SurfaceTeams)}); err != nil {
		t.Fatal(err)
	}
	if len(teams.cards) != 2 || len(slack.cards) != 0 {
		t.Errorf("cards: teams %d, slack %d", len(teams.cards), len(slack.cards))
	}
	second := h.ingest(h.customer("2", "1", "new customer"))
	if count(second.ConversationID, bridge.SurfaceSlack) != 1 || count(second.ConversationID, bridge.SurfaceTeams) != 0 {
		t.Errorf("new conversation not routed to Slack")
	}
	// An answer outside Surfaces falls back to the first surface.
	route.Store(bridge.Surface("fax"))
	third := h.ingest(h.customer("3", "1", "hi"))
	if count(third.ConversationID, bridge.SurfaceSlack) != 1 {
		t.Errorf("unknown route did not fall back to the first surface")
	}
}
