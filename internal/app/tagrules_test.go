package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// TestTagAndOverwriteRules is issue 22 item 13: one rule in every format
// (docs/access.md, "Tags and overwrites"). A developer creates and moves
// tags (OCI tags, npm dist-tags); deleting a tag, and replacing content in
// place (a raw file, a PyPI file), needs maintainer; an immutable OCI tag
// moves for nobody.
func TestTagAndOverwriteRules(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		mustDo(t, s, "POST", "/api/v1/repositories", admin, `{"name":"prod","format":"oci","settings":{"immutable_tags":["v*"]}}`, 201)
		mustDo(t, s, "PATCH", "/api/v1/repositories/pypi-hosted", admin, `{"settings":{"allow_redeploy":true}}`, 200)
		for user, role := range map[string]auth.Role{"dev": auth.Developer, "maint": auth.Maintainer} {
			if _, err := s.Auth.CreateUser(ctx, user, user+"-password", "", auth.NoRole); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"library", "prod", "npm-hosted", "pypi-hosted", "files"} {
				rp, err := s.Repos.Get(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Auth.Grant(ctx, user, rp.ID, role); err != nil {
					t.Fatal(err)
				}
			}
		}
		const dev, maint = "dev:dev-password", "maint:maint-password"

		t.Run("oci", func(t *testing.T) {
			pushOCI(t, s, "library/app", "latest", "one")
			// Moving a tag is a push: a developer's.
			_, moved := pushOCIAs(t, s, dev, "library/app", "latest", "two", 201)
			resp, _ := s.Do(t, "HEAD", "/v2/library/app/manifests/latest", admin, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			if got := resp.Header.Get("Docker-Content-Digest"); got != moved {
				t.Fatalf("latest = %s after the developer's push, want %s", got, moved)
			}
			// Deleting it needs maintainer.
			mustDo(t, s, "DELETE", "/v2/library/app/manifests/latest", dev, "", 403)
			mustDo(t, s, "DELETE", "/v2/library/app/manifests/latest", maint, "", 202)
			// An immutable tag moves for nobody.
			pushOCI(t, s, "prod/app", "v1", "one")
			pushOCIAs(t, s, dev, "prod/app", "v1", "two", 403)
			pushOCIAs(t, s, maint, "prod/app", "v1", "two", 403)
			pushOCIAs(t, s, admin, "prod/app", "v1", "two", 403)
		})

		t.Run("npm", func(t *testing.T) {
			publishNPM(t, s, "npm-hosted", "tagged", "1.0.0")
			publishNPM(t, s, "npm-hosted", "tagged", "2.0.0")
			tags := "/npm/npm-hosted/-/package/tagged/dist-tags/"
			mustDo(t, s, "PUT", tags+"stable", dev, `"1.0.0"`, 201, "Content-Type", "application/json")
			mustDo(t, s, "PUT", tags+"stable", dev, `"2.0.0"`, 201, "Content-Type", "application/json")
			mustDo(t, s, "PUT", tags+"latest", dev, `"1.0.0"`, 201, "Content-Type", "application/json")
			var got map[string]string
			if err := json.Unmarshal([]byte(mustDo(t, s, "GET", "/npm/npm-hosted/-/package/tagged/dist-tags", dev, "", 200)), &got); err != nil ||
				got["stable"] != "2.0.0" || got["latest"] != "1.0.0" {
				t.Fatalf("dist-tags = %v (%v)", got, err)
			}
			mustDo(t, s, "DELETE", tags+"stable", dev, "", 403)
			mustDo(t, s, "DELETE", tags+"stable", maint, "", 200)
		})

		t.Run("pypi", func(t *testing.T) {
			filename := uploadSdist(t, s, "pypi-hosted", "redeployed", "1.0")
			resp, body := uploadSdistAs(t, s, dev, "pypi-hosted", "redeployed", "1.0")
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("developer's redeploy of %s = %d %s", filename, resp.StatusCode, body)
			}
			if resp, body := uploadSdistAs(t, s, maint, "pypi-hosted", "redeployed", "1.0"); resp.StatusCode != 200 {
				t.Fatalf("maintainer's redeploy of %s = %d %s", filename, resp.StatusCode, body)
			}
		})

		t.Run("raw", func(t *testing.T) {
			mustDo(t, s, "PUT", "/raw/files/report.txt", dev, "one", 201)
			mustDo(t, s, "PUT", "/raw/files/report.txt", dev, "two", 403)
			if resp, body := s.Do(t, "PUT", "/raw/files/report.txt", maint, strings.NewReader("two")); resp.StatusCode/100 != 2 {
				t.Fatalf("maintainer's overwrite = %d %s", resp.StatusCode, body)
			}
		})
	})
}
