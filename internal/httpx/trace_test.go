package httpx_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/arcaproject/arca/internal/httpx"
)

// A request's span continues the client's traceparent, is named after
// its route template, carries format, repository, user kind and sizes;
// the request's log lines carry its trace and span IDs; and an upstream
// fetch made for it is a child span whose traceparent reaches the
// upstream.
func TestTraceRequest(t *testing.T) {
	var upstreamParent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamParent = r.Header.Get("Traceparent")
		w.Write([]byte("from upstream"))
	}))
	defer upstream.Close()

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	prop := propagation.TraceContext{}
	reg := prometheus.NewRegistry()
	ups := httpx.NewUpstreams(reg, tp, prop)
	var logs bytes.Buffer
	log := slog.New(httpx.LogHandler{Handler: slog.NewJSONHandler(&logs, nil)})

	mux := http.NewServeMux()
	s := &httpx.Surface{Name: "raw", WriteError: httpx.WriteJSONError, Log: log}
	mux.Handle("GET /raw/{repo}/{path...}", s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		log.InfoContext(r.Context(), "inside")
		req, _ := http.NewRequestWithContext(r.Context(), "GET", upstream.URL+"/x", nil)
		resp, err := ups.Client("raw", 0).Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(w, resp.Body)
		return err
	}))
	h := httpx.Trace(httpx.Instrument(httpx.Routed(mux), log, httpx.NewMetrics(reg)), tp, prop)
	srv := httptest.NewServer(h)
	defer srv.Close()

	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest("GET", srv.URL+"/raw/files/a/b.txt", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "from upstream" {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}

	var server, client sdktrace.ReadOnlySpan
	for _, sp := range exp.GetSpans().Snapshots() {
		switch {
		case sp.Name() == "GET /raw/{repo}/{path...}":
			server = sp
		case strings.HasPrefix(sp.Name(), "upstream"):
			client = sp
		}
	}
	if server == nil || client == nil {
		t.Fatalf("want a server span named after the route and an upstream span; got %v", exp.GetSpans().Snapshots())
	}
	if server.SpanContext().TraceID().String() != traceID || server.Parent().SpanID().String() != clientSpan {
		t.Errorf("server span %s (parent %s) does not continue the client's traceparent", server.SpanContext().TraceID(), server.Parent().SpanID())
	}
	attrs := map[string]any{}
	for _, kv := range server.Attributes() {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	for k, want := range map[string]any{"arca.format": "raw", "arca.repository": "files", "arca.user.kind": "anonymous",
		"http.route": "/raw/{repo}/{path...}", "http.response.status_code": int64(200), "http.response.body.size": int64(len(body))} {
		if attrs[k] != want {
			t.Errorf("server span %s = %v (%T), want %v", k, attrs[k], attrs[k], want)
		}
	}
	if client.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("upstream span is not the request span's child")
	}
	if want := "00-" + traceID + "-" + client.SpanContext().SpanID().String() + "-01"; upstreamParent != want {
		t.Errorf("upstream got traceparent %q, want %q", upstreamParent, want)
	}

	// Every log line of the request names its trace and span.
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		n++
		if rec["trace_id"] != traceID || rec["span_id"] != server.SpanContext().SpanID().String() {
			t.Errorf("log line %v lacks the request's trace_id/span_id", rec)
		}
	}
	if n != 2 {
		t.Errorf("%d log lines, want 2 (inside, request):\n%s", n, logs.String())
	}

	// Metrics: by route template, and the upstream fetch by outcome.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP arca_http_requests_total HTTP requests by surface (format), route template, method and status.
# TYPE arca_http_requests_total counter
arca_http_requests_total{method="GET",route="/raw/{repo}/{path...}",status="200",surface="raw"} 1
# HELP arca_upstream_requests_total Requests of proxy repositories to their upstreams, by format and outcome (the status class, or error when no response came).
# TYPE arca_upstream_requests_total counter
arca_upstream_requests_total{format="raw",outcome="2xx"} 1
`), "arca_http_requests_total", "arca_upstream_requests_total"); err != nil {
		t.Error(err)
	}
}
