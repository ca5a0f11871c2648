package mlflow_test

import (
	"regexp"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

type loggedModel struct {
	Info struct {
		ModelID      string `json:"model_id"`
		ExperimentID string `json:"experiment_id"`
		Name         string `json:"name"`
		Created      int64  `json:"creation_timestamp_ms"`
		Updated      int64  `json:"last_updated_timestamp_ms"`
		ArtifactURI  string `json:"artifact_uri"`
		Status       string `json:"status"`
		ModelType    string `json:"model_type"`
		SourceRunID  string `json:"source_run_id"`
		Tags         []kv   `json:"tags"`
	} `json:"info"`
	Data struct {
		Params  []kv     `json:"params"`
		Metrics []metric `json:"metrics"`
	} `json:"data"`
}

func TestLoggedModels(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		exp := c.createExperiment("models")
		r := c.createRun(exp)
		var out struct{ Model loggedModel }
		c.ok("POST", "/logged-models", map[string]any{"experiment_id": exp, "name": "clf", "model_type": "sklearn",
			"source_run_id": r.Info.RunID, "params": []kv{{"alpha", "1"}}, "tags": []kv{{"t", "a"}, {"t", "b"}}}, &out)
		m := out.Model
		if !regexp.MustCompile(`^m-[0-9a-f]{32}$`).MatchString(m.Info.ModelID) || m.Info.Name != "clf" ||
			m.Info.Status != "LOGGED_MODEL_PENDING" || m.Info.ExperimentID != exp || m.Info.SourceRunID != r.Info.RunID ||
			m.Info.ArtifactURI != "mlflow-artifacts:/"+exp+"/models/"+m.Info.ModelID+"/artifacts" || m.Info.Created == 0 ||
			len(m.Info.Tags) != 1 || m.Info.Tags[0] != (kv{"t", "b"}) || len(m.Data.Params) != 1 {
			t.Fatalf("created model: %+v", m)
		}
		id := m.Info.ModelID
		path := "/logged-models/" + id

		// Metrics logged for the model appear in its data.
		c.ok("POST", "/runs/log-metric", map[string]any{"run_id": r.Info.RunID, "key": "acc", "value": 0.9, "timestamp": 7,
			"model_id": id, "dataset_name": "d", "dataset_digest": "x"}, nil)
		c.ok("GET", path, nil, &out)
		if ms := out.Model.Data.Metrics; len(ms) != 1 || ms[0].ModelID != id || ms[0].RunID != r.Info.RunID || string(ms[0].Value) != "0.9" {
			t.Fatalf("model metrics: %+v", ms)
		}

		c.ok("PATCH", path, map[string]any{"model_id": id, "status": "LOGGED_MODEL_READY"}, &out)
		if out.Model.Info.Status != "LOGGED_MODEL_READY" || out.Model.Info.Updated < out.Model.Info.Created {
			t.Fatalf("finalized: %+v", out.Model.Info)
		}
		c.fails("PATCH", path, map[string]any{"model_id": id}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("PATCH", path, map[string]any{"status": "NOPE"}, 400, "INVALID_PARAMETER_VALUE")

		c.ok("PATCH", path+"/tags", map[string]any{"tags": []kv{{"t", "c"}, {"u", "1"}}}, nil)
		c.ok("POST", path+"/params", map[string]any{"model_id": id, "params": []kv{{"beta", "2"}, {"alpha", "1"}}}, nil)
		c.fails("POST", path+"/params", map[string]any{"params": []kv{{"alpha", "9"}}}, 400, "INVALID_PARAMETER_VALUE")
		c.ok("DELETE", path+"/tags/u", nil, nil)
		c.fails("DELETE", path+"/tags/u", nil, 404, "RESOURCE_DOES_NOT_EXIST")
		c.ok("GET", path, nil, &out)
		if len(out.Model.Info.Tags) != 1 || out.Model.Info.Tags[0] != (kv{"t", "c"}) || len(out.Model.Data.Params) != 2 {
			t.Fatalf("tags and params: %+v %+v", out.Model.Info.Tags, out.Model.Data.Params)
		}

		// A name is made up when none is given; bad names are refused.
		c.ok("POST", "/logged-models", map[string]any{"experiment_id": exp}, &out)
		if out.Model.Info.Name == "" {
			t.Fatal("no name")
		}
		c.fails("POST", "/logged-models", map[string]any{"experiment_id": exp, "name": "a/b"}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/logged-models", map[string]any{}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/logged-models", map[string]any{"experiment_id": "777"}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("GET", "/logged-models/m-nope", nil, 404, "RESOURCE_DOES_NOT_EXIST")

		// Permissions: readers read, developers edit, deleting needs MANAGE.
		reader, dev := c.as("rita", auth.Reader), c.as("dave", auth.Developer)
		reader.ok("GET", path, nil, nil)
		reader.fails("PATCH", path+"/tags", map[string]any{"tags": []kv{{"x", "y"}}}, 403, "PERMISSION_DENIED")
		dev.ok("PATCH", path+"/tags", map[string]any{"tags": []kv{{"x", "y"}}}, nil)
		dev.fails("DELETE", path, nil, 403, "PERMISSION_DENIED")
		client{t, s, ""}.fails("GET", path, nil, 401, "UNAUTHENTICATED")

		// Deleted models are found only when asked for.
		c.ok("DELETE", path, nil, nil)
		c.fails("GET", path, nil, 404, "RESOURCE_DOES_NOT_EXIST")
		c.ok("GET", path+"?allow_deleted=true", nil, &out)
		if out.Model.Info.ModelID != id {
			t.Fatalf("deleted model: %+v", out.Model.Info)
		}
	})
}
