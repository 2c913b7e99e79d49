package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/postgres"
	"github.com/threadline/threadline/store/storetest"
)

// statementCounter counts the statements the pool sends, each one round
// trip to the server.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (*statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// BenchmarkIngestRoundTrips reports the statements one ingest sends besides
// its rate: under a loaded machine the rate is noisy, the count is not.
func BenchmarkIngestRoundTrips(b *testing.B) {
	var c statementCounter
	s, err := postgres.Open(context.Background(), postgres.Options{URL: testenv.PostgresURL(b), MaxConns: 16, Tracer: &c})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	before := c.n.Load()
	storetest.BenchIngest(b, s)
	b.ReportMetric(float64(c.n.Load()-before)/float64(b.N), "stmts/op")
}
