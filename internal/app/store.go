// Package app assembles Threadline from its parts: store, bridge, platform
// adapters, chat surfaces and the HTTP server. The serve, demo and bench
// commands share it, so they run the same code paths.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/config"
	"github.com/threadline/threadline/store/postgres"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlite"
)

// Store is what the application needs from a backend beyond bridge.Store.
type Store interface {
	bridge.Store
	Migrate(ctx context.Context) ([]string, error)
	Pending(ctx context.Context) ([]string, error)
	StartWorkers(ctx context.Context, r queue.Runner) error
	StopWorkers(ctx context.Context) error
	JobCounts(ctx context.Context) ([]queue.JobCount, error)
	Close() error
}

// StoreOptions chooses and configures the backend.
type StoreOptions struct {
	// DatabaseURL selects PostgreSQL; empty means the embedded store in DataDir.
	DatabaseURL string
	DataDir     string
	Logger      *slog.Logger
	// Jobs tunes the workers and the pool; zero values are the store's
	// defaults.
	Jobs config.Jobs
	// Tracer sees every PostgreSQL statement.
	Tracer pgx.QueryTracer
}

// ErrSchemaBehind says the database needs `threadline migrate`.
var ErrSchemaBehind = errors.New("database schema is behind this binary")

// OpenStore opens the configured backend.
func OpenStore(ctx context.Context, o StoreOptions) (Store, string, error) {
	if o.DatabaseURL != "" {
		s, err := postgres.Open(ctx, postgres.Options{URL: o.DatabaseURL, Logger: o.Logger, MaxConns: int32(o.Jobs.MaxConns),
			Workers: o.Jobs.Workers, PollInterval: o.Jobs.PollInterval, FetchCooldown: o.Jobs.FetchCooldown, Tracer: o.Tracer})
		return s, "postgres", err
	}
	path := filepath.Join(o.DataDir, "threadline.db")
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path, Logger: o.Logger, Workers: o.Jobs.Workers,
		PollInterval: o.Jobs.PollInterval, FetchCooldown: o.Jobs.FetchCooldown})
	return s, "embedded (" + path + ")", err
}

// CheckSchema fails with ErrSchemaBehind when migrations are pending.
func CheckSchema(ctx context.Context, s Store) error {
	pending, err := s.Pending(ctx)
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("%w: %d migration(s) pending (%s); run `threadline migrate`", ErrSchemaBehind, len(pending), strings.Join(pending, "; "))
	}
	return nil
}
