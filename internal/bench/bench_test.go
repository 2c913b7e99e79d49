package bench_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/bench"
	"github.com/threadline/threadline/internal/testenv"
)

// TestShortRun is the harness in CI's short mode: small counts, every
// message redelivered once in four, and it must lose, double and reorder
// nothing. The figures are printed, never asserted.
func TestShortRun(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
	for name, url := range stores {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			rep, err := bench.Run(ctx, bench.Options{DatabaseURL: url(t), DataDir: t.TempDir(), Customers: 20, Messages: 5,
				Senders: 8, Duplicates: 0.25, Replies: 5, Baseline: true, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			rep.Print(&out)
			t.Logf("\n%s", out.String())
			if rep.Lost != 0 || rep.Doubled != 0 || rep.Disordered != 0 || rep.RepliesLost != 0 || rep.RepliesDoubled != 0 {
				t.Errorf("lost %d, doubled %d, out of order %d, replies lost %d, replies doubled %d; want none",
					rep.Lost, rep.Doubled, rep.Disordered, rep.RepliesLost, rep.RepliesDoubled)
			}
			if rep.Webhooks != 100 || rep.Duplicates == 0 {
				t.Errorf("sent %d webhooks with %d redeliveries, want 100 with some", rep.Webhooks, rep.Duplicates)
			}
			if rep.IngestAloneWebhooks != 100 {
				t.Errorf("ingest alone: %d webhooks acknowledged, want 100", rep.IngestAloneWebhooks)
			}
		})
	}
}
