package replication_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestMavenPushOnEvent: deploys to a Maven repository (a jar and its pom,
// as mvn deploy PUTs them) reach another arca on events; a deleted version
// goes there too with deletes; full runs are refused (a Maven repository
// has no listing), at creation and by hand.
func TestMavenPushOnEvent(t *testing.T) {
	apptest.Each(t, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		for _, s := range []*apptest.Server{src, dst} {
			if resp, out := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"jvm","format":"maven"}`)); resp.StatusCode != 201 {
				t.Fatalf("repository = %d %s", resp.StatusCode, out)
			}
		}
		for _, bad := range []string{`"on_event":false`, `"on_event":true,"schedule":"1h"`} {
			body := fmt.Sprintf(`{"name":"m","repository":"jvm","direction":"push",%s,"remote":{"url":%q,"repository":"jvm"}}`, bad, dst.URL)
			if resp, out := src.Do(t, "POST", "/api/v1/replication/policies", admin, strings.NewReader(body)); resp.StatusCode != 400 {
				t.Errorf("maven policy with %s = %d %s, want 400", bad, resp.StatusCode, out)
			}
		}
		p := createPolicy(t, src, fmt.Sprintf(`{"name":"jvm-dr","repository":"jvm","direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":"jvm","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
		if resp, out := src.Do(t, "POST", fmt.Sprintf("/api/v1/replication/policies/%d/run", p.ID), admin, nil); resp.StatusCode != 400 {
			t.Errorf("a full run of a Maven policy = %d %s, want 400", resp.StatusCode, out)
		}
		files := map[string]string{
			"com/example/lib/1.0/lib-1.0.jar": "PK\x03\x04 not really a jar",
			"com/example/lib/1.0/lib-1.0.pom": `<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>lib</artifactId><version>1.0</version></project>`,
		}
		for path, body := range files {
			if resp, out := src.Do(t, "PUT", "/maven/jvm/"+path, admin, strings.NewReader(body)); resp.StatusCode != 201 {
				t.Fatalf("deploy %s = %d %s", path, resp.StatusCode, out)
			}
		}
		for path, body := range files {
			eventually(t, 20*time.Second, func() error {
				if resp, got := dst.Do(t, "GET", "/maven/jvm/"+path, admin, nil); resp.StatusCode != 200 || got != body {
					return fmt.Errorf("replica's %s = %d", path, resp.StatusCode)
				}
				return nil
			})
		}
		if resp, got := dst.Do(t, "GET", "/maven/jvm/com/example/lib/maven-metadata.xml", admin, nil); resp.StatusCode != 200 || !strings.Contains(got, "<version>1.0</version>") {
			t.Fatalf("replica's metadata = %d %s", resp.StatusCode, got)
		}
		if resp, out := src.Do(t, "DELETE", "/maven/jvm/com/example/lib/1.0/", admin, nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete version = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			if resp, _ := dst.Do(t, "GET", "/maven/jvm/com/example/lib/1.0/lib-1.0.jar", admin, nil); resp.StatusCode != 404 {
				return fmt.Errorf("replica's jar = %d after the version's delete", resp.StatusCode)
			}
			return nil
		})
	})
}

// TestMavenSnapshotPruneReplicated: a snapshot build that snapshot_keep
// removes at the source while a newer one is deployed leaves the replica
// too (the prune is a maven.delete event like any other).
func TestMavenSnapshotPruneReplicated(t *testing.T) {
	src := apptest.Start(t, "", nil)
	dst := apptest.Start(t, "", nil)
	startJobs(t, src)
	if resp, out := src.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"snaps","format":"maven","settings":{"snapshot_keep":1}}`)); resp.StatusCode != 201 {
		t.Fatalf("repository = %d %s", resp.StatusCode, out)
	}
	if resp, out := dst.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"snaps","format":"maven"}`)); resp.StatusCode != 201 {
		t.Fatalf("repository = %d %s", resp.StatusCode, out)
	}
	createPolicy(t, src, fmt.Sprintf(`{"name":"snaps-dr","repository":"snaps","direction":"push","on_event":true,"deletes":true,
		"remote":{"url":%q,"repository":"snaps","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
	dir := "/maven/snaps/com/example/lib/1.0-SNAPSHOT/lib-1.0-"
	first, second := dir+"20260101.000001-1.jar", dir+"20260101.000002-2.jar"
	if resp, out := src.Do(t, "PUT", first, admin, strings.NewReader("build 1")); resp.StatusCode != 201 {
		t.Fatalf("deploy = %d %s", resp.StatusCode, out)
	}
	eventually(t, 20*time.Second, func() error {
		if resp, _ := dst.Do(t, "GET", first, admin, nil); resp.StatusCode != 200 {
			return fmt.Errorf("replica's build 1 = %d", resp.StatusCode)
		}
		return nil
	})
	if resp, out := src.Do(t, "PUT", second, admin, strings.NewReader("build 2")); resp.StatusCode != 201 {
		t.Fatalf("deploy = %d %s", resp.StatusCode, out)
	}
	eventually(t, 20*time.Second, func() error {
		if resp, _ := dst.Do(t, "GET", first, admin, nil); resp.StatusCode != 404 {
			return fmt.Errorf("replica's build 1 = %d after the source pruned it", resp.StatusCode)
		}
		if resp, got := dst.Do(t, "GET", second, admin, nil); resp.StatusCode != 200 || got != "build 2" {
			return fmt.Errorf("replica's build 2 = %d", resp.StatusCode)
		}
		return nil
	})
}
