package postgres_test

import (
	"context"
	"testing"

	"github.com/threadline/threadline/internal/testenv"
	"github.com/threadline/threadline/store/postgres"
	"github.com/threadline/threadline/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		ctx := context.Background()
		s, err := postgres.Open(ctx, postgres.Options{URL: testenv.PostgresURL(t), MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Options{URL: testenv.PostgresURL(b), MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	storetest.BenchIngest(b, s)
}
