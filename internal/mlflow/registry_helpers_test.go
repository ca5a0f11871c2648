package mlflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// Helpers of the model registry tests.

const regAPI = "/mlflow/api/2.0/mlflow"

// regCall calls a registry endpoint: GET bodies go into the query string
// (a []string value repeats its parameter), others are JSON. It returns
// the status and the decoded JSON answer.
func regCall(t *testing.T, s *apptest.Server, creds, method, endpoint string, body map[string]any) (int, map[string]any) {
	t.Helper()
	path := regAPI + endpoint
	var rd io.Reader
	var hdr []string
	if method == "GET" {
		q := url.Values{}
		for k, v := range body {
			if list, ok := v.([]string); ok {
				for _, s := range list {
					q.Add(k, s)
				}
				continue
			}
			q.Set(k, fmt.Sprint(v))
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
		hdr = []string{"Content-Type", "application/json"}
	}
	resp, text := s.Do(t, method, path, creds, rd, hdr...)
	var out map[string]any
	if text != "" {
		if err := json.Unmarshal([]byte(text), &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, endpoint, resp.StatusCode, text)
		}
	}
	return resp.StatusCode, out
}

// regOK calls an endpoint that must succeed.
func regOK(t *testing.T, s *apptest.Server, creds, method, endpoint string, body map[string]any) map[string]any {
	t.Helper()
	status, out := regCall(t, s, creds, method, endpoint, body)
	if status != 200 {
		t.Fatalf("%s %s %v: %d %v", method, endpoint, body, status, out)
	}
	return out
}

// regFails calls an endpoint that must fail with status and MLflow code.
func regFails(t *testing.T, s *apptest.Server, creds, method, endpoint string, body map[string]any, status int, code string) map[string]any {
	t.Helper()
	got, out := regCall(t, s, creds, method, endpoint, body)
	if got != status || out["error_code"] != code {
		t.Fatalf("%s %s %v: got %d %v, want %d %s", method, endpoint, body, got, out, status, code)
	}
	if msg, _ := out["message"].(string); msg == "" {
		t.Fatalf("%s %s: error without message: %v", method, endpoint, out)
	}
	return out
}

// regObj and regList navigate decoded JSON.
func regObj(t *testing.T, v any, key string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", v)
	}
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("no object %q in %v", key, m)
	}
	return o
}

func regList(v map[string]any, key string) []any {
	l, _ := v[key].([]any)
	return l
}

// regUsers are users with each role on the mlflow space.
type regUsers struct {
	Reader, Developer, Maintainer, Outsider string // Basic credentials
	IDs                                     map[string]int64
}

// makeRegUsers creates rita (reader), dave (developer), mia (maintainer)
// and nora (no role) and grants their roles on the mlflow repository.
func makeRegUsers(t *testing.T, s *apptest.Server) regUsers {
	t.Helper()
	ctx := context.Background()
	space, err := s.Repos.Get(ctx, "mlflow")
	if err != nil {
		t.Fatal(err)
	}
	u := regUsers{IDs: map[string]int64{}}
	for _, x := range []struct {
		name string
		role auth.Role
		dst  *string
	}{{"rita", auth.Reader, &u.Reader}, {"dave", auth.Developer, &u.Developer}, {"mia", auth.Maintainer, &u.Maintainer}, {"nora", auth.NoRole, &u.Outsider}} {
		user, err := s.Auth.CreateUser(ctx, x.name, "password-"+x.name, "", auth.NoRole)
		if err != nil {
			t.Fatal(err)
		}
		u.IDs[x.name] = user.ID
		if x.role != auth.NoRole {
			if err := s.Auth.Grant(ctx, x.name, space.ID, x.role); err != nil {
				t.Fatal(err)
			}
		}
		*x.dst = x.name + ":password-" + x.name
	}
	return u
}

// regExec runs SQL on the server's database (fixtures for runs, logged
// models and experiments, which other endpoints create).
func regExec(t *testing.T, s *apptest.Server, query string, args ...any) {
	t.Helper()
	if _, err := s.DB.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// regFixtureRun inserts a run of experiment 0 with an artifact URI.
func regFixtureRun(t *testing.T, s *apptest.Server, experimentID int64, runID string) string {
	t.Helper()
	uri := fmt.Sprintf("mlflow-artifacts:/%d/%s/artifacts", experimentID, runID)
	regExec(t, s, `INSERT INTO mlflow_runs (run_uuid, experiment_id, artifact_uri, start_time) VALUES ($1, $2, $3, 1)`, runID, experimentID, uri)
	return uri
}

// regFixtureLoggedModel inserts a logged model made by a run.
func regFixtureLoggedModel(t *testing.T, s *apptest.Server, experimentID int64, modelID, runID string) string {
	t.Helper()
	loc := fmt.Sprintf("mlflow-artifacts:/%d/models/%s/artifacts", experimentID, modelID)
	regExec(t, s, `INSERT INTO mlflow_logged_models (id, experiment_id, name, artifact_location, source_run_id, creation_timestamp, last_updated_timestamp)
		VALUES ($1, $2, 'model', $3, $4, 1, 1)`, modelID, experimentID, loc, runID)
	return loc
}

// regFixtureExperiment inserts an experiment.
func regFixtureExperiment(t *testing.T, s *apptest.Server, id int64, name string) {
	t.Helper()
	regExec(t, s, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES ($1, $2, $3, 1, 1)`,
		id, name, fmt.Sprintf("mlflow-artifacts:/%d", id))
}

// regCount counts rows.
func regCount(t *testing.T, s *apptest.Server, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// regCreateModel and regCreateVersion are the common set-up calls.
func regCreateModel(t *testing.T, s *apptest.Server, creds, name string) map[string]any {
	t.Helper()
	return regObj(t, regOK(t, s, creds, "POST", "/registered-models/create", map[string]any{"name": name}), "registered_model")
}

func regCreateVersion(t *testing.T, s *apptest.Server, creds, name, source string) map[string]any {
	t.Helper()
	return regObj(t, regOK(t, s, creds, "POST", "/model-versions/create", map[string]any{"name": name, "source": source}), "model_version")
}
