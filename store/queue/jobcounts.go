package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/threadline/threadline/store/sqlstore"
)

// JobCount is how many of River's jobs of one kind are in one state, and
// when the oldest of them was inserted.
type JobCount struct {
	Kind, State string
	Count       int
	Oldest      time.Time
}

// JobCounts reports the jobs not yet finalized (completed, cancelled and
// discarded ones are left out: River keeps those for a day and they say
// nothing about the backlog), by kind and state.
func (b *Backend[TTx]) JobCounts(ctx context.Context) ([]JobCount, error) {
	var out []JobCount
	err := b.Run(ctx, func(ctx context.Context, ex sqlstore.Executor) error {
		out = nil
		rows, err := ex.Query(ctx, `SELECT kind, state, count(*), min(created_at) FROM river_job
			WHERE state IN ('available', 'scheduled', 'running', 'retryable', 'pending') GROUP BY kind, state ORDER BY kind, state`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c JobCount
			if err := rows.Scan(&c.Kind, &c.State, &c.Count, riverTime{&c.Oldest}); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("river job counts: %w", err)
	}
	return out, nil
}

// riverTime reads River's created_at: a time from PostgreSQL, text from
// SQLite (an aggregate loses the column's declared type there).
type riverTime struct{ dst *time.Time }

var riverTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}

func (r riverTime) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case time.Time:
		*r.dst = v.UTC()
		return nil
	case nil:
		*r.dst = time.Time{}
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("river created_at: unsupported type %T", src)
	}
	for _, layout := range riverTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			*r.dst = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("river created_at: unknown format %q", s)
}
