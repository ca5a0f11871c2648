package replication

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are replication's series in /metrics, per policy.
type metrics struct {
	items    *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_replication_items_total", Help: "Items replication handled, by policy and outcome (copied, skipped, deleted, failed).",
		}, []string{"policy", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_replication_bytes_total", Help: "Bytes replication sent to destinations, by policy.",
		}, []string{"policy"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_replication_runs_total", Help: "Replication runs, by policy and final state (succeeded, failed).",
		}, []string{"policy", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "arca_replication_run_duration_seconds", Help: "How long replication runs took, by policy.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"policy"}),
	}
	if reg != nil {
		reg.MustRegister(m.items, m.bytes, m.runs, m.duration)
	}
	return m
}

func (m *metrics) item(policy, outcome string, bytes int64) {
	m.items.WithLabelValues(policy, outcome).Inc()
	if bytes > 0 {
		m.bytes.WithLabelValues(policy).Add(float64(bytes))
	}
}

func (m *metrics) run(policy, state string, took time.Duration) {
	m.runs.WithLabelValues(policy, state).Inc()
	m.duration.WithLabelValues(policy).Observe(took.Seconds())
}
