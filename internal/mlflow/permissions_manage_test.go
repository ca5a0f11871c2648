package mlflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// TestPermissionManagers: who may see and change the permissions of an
// experiment or a registered model (issue 11), for every role. The rule is
// MLflow's basic-auth app's — MANAGE on the resource, or an administrator
// — with arca's administrators: the admin role on the mlflow repository or
// the global admin role, which an explicit permission on the resource does
// not take away.
func TestPermissionManagers(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		u := makeRegUsers(t, s) // rita reader, dave developer, mia maintainer, nora none
		space, err := s.Repos.Get(ctx, "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		user := func(name string, global, onSpace auth.Role) string {
			t.Helper()
			if _, err := s.Auth.CreateUser(ctx, name, "password-"+name, "", global); err != nil {
				t.Fatal(err)
			}
			if onSpace != auth.NoRole {
				if err := s.Auth.Grant(ctx, name, space.ID, onSpace); err != nil {
					t.Fatal(err)
				}
			}
			return name + ":password-" + name
		}
		spaceAdmin := user("ada", auth.NoRole, auth.Admin)
		lockedAdmin := user("lena", auth.NoRole, auth.Admin) // admin of the space, NO_PERMISSIONS on the resources
		loweredMaint := user("max", auth.NoRole, auth.Maintainer)
		globalMaint := user("gus", auth.Maintainer, auth.NoRole)
		granted := user("gina", auth.NoRole, auth.Reader) // a reader given MANAGE on the resources
		user("target", auth.NoRole, auth.NoRole)

		a := apptest.Admin
		out := regOK(t, s, a, "POST", "/experiments/create", map[string]any{"name": "exp"})
		expID, _ := out["experiment_id"].(string)
		regCreateModel(t, s, a, "model")
		for _, x := range []struct{ user, perm string }{{"lena", "NO_PERMISSIONS"}, {"max", "READ"}, {"gina", "MANAGE"}} {
			regOK(t, s, a, "POST", "/experiments/permissions/create", map[string]any{"experiment_id": expID, "username": x.user, "permission": x.perm})
			regOK(t, s, a, "POST", "/registered-models/permissions/create", map[string]any{"name": "model", "username": x.user, "permission": x.perm})
		}

		type resource struct {
			prefix string
			key    map[string]any
			v3     []string // resource_type, resource_id
		}
		resources := []resource{
			{"/experiments/permissions/", map[string]any{"experiment_id": expID}, []string{"experiment", expID}},
			{"/registered-models/permissions/", map[string]any{"name": "model"}, []string{"registered_model", "model"}},
		}
		with := func(m map[string]any, kv ...any) map[string]any {
			out := map[string]any{}
			for k, v := range m {
				out[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				out[kv[i].(string)] = kv[i+1]
			}
			return out
		}
		for _, c := range []struct {
			name, creds string
			status      int // of every call: 200, 401 or 403
		}{
			{"global admin", a, 200},
			{"admin of the space", spaceAdmin, 200},
			{"admin of the space with NO_PERMISSIONS on the resource", lockedAdmin, 200},
			{"maintainer", u.Maintainer, 200},
			{"global maintainer", globalMaint, 200},
			{"reader granted MANAGE", granted, 200},
			{"maintainer lowered to READ on the resource", loweredMaint, 403},
			{"developer", u.Developer, 403},
			{"reader", u.Reader, 403},
			{"user without a role", u.Outsider, 403},
			{"anonymous", "", 401},
		} {
			for _, r := range resources {
				calls := []struct{ method, op, perm string }{
					{"POST", "create", "READ"}, {"GET", "get", ""}, {"PATCH", "update", "EDIT"}, {"DELETE", "delete", ""},
				}
				for _, call := range calls {
					body := with(r.key, "username", "target")
					if call.perm != "" {
						body["permission"] = call.perm
					}
					if c.status == 200 {
						regOK(t, s, c.creds, call.method, r.prefix+call.op, body)
						continue
					}
					code := codeDenied
					if c.status == 401 {
						code = codeUnauth
					}
					regFails(t, s, c.creds, call.method, r.prefix+call.op, body, c.status, code)
				}
				// MLflow 3's grant and revoke follow the same rule.
				for _, op := range []string{"grant", "revoke"} {
					body := `{"username":"target","resource_type":"` + r.v3[0] + `","resource_id":"` + r.v3[1] + `","permission":"READ"}`
					resp, text := s.Do(t, "POST", "/mlflow/api/3.0/mlflow/users/permissions/"+op, c.creds, strings.NewReader(body), "Content-Type", "application/json")
					if resp.StatusCode != c.status {
						t.Fatalf("%s: %s %s: %d %s", c.name, op, r.v3[0], resp.StatusCode, text)
					}
				}
			}
		}

		// The creator of a resource manages it and holds MANAGE explicitly,
		// so creating another permission for the creator is
		// RESOURCE_ALREADY_EXISTS (400), as in MLflow: update it instead.
		out = regOK(t, s, u.Developer, "POST", "/experiments/create", map[string]any{"name": "daves"})
		daves, _ := out["experiment_id"].(string)
		regOK(t, s, u.Developer, "POST", "/experiments/permissions/create", map[string]any{"experiment_id": daves, "username": "target", "permission": "READ"})
		regFails(t, s, spaceAdmin, "POST", "/experiments/permissions/create", map[string]any{"experiment_id": daves, "username": "dave", "permission": "READ"}, 400, codeExists)
		regOK(t, s, spaceAdmin, "PATCH", "/experiments/permissions/update", map[string]any{"experiment_id": daves, "username": "dave", "permission": "READ"})
		regFails(t, s, u.Developer, "PATCH", "/experiments/permissions/update", map[string]any{"experiment_id": daves, "username": "target", "permission": "EDIT"}, 403, codeDenied)
	})
}
