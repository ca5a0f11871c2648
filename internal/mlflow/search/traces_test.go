package search

import (
	"slices"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

func TestTraces(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		mustExec(t, db, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (1, 'e1', 'x', 0, 0), (2, 'e2', 'x', 0, 0)`)
		traces := []struct {
			id         string
			exp        int
			at, dur    int64
			state, crq string
			metadata   string
			tags       map[string]string
		}{
			{"tr-1", 1, 1000, 50, "OK", "c1", `{"mlflow.sourceRun": "run1", "mlflow.user": "alice", "k\"q": "v1", "$x": "dollar"}`,
				map[string]string{"mlflow.traceName": "predict", "env": "prod"}},
			{"tr-2", 1, 1000, 200, "ERROR", "", `{"mlflow.sourceRun": "run2", "mlflow.user": "Bob"}`,
				map[string]string{"mlflow.traceName": "train"}},
			{"tr-3", 1, 2000, 10, "OK", "c3", `{}`, map[string]string{"env": "dev"}},
			{"tr-4", 2, 3000, 10, "IN_PROGRESS", "", `{"mlflow.sourceRun": "run1"}`, nil},
		}
		for _, tr := range traces {
			mustExec(t, db, `INSERT INTO mlflow_traces (trace_id, experiment_id, client_request_id, request_time, execution_duration, state, trace_metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				tr.id, tr.exp, tr.crq, tr.at, tr.dur, tr.state, tr.metadata)
			for k, v := range tr.tags {
				mustExec(t, db, `INSERT INTO mlflow_trace_tags (trace_id, key, value) VALUES ($1, $2, $3)`, tr.id, k, v)
			}
		}
		// tr-3 was linked to run9 after the fact (link-to-run).
		mustExec(t, db, `INSERT INTO mlflow_runs (run_uuid, experiment_id, artifact_uri) VALUES ('run9', 1, 'x')`)
		mustExec(t, db, `INSERT INTO mlflow_trace_runs (trace_id, run_uuid) VALUES ('tr-3', 'run9')`)
		tests := []struct {
			filter string
			order  []string
			exps   []int64
			want   []string
		}{
			{"run_id = 'run9'", nil, []int64{1, 2}, []string{"tr-3"}},
			{"metadata.`mlflow.sourceRun` = 'run9'", nil, []int64{1, 2}, []string{}},
			{"", nil, []int64{1}, []string{"tr-3", "tr-1", "tr-2"}},
			{"", nil, []int64{1, 2}, []string{"tr-4", "tr-3", "tr-1", "tr-2"}},
			{"", nil, nil, []string{}},
			{"timestamp_ms > 1000", nil, []int64{1}, []string{"tr-3"}},
			{"attributes.timestamp >= 1000 AND trace.execution_time_ms < 100", nil, []int64{1}, []string{"tr-3", "tr-1"}},
			{"end_time > 1100", nil, []int64{1}, []string{"tr-3", "tr-2"}},
			{"end_time_ms <= 1050", nil, []int64{1}, []string{"tr-1"}},
			{"status = 'OK'", nil, []int64{1}, []string{"tr-3", "tr-1"}},
			{"attributes.status IN ('ERROR', 'IN_PROGRESS')", nil, []int64{1, 2}, []string{"tr-4", "tr-2"}},
			{"status NOT IN ('OK')", nil, []int64{1}, []string{"tr-2"}},
			{"request_id = 'tr-2'", nil, []int64{1}, []string{"tr-2"}},
			{"request_id IN ('tr-1', 'tr-4')", nil, []int64{1}, []string{"tr-1"}},
			{"client_request_id = 'c1'", nil, []int64{1}, []string{"tr-1"}},
			{"client_request_id != 'c1'", nil, []int64{1}, []string{"tr-3"}},
			{"name = 'predict'", nil, []int64{1}, []string{"tr-1"}},
			{"trace.name LIKE 'tr%'", nil, []int64{1}, []string{"tr-2"}},
			{"tags.env = 'prod'", nil, []int64{1}, []string{"tr-1"}},
			{"tags.env IS NULL", nil, []int64{1}, []string{"tr-2"}},
			{"tags.env IS NOT NULL", nil, []int64{1}, []string{"tr-3", "tr-1"}},
			{"tag.`mlflow.traceName` != 'predict'", nil, []int64{1}, []string{"tr-2"}},
			{"run_id = 'run1'", nil, []int64{1, 2}, []string{"tr-4", "tr-1"}},
			{"metadata.`mlflow.sourceRun` = 'run2'", nil, []int64{1}, []string{"tr-2"}},
			{"metadata.mlflow.user ILIKE 'b%'", nil, []int64{1}, []string{"tr-2"}},
			{"metadata.mlflow.user LIKE 'b%'", nil, []int64{1}, []string{}},
			{"metadata.`mlflow.user` IS NULL", nil, []int64{1}, []string{"tr-3"}},
			{"request_metadata.`mlflow.user` IS NOT NULL", nil, []int64{1}, []string{"tr-1", "tr-2"}},
			{`metadata.'k"q' = 'v1'`, nil, []int64{1}, []string{"tr-1"}},
			{"metadata.`$x` = 'dollar'", nil, []int64{1}, []string{"tr-1"}},
			{"metadata.`mlflow.user` != 'alice'", nil, []int64{1}, []string{"tr-2"}},
			{"", []string{"timestamp_ms ASC"}, []int64{1}, []string{"tr-1", "tr-2", "tr-3"}},
			{"", []string{"execution_time DESC"}, []int64{1}, []string{"tr-2", "tr-1", "tr-3"}},
			{"", []string{"request_id DESC"}, []int64{1}, []string{"tr-3", "tr-2", "tr-1"}},
			{"", []string{"status", "request_id DESC"}, []int64{1}, []string{"tr-2", "tr-3", "tr-1"}},
			{"", []string{"name"}, []int64{1}, []string{"tr-1", "tr-2", "tr-3"}},
			{"", []string{"tags.env DESC"}, []int64{1}, []string{"tr-1", "tr-3", "tr-2"}},
			{"", []string{"metadata.`mlflow.user`"}, []int64{1}, []string{"tr-2", "tr-1", "tr-3"}},
			{"", []string{"run_id DESC"}, []int64{1, 2}, []string{"tr-2", "tr-4", "tr-1", "tr-3"}},
			{"", []string{"experiment_id DESC", "end_time"}, []int64{1, 2}, []string{"tr-4", "tr-1", "tr-2", "tr-3"}},
		}
		for _, tt := range tests {
			q, err := Traces(TracesRequest{ExperimentIDs: tt.exps, Filter: tt.filter, OrderBy: tt.order, Postgres: db.Dialect == meta.Postgres})
			if err != nil {
				t.Errorf("%q %v: %v", tt.filter, tt.order, err)
				continue
			}
			if got := queryStrings(t, db, q); !slices.Equal(got, tt.want) {
				t.Errorf("%q %v: got %v, want %v", tt.filter, tt.order, got, tt.want)
			}
		}
	})
}

func TestLoggedModels(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		mustExec(t, db, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (1, 'e1', 'x', 0, 0), (2, 'e2', 'x', 0, 0)`)
		mustExec(t, db, `INSERT INTO mlflow_runs (id, run_uuid, experiment_id, artifact_uri) VALUES (1, 'r1', 1, 'a')`)
		models := []struct {
			id, name, stage, run, typ string
			exp                       int
			created                   int64
		}{
			{"m-1", "model-a", "active", "r1", "sklearn", 1, 100},
			{"m-2", "model-b", "active", "", "", 1, 200},
			{"m-3", "model-d", "deleted", "", "", 1, 400},
			{"m-4", "model-c", "active", "", "", 1, 300},
			{"m-5", "model-e", "active", "", "", 2, 500},
		}
		for _, m := range models {
			mustExec(t, db, `INSERT INTO mlflow_logged_models (id, experiment_id, name, artifact_location, lifecycle_stage, source_run_id, model_type, creation_timestamp, last_updated_timestamp) VALUES ($1, $2, $3, 'x', $4, $5, $6, $7, $7)`,
				m.id, m.exp, m.name, m.stage, m.run, m.typ, m.created)
		}
		mustExec(t, db, `INSERT INTO mlflow_logged_model_params (model_id, key, value) VALUES ('m-1', 'alpha', '0.1'), ('m-2', 'alpha', '0.2')`)
		mustExec(t, db, `INSERT INTO mlflow_logged_model_tags (model_id, key, value) VALUES ('m-1', 't', 'x')`)
		for i, p := range []struct {
			model, ds, digest string
			ts                int64
			v                 float64
		}{
			{"m-1", "ds1", "d1", 10, 0.8},
			{"m-1", "ds2", "d2", 20, 0.9},
			{"m-2", "ds1", "d1", 5, 0.85},
			{"m-2", "ds1", "d1x", 6, 0.5},
		} {
			mustExec(t, db, `INSERT INTO mlflow_metrics (run_id, key, step, timestamp, value, model_id, dataset_name, dataset_digest) VALUES (1, 'acc', $1, $2, $3, $4, $5, $6)`,
				i, p.ts, p.v, p.model, p.ds, p.digest)
		}
		ds := func(pairs ...string) []LoggedModelDataset {
			var out []LoggedModelDataset
			for i := 0; i < len(pairs); i += 2 {
				out = append(out, LoggedModelDataset{DatasetName: pairs[i], DatasetDigest: pairs[i+1]})
			}
			return out
		}
		tests := []struct {
			filter   string
			datasets []LoggedModelDataset
			order    []LoggedModelOrder
			want     []string
		}{
			{"", nil, nil, []string{"m-4", "m-2", "m-1"}},
			{"metrics.acc > 0.85", nil, nil, []string{"m-1"}},
			{"metrics.acc > 0.85", ds("ds1", ""), nil, []string{}},
			{"metrics.acc >= 0.85", ds("ds1", ""), nil, []string{"m-2"}},
			{"metrics.acc >= 0.85", ds("ds1", "d1", "ds2", ""), nil, []string{"m-2", "m-1"}},
			{"metrics.acc < 0.6", ds("ds1", "d1"), nil, []string{}},
			{"metrics.acc < 0.6", ds("ds1", "d1x"), nil, []string{"m-2"}},
			{"", ds("ds2", ""), nil, []string{"m-1"}},
			// m-2's latest point is 0.5 (timestamp 6).
			{"", nil, []LoggedModelOrder{{FieldName: "metrics.acc"}}, []string{"m-1", "m-2", "m-4"}},
			{"", nil, []LoggedModelOrder{{FieldName: "metrics.acc", Ascending: true, DatasetName: "ds1"}}, []string{"m-2", "m-1", "m-4"}},
			{"", nil, []LoggedModelOrder{{FieldName: "metrics.acc", DatasetName: "ds1", DatasetDigest: "d1"}}, []string{"m-2", "m-1", "m-4"}},
			{"name LIKE 'model-%'", nil, []LoggedModelOrder{{FieldName: "name"}}, []string{"m-4", "m-2", "m-1"}},
			{"", nil, []LoggedModelOrder{{FieldName: "creation_time", Ascending: true}}, []string{"m-1", "m-2", "m-4"}},
			{"", nil, []LoggedModelOrder{{FieldName: "model_id", Ascending: true}}, []string{"m-1", "m-2", "m-4"}},
			{"params.alpha = '0.1'", nil, nil, []string{"m-1"}},
			{"params.alpha IN ('0.1', '0.2')", nil, nil, []string{"m-2", "m-1"}},
			{"tags.t = 'x'", nil, nil, []string{"m-1"}},
			{"attributes.source_run_id = 'r1'", nil, nil, []string{"m-1"}},
			{"model_type != 'sklearn'", nil, nil, []string{}},
			{"creation_timestamp > 150", nil, nil, []string{"m-4", "m-2"}},
			{"last_updated_timestamp <= 200", nil, nil, []string{"m-2", "m-1"}},
			{"model_id IN ('m-1', 'm-3')", nil, nil, []string{"m-1"}},
		}
		for _, tt := range tests {
			q, err := LoggedModels(LoggedModelsRequest{ExperimentIDs: []int64{1}, Filter: tt.filter, Datasets: tt.datasets, OrderBy: tt.order})
			if err != nil {
				t.Errorf("%q: %v", tt.filter, err)
				continue
			}
			if got := queryStrings(t, db, q); !slices.Equal(got, tt.want) {
				t.Errorf("%q %v %+v: got %v, want %v", tt.filter, tt.datasets, tt.order, got, tt.want)
			}
		}
	})
}
