package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestLineagePage: the graph drawn as SVG, each readable artifact linked
// to its own lineage; artifacts the viewer may not read drawn as hidden
// boxes without their names; roots the viewer may not read refused.
func TestLineagePage(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *apptest.Server) {
		api := func(method, path, cred, body string, want int) {
			t.Helper()
			resp, out := s.Do(t, method, path, cred, strings.NewReader(body), "Content-Type", "application/json")
			if resp.StatusCode != want {
				t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, out)
			}
		}
		api("POST", "/api/v1/repositories", apptest.Admin, `{"name":"hush","format":"raw"}`, http.StatusCreated)
		api("POST", "/api/v1/users", apptest.Admin, `{"name":"lena","password":"lena-Passw0rd-long"}`, http.StatusCreated)
		api("PUT", "/api/v1/repositories/files/roles/lena", apptest.Admin, `{"role":"reader"}`, http.StatusOK)
		for _, l := range [][2]string{{"raw:files/a.csv", "raw:hush/b.bin"}, {"raw:hush/b.bin", "raw:files/c.pkl"}} {
			api("POST", "/api/v1/lineage/links", apptest.Admin, `{"from":"`+l[0]+`","to":"`+l[1]+`"}`, http.StatusCreated)
		}
		page := "/ui/lineage?artifact=" + url.QueryEscape("raw:files/a.csv") + "&depth=5&direction=down"

		anon := newBrowser(t, s)
		anon.redirectsToLogin(page)
		anon.get("/ui/lineage", http.StatusOK) // the form alone

		b := newBrowser(t, s)
		b.login("lena", "lena-Passw0rd-long")
		html := b.get(page, http.StatusOK)
		for _, want := range []string{"<svg", "hidden (no permission)", `href="/ui/lineage?artifact=raw%3Afiles%2Fc.pkl"`, "files/c.pkl"} {
			if !strings.Contains(html, want) {
				t.Errorf("lena's lineage page lacks %q:\n%s", want, excerpt(html))
			}
		}
		if strings.Contains(html, "hush") || strings.Contains(html, "b.bin") {
			t.Errorf("lena's lineage page names the hidden artifact:\n%s", excerpt(html))
		}
		b.get("/ui/lineage?artifact="+url.QueryEscape("raw:hush/b.bin"), http.StatusNotFound)
		b.get("/ui/lineage?artifact=nonsense", http.StatusBadRequest)

		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		if html := admin.get(page, http.StatusOK); !strings.Contains(html, "hush/b.bin") {
			t.Errorf("the admin's lineage page does not show the whole chain:\n%s", excerpt(html))
		}
	})
}
