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
	return SQLiteAt(t, opts)
}

// SQLiteAt opens the embedded store at opts.Path, for a test that opens the
// same database again as a restarted process does.
func SQLiteAt(t testing.TB, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), opts)
	return migrated(t, s, err)
}

// Postgres opens a store on a fresh database of the test PostgreSQL.
func Postgres(t testing.TB, maxConns int32) *postgres.Store {
	t.Helper()
	return PostgresAt(t, testenv.PostgresURL(t), maxConns)
}

// PostgresAt opens a store on the database at url, for a test that opens the
// same database again as a restarted process does.
func PostgresAt(t testing.TB, url string, maxConns int32) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: url, MaxConns: maxConns})
	return migrated(t, s, err)
}

// migrated fails the test on a failed open, migrates s and closes it when
// the test ends.
func migrated[S interface {
	Migrate(ctx context.Context) ([]string, error)
	Close() error
}](t testing.TB, s S, err error) S {
	t.Helper()
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
