package bench_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/bench"
)

// TestChaosShort kills Threadline with SIGKILL three times under load while
// Slack and Telegram fail some calls (429s, errors after applying the call,
// timeouts with and without applying it); on PostgreSQL (a private
// instance) the database is also restarted hard and Redis stopped for a
// while. Nothing may be lost or reordered, every repeat must be one that a
// kill, a database stop or a lost answer explains (one per such event), and
// without Redis /readyz must stay 200 and say "degraded".
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "threadline")
	build := exec.Command("go", "build", "-o", bin, "github.com/threadline/threadline/cmd/threadline")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			o := bench.ChaosOptions{Binary: bin, Customers: 10, Messages: 6, Replies: 5, Kills: 3,
				KillEvery: 700 * time.Millisecond, Faults: 2, Timeout: 2 * time.Minute, Lease: 2 * time.Second, Late: time.Second}
			if name == "postgres" {
				// Private PostgreSQL and Redis of the harness's own: one
				// hard PostgreSQL restart and two seconds without Redis.
				o.Private, o.PGRestarts, o.PGDown, o.RedisDown = true, 1, time.Second, 2*time.Second
			}
			rep, err := bench.Chaos(ctx, o)
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
			if o.Private && (rep.PGRestarts != 1 || rep.ReadyChecks == 0 || rep.ReadyDegraded == 0 || rep.ReadyNot200 != 0) {
				t.Errorf("PostgreSQL restarts %d; with Redis down /readyz answered %d times, %d degraded, %d not 200; want 1 restart and every answer 200 degraded",
					rep.PGRestarts, rep.ReadyChecks, rep.ReadyDegraded, rep.ReadyNot200)
			}
		})
	}
}
