package mlflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestModelVersions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		regCreateModel(t, s, a, "m")
		out := regOK(t, s, a, "POST", "/model-versions/create", map[string]any{
			"name": "m", "source": "s3://bucket/m/1", "run_link": "http://ci/1", "description": "first",
			"tags": []map[string]string{{"key": "k", "value": "v"}},
		})
		v1 := regObj(t, out, "model_version")
		for k, want := range map[string]any{"name": "m", "version": "1", "current_stage": "None", "status": "READY", "source": "s3://bucket/m/1",
			"run_id": "", "run_link": "http://ci/1", "description": "first", "user_id": "admin"} {
			if v1[k] != want {
				t.Fatalf("version 1 %s = %v, want %v (%v)", k, v1[k], want, v1)
			}
		}
		if tags := regList(v1, "tags"); len(tags) != 1 || tags[0].(map[string]any)["key"] != "k" {
			t.Fatalf("version tags: %v", v1)
		}
		// MLflow sends description, run_id and run_link even when empty.
		v2 := regCreateVersion(t, s, a, "m", "s3://bucket/m/2")
		for _, k := range []string{"description", "run_id", "run_link"} {
			if v, ok := v2[k]; !ok || v != "" {
				t.Fatalf("%s must be present and empty: %v", k, v2)
			}
		}
		rm := regObj(t, regOK(t, s, a, "GET", "/registered-models/get", map[string]any{"name": "m"}), "registered_model")
		if rm["last_updated_timestamp"].(float64) < v2["creation_timestamp"].(float64) {
			t.Fatalf("creating a version updates the model: %v vs %v", rm, v2)
		}
		regFails(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "nope", "source": "s3://b/x"}, 404, codeNotFound)
		regFails(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "m"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/model-versions/create", map[string]any{"source": "s3://b/x"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "m", "source": "s3://b/x", "tags": []map[string]string{{"key": "/abs", "value": "v"}}}, 400, codeInvalid)

		// Get; bad and unknown versions.
		got := regObj(t, regOK(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "1"}), "model_version")
		if got["description"] != "first" || got["source"] != "s3://bucket/m/1" {
			t.Fatalf("get: %v", got)
		}
		e := regFails(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "9"}, 404, codeNotFound)
		if e["message"] != "Model Version (name=m, version=9) not found" {
			t.Fatalf("message: %v", e)
		}
		regFails(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "x"}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m"}, 400, codeInvalid)
		regFails(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "nope", "version": "1"}, 404, codeNotFound)
		// A version number sent as a JSON number is read too.
		regOK(t, s, a, "PATCH", "/model-versions/update", map[string]any{"name": "m", "version": 2, "description": "second"})
		if d := regObj(t, regOK(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "2"}), "model_version")["description"]; d != "second" {
			t.Fatalf("update: %v", d)
		}
		regFails(t, s, a, "PATCH", "/model-versions/update", map[string]any{"name": "m", "version": "7", "description": "x"}, 404, codeNotFound)

		// Tags.
		regOK(t, s, a, "POST", "/model-versions/set-tag", map[string]any{"name": "m", "version": "2", "key": "validated", "value": "yes"})
		regOK(t, s, a, "POST", "/model-versions/set-tag", map[string]any{"name": "m", "version": "2", "key": "validated", "value": "twice"})
		regFails(t, s, a, "POST", "/model-versions/set-tag", map[string]any{"name": "m", "version": "7", "key": "k", "value": "v"}, 404, codeNotFound)
		regFails(t, s, a, "POST", "/model-versions/set-tag", map[string]any{"name": "m", "version": "2", "key": "a/../b", "value": "v"}, 400, codeInvalid)
		got = regObj(t, regOK(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "2"}), "model_version")
		if tags := regList(got, "tags"); len(tags) != 1 || tags[0].(map[string]any)["value"] != "twice" {
			t.Fatalf("version tag: %v", got)
		}
		regOK(t, s, a, "DELETE", "/model-versions/delete-tag", map[string]any{"name": "m", "version": "2", "key": "validated"})
		regOK(t, s, a, "DELETE", "/model-versions/delete-tag", map[string]any{"name": "m", "version": "2", "key": "validated"})
		regFails(t, s, a, "DELETE", "/model-versions/delete-tag", map[string]any{"name": "m", "version": "7", "key": "k"}, 404, codeNotFound)

		// Stages.
		tr := func(v, stage string, archive bool) map[string]any {
			return regObj(t, regOK(t, s, a, "POST", "/model-versions/transition-stage",
				map[string]any{"name": "m", "version": v, "stage": stage, "archive_existing_versions": archive}), "model_version")
		}
		if mv := tr("1", "production", false); mv["current_stage"] != "Production" {
			t.Fatalf("stage in canonical spelling: %v", mv)
		}
		regCreateVersion(t, s, a, "m", "s3://bucket/m/3")
		tr("3", "Production", false)
		tr("2", "Staging", false)
		if mv := tr("2", "PRODUCTION", true); mv["current_stage"] != "Production" {
			t.Fatalf("transition: %v", mv)
		}
		for v, want := range map[string]string{"1": "Archived", "3": "Archived", "2": "Production"} {
			got := regObj(t, regOK(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": v}), "model_version")
			if got["current_stage"] != want {
				t.Fatalf("after archiving: version %s is %v, want %s", v, got["current_stage"], want)
			}
		}
		regFails(t, s, a, "POST", "/model-versions/transition-stage", map[string]any{"name": "m", "version": "1", "stage": "bogus"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/model-versions/transition-stage", map[string]any{"name": "m", "version": "1", "stage": "Archived", "archive_existing_versions": true}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/model-versions/transition-stage", map[string]any{"name": "m", "version": "1"}, 400, codeInvalid)
		regFails(t, s, a, "POST", "/model-versions/transition-stage", map[string]any{"name": "m", "version": "8", "stage": "None"}, 404, codeNotFound)

		// Download URI of a foreign source is the source.
		uri := regOK(t, s, a, "GET", "/model-versions/get-download-uri", map[string]any{"name": "m", "version": "1"})
		if uri["artifact_uri"] != "s3://bucket/m/1" {
			t.Fatalf("download uri: %v", uri)
		}
		regFails(t, s, a, "GET", "/model-versions/get-download-uri", map[string]any{"name": "m", "version": "8"}, 404, codeNotFound)

		// Delete: the number is never given out again.
		regOK(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "3"})
		regFails(t, s, a, "GET", "/model-versions/get", map[string]any{"name": "m", "version": "3"}, 404, codeNotFound)
		regFails(t, s, a, "DELETE", "/model-versions/delete", map[string]any{"name": "m", "version": "3"}, 404, codeNotFound)
		regFails(t, s, a, "POST", "/model-versions/set-tag", map[string]any{"name": "m", "version": "3", "key": "k", "value": "v"}, 404, codeNotFound)
		regFails(t, s, a, "POST", "/model-versions/transition-stage", map[string]any{"name": "m", "version": "3", "stage": "None"}, 404, codeNotFound)
		if v := regCreateVersion(t, s, a, "m", "s3://bucket/m/4"); v["version"] != "4" {
			t.Fatalf("after deleting version 3 the next is 4, got %v", v["version"])
		}
		var source string
		if err := s.DB.QueryRowContext(context.Background(), `SELECT source FROM mlflow_model_versions WHERE version = 3`).Scan(&source); err != nil || source != "REDACTED-SOURCE-PATH" {
			t.Fatalf("a deleted version is redacted: %q %v", source, err)
		}
		if n := regCount(t, s, `SELECT COUNT(*) FROM audit_events WHERE action IN ('mlflow.model_version.delete', 'mlflow.model_version.transition')`); n < 2 {
			t.Fatalf("audit events of versions: %d", n)
		}
	})
}

func TestModelVersionSources(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		const runID = "0123456789abcdef0123456789abcdef"
		runURI := regFixtureRun(t, s, 0, runID)
		modelLoc := regFixtureLoggedModel(t, s, 0, "m-0123456789abcdef0123456789abcdef", runID)
		regCreateModel(t, s, a, "m")
		create := func(body map[string]any) (int, map[string]any) {
			body["name"] = "m"
			return regCall(t, s, a, "POST", "/model-versions/create", body)
		}
		download := func(v any) string {
			return regOK(t, s, a, "GET", "/model-versions/get-download-uri", map[string]any{"name": "m", "version": v})["artifact_uri"].(string)
		}

		// MLflow 3's log_model registers the logged model: models:/m-<id>
		// with model_id resolves to its artifact location, and the run is
		// the model's source run.
		status, out := create(map[string]any{"source": "models:/m-0123456789abcdef0123456789abcdef", "model_id": "m-0123456789abcdef0123456789abcdef"})
		if status != 200 {
			t.Fatalf("register logged model: %d %v", status, out)
		}
		mv := regObj(t, out, "model_version")
		if mv["source"] != "models:/m-0123456789abcdef0123456789abcdef" || mv["run_id"] != runID || mv["model_id"] != "m-0123456789abcdef0123456789abcdef" {
			t.Fatalf("registered logged model: %v", mv)
		}
		if got := download(mv["version"]); got != modelLoc {
			t.Fatalf("download uri of models:/m-...: %q, want %q", got, modelLoc)
		}
		var tag string
		if err := s.DB.QueryRowContext(context.Background(), `SELECT value FROM mlflow_logged_model_tags WHERE model_id = $1 AND key = 'mlflow.modelVersions'`,
			"m-0123456789abcdef0123456789abcdef").Scan(&tag); err != nil {
			t.Fatalf("mlflow.modelVersions tag: %v", err)
		}
		var listed []map[string]any
		if err := json.Unmarshal([]byte(tag), &listed); err != nil || len(listed) != 1 || listed[0]["name"] != "m" || listed[0]["version"] != float64(1) {
			t.Fatalf("mlflow.modelVersions: %q %v", tag, err)
		}
		for _, bad := range []map[string]any{
			{"source": "models:/m-0123456789abcdef0123456789abcdef"},                                                   // no model_id
			{"source": "models:/m-0123456789abcdef0123456789abcdef", "model_id": "m-other"},                            // another model
			{"source": "models:/m-ffffffffffffffffffffffffffffffff", "model_id": "m-ffffffffffffffffffffffffffffffff"}, // unknown
			{"source": "models://host/m-0123456789abcdef0123456789abcdef", "model_id": "m-0123456789abcdef0123456789abcdef"},
			{"source": "runs:/" + runID + "/model"},                   // no run_id
			{"source": "runs:/" + runID + "/model", "run_id": "ffff"}, // another run
			{"source": "runs:/ffff/model", "run_id": "ffff"},          // unknown run
			{"source": "runs:/" + runID + "/model", "run_id": runID, "model_id": "m-0123456789abcdef0123456789abcdef"},
			{"source": runURI + "/model"},                                           // proxied source without its run
			{"source": "mlflow-artifacts:/0/ffff/artifacts/model", "run_id": runID}, // outside the run
			{"source": runURI + "/../../ffff/artifacts", "run_id": runID},           // climbing out
			{"source": runURI + "/%2e%2e/%2E%2E/ffff", "run_id": runID},             // encoded
			{"source": "s3://bucket/a/../b"},
			{"source": "s3://bucket"},
			{"source": "s3://bucket/./x"},
			{"source": "/tmp/model"},
			{"source": "file:///tmp/model", "run_id": runID},
		} {
			if status, out := create(bad); status != 400 || out["error_code"] != codeInvalid {
				t.Errorf("source %v: %d %v", bad, status, out)
			}
		}

		// runs:/<run>/<path> resolves to the run's artifact URI + path.
		mv = regObj(t, regOK(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "m", "source": "runs:/" + runID + "/model", "run_id": runID}), "model_version")
		if mv["source"] != "runs:/"+runID+"/model" || mv["run_id"] != runID {
			t.Fatalf("runs:/ version: %v", mv)
		}
		if got := download(mv["version"]); got != runURI+"/model" {
			t.Fatalf("download uri of runs:/: %q", got)
		}
		// What register_model sends when the run has the model's files.
		mv = regObj(t, regOK(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "m", "source": runURI + "/model", "run_id": runID}), "model_version")
		if got := download(mv["version"]); got != runURI+"/model" {
			t.Fatalf("download uri of a proxied source: %q", got)
		}
		// A foreign store with the run named.
		mv = regObj(t, regOK(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "m", "source": "gs://b/m", "run_id": runID, "run_link": "x"}), "model_version")
		if mv["run_id"] != runID || download(mv["version"]) != "gs://b/m" {
			t.Fatalf("gs source: %v", mv)
		}

		// models:/<name>/<version> and @alias copy a version with its lineage.
		regOK(t, s, a, "POST", "/registered-models/alias", map[string]any{"name": "m", "alias": "champion", "version": "2"})
		regCreateModel(t, s, a, "copy")
		for _, c := range [][2]string{{"models:/m/1", "models:/m/1"}, {"models:/m@champion", "models:/m/2"}, {"models:/m/latest", "models:/m/4"}} {
			mv = regObj(t, regOK(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "copy", "source": c[0]}), "model_version")
			if mv["source"] != c[1] || mv["run_id"] != runID {
				t.Fatalf("copy of %s: %v", c[0], mv)
			}
		}
		if got := regOK(t, s, a, "GET", "/model-versions/get-download-uri", map[string]any{"name": "copy", "version": "1"})["artifact_uri"]; got != modelLoc {
			t.Fatalf("copy of the logged model's version downloads from it: %v", got)
		}
		if got := regOK(t, s, a, "GET", "/model-versions/get-download-uri", map[string]any{"name": "copy", "version": "2"})["artifact_uri"]; got != runURI+"/model" {
			t.Fatalf("copy of the runs:/ version: %v", got)
		}
		for _, bad := range []string{"models:/m/9", "models:/nope/1", "models:/m@nope", "models:/m/1/extra", "models:/"} {
			status, out := regCall(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "copy", "source": bad})
			if (status != 400 && status != 404) || out["error_code"] == nil {
				t.Errorf("copy of %s: %d %v", bad, status, out)
			}
		}
		regFails(t, s, a, "POST", "/model-versions/create", map[string]any{"name": "copy", "source": "models:/m/1", "run_id": "ffff"}, 400, codeInvalid)
	})
}

// Versions created at the same time get distinct, consecutive numbers.
func TestConcurrentModelVersions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		regCreateModel(t, s, a, "busy")
		const n = 8
		versions := make(chan string, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", s.URL+regAPI+"/model-versions/create", strings.NewReader(`{"name":"busy","source":"s3://b/x"}`))
				req.SetBasicAuth("admin", apptest.AdminPassword)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var out struct {
					ModelVersion struct{ Version string } `json:"model_version"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
					t.Errorf("create: %d %v", resp.StatusCode, err)
					return
				}
				versions <- out.ModelVersion.Version
			}()
		}
		wg.Wait()
		close(versions)
		seen := map[string]bool{}
		for v := range versions {
			seen[v] = true
		}
		for i := 1; i <= n; i++ {
			if !seen[strconv.Itoa(i)] {
				t.Fatalf("versions %v: %d missing", seen, i)
			}
		}
	})
}
