package mlflow_test

import (
	"context"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestRegistryPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		u := makeRegUsers(t, s)
		regCreateModel(t, s, a, "adm")
		regCreateVersion(t, s, a, "adm", "s3://b/adm")

		// Anonymous callers of a private space are asked to authenticate.
		regFails(t, s, "", "POST", "/registered-models/create", map[string]any{"name": "anon"}, 401, codeUnauth)
		regFails(t, s, "", "GET", "/registered-models/get", map[string]any{"name": "adm"}, 401, codeUnauth)
		regFails(t, s, "", "GET", "/model-versions/get-download-uri", map[string]any{"name": "adm", "version": "1"}, 401, codeUnauth)
		regFails(t, s, "", "GET", "/registered-models/alias", map[string]any{"name": "adm", "alias": "latest"}, 401, codeUnauth)
		regFails(t, s, "", "GET", "/registered-models/get", map[string]any{"name": "no-such-model"}, 401, codeUnauth)
		regFails(t, s, "nobody:wrong-password", "GET", "/registered-models/get", map[string]any{"name": "adm"}, 401, codeUnauth)

		// Readers read and change nothing.
		regOK(t, s, u.Reader, "GET", "/registered-models/get", map[string]any{"name": "adm"})
		regOK(t, s, u.Reader, "GET", "/model-versions/get", map[string]any{"name": "adm", "version": "1"})
		regOK(t, s, u.Reader, "GET", "/registered-models/get-latest-versions", map[string]any{"name": "adm"})
		regOK(t, s, u.Reader, "GET", "/model-versions/get-download-uri", map[string]any{"name": "adm", "version": "1"})
		for _, c := range []struct {
			method, path string
			body         map[string]any
		}{
			{"POST", "/registered-models/create", map[string]any{"name": "r"}},
			{"PATCH", "/registered-models/update", map[string]any{"name": "adm", "description": "x"}},
			{"POST", "/registered-models/rename", map[string]any{"name": "adm", "new_name": "x"}},
			{"POST", "/registered-models/set-tag", map[string]any{"name": "adm", "key": "k", "value": "v"}},
			{"POST", "/model-versions/create", map[string]any{"name": "adm", "source": "s3://b/x"}},
			{"PATCH", "/model-versions/update", map[string]any{"name": "adm", "version": "1", "description": "x"}},
			{"POST", "/model-versions/transition-stage", map[string]any{"name": "adm", "version": "1", "stage": "Staging"}},
			{"POST", "/registered-models/alias", map[string]any{"name": "adm", "alias": "a", "version": "1"}},
			{"DELETE", "/model-versions/delete", map[string]any{"name": "adm", "version": "1"}},
			{"DELETE", "/registered-models/delete", map[string]any{"name": "adm"}},
		} {
			regFails(t, s, u.Reader, c.method, c.path, c.body, 403, codeDenied)
		}
		// Users without a role see nothing.
		regFails(t, s, u.Outsider, "GET", "/registered-models/get", map[string]any{"name": "adm"}, 403, codeDenied)

		// Developers edit, but delete only what they manage: their own models.
		regOK(t, s, u.Developer, "POST", "/registered-models/set-tag", map[string]any{"name": "adm", "key": "k", "value": "v"})
		regOK(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{"name": "adm", "source": "s3://b/dev"})
		regOK(t, s, u.Developer, "POST", "/model-versions/transition-stage", map[string]any{"name": "adm", "version": "2", "stage": "Staging"})
		regOK(t, s, u.Developer, "POST", "/registered-models/alias", map[string]any{"name": "adm", "alias": "dev", "version": "2"})
		regOK(t, s, u.Developer, "POST", "/model-versions/set-tag", map[string]any{"name": "adm", "version": "2", "key": "k", "value": "v"})
		regFails(t, s, u.Developer, "DELETE", "/registered-models/alias", map[string]any{"name": "adm", "alias": "dev"}, 403, codeDenied)
		regFails(t, s, u.Developer, "DELETE", "/model-versions/delete-tag", map[string]any{"name": "adm", "version": "2", "key": "k"}, 403, codeDenied)
		regFails(t, s, u.Developer, "DELETE", "/model-versions/delete", map[string]any{"name": "adm", "version": "2"}, 403, codeDenied)
		regFails(t, s, u.Developer, "DELETE", "/registered-models/delete", map[string]any{"name": "adm"}, 403, codeDenied)
		own := regCreateModel(t, s, u.Developer, "dave-model")
		if own["user_id"] != "dave" {
			t.Fatalf("creator: %v", own)
		}
		if n := regCount(t, s, `SELECT COUNT(*) FROM mlflow_permissions WHERE resource_kind = 'registered_model' AND user_id = $1 AND permission = 'MANAGE'`, u.IDs["dave"]); n != 1 {
			t.Fatalf("the creator manages the model: %d rows", n)
		}
		regCreateVersion(t, s, u.Developer, "dave-model", "s3://b/d")
		regOK(t, s, u.Developer, "DELETE", "/model-versions/delete", map[string]any{"name": "dave-model", "version": "1"})
		regOK(t, s, u.Developer, "POST", "/registered-models/rename", map[string]any{"name": "dave-model", "new_name": "dave-model-2"})
		regOK(t, s, u.Developer, "DELETE", "/registered-models/delete", map[string]any{"name": "dave-model-2"})

		// Maintainers manage everything.
		regOK(t, s, u.Maintainer, "DELETE", "/registered-models/alias", map[string]any{"name": "adm", "alias": "dev"})
		regOK(t, s, u.Maintainer, "DELETE", "/model-versions/delete", map[string]any{"name": "adm", "version": "2"})

		// Versions only link runs the caller may read.
		regFixtureExperiment(t, s, 5, "secret")
		const runID = "5555555555555555aaaaaaaaaaaaaaaa"
		regFixtureRun(t, s, 5, runID)
		regOK(t, s, a, "POST", "/experiments/permissions/create", map[string]any{"experiment_id": "5", "username": "dave", "permission": "NO_PERMISSIONS"})
		regFails(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{"name": "adm", "source": "runs:/" + runID + "/m", "run_id": runID}, 403, codeDenied)
		regFails(t, s, u.Developer, "POST", "/model-versions/create", map[string]any{"name": "adm", "source": "s3://b/x", "run_id": runID}, 403, codeDenied)
		regOK(t, s, u.Maintainer, "POST", "/model-versions/create", map[string]any{"name": "adm", "source": "runs:/" + runID + "/m", "run_id": runID})
	})
}

func TestPermissionEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		u := makeRegUsers(t, s)
		regCreateModel(t, s, a, "m")
		const rmp = "/registered-models/permissions/"

		// Create, get, update, delete on a registered model.
		out := regOK(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "rita", "permission": "EDIT"})
		p := regObj(t, out, "registered_model_permission")
		if p["name"] != "m" || p["user_id"] != float64(u.IDs["rita"]) || p["permission"] != "EDIT" {
			t.Fatalf("created permission: %v", out)
		}
		regFails(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "rita", "permission": "READ"}, 400, codeExists)
		regFails(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "ghost", "permission": "READ"}, 404, codeNotFound)
		regFails(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "nora", "permission": "SUPER"}, 400, codeInvalid)
		regFails(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "nora"}, 400, codeInvalid)
		regFails(t, s, a, "POST", rmp+"create", map[string]any{"name": "nope", "username": "nora", "permission": "READ"}, 404, codeNotFound)
		// The reader with EDIT on m may now edit m.
		regOK(t, s, u.Reader, "POST", "/registered-models/set-tag", map[string]any{"name": "m", "key": "k", "value": "v"})
		got := regObj(t, regOK(t, s, a, "GET", rmp+"get", map[string]any{"name": "m", "username": "rita"}), "registered_model_permission")
		if got["permission"] != "EDIT" {
			t.Fatalf("get: %v", got)
		}
		regFails(t, s, a, "GET", rmp+"get", map[string]any{"name": "m", "username": "nora"}, 404, codeNotFound)
		if out := regOK(t, s, a, "PATCH", rmp+"update", map[string]any{"name": "m", "username": "rita", "permission": "READ"}); len(out) != 0 {
			t.Fatalf("update answers {}: %v", out)
		}
		regFails(t, s, u.Reader, "POST", "/registered-models/set-tag", map[string]any{"name": "m", "key": "k", "value": "v"}, 403, codeDenied)
		regFails(t, s, a, "PATCH", rmp+"update", map[string]any{"name": "m", "username": "nora", "permission": "READ"}, 404, codeNotFound)
		regFails(t, s, a, "PATCH", rmp+"update", map[string]any{"name": "m", "username": "rita", "permission": "WRITE"}, 400, codeInvalid)
		regOK(t, s, a, "DELETE", rmp+"delete", map[string]any{"name": "m", "username": "rita"})
		regFails(t, s, a, "GET", rmp+"get", map[string]any{"name": "m", "username": "rita"}, 404, codeNotFound)
		regFails(t, s, a, "DELETE", rmp+"delete", map[string]any{"name": "m", "username": "rita"}, 404, codeNotFound)

		// An explicit NO_PERMISSIONS refuses even a developer.
		regOK(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "dave", "permission": "NO_PERMISSIONS"})
		regFails(t, s, u.Developer, "GET", "/registered-models/get", map[string]any{"name": "m"}, 403, codeDenied)
		regFails(t, s, u.Developer, "GET", "/model-versions/get-download-uri", map[string]any{"name": "m", "version": "1"}, 403, codeDenied)
		// And an explicit READ lets a user without a role read.
		regOK(t, s, a, "POST", rmp+"create", map[string]any{"name": "m", "username": "nora", "permission": "READ"})
		regOK(t, s, u.Outsider, "GET", "/registered-models/get", map[string]any{"name": "m"})

		// Only managers change permissions: not a developer, not a reader,
		// but the creator of a model and a maintainer do.
		regFails(t, s, u.Developer, "POST", rmp+"create", map[string]any{"name": "m", "username": "mia", "permission": "READ"}, 403, codeDenied)
		regFails(t, s, u.Reader, "GET", rmp+"get", map[string]any{"name": "m", "username": "nora"}, 403, codeDenied)
		regFails(t, s, "", "GET", rmp+"get", map[string]any{"name": "m", "username": "nora"}, 401, codeUnauth)
		regCreateModel(t, s, u.Developer, "daves")
		regOK(t, s, u.Developer, "POST", rmp+"create", map[string]any{"name": "daves", "username": "rita", "permission": "MANAGE"})
		regOK(t, s, u.Reader, "PATCH", rmp+"update", map[string]any{"name": "daves", "username": "dave", "permission": "READ"})
		regFails(t, s, u.Developer, "POST", "/registered-models/set-tag", map[string]any{"name": "daves", "key": "k", "value": "v"}, 403, codeDenied)
		regOK(t, s, u.Maintainer, "PATCH", rmp+"update", map[string]any{"name": "m", "username": "nora", "permission": "EDIT"})
		// Permissions follow a rename.
		regOK(t, s, a, "POST", "/registered-models/rename", map[string]any{"name": "m", "new_name": "m2"})
		if got := regObj(t, regOK(t, s, a, "GET", rmp+"get", map[string]any{"name": "m2", "username": "nora"}), "registered_model_permission"); got["permission"] != "EDIT" || got["name"] != "m2" {
			t.Fatalf("after rename: %v", got)
		}

		// Experiments.
		const ep = "/experiments/permissions/"
		regFixtureExperiment(t, s, 7, "exp")
		out = regOK(t, s, a, "POST", ep+"create", map[string]any{"experiment_id": "7", "username": "rita", "permission": "MANAGE"})
		p = regObj(t, out, "experiment_permission")
		if p["experiment_id"] != "7" || p["user_id"] != float64(u.IDs["rita"]) || p["permission"] != "MANAGE" {
			t.Fatalf("experiment permission: %v", out)
		}
		regFails(t, s, a, "POST", ep+"create", map[string]any{"experiment_id": "7", "username": "rita", "permission": "READ"}, 400, codeExists)
		regFails(t, s, a, "POST", ep+"create", map[string]any{"experiment_id": "99", "username": "rita", "permission": "READ"}, 404, codeNotFound)
		regFails(t, s, a, "POST", ep+"create", map[string]any{"experiment_id": "abc", "username": "rita", "permission": "READ"}, 404, codeNotFound)
		regFails(t, s, a, "POST", ep+"create", map[string]any{"username": "rita", "permission": "READ"}, 400, codeInvalid)
		// rita manages experiment 7 and grants nora; dave (EDIT by role) may not.
		regOK(t, s, u.Reader, "POST", ep+"create", map[string]any{"experiment_id": 7, "username": "nora", "permission": "READ"})
		regFails(t, s, u.Developer, "POST", ep+"create", map[string]any{"experiment_id": "7", "username": "mia", "permission": "READ"}, 403, codeDenied)
		regFails(t, s, u.Developer, "GET", ep+"get", map[string]any{"experiment_id": "7", "username": "nora"}, 403, codeDenied)
		got = regObj(t, regOK(t, s, u.Reader, "GET", ep+"get", map[string]any{"experiment_id": "7", "username": "nora"}), "experiment_permission")
		if got["permission"] != "READ" || got["experiment_id"] != "7" {
			t.Fatalf("get experiment permission: %v", got)
		}
		regOK(t, s, a, "PATCH", ep+"update", map[string]any{"experiment_id": "7", "username": "nora", "permission": "EDIT"})
		if got := regObj(t, regOK(t, s, a, "GET", ep+"get", map[string]any{"experiment_id": "7", "username": "nora"}), "experiment_permission"); got["permission"] != "EDIT" {
			t.Fatalf("updated: %v", got)
		}
		regFails(t, s, a, "PATCH", ep+"update", map[string]any{"experiment_id": "7", "username": "mia", "permission": "EDIT"}, 404, codeNotFound)
		// A manager explicitly set to NO_PERMISSIONS is refused.
		regOK(t, s, a, "PATCH", ep+"update", map[string]any{"experiment_id": "7", "username": "rita", "permission": "NO_PERMISSIONS"})
		regFails(t, s, u.Reader, "GET", ep+"get", map[string]any{"experiment_id": "7", "username": "nora"}, 403, codeDenied)
		regOK(t, s, a, "DELETE", ep+"delete", map[string]any{"experiment_id": "7", "username": "nora"})
		regFails(t, s, a, "DELETE", ep+"delete", map[string]any{"experiment_id": "7", "username": "nora"}, 404, codeNotFound)
		regFails(t, s, "", "POST", ep+"create", map[string]any{"experiment_id": "7", "username": "nora", "permission": "READ"}, 401, codeUnauth)

		for _, action := range []string{"mlflow.permission.create", "mlflow.permission.update", "mlflow.permission.delete"} {
			if n := regCount(t, s, `SELECT COUNT(*) FROM audit_events WHERE action = $1`, action); n == 0 {
				t.Errorf("no audit event %s", action)
			}
		}
	})
}

func TestRegistryPublicSpace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		ctx := context.Background()
		space, err := s.Repos.Get(ctx, "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		space.Visibility = "public"
		if err := s.Repos.Update(ctx, space); err != nil {
			t.Fatal(err)
		}
		regCreateModel(t, s, a, "open")
		regCreateVersion(t, s, a, "open", "s3://b/open")
		regOK(t, s, "", "GET", "/registered-models/get", map[string]any{"name": "open"})
		regOK(t, s, "", "GET", "/model-versions/get-download-uri", map[string]any{"name": "open", "version": "1"})
		if got := regNames(regOK(t, s, "", "GET", "/registered-models/search", nil), "registered_models"); len(got) != 1 {
			t.Fatalf("anonymous search of a public space: %v", got)
		}
		regFails(t, s, "", "GET", "/registered-models/get", map[string]any{"name": "closed"}, 404, codeNotFound)
		regFails(t, s, "", "POST", "/registered-models/set-tag", map[string]any{"name": "open", "key": "k", "value": "v"}, 401, codeUnauth)
		regFails(t, s, "", "POST", "/registered-models/create", map[string]any{"name": "anon"}, 401, codeUnauth)
		// A user without a role reads a public space too.
		u := makeRegUsers(t, s)
		regOK(t, s, u.Outsider, "GET", "/registered-models/get", map[string]any{"name": "open"})
		regFails(t, s, u.Outsider, "POST", "/model-versions/create", map[string]any{"name": "open", "source": "s3://b/x"}, 403, codeDenied)
	})
}
