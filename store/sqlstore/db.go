// Package sqlstore implements bridge.Tx once, in SQL that PostgreSQL and
// SQLite both accept, over a small executor interface. The backends in
// store/postgres and store/sqlite adapt their drivers to it and own
// connections, migrations and the job queue.
package sqlstore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/threadline/threadline/bridge"
)

// Executor runs statements inside one transaction. Placeholders are $1, $2...
// in both dialects.
type Executor interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

type Row interface{ Scan(dest ...any) error }

type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect holds what differs between the backends.
type Dialect struct {
	// ForUpdate is appended to SELECTs whose rows the transaction will change.
	ForUpdate string
	// NextConversationNumber is the SQL expression for the number of the
	// row-th (from 0) new conversation one statement inserts.
	NextConversationNumber func(row int) string
	// IsNoRows and IsUniqueViolation classify driver errors.
	IsNoRows          func(error) bool
	IsUniqueViolation func(error) bool
}

// timeLayout has a fixed width so that SQLite, which stores it as text,
// compares and sorts it chronologically. PostgreSQL parses it as timestamptz.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts passes a time to either backend.
type ts time.Time

func (t ts) Value() (driver.Value, error) { return time.Time(t).UTC().Format(timeLayout), nil }

// TimestamptzValue lets pgx send a time to PostgreSQL in binary as it is;
// with Value alone it first fails to encode the text as binary, building
// an error every time, before it falls back to text.
func (t ts) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.Time(t).UTC(), Valid: true}, nil
}

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// scanTime reads a time column from either backend.
type scanTime struct {
	dst   *time.Time
	valid bool
}

func (s *scanTime) Scan(src any) error {
	s.valid = src != nil
	switch v := src.(type) {
	case nil:
		*s.dst = time.Time{}
		return nil
	case time.Time:
		*s.dst = v.UTC()
		return nil
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	}
	return fmt.Errorf("scan time: unsupported type %T", src)
}

func (s *scanTime) parse(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", v, err)
	}
	*s.dst = t.UTC()
	return nil
}

// nullTime scans a nullable time column into a *time.Time.
type nullTime struct{ dst **time.Time }

func (n nullTime) Scan(src any) error {
	if src == nil {
		*n.dst = nil
		return nil
	}
	var t time.Time
	if err := (&scanTime{dst: &t}).Scan(src); err != nil {
		return err
	}
	*n.dst = &t
	return nil
}

func st(t *time.Time) *scanTime { return &scanTime{dst: t} }

// nullable turns zero ids into SQL NULL for optional foreign keys.
func nullable[T ~int64](id T) any {
	if id == 0 {
		return nil
	}
	return int64(id)
}

// nullID scans a nullable id column into a typed id (zero for NULL).
type nullID[T ~int64] struct{ dst *T }

func (n nullID[T]) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.dst = 0
	case int64:
		*n.dst = T(v)
	case int32:
		*n.dst = T(v)
	default:
		return fmt.Errorf("scan id: unsupported type %T", src)
	}
	return nil
}

func idOf[T ~int64](dst *T) nullID[T] { return nullID[T]{dst} }

// Tx implements bridge.Tx over one open transaction.
type Tx struct {
	ex Executor
	d  Dialect
	// jobs waits for the end of the transaction (see InTx).
	jobs []bridge.Job
}

// InsertJobs inserts a transaction's jobs in that same transaction.
type InsertJobs func(ctx context.Context, jobs []bridge.Job) error

// InTx runs fn over a Tx on ex, an open transaction, then inserts the jobs
// fn enqueued with one call of insert, before the caller commits: a
// transaction that stores a batch of messages sends one job insert, not
// one per message.
func InTx(ctx context.Context, ex Executor, d Dialect, insert InsertJobs, fn func(ctx context.Context, tx bridge.Tx) error) error {
	t := &Tx{ex: ex, d: d}
	if err := fn(ctx, t); err != nil {
		return err
	}
	if len(t.jobs) == 0 {
		return nil
	}
	if err := insert(ctx, t.jobs); err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(t.jobs), err)
	}
	return nil
}

var _ bridge.Tx = (*Tx)(nil)

// notFound maps the driver's "no rows" to bridge.ErrNotFound.
func (t *Tx) notFound(err error, what string) error {
	if err == nil {
		return nil
	}
	if t.d.IsNoRows(err) {
		return fmt.Errorf("%s: %w", what, bridge.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Enqueue keeps one job per lane (conversation and target): a job drains
// its whole lane, so a second one for the same lane would only find it
// busy or empty. The one kept takes the most urgent priority asked.
func (t *Tx) Enqueue(_ context.Context, j bridge.Job) error {
	for i := range t.jobs {
		if t.jobs[i].ConversationID == j.ConversationID && t.jobs[i].Target == j.Target {
			t.jobs[i].Priority = min(t.jobs[i].Priority, j.Priority)
			return nil
		}
	}
	t.jobs = append(t.jobs, j)
	return nil
}
