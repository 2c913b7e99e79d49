package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threadline/threadline/bridge"
	"github.com/threadline/threadline/internal/metrics"
)

func TestExposition(t *testing.T) {
	r := metrics.New()
	r.Webhook("telegram", "stored", 3*time.Millisecond)
	r.DeliveryDone(bridge.TargetPlatform, "delivered")
	r.DeliveryDone(bridge.ChatTarget(bridge.SurfaceSlack), "rate_limited")
	r.DeliveryRepeatSuspected(bridge.TargetPlatform, "repeated")
	r.QueueState("platform", 4, 2*time.Second)
	r.SLAAlerts(bridge.SLACheckResult{Warnings: 2, Breaches: 1})
	r.SLAStandings(bridge.SLAStandings{OK: 7, Breached: 3})
	r.IngestBatch(12, true)
	r.IngestBatch(3, false)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`threadline_webhooks_total{outcome="stored",source="telegram"} 1`,
		`threadline_deliveries_total{outcome="delivered",target="platform"} 1`,
		`threadline_rate_limited_total{api="chat:slack"} 1`,
		`threadline_delivery_repeats_suspected_total{outcome="repeated",target="platform"} 1`,
		`threadline_queue_depth{lane="platform"} 4`,
		`threadline_sla_alerts_total{kind="warning"} 2`,
		`threadline_sla_alerts_total{kind="breach"} 1`,
		`threadline_sla_conversations{state="ok"} 7`,
		`threadline_sla_conversations{state="warning"} 0`,
		`threadline_sla_conversations{state="breached"} 3`,
		`threadline_webhook_ack_seconds_bucket{source="telegram",le="0.005"} 1`,
		`threadline_ingest_batch_messages_bucket{outcome="stored",le="8"} 0`,
		`threadline_ingest_batch_messages_bucket{outcome="stored",le="16"} 1`,
		`threadline_ingest_batch_messages_sum{outcome="singly"} 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
}
