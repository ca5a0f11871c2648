package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/arcaproject/arca/internal/meta"
)

// middleware is what the runner wraps every job with: a span per insert
// and per attempt (river's own OpenTelemetry middleware, with the trace
// context of whoever enqueued a job carried in its metadata and linked
// from the attempt) when tp is not nil, and the Prometheus metrics of
// attempts when reg is not nil.
func middleware(db *meta.DB, tp trace.TracerProvider, reg prometheus.Registerer) []rivertype.Middleware {
	var mw []rivertype.Middleware
	if tp != nil {
		mw = append(mw, otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
			TracerProvider:              tp,
			MeterProvider:               metricnoop.NewMeterProvider(), // arca's metrics are Prometheus's
			EnableTracePropagation:      true,
			EnableWorkSpanJobKindSuffix: true,
		}))
	}
	if reg != nil {
		m := &metrics{
			attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "arca_job_attempts_total",
				Help: "Attempts at background jobs, by kind and result (ok, error, cancelled).",
			}, []string{"kind", "result"}),
			duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name:    "arca_job_duration_seconds",
				Help:    "Duration of background job attempts, by kind.",
				Buckets: []float64{.01, .1, .5, 1, 5, 15, 60, 300, 900, 3600},
			}, []string{"kind"}),
			lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
				Name: "arca_job_last_success_timestamp_seconds",
				Help: "When a job of each kind last succeeded in this process (Unix seconds).",
			}, []string{"kind"}),
		}
		reg.MustRegister(m.attempts, m.duration, m.lastSuccess, &queueCollector{db: db, desc: prometheus.NewDesc(
			"arca_jobs", "Jobs in the queue's table by kind and state (available, scheduled, running, retryable, "+
				"completed, discarded, cancelled, pending); finished ones stay for jobs.retention.",
			[]string{"kind", "state"}, nil)})
		mw = append(mw, m)
	}
	return mw
}

type metrics struct {
	river.MiddlewareDefaults
	attempts    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
}

func (m *metrics) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	start := time.Now()
	err := doInner(ctx)
	result := "ok"
	switch {
	case err == nil:
		m.lastSuccess.WithLabelValues(job.Kind).Set(float64(time.Now().UnixNano()) / 1e9)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		result = "cancelled"
	default:
		result = "error"
	}
	m.attempts.WithLabelValues(job.Kind, result).Inc()
	m.duration.WithLabelValues(job.Kind).Observe(time.Since(start).Seconds())
	return err
}

// queueCollector counts river's jobs at each scrape: kinds are the
// composition root's, states river's, so the series are few.
type queueCollector struct {
	db   *meta.DB
	desc *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT kind, state, count(*) FROM river_job GROUP BY kind, state`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n int64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), kind, state)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
	}
}
