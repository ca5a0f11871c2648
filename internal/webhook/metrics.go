package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook figures on /metrics.
type Metrics struct {
	queued     prometheus.Counter
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
	lag        prometheus.Histogram
}

// NewMetrics creates the webhook metrics and registers them on reg (nil:
// not registered, for tools that do not serve /metrics).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arca_webhook_deliveries_queued_total", Help: "Webhook deliveries queued (events times subscriptions, redeliveries included).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_webhook_attempts_total", Help: "Webhook delivery attempts by outcome: success, http_error (a non-2xx answer) or network_error (no answer).",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_webhook_deliveries_total", Help: "Webhook deliveries finished, by outcome: delivered or failed (after the last attempt).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arca_webhook_attempt_duration_seconds", Help: "Time of one delivery attempt, from sending to the receiver's answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arca_webhook_delivery_latency_seconds", Help: "Time from the event to its successful delivery (retries included).",
			Buckets: prometheus.ExponentialBuckets(0.01, 3, 12),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.queued, m.attempts, m.deliveries, m.duration, m.lag)
	}
	return m
}

func (m *Metrics) observeAttempt(r result, took time.Duration) {
	outcome := "success"
	switch {
	case r.a.StatusCode == 0:
		outcome = "network_error"
	case !r.ok:
		outcome = "http_error"
	}
	m.attempts.WithLabelValues(outcome).Inc()
	m.duration.Observe(took.Seconds())
}
