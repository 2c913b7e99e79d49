package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// StatementCounter is a pgx tracer that counts the statements sent, each
// one round trip to the server (BEGIN and COMMIT included): a measure of
// the database work a code path costs that a busy machine does not blur.
type StatementCounter struct{ n atomic.Int64 }

var _ pgx.QueryTracer = (*StatementCounter)(nil)

func (c *StatementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (*StatementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Count is how many statements were sent so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }
