package e2e

// The tracing end-to-end test: Jaeger (its v2 binary, built by
// scripts/install-ops-tools.sh) is the OTLP receiver of a traced arca;
// crane pushes an image and the mlflow client logs a run through arca, and
// Jaeger's query API must then hold their traces with the expected child
// spans (database, blob store), a job's trace, and a trace continued from
// a client's traceparent.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jaegerConfig is a minimal Jaeger v2 configuration: OTLP over HTTP in,
// memory storage, the query API; every port on loopback.
const jaegerConfig = `
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:%s
    grpc:
      endpoint: 127.0.0.1:%s
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%s
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// toolBin finds a program in ARCA_TOOLS_BIN, then PATH.
func toolBin(t *testing.T, name, installer string) string {
	t.Helper()
	if dir := os.Getenv("ARCA_TOOLS_BIN"); dir != "" {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s not found in ARCA_TOOLS_BIN (%q) or PATH; %s installs it", name, os.Getenv("ARCA_TOOLS_BIN"), installer)
	}
	return p
}

// startJaeger runs Jaeger and returns its OTLP/HTTP endpoint and query URL.
func startJaeger(t *testing.T) (otlp, query string) {
	t.Helper()
	bin := toolBin(t, "jaeger", "scripts/install-ops-tools.sh")
	qport, gport, oport := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	mustWriteFile(t, cfg, []byte(fmt.Sprintf(jaegerConfig, qport, gport, oport)))
	var log lockedBuffer
	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting jaeger: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("jaeger's log:\n%s", log.String())
		}
	})
	query = "http://127.0.0.1:" + qport
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("jaeger exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger's query API did not answer within 60s (%v):\n%s", err, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "http://127.0.0.1:" + oport, query
}

// jaegerTrace is a trace as Jaeger's query API (/api/traces) returns it.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
}

// root is the trace's span named op (a prefix when op ends in "*"), or -1.
func (tr jaegerTrace) span(op string) int {
	for i, s := range tr.Spans {
		if s.OperationName == op || (strings.HasSuffix(op, "*") && strings.HasPrefix(s.OperationName, strings.TrimSuffix(op, "*"))) {
			return i
		}
	}
	return -1
}

func (tr jaegerTrace) tag(i int, key string) any {
	for _, kv := range tr.Spans[i].Tags {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

// descends reports whether span i has a descendant named op (prefix with *).
func (tr jaegerTrace) descends(i int, op string) bool {
	parent := map[string]string{}
	for _, s := range tr.Spans {
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent[s.SpanID] = r.SpanID
			}
		}
	}
	root := tr.Spans[i].SpanID
	for _, s := range tr.Spans {
		if !(s.OperationName == op || (strings.HasSuffix(op, "*") && strings.HasPrefix(s.OperationName, strings.TrimSuffix(op, "*")))) {
			continue
		}
		for p := parent[s.SpanID]; p != ""; p = parent[p] {
			if p == root {
				return true
			}
		}
	}
	return false
}

func TestTracingJaeger(t *testing.T) {
	tools := needOCITools(t, "crane")
	py := mlflowPython(t)
	otlp, query := startJaeger(t)
	s := StartServer(t, ServerOptions{Env: []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=100",
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
	}})

	// A client's traceparent is continued.
	const clientTrace, clientSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r := curl(t, nil, "-u", s.Cred(), "-H", "traceparent: 00-"+clientTrace+"-"+clientSpan+"-01", s.URL+"/api/v1/repositories")
	wantStatus(t, r, http.StatusOK, "listing repositories")

	// crane pushes an image: a layer, a config, a manifest.
	c := newOCIClient(t, s, tools)
	c.craneLogin("admin", adminPassword)
	layer := filepath.Join(c.dir, "layer.tar")
	writeLayerTar(t, layer, map[string][]byte{"hello.txt": []byte("traced\n")})
	c.crane("append", "-f", layer, "-t", c.ref("library/traced:1"))

	// The mlflow client logs a run with an artifact.
	out := runCmd(t, 5*time.Minute, t.TempDir(), mlflowEnv(s, mlflowCreds{user: "admin", password: adminPassword}, t.TempDir()),
		py, filepath.Join(mustAbs(t, "testdata/tracing/mlflow_run.py")))
	if !strings.Contains(out, "RESULT run_id") {
		t.Fatalf("mlflow run printed no run id:\n%s", out)
	}

	// Every request's log line names its trace.
	if !strings.Contains(s.Log(), "trace_id="+clientTrace) {
		t.Errorf("no log line carries the client's trace_id %s", clientTrace)
	}

	type want struct {
		what     string
		root     string   // a span of the trace
		children []string // its descendants (prefix with *)
		tags     map[string]any
		trace    string // the trace ID, when known
	}
	wants := []want{
		{what: "a request continuing the client's traceparent", root: "GET /api/v1/repositories",
			children: []string{"sql.*"}, trace: clientTrace, tags: map[string]any{"arca.user.kind": "user", "arca.format": "api"}},
		{what: "crane's blob upload", root: "PUT /v2/{name}/blobs/uploads/{id}", children: []string{"blob.commit", "blob.write", "sql.*"},
			tags: map[string]any{"arca.format": "oci", "arca.repository": "library"}},
		{what: "crane's manifest push", root: "PUT /v2/{name}/manifests/{reference}", children: []string{"sql.*"},
			tags: map[string]any{"http.response.status_code": float64(201)}},
		{what: "the mlflow client's run creation", root: "POST /mlflow/api/2.0/mlflow/runs/create", children: []string{"sql.*"},
			tags: map[string]any{"arca.format": "mlflow"}},
		{what: "the mlflow client's artifact upload", root: "PUT /mlflow/api/2.0/mlflow-artifacts/artifacts/*", children: []string{"blob.commit", "sql.*"}},
		{what: "the job purging staged writes", root: "river.work/purge_staged", children: []string{"blob.purge_staged"}},
	}
	var traces []jaegerTrace
	var missingWants []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(query + "/api/traces?service=arca&limit=2000&lookback=1h")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Data []jaegerTrace `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("decoding Jaeger's answer: %v", err)
		}
		traces = body.Data
		missingWants = nil
		for _, w := range wants {
			found := false
			for _, tr := range traces {
				if w.trace != "" && tr.TraceID != w.trace {
					continue
				}
				i := tr.span(w.root)
				if i < 0 {
					continue
				}
				ok := true
				for _, ch := range w.children {
					ok = ok && tr.descends(i, ch)
				}
				for k, v := range w.tags {
					ok = ok && tr.tag(i, k) == v
				}
				if ok {
					found = true
					break
				}
			}
			if !found {
				missingWants = append(missingWants, w.what)
			}
		}
		if len(missingWants) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(missingWants) > 0 {
		var ops []string
		for _, tr := range traces {
			var names []string
			for _, sp := range tr.Spans {
				names = append(names, sp.OperationName)
			}
			ops = append(ops, tr.TraceID+": "+strings.Join(names, ", "))
		}
		t.Fatalf("Jaeger has %d traces of arca, but none for: %s\ntraces:\n%s", len(traces), strings.Join(missingWants, "; "), strings.Join(ops, "\n"))
	}
	t.Logf("Jaeger holds %d traces of arca with every expected span", len(traces))
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
