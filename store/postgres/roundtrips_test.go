package postgres_test

import (
	"context"
	"testing"

	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/postgres"
	"github.com/threadline/threadline/store/storetest"
)

// BenchmarkIngestRoundTrips reports the statements one ingest sends besides
// its rate: under a loaded machine the rate is noisy, the count is not.
func BenchmarkIngestRoundTrips(b *testing.B) {
	var c postgres.StatementCounter
	s, err := postgres.Open(context.Background(), postgres.Options{URL: testenv.PostgresURL(b), MaxConns: 16, Tracer: &c})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	before := c.Count()
	storetest.BenchIngest(b, s)
	b.ReportMetric(float64(c.Count()-before)/float64(b.N), "stmts/op")
}
