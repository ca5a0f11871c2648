package httpx

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Trace starts a server span for every request, continuing the trace of
// an incoming W3C traceparent header, and puts it into the request's
// context, where the log handler (LogHandler), the database, the blob
// store and the upstream client find it. It goes outside Instrument,
// which names the span after the route template when the request ends
// and adds the surface (format), repository, user kind and body sizes.
//
// The composition root installs Trace only when tracing is on: a process
// that does not trace pays for none of it.
func Trace(next http.Handler, tp trace.TracerProvider, prop propagation.TextMapPropagator) http.Handler {
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // arca's metrics are Prometheus's
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		// Probes and scrapes arrive every few seconds and say nothing.
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}))
}

// annotate completes a request's span with what only the end of the
// request knows.
func annotate(span trace.Span, ri *requestInfo, method, route string, in, out int64) {
	span.SetName(method + " " + route)
	attrs := []attribute.KeyValue{
		attribute.String("http.route", route),
		attribute.String("arca.format", ri.surface),
		attribute.String("arca.user.kind", ri.kind),
		attribute.Int64("http.request.body.size", in),
		attribute.Int64("http.response.body.size", out),
	}
	if ri.repo != "" {
		attrs = append(attrs, attribute.String("arca.repository", ri.repo))
	}
	span.SetAttributes(attrs...)
}

// routeTemplate is a ServeMux pattern without its method ("GET
// /raw/{repo}/{path...}" → "/raw/{repo}/{path...}"): the method is a
// label of its own.
func routeTemplate(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// routeLabel is the request's route template, or "unmatched" when no
// route claimed it (a 404 or 405 of the mux itself).
func (ri *requestInfo) routeLabel() string {
	if ri.route == "" {
		return "unmatched"
	}
	return ri.route
}

// Routed records, for requests whose handler did not say (handlers not
// wrapped by Surface.Handle: the UI, MLflow, the probes), the pattern of
// mux that served them. It goes just outside the mux.
func Routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if ri, ok := r.Context().Value(infoKey{}).(*requestInfo); ok && ri.route == "" {
			if _, pattern := mux.Handler(r); pattern != "" {
				ri.route = routeTemplate(pattern)
			}
		}
	})
}
