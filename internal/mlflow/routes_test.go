package mlflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestAuthenticationBeforeValidation: an anonymous caller of a private
// space is refused with 401 before its request is read, on every kind of
// route, while the open probes still answer; on a public space the
// request's own validation answers.
func TestAuthenticationBeforeValidation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		bad := []struct{ method, path, body string }{
			{"POST", "/mlflow/api/2.0/mlflow/experiments/search", `{"max_results":"many"`},
			{"GET", "/mlflow/api/2.0/mlflow/experiments/get", ""},
			{"POST", "/mlflow/api/2.0/mlflow/runs/log-batch", `not json`},
			{"POST", "/mlflow/api/2.0/mlflow/model-versions/create", `{}`},
			{"POST", "/mlflow/api/3.0/mlflow/traces/search", `[`},
			{"POST", "/mlflow/ajax-api/2.0/mlflow/experiments/search", `{"max_results":"many"`},
			{"GET", "/mlflow/api/2.0/mlflow/no-such-thing", ""},
		}
		for _, b := range bad {
			resp, body := s.Do(t, b.method, b.path, "", strings.NewReader(b.body), "Content-Type", "application/json")
			if resp.StatusCode != 401 || !strings.Contains(body, `"UNAUTHENTICATED"`) {
				t.Errorf("anonymous %s %s: %d %s, want 401 UNAUTHENTICATED", b.method, b.path, resp.StatusCode, body)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("anonymous %s %s: no challenge", b.method, b.path)
			}
		}
		for _, p := range []string{"/mlflow/health", "/mlflow/version", "/mlflow/api/3.0/mlflow/server-info"} {
			if resp, body := s.Do(t, "GET", p, "", nil); resp.StatusCode != 200 {
				t.Errorf("anonymous GET %s: %d %s", p, resp.StatusCode, body)
			}
		}
		// Authenticated, the same bad body is the request's own error.
		resp, body := s.Do(t, "POST", bad[0].path, admin, strings.NewReader(bad[0].body), "Content-Type", "application/json")
		if resp.StatusCode != 400 {
			t.Fatalf("admin, bad search body: %d %s", resp.StatusCode, body)
		}
		// A public space lets anonymous callers through to validation.
		space, err := s.Repos.Get(context.Background(), "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		space.Visibility = "public"
		if err := s.Repos.Update(context.Background(), space); err != nil {
			t.Fatal(err)
		}
		resp, body = s.Do(t, "POST", bad[0].path, "", strings.NewReader(bad[0].body), "Content-Type", "application/json")
		if resp.StatusCode != 400 {
			t.Fatalf("anonymous, public space, bad search body: %d %s", resp.StatusCode, body)
		}
	})
}

// TestAjaxAPIAliases: the paths MLflow's web UI calls answer as their
// /api/ twins, for v2, v3 and the artifact proxy.
func TestAjaxAPIAliases(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := adminClient(t, s)
		var created struct {
			ExperimentID string `json:"experiment_id"`
		}
		c.ok("POST", "/experiments/create", map[string]any{"name": "ajax"}, &created)
		for _, tc := range []struct{ method, path, body, want string }{
			{"POST", "/mlflow/ajax-api/2.0/mlflow/experiments/search", `{"max_results":10}`, `"ajax"`},
			{"GET", "/mlflow/ajax-api/2.0/mlflow/experiments/get?experiment_id=" + created.ExperimentID, "", `"ajax"`},
			{"GET", "/mlflow/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=none&metric_key=m", "", ""},
			{"POST", "/mlflow/ajax-api/3.0/mlflow/traces/search", `{"locations":[{"type":"MLFLOW_EXPERIMENT","mlflow_experiment":{"experiment_id":"` + created.ExperimentID + `"}}]}`, ""},
			{"GET", "/mlflow/ajax-api/2.0/mlflow-artifacts/artifacts", "", ""},
		} {
			resp, body := s.Do(t, tc.method, tc.path, admin, strings.NewReader(tc.body), "Content-Type", "application/json")
			if tc.path == "/mlflow/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=none&metric_key=m" {
				// An unknown run: the route answers in MLflow's format.
				if resp.StatusCode == 404 && strings.Contains(body, "ENDPOINT_NOT_FOUND") {
					t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
				}
				continue
			}
			if resp.StatusCode != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, body)
			}
		}
	})
}
