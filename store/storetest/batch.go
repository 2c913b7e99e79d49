package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/storetest/open"
)

// testBatchIngest: the multi-row statements of a batch of messages do what
// their one-row twins do, row by row.
func testBatchIngest(t *testing.T, s Backend) {
	var conflicting []bridge.CreateConversationParams
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		if _, err := tx.MarkProcessed(ctx, "telegram", "seen", t0); err != nil {
			return err
		}
		isNew, err := tx.MarkProcessedBatch(ctx, []bridge.DeliveryKey{
			{Source: "telegram", ID: "a"}, {Source: "telegram", ID: "seen"}, {Source: "telegram", ID: "a"}, {Source: "meta", ID: "seen"},
		}, t0)
		if err != nil {
			return err
		}
		if want := []bool{true, false, false, true}; !slices.Equal(isNew, want) {
			t.Errorf("MarkProcessedBatch = %v, want %v", isNew, want)
		}
		if again, err := tx.MarkProcessed(ctx, "telegram", "a", t0); err != nil || again {
			t.Errorf("a marked in a batch is new again: %v %v", again, err)
		}

		known, err := newFixture(ctx, tx, "known")
		if err != nil {
			return err
		}
		found, err := tx.FindIdentities(ctx, []bridge.IdentityKey{
			{AccountID: known.account.ID, ExternalUserID: known.identity.ExternalUserID},
			{AccountID: known.account.ID, ExternalUserID: "nobody"},
		})
		if err != nil {
			return err
		}
		if len(found) != 1 || found[bridge.IdentityKey{AccountID: known.account.ID, ExternalUserID: known.identity.ExternalUserID}] != known.identity {
			t.Errorf("FindIdentities = %+v, want only %+v", found, known.identity)
		}

		threads, err := tx.UpsertPlatformThreads(ctx, []bridge.UpsertPlatformThreadParams{
			{AccountID: known.account.ID, ExternalID: "known", Source: bridge.SourceDM, IdentityID: known.identity.ID},
			{AccountID: known.account.ID, ExternalID: "fresh", Source: bridge.SourceComment, IdentityID: known.identity.ID},
			{AccountID: known.account.ID, ExternalID: "known", Source: bridge.SourceDM, IdentityID: known.identity.ID},
		})
		if err != nil {
			return err
		}
		if threads[0] != known.thread || threads[2] != known.thread {
			t.Errorf("existing thread came back as %+v and %+v, want %+v", threads[0], threads[2], known.thread)
		}
		fresh, err := tx.UpsertPlatformThread(ctx, bridge.UpsertPlatformThreadParams{AccountID: known.account.ID, ExternalID: "fresh", Source: bridge.SourceComment})
		if err != nil {
			return err
		}
		if threads[1] != fresh || fresh.Source != bridge.SourceComment || fresh.IdentityID != known.identity.ID {
			t.Errorf("new thread came back as %+v, stored as %+v", threads[1], fresh)
		}

		// Open: takes numbers. Pending: comes back, numbers untouched.
		// None: absent. Closed, newer open: the newer one.
		open, err := known.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		pendingF, pending, err := fixtureIn(ctx, tx, "pending", bridge.StatusPending)
		if err != nil {
			return err
		}
		reopenedF, _, err := fixtureIn(ctx, tx, "reopened", bridge.StatusClosed)
		if err != nil {
			return err
		}
		newer, err := reopenedF.newConv(ctx, tx, bridge.P2)
		if err != nil {
			return err
		}
		got, err := tx.LatestConversationsNextSeqs(ctx, []bridge.SeqRequest{
			{Thread: known.thread.ID, Count: 3}, {Thread: pendingF.thread.ID, Count: 1},
			{Thread: fresh.ID, Count: 2}, {Thread: reopenedF.thread.ID, Count: 1},
		})
		if err != nil {
			return err
		}
		if len(got) != 3 || got[known.thread.ID].ID != open.ID || got[known.thread.ID].LastSeq != 3 ||
			got[reopenedF.thread.ID].ID != newer.ID || got[reopenedF.thread.ID].LastSeq != 1 || got[reopenedF.thread.ID].Priority != bridge.P2 ||
			got[pendingF.thread.ID].ID != pending.ID || got[pendingF.thread.ID].Status != bridge.StatusPending {
			t.Errorf("LatestConversationsNextSeqs = %+v", got)
		}
		if seq, err := tx.NextSeq(ctx, pending.ID); err != nil || seq != 1 {
			t.Errorf("pending conversation's numbers were taken: next %d %v", seq, err)
		}

		if _, _, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: open.ID, PlatformThreadID: known.thread.ID,
			Seq: 1, Direction: bridge.Inbound, PlatformMessageID: "m1", SenderIdentityID: known.identity.ID, Text: "one",
			PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered}); err != nil {
			return err
		}
		params := make([]bridge.InsertMessageParams, 3)
		for i := range params {
			params[i] = bridge.InsertMessageParams{ConversationID: open.ID, PlatformThreadID: known.thread.ID, Seq: int64(i + 1),
				Direction: bridge.Inbound, PlatformMessageID: fmt.Sprintf("m%d", i+1), SenderIdentityID: known.identity.ID,
				Text: fmt.Sprintf("text %d", i+1), Attachments: []bridge.Attachment{{Kind: "photo", PlatformRef: "file-1"}},
				PlatformTime: t0.Add(time.Duration(i) * time.Second), CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered}
		}
		msgs, err := tx.InsertMessages(ctx, params)
		if err != nil {
			return err
		}
		if msgs[0].ID != 0 {
			t.Errorf("a message stored before came back as new: %+v", msgs[0])
		}
		for i, m := range msgs[1:] {
			stored, err := tx.GetMessage(ctx, m.ID)
			if err != nil {
				return err
			}
			if m.ID == 0 || m.Seq != int64(i+2) || m.Text != params[i+1].Text || len(m.Attachments) != 1 || !m.PlatformTime.Equal(params[i+1].PlatformTime) {
				t.Errorf("message %d came back as %+v", i+2, m)
			}
			if stored.Text != m.Text || stored.Seq != m.Seq || stored.PlatformMessageID != m.PlatformMessageID {
				t.Errorf("message %d stored as %+v, returned as %+v", i+2, stored, m)
			}
		}

		target := bridge.ChatTarget(bridge.SurfaceSlack)
		if err := tx.InsertDeliveries(ctx, []bridge.Delivery{
			{ConversationID: open.ID, Target: target, Kind: bridge.KindMessage, MessageID: msgs[2].ID, Seq: 3, Status: bridge.DeliveryPending, CreatedAt: t0, NextAttemptAt: t0},
			{ConversationID: open.ID, Target: target, Kind: bridge.KindMessage, MessageID: msgs[1].ID, Seq: 2, Status: bridge.DeliveryPending, CreatedAt: t0, NextAttemptAt: t0},
		}); err != nil {
			return err
		}
		lane, err := tx.ListLaneDeliveries(ctx, open.ID, target, 10)
		if err != nil {
			return err
		}
		if len(lane) != 2 || lane[0].Seq != 2 || lane[0].MessageID != msgs[1].ID || lane[1].Seq != 3 {
			t.Errorf("lane after InsertDeliveries: %+v", lane)
		}

		due := t0.Add(time.Hour)
		for _, c := range []bridge.SLAClock{
			{ConversationID: open.ID, Kind: bridge.ClockFirstResponse, Cycle: 1, State: bridge.SLARunning, Target: time.Hour, StartedAt: t0, DueAt: &due},
			{ConversationID: open.ID, Kind: bridge.ClockResolution, Cycle: 1, State: bridge.SLARunning, Target: time.Hour, StartedAt: t0},
			{ConversationID: newer.ID, Kind: bridge.ClockFirstResponse, Cycle: 2, State: bridge.SLAStopped, StartedAt: t0},
		} {
			if err := tx.SaveSLAClock(ctx, c); err != nil {
				return err
			}
		}
		clocks, err := tx.ListSLAClocksOf(ctx, []bridge.ConversationID{open.ID, newer.ID, pending.ID})
		if err != nil {
			return err
		}
		for _, id := range []bridge.ConversationID{open.ID, newer.ID, pending.ID} {
			one, err := tx.ListSLAClocks(ctx, id)
			if err != nil {
				return err
			}
			if fmt.Sprint(clocks[id]) != fmt.Sprint(one) {
				t.Errorf("clocks of %d: %v, one by one %v", id, clocks[id], one)
			}
		}
		if len(clocks[open.ID]) != 2 || len(clocks[newer.ID]) != 1 {
			t.Errorf("ListSLAClocksOf = %v", clocks)
		}

		// Several clocks in one statement: one replaced, one new.
		stopped := t0.Add(time.Minute)
		if err := tx.SaveSLAClocks(ctx, []bridge.SLAClock{
			{ConversationID: open.ID, Kind: bridge.ClockFirstResponse, Cycle: 1, State: bridge.SLAStopped, Target: time.Hour, StartedAt: t0, StoppedAt: &stopped},
			{ConversationID: pending.ID, Kind: bridge.ClockResolution, Cycle: 1, State: bridge.SLARunning, Target: 2 * time.Hour, StartedAt: t0, DueAt: &due},
		}); err != nil {
			return err
		}
		if after, err := tx.ListSLAClocksOf(ctx, []bridge.ConversationID{open.ID, pending.ID}); err != nil {
			return err
		} else if len(after[open.ID]) != 2 || len(after[pending.ID]) != 1 || after[pending.ID][0].Target != 2*time.Hour {
			t.Errorf("after SaveSLAClocks: %v", after)
		} else {
			for _, c := range after[open.ID] {
				if c.Kind == bridge.ClockFirstResponse && (c.State != bridge.SLAStopped || c.StoppedAt == nil || !c.StoppedAt.Equal(stopped) || c.DueAt != nil) {
					t.Errorf("first response not replaced: %+v", c)
				}
			}
		}

		// New conversations, numbered in order after those before, with
		// their first numbers taken; their audit entries in one statement.
		var ps []bridge.CreateConversationParams
		for i, chat := range []string{"new-a", "new-b", "new-c"} {
			f, err := newFixture(ctx, tx, chat)
			if err != nil {
				return err
			}
			ps = append(ps, bridge.CreateConversationParams{PlatformThreadID: f.thread.ID, AccountID: f.account.ID, Platform: bridge.PlatformTelegram,
				IdentityID: f.identity.ID, Priority: bridge.P3 - bridge.Priority(i), Source: bridge.SourceDM, CreatedAt: t0, LastSeq: int64(i + 1)})
		}
		created, err := tx.CreateConversations(ctx, ps)
		if err != nil {
			return err
		}
		for i, c := range created {
			if c.PlatformThreadID != ps[i].PlatformThreadID || c.Priority != ps[i].Priority || c.LastSeq != ps[i].LastSeq || c.Status != bridge.StatusOpen ||
				c.Number != newer.Number+bridge.ConversationNumber(i+1) {
				t.Errorf("created %d: %+v (after %s)", i, c, newer.Number)
			}
			if seq, err := tx.NextSeq(ctx, c.ID); err != nil || seq != ps[i].LastSeq+1 {
				t.Errorf("created %d: next seq %d %v, want %d", i, seq, err, ps[i].LastSeq+1)
			}
		}
		conflicting = ps[:1]
		return nil
	})
	// PostgreSQL aborts the transaction of a failed statement: this one's own.
	err := s.InTx(ctxT(t), func(ctx context.Context, tx bridge.Tx) error {
		_, err := tx.CreateConversations(ctx, conflicting)
		return err
	})
	if !errors.Is(err, bridge.ErrConflict) {
		t.Errorf("a second active conversation of a thread: err=%v, want ErrConflict", err)
	}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "audited")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		if err := tx.AppendAudits(ctx, []bridge.AuditEntry{
			{Action: "created", ConversationID: c.ID, After: "open", At: t0},
			{Action: "priority_raised", ConversationID: c.ID, Before: "p3", After: "p1", At: t0.Add(time.Second)},
		}); err != nil {
			return err
		}
		audit, err := tx.ListAudit(ctx, c.ID)
		if err != nil {
			return err
		}
		if len(audit) != 2 || audit[0].Action != "created" || audit[1].Action != "priority_raised" || audit[1].Before != "p3" || !audit[1].At.Equal(t0.Add(time.Second)) {
			t.Errorf("audit after AppendAudits: %+v", audit)
		}
		return nil
	})
}

// testJobsOnePerLane: a transaction that enqueues several jobs for one lane
// runs one of them, with the most urgent priority asked; other lanes keep
// their own.
func testJobsOnePerLane(t *testing.T, s Backend) {
	ctx := ctxT(t)
	r := &recordingRunner{got: make(chan bridge.Job, 10)}
	open.StartWorkers(ctx, t, s, r)
	lane := bridge.Job{ConversationID: 7, Target: bridge.ChatTarget(bridge.SurfaceSlack), RequestID: "first"}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		for _, j := range []bridge.Job{
			{ConversationID: 7, Target: lane.Target, Priority: bridge.P3, RequestID: "first"},
			{ConversationID: 7, Target: lane.Target, Priority: bridge.P1, RequestID: "second"},
			{ConversationID: 7, Target: bridge.TargetPlatform, Priority: bridge.P3},
			{ConversationID: 7, Target: lane.Target, Priority: bridge.P3},
		} {
			if err := tx.Enqueue(ctx, j); err != nil {
				return err
			}
		}
		return nil
	})
	var ran []bridge.Job
	for len(ran) < 2 {
		select {
		case j := <-r.got:
			ran = append(ran, j)
		case <-ctx.Done():
			t.Fatalf("ran only %+v", ran)
		}
	}
	// Anything more would have been picked up with the first two.
	select {
	case j := <-r.got:
		ran = append(ran, j)
	case <-time.After(500 * time.Millisecond):
	}
	want := []bridge.Job{{ConversationID: 7, Target: lane.Target, Priority: bridge.P1, RequestID: "first"}, {ConversationID: 7, Target: bridge.TargetPlatform, Priority: bridge.P3}}
	slices.SortFunc(ran, func(a, b bridge.Job) int { return strings.Compare(string(b.Target), string(a.Target)) })
	slices.SortFunc(want, func(a, b bridge.Job) int { return strings.Compare(string(b.Target), string(a.Target)) })
	if !slices.Equal(ran, want) {
		t.Errorf("ran %+v, want %+v", ran, want)
	}
}

// fixtureIn is a fixture with one conversation, in the given status.
func fixtureIn(ctx context.Context, tx bridge.Tx, chat string, status bridge.Status) (fixture, bridge.Conversation, error) {
	f, err := newFixture(ctx, tx, chat)
	if err != nil {
		return f, bridge.Conversation{}, err
	}
	c, err := f.newConv(ctx, tx, bridge.P3)
	if err != nil {
		return f, c, err
	}
	c.Status = status
	return f, c, tx.UpdateConversation(ctx, c)
}
