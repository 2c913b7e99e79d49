// Package storetest is the conformance suite every bridge.Store backend must
// pass unchanged. Backends call Run from their own tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/storetest/open"
)

// Backend is a migrated, empty store under test.
type Backend interface {
	bridge.Store
	StartWorkers(ctx context.Context, r queue.Runner) error
	StopWorkers(ctx context.Context) error
}

// Run runs the suite; newBackend returns a fresh, migrated store per call.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Backend)
	}{
		{"ProcessedDeliveries", testProcessed},
		{"AccountsAndIdentities", testIdentities},
		{"ConversationsOneActivePerThread", testConversations},
		{"MessagesDedupe", testMessages},
		{"ListConversationsFiltersAndCursor", testList},
		{"DeliveriesAndLanes", testDeliveries},
		{"AgentsAndChatIdentities", testAgents},
		{"ChatThreadsAndRefs", testChatThreads},
		{"CoalescedChatRefs", testCoalescedRefs},
		{"PostponedAndStalledLanes", testPostponeAndStalled},
		{"AuditAndCursors", testAuditCursors},
		{"RollbackWritesNothing", testRollback},
		{"ConcurrentWritersOnSameKeys", testConcurrent},
		{"JobsRunOnlyWhenCommitted", testJobs},
		{"LastInboundTimeOfThread", testLastInbound},
		{"ReceiptsOnlyRise", testReceipts},
		{"SLAClocksAndAlerts", testSLA},
		{"SLAStandings", testSLAStandings},
		{"Macros", testMacros},
		{"ReplyDrafts", testDrafts},
		{"LoadConversationInOneRead", testLoadConversation},
		{"LatestConversationNextSeq", testLatestConversationNextSeq},
		{"BatchIngestStatements", testBatchIngest},
		{"JobsOnePerLane", testJobsOnePerLane},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t))
		})
	}
}

var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func inTx(t *testing.T, s bridge.Store, fn func(ctx context.Context, tx bridge.Tx) error) {
	t.Helper()
	if err := s.InTx(ctxT(t), fn); err != nil {
		t.Fatal(err)
	}
}

// fixture is an account, a customer and a thread to hang conversations on.
type fixture struct {
	account  bridge.Account
	identity bridge.Identity
	thread   bridge.PlatformThread
}

func newFixture(ctx context.Context, tx bridge.Tx, chat string) (fixture, error) {
	var f fixture
	var err error
	if f.account, err = tx.UpsertAccount(ctx, bridge.UpsertAccountParams{Platform: bridge.PlatformTelegram, ExternalID: "bot1", DisplayName: "Acme Bot"}); err != nil {
		return f, err
	}
	if f.identity, err = tx.UpsertIdentity(ctx, bridge.UpsertIdentityParams{AccountID: f.account.ID, Platform: bridge.PlatformTelegram, ExternalUserID: "u-" + chat, Name: "Ada"}); err != nil {
		return f, err
	}
	f.thread, err = tx.UpsertPlatformThread(ctx, bridge.UpsertPlatformThreadParams{AccountID: f.account.ID, ExternalID: chat, Source: bridge.SourceDM, IdentityID: f.identity.ID})
	return f, err
}

func (f fixture) newConv(ctx context.Context, tx bridge.Tx, p bridge.Priority) (bridge.Conversation, error) {
	return tx.CreateConversation(ctx, bridge.CreateConversationParams{
		PlatformThreadID: f.thread.ID, AccountID: f.account.ID, Platform: bridge.PlatformTelegram,
		IdentityID: f.identity.ID, Priority: p, Source: bridge.SourceDM, CreatedAt: t0,
	})
}

func testProcessed(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		for i, want := range []bool{true, false, false} {
			got, err := tx.MarkProcessed(ctx, "slack", "Ev1", t0)
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("call %d: isNew=%v, want %v", i, got, want)
			}
		}
		if got, err := tx.MarkProcessed(ctx, "telegram", "Ev1", t0); err != nil || !got {
			t.Errorf("same id from another source: isNew=%v err=%v, want new", got, err)
		}
		return nil
	})
	// Recognised in a later transaction too: the record is durable.
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		if got, err := tx.MarkProcessed(ctx, "slack", "Ev1", t0.Add(time.Hour)); err != nil || got {
			t.Errorf("later retry: isNew=%v err=%v, want seen", got, err)
		}
		return nil
	})
}

func testIdentities(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		a1, err := tx.UpsertAccount(ctx, bridge.UpsertAccountParams{Platform: bridge.PlatformMessenger, ExternalID: "page1", DisplayName: "Acme"})
		if err != nil {
			return err
		}
		a1b, err := tx.UpsertAccount(ctx, bridge.UpsertAccountParams{Platform: bridge.PlatformMessenger, ExternalID: "page1"})
		if err != nil {
			return err
		}
		if a1b.ID != a1.ID || a1b.DisplayName != "Acme" {
			t.Errorf("re-upsert without name: got %+v, want id %d named Acme", a1b, a1.ID)
		}
		a2, err := tx.UpsertAccount(ctx, bridge.UpsertAccountParams{Platform: bridge.PlatformMessenger, ExternalID: "page2", DisplayName: "Acme EU"})
		if err != nil {
			return err
		}
		i1, err := tx.UpsertIdentity(ctx, bridge.UpsertIdentityParams{AccountID: a1.ID, Platform: bridge.PlatformMessenger, ExternalUserID: "psid1", Name: "Ada"})
		if err != nil {
			return err
		}
		i1b, err := tx.UpsertIdentity(ctx, bridge.UpsertIdentityParams{AccountID: a1.ID, Platform: bridge.PlatformMessenger, ExternalUserID: "psid1", Handle: "ada_l"})
		if err != nil {
			return err
		}
		if i1b.ID != i1.ID || i1b.ContactID != i1.ContactID || i1b.Name != "Ada" || i1b.Handle != "ada_l" {
			t.Errorf("identity refresh: got %+v, want same id/contact, name kept, handle set", i1b)
		}
		// Meta's ids are page-scoped: the same id on another page is another identity.
		i2, err := tx.UpsertIdentity(ctx, bridge.UpsertIdentityParams{AccountID: a2.ID, Platform: bridge.PlatformMessenger, ExternalUserID: "psid1", Name: "Ada"})
		if err != nil {
			return err
		}
		if i2.ID == i1.ID || i2.ContactID == i1.ContactID {
			t.Errorf("identity on another account shares id or contact: %+v vs %+v", i2, i1)
		}
		got, err := tx.GetIdentity(ctx, i1.ID)
		if err != nil || got != i1b {
			t.Errorf("GetIdentity = %+v, %v; want %+v", got, err, i1b)
		}
		if _, err := tx.GetIdentity(ctx, 999999); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("GetIdentity(missing) err = %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testConversations(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		again, err := tx.UpsertPlatformThread(ctx, bridge.UpsertPlatformThreadParams{AccountID: f.account.ID, ExternalID: "chat1", Source: bridge.SourceDM})
		if err != nil || again.ID != f.thread.ID || again.IdentityID != f.identity.ID {
			t.Errorf("thread re-upsert = %+v, %v; want id %d keeping identity", again, err, f.thread.ID)
		}
		c1, err := f.newConv(ctx, tx, bridge.P2)
		if err != nil {
			return err
		}
		if c1.Status != bridge.StatusOpen || c1.Priority != bridge.P2 || c1.Number < 1001 || c1.AssigneeID != 0 || c1.LastSeq != 0 {
			t.Errorf("new conversation = %+v", c1)
		}
		return nil
	})
	// PostgreSQL aborts a transaction after a failed statement, so the
	// conflict gets a transaction of its own.
	err := s.InTx(ctxT(t), func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		_, err = f.newConv(ctx, tx, bridge.P3)
		return err
	})
	if !errors.Is(err, bridge.ErrConflict) {
		t.Fatalf("second active conversation on a thread: err = %v, want ErrConflict", err)
	}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		c1, err := tx.LatestConversation(ctx, f.thread.ID)
		if err != nil {
			return err
		}
		for want := int64(1); want <= 3; want++ {
			if seq, err := tx.NextSeq(ctx, c1.ID); err != nil || seq != want {
				t.Errorf("NextSeq = %d, %v; want %d", seq, err, want)
			}
		}
		now := t0.Add(time.Hour)
		c1.Status, c1.ClosedAt, c1.UpdatedAt, c1.Version, c1.Tags = bridge.StatusClosed, &now, now, 3, []string{"vip"}
		if err := tx.UpdateConversation(ctx, c1); err != nil {
			return err
		}
		c2, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return fmt.Errorf("new conversation after close: %w", err)
		}
		if c2.Number <= c1.Number {
			t.Errorf("numbers not increasing: %d then %d", c1.Number, c2.Number)
		}
		latest, err := tx.LatestConversation(ctx, f.thread.ID)
		if err != nil || latest.ID != c2.ID {
			t.Errorf("LatestConversation = %d, %v; want %d", latest.ID, err, c2.ID)
		}
		got, err := tx.GetConversationByNumber(ctx, c1.Number)
		if err != nil {
			return err
		}
		if got.Status != bridge.StatusClosed || got.ClosedAt == nil || !got.ClosedAt.Equal(now) || got.Version != 3 || len(got.Tags) != 1 || got.LastSeq != 3 {
			t.Errorf("updated conversation = %+v", got)
		}
		if _, err := tx.GetConversationByNumber(ctx, 99999999); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("missing number: err = %v", err)
		}
		return nil
	})
}

func testMessages(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		g, err := newFixture(ctx, tx, "chat2")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		d, err := g.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		p := bridge.InsertMessageParams{ConversationID: c.ID, PlatformThreadID: f.thread.ID, Seq: 1, Direction: bridge.Inbound,
			PlatformMessageID: "42", SenderIdentityID: f.identity.ID, Text: "hello",
			Attachments:  []bridge.Attachment{{Kind: "photo", PlatformRef: "file-1"}},
			PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered}
		m, created, err := tx.InsertMessage(ctx, p)
		if err != nil || !created {
			return fmt.Errorf("first insert: created=%v err=%w", created, err)
		}
		p.Seq = 2
		if _, created, err := tx.InsertMessage(ctx, p); err != nil || created {
			t.Errorf("duplicate platform message id: created=%v err=%v, want not created", created, err)
		}
		// Telegram message ids repeat across chats: another thread may reuse one.
		q := p
		q.ConversationID, q.PlatformThreadID, q.SenderIdentityID, q.Seq = d.ID, g.thread.ID, g.identity.ID, 1
		if _, created, err := tx.InsertMessage(ctx, q); err != nil || !created {
			t.Errorf("same message id in another thread: created=%v err=%v", created, err)
		}
		// Notes and undelivered replies have no platform id; many may exist.
		for seq := int64(3); seq <= 4; seq++ {
			if _, created, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: c.ID, PlatformThreadID: f.thread.ID, Seq: seq,
				Direction: bridge.Note, Text: "note", PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered}); err != nil || !created {
				t.Errorf("note %d: created=%v err=%v", seq, created, err)
			}
		}
		got, err := tx.FindMessageByPlatformID(ctx, f.thread.ID, "42")
		if err != nil || got.ID != m.ID || got.Text != "hello" || len(got.Attachments) != 1 || got.Attachments[0].PlatformRef != "file-1" || !got.PlatformTime.Equal(t0) {
			t.Errorf("FindMessageByPlatformID = %+v, %v", got, err)
		}
		if err := tx.UpdateMessageText(ctx, m.ID, "hello (edited)", t0.Add(time.Minute)); err != nil {
			return err
		}
		if err := tx.SetMessageDelivery(ctx, bridge.SetMessageDeliveryParams{ID: m.ID, Status: bridge.DeliveryFailed, Error: "blocked"}); err != nil {
			return err
		}
		got, err = tx.GetMessage(ctx, m.ID)
		if err != nil || got.Text != "hello (edited)" || got.EditedAt == nil || got.DeliveryStatus != bridge.DeliveryFailed || got.DeliveryError != "blocked" || got.PlatformMessageID != "42" {
			t.Errorf("after edit and delivery update: %+v, %v", got, err)
		}
		if first, err := tx.FirstInboundMessage(ctx, c.ID); err != nil || first.ID != m.ID {
			t.Errorf("FirstInboundMessage = %+v, %v; want message %d", first, err, m.ID)
		}
		msgs, err := tx.ListMessages(ctx, c.ID)
		if err != nil || len(msgs) != 3 || msgs[0].Seq != 1 || msgs[2].Seq != 4 {
			t.Errorf("ListMessages = %d messages, %v", len(msgs), err)
		}
		return nil
	})
}

func testList(t *testing.T, s Backend) {
	var ids []bridge.ConversationID
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		agent, err := tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "Bo", Role: bridge.RoleAgent})
		if err != nil {
			return err
		}
		for i := range 7 {
			f, err := newFixture(ctx, tx, fmt.Sprintf("chat%d", i))
			if err != nil {
				return err
			}
			c, err := f.newConv(ctx, tx, bridge.Priority(1+i%4))
			if err != nil {
				return err
			}
			if i%2 == 0 {
				c.AssigneeID, c.Status = agent.ID, bridge.StatusPending
				if err := tx.UpdateConversation(ctx, c); err != nil {
					return err
				}
			}
			ids = append(ids, c.ID)
		}
		page, err := tx.ListConversations(ctx, bridge.ConversationFilter{Assignee: agent.ID})
		if err != nil || len(page.Conversations) != 4 || page.Next != "" {
			t.Errorf("by assignee: %d, next %q, %v", len(page.Conversations), page.Next, err)
		}
		page, err = tx.ListConversations(ctx, bridge.ConversationFilter{Statuses: []bridge.Status{bridge.StatusOpen}, Priority: bridge.P2})
		if err != nil || len(page.Conversations) != 2 || page.Conversations[0].ID != ids[5] || page.Conversations[1].ID != ids[1] {
			t.Errorf("open P2: %+v, %v", page.Conversations, err)
		}
		page, err = tx.ListConversations(ctx, bridge.ConversationFilter{Platform: bridge.PlatformX})
		if err != nil || len(page.Conversations) != 0 {
			t.Errorf("platform x: %d, %v", len(page.Conversations), err)
		}
		if _, err := tx.ListConversations(ctx, bridge.ConversationFilter{After: "!!"}); !errors.Is(err, bridge.ErrInvalidInput) {
			t.Errorf("bad cursor: %v", err)
		}
		return nil
	})
	// Page through 3 at a time while new conversations arrive: no item is
	// skipped or repeated.
	var seen []bridge.ConversationID
	cursor := ""
	for page := 0; ; page++ {
		var next string
		inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
			p, err := tx.ListConversations(ctx, bridge.ConversationFilter{After: cursor, Limit: 3})
			if err != nil {
				return err
			}
			for _, c := range p.Conversations {
				seen = append(seen, c.ID)
			}
			next = p.Next
			f, err := newFixture(ctx, tx, fmt.Sprintf("late%d", page))
			if err != nil {
				return err
			}
			_, err = f.newConv(ctx, tx, bridge.P3)
			return err
		})
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != len(ids) {
		t.Fatalf("paged %d conversations, want %d: %v", len(seen), len(ids), seen)
	}
	for i, id := range seen {
		if want := ids[len(ids)-1-i]; id != want {
			t.Errorf("page item %d = %d, want %d (newest first)", i, id, want)
		}
	}
}

func testDeliveries(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		lane := bridge.ChatTarget(bridge.SurfaceSlack)
		for _, seq := range []int64{3, 1, 2} {
			if _, err := tx.InsertDelivery(ctx, bridge.Delivery{ConversationID: c.ID, Target: lane, Kind: bridge.KindNotice, Seq: seq,
				Text: fmt.Sprint(seq), Status: bridge.DeliveryPending, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
				return err
			}
		}
		if _, err := tx.InsertDelivery(ctx, bridge.Delivery{ConversationID: c.ID, Target: bridge.TargetPlatform, Kind: bridge.KindNotice, Seq: 0,
			Status: bridge.DeliveryPending, NextAttemptAt: t0, CreatedAt: t0}); err != nil {
			return err
		}
		for want := int64(1); want <= 3; want++ {
			d, err := tx.NextDelivery(ctx, c.ID, lane)
			if err != nil {
				return err
			}
			if d.Seq != want || d.Text != fmt.Sprint(want) {
				t.Errorf("NextDelivery seq = %d, want %d", d.Seq, want)
			}
			d.Status, d.Attempts, d.ExternalRef = bridge.DeliverySending, 1, "ts"
			if err := tx.UpdateDelivery(ctx, d); err != nil {
				return err
			}
			// A send in progress stays at the head of the lane.
			if again, err := tx.NextDelivery(ctx, c.ID, lane); err != nil || again.ID != d.ID || again.Status != bridge.DeliverySending {
				t.Errorf("sending item not at head: %+v, %v", again, err)
			}
			d.Status = bridge.DeliveryDelivered
			if err := tx.UpdateDelivery(ctx, d); err != nil {
				return err
			}
		}
		if _, err := tx.NextDelivery(ctx, c.ID, lane); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("empty lane: err = %v", err)
		}
		if b, err := tx.DeliveryBacklog(ctx); err != nil || len(b) != 1 || b[0].Target != bridge.TargetPlatform || b[0].Count != 1 || !b[0].Oldest.Equal(t0) {
			t.Errorf("DeliveryBacklog = %+v, %v; want the one platform item", b, err)
		}
		if n, err := tx.CountDeliveries(ctx, bridge.DeliveryFilter{ConversationID: c.ID, Status: bridge.DeliveryDelivered}); err != nil || n != 3 {
			t.Errorf("CountDeliveries delivered = %d, %v", n, err)
		}

		claim := func(owner string, now time.Time) bool {
			ok, err := tx.ClaimLane(ctx, bridge.ClaimLaneParams{ConversationID: c.ID, Target: lane, Owner: owner, Now: now, Until: now.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !claim("a", t0) {
			t.Error("free lane not claimed")
		}
		if claim("b", t0.Add(30*time.Second)) {
			t.Error("held lane claimed by another owner")
		}
		if !claim("a", t0.Add(30*time.Second)) {
			t.Error("owner could not renew its lease")
		}
		if !claim("b", t0.Add(2*time.Minute)) {
			t.Error("expired lease not taken over")
		}
		if err := tx.ReleaseLane(ctx, c.ID, lane, "a"); err != nil {
			return err
		}
		if claim("c", t0.Add(2*time.Minute)) {
			t.Error("release by a former owner freed the lane")
		}
		if err := tx.ReleaseLane(ctx, c.ID, lane, "b"); err != nil {
			return err
		}
		if !claim("c", t0.Add(2*time.Minute)) {
			t.Error("released lane not claimed")
		}
		// ReleaseLaneIfEmpty: the chat lane is empty, the platform lane
		// still holds an item.
		if ok, err := tx.ReleaseLaneIfEmpty(ctx, c.ID, lane, "b"); err != nil || ok {
			t.Errorf("ReleaseLaneIfEmpty by a former owner = %v, %v", ok, err)
		}
		if ok, err := tx.ReleaseLaneIfEmpty(ctx, c.ID, lane, "c"); err != nil || !ok {
			t.Errorf("ReleaseLaneIfEmpty of an empty lane by its owner = %v, %v", ok, err)
		}
		if !claim("d", t0.Add(2*time.Minute)) {
			t.Error("lane released when empty not claimed")
		}
		platform := bridge.ClaimLaneParams{ConversationID: c.ID, Target: bridge.TargetPlatform, Owner: "e", Now: t0, Until: t0.Add(time.Minute)}
		if ok, err := tx.ClaimLane(ctx, platform); err != nil || !ok {
			t.Fatalf("claim platform lane = %v, %v", ok, err)
		}
		if ok, err := tx.ReleaseLaneIfEmpty(ctx, c.ID, bridge.TargetPlatform, "e"); err != nil || ok {
			t.Errorf("ReleaseLaneIfEmpty of a lane with an item = %v, %v", ok, err)
		}
		platform.Owner = "f"
		if ok, err := tx.ClaimLane(ctx, platform); err != nil || ok {
			t.Errorf("lane with an item was released: claimed by another = %v, %v", ok, err)
		}

		card := bridge.CardTarget(bridge.SurfaceSlack)
		if v, err := tx.LaneCardVersion(ctx, c.ID, card); err != nil || v != 0 {
			t.Errorf("fresh card version = %d, %v", v, err)
		}
		for _, v := range []int64{5, 3} {
			if err := tx.SetLaneCardVersion(ctx, c.ID, card, v); err != nil {
				return err
			}
		}
		if v, err := tx.LaneCardVersion(ctx, c.ID, card); err != nil || v != 5 {
			t.Errorf("card version = %d, %v; want 5 (never goes back)", v, err)
		}
		return nil
	})
}

func testAgents(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		a, err := tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "Ann", Email: "ann@example.com", Role: bridge.RoleSupervisor, Skills: []string{"billing", "de"}, Capacity: 5, Available: true})
		if err != nil {
			return err
		}
		if err := tx.LinkAgentChatIdentity(ctx, bridge.AgentChatIdentity{AgentID: a.ID, Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "U1"}); err != nil {
			return err
		}
		got, err := tx.FindAgentByChatIdentity(ctx, bridge.SurfaceSlack, "T1", "U1")
		if err != nil || got.ID != a.ID || got.Role != bridge.RoleSupervisor || len(got.Skills) != 2 || got.Capacity != 5 || !got.Available {
			t.Errorf("FindAgentByChatIdentity = %+v, %v", got, err)
		}
		if _, err := tx.FindAgentByChatIdentity(ctx, bridge.SurfaceSlack, "T2", "U1"); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("other workspace: err = %v", err)
		}
		// Agents without email are many; emails are unique.
		for range 2 {
			if _, err := tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "anon", Role: bridge.RoleAgent}); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.InTx(ctxT(t), func(ctx context.Context, tx bridge.Tx) error {
		_, err := tx.CreateAgent(ctx, bridge.CreateAgentParams{Name: "Ann 2", Email: "ANN@example.com", Role: bridge.RoleAgent})
		return err
	})
	if !errors.Is(err, bridge.ErrConflict) {
		t.Errorf("duplicate email (other case): err = %v, want ErrConflict", err)
	}
}

func testChatThreads(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		if _, err := tx.GetChatThread(ctx, c.ID, bridge.SurfaceSlack); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("no thread yet: err = %v", err)
		}
		ct, err := tx.UpsertChatThread(ctx, bridge.ChatThread{ConversationID: c.ID, Surface: bridge.SurfaceSlack, Workspace: "T1", Channel: "C1", ThreadRef: "1.0001", CreatedAt: t0})
		if err != nil {
			return err
		}
		got, err := tx.FindChatThread(ctx, bridge.SurfaceSlack, "C1", "1.0001")
		if err != nil || got.ID != ct.ID || got.ConversationID != c.ID {
			t.Errorf("FindChatThread = %+v, %v", got, err)
		}
		m, _, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: c.ID, PlatformThreadID: f.thread.ID, Seq: 1, Direction: bridge.Outbound,
			Text: "hi", PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryPending})
		if err != nil {
			return err
		}
		ref := bridge.ChatMessageRef{MessageID: m.ID, Surface: bridge.SurfaceSlack, Channel: "C1", Ref: "1.0002"}
		for range 2 { // idempotent
			if err := tx.AddChatMessageRef(ctx, ref); err != nil {
				return err
			}
		}
		refs, err := tx.ListChatMessageRefs(ctx, m.ID)
		if err != nil || len(refs) != 1 || refs[0] != ref {
			t.Errorf("ListChatMessageRefs = %+v, %v", refs, err)
		}
		byRef, err := tx.FindMessageByChatRef(ctx, bridge.SurfaceSlack, "C1", "1.0002")
		if err != nil || byRef.ID != m.ID {
			t.Errorf("FindMessageByChatRef = %+v, %v", byRef, err)
		}
		return nil
	})
}

func testAuditCursors(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		for _, action := range []string{"claimed", "resolved"} {
			if err := tx.AppendAudit(ctx, bridge.AuditEntry{Action: action, ConversationID: c.ID, Before: "b", After: "a", At: t0}); err != nil {
				return err
			}
		}
		entries, err := tx.ListAudit(ctx, c.ID)
		if err != nil || len(entries) != 2 || entries[0].Action != "claimed" || entries[1].Action != "resolved" || !entries[1].At.Equal(t0) {
			t.Errorf("ListAudit = %+v, %v", entries, err)
		}
		lease := func(owner string, now time.Time) bool {
			ok, err := tx.ClaimLease(ctx, "telegram-poller", owner, now, now.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !lease("a", t0) || lease("b", t0.Add(time.Second)) || !lease("a", t0.Add(time.Second)) || !lease("b", t0.Add(5*time.Minute)) {
			t.Error("lease: want a claims, b refused, a renews, b takes over after expiry")
		}
		if err := tx.ReleaseLease(ctx, "telegram-poller", "b"); err != nil {
			return err
		}
		if !lease("c", t0.Add(5*time.Minute)) {
			t.Error("released lease not claimed")
		}
		if _, err := tx.GetCursor(ctx, "telegram:offset"); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("missing cursor: %v", err)
		}
		for _, v := range []string{"10", "11"} {
			if err := tx.SetCursor(ctx, "telegram:offset", v); err != nil {
				return err
			}
		}
		if v, err := tx.GetCursor(ctx, "telegram:offset"); err != nil || v != "11" {
			t.Errorf("cursor = %q, %v", v, err)
		}
		return nil
	})
}

func testRollback(t *testing.T, s Backend) {
	boom := errors.New("boom")
	err := s.InTx(ctxT(t), func(ctx context.Context, tx bridge.Tx) error {
		if _, err := tx.MarkProcessed(ctx, "slack", "Ev9", t0); err != nil {
			return err
		}
		if _, err := newFixture(ctx, tx, "chat9"); err != nil {
			return err
		}
		return fmt.Errorf("handler failed: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx err = %v, want wrapped boom", err)
	}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		if isNew, err := tx.MarkProcessed(ctx, "slack", "Ev9", t0); err != nil || !isNew {
			t.Errorf("rolled back delivery id seen: isNew=%v err=%v", isNew, err)
		}
		page, err := tx.ListConversations(ctx, bridge.ConversationFilter{})
		if err != nil || len(page.Conversations) != 0 {
			t.Errorf("rolled back rows visible: %d, %v", len(page.Conversations), err)
		}
		return nil
	})
}

// testConcurrent races writers on the same keys: the database, not luck,
// must keep exactly one winner.
func testConcurrent(t *testing.T, s Backend) {
	const n = 8
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		_, err := newFixture(ctx, tx, "seed")
		return err
	})
	var newMarks, created atomic.Int32
	var mu sync.Mutex
	identities := map[bridge.IdentityID]bool{}
	convs := map[bridge.ConversationID]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.InTx(ctxT(t), func(ctx context.Context, tx bridge.Tx) error {
				isNew, err := tx.MarkProcessed(ctx, "telegram", "update-1", t0)
				if err != nil {
					return err
				}
				f, err := newFixture(ctx, tx, "race")
				if err != nil {
					return err
				}
				// The thread row lock serializes the find-or-create below.
				c, err := tx.LatestConversation(ctx, f.thread.ID)
				if errors.Is(err, bridge.ErrNotFound) {
					c, err = f.newConv(ctx, tx, bridge.P3)
				}
				if err != nil {
					return err
				}
				seq, err := tx.NextSeq(ctx, c.ID)
				if err != nil {
					return err
				}
				_, ok, err := tx.InsertMessage(ctx, bridge.InsertMessageParams{ConversationID: c.ID, PlatformThreadID: f.thread.ID, Seq: seq,
					Direction: bridge.Inbound, PlatformMessageID: "m1", SenderIdentityID: f.identity.ID, Text: fmt.Sprint(i),
					PlatformTime: t0, CreatedAt: t0, DeliveryStatus: bridge.DeliveryDelivered})
				if err != nil {
					return err
				}
				if isNew {
					newMarks.Add(1)
				}
				if ok {
					created.Add(1)
				}
				mu.Lock()
				identities[f.identity.ID] = true
				convs[c.ID] = true
				mu.Unlock()
				return nil
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("racing writer: %v", err)
	}
	if newMarks.Load() != 1 || created.Load() != 1 || len(identities) != 1 || len(convs) != 1 {
		t.Errorf("racing writers: %d new marks, %d messages created, %d identities, %d conversations; want 1 each",
			newMarks.Load(), created.Load(), len(identities), len(convs))
	}
}

type recordingRunner struct {
	mu   sync.Mutex
	jobs []bridge.Job
	got  chan bridge.Job
}

func (r *recordingRunner) RunJob(_ context.Context, j bridge.Job) error {
	r.mu.Lock()
	r.jobs = append(r.jobs, j)
	r.mu.Unlock()
	r.got <- j
	return nil
}

func testJobs(t *testing.T, s Backend) {
	ctx := ctxT(t)
	r := &recordingRunner{got: make(chan bridge.Job, 10)}
	open.StartWorkers(ctx, t, s, r)
	var conv bridge.ConversationID
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		conv = c.ID
		return err
	})
	rolledBack := bridge.Job{ConversationID: conv, Target: "rolled-back"}
	_ = s.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
		if err := tx.Enqueue(ctx, rolledBack); err != nil {
			return err
		}
		return errors.New("abort")
	})
	committed := bridge.Job{ConversationID: conv, Target: bridge.TargetPlatform}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error { return tx.Enqueue(ctx, committed) })
	select {
	case j := <-r.got:
		if j != committed {
			t.Errorf("ran %+v, want %+v", j, committed)
		}
	case <-ctx.Done():
		t.Fatal("committed job never ran")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, j := range r.jobs {
		if j == rolledBack {
			t.Error("a job enqueued in a rolled back transaction ran")
		}
	}
}
