// Package sqlite is the embedded store: one file, no server, for a single
// machine. It uses modernc.org/sqlite (pure Go, no cgo) and River's SQLite
// driver for jobs.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/store/queue"
	"github.com/threadline/threadline/store/sqlstore"
)

// Options configures the embedded store.
type Options struct {
	// Path is the database file; its folder is created when missing.
	Path   string
	Logger *slog.Logger
	// PollInterval is how often idle workers look for new jobs: SQLite cannot
	// notify them.
	PollInterval time.Duration
	// Workers is how many jobs run at once (default 8).
	Workers int
	// FetchCooldown see queue.Options.
	FetchCooldown time.Duration
}

// Store is the embedded bridge.Store.
type Store struct {
	*queue.Backend[*sql.Tx]
	db  *sql.DB
	log *slog.Logger
}

var dialect = sqlstore.Dialect{
	ForUpdate: "", // every transaction is BEGIN IMMEDIATE: it already holds the write lock
	// SQLite reads every row of a VALUES list before it inserts one, so
	// each row adds its place to the same maximum.
	NextConversationNumber: func(row int) string {
		return "(SELECT COALESCE(MAX(number), 1000) FROM conversations) + " + strconv.Itoa(row+1)
	},
	IsNoRows: func(err error) bool { return errors.Is(err, sql.ErrNoRows) },
	IsUniqueViolation: func(err error) bool {
		var se *msqlite.Error
		if !errors.As(err, &se) {
			return false
		}
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
}

// Open opens (creating if needed) the database file. Call Migrate before use.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	// SQLite has one writer. Immediate transactions take the write lock at
	// BEGIN, so two writers queue on the busy timeout instead of failing
	// when one upgrades a read lock; WAL lets readers run beside the writer.
	dsn := "file:" + opts.Path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", opts.Path, err)
	}
	driver := riversqlite.New(db)
	if opts.Workers == 0 {
		opts.Workers = 8
	}
	q, err := queue.New(driver, queue.Options{Logger: opts.Logger, PollInterval: opts.PollInterval, PollOnly: true, Workers: opts.Workers, FetchCooldown: opts.FetchCooldown})
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, log: opts.Logger}
	s.Backend = &queue.Backend[*sql.Tx]{Queue: q, Driver: driver, Run: s.runner(), Dialect: "sqlite"}
	return s, nil
}

type executor struct{ tx *sql.Tx }

func (e executor) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := e.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e executor) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return e.tx.QueryRowContext(ctx, q, args...)
}

func (e executor) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := e.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func (s *Store) rawTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InTx implements bridge.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx bridge.Tx) error) error {
	return s.rawTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return sqlstore.InTx(ctx, executor{tx}, dialect, func(ctx context.Context, jobs []bridge.Job) error {
			return s.Queue.EnqueueMany(ctx, tx, jobs)
		}, fn)
	})
}

// Ping implements bridge.Store.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) runner() sqlstore.TxRunner {
	return func(ctx context.Context, fn func(ctx context.Context, ex sqlstore.Executor) error) error {
		return s.rawTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, executor{tx}) })
	}
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }
