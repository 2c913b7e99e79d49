package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest/open"
)

type orderRunner struct{ ran chan bridge.Job }

func (r orderRunner) RunJob(_ context.Context, j bridge.Job) error {
	r.ran <- j
	return nil
}

// TestUrgentJobsRunFirst: with one worker and a backlog, a P1 conversation's
// job overtakes older P3 ones.
func TestUrgentJobsRunFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := open.SQLite(t, sqlite.Options{Workers: 1})
	jobs := []bridge.Job{
		{ConversationID: 1, Target: bridge.TargetPlatform, Priority: bridge.P3},
		{ConversationID: 2, Target: bridge.TargetPlatform, Priority: bridge.P3},
		{ConversationID: 3, Target: bridge.TargetPlatform, Priority: bridge.P1},
	}
	for _, j := range jobs {
		if err := s.InTx(ctx, func(ctx context.Context, tx bridge.Tx) error { return tx.Enqueue(ctx, j) }); err != nil {
			t.Fatal(err)
		}
	}
	r := orderRunner{ran: make(chan bridge.Job, 3)}
	if err := s.StartWorkers(ctx, r); err != nil {
		t.Fatal(err)
	}
	defer s.StopWorkers(context.Background())
	select {
	case first := <-r.ran:
		if first.ConversationID != 3 || first.Priority != bridge.P1 {
			t.Errorf("first job %+v, want the P1 one", first)
		}
	case <-ctx.Done():
		t.Fatal("no job ran")
	}
}
