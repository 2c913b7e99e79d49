package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

// countingStore counts transactions, to tell a batch stored in one from
// one that fell back to a transaction per message.
type countingStore struct {
	bridge.Store
	txs atomic.Int64
}

func (s *countingStore) InTx(ctx context.Context, fn func(ctx context.Context, tx bridge.Tx) error) error {
	s.txs.Add(1)
	return s.Store.InTx(ctx, fn)
}

func batchOptions(t *testing.T) bridge.Options {
	return bridge.Options{SLA: testPolicy(t), Classify: func(text string) bridge.Priority {
		if strings.Contains(text, "fraud") {
			return bridge.P1
		}
		return bridge.P3
	}}
}

// batchScript is a day of traffic: conversations in every state, then
// batches mixing carried-on, new, reopened, urgent, repeated and edited
// messages.
type batchScript struct {
	h *harness
}

func (s batchScript) setUp(t *testing.T) {
	h := s.h
	for _, chat := range []string{"1", "2", "3", "6"} {
		h.ingest(h.customer(chat, "m1", "hello from "+chat))
	}
	// 1 was answered (its next response is due once the customer writes),
	// 2 waits on the customer, 3 was resolved a minute ago, 6 was closed.
	s.change(t, "1", func(c *bridge.Conversation) { now := h.clock.Now(); c.FirstResponseAt = &now })
	s.change(t, "2", func(c *bridge.Conversation) { c.Status = bridge.StatusPending })
	s.change(t, "3", func(c *bridge.Conversation) {
		now := h.clock.Now()
		c.Status, c.ResolvedAt = bridge.StatusResolved, &now
	})
	s.change(t, "6", func(c *bridge.Conversation) {
		now := h.clock.Now()
		c.Status, c.ClosedAt = bridge.StatusClosed, &now
	})
	h.clock.Advance(time.Minute)
}

func (s batchScript) change(t *testing.T, chat string, fn func(c *bridge.Conversation)) {
	t.Helper()
	if err := s.h.store.InTx(s.h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		account, err := tx.UpsertAccount(ctx, bridge.UpsertAccountParams{Platform: bridge.PlatformTelegram, ExternalID: "bot1"})
		if err != nil {
			return err
		}
		thread, err := tx.UpsertPlatformThread(ctx, bridge.UpsertPlatformThreadParams{AccountID: account.ID, ExternalID: chat, Source: bridge.SourceDM})
		if err != nil {
			return err
		}
		c, err := tx.LatestConversation(ctx, thread.ID)
		if err != nil {
			return err
		}
		fn(&c)
		return tx.UpdateConversation(ctx, c)
	}); err != nil {
		t.Fatal(err)
	}
}

func (s batchScript) batches() [][]bridge.InboundEvent {
	h := s.h
	edit := h.customer("1", "m2", "where is my parcel? (edited)")
	edit.Kind, edit.DeliveryID = bridge.EventEdit, "update:edit"
	viaPoll := h.customer("1", "m3", "this is fraud")
	viaPoll.DeliveryID = "poll:1:m3"
	return [][]bridge.InboundEvent{{
		h.customer("1", "m2", "where is my parcel?"),
		h.customer("4", "m1", "first time here"),
		h.customer("1", "m3", "this is fraud"),
		h.customer("2", "m2", "here is the photo"),
		h.customer("3", "m2", "it broke again"),
		h.customer("1", "m2", "where is my parcel?"), // the webhook again
		h.customer("5", "m1", "hi"),
		h.customer("5", "m2", "anyone?"),
		h.customer("6", "m2", "back again"),
		h.customer("7", "m1", "hello"),
		h.customer("7", "m2", "my card was used, fraud"),
		edit,
	}, {
		h.customer("1", "m4", "hello?"),
		viaPoll, // stored in the first batch under another delivery id
		h.customer("4", "m2", "still here"),
	}}
}

// state is what a customer's messages left in the store, by thread.
func state(t *testing.T, h *harness) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := h.store.InTx(h.ctx, func(ctx context.Context, tx bridge.Tx) error {
		page, err := tx.ListConversations(ctx, bridge.ConversationFilter{Limit: 100})
		if err != nil {
			return err
		}
		for _, c := range page.Conversations {
			view, err := tx.LoadConversation(ctx, c.ID, 0, "")
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s %s", c.Number, c.Status, c.Priority)
			// One by one, a message after a close takes a number of the
			// closed conversation before it starts the next; the gap is
			// harmless, and a batch leaves none.
			if c.Status != bridge.StatusClosed {
				fmt.Fprintf(&b, " seq=%d", c.LastSeq)
			}
			fmt.Fprintf(&b, " v=%d;", c.Version)
			msgs, err := tx.ListMessages(ctx, c.ID)
			if err != nil {
				return err
			}
			for _, m := range msgs {
				fmt.Fprintf(&b, " msg %d %q;", m.Seq, m.Text)
			}
			lane, err := tx.ListLaneDeliveries(ctx, c.ID, bridge.ChatTarget(bridge.SurfaceSlack), 100)
			if err != nil {
				return err
			}
			for _, d := range lane {
				fmt.Fprintf(&b, " delivery %s %d;", d.Kind, d.Seq)
			}
			audit, err := tx.ListAudit(ctx, c.ID)
			if err != nil {
				return err
			}
			for _, a := range audit {
				fmt.Fprintf(&b, " audit %s;", a.Action)
			}
			clocks, err := tx.ListSLAClocks(ctx, c.ID)
			if err != nil {
				return err
			}
			slices.SortFunc(clocks, func(a, b bridge.SLAClock) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
			for _, cl := range clocks {
				fmt.Fprintf(&b, " clock %s %s cycle %d due %v;", cl.Kind, cl.State, cl.Cycle, cl.DueAt)
			}
			out[view.Thread.ExternalID] += b.String() + "\n"
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func outcomesText(outs []bridge.IngestOutcome) string {
	var b strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&b, "%s dup=%v new=%v err=%v\n", o.Result.Number, o.Result.Duplicate, o.Result.NewConversation, o.Err)
	}
	return b.String()
}

// TestIngestBatchMatchesOneByOne: a batch leaves the store as the same
// messages stored one at a time would, in one transaction, and falls back
// to one transaction per message when one of them was stored before.
func TestIngestBatchMatchesOneByOne(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			// The reference: every message alone, as before group commit.
			opts := batchOptions(t)
			opts.IngestBatch = 1
			ref := newHarnessOn(t, opts, kind.open(t))
			refScript := batchScript{ref}
			refScript.setUp(t)
			var want []string
			for _, batch := range refScript.batches() {
				var outs []bridge.IngestOutcome
				for _, ev := range batch {
					res, err := ref.b.Ingest(ref.ctx, ev)
					outs = append(outs, bridge.IngestOutcome{Result: res, Err: err})
				}
				want = append(want, outcomesText(outs))
			}
			wantState := state(t, ref)

			counted := &countingStore{Store: kind.open(t)}
			h := newHarnessOn(t, batchOptions(t), counted)
			script := batchScript{h}
			script.setUp(t)
			for i, batch := range script.batches() {
				before := counted.txs.Load()
				outs := h.b.IngestBatch(h.ctx, batch)
				if got := outcomesText(outs); got != want[i] {
					t.Errorf("batch %d outcomes:\n%s\nwant (one by one):\n%s", i, got, want[i])
				}
				// Batch 0: one transaction, and one for the edit. Batch 1:
				// the batch, rolled back, then each of its messages alone.
				if txs, wantTxs := counted.txs.Load()-before, []int64{2, 4}[i]; txs != wantTxs {
					t.Errorf("batch %d took %d transactions, want %d", i, txs, wantTxs)
				}
			}
			got := state(t, h)
			if len(got) != len(wantState) {
				t.Errorf("%d threads, want %d", len(got), len(wantState))
			}
			for chat, w := range wantState {
				if got[chat] != w {
					t.Errorf("chat %s:\n got %s\nwant %s", chat, got[chat], w)
				}
			}
			// The reference is right too: 1 carried on, raised to P1 and
			// numbered in arrival order (the edit took 4 for its delivery); 5's two messages opened one
			// conversation; 2 and 3 were reopened.
			if c := wantState["1"]; !strings.Contains(c, "open P1 seq=5") || !strings.Contains(c, `msg 2 "where is my parcel? (edited)"; msg 3 "this is fraud"; msg 5 "hello?"`) {
				t.Errorf("chat 1: %s", c)
			}
			if c := wantState["5"]; strings.Count(c, "\n") != 1 || !strings.Contains(c, `msg 1 "hi"; msg 2 "anyone?"`) {
				t.Errorf("chat 5: %s", c)
			}
			if c := wantState["6"]; strings.Count(c, "\n") != 2 || !strings.Contains(c, `msg 1 "back again"`) {
				t.Errorf("chat 6: %s", c)
			}
			if c := wantState["7"]; !strings.Contains(c, "open P1 seq=2") || !strings.Contains(c, "audit created; audit priority_raised;") {
				t.Errorf("chat 7: %s", c)
			}
			for _, chat := range []string{"2", "3"} {
				if c := wantState[chat]; !strings.HasPrefix(strings.SplitN(c, " ", 3)[1], "open") {
					t.Errorf("chat %s not reopened: %s", chat, c)
				}
			}
		})
	}
}

// TestConcurrentIngestsShareTransactions: messages arriving at once are
// stored in fewer transactions than messages, each once, numbered without
// gaps or repeats per conversation, with every delivery queued.
func TestConcurrentIngestsShareTransactions(t *testing.T) {
	onBothStores(t, func(t *testing.T, s bridge.Store) {
		counted := &countingStore{Store: s}
		h := newHarnessOn(t, bridge.Options{IngestConcurrency: 1}, counted)
		const customers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, customers*each*2)
		for c := range customers {
			for m := range each {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ev := h.customer(fmt.Sprint(c), fmt.Sprint(m), fmt.Sprintf("c%d m%d", c, m))
					for range 2 { // every webhook twice
						if _, err := h.b.Ingest(h.ctx, ev); err != nil {
							errs <- err
						}
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if txs := counted.txs.Load(); txs >= customers*each {
			t.Errorf("%d transactions for %d messages: none shared", txs, customers*each)
		} else {
			t.Logf("%d messages (each twice) in %d transactions", customers*each, txs)
		}
		for chat, st := range state(t, h) {
			if strings.Count(st, "\n") != 1 {
				t.Errorf("chat %s has several conversations: %s", chat, st)
			}
			for seq := 1; seq <= each; seq++ {
				if strings.Count(st, fmt.Sprintf(" msg %d ", seq)) != 1 || strings.Count(st, fmt.Sprintf(" delivery message %d;", seq)) != 1 {
					t.Errorf("chat %s: seq %d not stored and queued exactly once: %s", chat, seq, st)
				}
			}
			if !strings.Contains(st, fmt.Sprintf("seq=%d ", each)) {
				t.Errorf("chat %s: %s", chat, st)
			}
		}
	})
}
