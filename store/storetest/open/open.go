// Package open gives tests a migrated store of either backend, closed when
// the test ends.
package open

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/postgres"
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
