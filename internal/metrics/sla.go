package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/threadline/threadline/bridge"
)

func newSLAStandings() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "threadline_sla_conversations",
		Help: "Open and pending conversations by SLA state: ok, warning (a clock past its warning share), breached (a clock past its target and not stopped).",
	}, []string{"state"})
}

// SLAStandings sets the SLA state gauge. All three states are always set, so
// a state that empties reads 0 rather than its last count.
func (r *Registry) SLAStandings(s bridge.SLAStandings) {
	r.slaStandings.WithLabelValues("ok").Set(float64(s.OK))
	r.slaStandings.WithLabelValues("warning").Set(float64(s.Warning))
	r.slaStandings.WithLabelValues("breached").Set(float64(s.Breached))
}
