package mlflow_test

import (
	"encoding/json"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestArtifactEmptyFileHasNoSize: MLflow's FileInfo.to_proto sets
// file_size only when it is not 0, so an empty artifact lists without one
// in every listing (the proxy's, a run's, a logged model's).
func TestArtifactEmptyFileHasNoSize(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		run := "0123456789abcdef0123456789abcdef"
		root := "1/" + run + "/artifacts"
		artExperiment(t, s, 1, "exp")
		artExec(t, s, `INSERT INTO mlflow_runs (run_uuid, experiment_id, artifact_uri) VALUES ($1, 1, $2)`, run, "mlflow-artifacts:/"+root)
		artExec(t, s, `INSERT INTO mlflow_logged_models (id, experiment_id, name, artifact_location, creation_timestamp, last_updated_timestamp)
			VALUES ('m-0123', 1, 'model', 'mlflow-artifacts:/1/models/m-0123/artifacts', 1, 1)`)
		artPut(t, s, root+"/empty.txt", "")
		artPut(t, s, root+"/full.txt", "abc")
		artPut(t, s, "1/models/m-0123/artifacts/empty", "")
		for _, c := range []struct{ path, empty, full string }{
			{artRoot + "?path=" + root, "empty.txt", "full.txt"},
			{"/mlflow/api/2.0/mlflow/artifacts/list?run_id=" + run, "empty.txt", "full.txt"},
			{"/mlflow/api/2.0/mlflow/logged-models/m-0123/artifacts/directories", "empty", ""},
		} {
			resp, body := s.Do(t, "GET", c.path, admin, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
			}
			var l struct {
				Files []map[string]any `json:"files"`
			}
			if err := json.Unmarshal([]byte(body), &l); err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, f := range l.Files {
				switch f["path"] {
				case c.empty:
					seen++
					if _, ok := f["file_size"]; ok || f["is_dir"] != false {
						t.Fatalf("%s: the empty file lists as %v, want no file_size", c.path, f)
					}
				case c.full:
					seen++
					if f["file_size"] != "3" && f["file_size"] != float64(3) {
						t.Fatalf("%s: the 3-byte file lists as %v", c.path, f)
					}
				}
			}
			if want := 1 + min(len(c.full), 1); seen != want {
				t.Fatalf("%s: %s", c.path, body)
			}
		}
	})
}
