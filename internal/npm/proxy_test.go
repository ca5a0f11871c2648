package npm_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func createRepo(t *testing.T, s *apptest.Server, body string) {
	t.Helper()
	if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(body)); resp.StatusCode != 201 {
		t.Fatalf("create repository %s = %d %s", body, resp.StatusCode, b)
	}
}

func TestProxyAndGroup(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// The upstream: a second arca with public packages.
		up := apptest.Start(t, "", nil)
		upc := newClient(t, up, "npm-hosted", "admin")
		upc.publish("@pub/lib", "1.0.0", 201, nil)
		upc.publish("common", "5.0.0", 201, nil)
		upc.publish("common", "5.1.0", 201, nil)
		upTarball := tgz(t, "@pub/lib", "1.0.0")

		createRepo(t, s, fmt.Sprintf(`{"name":"npm-up","format":"npm","kind":"proxy","settings":{"upstream":{"url":%q,"token":%q,"metadata_max_age":"1ms","negative_cache_ttl":"1h","unreachable_retry":"1h"}}}`,
			up.URL+"/npm/npm-hosted/", upc.token))
		// Hosted is listed last and still asked first.
		createRepo(t, s, `{"name":"npm-all","format":"npm","kind":"group","settings":{"members":["npm-up","npm-hosted"]}}`)
		if _, body := s.Do(t, "GET", "/api/v1/repositories/npm-up", apptest.Admin, nil); strings.Contains(body, upc.token) {
			t.Fatalf("the repository API shows the upstream token: %s", body)
		}

		hosted := newClient(t, s, "npm-hosted", "admin")
		hosted.publish("common", "0.0.1", 201, nil) // an internal package of the same name as a public one
		proxy := &client{t: t, s: s, repo: "npm-up", token: hosted.token}
		group := &client{t: t, s: s, repo: "npm-all", token: hosted.token}

		// Through the proxy: tarball URLs point at arca, content and integrity are the upstream's.
		p := proxy.packument("@pub/lib", true)
		d := distOf(p, "1.0.0")
		if d["tarball"] != s.URL+"/npm/npm-up/@pub/lib/-/lib-1.0.0.tgz" || d["integrity"] != sri(upTarball) {
			t.Fatalf("proxied dist = %v", d)
		}
		if resp, body := proxy.do("GET", "/@pub/lib/-/lib-1.0.0.tgz", nil); resp.StatusCode != 200 || body != string(upTarball) {
			t.Fatalf("proxied tarball = %d (%d bytes)", resp.StatusCode, len(body))
		}
		if full := proxy.packument("@pub/lib", false); full["description"] != "a package named @pub/lib" {
			t.Fatalf("proxied full packument: %v", full)
		}

		// Through the group: URLs point at the group; the hosted package shadows the public one whole.
		p = group.packument("@pub/lib", true)
		if d := distOf(p, "1.0.0"); d["tarball"] != s.URL+"/npm/npm-all/@pub/lib/-/lib-1.0.0.tgz" {
			t.Fatalf("group dist = %v", d)
		}
		if resp, body := group.do("GET", "/@pub/lib/-/lib-1.0.0.tgz", nil); resp.StatusCode != 200 || body != string(upTarball) {
			t.Fatalf("group tarball = %d", resp.StatusCode)
		}
		p = group.packument("common", true)
		if version(p, "0.0.1") == nil || version(p, "5.1.0") != nil || p["dist-tags"].(map[string]any)["latest"] != "0.0.1" {
			t.Fatalf("the group merged the public package into the internal one: %v", p)
		}
		group.expect(404, "a public version of a shadowed package", "GET", "/common/-/common-5.1.0.tgz", nil)
		if resp, _ := group.do("GET", "/common/-/common-0.0.1.tgz", nil); resp.StatusCode != 200 {
			t.Fatalf("internal tarball through the group = %d", resp.StatusCode)
		}
		if resp, body := group.do("GET", "/-/package/@pub%2flib/dist-tags", nil); resp.StatusCode != 200 || !strings.Contains(body, `"latest": "1.0.0"`) {
			t.Fatalf("group dist-tags = %d %s", resp.StatusCode, body)
		}
		_, body := group.do("GET", "/-/v1/search?text=common", nil)
		if strings.Count(body, `"name": "common"`) != 1 {
			t.Fatalf("group search must list common once: %s", body)
		}

		// Packuments are revalidated after metadata_max_age: a new upstream version shows.
		upc.publish("@pub/lib", "1.1.0", 201, nil)
		if p := group.packument("@pub/lib", true); version(p, "1.1.0") == nil {
			t.Fatalf("new upstream version not seen: %v", p)
		}
		// An upstream 404 is remembered: publishing it upstream later is not seen within the TTL.
		proxy.expect(404, "missing upstream package", "GET", "/late", nil)
		upc.publish("late", "1.0.0", 201, nil)
		proxy.expect(404, "negative cache", "GET", "/late", nil)

		// Upstream down: cached packuments and tarballs are served, new ones are 503,
		// and the upstream is not called again while paused.
		up.Close()
		if p := group.packument("@pub/lib", true); version(p, "1.1.0") == nil {
			t.Fatalf("stale packument not served: %v", p)
		}
		if resp, body := group.do("GET", "/@pub/lib/-/lib-1.0.0.tgz", nil); resp.StatusCode != 200 || body != string(upTarball) {
			t.Fatalf("cached tarball while the upstream is down = %d", resp.StatusCode)
		}
		proxy.expect(503, "uncached tarball while the upstream is down", "GET", "/@pub/lib/-/lib-1.1.0.tgz", nil)
		resp, body := proxy.do("GET", "/never-seen", nil)
		wantError(t, resp, body, 503, "uncached package while the upstream is down")
		if !strings.Contains(body, "retrying in") {
			t.Fatalf("the upstream was called again while paused: %s", body)
		}
		// The group still answers from its hosted member.
		if p := group.packument("common", true); version(p, "0.0.1") == nil {
			t.Fatalf("group without its proxy: %v", p)
		}
	})
}

// fakeRegistry is an upstream that serves one packument and counts what it
// is asked.
type fakeRegistry struct {
	mu        sync.Mutex
	docs      map[string][]byte // package → packument
	tarballs  map[string][]byte // path → bytes
	requests  map[string]int    // "METHOD path [conditional]" → count
	authSeen  []string
	etag      string
	tarballTo string // base URL tarballs are served from
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.EscapedPath()
	if r.Header.Get("If-None-Match") != "" {
		key += " conditional"
	}
	f.requests[key]++
	f.authSeen = append(f.authSeen, r.URL.Path+" "+r.Header.Get("Authorization"))
	if b, ok := f.tarballs[r.URL.Path]; ok {
		w.Write(b)
		return
	}
	name := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	doc, ok := f.docs[name]
	if !ok {
		http.Error(w, `{"error":"not found"}`, 404)
		return
	}
	if r.Header.Get("If-None-Match") == f.etag {
		w.WriteHeader(304)
		return
	}
	w.Header().Set("ETag", f.etag)
	w.Write(doc)
}

func TestProxyUpstreamBehaviour(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		good := tgz(t, "good", "1.0.0")
		other := tgz(t, "bad", "1.0.0", "package/x", "y")
		files := &fakeRegistry{tarballs: map[string][]byte{"/files/good-1.0.0.tgz": good, "/files/bad-1.0.0.tgz": tgz(t, "bad", "1.0.0")},
			requests: map[string]int{}}
		cdn := httptest.NewServer(files)
		defer cdn.Close()
		up := &fakeRegistry{requests: map[string]int{}, etag: `"v1"`, tarballs: map[string][]byte{}, docs: map[string][]byte{
			"good": []byte(fmt.Sprintf(`{"name":"good","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"good","version":"1.0.0","dist":{"tarball":%q,"integrity":%q}}}}`,
				cdn.URL+"/files/good-1.0.0.tgz", sri(good))),
			"bad": []byte(fmt.Sprintf(`{"name":"bad","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"bad","version":"1.0.0","dist":{"tarball":%q,"integrity":%q}}}}`,
				cdn.URL+"/files/bad-1.0.0.tgz", sri(other))),
		}}
		upSrv := httptest.NewServer(up)
		defer upSrv.Close()
		createRepo(t, s, fmt.Sprintf(`{"name":"npm-fake","format":"npm","kind":"proxy","settings":{"upstream":{"url":%q,"username":"u","password":"secret-pw","metadata_max_age":"1ms"}}}`, upSrv.URL))
		c := newClient(t, s, "npm-fake", "admin")

		// The tarball comes from another host, which gets no credentials.
		if p := c.packument("good", true); distOf(p, "1.0.0")["tarball"] != s.URL+"/npm/npm-fake/good/-/good-1.0.0.tgz" {
			t.Fatalf("rewritten dist = %v", distOf(p, "1.0.0"))
		}
		if resp, body := c.do("GET", "/good/-/good-1.0.0.tgz", nil); resp.StatusCode != 200 || body != string(good) {
			t.Fatalf("tarball = %d", resp.StatusCode)
		}
		for _, seen := range files.authSeen {
			if strings.Contains(seen, "Basic") {
				t.Fatalf("credentials sent to the tarball host: %v", files.authSeen)
			}
		}
		if len(up.authSeen) == 0 || !strings.HasSuffix(up.authSeen[0], "Basic dTpzZWNyZXQtcHc=") {
			t.Fatalf("the upstream got no Basic credentials: %v", up.authSeen)
		}
		// Cached forever: a second download does not reach the tarball host.
		c.do("GET", "/good/-/good-1.0.0.tgz", nil)
		if n := files.requests["GET /files/good-1.0.0.tgz"]; n != 1 {
			t.Fatalf("the tarball was downloaded %d times", n)
		}
		// Revalidation after metadata_max_age is conditional.
		c.packument("good", true)
		if up.requests["GET /good conditional"] == 0 {
			t.Fatalf("no conditional revalidation: %v", up.requests)
		}

		// A tarball that does not match the packument's integrity is refused and not kept.
		before := blobCount(t, s)
		c.packument("bad", true)
		before++ // the packument
		c.expect(503, "tarball with a wrong integrity", "GET", "/bad/-/bad-1.0.0.tgz", nil)
		if after := blobCount(t, s); after != before {
			t.Fatalf("a refused tarball left %d blobs", after-before)
		}
		// 404s are remembered.
		c.expect(404, "missing", "GET", "/missing", nil)
		c.expect(404, "missing again", "GET", "/missing", nil)
		if n := up.requests["GET /missing"]; n != 1 {
			t.Fatalf("the upstream was asked %d times for a missing package", n)
		}
	})
}
