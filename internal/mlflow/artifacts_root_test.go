package mlflow_test

import (
	"context"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// TestArtifactRootListingHidesExperiments: the proxy's listing of the
// artifact root (no path, or path "") names only the experiments the
// caller may read, for every role; files and directories that are not
// experiments stay.
func TestArtifactRootListingHidesExperiments(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		users := map[string]string{}
		for _, r := range []auth.Role{auth.Reader, auth.Developer, auth.Maintainer, auth.Admin} {
			users[string(r)] = artUser(t, s, "u"+string(r), r)
		}
		users["outsider"] = artUser(t, s, "outsider", auth.NoRole)
		for _, id := range []int64{3, 4} {
			artExperiment(t, s, id, "exp"+string(rune('0'+id)))
			artPut(t, s, string(rune('0'+id))+"/run/artifacts/f.txt", "data")
		}
		artPut(t, s, "custom/place/g.txt", "g")
		artPut(t, s, "top.txt", "t")
		// Each role user, and the outsider, may not read experiment 3.
		for _, name := range []string{"ureader", "udeveloper", "umaintainer", "uadmin", "outsider"} {
			artExec(t, s, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
				SELECT 'experiment', 3, id, 'NO_PERMISSIONS' FROM users WHERE name = $1`, name)
		}
		all := "3/ 4/ custom/ top.txt:1"
		for _, path := range []string{artRoot, artRoot + "?path="} {
			if got := artNames(artList(t, s, path, admin)); got != all {
				t.Fatalf("admin %s: %s", path, got)
			}
			for _, role := range []string{"reader", "developer", "maintainer", "admin"} {
				if got := artNames(artList(t, s, path, users[role])); got != "4/ custom/ top.txt:1" {
					t.Fatalf("%s with NO_PERMISSIONS on 3, %s: %s", role, path, got)
				}
			}
			// Without a role on the space, the root is refused (it needs
			// READ on the space), even with READ on one experiment.
			artExec(t, s, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
				SELECT 'experiment', 4, id, 'READ' FROM users WHERE name = 'outsider' ON CONFLICT DO NOTHING`)
			if resp, body := s.Do(t, "GET", path, users["outsider"], nil); resp.StatusCode != 403 || artCode(body) != "PERMISSION_DENIED" {
				t.Fatalf("outsider %s: %d %s", path, resp.StatusCode, body)
			}
			if resp, body := s.Do(t, "GET", path, "", nil); resp.StatusCode != 401 || artCode(body) != "UNAUTHENTICATED" {
				t.Fatalf("anonymous %s: %d %s", path, resp.StatusCode, body)
			}
		}
		// A reader without explicit permissions sees everything; one with
		// READ granted back on 3 sees it again.
		plain := artUser(t, s, "plain", auth.Reader)
		if got := artNames(artList(t, s, artRoot, plain)); got != all {
			t.Fatalf("plain reader: %s", got)
		}
		artExec(t, s, `UPDATE mlflow_permissions SET permission = 'READ' WHERE resource_id = 3
			AND user_id = (SELECT id FROM users WHERE name = 'ureader')`)
		if got := artNames(artList(t, s, artRoot, users["reader"])); got != all {
			t.Fatalf("reader with READ on 3 again: %s", got)
		}
		// Listing the hidden experiment itself stays refused.
		if resp, body := s.Do(t, "GET", artRoot+"?path=3", users["developer"], nil); resp.StatusCode != 403 || artCode(body) != "PERMISSION_DENIED" {
			t.Fatalf("developer lists 3: %d %s", resp.StatusCode, body)
		}
		// A public space: anonymous callers read everything but what
		// nobody hid from them (explicit permissions are per user).
		space, err := s.Repos.Get(context.Background(), "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		space.Visibility = "public"
		if err := s.Repos.Update(context.Background(), space); err != nil {
			t.Fatal(err)
		}
		if got := artNames(artList(t, s, artRoot, "")); got != all {
			t.Fatalf("anonymous, public space: %s", got)
		}
		if got := artNames(artList(t, s, artRoot, users["outsider"])); got != "4/ custom/ top.txt:1" {
			t.Fatalf("outsider, public space: %s", got)
		}
	})
}
