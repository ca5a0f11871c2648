package ui_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/repo"
)

// TestLoginOffersBrowsingOnlyWhenSomethingIsPublic: the default
// repositories are private, so the sign-in page offers no browsing (it
// would lead to an empty list) until a repository is public.
func TestLoginOffersBrowsingOnlyWhenSomethingIsPublic(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		const offer = "browsed without signing in"
		b := newBrowser(t, s)
		if body := b.get("/ui/login", http.StatusOK); strings.Contains(body, offer) {
			t.Fatalf("with nothing public, the sign-in page offers browsing:\n%s", excerpt(body))
		}
		if err := s.Repos.Create(context.Background(), &repo.Repository{Name: "open-files", Format: "raw", Visibility: repo.Public}); err != nil {
			t.Fatal(err)
		}
		if body := b.get("/ui/login", http.StatusOK); !strings.Contains(body, offer) {
			t.Fatalf("with a public repository, the sign-in page does not offer browsing:\n%s", excerpt(body))
		}
		if body := b.get("/ui/repositories", http.StatusOK); !strings.Contains(body, "open-files") {
			t.Fatalf("the public repository is not listed to anonymous visitors:\n%s", excerpt(body))
		}
	})
}

// TestMLflowLinksReachTheUI: the address the mlflow client prints after a
// run ("View run at TRACKING_URI/#/experiments/1/runs/ID") and MLflow's
// own path shapes lead to the UI's pages, not to a 404.
func TestMLflowLinksReachTheUI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		b := newBrowser(t, s)
		for _, c := range []struct{ path, to string }{
			{"/mlflow/", "/ui/experiments"},
			{"/mlflow", "/ui/experiments"},
			{"/ui/experiments/1/runs/0123abcd", "/ui/runs/0123abcd"},
			{"/ui/models/my-model/versions/3", "/ui/models/my-model"},
		} {
			resp, body := b.do("GET", c.path, nil)
			if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != c.to {
				t.Errorf("GET %s: %d to %q, want a redirect to %s\n%s", c.path, resp.StatusCode, resp.Header.Get("Location"), c.to, excerpt(body))
			}
		}
		// The API below /mlflow still answers in MLflow's error form:
		// 404 to a signed-in caller, 401 first to an anonymous one.
		resp, body := s.Do(t, "GET", "/mlflow/api/2.0/mlflow/no-such-thing", apptest.Admin, nil)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "error_code") {
			t.Errorf("unknown MLflow endpoint: %d %s", resp.StatusCode, excerpt(body))
		}
		if resp, body := b.do("GET", "/mlflow/api/2.0/mlflow/no-such-thing", nil); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "UNAUTHENTICATED") {
			t.Errorf("unknown MLflow endpoint, anonymously: %d %s", resp.StatusCode, excerpt(body))
		}
		// The script every page loads maps MLflow's fragment routes.
		page := b.get("/ui/login", http.StatusOK)
		src := regexp.MustCompile(`/ui/static/app\.js[^"]*`).FindString(page)
		if src == "" {
			t.Fatalf("the sign-in page loads no app.js:\n%s", excerpt(page))
		}
		js := b.get(src, http.StatusOK)
		for _, want := range []string{`#\/experiments\/[^\/?]+\/runs\/([^\/?]+)`, `"/ui/runs/"`, "location.replace"} {
			if !strings.Contains(js, want) {
				t.Errorf("app.js lacks %q", want)
			}
		}
	})
}
