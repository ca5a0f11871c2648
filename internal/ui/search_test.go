package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/search"
)

// TestSearchPage: the search box is on every page; its results page shows
// what the visitor may read and nothing else.
func TestSearchPage(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		if resp, body := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin,
			strings.NewReader(`{"name":"open-files","format":"raw","kind":"hosted","visibility":"public"}`), "Content-Type", "application/json"); resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		for _, p := range []string{"/raw/open-files/handbook-public.pdf", "/raw/files/handbook-internal.pdf"} {
			if resp, body := s.Do(t, "PUT", p, apptest.Admin, strings.NewReader("x"+p)); resp.StatusCode != 201 {
				t.Fatalf("PUT %s: %d %s", p, resp.StatusCode, body)
			}
		}
		if _, err := s.Search.Reindex(context.Background(), search.Target{All: true}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, s)
		if page := b.get("/ui/repositories", http.StatusOK); !strings.Contains(page, `action="/ui/search"`) {
			t.Errorf("no search box in the layout")
		}
		page := b.get("/ui/search?q=handbook", http.StatusOK)
		if !strings.Contains(page, "handbook-public.pdf") || strings.Contains(page, "handbook-internal") {
			t.Errorf("anonymous results:\n%s", excerpt(page))
		}
		if page := b.get("/ui/search?q=format:raw", http.StatusOK); !strings.Contains(page, "nothing to search for") {
			t.Errorf("a refused query is not explained:\n%s", excerpt(page))
		}
		b.login("admin", apptest.AdminPassword)
		page = b.get("/ui/search?q=handbook&format=raw", http.StatusOK)
		for _, want := range []string{"handbook-public.pdf", "handbook-internal.pdf", `href="/ui/repositories/files/download?path=handbook-internal.pdf"`} {
			if !strings.Contains(page, want) {
				t.Errorf("admin results lack %q:\n%s", want, excerpt(page))
			}
		}
		checkForms(t, "/ui/search", page)
	})
}
