// Package sqlstore implements bridge.Tx once, in SQL that PostgreSQL and
// SQLite both accept, over a small executor interface. The backends in
// store/postgres and store/sqlite adapt their drivers to it and own
// connections, migrations and the job queue.
package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

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
	// NextConversationNumber is the SQL expression for a new conversation number.
	NextConversationNumber string
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
	ex      Executor
	d       Dialect
	enqueue func(ctx context.Context, j bridge.Job) error
}

// NewTx wraps an open transaction. enqueue inserts a job in that same
// transaction.
func NewTx(ex Executor, d Dialect, enqueue func(context.Context, bridge.Job) error) *Tx {
	return &Tx{ex: ex, d: d, enqueue: enqueue}
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

func (t *Tx) Enqueue(ctx context.Context, j bridge.Job) error {
	if err := t.enqueue(ctx, j); err != nil {
		return fmt.Errorf("enqueue job %d/%s: %w", j.ConversationID, j.Target, err)
	}
	return nil
}

var errNoEnqueue = errors.New("this transaction cannot enqueue jobs")

// NoEnqueue is for transactions opened where no job queue is attached.
func NoEnqueue(context.Context, bridge.Job) error { return errNoEnqueue }
