package replication_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

// TestPolicyAPIRoles: every replication endpoint answers anonymous
// callers 401, and readers, developers and a repository's own admin 403;
// only server administrators get through.
func TestPolicyAPIRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		users := map[string]string{"rita": "reader", "dave": "developer", "olga": ""}
		for u, role := range users {
			body := fmt.Sprintf(`{"name":%q,"password":"%s-password","role":%q}`, u, u, role)
			if resp, out := s.Do(t, "POST", "/api/v1/users", admin, strings.NewReader(body)); resp.StatusCode != 201 {
				t.Fatalf("creating %s = %d %s", u, resp.StatusCode, out)
			}
		}
		// Every kind of repository a policy may be on, the new formats too.
		for _, rp := range []struct{ repo, remote string }{{"library", "library"}, {"go-hosted", "go-hosted"}, {"helm-hosted", "helm-hosted"}} {
			t.Run(rp.repo, func(t *testing.T) { policyRoles(t, s, rp.repo, rp.remote) })
		}
	})
}

// policyRoles checks every endpoint of a policy on repository for every
// role; olga administers that repository, not the server.
func policyRoles(t *testing.T, s *apptest.Server, repository, remote string) {
	if resp, out := s.Do(t, "PUT", "/api/v1/repositories/"+repository+"/roles/olga", admin, strings.NewReader(`{"role":"admin"}`)); resp.StatusCode != 200 {
		t.Fatalf("grant = %d %s", resp.StatusCode, out)
	}
	p := createPolicy(t, s, fmt.Sprintf(`{"name":"p1-%s","repository":%q,"direction":"push","remote":{"url":"http://127.0.0.1:1","repository":%q}}`,
		repository, repository, remote))
	if p.Format == "" || p.Repository != repository {
		t.Fatalf("policy = %+v", p)
	}
	policy := mustJSON(t, p)
	endpoints := []struct{ method, path, body string }{
		{"GET", "/api/v1/replication/policies", ""},
		{"POST", "/api/v1/replication/policies", strings.Replace(policy, `"p1-`, `"p2-`, 1)},
		{"GET", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), ""},
		{"PUT", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), policy},
		{"POST", fmt.Sprintf("/api/v1/replication/policies/%d/run", p.ID), ""},
		{"GET", fmt.Sprintf("/api/v1/replication/policies/%d/runs", p.ID), ""},
		{"GET", "/api/v1/replication/runs", ""},
		{"GET", "/api/v1/replication/runs/1", ""},
		{"DELETE", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), ""},
	}
	for _, e := range endpoints {
		for who, want := range map[string]int{"": 401, "rita:rita-password": 403, "dave:dave-password": 403, "olga:olga-password": 403} {
			resp, out := s.Do(t, e.method, e.path, who, strings.NewReader(e.body))
			if resp.StatusCode != want || !strings.Contains(out, `"error"`) {
				t.Errorf("%s %s as %q = %d %s, want %d", e.method, e.path, who, resp.StatusCode, out, want)
			}
			if who != "" && (strings.Contains(out, "127.0.0.1:1") || strings.Contains(out, "p1-")) {
				t.Errorf("%s %s as %q leaks the policy: %s", e.method, e.path, who, out)
			}
		}
	}
	// The admin gets through each (the run is queued, not worked: the
	// test runs no job workers).
	wantAdmin := []int{200, 201, 200, 200, 202, 200, 200, 404, 204}
	for i, e := range endpoints {
		resp, out := s.Do(t, e.method, e.path, admin, strings.NewReader(e.body))
		if resp.StatusCode != wantAdmin[i] {
			t.Errorf("%s %s as admin = %d %s, want %d", e.method, e.path, resp.StatusCode, out, wantAdmin[i])
		}
	}
}

// TestPolicyValidation: what admins send is checked, credentials are
// never shown again, and they are sealed at rest.
func TestPolicyValidation(t *testing.T) {
	s := apptest.Start(t, "", nil)
	if resp, out := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"pyproxy","format":"pypi","kind":"proxy","settings":{"upstream":{"url":"http://127.0.0.1:1/simple"}}}`)); resp.StatusCode != 201 {
		t.Fatalf("proxy = %d %s", resp.StatusCode, out)
	}
	bad := map[string]string{
		"bad name":         `{"name":"Bad Name","repository":"library","direction":"push","remote":{"url":"http://x"}}`,
		"bad direction":    `{"name":"a","repository":"library","direction":"both","remote":{"url":"http://x"}}`,
		"no such repo":     `{"name":"a","repository":"nope","direction":"push","remote":{"url":"http://x"}}`,
		"proxy repo":       `{"name":"a","repository":"pyproxy","direction":"push","remote":{"url":"http://x","repository":"r"}}`,
		"ftp":              `{"name":"a","repository":"library","direction":"push","remote":{"url":"ftp://x"}}`,
		"s3 for oci":       `{"name":"a","repository":"library","direction":"push","remote":{"url":"s3://us-east-1"}}`,
		"userinfo":         `{"name":"a","repository":"library","direction":"push","remote":{"url":"https://u:p@x"}}`,
		"no host":          `{"name":"a","repository":"library","direction":"push","remote":{"url":"http://"}}`,
		"query":            `{"name":"a","repository":"library","direction":"push","remote":{"url":"http://x/?a=b"}}`,
		"bad glob":         `{"name":"a","repository":"library","direction":"push","remote":{"url":"http://x"},"filter":{"names":["[a-"]}}`,
		"pull on event":    `{"name":"a","repository":"library","direction":"pull","on_event":true,"remote":{"url":"http://x"}}`,
		"short schedule":   `{"name":"a","repository":"library","direction":"push","schedule":"10s","remote":{"url":"http://x"}}`,
		"referrers on raw": `{"name":"a","repository":"files","direction":"push","remote":{"url":"http://x","repository":"f"},"filter":{"referrers":true}}`,
		"raw no remote":    `{"name":"a","repository":"files","direction":"push","remote":{"url":"http://x"}}`,
		"unknown field":    `{"name":"a","repository":"library","direction":"push","remote":{"url":"http://x"},"surprise":1}`,
		"tiny bandwidth":   `{"name":"a","repository":"library","direction":"push","remote":{"url":"http://x"},"bandwidth_limit":10}`,
		"not json":         `{"name":`,
		"go no remote":     `{"name":"a","repository":"go-hosted","direction":"push","remote":{"url":"http://x"}}`,
		"go s3 url":        `{"name":"a","repository":"go-hosted","direction":"push","remote":{"url":"s3://us-east-1","repository":"g"}}`,
		"go proxy repo":    `{"name":"a","repository":"goproxy","direction":"push","remote":{"url":"http://x","repository":"g"}}`,
		"helm referrers":   `{"name":"a","repository":"helm-hosted","direction":"push","remote":{"url":"http://x","repository":"h"},"filter":{"referrers":true}}`,
		"helm pull event":  `{"name":"a","repository":"helm-hosted","direction":"pull","on_event":true,"remote":{"url":"http://x","repository":"h"}}`,
	}
	if resp, out := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"goproxy","format":"go","kind":"proxy","settings":{"upstream":{"url":"http://127.0.0.1:1"}}}`)); resp.StatusCode != 201 {
		t.Fatalf("go proxy = %d %s", resp.StatusCode, out)
	}
	for what, body := range bad {
		resp, out := s.Do(t, "POST", "/api/v1/replication/policies", admin, strings.NewReader(body))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out, `"error"`) {
			t.Errorf("%s: %d %s, want 400", what, resp.StatusCode, out)
		}
	}
	p := createPolicy(t, s, `{"name":"a","repository":"library","direction":"push","remote":{"url":"https://registry.example:5000","username":"robot","password":"s3cret-password"}}`)
	if resp, _ := s.Do(t, "POST", "/api/v1/replication/policies", admin, strings.NewReader(`{"name":"a","repository":"library","direction":"push","remote":{"url":"http://x"}}`)); resp.StatusCode != 409 {
		t.Errorf("duplicate name = %d, want 409", resp.StatusCode)
	}
	for _, path := range []string{"/api/v1/replication/policies", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID)} {
		if _, out := s.Do(t, "GET", path, admin, nil); strings.Contains(out, "s3cret-password") || strings.Contains(out, "robot") {
			t.Errorf("GET %s shows credentials: %s", path, out)
		}
	}
	var stored string
	if err := s.DB.QueryRow(`SELECT config FROM replication_policies WHERE id = $1`, p.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "s3cret-password") || !strings.Contains(stored, "sealed:") {
		t.Errorf("credentials are not sealed at rest: %s", stored)
	}
	// A replace that sends the masked values back keeps them.
	p.Schedule = "1h"
	if resp, out := s.Do(t, "PUT", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), admin, strings.NewReader(mustJSON(t, p))); resp.StatusCode != 200 {
		t.Fatalf("replace = %d %s", resp.StatusCode, out)
	}
	var again string
	s.DB.QueryRow(`SELECT config FROM replication_policies WHERE id = $1`, p.ID).Scan(&again)
	if again == stored || !strings.Contains(again, "sealed:") || !strings.Contains(again, `"schedule":"1h"`) {
		t.Errorf("after replace: %s", again)
	}
	var got replication.Policy
	_, out := s.Do(t, "GET", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), admin, nil)
	decode(t, out, &got)
	if got.Remote.Password != replication.Masked || got.Remote.Username != replication.Masked || got.Schedule != "1h" {
		t.Errorf("after replace: %+v", got)
	}
	// A policy goes with its repository.
	if resp, _ := s.Do(t, "DELETE", "/api/v1/repositories/library", admin, nil); resp.StatusCode != 204 {
		t.Fatal("deleting the repository")
	}
	if resp, _ := s.Do(t, "GET", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), admin, nil); resp.StatusCode != 404 {
		t.Errorf("policy of a deleted repository = %d, want 404", resp.StatusCode)
	}
}
