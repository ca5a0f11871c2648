package search

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
)

// fixture is the data of testdata/oracle/oracle.json, as MLflow stored
// it (see oracle.py), and what the tests load into arca's schema.
type fixture struct {
	Experiments []struct {
		ID               int64             `json:"id"`
		Name             string            `json:"name"`
		ArtifactLocation string            `json:"artifact_location"`
		LifecycleStage   string            `json:"lifecycle_stage"`
		CreationTime     int64             `json:"creation_time"`
		LastUpdateTime   int64             `json:"last_update_time"`
		Tags             map[string]string `json:"tags"`
	} `json:"experiments"`
	Runs []struct {
		RunUUID        string            `json:"run_uuid"`
		Name           string            `json:"name"`
		ExperimentID   int64             `json:"experiment_id"`
		UserID         string            `json:"user_id"`
		Status         string            `json:"status"`
		StartTime      *int64            `json:"start_time"`
		EndTime        *int64            `json:"end_time"`
		LifecycleStage string            `json:"lifecycle_stage"`
		ArtifactURI    string            `json:"artifact_uri"`
		Params         map[string]string `json:"params"`
		Tags           map[string]string `json:"tags"`
		Metrics        map[string][]struct {
			Value     jsonFloat `json:"value"`
			Step      int64     `json:"step"`
			Timestamp int64     `json:"timestamp"`
		} `json:"metrics"`
		Inputs []struct{ Name, Digest, Context string } `json:"inputs"`
	} `json:"runs"`
	Models []struct {
		Name                 string            `json:"name"`
		CreationTimestamp    int64             `json:"creation_timestamp"`
		LastUpdatedTimestamp int64             `json:"last_updated_timestamp"`
		Tags                 map[string]string `json:"tags"`
		Versions             []struct {
			Version              int64             `json:"version"`
			Source               string            `json:"source"`
			RunID                string            `json:"run_id"`
			CreationTimestamp    int64             `json:"creation_timestamp"`
			LastUpdatedTimestamp int64             `json:"last_updated_timestamp"`
			Deleted              bool              `json:"deleted"`
			Tags                 map[string]string `json:"tags"`
		} `json:"versions"`
	} `json:"models"`
	Cases []oracleCase `json:"cases"`
}

type oracleCase struct {
	Entity      string   `json:"entity"`
	Filter      string   `json:"filter"`
	OrderBy     []string `json:"order_by"`
	ViewType    string   `json:"view_type"`
	Experiments []string `json:"experiments"`
	Result      []string `json:"result"`
	Error       string   `json:"error"`
}

// jsonFloat reads a number or "NaN", "Infinity", "-Infinity".
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch strings.Trim(string(b), `"`) {
	case "NaN":
		*f = jsonFloat(math.NaN())
	case "Infinity":
		*f = jsonFloat(math.Inf(1))
	case "-Infinity":
		*f = jsonFloat(math.Inf(-1))
	default:
		var v float64
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*f = jsonFloat(v)
	}
	return nil
}

func readFixture(t testing.TB) *fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/oracle/oracle.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// names maps the database ids of the loaded fixture to names, and names
// to the ids that cases refer to as {name}.
type names struct {
	runs, experiments, models map[int64]string
	versions                  map[[2]int64]string
	subst                     map[string]string
}

// replace substitutes {name} references, longest names first.
func (n *names) replace(s string) string {
	keys := make([]string, 0, len(n.subst))
	for k := range n.subst {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, "{"+k+"}", n.subst[k])
	}
	return s
}

// load inserts the fixture into db with plain SQL, as the tracking and
// registry code would have stored it.
func (f *fixture) load(t testing.TB, db *meta.DB) *names {
	t.Helper()
	ctx := context.Background()
	n := &names{runs: map[int64]string{}, experiments: map[int64]string{}, models: map[int64]string{},
		versions: map[[2]int64]string{}, subst: map[string]string{}}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, e := range f.Experiments {
		exec(`INSERT INTO mlflow_experiments (id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, e.Name, e.ArtifactLocation, e.LifecycleStage, e.CreationTime, e.LastUpdateTime)
		for k, v := range e.Tags {
			exec(`INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)`, e.ID, k, v)
		}
		n.experiments[e.ID] = e.Name
		n.subst[e.Name] = itoa(e.ID)
		n.subst[e.Name+":creation_time"] = itoa(e.CreationTime)
	}
	datasets := map[string]int64{}
	for i, r := range f.Runs {
		id := int64(i + 1)
		exec(`INSERT INTO mlflow_runs (id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			id, r.RunUUID, r.ExperimentID, r.Name, r.UserID, r.Status, r.StartTime, r.EndTime, r.LifecycleStage, r.ArtifactURI)
		for k, v := range r.Params {
			exec(`INSERT INTO mlflow_params (run_id, key, value) VALUES ($1, $2, $3)`, id, k, v)
		}
		for k, v := range r.Tags {
			exec(`INSERT INTO mlflow_run_tags (run_id, key, value) VALUES ($1, $2, $3)`, id, k, v)
		}
		for k, points := range r.Metrics {
			best := -1
			for j, p := range points {
				v, nan := float64(p.Value), 0
				if math.IsNaN(v) {
					v, nan = 0, 1
				}
				exec(`INSERT INTO mlflow_metrics (run_id, key, step, timestamp, value, is_nan) VALUES ($1, $2, $3, $4, $5, $6)`, id, k, p.Step, p.Timestamp, v, nan)
				if best < 0 || p.Step > points[best].Step || (p.Step == points[best].Step && p.Timestamp > points[best].Timestamp) {
					best = j
				}
			}
			p := points[best]
			v, nan := float64(p.Value), 0
			if math.IsNaN(v) {
				v, nan = 0, 1
			}
			exec(`INSERT INTO mlflow_latest_metrics (run_id, key, step, timestamp, value, is_nan) VALUES ($1, $2, $3, $4, $5, $6)`, id, k, p.Step, p.Timestamp, v, nan)
		}
		for _, in := range r.Inputs {
			key := itoa(r.ExperimentID) + "/" + in.Name + "/" + in.Digest
			did, ok := datasets[key]
			if !ok {
				did = int64(len(datasets) + 1)
				datasets[key] = did
				exec(`INSERT INTO mlflow_datasets (id, experiment_id, name, digest) VALUES ($1, $2, $3, $4)`, did, r.ExperimentID, in.Name, in.Digest)
			}
			exec(`INSERT INTO mlflow_run_inputs (run_id, dataset_id, context) VALUES ($1, $2, $3)`, id, did, in.Context)
		}
		n.runs[id] = r.Name
		n.subst[r.Name] = r.RunUUID
	}
	for i, m := range f.Models {
		id := int64(i + 1)
		exec(`INSERT INTO mlflow_registered_models (id, name, creation_timestamp, last_updated_timestamp) VALUES ($1, $2, $3, $4)`,
			id, m.Name, m.CreationTimestamp, m.LastUpdatedTimestamp)
		for k, v := range m.Tags {
			exec(`INSERT INTO mlflow_registered_model_tags (model_id, key, value) VALUES ($1, $2, $3)`, id, k, v)
		}
		for _, v := range m.Versions {
			deleted := 0
			if v.Deleted {
				deleted = 1
			}
			exec(`INSERT INTO mlflow_model_versions (model_id, version, source, run_id, deleted, creation_timestamp, last_updated_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
				id, v.Version, v.Source, v.RunID, deleted, v.CreationTimestamp, v.LastUpdatedTimestamp)
			for k, val := range v.Tags {
				exec(`INSERT INTO mlflow_model_version_tags (model_id, version, key, value) VALUES ($1, $2, $3, $4)`, id, v.Version, k, val)
			}
			n.versions[[2]int64{id, v.Version}] = m.Name + "/" + itoa(v.Version)
		}
		n.models[id] = m.Name
	}
	return n
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
