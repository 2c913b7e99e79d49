package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
)

// BenchIngest measures durable ingest through the bridge: each op is one
// customer message stored with its conversation, sequence number and the job
// that shows it in chat, committed. Messages spread over 1,000 customers.
func BenchIngest(b *testing.B, s bridge.Store) {
	br := bridge.New(s, bridge.Options{Surfaces: []bridge.Surface{bridge.SurfaceSlack}})
	ctx := context.Background()
	var seq atomic.Int64
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			chat := fmt.Sprint(n % 1000)
			_, err := br.Ingest(ctx, bridge.InboundEvent{
				DeliveryID: fmt.Sprint("update:", n), Platform: bridge.PlatformTelegram,
				Account: bridge.UpsertAccountParams{ExternalID: "bot1"}, Thread: chat,
				Sender:            bridge.UpsertIdentityParams{ExternalUserID: chat, Name: "Customer " + chat},
				PlatformMessageID: fmt.Sprint(n), Text: "where is my order?",
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
