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
	"github.com/threadline/threadline/store/sqlstore"
)

func testMacros(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		if _, err := tx.GetMacro(ctx, "thanks"); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("missing macro: %v", err)
		}
		if err := tx.DeleteMacro(ctx, "thanks"); !errors.Is(err, bridge.ErrNotFound) {
			t.Errorf("deleting a missing macro: %v", err)
		}
		for _, m := range []bridge.Macro{
			{Name: "thanks", Text: "Thank you!", UpdatedBy: "Sue", UpdatedAt: t0},
			{Name: "refund", Text: "Refund, {customer.name}", Language: "en", Intents: []bridge.Intent{bridge.IntentRefund, bridge.IntentComplaint}, UpdatedBy: "Sue", UpdatedAt: t0},
			{Name: "thanks", Text: "Thanks a lot!", Language: "en", UpdatedBy: "Max", UpdatedAt: t0.Add(time.Minute)},
		} {
			if err := tx.PutMacro(ctx, m); err != nil {
				return err
			}
		}
		got, err := tx.GetMacro(ctx, "refund")
		if err != nil || got.Text != "Refund, {customer.name}" || got.Language != "en" || !slices.Equal(got.Intents, []bridge.Intent{bridge.IntentRefund, bridge.IntentComplaint}) ||
			got.UpdatedBy != "Sue" || !got.UpdatedAt.Equal(t0) {
			t.Errorf("GetMacro = %+v, %v", got, err)
		}
		all, err := tx.ListMacros(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "refund" || all[1].Text != "Thanks a lot!" || all[1].UpdatedBy != "Max" || all[1].Intents != nil {
			t.Errorf("ListMacros = %+v, %v", all, err)
		}
		if err := tx.DeleteMacro(ctx, "refund"); err != nil {
			return err
		}
		if all, _ := tx.ListMacros(ctx); len(all) != 1 || all[0].Name != "thanks" {
			t.Errorf("after delete: %+v", all)
		}
		return nil
	})
}

func testDrafts(t *testing.T, s Backend) {
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		f, err := newFixture(ctx, tx, "chat1")
		if err != nil {
			return err
		}
		c, err := f.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		f2, err := newFixture(ctx, tx, "chat2")
		if err != nil {
			return err
		}
		other, err := f2.newConv(ctx, tx, bridge.P3)
		if err != nil {
			return err
		}
		ann := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "UANN"}
		bob := bridge.Actor{Surface: bridge.SurfaceSlack, Workspace: "T1", UserID: "UBOB"}
		put := func(conv bridge.ConversationID, a bridge.Actor, view string, seq int64, until time.Time) {
			t.Helper()
			if err := tx.PutDraft(ctx, conv, bridge.Draft{Surface: a.Surface, Workspace: a.Workspace, UserID: a.UserID, ViewRef: view, SeenSeq: seq, Until: until}); err != nil {
				t.Fatal(err)
			}
		}
		put(c.ID, ann, "V1", 1, t0.Add(time.Minute))
		put(c.ID, ann, "V2", 3, t0.Add(3*time.Minute)) // replaces V1
		put(c.ID, bob, "V3", 2, t0.Add(2*time.Minute))
		put(other.ID, bob, "V4", 1, t0.Add(time.Minute))
		ds, err := tx.ListDrafts(ctx, c.ID, t0)
		if err != nil || len(ds) != 2 || ds[0].UserID != "UBOB" || ds[0].ViewRef != "V3" || ds[1].ViewRef != "V2" || ds[1].SeenSeq != 3 ||
			!ds[1].Until.Equal(t0.Add(3*time.Minute)) || ds[1].Surface != bridge.SurfaceSlack || ds[1].Workspace != "T1" {
			t.Errorf("ListDrafts = %+v, %v", ds, err)
		}
		if ds, _ := tx.ListDrafts(ctx, c.ID, t0.Add(150*time.Second)); len(ds) != 1 || ds[0].UserID != "UANN" {
			t.Errorf("expired draft listed: %+v", ds)
		}
		if err := tx.DeleteExpiredDrafts(ctx, c.ID, t0.Add(150*time.Second)); err != nil {
			return err
		}
		if ds, _ := tx.ListDrafts(ctx, c.ID, t0); len(ds) != 1 || ds[0].UserID != "UANN" {
			t.Errorf("after deleting the expired: %+v", ds)
		}
		if err := tx.DeleteDraft(ctx, c.ID, ann); err != nil {
			return err
		}
		if ds, _ := tx.ListDrafts(ctx, c.ID, t0); len(ds) != 0 {
			t.Errorf("after delete: %+v", ds)
		}
		if ds, _ := tx.ListDrafts(ctx, other.ID, t0); len(ds) != 1 || ds[0].ViewRef != "V4" {
			t.Errorf("the other conversation's draft: %+v", ds)
		}
		return nil
	})
}

// MacroMigration checks that migration 0004 moves macros kept as cursors
// into their table and drops draft leases: it rewinds a migrated store to
// before 0004 (run executes raw SQL), writes what the old code wrote, and
// migrates again.
func MacroMigration(t *testing.T, s bridge.Store, run sqlstore.TxRunner, migrate func(context.Context) ([]string, error)) {
	ctx := ctxT(t)
	err := run(ctx, func(ctx context.Context, ex sqlstore.Executor) error {
		for _, q := range []string{
			`DELETE FROM threadline_schema WHERE version = 4`,
			`DROP TABLE macros`,
			`DROP TABLE reply_drafts`,
			`INSERT INTO cursors (name, value) VALUES ('macro:tracking', '{"name":"tracking","text":"Hi {customer.name}, it ships today.","lang":"en","intents":["order_tracking","refund"],"updated_by":"Sue","updated_at":"2026-11-24T09:00:00.123456789Z"}')`,
			`INSERT INTO cursors (name, value) VALUES ('macro:thanks', '{"name":"thanks","text":"Thank you!","updated_at":"2026-11-24T10:00:00Z"}')`,
			`INSERT INTO cursors (name, value) VALUES ('macro:gone', '')`,
			`INSERT INTO cursors (name, value) VALUES ('telegram:offset', '42')`,
			`INSERT INTO leases (name, owner, lease_until) VALUES ('draft:1:slack:T1:UANN', 'V1|3', '2026-11-24T09:15:00.000000Z')`,
			`INSERT INTO leases (name, owner, lease_until) VALUES ('telegram-poller', 'a', '2026-11-24T09:15:00.000000Z')`,
		} {
			if _, err := ex.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := migrate(ctx); err != nil || len(applied) != 1 || !strings.HasPrefix(applied[0], "0004_") {
		t.Fatalf("migrate again: %v, %v", applied, err)
	}
	inTx(t, s, func(ctx context.Context, tx bridge.Tx) error {
		ms, err := tx.ListMacros(ctx)
		if err != nil {
			return err
		}
		if len(ms) != 2 {
			t.Fatalf("macros after the migration: %+v", ms)
		}
		tr, th := ms[1], ms[0]
		if tr.Name != "tracking" || tr.Text != "Hi {customer.name}, it ships today." || tr.Language != "en" || tr.UpdatedBy != "Sue" ||
			!slices.Equal(tr.Intents, []bridge.Intent{bridge.IntentOrderTracking, bridge.IntentRefund}) ||
			!tr.UpdatedAt.Truncate(time.Millisecond).Equal(time.Date(2026, 11, 24, 9, 0, 0, 123e6, time.UTC)) {
			t.Errorf("tracking: %+v", tr)
		}
		if th.Name != "thanks" || th.Text != "Thank you!" || th.Language != "" || th.Intents != nil || !th.UpdatedAt.Equal(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("thanks: %+v", th)
		}
		for _, name := range []string{"macro:tracking", "macro:gone"} {
			if _, err := tx.GetCursor(ctx, name); !errors.Is(err, bridge.ErrNotFound) {
				t.Errorf("cursor %s left: %v", name, err)
			}
		}
		if v, err := tx.GetCursor(ctx, "telegram:offset"); err != nil || v != "42" {
			t.Errorf("other cursor: %q, %v", v, err)
		}
		// The poller's lease is kept (held by a, not claimable by b); the draft's is gone (claimable).
		now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		if ok, err := tx.ClaimLease(ctx, "telegram-poller", "b", now, now.Add(time.Minute)); err != nil || ok {
			t.Errorf("poller lease lost: %v %v", ok, err)
		}
		if ok, err := tx.ClaimLease(ctx, "draft:1:slack:T1:UANN", "b", now, now.Add(time.Minute)); err != nil || !ok {
			t.Errorf("draft lease kept: %v %v", ok, err)
		}
		return nil
	})
}
