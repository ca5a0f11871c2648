package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestStoragePage shows each viewer the storage of the repositories it
// may read (administrators also owners, formats and the total), with the
// daily history drawn as SVG.
func TestStoragePage(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if resp, body := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin,
			strings.NewReader(`{"name":"hidden-repo","format":"raw","owner":"team-secret"}`), "Content-Type", "application/json"); resp.StatusCode != 201 {
			t.Fatal(resp.StatusCode, body)
		}
		s.Do(t, "PUT", "/raw/hidden-repo/a", apptest.Admin, strings.NewReader("hidden bytes"))
		s.Do(t, "PUT", "/raw/files/a", apptest.Admin, strings.NewReader("hidden bytes")) // shared
		s.Do(t, "PUT", "/raw/files/b", apptest.Admin, strings.NewReader("files only"))
		// Two days of history.
		if _, err := s.Usage.Sample(ctx, time.Now().AddDate(0, 0, -1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Usage.Sample(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		if resp, body := s.Do(t, "POST", "/api/v1/users", apptest.Admin, strings.NewReader(`{"name":"rita","password":"rita-password-1"}`), "Content-Type", "application/json"); resp.StatusCode != 201 {
			t.Fatal(resp.StatusCode, body)
		}
		s.Do(t, "PUT", "/api/v1/repositories/files/roles/rita", apptest.Admin, strings.NewReader(`{"role":"reader"}`), "Content-Type", "application/json")

		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		page := admin.get("/ui/storage", 200)
		for _, want := range []string{"hidden-repo", "team-secret", "<svg", "All repositories", "Formats"} {
			if !strings.Contains(page, want) {
				t.Errorf("admin's storage page lacks %q", want)
			}
		}
		rita := newBrowser(t, s)
		rita.login("rita", "rita-password-1")
		page = rita.get("/ui/storage", 200)
		if !strings.Contains(page, `/ui/repositories/files"`) || !strings.Contains(page, "<svg") {
			t.Errorf("reader's storage page lacks files or its chart")
		}
		for _, leak := range []string{"hidden-repo", "team-secret", "All repositories"} {
			if strings.Contains(page, leak) {
				t.Errorf("reader's storage page shows %q", leak)
			}
		}
		newBrowser(t, s).redirectsToLogin("/ui/storage")

		// The repository form sets the owner and the quota.
		admin.postStatus("/ui/admin/repositories/files", url.Values{"visibility": {"private"}, "owner": {"team-files"}, "quota_bytes": {"12345"}}, http.StatusSeeOther)
		if page := admin.get("/ui/admin/repositories/files", 200); !strings.Contains(page, `value="team-files"`) || !strings.Contains(page, `value="12345"`) {
			t.Error("the repository form does not show the owner and quota saved")
		}
		if _, body := s.Do(t, "GET", "/api/v1/repositories/files", apptest.Admin, nil); !strings.Contains(body, `"owner": "team-files"`) && !strings.Contains(body, `"owner":"team-files"`) {
			t.Errorf("owner not saved: %s", body)
		}
		admin.postStatus("/ui/admin/repositories/files", url.Values{"visibility": {"private"}, "quota_bytes": {"-5"}}, http.StatusBadRequest)
	})
}
