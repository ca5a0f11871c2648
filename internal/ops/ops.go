// Package ops serves what operators and orchestrators use: liveness and
// readiness probes and Prometheus metrics.
package ops

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arcaproject/arca/internal/httpx"
)

// Check is one readiness check.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Routes registers /healthz, /readyz and /metrics on mux.
func Routes(mux *http.ServeMux, gatherer prometheus.Gatherer, checks []Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.SetSurface(r.Context(), "ops")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		httpx.SetSurface(r.Context(), "ops")
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		result := map[string]string{}
		status := http.StatusOK
		for _, c := range checks {
			if err := c.Run(ctx); err != nil {
				result[c.Name] = "failing"
				status = http.StatusServiceUnavailable
			} else {
				result[c.Name] = "ok"
			}
		}
		httpx.WriteJSON(w, status, result)
	})
	metrics := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.SetSurface(r.Context(), "ops")
		metrics.ServeHTTP(w, r)
	}))
}

// BlobMetrics count blob store operations.
type BlobMetrics struct {
	ops     *prometheus.CounterVec
	bytes   *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// NewBlobMetrics creates the blob store metrics and registers them on reg.
func NewBlobMetrics(reg prometheus.Registerer) *BlobMetrics {
	m := &BlobMetrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_blob_operations_total", Help: "Blob store operations by operation and result.",
		}, []string{"op", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_blob_bytes_total", Help: "Bytes written to (put) and read from (get) the blob store.",
		}, []string{"op"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "arca_blob_operation_duration_seconds", Help: "Blob store operation latency.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"op"}),
	}
	reg.MustRegister(m.ops, m.bytes, m.latency)
	return m
}

// Observe records one blob store operation; it fits blob.Observer.
func (m *BlobMetrics) Observe(op string, err error, n int64, took time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.ops.WithLabelValues(op, result).Inc()
	if n > 0 {
		m.bytes.WithLabelValues(op).Add(float64(n))
	}
	if took > 0 {
		m.latency.WithLabelValues(op).Observe(took.Seconds())
	}
}
