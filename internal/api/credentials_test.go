package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
)

// bearer sends a request with a token.
func bearer(t *testing.T, s *apptest.Server, method, path, token, body string) (*http.Response, string) {
	t.Helper()
	return s.Do(t, method, path, "", strings.NewReader(body), "Authorization", "Bearer "+token)
}

// TestTokenLifetimeBoundsCredentials is the regression test of issue 22
// item 6: a short-lived token created a non-expiring token, an S3 key pair,
// and changed the account's password without the old one.
func TestTokenLifetimeBoundsCredentials(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		if resp, body := s.Do(t, "POST", "/api/v1/users", admin, strings.NewReader(`{"name":"erin","password":"erin-password"}`)); resp.StatusCode != 201 {
			t.Fatalf("create user = %d %s", resp.StatusCode, body)
		}
		const erin = "erin:erin-password"
		var short struct {
			Token string
			Info  struct {
				ExpiresAt int64 `json:"expires_at"`
			}
		}
		resp, body := s.Do(t, "POST", "/api/v1/users/erin/tokens", erin, strings.NewReader(`{"name":"short","ttl":"1h"}`))
		decode(t, body, &short)
		if resp.StatusCode != 201 {
			t.Fatalf("create short token = %d %s", resp.StatusCode, body)
		}
		// No token that outlives it: neither a non-expiring one nor a longer one.
		for _, req := range []string{`{"name":"forever"}`, `{"name":"longer","ttl":"2h"}`} {
			if resp, body := bearer(t, s, "POST", "/api/v1/users/erin/tokens", short.Token, req); resp.StatusCode != 403 || !strings.Contains(body, "outlive") {
				t.Errorf("short token creates %s = %d %s", req, resp.StatusCode, body)
			}
		}
		// A shorter one is fine.
		if resp, body := bearer(t, s, "POST", "/api/v1/users/erin/tokens", short.Token, `{"name":"shorter","ttl":"30m"}`); resp.StatusCode != 201 {
			t.Errorf("short token creates a shorter one = %d %s", resp.StatusCode, body)
		}
		// No S3 key pair: access keys do not expire.
		if resp, body := bearer(t, s, "POST", "/api/v1/users/erin/s3keys", short.Token, ""); resp.StatusCode != 403 {
			t.Errorf("short token creates an S3 key = %d %s", resp.StatusCode, body)
		}
		// No password change without the current password, and not with a
		// token standing in for it.
		for _, req := range []string{`{"password":"taken-over-pw"}`, `{"password":"taken-over-pw","current_password":"` + short.Token + `"}`,
			`{"password":"taken-over-pw","current_password":"wrong-password"}`} {
			if resp, body := bearer(t, s, "PATCH", "/api/v1/users/erin", short.Token, req); resp.StatusCode != 403 {
				t.Errorf("short token changes the password with %s = %d %s", req, resp.StatusCode, body)
			}
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/whoami", erin, nil); resp.StatusCode != 200 {
			t.Fatalf("the password changed: whoami = %d", resp.StatusCode)
		}
		if resp, body := bearer(t, s, "PATCH", "/api/v1/users/erin", short.Token, `{"password":"erin-password-2","current_password":"erin-password"}`); resp.StatusCode != 200 {
			t.Errorf("password change with the current one = %d %s", resp.StatusCode, body)
		}
		const erin2 = "erin:erin-password-2"
		// A token scoped out of credential management can do none of it.
		var scoped struct{ Token string }
		resp, body = s.Do(t, "POST", "/api/v1/users/erin/tokens", erin2, strings.NewReader(`{"name":"ci","manage_credentials":false}`))
		decode(t, body, &scoped)
		if resp.StatusCode != 201 || !strings.Contains(body, `"manage_credentials": false`) {
			t.Fatalf("create scoped token = %d %s", resp.StatusCode, body)
		}
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/api/v1/users/erin/tokens", `{"name":"x","ttl":"1m"}`},
			{"DELETE", "/api/v1/users/erin/tokens/short", ""},
			{"POST", "/api/v1/users/erin/s3keys", ""},
			{"PATCH", "/api/v1/users/erin", `{"password":"erin-password-3","current_password":"erin-password-2"}`},
		} {
			if resp, body := bearer(t, s, c.method, c.path, scoped.Token, c.body); resp.StatusCode != 403 || !strings.Contains(body, "manage credentials") {
				t.Errorf("scoped token %s %s = %d %s", c.method, c.path, resp.StatusCode, body)
			}
		}
		if resp, _ := bearer(t, s, "GET", "/api/v1/users/erin/tokens", scoped.Token, ""); resp.StatusCode != 200 {
			t.Errorf("scoped token lists tokens = %d", resp.StatusCode)
		}
		// A non-expiring, unscoped token keeps every power of its owner.
		var full struct{ Token string }
		_, body = s.Do(t, "POST", "/api/v1/users/erin/tokens", erin2, strings.NewReader(`{"name":"full"}`))
		decode(t, body, &full)
		if resp, body := bearer(t, s, "POST", "/api/v1/users/erin/s3keys", full.Token, ""); resp.StatusCode != 201 {
			t.Errorf("full token creates an S3 key = %d %s", resp.StatusCode, body)
		}
		if resp, body := bearer(t, s, "POST", "/api/v1/users/erin/tokens", full.Token, `{"name":"forever2"}`); resp.StatusCode != 201 {
			t.Errorf("full token creates a token = %d %s", resp.StatusCode, body)
		}

		// An administrator's expiring token cannot mint lasting credentials
		// for others either; the admin's password can.
		var adminTok struct{ Token string }
		_, body = s.Do(t, "POST", "/api/v1/users/admin/tokens", admin, strings.NewReader(`{"name":"short-admin","ttl":"1h"}`))
		decode(t, body, &adminTok)
		for _, c := range []struct{ method, path, body string }{
			{"PATCH", "/api/v1/users/erin", `{"password":"admin-chosen-pw"}`},
			{"POST", "/api/v1/users", `{"name":"bot","kind":"robot","role":"admin"}`},
			{"POST", "/api/v1/users", `{"name":"mallory","password":"mallory-password","role":"admin"}`},
		} {
			if resp, body := bearer(t, s, c.method, c.path, adminTok.Token, c.body); resp.StatusCode != 403 {
				t.Errorf("expiring admin token %s %s = %d %s", c.method, c.path, resp.StatusCode, body)
			}
		}
		if resp, body := s.Do(t, "PATCH", "/api/v1/users/erin", admin, strings.NewReader(`{"password":"admin-chosen-pw"}`)); resp.StatusCode != 200 {
			t.Errorf("admin sets a password = %d %s", resp.StatusCode, body)
		}
	})
}

// TestTokenCredentialsNone: with auth.token_credentials none, no token
// manages credentials, however it was created.
func TestTokenCredentialsNone(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) { c.Auth.TokenCredentials = "none" })
	var tok struct{ Token string }
	resp, body := s.Do(t, "POST", "/api/v1/users/admin/tokens", admin, strings.NewReader(`{"name":"t"}`))
	decode(t, body, &tok)
	if resp.StatusCode != 201 {
		t.Fatalf("create token with a password = %d %s", resp.StatusCode, body)
	}
	if resp, body := bearer(t, s, "POST", "/api/v1/users/admin/tokens", tok.Token, `{"name":"u","ttl":"1m"}`); resp.StatusCode != 403 {
		t.Fatalf("token creates a token = %d %s", resp.StatusCode, body)
	}
	if resp, _ := bearer(t, s, "GET", "/api/v1/whoami", tok.Token, ""); resp.StatusCode != 200 {
		t.Fatalf("token still authenticates = %d", resp.StatusCode)
	}
}
