package maven_test

import (
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestProxyAndGroup(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// The upstream: a second arca with a hosted repository.
		up := apptest.Start(t, "", nil)
		createRepo(t, up, `{"name":"central","format":"maven","kind":"hosted"}`)
		upc := &client{t: t, s: up, repo: "central", userpass: apptest.Admin}
		pubJar := []byte("PK public lib 1.0")
		upc.deploy("org/pub/lib/1.0/lib-1.0.jar", pubJar)
		upc.deploy("org/pub/lib/1.0/lib-1.0.pom", []byte("<project>lib</project>"))
		upc.deploy("org/pub/util/1.0/util-1.0.jar", []byte("PK util"))
		upc.deploy("com/acme/internal/9.0/internal-9.0.jar", []byte("PK a public impostor"))

		createRepo(t, s, fmt.Sprintf(`{"name":"mvn-proxy","format":"maven","kind":"proxy","settings":{"upstream":{"url":%q,"username":"admin","password":%q,"metadata_max_age":"1ms","negative_cache_ttl":"1h","unreachable_retry":"1h"}}}`,
			up.URL+"/maven/central/", apptest.AdminPassword))
		createRepo(t, s, `{"name":"mvn-hosted","format":"maven","kind":"hosted"}`)
		// The proxy is listed first and the hosted member is still asked first.
		createRepo(t, s, `{"name":"mvn-group","format":"maven","kind":"group","settings":{"members":["mvn-proxy","mvn-hosted"]}}`)
		createRepo(t, s, `{"name":"mvn-all","format":"maven","kind":"group","settings":{"members":["mvn-proxy","mvn-hosted"],"merge":"all"}}`)
		if _, body := s.Do(t, "GET", "/api/v1/repositories/mvn-proxy", apptest.Admin, nil); strings.Contains(body, apptest.AdminPassword) {
			t.Fatalf("the repository API shows the upstream password: %s", body)
		}
		hosted := &client{t: t, s: s, repo: "mvn-hosted", userpass: apptest.Admin}
		hosted.deploy("org/pub/lib/1.1/lib-1.1.jar", []byte("PK internal build of lib 1.1"))
		hosted.deploy("com/acme/internal/1.0/internal-1.0.jar", []byte("PK internal"))

		proxy := &client{t: t, s: s, repo: "mvn-proxy", userpass: apptest.Admin}
		group := &client{t: t, s: s, repo: "mvn-group", userpass: apptest.Admin}

		// Through the proxy: the upstream's bytes, with checksums from the cached file.
		if got := proxy.expect(200, "proxied jar", "GET", "org/pub/lib/1.0/lib-1.0.jar", nil); got != string(pubJar) {
			t.Fatalf("proxied jar = %q", got)
		}
		if got := proxy.expect(200, "proxied sha1", "GET", "org/pub/lib/1.0/lib-1.0.jar.sha1", nil); got != sum(sha1.New(), pubJar) {
			t.Fatalf("proxied sha1 = %q", got)
		}
		m := metadata(t, proxy.expect(200, "proxied metadata", "GET", "org/pub/lib/maven-metadata.xml", nil))
		if strings.Join(m.Versioning.Versions, ",") != "1.0" {
			t.Fatalf("proxied metadata = %+v", m.Versioning)
		}
		proxy.expect(403, "deploy to a proxy", "PUT", "org/pub/lib/2.0/lib-2.0.jar", []byte("x"))

		// Negative cache: a 404 is remembered for negative_cache_ttl.
		proxy.expect(404, "missing upstream", "GET", "org/pub/lib/3.0/lib-3.0.jar", nil)
		upc.deploy("org/pub/lib/3.0/lib-3.0.jar", []byte("PK lib 3.0"))
		proxy.expect(404, "negatively cached", "GET", "org/pub/lib/3.0/lib-3.0.jar", nil)

		// Metadata is fetched again once older than metadata_max_age.
		time.Sleep(5 * time.Millisecond)
		m = metadata(t, proxy.expect(200, "refreshed metadata", "GET", "org/pub/lib/maven-metadata.xml", nil))
		if strings.Join(m.Versioning.Versions, ",") != "1.0,3.0" {
			t.Fatalf("refreshed metadata = %+v", m.Versioning)
		}

		// A group with merge: all merges every member's metadata and answers
		// files from the first member with them.
		all := &client{t: t, s: s, repo: "mvn-all", userpass: apptest.Admin}
		body := all.expect(200, "merged metadata", "GET", "org/pub/lib/maven-metadata.xml", nil)
		m = metadata(t, body)
		if strings.Join(m.Versioning.Versions, ",") != "1.0,1.1,3.0" || m.Versioning.Latest != "3.0" || m.Versioning.Release != "3.0" {
			t.Fatalf("merged metadata = %s", body)
		}
		if got := all.expect(200, "merged metadata sha1", "GET", "org/pub/lib/maven-metadata.xml.sha1", nil); got != sum(sha1.New(), []byte(body)) {
			t.Fatalf("merged metadata sha1 = %q", got)
		}
		if got := all.expect(200, "merge all: proxied file", "GET", "org/pub/lib/1.0/lib-1.0.jar", nil); got != string(pubJar) {
			t.Fatalf("group jar = %q", got)
		}
		// By default an artifact a hosted member holds is the hosted
		// member's alone: the public versions of org.pub:lib are hidden.
		body = group.expect(200, "group metadata", "GET", "org/pub/lib/maven-metadata.xml", nil)
		if m = metadata(t, body); strings.Join(m.Versioning.Versions, ",") != "1.1" {
			t.Fatalf("group metadata of a hosted artifact = %s", body)
		}
		if got := group.expect(200, "group metadata sha1", "GET", "org/pub/lib/maven-metadata.xml.sha1", nil); got != sum(sha1.New(), []byte(body)) {
			t.Fatalf("group metadata sha1 = %q", got)
		}
		group.expect(404, "group: a public version of a hosted artifact", "GET", "org/pub/lib/1.0/lib-1.0.jar", nil)
		if got := group.expect(200, "group: hosted file", "GET", "org/pub/lib/1.1/lib-1.1.jar", nil); got != "PK internal build of lib 1.1" {
			t.Fatalf("group jar = %q", got)
		}
		if got := group.expect(200, "group: proxied file", "GET", "org/pub/util/1.0/util-1.0.jar", nil); got != "PK util" {
			t.Fatalf("group util = %q", got)
		}
		m = metadata(t, group.expect(200, "group: proxied metadata", "GET", "org/pub/util/maven-metadata.xml", nil))
		if strings.Join(m.Versioning.Versions, ",") != "1.0" {
			t.Fatalf("group util metadata = %+v", m.Versioning)
		}
		group.expect(403, "deploy to a group", "PUT", "org/pub/lib/2.0/lib-2.0.jar", []byte("x"))

		// Per-member read checks: a reader of the group and the proxy, not
		// the hosted member, gets public artifacts through the group but
		// never a public artifact in place of a hosted one it may not read.
		guest := user(t, s, "guest", "mvn-group", "reader")
		user(t, s, "guest", "mvn-proxy", "reader")
		guest.expect(200, "guest: public file through the group", "GET", "org/pub/util/1.0/util-1.0.jar", nil)
		guest.expect(403, "guest: an artifact the hosted member also has", "GET", "org/pub/lib/1.0/lib-1.0.jar", nil)
		guest.expect(403, "guest: a hosted artifact it may not read", "GET", "com/acme/internal/9.0/internal-9.0.jar", nil)
		guest.expect(403, "guest: its metadata", "GET", "com/acme/internal/maven-metadata.xml", nil)
		nobody := user(t, s, "nobody", "mvn-group", "reader")
		nobody.expect(404, "a group reader who may read no member", "GET", "org/pub/util/1.0/util-1.0.jar", nil)

		// With the upstream gone, cached files and metadata are still served.
		up.Close()
		proxy.expect(200, "cached jar, upstream down", "GET", "org/pub/lib/1.0/lib-1.0.jar", nil)
		time.Sleep(5 * time.Millisecond)
		proxy.expect(200, "stale metadata, upstream down", "GET", "org/pub/lib/maven-metadata.xml", nil)
		proxy.expect(503, "uncached file, upstream down", "GET", "org/pub/lib/1.0/lib-1.0-sources.jar", nil)
		all.expect(200, "group metadata, upstream down", "GET", "org/pub/lib/maven-metadata.xml", nil)
		group.expect(503, "group: a file no member has while the proxy is down", "GET", "org/pub/util/2.0/util-2.0.jar", nil)
		group.expect(200, "group: a hosted file while the proxy is down", "GET", "org/pub/lib/1.1/lib-1.1.jar", nil)

		var n int
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM maven_proxy_files`).Scan(&n); err != nil || n != 4 {
			t.Fatalf("proxy cache rows = %d (%v), want 4 (lib jar, lib metadata, util jar, util metadata)", n, err)
		}
	})
}

// TestProxyUpstreamBehaviour drives a proxy against a scripted upstream:
// downloads are verified against the upstream's .sha1, files are cached
// forever and metadata for metadata_max_age, and a failing upstream is
// left alone for unreachable_retry.
func TestProxyUpstreamBehaviour(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		var mu sync.Mutex
		hits := map[string]int{}
		good := []byte("PK good")
		meta := `<metadata><groupId>g</groupId><artifactId>good</artifactId><versioning><versions><version>1.0</version></versions></versioning></metadata>`
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[r.URL.Path]++
			mu.Unlock()
			switch r.URL.Path {
			case "/repo/g/good/1.0/good-1.0.jar":
				w.Write(good)
			case "/repo/g/good/1.0/good-1.0.jar.sha1":
				fmt.Fprintf(w, "%s  good-1.0.jar\n", sum(sha1.New(), good))
			case "/repo/g/bad/1.0/bad-1.0.jar":
				w.Write([]byte("PK tampered"))
			case "/repo/g/bad/1.0/bad-1.0.jar.sha1":
				w.Write([]byte(strings.Repeat("ab", 20)))
			case "/repo/g/good/maven-metadata.xml":
				w.Write([]byte(meta))
			case "/repo/g/broken/1.0/broken-1.0.jar":
				w.WriteHeader(http.StatusBadGateway)
			default:
				http.NotFound(w, r)
			}
		}))
		defer up.Close()
		count := func(p string) int {
			mu.Lock()
			defer mu.Unlock()
			return hits["/repo/"+p]
		}
		createRepo(t, s, fmt.Sprintf(`{"name":"scripted","format":"maven","kind":"proxy","settings":{"upstream":{"url":%q,"metadata_max_age":"1h","unreachable_retry":"1h"}}}`, up.URL+"/repo"))
		c := &client{t: t, s: s, repo: "scripted", userpass: apptest.Admin}

		for i := 0; i < 2; i++ {
			if got := c.expect(200, "good jar", "GET", "g/good/1.0/good-1.0.jar", nil); got != string(good) {
				t.Fatalf("good jar = %q", got)
			}
			c.expect(200, "metadata", "GET", "g/good/maven-metadata.xml", nil)
		}
		if n := count("g/good/1.0/good-1.0.jar"); n != 1 {
			t.Errorf("the upstream was asked %d times for a cached file", n)
		}
		if n := count("g/good/maven-metadata.xml"); n != 1 {
			t.Errorf("the upstream was asked %d times for fresh metadata", n)
		}
		if got := c.expect(200, "metadata sha1 from the cached copy", "GET", "g/good/maven-metadata.xml.sha1", nil); got != sum(sha1.New(), []byte(meta)) {
			t.Errorf("metadata sha1 = %q", got)
		}
		c.expect(503, "a file that does not match its upstream .sha1", "GET", "g/bad/1.0/bad-1.0.jar", nil)
		c.expect(503, "and it is not cached", "GET", "g/bad/1.0/bad-1.0.jar", nil)
		c.expect(503, "an upstream 502", "GET", "g/broken/1.0/broken-1.0.jar", nil)
		before := count("g/other/1.0/other-1.0.jar")
		c.expect(503, "while the upstream is paused", "GET", "g/other/1.0/other-1.0.jar", nil)
		if count("g/other/1.0/other-1.0.jar") != before {
			t.Errorf("the paused upstream was called")
		}
		c.expect(200, "cached files while paused", "GET", "g/good/1.0/good-1.0.jar", nil)
	})
}
