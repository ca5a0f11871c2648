package mlflow_test

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/mlflow"
)

// TestImporter writes through the import writer with the source's ids,
// timestamps and numbers, and reads back through the API; ids inserted
// explicitly must not collide with the ones arca generates afterwards
// (PostgreSQL's identity sequences).
func TestImporter(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		ctx := auth.WithPrincipal(context.Background(), auth.Principal{UserID: -1, Name: "import:test", Kind: auth.KindRobot, Role: auth.Admin})
		im := s.MLflow.Importer()

		id, created, err := im.Experiment(ctx, mlflow.ImportedExperiment{ID: "1", Name: "imp", CreationTime: 1000, LastUpdateTime: 2000,
			Tags: []mlflow.ExperimentTag{{Key: "team", Value: "a"}}})
		if err != nil || !created || id != 1 {
			t.Fatalf("experiment: %d %v %v, want 1 created", id, created, err)
		}
		if again, created, err := im.Experiment(ctx, mlflow.ImportedExperiment{ID: "1", Name: "imp"}); err != nil || created || again != 1 {
			t.Fatalf("experiment again: %d %v %v, want 1 present", again, created, err)
		}
		taken, created, err := im.Experiment(ctx, mlflow.ImportedExperiment{ID: "1", Name: "other", CreationTime: 1})
		if err != nil || !created || taken == 1 {
			t.Fatalf("experiment with a taken id: %d %v %v", taken, created, err)
		}
		// The explicit id was the next one arca would generate: arca's own
		// next experiments get free ids all the same.
		made := c.createExperiment("made-here")
		if made == "1" || made == itoa(taken) {
			t.Fatalf("a created experiment got id %s, taken already", made)
		}
		var exp struct {
			Experiment struct {
				ExperimentID string `json:"experiment_id"`
				CreationTime int64  `json:"creation_time"`
				Tags         []kv   `json:"tags"`
			} `json:"experiment"`
		}
		c.ok("GET", "/experiments/get?experiment_id=1", nil, &exp)
		if exp.Experiment.CreationTime != 1000 || len(exp.Experiment.Tags) != 1 {
			t.Fatalf("imported experiment: %+v", exp.Experiment)
		}

		const runID = "0123456789abcdef0123456789abcdef"
		uri, err := im.BeginRun(ctx, mlflow.ImportedRun{UUID: runID, ExperimentID: 1, Name: "r", UserID: "alice", StartTime: 5000})
		if err != nil || !strings.HasPrefix(uri, "mlflow-artifacts:/1/"+runID) {
			t.Fatalf("begin run: %q %v", uri, err)
		}
		if err := im.RunData(ctx, runID, []mlflow.Param{{Key: "lr", Value: "0.1"}}, []mlflow.RunTag{{Key: "mlflow.runName", Value: "r"}}, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		pts := []mlflow.Metric{{Key: "loss", Value: 1, Timestamp: 10, Step: 0}, {Key: "loss", Value: mlflow.Float(math.NaN()), Timestamp: 11, Step: 1},
			{Key: "loss", Value: 0.5, Timestamp: 12, Step: 2}}
		for range 2 { // a point written twice is stored once
			if err := im.Metrics(ctx, runID, pts); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := im.MetricCounts(ctx, runID); err != nil || n["loss"] != 3 {
			t.Fatalf("metric counts: %v %v", n, err)
		}
		if st, _ := im.Run(ctx, runID); st.EndTime != 0 || st.Status != "RUNNING" {
			t.Fatalf("a begun run: %+v", st)
		}
		if err := im.FinishRun(ctx, runID, "FINISHED", 9000, "active"); err != nil {
			t.Fatal(err)
		}
		r := c.getRun(runID)
		if r.Info.Status != "FINISHED" || r.Info.StartTime != 5000 || r.Info.EndTime != 9000 || r.Info.UserID != "alice" || r.Info.ExperimentID != "1" {
			t.Fatalf("imported run: %+v", r.Info)
		}
		var hist struct{ Metrics []metric }
		c.ok("GET", "/metrics/get-history?run_id="+runID+"&metric_key=loss", nil, &hist)
		if len(hist.Metrics) != 3 || string(hist.Metrics[1].Value) != `"NaN"` || hist.Metrics[2].Timestamp != 12 {
			t.Fatalf("history: %v", hist.Metrics)
		}

		if created, err := im.RegisteredModel(ctx, "m", "d", 100, 200, []mlflow.RegisteredModelTag{{Key: "k", Value: "v"}}); err != nil || !created {
			t.Fatalf("registered model: %v %v", created, err)
		}
		v := mlflow.ImportedVersion{Model: "m", Version: 5, Stage: "Staging", Source: "runs:/" + runID + "/model", StorageLocation: uri + "/model",
			RunID: runID, Created: 300, Updated: 400}
		if err := im.ModelVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
		if err := im.ModelVersion(ctx, v); err == nil {
			t.Fatal("a version number imported twice")
		}
		if err := im.Alias(ctx, "m", "champion", 5); err != nil {
			t.Fatal(err)
		}
		mv := regObj(t, regOK(t, s, apptest.Admin, "GET", "/registered-models/alias", map[string]any{"name": "m", "alias": "champion"}), "model_version")
		if mv["version"] != "5" || mv["current_stage"] != "Staging" || mv["creation_timestamp"] != float64(300) {
			t.Fatalf("version by alias: %v", mv)
		}
		if n, _ := im.NextVersion(ctx, "m"); n != 6 {
			t.Fatalf("next version %d, want 6", n)
		}
		var dl struct {
			URI string `json:"artifact_uri"`
		}
		c.ok("GET", "/model-versions/get-download-uri?name=m&version=5", nil, &dl)
		if dl.URI != uri+"/model" {
			t.Fatalf("download URI %q", dl.URI)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
