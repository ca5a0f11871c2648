package mlflow_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestUserPermissionsV3 drives MLflow 3's grant/revoke/get endpoints as
// mlflow.server.auth.client.AuthServiceClient calls them.
func TestUserPermissionsV3(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		a := apptest.Admin
		u := makeRegUsers(t, s)
		regCreateModel(t, s, a, "m")
		const base = "/mlflow/api/3.0/mlflow/users/permissions/"
		call := func(creds, method, op string, body map[string]string) (int, map[string]any) {
			t.Helper()
			var status int
			var text string
			if method == "GET" {
				q := url.Values{}
				for k, v := range body {
					q.Set(k, v)
				}
				resp, txt := s.Do(t, "GET", base+op+"?"+q.Encode(), creds, nil)
				status, text = resp.StatusCode, txt
			} else {
				b, _ := json.Marshal(body)
				resp, txt := s.Do(t, method, base+op, creds, strings.NewReader(string(b)), "Content-Type", "application/json")
				status, text = resp.StatusCode, txt
			}
			var out map[string]any
			json.Unmarshal([]byte(text), &out)
			return status, out
		}
		get := func(user string) map[string]any {
			t.Helper()
			st, out := call(a, "GET", "get", map[string]string{"username": user, "resource_type": "registered_model", "resource_id": "m"})
			if st != 200 {
				t.Fatalf("get %s: %d %v", user, st, out)
			}
			return out
		}
		// Defaults from the space role: rita reads, dave edits.
		if g := get("rita"); g["permission"] != "READ" || g["allowed"] != false {
			t.Fatalf("rita by role: %v", g)
		}
		if g := get("dave"); g["permission"] != "EDIT" || g["allowed"] != true {
			t.Fatalf("dave by role: %v", g)
		}
		// Grant EDIT to rita: she may now tag the model; grant replaces.
		if st, out := call(a, "POST", "grant", map[string]string{"username": "rita", "resource_type": "registered_model", "resource_id": "m", "permission": "EDIT"}); st != 200 {
			t.Fatalf("grant: %d %v", st, out)
		}
		if g := get("rita"); g["permission"] != "EDIT" || g["allowed"] != true {
			t.Fatalf("rita granted: %v", g)
		}
		regOK(t, s, u.Reader, "POST", "/registered-models/set-tag", map[string]any{"name": "m", "key": "k", "value": "v"})
		call(a, "POST", "grant", map[string]string{"username": "rita", "resource_type": "registered_model", "resource_id": "m", "permission": "NO_PERMISSIONS"})
		regFails(t, s, u.Reader, "GET", "/registered-models/get", map[string]any{"name": "m"}, 403, codeDenied)
		// Revoke: back to the role's default; a second revoke finds nothing.
		if st, out := call(a, "POST", "revoke", map[string]string{"username": "rita", "resource_type": "registered_model", "resource_id": "m"}); st != 200 {
			t.Fatalf("revoke: %d %v", st, out)
		}
		if g := get("rita"); g["permission"] != "READ" {
			t.Fatalf("rita after revoke: %v", g)
		}
		if st, out := call(a, "POST", "revoke", map[string]string{"username": "rita", "resource_type": "registered_model", "resource_id": "m"}); st != 404 || out["error_code"] != codeNotFound {
			t.Fatalf("second revoke: %d %v", st, out)
		}
		// Experiments by id; bad resource types, unknown users and
		// callers who do not manage the resource are refused.
		if st, out := call(a, "POST", "grant", map[string]string{"username": "nora", "resource_type": "experiment", "resource_id": "0", "permission": "READ"}); st != 200 {
			t.Fatalf("grant on experiment: %d %v", st, out)
		}
		if st, out := call(a, "POST", "grant", map[string]string{"username": "nora", "resource_type": "gateway_endpoint", "resource_id": "x", "permission": "READ"}); st != 400 || out["error_code"] != codeInvalid {
			t.Fatalf("bad resource type: %d %v", st, out)
		}
		if st, out := call(a, "GET", "get", map[string]string{"username": "ghost", "resource_type": "experiment", "resource_id": "0"}); st != 404 || out["error_code"] != codeNotFound {
			t.Fatalf("unknown user: %d %v", st, out)
		}
		if st, out := call(u.Developer, "POST", "grant", map[string]string{"username": "nora", "resource_type": "registered_model", "resource_id": "m", "permission": "MANAGE"}); st != 403 || out["error_code"] != codeDenied {
			t.Fatalf("developer granting: %d %v", st, out)
		}
		if st, _ := call("", "POST", "grant", map[string]string{"username": "nora", "resource_type": "registered_model", "resource_id": "m", "permission": "MANAGE"}); st != 401 {
			t.Fatalf("anonymous granting: %d", st)
		}
	})
}
