package slack

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/testclock"
	"github.com/threadline/threadline/store/ratelimit"
)

func pacedSurface(clock bridge.Clock) *Surface {
	return &Surface{
		posts: newPostQueue(clock, 2, 3*time.Second),
		opts:  Options{Limiter: ratelimit.NewLocal(clock), PostInterval: time.Second},
	}
}

// TestFloodPostsUrgentFirstThenOldest simulates jobs asking for a channel's
// post slot the way the bridge does: a job told to wait comes back when the
// wait is over (in its worker or after a snooze). A flood of P3
// conversations arrives, then two P1s: the P1s get the next slots, and the
// P3s go in the order they arrived.
func TestFloodPostsUrgentFirstThenOldest(t *testing.T) {
	clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := pacedSurface(clock)
	due := map[bridge.ConversationID]time.Time{}
	prio := map[bridge.ConversationID]bridge.Priority{}
	var order []bridge.ConversationID
	queued := 0
	var arrivalOrder []bridge.ConversationID
	arrive := func(id bridge.ConversationID, p bridge.Priority) {
		due[id], prio[id] = clock.Now(), p
		arrivalOrder = append(arrivalOrder, id)
	}
	for id := range bridge.ConversationID(20) {
		arrive(id+1, bridge.P3)
	}
	const step = 100 * time.Millisecond
	var grantedBeforeUrgent int
	for tick := 0; len(due) > 0 && tick < 1000; tick++ {
		if tick == 55 { // 5.5 s into the flood
			grantedBeforeUrgent = len(order)
			arrive(101, bridge.P1)
			arrive(102, bridge.P1)
		}
		// Jobs ask in id order within a tick, as a queue fetch would.
		for _, id := range append([]bridge.ConversationID(nil), arrivalOrder...) {
			at, waiting := due[id]
			if !waiting || clock.Now().Before(at) {
				continue
			}
			ctx := bridge.WithWork(context.Background(), bridge.Work{ConversationID: id, Priority: prio[id]})
			err := s.pacePost(ctx, "C1")
			var retry *bridge.RetryAfterError
			switch {
			case err == nil:
				order = append(order, id)
				delete(due, id)
			case errors.As(err, &retry):
				if retry.Queued {
					queued++
				}
				due[id] = clock.Now().Add(retry.After)
			default:
				t.Fatal(err)
			}
		}
		clock.Advance(step)
	}
	if len(order) != 22 {
		t.Fatalf("granted %d posts, want 22: %v", len(order), order)
	}
	// The two P1s take the very next slots after they arrive (one slot may
	// already be promised to a P3 sleeping in its worker).
	p1At := []int{-1, -1}
	for i, id := range order {
		if id > 100 {
			p1At[id-101] = i
		}
	}
	for i, at := range p1At {
		if at < grantedBeforeUrgent || at > grantedBeforeUrgent+2 {
			t.Errorf("P1 #%d posted %dth, want right after the %d posts made before it arrived: %v", i+1, at+1, grantedBeforeUrgent, order)
		}
	}
	// The P3s keep their arrival order.
	var p3 []bridge.ConversationID
	for _, id := range order {
		if id <= 100 {
			p3 = append(p3, id)
		}
	}
	for i, id := range p3 {
		if id != bridge.ConversationID(i+1) {
			t.Fatalf("P3 posts in order %v, want arrival order", p3)
		}
	}
	if queued == 0 {
		t.Error("no job was told to step aside: every waiter held a worker")
	}
	if n := s.PostsWaiting("C1"); n != 0 {
		t.Errorf("%d conversations still queued after all posted", n)
	}
}

// TestUrgentWaiterThatLeavesStopsBlocking: a P1 whose job never comes back
// (its process died, its send failed) holds the channel only for the grace.
func TestUrgentWaiterThatLeavesStopsBlocking(t *testing.T) {
	clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := pacedSurface(clock)
	p1 := bridge.WithWork(context.Background(), bridge.Work{ConversationID: 1, Priority: bridge.P1})
	p3 := bridge.WithWork(context.Background(), bridge.Work{ConversationID: 2, Priority: bridge.P3})
	if err := s.pacePost(p1, "C1"); err != nil {
		t.Fatal(err)
	}
	var retry *bridge.RetryAfterError
	if err := s.pacePost(p1, "C1"); !errors.As(err, &retry) || retry.Queued {
		t.Fatalf("second P1 post at once: %v, want a short pacing wait", err)
	}
	clock.Advance(time.Second)
	if err := s.pacePost(p3, "C1"); !errors.As(err, &retry) || !retry.Queued {
		t.Fatalf("P3 behind a waiting P1: %v, want queued", err)
	}
	clock.Advance(5 * time.Second) // the P1 never came back
	if err := s.pacePost(p3, "C1"); err != nil {
		t.Fatalf("P3 after the P1 left: %v, want the slot", err)
	}
}

// TestPostsWithoutWorkArePacedPlainly: calls not made for a conversation
// (the backlog digest) only respect the channel's budget.
func TestPostsWithoutWorkArePacedPlainly(t *testing.T) {
	clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := pacedSurface(clock)
	if err := s.pacePost(context.Background(), "C1"); err != nil {
		t.Fatal(err)
	}
	var retry *bridge.RetryAfterError
	if err := s.pacePost(context.Background(), "C1"); !errors.As(err, &retry) || retry.After != time.Second {
		t.Fatalf("second post: %v, want a 1s wait", err)
	}
}

// TestAdmitTellsQueuedConversationsToStepAside: a conversation turned away
// once learns its turn before its job touches the store; one never queued
// goes ahead.
func TestAdmitTellsQueuedConversationsToStepAside(t *testing.T) {
	clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	s := pacedSurface(clock)
	for id := range bridge.ConversationID(5) {
		_ = s.pacePost(bridge.WithWork(context.Background(), bridge.Work{ConversationID: id + 1, Priority: bridge.P3}), "C1")
	}
	if wait := s.Admit(context.Background(), bridge.Work{ConversationID: 5, Priority: bridge.P3}); wait < 2*time.Second {
		t.Errorf("fifth conversation admitted with wait %s, want at least 2s (three ahead of its contention window)", wait)
	}
	if wait := s.Admit(context.Background(), bridge.Work{ConversationID: 2, Priority: bridge.P3}); wait != 0 {
		t.Errorf("a contender was told to wait %s", wait)
	}
	if wait := s.Admit(context.Background(), bridge.Work{ConversationID: 99, Priority: bridge.P1}); wait != 0 {
		t.Errorf("a conversation never queued was told to wait %s", wait)
	}
}
