package mlflow_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Tests of OTLP trace export (POST /mlflow/v1/traces) and of reading the
// spans back (GetTrace, BatchGetTraces). Helpers are prefixed "otl".

const otlPath = "/mlflow/v1/traces"

func otlStr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// otlSpan is a span of trace tid (hex) with span id sid and parent pid
// ("" for a root), starting at ms milliseconds and lasting 10.
func otlSpan(tid, sid, pid, name string, ms uint64, attrs ...*commonpb.KeyValue) *tracepb.Span {
	b := func(h string) []byte {
		if h == "" {
			return nil
		}
		out, err := hex.DecodeString(h)
		if err != nil {
			panic(err)
		}
		return out
	}
	return &tracepb.Span{TraceId: b(tid), SpanId: b(sid), ParentSpanId: b(pid), Name: name,
		StartTimeUnixNano: ms * 1e6, EndTimeUnixNano: (ms + 10) * 1e6, Attributes: attrs,
		Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}}
}

func otlRequest(spans ...*tracepb.Span) *coltracepb.ExportTraceServiceRequest {
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{otlStr("service.name", "svc"), otlStr("telemetry.sdk.name", "opentelemetry")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

// otlExport posts body as user with the given headers (Content-Type
// first) and returns the status and the raw answer.
func otlExport(t *testing.T, s *apptest.Server, user string, body []byte, headers ...string) (*http.Response, []byte) {
	t.Helper()
	resp, out := s.Do(t, "POST", otlPath, user, bytes.NewReader(body), headers...)
	return resp, []byte(out)
}

func otlProto(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// otlOK exports req as protobuf to experiment exp and returns the answer.
func otlOK(t *testing.T, s *apptest.Server, user, exp string, req *coltracepb.ExportTraceServiceRequest) *coltracepb.ExportTraceServiceResponse {
	t.Helper()
	resp, out := otlExport(t, s, user, otlProto(t, req), "Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", exp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("export: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), out)
	}
	var res coltracepb.ExportTraceServiceResponse
	if err := proto.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

// otlStatus decodes an OTLP error (google.rpc.Status) of either encoding.
func otlStatus(t *testing.T, resp *http.Response, out []byte) *status.Status {
	t.Helper()
	var st status.Status
	var err error
	if resp.Header.Get("Content-Type") == "application/json" {
		err = protojson.Unmarshal(out, &st)
	} else {
		err = proto.Unmarshal(out, &st)
	}
	if err != nil {
		t.Fatalf("error body %q (%s): %v", out, resp.Header.Get("Content-Type"), err)
	}
	return &st
}

type otlTrace struct {
	TraceInfo trcInfo `json:"trace_info"`
	Spans     []struct {
		TraceID      string `json:"trace_id"`
		SpanID       string `json:"span_id"`
		ParentSpanID string `json:"parent_span_id"`
		Name         string `json:"name"`
		Attributes   []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"attributes"`
	} `json:"spans"`
}

func otlGetTrace(t *testing.T, s *apptest.Server, user, id string) (int, otlTrace, string) {
	t.Helper()
	resp, out := s.Do(t, "GET", trcV3+"/get?trace_id="+id, user, nil)
	var res struct {
		Trace otlTrace `json:"trace"`
	}
	json.Unmarshal([]byte(out), &res)
	return resp.StatusCode, res.Trace, out
}

const (
	otlT1 = "0af7651916cd43dd8448eb211c80319c"
	otlT2 = "1bf7651916cd43dd8448eb211c80319d"
)

// TestOTLPExport: spans exported as protobuf become a trace with its
// info derived from the root span, and come back from GetTrace and
// BatchGetTraces as OTLP JSON; a later export adds spans to the trace.
func TestOTLPExport(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "otlp")
		res := otlOK(t, s, admin, "1", otlRequest(
			otlSpan(otlT1, "00f067aa0ba902b7", "", "agent", 1000,
				otlStr("mlflow.spanInputs", `{"question": "Capital of France?"}`),
				otlStr("mlflow.spanOutputs", `{"answer": "Paris"}`),
				otlStr("mlflow.traceTag.team", "search"), otlStr("user.id", "ada")),
			otlSpan(otlT1, "00f067aa0ba902b8", "00f067aa0ba902b7", "llm", 1002, otlStr("mlflow.spanType", `"LLM"`)),
		))
		if res.PartialSuccess != nil {
			t.Fatalf("partial success: %v", res.PartialSuccess)
		}
		status, tr, out := otlGetTrace(t, s, admin, "tr-"+otlT1)
		if status != 200 {
			t.Fatalf("get trace: %d %s", status, out)
		}
		info := tr.TraceInfo
		if info.State != "OK" || info.RequestPreview != `{"question": "Capital of France?"}` || info.ExecutionDuration != "0.012s" ||
			info.RequestTime != "1970-01-01T00:00:01Z" || info.TraceMetadata["mlflow.trace.user"] != "ada" {
			t.Errorf("trace info: %s", out)
		}
		for k, v := range map[string]string{"mlflow.trace.spansLocation": "TRACKING_STORE", "service.name": "svc", "team": "search",
			"mlflow.artifactLocation": "mlflow-artifacts:/1/traces/tr-" + otlT1 + "/artifacts"} {
			if info.Tags[k] != v {
				t.Errorf("tag %s = %q, want %q (%v)", k, info.Tags[k], v, info.Tags)
			}
		}
		if _, ok := info.Tags["telemetry.sdk.name"]; ok {
			t.Errorf("the SDK's resource attributes became tags: %v", info.Tags)
		}
		if len(tr.Spans) != 2 || tr.Spans[0].Name != "agent" || tr.Spans[1].ParentSpanID != tr.Spans[0].SpanID || tr.Spans[0].TraceID == "" {
			t.Fatalf("spans: %s", out)
		}
		// A JSON text attribute is answered as the value it holds, as
		// MLflow's server does; mlflow.traceRequestId is added.
		attrs := map[string]string{}
		for _, a := range tr.Spans[0].Attributes {
			attrs[a.Key] = string(a.Value)
		}
		if !strings.Contains(attrs["mlflow.spanInputs"], `"kvlist_value"`) || !strings.Contains(attrs["mlflow.traceRequestId"], "tr-"+otlT1) {
			t.Errorf("root span attributes: %v", attrs)
		}

		// A second export adds a span (the trace stays one).
		otlOK(t, s, admin, "1", otlRequest(otlSpan(otlT1, "00f067aa0ba902b9", "00f067aa0ba902b7", "tool", 1005)))
		if _, tr, out := otlGetTrace(t, s, admin, "tr-"+otlT1); len(tr.Spans) != 3 {
			t.Fatalf("after a second export: %s", out)
		}
		// Spans without their root leave the trace in progress.
		otlOK(t, s, admin, "1", otlRequest(otlSpan(otlT2, "10f067aa0ba902b8", "10f067aa0ba902b7", "child", 2000)))
		if status, info, out := trcGet(t, s, admin, "tr-"+otlT2); status != 200 || info.State != "IN_PROGRESS" {
			t.Fatalf("trace without its root span: %d %s", status, out)
		}
		resp, body := s.Do(t, "GET", trcV3+"/batchGet?trace_ids=tr-"+otlT1+"&trace_ids=tr-"+otlT2+"&trace_ids=tr-none", admin, nil)
		var batch struct {
			Traces []otlTrace `json:"traces"`
		}
		json.Unmarshal([]byte(body), &batch)
		if resp.StatusCode != 200 || len(batch.Traces) != 2 || len(batch.Traces[0].Spans) != 3 || len(batch.Traces[1].Spans) != 1 {
			t.Fatalf("batchGet: %d %s", resp.StatusCode, body)
		}
		// Searching finds them; deleting a trace deletes its spans.
		if ids, _ := trcSearch(t, s, `{"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}]}`); len(ids) != 2 {
			t.Fatalf("search: %v", ids)
		}
		if resp, out := s.Do(t, "POST", trcV3+"/delete-traces", admin, strings.NewReader(`{"experiment_id": "1", "request_ids": ["tr-`+otlT1+`"]}`)); resp.StatusCode != 200 {
			t.Fatalf("delete: %d %s", resp.StatusCode, out)
		}
		var n int
		if err := s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM mlflow_trace_spans WHERE trace_id = $1`, "tr-"+otlT1).Scan(&n); err != nil || n != 0 {
			t.Fatalf("spans of a deleted trace: %d %v", n, err)
		}
	})
}

// TestOTLPEncodings: OTLP JSON (hex IDs), gzip and deflate bodies, and
// answers in the request's encoding.
func TestOTLPEncodings(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "otlp")
		doc := `{"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
			"scopeSpans": [{"scope": {"name": "x"}, "spans": [{"traceId": "` + otlT1 + `", "spanId": "00f067aa0ba902b7",
			"name": "root", "kind": 1, "startTimeUnixNano": "1000000000", "endTimeUnixNano": 1500000000,
			"attributes": [{"key": "mlflow.spanInputs", "value": {"stringValue": "{\"q\": 1}"}}], "status": {"code": 1}, "unknownField": true}]}]}]}`
		resp, out := otlExport(t, s, admin, []byte(doc), "Content-Type", "application/json; charset=utf-8", "X-Mlflow-Experiment-Id", "1")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(out)) != "{}" {
			t.Fatalf("JSON export: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), out)
		}
		if status, info, out := trcGet(t, s, admin, "tr-"+otlT1); status != 200 || info.RequestPreview != `{"q": 1}` || info.Tags["service.name"] != "json-app" || info.ExecutionDuration != "0.500s" {
			t.Fatalf("trace exported as JSON: %d %s", status, out)
		}

		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(otlProto(t, otlRequest(otlSpan(otlT2, "10f067aa0ba902b7", "", "root", 3000))))
		zw.Close()
		resp, out = otlExport(t, s, admin, gz.Bytes(), "Content-Type", "application/x-protobuf", "Content-Encoding", "gzip", "X-Mlflow-Experiment-Id", "1")
		if resp.StatusCode != 200 {
			t.Fatalf("gzip export: %d %q", resp.StatusCode, out)
		}
		if status, _, out := trcGet(t, s, admin, "tr-"+otlT2); status != 200 {
			t.Fatalf("trace exported with gzip: %d %s", status, out)
		}
	})
}

// TestOTLPRefusals: bad requests are refused with a google.rpc.Status in
// the request's encoding; spans that cannot be stored are counted in
// partial_success while the others are stored.
func TestOTLPRefusals(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "otlp")
		artExperiment(t, s, 2, "other")
		good := otlProto(t, otlRequest(otlSpan(otlT1, "00f067aa0ba902b7", "", "root", 1000)))
		var bomb bytes.Buffer
		zw := gzip.NewWriter(&bomb)
		zw.Write(make([]byte, 65<<20))
		zw.Close()
		for _, c := range []struct {
			name    string
			body    []byte
			headers []string
			status  int
		}{
			{"no experiment header", good, []string{"Content-Type", "application/x-protobuf"}, 400},
			{"bad experiment header", good, []string{"Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", "one"}, 400},
			{"unknown experiment", good, []string{"Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", "42"}, 404},
			{"wrong content type", good, []string{"Content-Type", "text/plain", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"not protobuf", []byte("\xff\xff\xff"), []string{"Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"no spans", nil, []string{"Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"not JSON", []byte("{"), []string{"Content-Type", "application/json", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"base64 IDs in JSON", []byte(`{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "CvdlGRbNQ92ESOshHIAxnA==", "spanId": "APBnqguposc="}]}]}]}`),
				[]string{"Content-Type", "application/json", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"not gzip", good, []string{"Content-Type", "application/x-protobuf", "Content-Encoding", "gzip", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"unknown encoding", good, []string{"Content-Type", "application/x-protobuf", "Content-Encoding", "br", "X-Mlflow-Experiment-Id", "1"}, 400},
			{"gzip bomb", bomb.Bytes(), []string{"Content-Type", "application/x-protobuf", "Content-Encoding", "gzip", "X-Mlflow-Experiment-Id", "1"}, 413},
		} {
			resp, out := otlExport(t, s, admin, c.body, c.headers...)
			if resp.StatusCode != c.status {
				t.Errorf("%s: %d %q, want %d", c.name, resp.StatusCode, out, c.status)
				continue
			}
			if st := otlStatus(t, resp, out); st.Message == "" || st.Code == 0 {
				t.Errorf("%s: status %v", c.name, st)
			}
		}
		// A JSON request's error is JSON.
		resp, out := otlExport(t, s, admin, []byte("{"), "Content-Type", "application/json", "X-Mlflow-Experiment-Id", "1")
		if resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(out), `"message"`) {
			t.Errorf("JSON error: %s %q", resp.Header.Get("Content-Type"), out)
		}
		if n := artCount(t, s, "mlflow_traces"); n != 0 {
			t.Fatalf("refused exports stored %d traces", n)
		}

		// Partial success: a span with a short ID and the spans of a trace
		// of another experiment are rejected, the rest stored.
		otlOK(t, s, admin, "2", otlRequest(otlSpan(otlT2, "10f067aa0ba902b7", "", "elsewhere", 1000)))
		bad := otlSpan(otlT1, "00f067aa0ba902b8", "", "short id", 1000)
		bad.SpanId = bad.SpanId[:4]
		res := otlOK(t, s, admin, "1", otlRequest(
			otlSpan(otlT1, "00f067aa0ba902b7", "", "root", 1000),
			bad,
			otlSpan(otlT2, "10f067aa0ba902b8", "10f067aa0ba902b7", "intruder", 1001),
		))
		if res.PartialSuccess == nil || res.PartialSuccess.RejectedSpans != 2 || res.PartialSuccess.ErrorMessage == "" {
			t.Fatalf("partial success: %v", res.PartialSuccess)
		}
		if _, tr, out := otlGetTrace(t, s, admin, "tr-"+otlT1); len(tr.Spans) != 1 {
			t.Fatalf("the accepted span: %s", out)
		}
		if _, tr, out := otlGetTrace(t, s, admin, "tr-"+otlT2); len(tr.Spans) != 1 || tr.TraceInfo.TraceLocation.MlflowExperiment.ExperimentID != "2" {
			t.Fatalf("the other experiment's trace: %s", out)
		}
	})
}

func artCount(t *testing.T, s *apptest.Server, table string) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOTLPRoles: exporting needs EDIT on the experiment (a developer on
// the space); reading the spans back needs READ. Anonymous callers are
// refused before the body is read, in OTLP's error format.
func TestOTLPRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "otlp")
		reader := artUser(t, s, "reader", auth.Reader)
		writer := artUser(t, s, "writer", auth.Developer)
		outsider := artUser(t, s, "outsider", auth.NoRole)
		files, err := s.Repos.Get(context.Background(), "files")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Auth.Grant(context.Background(), "outsider", files.ID, auth.Admin); err != nil {
			t.Fatal(err)
		}
		body := otlProto(t, otlRequest(otlSpan(otlT1, "00f067aa0ba902b7", "", "root", 1000)))
		for _, c := range []struct {
			who, user string
			status    int
		}{
			{"anonymous", "", 401},
			{"reader", reader, 403},
			{"user of another space", outsider, 403},
			{"writer", writer, 200},
		} {
			resp, out := otlExport(t, s, c.user, body, "Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", "1")
			if resp.StatusCode != c.status {
				t.Errorf("%s exports: %d %q, want %d", c.who, resp.StatusCode, out, c.status)
				continue
			}
			if c.status != 200 {
				if st := otlStatus(t, resp, out); st.Message == "" {
					t.Errorf("%s: no message in %v", c.who, st)
				}
			}
		}
		// Anonymous: 401 with a challenge even for a body that would not parse.
		resp, _ := otlExport(t, s, "", []byte("junk"), "Content-Type", "application/x-protobuf")
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("anonymous junk: %d %v", resp.StatusCode, resp.Header)
		}
		for _, c := range []struct {
			who, user string
			status    int
		}{
			{"anonymous", "", 401},
			{"user of another space", outsider, 403},
			{"reader", reader, 200},
			{"writer", writer, 200},
		} {
			if status, _, out := otlGetTrace(t, s, c.user, "tr-"+otlT1); status != c.status {
				t.Errorf("%s gets the trace: %d %s, want %d", c.who, status, out, c.status)
			}
			if resp, out := s.Do(t, "GET", trcV3+"/batchGet?trace_ids=tr-"+otlT1, c.user, nil); resp.StatusCode != c.status {
				t.Errorf("%s batch-gets the trace: %d %s, want %d", c.who, resp.StatusCode, out, c.status)
			}
		}
	})
}

// TestOTLPRacesStartTrace: the mlflow client exports a trace's spans over
// OTLP while it logs the trace's info with StartTraceV3; whichever comes
// first creates the trace, and neither fails.
func TestOTLPRacesStartTrace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "otlp")
		for i := range 10 {
			tid := strings.Repeat("0", 30) + hex.EncodeToString([]byte{byte(i + 1)})
			body := otlProto(t, otlRequest(otlSpan(tid, "00f067aa0ba902b7", "", "root", 1000)))
			info := `{"trace": {"trace_info": {"trace_id": "tr-` + tid + `", "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}},
				"request_time": "1970-01-01T00:00:01Z", "execution_duration": "0.010s", "state": "OK"}}}`
			errc := make(chan string, 2)
			go func() {
				resp, out := s.Do(t, "POST", otlPath, admin, bytes.NewReader(body), "Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", "1")
				if resp.StatusCode != 200 {
					errc <- "OTLP export: " + resp.Status + " " + out
					return
				}
				errc <- ""
			}()
			go func() {
				resp, out := s.Do(t, "POST", trcV3, admin, strings.NewReader(info), "Content-Type", "application/json")
				if resp.StatusCode != 200 {
					errc <- "StartTraceV3: " + resp.Status + " " + out
					return
				}
				errc <- ""
			}()
			for range 2 {
				if e := <-errc; e != "" {
					t.Errorf("trace %d: %s", i, e)
				}
			}
			if _, tr, out := otlGetTrace(t, s, admin, "tr-"+tid); len(tr.Spans) != 1 || tr.TraceInfo.Tags["mlflow.trace.spansLocation"] != "TRACKING_STORE" {
				t.Errorf("trace %d: %s", i, out)
			}
		}
	})
}

// TestLinkPromptsToTrace: the client links the prompt versions a traced
// call loaded; a traces search finds them with prompt = "name/version".
// Linking needs EDIT on the trace's experiment.
func TestLinkPromptsToTrace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "prompts")
		reader := artUser(t, s, "reader", auth.Reader)
		writer := artUser(t, s, "writer", auth.Developer)
		outsider := artUser(t, s, "outsider", auth.NoRole)
		files, err := s.Repos.Get(context.Background(), "files")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Auth.Grant(context.Background(), "outsider", files.ID, auth.Admin); err != nil {
			t.Fatal(err)
		}
		trcStart(t, s, admin, "tr-a", "1", "2024-01-01T00:00:00Z", "1s", "OK", nil, nil)
		trcStart(t, s, admin, "tr-b", "1", "2024-01-01T00:00:01Z", "1s", "OK", nil, nil)
		link := func(user, body string) (int, string) {
			resp, out := s.Do(t, "POST", "/mlflow/api/2.0/mlflow/traces/link-prompts", user, strings.NewReader(body), "Content-Type", "application/json")
			return resp.StatusCode, out
		}
		body := `{"trace_id": "tr-a", "prompt_versions": [{"name": "greeting", "version": "1"}, {"name": "summary", "version": "3"}]}`
		for _, c := range []struct {
			who, user string
			status    int
		}{
			{"anonymous", "", 401},
			{"reader", reader, 403},
			{"user of another space", outsider, 403},
			{"writer", writer, 200},
			{"writer again (idempotent)", writer, 200},
		} {
			if status, out := link(c.user, body); status != c.status {
				t.Errorf("%s links prompts: %d %s, want %d", c.who, status, out, c.status)
			}
		}
		for name, c := range map[string]struct {
			body   string
			status int
		}{
			"no trace id":     {`{"prompt_versions": [{"name": "p", "version": "1"}]}`, 400},
			"no versions":     {`{"trace_id": "tr-a"}`, 400},
			"bad version":     {`{"trace_id": "tr-a", "prompt_versions": [{"name": "p", "version": "one"}]}`, 400},
			"unknown trace":   {`{"trace_id": "tr-none", "prompt_versions": [{"name": "p", "version": "1"}]}`, 404},
			"slash in a name": {`{"trace_id": "tr-a", "prompt_versions": [{"name": "a/b", "version": "1"}]}`, 400},
		} {
			if status, out := link(admin, c.body); status != c.status {
				t.Errorf("%s: %d %s, want %d", name, status, out, c.status)
			}
		}
		loc := `"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}]`
		if ids, _ := trcSearch(t, s, `{`+loc+`, "filter": "prompt = \"summary/3\""}`); strings.Join(ids, " ") != "tr-a" {
			t.Errorf("traces of summary/3: %v", ids)
		}
		if ids, _ := trcSearch(t, s, `{`+loc+`, "filter": "prompt = \"summary/1\""}`); len(ids) != 0 {
			t.Errorf("traces of summary/1: %v", ids)
		}
		for _, f := range []string{`prompt != \"summary/3\"`, `prompt = \"summary\"`} {
			resp, out := s.Do(t, "POST", trcV3+"/search", admin, strings.NewReader(`{`+loc+`, "filter": "`+f+`"}`))
			if resp.StatusCode != 400 {
				t.Errorf("filter %s: %d %s", f, resp.StatusCode, out)
			}
		}
	})
}

// TestOTLPRunHeader: x-mlflow-run-id links the traces whose root span an
// export holds to the run; a search by run_id finds them.
func TestOTLPRunHeader(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("otlp-run")
		run := c.createRun(exp)
		req := otlRequest(otlSpan(otlT1, "00f067aa0ba902b7", "", "root", 1000), otlSpan(otlT2, "10f067aa0ba902b8", "10f067aa0ba902b7", "orphan", 1000))
		resp, out := otlExport(t, s, admin, otlProto(t, req), "Content-Type", "application/x-protobuf", "X-Mlflow-Experiment-Id", exp, "X-Mlflow-Run-Id", run.Info.RunID)
		if resp.StatusCode != 200 {
			t.Fatalf("export: %d %q", resp.StatusCode, out)
		}
		ids, _ := trcSearch(t, s, `{"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "`+exp+`"}}],
			"filter": "attributes.run_id = '`+run.Info.RunID+`'"}`)
		if strings.Join(ids, " ") != "tr-"+otlT1 {
			t.Fatalf("traces of the run: %v", ids)
		}
	})
}
