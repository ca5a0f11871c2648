package mlflow_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

func TestRuns(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("runs")

		// A run without a name gets a random one, kept in its tag; the
		// user is the caller when the client names none.
		r := c.createRun(exp)
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(r.Info.RunID) || r.Info.RunUUID != r.Info.RunID {
			t.Fatalf("run id: %+v", r.Info)
		}
		if name, _ := tagValue(r.Data.Tags, "mlflow.runName"); name == "" || name != r.Info.RunName || len(name) > 20 {
			t.Fatalf("random name %q, tag %q", r.Info.RunName, name)
		}
		if r.Info.UserID != "admin" || r.Info.Status != "RUNNING" || r.Info.LifecycleStage != "active" || r.Info.StartTime != 1000 ||
			r.Info.ArtifactURI != "mlflow-artifacts:/"+exp+"/"+r.Info.RunID+"/artifacts" || r.Outputs != nil {
			t.Fatalf("created run: %+v", r)
		}

		var out struct{ Run run }
		c.ok("POST", "/runs/create", map[string]any{"experiment_id": exp, "run_name": "named", "user_id": "someone",
			"tags": []kv{{"k", "v"}}}, &out)
		if out.Run.Info.RunName != "named" || out.Run.Info.UserID != "someone" {
			t.Fatalf("named run: %+v", out.Run.Info)
		}
		if v, _ := tagValue(out.Run.Data.Tags, "mlflow.runName"); v != "named" {
			t.Fatalf("run name tag: %+v", out.Run.Data.Tags)
		}
		c.ok("POST", "/runs/create", map[string]any{"experiment_id": exp, "tags": []kv{{"mlflow.runName", "from-tag"}}}, &out)
		if out.Run.Info.RunName != "from-tag" {
			t.Fatalf("name from tag: %+v", out.Run.Info)
		}
		c.fails("POST", "/runs/create", map[string]any{"experiment_id": exp, "run_name": "a", "tags": []kv{{"mlflow.runName", "b"}}}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/create", map[string]any{"experiment_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("POST", "/runs/create", map[string]any{"experiment_id": "x"}, 400, "INVALID_PARAMETER_VALUE")
		// No experiment id is the Default experiment.
		c.ok("POST", "/runs/create", map[string]any{}, &out)
		if out.Run.Info.ExperimentID != "0" {
			t.Fatalf("default experiment run: %+v", out.Run.Info)
		}

		// get: run_id or run_uuid, with empty inputs and outputs.
		got := c.getRun(r.Info.RunID)
		if got.Info != r.Info || got.Outputs == nil {
			t.Fatalf("get: %+v, created %+v", got, r)
		}
		var byUUID struct{ Run run }
		c.ok("GET", "/runs/get?run_uuid="+r.Info.RunID, nil, &byUUID)
		if byUUID.Run.Info.RunID != r.Info.RunID {
			t.Fatalf("get by run_uuid: %+v", byUUID.Run.Info)
		}
		c.fails("GET", "/runs/get?run_id=0123456789abcdef0123456789abcdef", nil, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("GET", "/runs/get", nil, 400, "INVALID_PARAMETER_VALUE")

		// update: fields left out keep their values; the name and its tag
		// agree, whichever was changed.
		var upd struct {
			RunInfo struct {
				Status  string `json:"status"`
				EndTime int64  `json:"end_time"`
				RunName string `json:"run_name"`
			} `json:"run_info"`
		}
		c.ok("POST", "/runs/update", map[string]any{"run_id": r.Info.RunID, "status": "FINISHED", "end_time": 2000}, &upd)
		if upd.RunInfo.Status != "FINISHED" || upd.RunInfo.EndTime != 2000 || upd.RunInfo.RunName != r.Info.RunName {
			t.Fatalf("update: %+v", upd)
		}
		c.ok("POST", "/runs/update", map[string]any{"run_id": r.Info.RunID, "run_name": "renamed", "status": 4}, &upd)
		got = c.getRun(r.Info.RunID)
		if v, _ := tagValue(got.Data.Tags, "mlflow.runName"); got.Info.RunName != "renamed" || v != "renamed" || got.Info.Status != "FAILED" || got.Info.EndTime != 2000 {
			t.Fatalf("renamed by update: %+v %+v", got.Info, got.Data.Tags)
		}
		c.ok("POST", "/runs/set-tag", map[string]any{"run_id": r.Info.RunID, "key": "mlflow.runName", "value": "by-tag"}, nil)
		if got = c.getRun(r.Info.RunID); got.Info.RunName != "by-tag" {
			t.Fatalf("renamed by tag: %+v", got.Info)
		}
		c.fails("POST", "/runs/update", map[string]any{"run_id": r.Info.RunID, "status": "DONE"}, 400, "INVALID_PARAMETER_VALUE")

		// delete and restore; a deleted run refuses every change.
		c.ok("POST", "/runs/delete", map[string]any{"run_id": r.Info.RunID}, nil)
		if got = c.getRun(r.Info.RunID); got.Info.LifecycleStage != "deleted" {
			t.Fatalf("deleted run: %+v", got.Info)
		}
		id := r.Info.RunID
		for _, req := range []struct {
			path string
			body map[string]any
		}{
			{"/runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": 1, "timestamp": 1}},
			{"/runs/log-parameter", map[string]any{"run_id": id, "key": "p", "value": "1"}},
			{"/runs/set-tag", map[string]any{"run_id": id, "key": "t", "value": "1"}},
			{"/runs/delete-tag", map[string]any{"run_id": id, "key": "k"}},
			{"/runs/log-batch", map[string]any{"run_id": id, "metrics": []map[string]any{{"key": "m", "value": 1, "timestamp": 1}}}},
			{"/runs/log-inputs", map[string]any{"run_id": id, "datasets": []any{}}},
			{"/runs/outputs", map[string]any{"run_id": id, "models": []any{}}},
			{"/runs/update", map[string]any{"run_id": id, "status": "FINISHED"}},
		} {
			msg := c.fails("POST", req.path, req.body, 400, "INVALID_PARAMETER_VALUE")
			if !strings.Contains(msg, "active") {
				t.Errorf("%s on a deleted run: %q", req.path, msg)
			}
		}
		var n int
		s.App.DB.QueryRowContext(context.Background(), `SELECT
			(SELECT COUNT(*) FROM mlflow_metrics m JOIN mlflow_runs r ON r.id = m.run_id WHERE r.run_uuid = $1) +
			(SELECT COUNT(*) FROM mlflow_params m JOIN mlflow_runs r ON r.id = m.run_id WHERE r.run_uuid = $1)`, id).Scan(&n)
		if n != 0 {
			t.Fatalf("a deleted run was written to: %d rows", n)
		}
		c.ok("POST", "/runs/restore", map[string]any{"run_id": id}, nil)
		if got = c.getRun(id); got.Info.LifecycleStage != "active" {
			t.Fatalf("restored run: %+v", got.Info)
		}
		c.ok("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": 1, "timestamp": 1}, nil)
		c.fails("POST", "/runs/delete", map[string]any{"run_id": "nope"}, 404, "RESOURCE_DOES_NOT_EXIST")

		events, err := s.App.Audit.List(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range events {
			seen[e.Action+" "+e.Subject] = true
		}
		if !seen["mlflow.run.delete "+id] || !seen["mlflow.run.restore "+id] {
			t.Errorf("run delete/restore not audited: %v", seen)
		}
	})
}

func TestRunPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("perm")
		r := c.createRun(exp)
		reader := c.as("rita", auth.Reader)
		dev := c.as("dave", auth.Developer)
		anon := client{t, s, ""}

		reader.getRun(r.Info.RunID)
		reader.fails("POST", "/runs/create", map[string]any{"experiment_id": exp}, 403, "PERMISSION_DENIED")
		reader.fails("POST", "/runs/log-metric", map[string]any{"run_id": r.Info.RunID, "key": "m", "value": 1, "timestamp": 1}, 403, "PERMISSION_DENIED")
		reader.fails("POST", "/runs/log-batch", map[string]any{"run_id": r.Info.RunID, "params": []kv{{"p", "1"}}}, 403, "PERMISSION_DENIED")
		reader.fails("POST", "/runs/log-parameter", map[string]any{"run_id": r.Info.RunID, "key": "p", "value": "1"}, 403, "PERMISSION_DENIED")
		anon.fails("GET", "/runs/get?run_id="+r.Info.RunID, nil, 401, "UNAUTHENTICATED")
		anon.fails("POST", "/runs/log-metric", map[string]any{"run_id": r.Info.RunID, "key": "m", "value": 1, "timestamp": 1}, 401, "UNAUTHENTICATED")
		if got := c.getRun(r.Info.RunID); len(got.Data.Metrics)+len(got.Data.Params) != 0 {
			t.Fatalf("refused logging was written: %+v", got.Data)
		}

		// A developer logs and updates, but deleting a run needs MANAGE.
		dev.ok("POST", "/runs/log-metric", map[string]any{"run_id": r.Info.RunID, "key": "m", "value": 1, "timestamp": 1}, nil)
		dr := dev.createRun(exp)
		if dr.Info.UserID != "dave" {
			t.Fatalf("user of a developer's run: %q", dr.Info.UserID)
		}
		dev.fails("POST", "/runs/delete", map[string]any{"run_id": dr.Info.RunID}, 403, "PERMISSION_DENIED")
	})
}

// TestAnonymous checks that anonymous callers of a private space are asked
// to authenticate before anything is looked up.
func TestAnonymous(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("private")
		id := c.createRun(exp).Info.RunID
		anon := client{t, s, ""}
		for _, req := range []struct{ method, path string }{
			{"GET", "/runs/get?run_id=" + id},
			{"GET", "/runs/get?run_id=ffffffffffffffffffffffffffffffff"},
			{"GET", "/experiments/get-by-name?experiment_name=private"},
			{"GET", "/experiments/get-by-name?experiment_name=nope"},
			{"GET", "/experiments/search?max_results=10"},
			{"GET", "/metrics/get-history?run_id=" + id + "&metric_key=m"},
			{"GET", "/logged-models/m-nope"},
		} {
			anon.fails(req.method, req.path, nil, 401, "UNAUTHENTICATED")
		}
		anon.fails("POST", "/runs/search", map[string]any{"experiment_ids": []string{exp}}, 401, "UNAUTHENTICATED")

		// In a public space anonymous callers read, and still may not write.
		space, err := s.App.Repos.Get(context.Background(), "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		space.Visibility = "public"
		if err := s.App.Repos.Update(context.Background(), space); err != nil {
			t.Fatal(err)
		}
		anon.getRun(id)
		var found struct {
			Runs []run `json:"runs"`
		}
		anon.ok("POST", "/runs/search", map[string]any{"experiment_ids": []string{exp}}, &found)
		if len(found.Runs) != 1 {
			t.Fatalf("anonymous search of a public space: %+v", found)
		}
		anon.fails("GET", "/runs/get?run_id=ffffffffffffffffffffffffffffffff", nil, 404, "RESOURCE_DOES_NOT_EXIST")
		anon.fails("POST", "/runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": 1, "timestamp": 1}, 401, "UNAUTHENTICATED")
		anon.fails("POST", "/experiments/create", map[string]any{"name": "anon"}, 401, "UNAUTHENTICATED")
	})
}
