package queue

import (
	"context"

	"github.com/riverqueue/river/riverdriver"

	"github.com/threadline/threadline/store/sqlstore"
)

// Backend is what the PostgreSQL and SQLite stores share beyond SQL: their
// migrations together with River's, and the job workers.
type Backend[TTx any] struct {
	Queue  *Queue[TTx]
	Driver riverdriver.Driver[TTx]
	// Run opens a transaction of the store for migrations.
	Run sqlstore.TxRunner
	// Dialect names the migration folder ("postgres", "sqlite").
	Dialect string
	// MigrationLock serializes concurrent migrators, where the database can.
	MigrationLock string
}

// Migrate applies Threadline's and River's migrations.
func (b *Backend[TTx]) Migrate(ctx context.Context) ([]string, error) {
	applied, err := sqlstore.Migrate(ctx, b.Run, b.Dialect, b.MigrationLock)
	if err != nil {
		return applied, err
	}
	return applied, Migrate(ctx, b.Driver)
}

// Pending lists migrations not yet applied.
func (b *Backend[TTx]) Pending(ctx context.Context) ([]string, error) {
	pending, err := sqlstore.PendingMigrations(ctx, b.Run, b.Dialect)
	if err != nil {
		return nil, err
	}
	river, err := Pending(ctx, b.Driver)
	return append(pending, river...), err
}

// StartWorkers begins working jobs with runner.
func (b *Backend[TTx]) StartWorkers(ctx context.Context, runner Runner) error {
	return b.Queue.Start(ctx, runner)
}

// StopWorkers lets running jobs finish until ctx ends.
func (b *Backend[TTx]) StopWorkers(ctx context.Context) error { return b.Queue.Stop(ctx) }
