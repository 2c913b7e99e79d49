package bench_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/bench"
	"github.com/threadline/threadline/internal/testenv"
)

// TestChaosShort kills Threadline with SIGKILL three times under load while
// Slack and Telegram fail some calls (429s, and errors after applying the
// call). Nothing may be lost or reordered, and every repeat must be one that
// a kill or a lost answer explains.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "threadline")
	build := exec.Command("go", "build", "-o", bin, "github.com/threadline/threadline/cmd/threadline")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "" },
		"postgres": func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
	for name, url := range stores {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			rep, err := bench.Chaos(ctx, bench.ChaosOptions{Binary: bin, DatabaseURL: url(t), Customers: 10, Messages: 6, Replies: 5, Kills: 3,
				KillEvery: 700 * time.Millisecond, Faults: 2, Timeout: 2 * time.Minute, Lease: 2 * time.Second, Late: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			rep.Print(&out)
			t.Logf("\n%s", out.String())
			if rep.Failed() {
				t.Errorf("chaos run failed: %+v", rep)
			}
			if rep.Kills != 3 || rep.Redelivered != 2*(10*6+5) {
				t.Errorf("%d kills and %d redeliveries, want 3 and %d", rep.Kills, rep.Redelivered, 2*(10*6+5))
			}
		})
	}
}
