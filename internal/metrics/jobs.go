package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// JobState is how many queue jobs of one kind are in one state (River's
// available, scheduled, running, retryable, pending), and the oldest's age.
type JobState struct {
	Kind, State string
	Count       int
	Oldest      time.Duration
}

type jobGauges struct {
	count, oldest *prometheus.GaugeVec
}

func newJobGauges(reg *prometheus.Registry) jobGauges {
	g := jobGauges{
		count: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "threadline_jobs", Help: "Queue jobs not yet finished, by job kind and state (available, scheduled, running, retryable, pending).",
		}, []string{"kind", "state"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "threadline_jobs_oldest_seconds", Help: "Age of the oldest queue job not yet finished, by job kind and state.",
		}, []string{"kind", "state"}),
	}
	reg.MustRegister(g.count, g.oldest)
	return g
}

// JobStates replaces the job gauges with states: a kind and state no longer
// listed has no jobs left.
func (r *Registry) JobStates(states []JobState) {
	r.jobs.count.Reset()
	r.jobs.oldest.Reset()
	for _, s := range states {
		r.jobs.count.WithLabelValues(s.Kind, s.State).Set(float64(s.Count))
		r.jobs.oldest.WithLabelValues(s.Kind, s.State).Set(s.Oldest.Seconds())
	}
}
