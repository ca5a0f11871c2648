package maven_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/maven"
)

func createRepo(t *testing.T, s *apptest.Server, body string) {
	t.Helper()
	if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(body)); resp.StatusCode != 201 {
		t.Fatalf("create repository %s = %d %s", body, resp.StatusCode, b)
	}
}

// client talks to one Maven repository as one user ("" is anonymous).
type client struct {
	t        *testing.T
	s        *apptest.Server
	repo     string
	userpass string
}

func (c *client) do(method, path string, body []byte) (*http.Response, string) {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	return c.s.Do(c.t, method, "/maven/"+c.repo+"/"+path, c.userpass, rd)
}

func (c *client) expect(status int, what, method, path string, body []byte) string {
	c.t.Helper()
	resp, b := c.do(method, path, body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s: %s %s = %d %s, want %d", what, method, path, resp.StatusCode, b, status)
	}
	return b
}

func sum(h hash.Hash, b []byte) string {
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// deploy PUTs a file and its .sha1 and .md5, as mvn deploy does.
func (c *client) deploy(path string, body []byte) {
	c.t.Helper()
	c.expect(201, "deploy", "PUT", path, body)
	c.expect(201, "deploy sha1", "PUT", path+".sha1", []byte(sum(sha1.New(), body)))
	c.expect(201, "deploy md5", "PUT", path+".md5", []byte(sum(md5.New(), body)))
}

func metadata(t *testing.T, body string) *maven.Metadata {
	t.Helper()
	m, err := maven.ParseMetadata(strings.NewReader(body))
	if err != nil {
		t.Fatalf("metadata %q: %v", body, err)
	}
	return m
}

func user(t *testing.T, s *apptest.Server, name, repoName, role string) *client {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Auth.CreateUser(ctx, name, "password-"+name+"-123", "", ""); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	rp, err := s.Repos.Get(ctx, repoName)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := auth.ParseRole(role)
	if err := s.Auth.Grant(ctx, name, rp.ID, r); err != nil {
		t.Fatal(err)
	}
	return &client{t: t, s: s, repo: repoName, userpass: name + ":password-" + name + "-123"}
}

func TestHostedDeployMetadataChecksums(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		createRepo(t, s, `{"name":"mvn-rel","format":"maven","kind":"hosted","settings":{"version_policy":"release"}}`)
		c := &client{t: t, s: s, repo: "mvn-rel", userpass: apptest.Admin}
		jar, pom, src := []byte("PK jar of app 1.0"), []byte("<project>app 1.0</project>"), []byte("PK sources")
		c.deploy("com/example/app/1.0/app-1.0.pom", pom)
		c.deploy("com/example/app/1.0/app-1.0.jar", jar)
		c.deploy("com/example/app/1.0/app-1.0-sources.jar", src)
		c.expect(201, "signature", "PUT", "com/example/app/1.0/app-1.0.jar.asc", []byte("-----BEGIN PGP SIGNATURE-----"))
		c.deploy("com/example/app/1.1/app-1.1.jar", []byte("PK jar of app 1.1"))
		// mvn deploy uploads its own metadata: accepted, dropped.
		c.expect(201, "client metadata", "PUT", "com/example/app/maven-metadata.xml", []byte(`<metadata><groupId>com.example</groupId></metadata>`))
		c.expect(201, "client metadata sha1", "PUT", "com/example/app/maven-metadata.xml.sha1", []byte("0000"))
		c.expect(400, "client metadata that is not XML", "PUT", "com/example/app/maven-metadata.xml", []byte(`{}`))

		if got := c.expect(200, "get jar", "GET", "com/example/app/1.0/app-1.0.jar", nil); got != string(jar) {
			t.Fatalf("jar = %q", got)
		}
		resp, _ := c.do("HEAD", "com/example/app/1.0/app-1.0.jar", nil)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(jar)) || resp.Header.Get("X-Checksum-Sha1") != sum(sha1.New(), jar) {
			t.Fatalf("HEAD jar = %d %d %v", resp.StatusCode, resp.ContentLength, resp.Header)
		}
		for ext, h := range map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New} {
			if got := c.expect(200, ext, "GET", "com/example/app/1.0/app-1.0-sources.jar."+ext, nil); got != sum(h(), src) {
				t.Errorf("%s = %q, want %q", ext, got, sum(h(), src))
			}
		}
		if got := c.expect(200, "signature", "GET", "com/example/app/1.0/app-1.0.jar.asc", nil); !strings.HasPrefix(got, "-----BEGIN PGP") {
			t.Fatalf("asc = %q", got)
		}

		// Checksums are verified.
		c.expect(400, "wrong sha1", "PUT", "com/example/app/1.0/app-1.0.jar.sha1", []byte(strings.Repeat("0", 40)))
		c.expect(400, "wrong sha512", "PUT", "com/example/app/1.0/app-1.0.jar.sha512", []byte(strings.Repeat("0", 128)))
		c.expect(201, "sha256 with a file name", "PUT", "com/example/app/1.0/app-1.0.jar.sha256", []byte(sum(sha256.New(), jar)+"  app-1.0.jar\n"))
		c.expect(404, "checksum of a missing file", "PUT", "com/example/app/1.0/app-1.0-javadoc.jar.sha1", []byte(strings.Repeat("0", 40)))

		// Artifact metadata is arca's, with its own checksums.
		body := c.expect(200, "metadata", "GET", "com/example/app/maven-metadata.xml", nil)
		m := metadata(t, body)
		v := m.Versioning
		if m.GroupID != "com.example" || m.ArtifactID != "app" || v.Latest != "1.1" || v.Release != "1.1" ||
			strings.Join(v.Versions, ",") != "1.0,1.1" || len(v.LastUpdated) != 14 {
			t.Fatalf("metadata = %s", body)
		}
		if got := c.expect(200, "metadata sha1", "GET", "com/example/app/maven-metadata.xml.sha1", nil); got != sum(sha1.New(), []byte(body)) {
			t.Fatalf("metadata sha1 = %q", got)
		}
		if got := c.expect(200, "metadata md5", "GET", "com/example/app/maven-metadata.xml.md5", nil); got != sum(md5.New(), []byte(body)) {
			t.Fatalf("metadata md5 = %q", got)
		}
		c.expect(404, "metadata of nothing", "GET", "com/example/none/maven-metadata.xml", nil)
		c.expect(404, "missing file", "GET", "com/example/app/1.0/app-1.0-javadoc.jar", nil)
		c.expect(404, "a path that names no file", "GET", "com/example/app/1.0/other.jar", nil)
		c.expect(400, "deploy at a path that names no file", "PUT", "com/example/app/1.0/other.jar", jar)

		// Version policy: a release repository takes no snapshots.
		c.expect(400, "snapshot into a release repository", "PUT", "com/example/app/2.0-SNAPSHOT/app-2.0-20260101.000000-1.jar", jar)

		// Redeploy policy (deny by default): the same bytes again are fine, other bytes are not.
		c.expect(200, "same bytes again", "PUT", "com/example/app/1.0/app-1.0.jar", jar)
		c.expect(409, "redeploy a release", "PUT", "com/example/app/1.0/app-1.0.jar", []byte("other bytes"))
		if got := c.expect(200, "jar after refused redeploy", "GET", "com/example/app/1.0/app-1.0.jar", nil); got != string(jar) {
			t.Fatalf("jar changed: %q", got)
		}

		// Deleting a file, then a version.
		c.expect(204, "delete a file", "DELETE", "com/example/app/1.0/app-1.0-sources.jar", nil)
		c.expect(404, "deleted file", "GET", "com/example/app/1.0/app-1.0-sources.jar", nil)
		c.expect(204, "delete a version", "DELETE", "com/example/app/1.1/", nil)
		m = metadata(t, c.expect(200, "metadata after delete", "GET", "com/example/app/maven-metadata.xml", nil))
		if strings.Join(m.Versioning.Versions, ",") != "1.0" || m.Versioning.Latest != "1.0" {
			t.Fatalf("metadata after delete = %+v", m.Versioning)
		}

		var n int
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'maven.deploy' AND repository = 'mvn-rel'`).Scan(&n); err != nil || n != 5 {
			t.Fatalf("maven.deploy audit events = %d (%v), want 5", n, err)
		}
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'maven.delete'`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("maven.delete audit events = %d (%v), want 2", n, err)
		}
	})
}

func TestSnapshots(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		createRepo(t, s, `{"name":"mvn-snap","format":"maven","kind":"hosted","settings":{"version_policy":"snapshot","snapshot_keep":2}}`)
		c := &client{t: t, s: s, repo: "mvn-snap", userpass: apptest.Admin}
		c.expect(400, "release into a snapshot repository", "PUT", "org/x/lib/1.0/lib-1.0.jar", []byte("x"))
		dir := "org/x/lib/1.0-SNAPSHOT/"
		for b := 1; b <= 3; b++ {
			ts := fmt.Sprintf("20260101.00000%d", b)
			c.deploy(dir+fmt.Sprintf("lib-1.0-%s-%d.pom", ts, b), []byte(fmt.Sprintf("<project>%d</project>", b)))
			c.deploy(dir+fmt.Sprintf("lib-1.0-%s-%d.jar", ts, b), []byte(fmt.Sprintf("jar %d", b)))
			if b == 2 {
				c.deploy(dir+fmt.Sprintf("lib-1.0-%s-%d-sources.jar", ts, b), []byte("sources 2"))
			}
			c.expect(201, "snapshot metadata", "PUT", dir+"maven-metadata.xml", []byte("<metadata/>"))
		}
		body := c.expect(200, "version metadata", "GET", dir+"maven-metadata.xml", nil)
		m := metadata(t, body)
		v := m.Versioning
		if m.Version != "1.0-SNAPSHOT" || v.Snapshot == nil || v.Snapshot.BuildNumber != 3 || v.Snapshot.Timestamp != "20260101.000003" {
			t.Fatalf("version metadata = %s", body)
		}
		want := map[string]string{"jar": "1.0-20260101.000003-3", "pom": "1.0-20260101.000003-3", "sources/jar": "1.0-20260101.000002-2"}
		if len(v.SnapshotVersions) != len(want) {
			t.Fatalf("snapshotVersions = %+v", v.SnapshotVersions)
		}
		for _, sv := range v.SnapshotVersions {
			k := sv.Extension
			if sv.Classifier != "" {
				k = sv.Classifier + "/" + k
			}
			if want[k] != sv.Value || len(sv.Updated) != 14 {
				t.Errorf("snapshotVersion %s = %+v, want %s", k, sv, want[k])
			}
		}
		if got := c.expect(200, "version metadata sha1", "GET", dir+"maven-metadata.xml.sha1", nil); got != sum(sha1.New(), []byte(body)) {
			t.Fatalf("sha1 = %q", got)
		}
		art := metadata(t, c.expect(200, "artifact metadata", "GET", "org/x/lib/maven-metadata.xml", nil))
		if art.Versioning.Latest != "1.0-SNAPSHOT" || art.Versioning.Release != "" {
			t.Fatalf("artifact metadata = %+v", art.Versioning)
		}
		// snapshot_keep: 2 leaves builds 2 and 3.
		c.expect(404, "pruned build", "GET", dir+"lib-1.0-20260101.000001-1.jar", nil)
		c.expect(200, "kept build", "GET", dir+"lib-1.0-20260101.000002-2.jar", nil)
		c.expect(200, "latest build", "GET", dir+"lib-1.0-20260101.000003-3.jar", nil)
		// A non-timestamped name answers the newest build, as in a local repository.
		if got := c.expect(200, "newest build by its SNAPSHOT name", "GET", dir+"lib-1.0-SNAPSHOT.jar", nil); got != "jar 3" {
			t.Fatalf("lib-1.0-SNAPSHOT.jar = %q", got)
		}
		if got := c.expect(200, "newest sources", "GET", dir+"lib-1.0-SNAPSHOT-sources.jar.sha1", nil); got != sum(sha1.New(), []byte("sources 2")) {
			t.Fatalf("lib-1.0-SNAPSHOT-sources.jar.sha1 = %q", got)
		}
		// A non-timestamped snapshot file may be replaced.
		c.expect(201, "non-unique snapshot", "PUT", dir+"lib-1.0-SNAPSHOT.jar", []byte("a"))
		c.expect(201, "non-unique snapshot again", "PUT", dir+"lib-1.0-SNAPSHOT.jar", []byte("b"))
	})
}

func TestRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		createRepo(t, s, `{"name":"mvn-mixed","format":"maven","kind":"hosted","settings":{"redeploy":"allow"}}`)
		createRepo(t, s, `{"name":"mvn-deny","format":"maven","kind":"hosted","settings":{"redeploy":"deny"}}`)
		admin := &client{t: t, s: s, repo: "mvn-mixed", userpass: apptest.Admin}
		jar := "g/a/1.0/a-1.0.jar"
		admin.deploy(jar, []byte("v1"))

		anon := &client{t: t, s: s, repo: "mvn-mixed"}
		resp, _ := anon.do("GET", jar, nil)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="arca"` {
			t.Fatalf("anonymous read = %d %v", resp.StatusCode, resp.Header)
		}
		anon.expect(401, "anonymous deploy", "PUT", "g/a/2.0/a-2.0.jar", []byte("x"))

		reader := user(t, s, "rita", "mvn-mixed", "reader")
		if got := reader.expect(200, "reader downloads", "GET", jar, nil); got != "v1" {
			t.Fatalf("reader got %q", got)
		}
		reader.expect(200, "reader reads metadata", "GET", "g/a/maven-metadata.xml", nil)
		reader.expect(403, "reader deploys", "PUT", "g/a/2.0/a-2.0.jar", []byte("x"))

		dev := user(t, s, "dev", "mvn-mixed", "developer")
		dev.deploy("g/a/2.0/a-2.0.jar", []byte("v2"))
		dev.deploy("g/a/2.0-SNAPSHOT/a-2.0-20260101.000000-1.jar", []byte("snap")) // mixed takes both
		dev.expect(200, "developer deploys the same bytes again", "PUT", jar, []byte("v1"))
		dev.expect(403, "developer overwrites", "PUT", jar, []byte("v1 changed"))
		dev.expect(403, "developer deletes", "DELETE", jar, nil)

		maint := user(t, s, "mara", "mvn-mixed", "maintainer")
		maint.expect(201, "maintainer overwrites (redeploy: allow)", "PUT", jar, []byte("v1 changed"))
		if got := reader.expect(200, "overwritten", "GET", jar, nil); got != "v1 changed" {
			t.Fatalf("after overwrite: %q", got)
		}
		maint.expect(204, "maintainer deletes", "DELETE", "g/a/2.0/a-2.0.jar", nil)

		// redeploy: deny holds for maintainers too.
		deny := &client{t: t, s: s, repo: "mvn-deny", userpass: apptest.Admin}
		deny.deploy(jar, []byte("v1"))
		m2 := user(t, s, "mara", "mvn-deny", "maintainer")
		m2.expect(409, "maintainer redeploys where redeploy is denied", "PUT", jar, []byte("v2"))
		m2.expect(204, "maintainer deletes where redeploy is denied", "DELETE", jar, nil)
		m2.expect(201, "and deploys again", "PUT", jar, []byte("v2"))

		var n int
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'maven.redeploy' AND actor = 'mara'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("maven.redeploy audit events = %d (%v)", n, err)
		}
	})
}

func TestSettingsValidation(t *testing.T) {
	s := apptest.Start(t, "", nil)
	for _, bad := range []string{
		`{"name":"m1","format":"maven","kind":"hosted","settings":{"version_policy":"nightly"}}`,
		`{"name":"m2","format":"maven","kind":"hosted","settings":{"redeploy":"sometimes"}}`,
		`{"name":"m3","format":"maven","kind":"proxy","settings":{}}`,
		`{"name":"m4","format":"maven","kind":"proxy","settings":{"upstream":{"url":"ftp://x"}}}`,
		`{"name":"m5","format":"maven","kind":"group","settings":{}}`,
		`{"name":"m6","format":"maven","kind":"proxy","settings":{"upstream":{"url":"http://x/"},"version_policy":"release"}}`,
		`{"name":"m7","format":"maven","kind":"hosted","settings":{"unknown":1}}`,
		`{"name":"m8","format":"maven","kind":"group","settings":{"members":["maven-hosted"],"merge":"some"}}`,
		`{"name":"m9","format":"maven","kind":"hosted","settings":{"merge":"all"}}`,
	} {
		if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(bad)); resp.StatusCode != 400 {
			t.Errorf("create %s = %d %s, want 400", bad, resp.StatusCode, b)
		}
	}
}

// TestConcurrentFirstDeploys races developers deploying different bytes
// to one new path: exactly one wins, and nobody overwrites the winner
// without the maintainer role.
func TestConcurrentFirstDeploys(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		dev := user(t, s, "dev", "maven-hosted", "developer")
		const n = 8
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := s.Do(t, "PUT", "/maven/maven-hosted/g/race/1.0/race-1.0.jar", dev.userpass, strings.NewReader(fmt.Sprintf("bytes %d", i)))
				codes <- resp.StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		won := 0
		for c := range codes {
			switch c {
			case 201:
				won++
			case 403, 409: // saw the winner's file (an overwrite), or lost the insert
			default:
				t.Errorf("a racing deploy answered %d", c)
			}
		}
		if won != 1 {
			t.Fatalf("%d deploys won, want 1", won)
		}
	})
}

// TestGradleModuleMetadata replays what Gradle 6 and later publish beside
// the pom and jar: Gradle module metadata (.module) and four checksums of
// every file, metadata included (Gradle 4.4, which the e2e test drives,
// sends .md5 and .sha1 only).
func TestGradleModuleMetadata(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		createRepo(t, s, `{"name":"gradle-mixed","format":"maven","kind":"hosted"}`)
		c := &client{t: t, s: s, repo: "gradle-mixed", userpass: apptest.Admin}
		upload := func(path string, body []byte) {
			t.Helper()
			c.expect(201, "upload", "PUT", path, body)
			for ext, h := range map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New} {
				c.expect(201, "upload "+ext, "PUT", path+"."+ext, []byte(sum(h(), body)))
			}
		}
		module := []byte(`{"formatVersion":"1.1","component":{"group":"com.example","module":"lib","version":"1.0"}}`)
		upload("com/example/lib/1.0/lib-1.0.jar", []byte("PK lib 1.0"))
		upload("com/example/lib/1.0/lib-1.0.pom", []byte("<project><!-- do_not_remove: published-with-gradle-metadata --></project>"))
		upload("com/example/lib/1.0/lib-1.0.module", module)
		c.expect(400, "a wrong sha256 of the module", "PUT", "com/example/lib/1.0/lib-1.0.module.sha256", []byte(strings.Repeat("0", 64)))
		upload("com/example/lib/maven-metadata.xml", []byte(`<metadata><groupId>com.example</groupId><artifactId>lib</artifactId></metadata>`))

		if got := c.expect(200, "module", "GET", "com/example/lib/1.0/lib-1.0.module", nil); got != string(module) {
			t.Fatalf("module = %q", got)
		}
		if got := c.expect(200, "module sha512", "GET", "com/example/lib/1.0/lib-1.0.module.sha512", nil); got != sum(sha512.New(), module) {
			t.Fatalf("module sha512 = %q", got)
		}

		// Snapshots: the module file is listed per build like the jar.
		dir := "com/example/lib/1.1-SNAPSHOT/"
		for b := 1; b <= 2; b++ {
			v := fmt.Sprintf("1.1-20260101.00000%d-%d", b, b)
			upload(dir+"lib-"+v+".jar", []byte("PK "+v))
			upload(dir+"lib-"+v+".module", []byte(`{"build":`+fmt.Sprint(b)+`}`))
			upload(dir+"maven-metadata.xml", []byte(`<metadata/>`))
		}
		m := metadata(t, c.expect(200, "snapshot metadata", "GET", dir+"maven-metadata.xml", nil))
		got := map[string]string{}
		for _, sv := range m.Versioning.SnapshotVersions {
			got[sv.Classifier+"."+sv.Extension] = sv.Value
		}
		if got[".module"] != "1.1-20260101.000002-2" || got[".jar"] != "1.1-20260101.000002-2" {
			t.Fatalf("snapshotVersions = %v", got)
		}
		if b := c.expect(200, "newest module by its SNAPSHOT name", "GET", dir+"lib-1.1-SNAPSHOT.module", nil); b != `{"build":2}` {
			t.Fatalf("lib-1.1-SNAPSHOT.module = %q", b)
		}
	})
}
