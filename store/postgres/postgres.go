// Package postgres is the production store: PostgreSQL through pgx/v5
// (pgxpool), with River's pgx driver for jobs.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlstore"
)

// Options configures the PostgreSQL store.
type Options struct {
	URL    string
	Logger *slog.Logger
	// MaxConns sizes the pool webhooks and job workers share (default
	// DefaultMaxConns, or the URL's pool_max_conns when larger).
	MaxConns int32
	Workers  int
	// PollInterval is how often idle workers look for jobs besides being
	// notified (default 200ms); FetchCooldown see queue.Options.
	PollInterval  time.Duration
	FetchCooldown time.Duration
	// Tracer sees every statement (the ingest benchmark counts round trips).
	Tracer pgx.QueryTracer
}

// DefaultMaxConns is enough for the default 50 workers and webhooks: most
// of a worker's time is the outside call, not the database, and on a small
// machine more connections only contend for the same cores.
const DefaultMaxConns = 16

// Store is the PostgreSQL bridge.Store.
type Store struct {
	*queue.Backend[pgx.Tx]
	pool *pgxpool.Pool
	log  *slog.Logger
}

const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

var dialect = sqlstore.Dialect{
	ForUpdate:              " FOR UPDATE",
	NextConversationNumber: func(int) string { return "nextval('conversation_number_seq')" },
	IsNoRows:               func(err error) bool { return errors.Is(err, pgx.ErrNoRows) },
	IsUniqueViolation:      func(err error) bool { return pgCode(err) == codeUniqueViolation },
}

// Open connects a pool. Call Migrate (or check Pending) before use.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// The URL may carry a password: never echo it.
		return nil, errors.New("postgres: cannot parse the database URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	} else if cfg.MaxConns < DefaultMaxConns {
		cfg.MaxConns = DefaultMaxConns
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	driver := riverpgxv5.New(pool)
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	q, err := queue.New(driver, queue.Options{Logger: opts.Logger, Workers: opts.Workers, PollInterval: opts.PollInterval, FetchCooldown: opts.FetchCooldown})
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, log: opts.Logger}
	s.Backend = &queue.Backend[pgx.Tx]{Queue: q, Driver: driver, Run: s.runner(), Dialect: "postgres", MigrationLock: migrationLock}
	return s, nil
}

type executor struct{ tx pgx.Tx }

func (e executor) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := e.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (e executor) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return e.tx.QueryRow(ctx, q, args...)
}

func (e executor) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := e.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// rawTx runs fn in a transaction, trying again on deadlocks and
// serialization failures, which PostgreSQL resolves by aborting one side.
func (s *Store) rawTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	const attempts = 5
	for i := 1; ; i++ {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
		code := pgCode(err)
		if (code != codeDeadlockDetected && code != codeSerializationFailure) || i == attempts {
			return err
		}
		s.log.Debug("retrying transaction", "attempt", i, "code", code)
	}
}

// InTx implements bridge.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx bridge.Tx) error) error {
	return s.rawTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return sqlstore.InTx(ctx, executor{tx}, dialect, func(ctx context.Context, jobs []bridge.Job) error {
			return s.Queue.EnqueueMany(ctx, tx, jobs)
		}, fn)
	})
}

// Ping implements bridge.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func (s *Store) runner() sqlstore.TxRunner {
	return func(ctx context.Context, fn func(ctx context.Context, ex sqlstore.Executor) error) error {
		return s.rawTx(ctx, func(ctx context.Context, tx pgx.Tx) error { return fn(ctx, executor{tx}) })
	}
}

// migrationLock serializes replicas that migrate at the same time.
const migrationLock = `SELECT pg_advisory_xact_lock(7370726)`

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
