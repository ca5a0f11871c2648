package httpx

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Upstreams makes the HTTP clients proxy repositories fetch their
// upstreams with. They share one connection pool, count every fetch by
// format and outcome (arca_upstream_requests_total,
// arca_upstream_request_duration_seconds), and, when tracing is on, make
// each fetch a client span that sends the request's trace context
// (traceparent) upstream.
type Upstreams struct {
	transport http.RoundTripper
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// NewUpstreams registers the upstream metrics on reg. tp is nil when
// tracing is off.
func NewUpstreams(reg prometheus.Registerer, tp trace.TracerProvider, prop propagation.TextMapPropagator) *Upstreams {
	var t http.RoundTripper = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if tp != nil {
		t = otelhttp.NewTransport(t, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(prop),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "upstream " + r.Method }))
	}
	u := &Upstreams{
		transport: t,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_upstream_requests_total",
			Help: "Requests of proxy repositories to their upstreams, by format and outcome (the status class, or error when no response came).",
		}, []string{"format", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arca_upstream_request_duration_seconds",
			Help:    "Time to the response headers of upstream requests, by format.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"format"}),
	}
	reg.MustRegister(u.requests, u.latency)
	return u
}

// Client returns a client for the proxies of one format. timeout bounds a
// whole exchange, body included (0: none).
func (u *Upstreams) Client(format string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &countingTransport{next: u.transport, format: format, u: u}}
}

type countingTransport struct {
	next   http.RoundTripper
	format string
	u      *Upstreams
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.next.RoundTrip(r)
	outcome := "error"
	if err == nil {
		outcome = strconv.Itoa(resp.StatusCode/100) + "xx"
	}
	c.u.requests.WithLabelValues(c.format, outcome).Inc()
	c.u.latency.WithLabelValues(c.format).Observe(time.Since(start).Seconds())
	return resp, err
}
