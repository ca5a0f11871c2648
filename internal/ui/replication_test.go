package ui_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// TestReplicationPages: administrators see the policies (never their
// credentials), their runs and a run's items with the reason each failed;
// others are refused.
func TestReplicationPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if resp, out := s.Do(t, "PUT", "/raw/files/report.csv", apptest.Admin, strings.NewReader("a,b\n")); resp.StatusCode != 201 {
			t.Fatalf("put = %d %s", resp.StatusCode, out)
		}
		if resp, out := s.Do(t, "POST", "/api/v1/replication/policies", apptest.Admin, strings.NewReader(
			`{"name":"offsite","repository":"files","direction":"push","schedule":"1h","remote":{"url":"http://127.0.0.1:1","repository":"files","username":"robot","password":"very-secret-pw"}}`)); resp.StatusCode != 201 {
			t.Fatalf("policy = %d %s", resp.StatusCode, out)
		}
		if resp, out := s.Do(t, "POST", "/api/v1/replication/policies/1/run", apptest.Admin, nil); resp.StatusCode != 202 {
			t.Fatalf("run = %d %s", resp.StatusCode, out)
		}
		if err := s.Jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Jobs.Stop(c)
		})
		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		var page string
		deadline := time.Now().Add(30 * time.Second)
		for {
			page = admin.get("/ui/admin/replication", http.StatusOK)
			if strings.Contains(page, ">failed<") || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, want := range []string{"offsite", "http://127.0.0.1:1", "every 1h", ">failed<"} {
			if !strings.Contains(page, want) {
				t.Fatalf("replication page lacks %q:\n%s", want, excerpt(page))
			}
		}
		if strings.Contains(page, "very-secret-pw") || strings.Contains(page, "robot") {
			t.Fatalf("replication page shows credentials")
		}
		run := regexp.MustCompile(`/ui/admin/replication/runs/(\d+)`).FindStringSubmatch(page)
		if run == nil {
			t.Fatalf("no link to a run:\n%s", excerpt(page))
		}
		items := admin.get(run[0], http.StatusOK)
		if !strings.Contains(items, "report.csv") || !strings.Contains(items, "connection refused") {
			t.Fatalf("run page lacks the item and its reason:\n%s", excerpt(items))
		}
		admin.get("/ui/admin/replication/runs/999999", http.StatusNotFound)

		if _, err := s.Auth.CreateUser(ctx, "dora", "dora-password-1", "", auth.Developer); err != nil {
			t.Fatal(err)
		}
		dora := newBrowser(t, s)
		dora.login("dora", "dora-password-1")
		dora.get("/ui/admin/replication", http.StatusForbidden)
		dora.get(run[0], http.StatusForbidden)
		newBrowser(t, s).redirectsToLogin("/ui/admin/replication")
	})
}
