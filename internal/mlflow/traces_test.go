package mlflow_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// Tests of the trace endpoints, with requests shaped as MLflow 3.17's
// client sends them. Helpers are prefixed "trc".

const trcV3 = "/mlflow/api/3.0/mlflow/traces"

type trcInfo struct {
	TraceID       string `json:"trace_id"`
	TraceLocation struct {
		Type             string `json:"type"`
		MlflowExperiment struct {
			ExperimentID string `json:"experiment_id"`
		} `json:"mlflow_experiment"`
	} `json:"trace_location"`
	RequestTime       string            `json:"request_time"`
	ExecutionDuration string            `json:"execution_duration"`
	State             string            `json:"state"`
	RequestPreview    string            `json:"request_preview"`
	TraceMetadata     map[string]string `json:"trace_metadata"`
	Tags              map[string]string `json:"tags"`
}

// trcStart logs a trace as the client's exporter does and returns the
// stored info.
func trcStart(t *testing.T, s *apptest.Server, user, id, exp, at, duration, state string, metadata, tags map[string]string) trcInfo {
	t.Helper()
	md, _ := json.Marshal(metadata)
	tg, _ := json.Marshal(tags)
	body := `{"trace": {"trace_info": {"trace_id": "` + id + `", "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "` + exp + `"}},
		"request_time": "` + at + `", "execution_duration": "` + duration + `", "state": "` + state + `",
		"trace_metadata": ` + string(md) + `, "tags": ` + string(tg) + `, "request_preview": "{\"x\": 1}", "response_preview": "2"}}}`
	resp, out := s.Do(t, "POST", trcV3, user, strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("start trace %s: %d %s", id, resp.StatusCode, out)
	}
	var res struct {
		Trace struct {
			TraceInfo trcInfo `json:"trace_info"`
		} `json:"trace"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("start trace: %v in %s", err, out)
	}
	return res.Trace.TraceInfo
}

func trcGet(t *testing.T, s *apptest.Server, user, id string) (int, trcInfo, string) {
	t.Helper()
	resp, out := s.Do(t, "GET", trcV3+"/"+id, user, nil)
	var res struct {
		Trace struct {
			TraceInfo trcInfo `json:"trace_info"`
		} `json:"trace"`
	}
	json.Unmarshal([]byte(out), &res)
	return resp.StatusCode, res.Trace.TraceInfo, out
}

// trcSearch runs SearchTracesV3 and returns the IDs found and the next
// page token.
func trcSearch(t *testing.T, s *apptest.Server, body string) ([]string, string) {
	t.Helper()
	resp, out := s.Do(t, "POST", trcV3+"/search", admin, strings.NewReader(body))
	if resp.StatusCode != 200 {
		t.Fatalf("search %s: %d %s", body, resp.StatusCode, out)
	}
	var res struct {
		Traces        []trcInfo `json:"traces"`
		NextPageToken string    `json:"next_page_token"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tr := range res.Traces {
		ids = append(ids, tr.TraceID)
	}
	return ids, res.NextPageToken
}

func TestTraces(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "traced")
		run := "0123456789abcdef0123456789abcdef"
		artExec(t, s, `INSERT INTO mlflow_runs (run_uuid, experiment_id, artifact_uri) VALUES ($1, 1, $2)`, run, "mlflow-artifacts:/1/"+run+"/artifacts")

		a := trcStart(t, s, admin, "tr-aaa", "1", "2023-11-14T22:13:20.123Z", "1.500s", "OK",
			map[string]string{"mlflow.sourceRun": run, "mlflow.trace_schema.version": "3"},
			map[string]string{"team": "search", "mlflow.artifactLocation": "mlflow-artifacts:/2/elsewhere", "mlflow.traceName": "predict"})
		if a.TraceID != "tr-aaa" || a.TraceLocation.Type != "MLFLOW_EXPERIMENT" || a.TraceLocation.MlflowExperiment.ExperimentID != "1" ||
			a.RequestTime != "2023-11-14T22:13:20.123Z" || a.ExecutionDuration != "1.500s" || a.State != "OK" || a.RequestPreview != `{"x": 1}` ||
			a.TraceMetadata["mlflow.sourceRun"] != run || a.Tags["team"] != "search" || a.Tags["mlflow.traceName"] != "predict" {
			t.Fatalf("started trace: %+v", a)
		}
		// The server, not the client, says where the spans go.
		if a.Tags["mlflow.artifactLocation"] != "mlflow-artifacts:/1/traces/tr-aaa/artifacts" {
			t.Fatalf("artifact location: %q", a.Tags["mlflow.artifactLocation"])
		}
		trcStart(t, s, admin, "tr-bbb", "1", "2023-11-14T22:13:21Z", "0.020s", "ERROR", nil, map[string]string{"team": "ranking"})
		trcStart(t, s, admin, "tr-ccc", "1", "2023-11-14T22:13:22.5+01:00", "3s", "OK", nil, nil)
		// A retried StartTrace updates the trace rather than failing.
		trcStart(t, s, admin, "tr-bbb", "1", "2023-11-14T22:13:21Z", "0.025s", "ERROR", nil, map[string]string{"retry": "1"})

		status, got, out := trcGet(t, s, admin, "tr-bbb")
		if status != 200 || got.ExecutionDuration != "0.025s" || got.Tags["team"] != "ranking" || got.Tags["retry"] != "1" {
			t.Fatalf("get: %d %s", status, out)
		}
		status, _, out = trcGet(t, s, admin, "tr-nope")
		if status != 404 || artCode(out) != "RESOURCE_DOES_NOT_EXIST" || !strings.Contains(out, "Trace with ID 'tr-nope' not found") {
			t.Fatalf("unknown trace: %d %s", status, out)
		}

		// Search: newest first, in pages, with filters.
		loc := `"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}]`
		ids, token := trcSearch(t, s, `{`+loc+`, "max_results": 2}`)
		if strings.Join(ids, " ") != "tr-bbb tr-aaa" || token == "" {
			t.Fatalf("page 1: %v %q", ids, token)
		}
		ids, token = trcSearch(t, s, `{`+loc+`, "max_results": 2, "page_token": "`+token+`"}`)
		if strings.Join(ids, " ") != "tr-ccc" || token != "" {
			// tr-ccc started at 21:13:22.5 UTC, the oldest.
			t.Fatalf("page 2: %v %q", ids, token)
		}
		for filter, want := range map[string]string{
			"tag.team = 'search'":                         "tr-aaa",
			"attributes.status = 'ERROR'":                 "tr-bbb",
			"metadata.`mlflow.sourceRun` = '" + run + "'": "tr-aaa",
			"attributes.execution_time_ms > 1000":         "tr-aaa tr-ccc",
			"name = 'predict'":                            "tr-aaa",
		} {
			f, _ := json.Marshal(filter)
			ids, _ := trcSearch(t, s, `{`+loc+`, "filter": `+string(f)+`, "order_by": ["timestamp_ms DESC"]}`)
			if strings.Join(ids, " ") != want {
				t.Errorf("filter %s: %v, want %s", filter, ids, want)
			}
		}
		resp, out := s.Do(t, "POST", trcV3+"/search", admin, strings.NewReader(`{`+loc+`, "filter": "tag.team = "}`))
		if resp.StatusCode != 400 || artCode(out) != "INVALID_PARAMETER_VALUE" {
			t.Fatalf("bad filter: %d %s", resp.StatusCode, out)
		}
		resp, out = s.Do(t, "POST", trcV3+"/search", admin, strings.NewReader(`{`+loc+`, "max_results": 501}`))
		if resp.StatusCode != 400 {
			t.Fatalf("too many results: %d %s", resp.StatusCode, out)
		}

		// Tags, on the v2 path the client uses.
		tags := "/mlflow/api/2.0/mlflow/traces/tr-aaa/tags"
		if resp, out := s.Do(t, "PATCH", tags, admin, strings.NewReader(`{"key": "reviewed", "value": "yes"}`)); resp.StatusCode != 200 {
			t.Fatalf("set tag: %d %s", resp.StatusCode, out)
		}
		if _, got, _ := trcGet(t, s, admin, "tr-aaa"); got.Tags["reviewed"] != "yes" {
			t.Fatalf("tag not set: %v", got.Tags)
		}
		if resp, out := s.Do(t, "DELETE", tags, admin, strings.NewReader(`{"key": "reviewed"}`)); resp.StatusCode != 200 {
			t.Fatalf("delete tag: %d %s", resp.StatusCode, out)
		}
		if resp, out := s.Do(t, "DELETE", tags, admin, strings.NewReader(`{"key": "reviewed"}`)); resp.StatusCode != 404 || artCode(out) != "RESOURCE_DOES_NOT_EXIST" {
			t.Fatalf("delete missing tag: %d %s", resp.StatusCode, out)
		}
		for _, body := range []string{`{"key": "mlflow.artifactLocation", "value": "x"}`, `{"key": "mlflow.trace.spansLocation", "value": "TRACKING_STORE"}`, `{"key": "../x", "value": "x"}`, `{"value": "x"}`} {
			if resp, out := s.Do(t, "PATCH", tags, admin, strings.NewReader(body)); resp.StatusCode != 400 || artCode(out) != "INVALID_PARAMETER_VALUE" {
				t.Fatalf("set tag %s: %d %s", body, resp.StatusCode, out)
			}
		}
		if resp, _ := s.Do(t, "PATCH", trcV3+"/tr-nope/tags", admin, strings.NewReader(`{"key": "k", "value": "v"}`)); resp.StatusCode != 404 {
			t.Fatalf("tag of unknown trace: %d", resp.StatusCode)
		}

		// Batch get keeps the order asked and skips what does not exist.
		resp, out = s.Do(t, "POST", trcV3+"/batchGetInfos", admin, strings.NewReader(`{"trace_ids": ["tr-ccc", "tr-nope", "tr-aaa"]}`))
		var batch struct {
			TraceInfos []trcInfo `json:"trace_infos"`
		}
		json.Unmarshal([]byte(out), &batch)
		if resp.StatusCode != 200 || len(batch.TraceInfos) != 2 || batch.TraceInfos[0].TraceID != "tr-ccc" || batch.TraceInfos[1].TraceID != "tr-aaa" {
			t.Fatalf("batch get: %d %s", resp.StatusCode, out)
		}

		// Links to runs.
		resp, out = s.Do(t, "POST", "/mlflow/api/2.0/mlflow/traces/link-to-run", admin, strings.NewReader(`{"trace_ids": ["tr-bbb", "tr-ccc"], "run_id": "`+run+`"}`))
		if resp.StatusCode != 200 {
			t.Fatalf("link: %d %s", resp.StatusCode, out)
		}
		var links int
		s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM mlflow_trace_runs WHERE run_uuid = $1`, run).Scan(&links)
		if links != 2 {
			t.Fatalf("links: %d", links)
		}
		if resp, _ := s.Do(t, "POST", "/mlflow/api/2.0/mlflow/traces/link-to-run", admin, strings.NewReader(`{"trace_ids": ["tr-bbb"], "run_id": "ffff"}`)); resp.StatusCode != 404 {
			t.Fatalf("link to unknown run: %d", resp.StatusCode)
		}

		// Deleting traces deletes their span data too.
		artPut(t, s, "1/traces/tr-aaa/artifacts/traces.json", `{"spans": []}`)
		for _, body := range []string{`{"experiment_id": "1"}`, `{"experiment_id": "1", "max_timestamp_millis": 1, "request_ids": ["tr-aaa"]}`,
			`{"experiment_id": "1", "max_traces": 1, "request_ids": ["tr-aaa"]}`, `{"experiment_id": "1", "max_timestamp_millis": 1, "max_traces": 0}`} {
			if resp, out := s.Do(t, "POST", "/mlflow/api/2.0/mlflow/traces/delete-traces", admin, strings.NewReader(body)); resp.StatusCode != 400 || artCode(out) != "INVALID_PARAMETER_VALUE" {
				t.Fatalf("delete %s: %d %s", body, resp.StatusCode, out)
			}
		}
		resp, out = s.Do(t, "POST", "/mlflow/api/2.0/mlflow/traces/delete-traces", admin, strings.NewReader(`{"experiment_id": "1", "request_ids": ["tr-aaa", "tr-nope"]}`))
		if resp.StatusCode != 200 || strings.TrimSpace(out) != `{"traces_deleted":1}` {
			t.Fatalf("delete by id: %d %s", resp.StatusCode, out)
		}
		if status, _, _ := trcGet(t, s, admin, "tr-aaa"); status != 404 {
			t.Fatalf("deleted trace: %d", status)
		}
		if resp, _ := s.Do(t, "GET", artRoot+"/1/traces/tr-aaa/artifacts/traces.json", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("span data of a deleted trace: %d", resp.StatusCode)
		}
		// The oldest first, at most max_traces of them (tr-ccc is the oldest).
		resp, out = s.Do(t, "POST", trcV3+"/delete-traces", admin, strings.NewReader(`{"experiment_id": "1", "max_timestamp_millis": 9999999999999, "max_traces": 1}`))
		if resp.StatusCode != 200 || strings.TrimSpace(out) != `{"traces_deleted":1}` {
			t.Fatalf("delete oldest: %d %s", resp.StatusCode, out)
		}
		if ids, _ := trcSearch(t, s, `{`+loc+`}`); strings.Join(ids, " ") != "tr-bbb" {
			t.Fatalf("after deleting the oldest: %v", ids)
		}
	})
}

func TestTraceRefusals(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		artExperiment(t, s, 1, "traced")
		reader := artUser(t, s, "reader", auth.Reader)
		dev := artUser(t, s, "dev", auth.Developer)
		trcStart(t, s, dev, "tr-dev", "1", "2024-01-01T00:00:00Z", "1s", "OK", nil, nil)
		body := `{"trace": {"trace_info": {"trace_id": "tr-r", "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "1"}}, "request_time": "2024-01-01T00:00:00Z"}}}`
		if resp, out := s.Do(t, "POST", trcV3, reader, strings.NewReader(body)); resp.StatusCode != 403 || artCode(out) != "PERMISSION_DENIED" {
			t.Fatalf("reader starts a trace: %d %s", resp.StatusCode, out)
		}
		if resp, _ := s.Do(t, "POST", trcV3, "", strings.NewReader(body)); resp.StatusCode != 401 {
			t.Fatalf("anonymous starts a trace: %d", resp.StatusCode)
		}
		if status, _, out := trcGet(t, s, reader, "tr-dev"); status != 200 {
			t.Fatalf("reader reads a trace: %d %s", status, out)
		}
		if status, _, _ := trcGet(t, s, "", "tr-dev"); status != 401 {
			t.Fatalf("anonymous reads a trace: %d", status)
		}
		if resp, _ := s.Do(t, "PATCH", trcV3+"/tr-dev/tags", reader, strings.NewReader(`{"key": "k", "value": "v"}`)); resp.StatusCode != 403 {
			t.Fatalf("reader tags a trace: %d", resp.StatusCode)
		}
		// Deleting traces needs MANAGE.
		if resp, _ := s.Do(t, "POST", trcV3+"/delete-traces", dev, strings.NewReader(`{"experiment_id": "1", "request_ids": ["tr-dev"]}`)); resp.StatusCode != 403 {
			t.Fatalf("developer deletes traces: %d", resp.StatusCode)
		}
		for name, body := range map[string]string{
			"no trace":          `{}`,
			"no experiment":     `{"trace": {"trace_info": {"trace_id": "tr-x", "request_time": "2024-01-01T00:00:00Z"}}}`,
			"bad time":          `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "1"}}, "request_time": "yesterday"}}}`,
			"bad duration":      `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "1"}}, "request_time": "2024-01-01T00:00:00Z", "execution_duration": "1e9s"}}}`,
			"bad state":         `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "1"}}, "request_time": "2024-01-01T00:00:00Z", "state": "FINE"}}}`,
			"slash in id":       `{"trace": {"trace_info": {"trace_id": "tr/x", "trace_location": {"mlflow_experiment": {"experiment_id": "1"}}, "request_time": "2024-01-01T00:00:00Z"}}}`,
			"bad experiment id": `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "one"}}, "request_time": "2024-01-01T00:00:00Z"}}}`,
		} {
			if resp, out := s.Do(t, "POST", trcV3, admin, strings.NewReader(body)); resp.StatusCode != 400 {
				t.Errorf("%s: %d %s", name, resp.StatusCode, out)
			}
		}
		body = `{"trace": {"trace_info": {"trace_id": "tr-x", "trace_location": {"mlflow_experiment": {"experiment_id": "42"}}, "request_time": "2024-01-01T00:00:00Z"}}}`
		if resp, out := s.Do(t, "POST", trcV3, admin, strings.NewReader(body)); resp.StatusCode != 404 || artCode(out) != "RESOURCE_DOES_NOT_EXIST" {
			t.Fatalf("unknown experiment: %d %s", resp.StatusCode, out)
		}
	})
}
