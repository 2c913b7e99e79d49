// Package metrics exposes Threadline's Prometheus metrics. One Registry per
// process (no global default registry), passed to whoever reports.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/threadline/threadline/bridge"
)

// Registry holds every metric Threadline reports.
type Registry struct {
	reg             *prometheus.Registry
	webhooks        *prometheus.CounterVec
	webhookLatency  *prometheus.HistogramVec
	deliveries      *prometheus.CounterVec
	byDestination   *prometheus.CounterVec
	repeats         *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
	queueDepth      *prometheus.GaugeVec
	queueAge        *prometheus.GaugeVec
	deliveryLatency *prometheus.HistogramVec
	slaAlerts       *prometheus.CounterVec
	slaStandings    *prometheus.GaugeVec
	ingestBatches   *prometheus.HistogramVec
	jobs            jobGauges
}

// New registers all metrics on a fresh registry.
func New() *Registry {
	r := &Registry{
		reg: prometheus.NewRegistry(),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "threadline_webhooks_total", Help: "Inbound webhook and chat requests by source and outcome.",
		}, []string{"source", "outcome"}),
		webhookLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "threadline_webhook_ack_seconds", Help: "Time from request received to acknowledged (made durable first).",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 3},
		}, []string{"source"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "threadline_deliveries_total", Help: "Delivery attempts by target lane and outcome (delivered, failed, retry, rate_limited).",
		}, []string{"target", "outcome"}),
		byDestination: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "threadline_deliveries_by_destination_total", Help: "Delivery attempts by destination (the customer's platform: telegram, messenger, ...; or the chat surface: slack, teams) and outcome.",
		}, []string{"destination", "outcome"}),
		repeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "threadline_delivery_repeats_suspected_total", Help: "Sends whose earlier attempt's outcome was unknown (worker died mid-send): reconciled (found posted, not sent again) or repeated.",
		}, []string{"target", "outcome"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "threadline_rate_limited_total", Help: "429 answers received from outside APIs.",
		}, []string{"api"}),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "threadline_queue_depth", Help: "Undelivered items by lane kind.",
		}, []string{"lane"}),
		queueAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "threadline_queue_oldest_seconds", Help: "Age of the oldest undelivered item by lane kind.",
		}, []string{"lane"}),
		deliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "threadline_delivery_latency_seconds", Help: "Time from a message stored to delivered, by target lane.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"target"}),
		slaAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "threadline_sla_alerts_total", Help: "SLA alerts raised (each once, whichever replica raised it), by kind: warning or breach.",
		}, []string{"kind"}),
		slaStandings: newSLAStandings(),
		ingestBatches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "threadline_ingest_batch_messages", Help: "Messages per ingest transaction (group commit), by outcome: stored, or singly when the batch was rolled back and its messages stored one by one.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128},
		}, []string{"outcome"}),
	}
	r.reg.MustRegister(r.slaStandings)
	r.reg.MustRegister(r.webhooks, r.webhookLatency, r.deliveries, r.byDestination, r.repeats, r.rateLimited, r.queueDepth, r.queueAge, r.deliveryLatency, r.slaAlerts, r.ingestBatches,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.jobs = newJobGauges(r.reg)
	return r
}

// Handler serves /metrics.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Gatherer exposes the registry to tests.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Webhook counts one inbound request and how long its acknowledgement took.
func (r *Registry) Webhook(source, outcome string, took time.Duration) {
	r.webhooks.WithLabelValues(source, outcome).Inc()
	r.webhookLatency.WithLabelValues(source).Observe(took.Seconds())
}

// SLAAlerts counts the alerts one SLA check raised.
func (r *Registry) SLAAlerts(res bridge.SLACheckResult) {
	r.slaAlerts.WithLabelValues(string(bridge.SLAWarning)).Add(float64(res.Warnings))
	r.slaAlerts.WithLabelValues(string(bridge.SLABreach)).Add(float64(res.Breaches))
}

// RateLimited counts a 429 from an outside API.
func (r *Registry) RateLimited(api string) { r.rateLimited.WithLabelValues(api).Inc() }

// laneKind folds per-surface targets into a small label set.
func laneKind(t bridge.Target) string { return string(t) }

// DeliveryDone implements bridge.Metrics.
func (r *Registry) DeliveryDone(t bridge.Target, outcome string) {
	r.deliveries.WithLabelValues(laneKind(t), outcome).Inc()
	if outcome == "rate_limited" {
		r.rateLimited.WithLabelValues(laneKind(t)).Inc()
	}
}

// DeliveryRepeatSuspected implements bridge.Metrics.
func (r *Registry) DeliveryRepeatSuspected(t bridge.Target, outcome string) {
	r.repeats.WithLabelValues(laneKind(t), outcome).Inc()
}

// DeliveryLatency records how long a delivered item waited since stored.
func (r *Registry) DeliveryLatency(t bridge.Target, d time.Duration) {
	r.deliveryLatency.WithLabelValues(laneKind(t)).Observe(d.Seconds())
}

// QueueState sets the backlog gauges.
func (r *Registry) QueueState(lane string, depth int, oldest time.Duration) {
	r.queueDepth.WithLabelValues(lane).Set(float64(depth))
	r.queueAge.WithLabelValues(lane).Set(oldest.Seconds())
}

var (
	_ bridge.Metrics            = (*Registry)(nil)
	_ bridge.DestinationMetrics = (*Registry)(nil)
	_ bridge.IngestMetrics      = (*Registry)(nil)
)

// IngestBatch implements bridge.IngestMetrics.
func (r *Registry) IngestBatch(messages int, stored bool) {
	outcome := "stored"
	if !stored {
		outcome = "singly"
	}
	r.ingestBatches.WithLabelValues(outcome).Observe(float64(messages))
}

// DeliveryTo implements bridge.DestinationMetrics.
func (r *Registry) DeliveryTo(destination, outcome string) {
	r.byDestination.WithLabelValues(destination, outcome).Inc()
}
