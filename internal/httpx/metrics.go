package httpx

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the HTTP metrics of every surface.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	inflight prometheus.Gauge
}

// NewMetrics creates the HTTP metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_http_requests_total", Help: "HTTP requests by surface (format), route template, method and status.",
		}, []string{"surface", "route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "arca_http_request_duration_seconds", Help: "HTTP request latency by surface (format), route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"surface", "route", "method"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_http_request_bytes_total", Help: "Request body bytes read, by surface.",
		}, []string{"surface"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_http_response_bytes_total", Help: "Response body bytes written, by surface.",
		}, []string{"surface"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "arca_http_requests_in_flight", Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.bytesIn, m.bytesOut, m.inflight)
	return m
}

func (m *Metrics) observe(surface, route, method string, status int, took time.Duration, in, out int64) {
	method = normalizeMethod(method)
	m.requests.WithLabelValues(surface, route, method, statusLabel(status)).Inc()
	m.latency.WithLabelValues(surface, route, method).Observe(took.Seconds())
	m.bytesIn.WithLabelValues(surface).Add(float64(in))
	m.bytesOut.WithLabelValues(surface).Add(float64(out))
}

// normalizeMethod bounds the method label to the methods arca serves.
func normalizeMethod(m string) string {
	switch m {
	case "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "OTHER"
}
