package sqlite_test

import (
	"testing"

	"github.com/threadline/threadline/store/sqlite"
	"github.com/threadline/threadline/store/storetest"
	"github.com/threadline/threadline/store/storetest/open"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend { return open.SQLite(t, sqlite.Options{}) })
}

func TestMigrationMovesMacroCursors(t *testing.T) {
	s := open.SQLite(t, sqlite.Options{})
	storetest.MacroMigration(t, s, s.Run, s.Migrate)
}

func BenchmarkIngest(b *testing.B) {
	storetest.BenchIngest(b, open.SQLite(b, sqlite.Options{}))
}
