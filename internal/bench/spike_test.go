package bench_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/threadline/threadline/internal/bench"
)

// TestShortSpike is the flood in CI's short mode: 40 conversations at once
// into a channel paced at one post per 50 ms, and three P1 conversations
// once the flood is draining. Nothing may be lost, doubled or reordered; the
// P1s must be shown ahead of most of the flood waiting when they came; the
// waiting messages of a conversation share posts; the digest appears and
// clears. Figures are printed, never asserted.
func TestShortSpike(t *testing.T) {
	// Generous bounds: on a loaded machine under -race the drain is slow;
	// what is asserted is order and completeness, never speed.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rep, err := bench.Spike(ctx, bench.SpikeOptions{DataDir: t.TempDir(), Flood: 40, Messages: 3, Urgent: 3,
		PostInterval: 50 * time.Millisecond, Senders: 8, Timeout: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Logf("\n%s", out.String())
	if rep.Failed() {
		t.Errorf("lost %d, doubled %d, out of order %d; want none", rep.Lost, rep.Doubled, rep.Disorder)
	}
	if rep.FloodWaitingAtP1 == 0 || rep.FloodOvertaken*2 < rep.FloodWaitingAtP1 {
		t.Errorf("the P1s went ahead of %d of the %d flood messages waiting when they came, want at least half", rep.FloodOvertaken, rep.FloodWaitingAtP1)
	}
	if total := rep.FloodMessages + rep.UrgentMessages; rep.Posts >= total {
		t.Errorf("%d posts for %d messages: waiting messages were not coalesced", rep.Posts, total)
	}
	if rep.DigestPeak < 4 || !rep.DigestCleared {
		t.Errorf("backlog digest peak %d, cleared %v; want it shown (threshold 4) and cleared", rep.DigestPeak, rep.DigestCleared)
	}
}
