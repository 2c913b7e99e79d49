package postgres_test

import (
	"testing"

	"github.com/threadline/threadline/store/storetest"
	"github.com/threadline/threadline/store/storetest/open"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend { return open.Postgres(t, 8) })
}

func TestMigrationMovesMacroCursors(t *testing.T) {
	s := open.Postgres(t, 4)
	storetest.MacroMigration(t, s, s.Run, s.Migrate)
}

func BenchmarkIngest(b *testing.B) {
	s := open.Postgres(b, 16)
	b.SetParallelism(8)
	storetest.BenchIngest(b, s)
}
