// Package open gives tests a migrated store of either backend, closed when
// the test ends.
package open

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/postgres"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlite"
)

// SQLite opens an embedded store in the test's temporary folder.
func SQLite(t testing.TB, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	opts.Path = filepath.Join(t.TempDir(), "threadline.db")
	s, err := sqlite.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Postgres opens a store on a fresh database of the test PostgreSQL.
func Postgres(t testing.TB, maxConns int32) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: testenv.PostgresURL(t), MaxConns: maxConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Workers is a store that works jobs.
type Workers interface {
	StartWorkers(ctx context.Context, r queue.Runner) error
	StopWorkers(ctx context.Context) error
}

// StartWorkers starts s's job workers on r and stops them, letting running
// jobs finish for up to 10 s, when the test ends.
func StartWorkers(ctx context.Context, t testing.TB, s Workers, r queue.Runner) {
	t.Helper()
	if err := s.StartWorkers(ctx, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.StopWorkers(sctx)
	})
}
