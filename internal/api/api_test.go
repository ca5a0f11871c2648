package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

const admin = apptest.Admin

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
}

func TestRepositoriesAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"datasets","format":"raw","visibility":"public","description":"shared data"}`))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create = %d %s", resp.StatusCode, body)
		}
		for _, bad := range []string{`{"name":"Bad Name","format":"raw"}`, `{"name":"x","format":"cobol"}`, `{"name":"x","format":"raw","extra":1}`, `not json`} {
			if resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(bad)); resp.StatusCode != 400 || !strings.Contains(body, `"error"`) {
				t.Errorf("create %s = %d %s", bad, resp.StatusCode, body)
			}
		}
		if resp, _ := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"datasets","format":"raw"}`)); resp.StatusCode != 409 {
			t.Fatalf("duplicate create = %d", resp.StatusCode)
		}
		// Anonymous callers see only public repositories.
		var repos []struct{ Name, Format, Kind, Visibility string }
		_, body = s.Do(t, "GET", "/api/v1/repositories", "", nil)
		decode(t, body, &repos)
		if len(repos) != 1 || repos[0].Name != "datasets" {
			t.Fatalf("anonymous list = %+v", repos)
		}
		_, body = s.Do(t, "GET", "/api/v1/repositories?format=raw", admin, nil)
		decode(t, body, &repos)
		if len(repos) != 2 {
			t.Fatalf("admin list = %+v", repos)
		}
		if resp, _ := s.Do(t, "POST", "/api/v1/repositories", "", strings.NewReader(`{"name":"y","format":"raw"}`)); resp.StatusCode != 401 {
			t.Fatalf("anonymous create = %d", resp.StatusCode)
		}
		resp, body = s.Do(t, "PATCH", "/api/v1/repositories/datasets", admin, strings.NewReader(`{"visibility":"private"}`))
		if resp.StatusCode != 200 || !strings.Contains(body, `"private"`) {
			t.Fatalf("patch = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/repositories/datasets", "", nil); resp.StatusCode != 401 {
			t.Fatalf("anonymous get of now-private = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/repositories/datasets", admin, nil); resp.StatusCode != 204 {
			t.Fatalf("delete = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/repositories/datasets", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("get deleted = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/api/v1/nothing", admin, nil); resp.StatusCode != 404 || !strings.Contains(body, "NOT_FOUND") {
			t.Fatalf("unknown endpoint = %d %s", resp.StatusCode, body)
		}
	})
}

func TestUsersTokensRolesAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		resp, body := s.Do(t, "POST", "/api/v1/users", admin, strings.NewReader(`{"name":"dana","password":"dana-password","email":"d@example.com"}`))
		if resp.StatusCode != 201 {
			t.Fatalf("create user = %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "POST", "/api/v1/users", admin, strings.NewReader(`{"name":"ci","kind":"robot","role":"reader"}`))
		var robot struct{ Token string }
		decode(t, body, &robot)
		if resp.StatusCode != 201 || !strings.HasPrefix(robot.Token, "arca_") {
			t.Fatalf("create robot = %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/api/v1/whoami", "ci:"+robot.Token, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"robot"`) {
			t.Fatalf("robot whoami = %d %s", resp.StatusCode, body)
		}
		// Users manage their own tokens, not others'.
		const dana = "dana:dana-password"
		resp, body = s.Do(t, "POST", "/api/v1/users/dana/tokens", dana, strings.NewReader(`{"name":"laptop","ttl":"24h"}`))
		var tok struct{ Token string }
		decode(t, body, &tok)
		if resp.StatusCode != 201 || tok.Token == "" {
			t.Fatalf("create token = %d %s", resp.StatusCode, body)
		}
		if strings.Contains(body, "hash") {
			t.Fatalf("token response leaks the hash: %s", body)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/users/admin/tokens", dana, nil); resp.StatusCode != 403 {
			t.Fatalf("dana lists admin's tokens = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/users", dana, nil); resp.StatusCode != 403 {
			t.Fatalf("dana lists users = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "PATCH", "/api/v1/users/dana", dana, strings.NewReader(`{"role":"admin"}`)); resp.StatusCode != 403 {
			t.Fatalf("dana makes herself admin = %d", resp.StatusCode)
		}
		_, body = s.Do(t, "GET", "/api/v1/users/dana/tokens", "dana:"+tok.Token, nil)
		if !strings.Contains(body, `"laptop"`) || strings.Contains(body, tok.Token) {
			t.Fatalf("token list = %s", body)
		}
		// Roles on a repository.
		if resp, _ := s.Do(t, "GET", "/raw/files/", dana, nil); resp.StatusCode != 403 {
			t.Fatalf("dana reads files before a grant = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "PUT", "/api/v1/repositories/files/roles/dana", admin, strings.NewReader(`{"role":"developer"}`)); resp.StatusCode != 200 {
			t.Fatalf("grant = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "PUT", "/api/v1/repositories/files/roles/dana", admin, strings.NewReader(`{"role":"owner"}`)); resp.StatusCode != 400 {
			t.Fatalf("grant of an unknown role = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "PUT", "/raw/files/x", dana, strings.NewReader("x")); resp.StatusCode != 201 {
			t.Fatalf("dana uploads after grant = %d", resp.StatusCode)
		}
		_, body = s.Do(t, "GET", "/api/v1/repositories/files/roles", admin, nil)
		if !strings.Contains(body, `"dana"`) {
			t.Fatalf("roles = %s", body)
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/repositories/files/roles/dana", admin, nil); resp.StatusCode != 204 {
			t.Fatalf("revoke = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/raw/files/x", dana, nil); resp.StatusCode != 403 {
			t.Fatalf("dana reads after revoke = %d", resp.StatusCode)
		}
		// Password change, then revoke the token.
		if resp, _ := s.Do(t, "PATCH", "/api/v1/users/dana", dana, strings.NewReader(`{"password":"new-dana-password","current_password":"dana-password"}`)); resp.StatusCode != 200 {
			t.Fatalf("password change = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/whoami", dana, nil); resp.StatusCode != 401 {
			t.Fatalf("old password after change = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/users/dana/tokens/laptop", "dana:new-dana-password", nil); resp.StatusCode != 204 {
			t.Fatalf("revoke token = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/whoami", "", nil, "Authorization", "Bearer "+tok.Token); resp.StatusCode != 401 {
			t.Fatalf("revoked token = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/users/admin", admin, nil); resp.StatusCode != 409 {
			t.Fatalf("admin deletes self = %d", resp.StatusCode)
		}
		// The audit trail records all of it, for admins only.
		resp, body = s.Do(t, "GET", "/api/v1/audit?limit=50", admin, nil)
		for _, action := range []string{"user.create", "token.create", "role.grant", "role.revoke", "user.update", "token.revoke", "raw.upload"} {
			if !strings.Contains(body, `"`+action+`"`) {
				t.Errorf("audit lacks %s", action)
			}
		}
		if strings.Contains(body, "new-dana-password") || strings.Contains(body, tok.Token) {
			t.Fatal("audit trail contains a secret")
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/audit", "ci:"+robot.Token, nil); resp.StatusCode != 403 {
			t.Fatalf("robot reads audit = %d", resp.StatusCode)
		}
	})
}

func TestOperations(t *testing.T) {
	s := apptest.Start(t, "", nil)
	if resp, body := s.Do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("healthz = %d %q", resp.StatusCode, body)
	}
	resp, body := s.Do(t, "GET", "/readyz", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"database": "ok"`) || !strings.Contains(body, `"blobstore": "ok"`) {
		t.Fatalf("readyz = %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}
	resp, _ = s.Do(t, "GET", "/healthz", "", nil, "X-Request-Id", "abc-123")
	if resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatal("incoming X-Request-Id not kept")
	}
	s.Do(t, "PUT", "/raw/files/m", admin, strings.NewReader("metric bytes"))
	s.Do(t, "GET", "/raw/files/m", admin, nil)
	_, body = s.Do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{
		`arca_http_requests_total{method="PUT",route="/raw/{repo}/{path...}",status="201",surface="raw"} 1`,
		`arca_http_request_duration_seconds_bucket{method="GET",route="/raw/{repo}/{path...}",surface="raw"`,
		`arca_http_request_bytes_total{surface="raw"} 12`,
		`arca_blob_operations_total{op="put",result="ok"} 1`,
		`arca_blob_bytes_total{op="put"} 12`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Database down: readyz fails.
	s.DB.Close()
	if resp, body := s.Do(t, "GET", "/readyz", "", nil); resp.StatusCode != 503 || !strings.Contains(body, `"database": "failing"`) {
		t.Fatalf("readyz with a closed database = %d %s", resp.StatusCode, body)
	}
	if resp, body := s.Do(t, "GET", "/raw/files/m", admin, nil); resp.StatusCode != 503 {
		t.Fatalf("download with a closed database = %d %s", resp.StatusCode, body)
	}
}
