package goproxy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

func createRepo(t *testing.T, s *apptest.Server, body string) {
	t.Helper()
	if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(body)); resp.StatusCode != 201 {
		t.Fatalf("create repository %s = %d %s", body, resp.StatusCode, b)
	}
}

// client talks to one Go repository as one user ("" is anonymous).
type client struct {
	t        *testing.T
	s        *apptest.Server
	repo     string
	userpass string
}

func (c *client) expect(status int, what, method, path string, body []byte) string {
	c.t.Helper()
	resp, b := c.s.Do(c.t, method, "/go/"+c.repo+"/"+path, c.userpass, bytes.NewReader(body))
	if resp.StatusCode != status {
		c.t.Fatalf("%s: %s %s = %d %s, want %d", what, method, path, resp.StatusCode, b, status)
	}
	return b
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

// moduleZip builds the zip of mod@version from files (name → content), as
// the go command would, and returns it with its go.sum hash.
func moduleZip(t *testing.T, mod, version string, files map[string]string) ([]byte, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, module.Version{Path: mod, Version: version}, dir); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "m.zip")
	os.WriteFile(f, buf.Bytes(), 0o644)
	h1, err := dirhash.HashZip(f, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), h1
}

// rawZip builds a zip with the given entries, valid for a module or not.
func rawZip(t *testing.T, entries map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range entries {
		w, _ := zw.Create(name)
		w.Write([]byte(content))
	}
	zw.Close()
	return buf.Bytes()
}

func info(t *testing.T, body string) string {
	t.Helper()
	var in struct{ Version, Time string }
	if err := json.Unmarshal([]byte(body), &in); err != nil || in.Time == "" {
		t.Fatalf("info %q: %v", body, err)
	}
	return in.Version
}

func TestHostedPublishAndServe(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := &client{t: t, s: s, repo: "go-hosted", userpass: apptest.Admin} // a default repository
		const mod = "example.com/Acme/greet"
		const esc = "example.com/!acme/greet"
		z1, h1 := moduleZip(t, mod, "v1.0.0", map[string]string{"go.mod": "module " + mod + "\n\ngo 1.22\n", "greet.go": "package greet\n\nconst Hello = \"hi\"\n"})
		z2, _ := moduleZip(t, mod, "v1.1.0-rc.1", map[string]string{"go.mod": "module " + mod + "\n", "greet.go": "package greet\n"})
		z3, _ := moduleZip(t, mod, "v1.0.1", map[string]string{"greet.go": "package greet\n"}) // no go.mod: arca writes one
		if got := c.expect(201, "publish", "PUT", esc+"/@v/v1.0.0.zip", z1); !strings.Contains(got, h1) {
			t.Fatalf("publish answered %q, want the hash %s", got, h1)
		}
		c.expect(201, "publish a pre-release", "PUT", esc+"/@v/v1.1.0-rc.1.zip", z2)
		c.expect(201, "publish without go.mod", "PUT", esc+"/@v/v1.0.1.zip", z3)
		c.expect(200, "the same zip again", "PUT", esc+"/@v/v1.0.0.zip", z1)
		other, _ := moduleZip(t, mod, "v1.0.0", map[string]string{"go.mod": "module " + mod + "\n", "greet.go": "package greet // changed\n"})
		c.expect(409, "another zip for a published version", "PUT", esc+"/@v/v1.0.0.zip", other)

		if got := c.expect(200, "list", "GET", esc+"/@v/list", nil); got != "v1.0.0\nv1.0.1\nv1.1.0-rc.1\n" {
			t.Fatalf("list = %q", got)
		}
		if v := info(t, c.expect(200, "latest", "GET", esc+"/@latest", nil)); v != "v1.0.1" {
			t.Fatalf("@latest = %s, want the highest release v1.0.1", v)
		}
		if v := info(t, c.expect(200, "info", "GET", esc+"/@v/v1.1.0-rc.1.info", nil)); v != "v1.1.0-rc.1" {
			t.Fatalf("info = %s", v)
		}
		if got := c.expect(200, "mod", "GET", esc+"/@v/v1.0.0.mod", nil); got != "module "+mod+"\n\ngo 1.22\n" {
			t.Fatalf("mod = %q", got)
		}
		if got := c.expect(200, "synthesized mod", "GET", esc+"/@v/v1.0.1.mod", nil); got != "module "+mod+"\n" {
			t.Fatalf("mod = %q", got)
		}
		if got := c.expect(200, "zip", "GET", esc+"/@v/v1.0.0.zip", nil); got != string(z1) {
			t.Fatalf("zip differs (%d bytes, want %d)", len(got), len(z1))
		}
		c.expect(404, "unencoded upper case", "GET", "example.com/Acme/greet/@v/list", nil)
		c.expect(404, "unknown module", "GET", "example.com/none/@v/list", nil)
		c.expect(404, "unknown version", "GET", esc+"/@v/v1.9.0.info", nil)
		c.expect(404, "a query", "GET", esc+"/@v/main.info", nil)

		// What is refused, with nothing stored.
		for _, bad := range []struct {
			what, path string
			body       []byte
			status     int
		}{
			{"not a zip", esc + "/@v/v2.0.0+incompatible.zip", []byte("not a zip"), 400},
			{"files outside the module prefix", esc + "/@v/v1.2.0.zip", rawZip(t, map[string]string{"other@v1.2.0/x.go": "package x"}), 400},
			{"go.mod of another module", esc + "/@v/v1.3.0.zip", rawZip(t, map[string]string{mod + "@v1.3.0/go.mod": "module example.com/other\n"}), 400},
			{"a major version without /v2", esc + "/@v/v2.0.0.zip", rawZip(t, map[string]string{mod + "@v2.0.0/x.go": "package x"}), 400},
			{"a non-canonical version", esc + "/@v/v1.4.zip", rawZip(t, map[string]string{mod + "@v1.4/x.go": "package x"}), 400},
			{"+incompatible with a go.mod", esc + "/@v/v2.0.0+incompatible.zip", rawZip(t, map[string]string{mod + "@v2.0.0+incompatible/go.mod": "module " + mod + "\n"}), 400},
			{"a .mod", esc + "/@v/v1.5.0.mod", []byte("module " + mod + "\n"), 400},
			{"case collision", esc + "/@v/v1.6.0.zip", rawZip(t, map[string]string{mod + "@v1.6.0/a.go": "package a", mod + "@v1.6.0/A.go": "package a"}), 400},
		} {
			c.expect(bad.status, bad.what, "PUT", bad.path, bad.body)
		}
		if got := c.expect(200, "list after refusals", "GET", esc+"/@v/list", nil); got != "v1.0.0\nv1.0.1\nv1.1.0-rc.1\n" {
			t.Fatalf("list = %q", got)
		}

		// Delete, then the version is gone and may be published again.
		c.expect(204, "delete", "DELETE", esc+"/@v/v1.0.1", nil)
		c.expect(404, "deleted info", "GET", esc+"/@v/v1.0.1.info", nil)
		c.expect(404, "delete again", "DELETE", esc+"/@v/v1.0.1", nil)
		if v := info(t, c.expect(200, "latest after delete", "GET", esc+"/@latest", nil)); v != "v1.0.0" {
			t.Fatalf("@latest = %s", v)
		}
		var n int
		s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action IN ('go.publish', 'go.delete')`).Scan(&n)
		if n != 4 {
			t.Fatalf("audit has %d go events, want 4 (3 publishes, 1 delete)", n)
		}
	})
}

func TestRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		createRepo(t, s, `{"name":"go-other","format":"go","kind":"hosted"}`)
		createRepo(t, s, `{"name":"go-public","format":"go","kind":"hosted","visibility":"public"}`)
		const mod = "example.com/roles"
		z, _ := moduleZip(t, mod, "v1.0.0", map[string]string{"go.mod": "module " + mod + "\n", "r.go": "package roles\n"})
		z2, _ := moduleZip(t, mod, "v1.0.1", map[string]string{"go.mod": "module " + mod + "\n", "r.go": "package roles\n"})
		anon := &client{t: t, s: s, repo: "go-hosted"}
		reader := user(t, s, "reader", "go-hosted", "reader")
		dev := user(t, s, "dev", "go-hosted", "developer")
		maint := user(t, s, "maint", "go-hosted", "maintainer")
		other := user(t, s, "other", "go-other", "admin")
		other.repo = "go-hosted"

		anon.expect(401, "anonymous publish", "PUT", mod+"/@v/v1.0.0.zip", z)
		reader.expect(403, "reader publish", "PUT", mod+"/@v/v1.0.0.zip", z)
		other.expect(403, "other repository's admin publishes", "PUT", mod+"/@v/v1.0.0.zip", z)
		dev.expect(201, "developer publish", "PUT", mod+"/@v/v1.0.0.zip", z)
		dev.expect(201, "developer publish", "PUT", mod+"/@v/v1.0.1.zip", z2)
		for _, p := range []string{"@v/list", "@latest", "@v/v1.0.0.info", "@v/v1.0.0.mod", "@v/v1.0.0.zip", "../sumdb/sum.golang.org/supported", "../@modules"} {
			path := mod + "/" + p
			if strings.HasPrefix(p, "../") {
				path = strings.TrimPrefix(p, "../")
			}
			anon.expect(401, "anonymous read", "GET", path, nil)
			other.expect(403, "other repository's admin reads", "GET", path, nil)
		}
		for _, c := range []*client{reader, dev, maint} {
			c.expect(200, "read", "GET", mod+"/@v/v1.0.0.zip", nil)
			c.expect(200, "list", "GET", mod+"/@v/list", nil)
			if got := c.expect(200, "module listing", "GET", "@modules", nil); !strings.Contains(got, `"`+mod+`"`) {
				t.Fatalf("@modules = %s", got)
			}
		}
		anon.expect(401, "anonymous delete", "DELETE", mod+"/@v/v1.0.0", nil)
		reader.expect(403, "reader delete", "DELETE", mod+"/@v/v1.0.0", nil)
		dev.expect(403, "developer delete", "DELETE", mod+"/@v/v1.0.0", nil)
		maint.expect(204, "maintainer delete", "DELETE", mod+"/@v/v1.0.0", nil)
		(&client{t: t, s: s, repo: "go-hosted", userpass: apptest.Admin}).expect(204, "admin delete", "DELETE", mod+"/@v/v1.0.1", nil)

		// A public repository is read anonymously, and written only by roles.
		pub := &client{t: t, s: s, repo: "go-public", userpass: apptest.Admin}
		pub.expect(201, "publish", "PUT", mod+"/@v/v1.0.0.zip", z)
		anonPub := &client{t: t, s: s, repo: "go-public"}
		anonPub.expect(200, "anonymous read of a public repository", "GET", mod+"/@v/v1.0.0.zip", nil)
		anonPub.expect(401, "anonymous publish to a public repository", "PUT", mod+"/@v/v1.0.1.zip", z2)
		// Not a Go repository.
		(&client{t: t, s: s, repo: "files", userpass: apptest.Admin}).expect(404, "raw repository", "GET", mod+"/@v/list", nil)
	})
}

// fakeSumdb stands in for an upstream GOPROXY's checksum database pass-through.
func fakeSumdb(t *testing.T) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sumdb/sum.example.org/supported":
			w.WriteHeader(200)
		case "/sumdb/sum.example.org/lookup/example.com/x@v1.0.0":
			fmt.Fprint(w, "42\nexample.com/x v1.0.0 h1:abc=\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestProxyGroupSumdb(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// The upstream: a second arca with a hosted repository.
		up := apptest.Start(t, "", nil)
		upc := &client{t: t, s: up, repo: "go-hosted", userpass: apptest.Admin}
		const pub = "example.com/pub"
		zp, _ := moduleZip(t, pub, "v1.0.0", map[string]string{"go.mod": "module " + pub + "\n", "p.go": "package pub\n"})
		upc.expect(201, "upstream publish", "PUT", pub+"/@v/v1.0.0.zip", zp)
		const private = "example.com/private"
		impostor, _ := moduleZip(t, private, "v1.9.0", map[string]string{"go.mod": "module " + private + "\n", "p.go": "package private // a public impostor\n"})
		upc.expect(201, "upstream impostor", "PUT", private+"/@v/v1.9.0.zip", impostor)

		createRepo(t, s, fmt.Sprintf(`{"name":"go-proxy","format":"go","kind":"proxy","settings":{"upstream":{"url":%q,"username":"admin","password":%q,"list_max_age":"1ms","negative_cache_ttl":"1h","unreachable_retry":"1h"}}}`,
			up.URL+"/go/go-hosted", apptest.AdminPassword))
		// The proxy is listed first and the hosted member is still asked first.
		createRepo(t, s, `{"name":"go-group","format":"go","kind":"group","settings":{"members":["go-proxy","go-hosted"]}}`)
		if _, body := s.Do(t, "GET", "/api/v1/repositories/go-proxy", apptest.Admin, nil); strings.Contains(body, apptest.AdminPassword) {
			t.Fatalf("the repository API shows the upstream password: %s", body)
		}
		proxy := &client{t: t, s: s, repo: "go-proxy", userpass: apptest.Admin}
		group := &client{t: t, s: s, repo: "go-group", userpass: apptest.Admin}
		hosted := &client{t: t, s: s, repo: "go-hosted", userpass: apptest.Admin}
		zprivate, _ := moduleZip(t, private, "v1.0.0", map[string]string{"go.mod": "module " + private + "\n", "p.go": "package private\n"})
		hosted.expect(201, "hosted publish", "PUT", private+"/@v/v1.0.0.zip", zprivate)
		zpub2, _ := moduleZip(t, pub, "v1.1.0", map[string]string{"go.mod": "module " + pub + "\n", "p.go": "package pub // 1.1\n"})
		hosted.expect(201, "hosted publishes a version of the public module", "PUT", pub+"/@v/v1.1.0.zip", zpub2)

		if got := proxy.expect(200, "proxied zip", "GET", pub+"/@v/v1.0.0.zip", nil); got != string(zp) {
			t.Fatalf("proxied zip differs")
		}
		proxy.expect(200, "proxied mod", "GET", pub+"/@v/v1.0.0.mod", nil)
		proxy.expect(200, "proxied info", "GET", pub+"/@v/v1.0.0.info", nil)
		if got := proxy.expect(200, "proxied list", "GET", pub+"/@v/list", nil); got != "v1.0.0\n" {
			t.Fatalf("proxied list = %q", got)
		}
		proxy.expect(403, "publish to a proxy", "PUT", pub+"/@v/v2.0.0.zip", zp)

		// Cached forever: gone upstream, still served; the list follows the upstream.
		upc.expect(204, "upstream delete", "DELETE", pub+"/@v/v1.0.0", nil)
		if got := proxy.expect(200, "cached zip", "GET", pub+"/@v/v1.0.0.zip", nil); got != string(zp) {
			t.Fatalf("cached zip differs")
		}
		upc.expect(201, "upstream publish again", "PUT", pub+"/@v/v1.0.0.zip", zp)
		// Negative cache: a 404 is remembered for negative_cache_ttl.
		proxy.expect(404, "missing upstream", "GET", pub+"/@v/v1.2.0.info", nil)
		z12, _ := moduleZip(t, pub, "v1.2.0", map[string]string{"go.mod": "module " + pub + "\n", "p.go": "package pub\n"})
		upc.expect(201, "upstream publish 1.2.0", "PUT", pub+"/@v/v1.2.0.zip", z12)
		proxy.expect(404, "negatively cached", "GET", pub+"/@v/v1.2.0.info", nil)
		if got := proxy.expect(200, "the list follows the upstream", "GET", pub+"/@v/list", nil); got != "v1.0.0\nv1.2.0\n" {
			t.Fatalf("proxied list = %q", got)
		}

		// The group: lists merged, hosted members first, and a module a
		// hosted member holds is never taken from the proxy.
		if got := group.expect(200, "group list", "GET", pub+"/@v/list", nil); got != "v1.1.0\n" {
			t.Fatalf("group list = %q: the hosted member holds the module, so the proxy adds nothing", got)
		}
		if got := group.expect(200, "group list of a private module", "GET", private+"/@v/list", nil); got != "v1.0.0\n" {
			t.Fatalf("group list = %q: the impostor's v1.9.0 leaked in", got)
		}
		group.expect(404, "the impostor's version through the group", "GET", private+"/@v/v1.9.0.zip", nil)
		if v := info(t, group.expect(200, "group latest", "GET", private+"/@latest", nil)); v != "v1.0.0" {
			t.Fatalf("group @latest = %s", v)
		}
		hosted.expect(204, "hosted delete", "DELETE", pub+"/@v/v1.1.0", nil)
		if got := group.expect(200, "group list from the proxy", "GET", pub+"/@v/list", nil); got != "v1.0.0\nv1.2.0\n" {
			t.Fatalf("group list = %q", got)
		}
		if got := group.expect(200, "group zip from the proxy", "GET", pub+"/@v/v1.0.0.zip", nil); got != string(zp) {
			t.Fatalf("group zip differs")
		}

		// The checksum database: passed through by a proxy of an upstream
		// that has one, refused by a hosted repository.
		sum := fakeSumdb(t)
		createRepo(t, s, fmt.Sprintf(`{"name":"go-sumproxy","format":"go","kind":"proxy","settings":{"upstream":{"url":%q}}}`, sum.URL))
		createRepo(t, s, `{"name":"go-sumgroup","format":"go","kind":"group","settings":{"members":["go-hosted","go-sumproxy"]}}`)
		for _, name := range []string{"go-sumproxy", "go-sumgroup"} {
			c := &client{t: t, s: s, repo: name, userpass: apptest.Admin}
			c.expect(200, "sumdb supported", "GET", "sumdb/sum.example.org/supported", nil)
			if got := c.expect(200, "sumdb lookup", "GET", "sumdb/sum.example.org/lookup/example.com/x@v1.0.0", nil); !strings.Contains(got, "h1:abc=") {
				t.Fatalf("lookup = %q", got)
			}
			c.expect(404, "another sumdb", "GET", "sumdb/sum.other.org/supported", nil)
			c.expect(404, "a path outside the sumdb protocol", "GET", "sumdb/sum.example.org/admin", nil)
		}
		hosted.expect(404, "hosted sumdb", "GET", "sumdb/sum.example.org/supported", nil)
	})
}
