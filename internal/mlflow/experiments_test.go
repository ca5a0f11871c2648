package mlflow_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

type experiment struct {
	ExperimentID     string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	CreationTime     int64  `json:"creation_time"`
	LastUpdateTime   int64  `json:"last_update_time"`
	Tags             []kv   `json:"tags"`
}

func (c client) getExperiment(id string) experiment {
	c.t.Helper()
	var out struct{ Experiment experiment }
	c.ok("GET", "/experiments/get?experiment_id="+id, nil, &out)
	return out.Experiment
}

func TestExperiments(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)

		// The Default experiment exists.
		def := c.getExperiment("0")
		if def.Name != "Default" || def.LifecycleStage != "active" || def.ArtifactLocation != "mlflow-artifacts:/0" {
			t.Fatalf("default experiment: %+v", def)
		}

		var created struct {
			ExperimentID string `json:"experiment_id"`
		}
		c.ok("POST", "/experiments/create", map[string]any{"name": "exp one",
			"tags": []kv{{"team", "vision"}, {"team", "nlp"}, {"stage", "dev"}}}, &created)
		if created.ExperimentID == "" || created.ExperimentID == "0" {
			t.Fatalf("created id %q", created.ExperimentID)
		}
		e := c.getExperiment(created.ExperimentID)
		if e.Name != "exp one" || e.ArtifactLocation != "mlflow-artifacts:/"+created.ExperimentID || e.CreationTime == 0 ||
			e.LastUpdateTime != e.CreationTime {
			t.Fatalf("created experiment: %+v", e)
		}
		if v, _ := tagValue(e.Tags, "team"); v != "nlp" || len(e.Tags) != 2 {
			t.Fatalf("tags (last value of a repeated key wins): %+v", e.Tags)
		}
		var byName struct{ Experiment experiment }
		c.ok("GET", "/experiments/get-by-name?experiment_name="+url.QueryEscape("exp one"), nil, &byName)
		if byName.Experiment.ExperimentID != created.ExperimentID {
			t.Fatalf("get-by-name: %+v", byName)
		}
		c.fails("GET", "/experiments/get-by-name?experiment_name=nope", nil, 404, "RESOURCE_DOES_NOT_EXIST")

		// A location given by the creator is kept.
		c.ok("POST", "/experiments/create", map[string]any{"name": "s3 exp", "artifact_location": "s3://bucket/path"}, &created)
		if loc := c.getExperiment(created.ExperimentID).ArtifactLocation; loc != "s3://bucket/path" {
			t.Fatalf("given location: %q", loc)
		}

		// Bad input.
		c.fails("POST", "/experiments/create", map[string]any{"name": "exp one"}, 400, "RESOURCE_ALREADY_EXISTS")
		c.fails("POST", "/experiments/create", map[string]any{}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/experiments/create", map[string]any{"name": strings.Repeat("x", 501)}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/experiments/create", map[string]any{"name": "bad tags", "tags": []kv{{"../x", "v"}}}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/experiments/create", map[string]any{"name": "bad loc", "artifact_location": "runs:/abc"}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/experiments/create", "{not json", 400, "BAD_REQUEST")
		c.fails("GET", "/experiments/get?experiment_id=12345", nil, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("GET", "/experiments/get?experiment_id=abc", nil, 400, "INVALID_PARAMETER_VALUE")
		c.fails("GET", "/experiments/get", nil, 400, "INVALID_PARAMETER_VALUE")
		var n int
		c.s.App.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM mlflow_experiments WHERE name IN ('bad tags', 'bad loc')`).Scan(&n)
		if n != 0 {
			t.Fatalf("refused experiments were written: %d", n)
		}

		id := c.createExperiment("lifecycle")
		// Tags.
		c.ok("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "note", "value": "a"}, nil)
		c.ok("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "note", "value": "b"}, nil)
		if v, _ := tagValue(c.getExperiment(id).Tags, "note"); v != "b" {
			t.Fatalf("set tag twice: %q", v)
		}
		c.fails("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "v", "value": strings.Repeat("x", 20001)}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": "999", "key": "k", "value": "v"}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.ok("POST", "/experiments/delete-experiment-tag", map[string]any{"experiment_id": id, "key": "note"}, nil)
		if _, ok := tagValue(c.getExperiment(id).Tags, "note"); ok {
			t.Fatal("tag not deleted")
		}
		c.fails("POST", "/experiments/delete-experiment-tag", map[string]any{"experiment_id": id, "key": "note"}, 404, "RESOURCE_DOES_NOT_EXIST")

		// Rename.
		c.ok("POST", "/experiments/update", map[string]any{"experiment_id": id, "new_name": "renamed"}, nil)
		if got := c.getExperiment(id); got.Name != "renamed" || got.LastUpdateTime < got.CreationTime {
			t.Fatalf("renamed: %+v", got)
		}
		c.fails("POST", "/experiments/update", map[string]any{"experiment_id": id, "new_name": "exp one"}, 400, "RESOURCE_ALREADY_EXISTS")
		c.fails("POST", "/experiments/update", map[string]any{"experiment_id": id}, 400, "INVALID_PARAMETER_VALUE")

		// Delete takes the runs along; restore brings them back.
		r1 := c.createRun(id)
		c.ok("POST", "/experiments/delete", map[string]any{"experiment_id": id}, nil)
		if got := c.getExperiment(id); got.LifecycleStage != "deleted" {
			t.Fatalf("deleted: %+v", got)
		}
		if got := c.getRun(r1.Info.RunID); got.Info.LifecycleStage != "deleted" {
			t.Fatalf("run of a deleted experiment: %+v", got.Info)
		}
		c.fails("POST", "/experiments/delete", map[string]any{"experiment_id": id}, 404, "RESOURCE_DOES_NOT_EXIST")
		c.fails("POST", "/experiments/update", map[string]any{"experiment_id": id, "new_name": "x"}, 500, "INVALID_STATE")
		c.fails("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "k", "value": "v"}, 400, "INVALID_PARAMETER_VALUE")
		c.fails("POST", "/runs/create", map[string]any{"experiment_id": id}, 400, "INVALID_PARAMETER_VALUE")
		c.ok("POST", "/experiments/restore", map[string]any{"experiment_id": id}, nil)
		if got := c.getRun(r1.Info.RunID); got.Info.LifecycleStage != "active" {
			t.Fatalf("run of a restored experiment: %+v", got.Info)
		}
		c.fails("POST", "/experiments/restore", map[string]any{"experiment_id": id}, 404, "RESOURCE_DOES_NOT_EXIST")

		// The audit trail names the changes.
		events, err := c.s.App.Audit.List(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range events {
			seen[e.Action+" "+e.Subject] = true
		}
		for _, want := range []string{"mlflow.experiment.create " + id, "mlflow.experiment.delete " + id, "mlflow.experiment.restore " + id} {
			if !seen[want] {
				t.Errorf("audit event %q missing", want)
			}
		}
	})
}

func TestExperimentPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		id := c.createExperiment("guarded")
		reader := c.as("rita", auth.Reader)
		dev := c.as("dave", auth.Developer)
		anon := client{t, s, ""}

		anon.fails("POST", "/experiments/create", map[string]any{"name": "anon"}, 401, "UNAUTHENTICATED")
		anon.fails("GET", "/experiments/get?experiment_id="+id, nil, 401, "UNAUTHENTICATED")
		reader.fails("POST", "/experiments/create", map[string]any{"name": "by reader"}, 403, "PERMISSION_DENIED")
		reader.getExperiment(id)
		reader.fails("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "k", "value": "v"}, 403, "PERMISSION_DENIED")

		// A developer edits, but deleting needs MANAGE — which the creator
		// of an experiment has.
		dev.ok("POST", "/experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "k", "value": "v"}, nil)
		dev.fails("POST", "/experiments/delete", map[string]any{"experiment_id": id}, 403, "PERMISSION_DENIED")
		own := dev.createExperiment("dave's")
		dev.ok("POST", "/experiments/delete", map[string]any{"experiment_id": own}, nil)
		dev.ok("POST", "/experiments/restore", map[string]any{"experiment_id": own}, nil)

		// An explicit permission overrides the role.
		var rita int64
		s.App.DB.QueryRowContext(context.Background(), `SELECT id FROM users WHERE name = 'rita'`).Scan(&rita)
		if _, err := s.App.DB.ExecContext(context.Background(), `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
			VALUES ('experiment', $1, $2, 'NO_PERMISSIONS')`, id, rita); err != nil {
			t.Fatal(err)
		}
		reader.fails("GET", "/experiments/get?experiment_id="+id, nil, 403, "PERMISSION_DENIED")
	})
}
