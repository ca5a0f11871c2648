package cleanup_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestAccess checks every cleanup and usage endpoint for every role:
// cleanup is for global admins only; usage shows each caller the
// repositories it may read and nothing of the others, not even names.
func TestAccess(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"secret-stuff","format":"raw","owner":"team-x"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"team","format":"raw","owner":"team-y"}`, 201)
		do(t, s, "PUT", "/raw/secret-stuff/a", admin, "secret bytes", 201)
		do(t, s, "PUT", "/raw/team/b", admin, "team bytes", 201)
		for u, role := range map[string]string{"reader": "reader", "dev": "developer", "owner": "admin"} {
			do(t, s, "POST", "/api/v1/users", admin, `{"name":"`+u+`","password":"`+u+`-password-1"}`, 201)
			do(t, s, "PUT", "/api/v1/repositories/team/roles/"+u, admin, `{"role":"`+role+`"}`, 200)
		}
		do(t, s, "POST", "/api/v1/users", admin, `{"name":"other","password":"other-password-1"}`, 201)
		do(t, s, "POST", "/api/v1/cleanup/policies", admin, `{"name":"p","format":"raw","repository":"team","criteria":{"keep_last":5}}`, 201)

		who := map[string]string{"anonymous": "", "reader": "reader:reader-password-1", "developer": "dev:dev-password-1",
			"repository admin": "owner:owner-password-1", "other user": "other:other-password-1"}
		type ep struct{ method, path, body string }
		endpoints := []ep{
			{"GET", "/api/v1/cleanup/policies", ""},
			{"POST", "/api/v1/cleanup/policies", `{"name":"q","format":"raw","criteria":{"keep_last":1}}`},
			{"POST", "/api/v1/cleanup/preview", `{"format":"raw","criteria":{"keep_last":1}}`},
			{"GET", "/api/v1/cleanup/policies/p", ""},
			{"PUT", "/api/v1/cleanup/policies/p", `{"format":"raw","criteria":{"keep_last":2}}`},
			{"POST", "/api/v1/cleanup/policies/p/preview", ""},
			{"POST", "/api/v1/cleanup/policies/p/run", ""},
			{"DELETE", "/api/v1/cleanup/policies/p", ""},
			{"GET", "/api/v1/usage/history?scope=total", ""},
			{"GET", "/api/v1/usage/history?scope=owner&name=team-x", ""},
			{"GET", "/api/v1/usage/history?scope=format&name=raw", ""},
		}
		for name, cred := range who {
			want := 403
			if cred == "" {
				want = 401
			}
			for _, e := range endpoints {
				resp, body := s.Do(t, e.method, e.path, cred, strings.NewReader(e.body), "Content-Type", "application/json")
				if resp.StatusCode != want {
					t.Errorf("%s: %s %s = %d %s, want %d", name, e.method, e.path, resp.StatusCode, body, want)
				}
				if strings.Contains(body, "secret-stuff") || strings.Contains(body, "team-x") {
					t.Errorf("%s: %s %s leaks: %s", name, e.method, e.path, body)
				}
			}
		}
		// A global admin may do all of it (run last: it queues a job).
		for _, e := range []ep{endpoints[0], endpoints[1], endpoints[2], endpoints[3], endpoints[4], endpoints[5], endpoints[8], endpoints[9], endpoints[10]} {
			resp, body := s.Do(t, e.method, e.path, admin, strings.NewReader(e.body), "Content-Type", "application/json")
			if resp.StatusCode >= 300 {
				t.Errorf("admin: %s %s = %d %s", e.method, e.path, resp.StatusCode, body)
			}
		}
		do(t, s, "POST", "/api/v1/cleanup/policies/p/run", admin, "", 202)
		do(t, s, "DELETE", "/api/v1/cleanup/policies/p", admin, "", 204)

		// Usage: anonymous 401; every signed-in user sees the
		// repositories it may read, only admins the owners and formats.
		do(t, s, "GET", "/api/v1/usage", "", "", 401)
		for name, cred := range who {
			if cred == "" {
				continue
			}
			body := do(t, s, "GET", "/api/v1/usage", cred, "", 200)
			var rep struct {
				Repositories []struct{ Name string }
				Owners       []any
			}
			json.Unmarshal([]byte(body), &rep)
			if strings.Contains(body, "secret-stuff") || strings.Contains(body, "team-x") || rep.Owners != nil {
				t.Errorf("%s: usage leaks: %s", name, body)
			}
			sawTeam := false
			for _, r := range rep.Repositories {
				sawTeam = sawTeam || r.Name == "team"
			}
			if sawTeam != (name != "other user") {
				t.Errorf("%s: usage = %s", name, body)
			}
			// A repository's history: readers of it see it; others get
			// what a missing repository gets.
			want := 200
			if name == "other user" {
				want = 404
			}
			do(t, s, "GET", "/api/v1/usage/history?scope=repository&name=team", cred, "", want)
			do(t, s, "GET", "/api/v1/usage/history?scope=repository&name=secret-stuff", cred, "", 404)
		}
		do(t, s, "GET", "/api/v1/usage/history?scope=repository&name=team", "", "", 401)
		body := do(t, s, "GET", "/api/v1/usage", admin, "", 200)
		if !strings.Contains(body, `"team-x"`) || !strings.Contains(body, `"format"`) {
			t.Errorf("admin usage lacks owners or formats: %s", body)
		}
	})
}
