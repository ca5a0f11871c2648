package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

// TestMLflowArtifactsThroughBucketPages: the bucket pages (listing and
// download) of the MLflow artifact bucket follow the experiments'
// permissions, as the S3 API does: a viewer who may not read an
// experiment neither downloads nor lists its artifacts there, unless they
// hold a role bound on the bucket itself.
func TestMLflowArtifactsThroughBucketPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		f := newMLflowFixture(t, s)
		hidden := f.experiment("hidden-exp")
		open := f.experiment("open-exp")
		rh := f.run(hidden, uuidOf(1), "hidden-run", "FINISHED", "ann", 1000, 10)
		ro := f.run(open, uuidOf(2), "open-run", "FINISHED", "ann", 1000, 10)
		f.artifact(hidden, rh, "secret.txt", "secret")
		f.artifact(open, ro, "plain.txt", "plain")
		bucket, err := s.Repos.Get(ctx, "mlflow-artifacts")
		if err != nil {
			t.Fatal(err)
		}
		hiddenKey := url.QueryEscape(keyOf(hidden, rh.UUID, "secret.txt"))
		openKey := url.QueryEscape(keyOf(open, ro.UUID, "plain.txt"))
		base := "/ui/repositories/mlflow-artifacts"
		hiddenDir := url.QueryEscape(dirOf(hidden) + rh.UUID + "/artifacts/")
		openDir := url.QueryEscape(dirOf(open) + ro.UUID + "/artifacts/")

		users := map[string]*browser{}
		for _, u := range []struct {
			name  string
			role  auth.Role // global
			bound auth.Role // on the bucket
		}{
			{"greader", auth.Reader, auth.NoRole}, {"gdev", auth.Developer, auth.NoRole}, {"gmaint", auth.Maintainer, auth.NoRole},
			{"breader", auth.NoRole, auth.Reader}, {"badmin", auth.NoRole, auth.Admin}, {"plain", auth.Reader, auth.NoRole},
		} {
			if _, err := s.Auth.CreateUser(ctx, u.name, u.name+"-password-1", "", u.role); err != nil {
				t.Fatal(err)
			}
			if u.bound != auth.NoRole {
				if err := s.Auth.Grant(ctx, u.name, bucket.ID, u.bound); err != nil {
					t.Fatal(err)
				}
			}
			if u.name != "plain" {
				f.permission("experiment", hidden, u.name, "NO_PERMISSIONS")
			}
			b := newBrowser(t, s)
			b.login(u.name, u.name+"-password-1")
			users[u.name] = b
		}
		// Global roles read the bucket, but not experiment hidden's objects.
		for _, name := range []string{"greader", "gdev", "gmaint"} {
			b := users[name]
			b.get(base+"/download?path="+hiddenKey, http.StatusForbidden)
			b.get(base+"?prefix="+hiddenDir, http.StatusForbidden)
			b.get(base+"?prefix="+url.QueryEscape(dirOf(hidden)), http.StatusForbidden)
			b.get(base, http.StatusForbidden) // the whole bucket reaches hidden
			if got := b.get(base+"/download?path="+openKey, http.StatusOK); got != "plain" {
				t.Fatalf("%s downloads: %q", name, got)
			}
			mustContain(t, name+"'s listing", b.get(base+"?prefix="+openDir, http.StatusOK), "plain.txt")
		}
		// Roles bound on the bucket, the admin, and a reader without an
		// explicit refusal read everything.
		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		users["admin"] = admin
		for _, name := range []string{"breader", "badmin", "plain", "admin"} {
			b := users[name]
			if got := b.get(base+"/download?path="+hiddenKey, http.StatusOK); got != "secret" {
				t.Fatalf("%s downloads: %q", name, got)
			}
			mustContain(t, name+"'s listing", b.get(base+"?prefix="+hiddenDir, http.StatusOK), "secret.txt")
			b.get(base, http.StatusOK)
		}
		// Anonymous visitors of a public bucket are asked to sign in for
		// the artifacts of a private space.
		bucket.Visibility = "public"
		if err := s.Repos.Update(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		anon := newBrowser(t, s)
		anon.redirectsToLogin(base + "/download?path=" + openKey)
		anon.redirectsToLogin(base)
	})
}

// keyOf is the bucket key of a run's artifact, dirOf an experiment's
// prefix (as the fixture's runs lay them out).
func keyOf(exp int64, run, path string) string { return dirOf(exp) + run + "/artifacts/" + path }

func dirOf(exp int64) string { return strconv.FormatInt(exp, 10) + "/" }
