package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestMavenRepositoryPage(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// maven-hosted is a default repository.
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
		if !strings.Contains(page, `href="/ui/repositories/maven-hosted/packages/com.example:app"`) {
			t.Errorf("the repository page does not link the artifact")
		}
		art := b.get("/ui/repositories/maven-hosted/packages/com.example:app", http.StatusOK)
		for _, want := range []string{"&lt;artifactId&gt;app&lt;/artifactId&gt;", "&lt;version&gt;1.1&lt;/version&gt;",
			"mvn dependency:get -Dartifact=com.example:app:1.1", "app-1.0.jar", "download?path=com%2fexample%2fapp%2f1.1%2fapp-1.1.jar"} {
			if !strings.Contains(art, want) {
				t.Errorf("the artifact page lacks %q", want)
			}
		}
		if got := b.get("/ui/repositories/maven-hosted/download?path=com/example/app/1.1/app-1.1.jar", http.StatusOK); got != "content of com/example/app/1.1/app-1.1.jar" {
			t.Errorf("download = %q", got)
		}
		b.get("/ui/repositories/maven-hosted/packages/com.example:none", http.StatusNotFound)
		b.get("/ui/repositories/maven-hosted/download?path=com/example/none/1/none-1.jar", http.StatusNotFound)
		if dash := b.get("/", http.StatusOK); !strings.Contains(dash, "artifacts") {
			t.Errorf("the dashboard does not count maven")
		}
	})
}
