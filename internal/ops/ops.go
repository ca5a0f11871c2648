// Package ops serves what operators and orchestrators use: liveness and
// readiness probes and Prometheus metrics.
package ops

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// Check is one readiness check.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Who may read /metrics (Options.MetricsAuth).
const (
	MetricsAuthNone  = "none"  // anyone
	MetricsAuthUser  = "user"  // any authenticated user or robot
	MetricsAuthAdmin = "admin" // administrators
)

// Options configure the operations endpoints.
type Options struct {
	// MetricsAuth is who may read /metrics; "" is MetricsAuthNone.
	MetricsAuth string
	// Auth authenticates /metrics requests (Basic or Bearer, as on every
	// surface) when MetricsAuth is not none.
	Auth httpx.Authenticator
	Log  *slog.Logger
}

// Routes registers /healthz, /readyz and /metrics on mux. The probes
// never need credentials (orchestrators send none); /metrics does when
// opts.MetricsAuth says so.
func Routes(mux *http.ServeMux, gatherer prometheus.Gatherer, checks []Check, opts Options) {
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
	if opts.MetricsAuth == "" || opts.MetricsAuth == MetricsAuthNone {
		mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.SetSurface(r.Context(), "ops")
			metrics.ServeHTTP(w, r)
		}))
		return
	}
	surface := &httpx.Surface{Name: "ops", WriteError: httpx.WriteJSONError, Auth: opts.Auth, Log: opts.Log}
	mux.Handle("GET /metrics", surface.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p := auth.From(r.Context())
		if p.Anonymous() {
			return errs.E(errs.Unauthenticated, "authentication required")
		}
		if opts.MetricsAuth == MetricsAuthAdmin {
			if err := auth.RequireAdmin(p); err != nil {
				return err
			}
		}
		metrics.ServeHTTP(w, r)
		return nil
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
