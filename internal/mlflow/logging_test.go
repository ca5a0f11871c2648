package mlflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// counts returns how many metric points, latest metrics, params and tags
// a run has in the database.
func counts(t *testing.T, s *apptest.Server, runID string) [4]int {
	t.Helper()
	var n [4]int
	for i, table := range []string{"mlflow_metrics", "mlflow_latest_metrics", "mlflow_params", "mlflow_run_tags"} {
		err := s.App.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table+` x JOIN mlflow_runs r ON r.id = x.run_id
			WHERE r.run_uuid = $1`, runID).Scan(&n[i])
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestLogMetricParamTag(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		r := c.createRun(c.createExperiment("logging"))
		id := r.Info.RunID
		logm := func(key string, value any, ts, step int64) {
			t.Helper()
			c.ok("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": key, "value": value, "timestamp": ts, "step": step}, nil)
		}
		// The latest value is the one with the greatest step, then
		// timestamp, then value — not the last one logged.
		logm("loss", 0.5, 100, 5)
		logm("loss", 0.9, 200, 3)
		logm("loss", 0.4, 100, 5)
		logm("loss", 0.5, 100, 5) // a point logged twice is stored once
		logm("acc", "NaN", 10, 0)
		logm("big", "Infinity", 10, 0)
		c.ok("POST", "/runs/log-metric", map[string]any{"run_uuid": id, "key": "old-client", "value": 1, "timestamp": 1}, nil)

		got := c.getRun(id)
		latest := map[string]string{}
		for _, m := range got.Data.Metrics {
			latest[m.Key] = fmt.Sprintf("%s@%d/%d", m.Value, m.Step, m.Timestamp)
		}
		want := map[string]string{"loss": "0.5@5/100", "acc": `"NaN"@0/10`, "big": "1.7976931348623157e+308@0/10", "old-client": "1@0/1"}
		if fmt.Sprint(latest) != fmt.Sprint(want) {
			t.Fatalf("latest metrics: %v, want %v", latest, want)
		}
		if n := counts(t, s, id); n[0] != 6 || n[1] != 4 {
			t.Fatalf("points and latest: %v", n)
		}

		// Bad metrics.
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "m", "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": 1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": "abc", "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": 1, "timestamp": -1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "a/../b", "value": 1, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "bad!", "value": 1, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": strings.Repeat("k", 251), "value": 1, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-metric", map[string]any{"run_id": "ffffffffffffffffffffffffffffffff", "key": "m", "value": 1, "timestamp": 1}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("POST", "/runs/log-metric", map[string]any{"key": "m", "value": 1, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE")

		// Params cannot change; the same value again is fine.
		c.ok("POST", "/runs/log-parameter", map[string]any{"run_id": id, "key": "lr", "value": "0.1"}, nil)
		c.ok("POST", "/runs/log-parameter", map[string]any{"run_id": id, "key": "lr", "value": "0.1"}, nil)
		msg := c.fails("POST", "/runs/log-parameter", map[string]any{"run_id": id, "key": "lr", "value": "0.2"}, 400, "INVALID_PARAMETER_VALUE")
		if !strings.Contains(msg, "0.1") || !strings.Contains(msg, "0.2") {
			t.Fatalf("param change message: %q", msg)
		}
		// Long values are truncated, as MLflow's server does.
		c.ok("POST", "/runs/log-parameter", map[string]any{"run_id": id, "key": "long", "value": strings.Repeat("é", 7000)}, nil)
		c.ok("POST", "/runs/set-tag", map[string]any{"run_id": id, "key": "long", "value": strings.Repeat("x", 9000)}, nil)
		got = c.getRun(id)
		if v, _ := tagValue(got.Data.Params, "long"); len([]rune(v)) != 6000 {
			t.Fatalf("param value of %d characters", len([]rune(v)))
		}
		if v, _ := tagValue(got.Data.Tags, "long"); len(v) != 8000 {
			t.Fatalf("tag value of %d characters", len(v))
		}
		if v, _ := tagValue(got.Data.Params, "lr"); v != "0.1" {
			t.Fatalf("param changed to %q", v)
		}
		c.fails("POST", "/runs/log-parameter", map[string]any{"run_id": id, "key": "", "value": "x"}, 400, "INVALID_PARAMETER_VALUE")

		// Tags.
		c.ok("POST", "/runs/set-tag", map[string]any{"run_id": id, "key": "team", "value": "a"}, nil)
		c.ok("POST", "/runs/set-tag", map[string]any{"run_id": id, "key": "team", "value": "b"}, nil)
		if v, _ := tagValue(c.getRun(id).Data.Tags, "team"); v != "b" {
			t.Fatalf("tag: %q", v)
		}
		c.ok("POST", "/runs/delete-tag", map[string]any{"run_id": id, "key": "team"}, nil)
		if _, ok := tagValue(c.getRun(id).Data.Tags, "team"); ok {
			t.Fatal("tag not deleted")
		}
		c.fails("POST", "/runs/delete-tag", map[string]any{"run_id": id, "key": "team"}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("POST", "/runs/set-tag", map[string]any{"run_id": id, "key": "/abs", "value": "x"}, 400, "INVALID_PARAMETER_VALUE")
	})
}

func TestLogBatch(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("batch")
		id := c.createRun(exp).Info.RunID
		metrics := func(n int, key string) []map[string]any {
			out := make([]map[string]any, n)
			for i := range out {
				out[i] = map[string]any{"key": key, "value": float64(i) / 2, "timestamp": 1000 + i, "step": i}
			}
			return out
		}
		params := func(n int) []kv {
			out := make([]kv, n)
			for i := range out {
				out[i] = kv{fmt.Sprintf("p%d", i), "v"}
			}
			return out
		}

		// A full batch.
		c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id, "metrics": metrics(1000, "m")}, nil)
		c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id, "metrics": metrics(800, "n"), "params": params(100),
			"tags": []kv{{"t", "1"}, {"t", "2"}, {"mlflow.runName", "batched"}}}, nil)
		before := counts(t, s, id)
		if before != [4]int{1800, 2, 100, 2} {
			t.Fatalf("after two batches: %v", before)
		}
		got := c.getRun(id)
		if v, _ := tagValue(got.Data.Tags, "t"); v != "2" || got.Info.RunName != "batched" {
			t.Fatalf("batch tags: %+v %q", got.Data.Tags, got.Info.RunName)
		}
		for _, m := range got.Data.Metrics {
			if m.Key == "m" && (m.Step != 999 || string(m.Value) != "499.5") {
				t.Fatalf("latest of a batch: %v", m)
			}
		}

		// Rejected batches write nothing.
		for name, body := range map[string]map[string]any{
			"1001 metrics":               {"metrics": metrics(1001, "x")},
			"101 params":                 {"params": params(101)},
			"101 tags":                   {"tags": func() []kv { p := params(101); return p }()},
			"1001 entities":              {"metrics": metrics(1000, "x"), "params": params(1)},
			"a changed param":            {"metrics": metrics(10, "x"), "params": []kv{{"new", "1"}, {"p3", "other"}}, "tags": []kv{{"x", "y"}}},
			"duplicate param keys":       {"params": []kv{{"a", "1"}, {"a", "2"}}},
			"a bad metric name":          {"metrics": append(metrics(5, "x"), map[string]any{"key": "../x", "value": 1, "timestamp": 1})},
			"a metric without timestamp": {"metrics": append(metrics(5, "x"), map[string]any{"key": "y", "value": 1})},
			"a metric without value":     {"metrics": append(metrics(5, "x"), map[string]any{"key": "y", "timestamp": 1})},
			"a tag without key":          {"tags": []kv{{"", "v"}}},
			"a param key too long":       {"params": []kv{{strings.Repeat("k", 251), "v"}}},
		} {
			body["run_id"] = id
			msg := c.fails("POST", "/runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE")
			if after := counts(t, s, id); after != before {
				t.Fatalf("%s (%s) wrote: %v -> %v", name, msg, before, after)
			}
		}
		c.fails("POST", "/runs/log-batch", map[string]any{"run_id": "bad id!"}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-batch", map[string]any{"run_id": "0123456789abcdef0123456789abcdef"}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("POST", "/runs/log-batch", map[string]any{}, 400, "INVALID_PARAMETER_VALUE")

		// Re-sending a batch is harmless; re-sending params with their values too.
		c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id, "metrics": metrics(1000, "m"), "params": params(0)}, nil)
		c.ok("POST", "/runs/log-batch", map[string]any{"run_id": id, "params": params(100)}, nil)
		if after := counts(t, s, id); after != before {
			t.Fatalf("re-sent batch changed counts: %v -> %v", before, after)
		}
	})
}

func TestLogInputsOutputsModel(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("inputs")
		r1, r2 := c.createRun(exp), c.createRun(exp)
		ds := func(name, digest string) map[string]any {
			return map[string]any{"tags": []kv{{"mlflow.data.context", "training"}},
				"dataset": map[string]any{"name": name, "digest": digest, "source_type": "local", "source": `{"uri": "/data"}`,
					"schema": `{"mlflow_tensorspec": {}}`, "profile": `{"shape": [10]}`}}
		}
		c.ok("POST", "/runs/log-inputs", map[string]any{"run_id": r1.Info.RunID, "datasets": []any{ds("train", "d1"), ds("train", "d1"), ds("eval", "d2")}}, nil)
		c.ok("POST", "/runs/log-inputs", map[string]any{"run_id": r1.Info.RunID, "datasets": []any{ds("train", "d1")}}, nil)
		c.ok("POST", "/runs/log-inputs", map[string]any{"run_id": r2.Info.RunID, "datasets": []any{ds("train", "d1")},
			"models": []map[string]string{{"model_id": "m-0123"}}}, nil)
		got := c.getRun(r1.Info.RunID)
		if len(got.Inputs.DatasetInputs) != 2 {
			t.Fatalf("dataset inputs: %+v", got.Inputs)
		}
		in := got.Inputs.DatasetInputs[0]
		if in.Dataset["name"] != "train" || in.Dataset["digest"] != "d1" || in.Dataset["profile"] != `{"shape": [10]}` ||
			len(in.Tags) != 1 || in.Tags[0] != (kv{"mlflow.data.context", "training"}) {
			t.Fatalf("dataset input: %+v", in)
		}
		var datasets int
		s.App.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM mlflow_datasets`).Scan(&datasets)
		if datasets != 2 {
			t.Fatalf("datasets stored once per experiment: %d", datasets)
		}
		if got := c.getRun(r2.Info.RunID); len(got.Inputs.ModelInputs) != 1 || got.Inputs.ModelInputs[0].ModelID != "m-0123" {
			t.Fatalf("model inputs: %+v", got.Inputs)
		}
		bad := ds("x", strings.Repeat("d", 37))
		c.fails("POST", "/runs/log-inputs", map[string]any{"run_id": r1.Info.RunID, "datasets": []any{bad}}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-inputs", map[string]any{"run_id": r1.Info.RunID, "datasets": []any{map[string]any{"dataset": map[string]any{"name": "n"}}}}, 400, "INVALID_PARAMETER_VALUE")

		// Outputs.
		c.ok("POST", "/runs/outputs", map[string]any{"run_id": r1.Info.RunID, "models": []map[string]any{{"model_id": "m-1", "step": 3}}}, nil)
		if got := c.getRun(r1.Info.RunID); got.Outputs == nil || len(got.Outputs.ModelOutputs) != 1 || got.Outputs.ModelOutputs[0].Step != 3 {
			t.Fatalf("outputs: %+v", got.Outputs)
		}
		c.fails("POST", "/runs/outputs", map[string]any{"run_id": r1.Info.RunID}, 400, "INVALID_PARAMETER_VALUE")

		// log-model appends to the run's model history.
		model := map[string]any{"run_id": r1.Info.RunID, "artifact_path": "model", "utc_time_created": "2025-01-01 00:00:00.000000",
			"model_uuid": "abc", "flavors": map[string]any{"python_function": map[string]any{"loader_module": "x", "config": map[string]any{"a": 1}}},
			"signature": map[string]any{"inputs": "[]"}}
		mj, _ := json.Marshal(model)
		c.ok("POST", "/runs/log-model", map[string]any{"run_id": r1.Info.RunID, "model_json": string(mj)}, nil)
		c.ok("POST", "/runs/log-model", map[string]any{"run_id": r1.Info.RunID, "model_json": string(mj)}, nil)
		history, _ := tagValue(c.getRun(r1.Info.RunID).Data.Tags, "mlflow.log-model.history")
		var entries []map[string]any
		if err := json.Unmarshal([]byte(history), &entries); err != nil || len(entries) != 2 {
			t.Fatalf("model history %q: %v", history, err)
		}
		if entries[0]["artifact_path"] != "model" || entries[0]["signature"] != nil ||
			entries[0]["flavors"].(map[string]any)["python_function"].(map[string]any)["config"] != nil {
			t.Fatalf("model history entry: %v", entries[0])
		}
		c.fails("POST", "/runs/log-model", map[string]any{"run_id": r1.Info.RunID, "model_json": `{"flavors": {}}`}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/log-model", map[string]any{"run_id": r1.Info.RunID, "model_json": `nope`}, 400, "INVALID_PARAMETER_VALUE")
	})
}

// TestConcurrentLogging has several writers log overlapping batches to one
// run at once: no request fails, every point is stored once, and the
// latest value is the greatest step's.
func TestConcurrentLogging(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		id := c.createRun(c.createExperiment("concurrent")).Info.RunID
		const writers, batches = 4, 8
		errs := make(chan string, writers*batches)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for b := 0; b < batches; b++ {
					ms := make([]map[string]any, 0, 200)
					for i := 0; i < 100; i++ {
						step := b*100 + i
						// Every writer logs the same "shared" points, in its own order, and its own "own" points.
						ms = append(ms, map[string]any{"key": "shared", "step": step, "timestamp": step, "value": float64(step)},
							map[string]any{"key": fmt.Sprintf("own-%d", (w+i)%writers), "step": step, "timestamp": step, "value": float64(w)})
					}
					if w%2 == 1 {
						for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
							ms[i], ms[j] = ms[j], ms[i]
						}
					}
					body, _ := json.Marshal(map[string]any{"run_id": id, "metrics": ms, "params": []kv{{"p", "same"}}})
					resp, out := s.Do(t, "POST", api+"/runs/log-batch", admin, bytes.NewReader(body), "Content-Type", "application/json")
					if resp.StatusCode != 200 {
						errs <- out
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("concurrent batch failed: %s", e)
		}
		if n := counts(t, s, id); n[0] != batches*100+writers*batches*100 || n[1] != 1+writers || n[2] != 1 {
			t.Fatalf("counts after concurrent logging: %v", n)
		}
		for _, m := range c.getRun(id).Data.Metrics {
			if m.Key == "shared" && m.Step != batches*100-1 {
				t.Fatalf("latest shared point: %v", m)
			}
		}
	})
}
