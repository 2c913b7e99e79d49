package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

type counter interface {
	bridge.Store
	JobCounts(ctx context.Context) ([]queue.JobCount, error)
}

func TestJobCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) counter
	}{
		{"sqlite", func(t *testing.T) counter { return open.SQLite(t, sqlite.Options{}) }},
		{"postgres", func(t *testing.T) counter { return open.Postgres(t, 4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := tc.open(t)
			counts, err := s.JobCounts(ctx)
			if err != nil || len(counts) != 0 {
				t.Fatalf("empty queue: %v %v", counts, err)
			}
			// Workers are not started: the jobs stay available.
			start := time.Now().Add(-time.Minute)
			if err := s.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error {
				for i := range 3 {
					if err := tx.Enqueue(ctx, bridge.Job{ConversationID: bridge.ConversationID(i + 1), Target: bridge.TargetPlatform}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			counts, err = s.JobCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(counts) != 1 || counts[0].Kind != "threadline_drain" || counts[0].State != "available" || counts[0].Count != 3 {
				t.Fatalf("counts = %+v, want 3 available threadline_drain jobs", counts)
			}
			if age := time.Since(counts[0].Oldest); counts[0].Oldest.Before(start) || age < 0 {
				t.Errorf("oldest = %s, want a moment ago", counts[0].Oldest)
			}
		})
	}
}
