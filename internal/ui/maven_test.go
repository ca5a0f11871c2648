package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestMavenRepositoryPage(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin,
			strings.NewReader(`{"name":"maven-hosted","format":"maven","kind":"hosted"}`)); resp.StatusCode != 201 {
			t.Fatalf("create = %d %s", resp.StatusCode, b)
		}
		for _, p := range []string{"com/example/app/1.0/app-1.0.jar", "com/example/app/1.1/app-1.1.jar", "com/example/lib/2.0/lib-2.0.pom"} {
			if resp, b := s.Do(t, "PUT", "/maven/maven-hosted/"+p, apptest.Admin, strings.NewReader("content of "+p)); resp.StatusCode != 201 {
				t.Fatalf("deploy %s = %d %s", p, resp.StatusCode, b)
			}
		}
		b := newBrowser(t, s)
		b.login("admin", apptest.AdminPassword)
		page := b.get("/ui/repositories/maven-hosted", http.StatusOK)
		for _, want := range []string{"com.example:app", "com.example:lib", "&lt;mirrorOf&gt;*&lt;/mirrorOf&gt;", s.URL + "/maven/maven-hosted/",
			"&lt;distributionManagement&gt;", "altDeploymentRepository=arca::" + s.URL + "/maven/maven-hosted/"} {
			if !strings.Contains(page, want) {
				t.Errorf("the repository page lacks %q", want)
			}
		}
		if dash := b.get("/", http.StatusOK); !strings.Contains(dash, "artifacts") {
			t.Errorf("the dashboard does not count maven")
		}
	})
}
