package npm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/config"
)

// tgz builds a package tarball holding package.json and index.js.
func tgz(t testing.TB, name, version string, extra ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := append([]string{"package/package.json", fmt.Sprintf(`{"name":%q,"version":%q}`, name, version),
		"package/index.js", "module.exports = " + fmt.Sprintf("%q", name+"@"+version) + "\n"}, extra...)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func sri(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

func shasum(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// doc builds what npm publish sends; edit may change it before encoding.
func doc(name, version string, tarball []byte, edit func(d map[string]any, v map[string]any)) []byte {
	v := map[string]any{
		"name": name, "version": version, "description": "a package named " + name, "keywords": []string{"arca", "test"},
		"dependencies": map[string]string{}, "_id": name + "@" + version,
		"dist": map[string]any{"shasum": shasum(tarball), "integrity": sri(tarball), "tarball": "http://localhost/" + name + "/-/x.tgz"},
	}
	d := map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version}, "access": "public",
		"versions": map[string]any{version: v},
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tarball), "length": len(tarball),
		}},
	}
	if edit != nil {
		edit(d, v)
	}
	b, _ := json.Marshal(d)
	return b
}

func escaped(name string) string { return strings.Replace(name, "/", "%2f", 1) }

// client talks to one arca's npm surface with a token.
type client struct {
	t     *testing.T
	s     *apptest.Server
	repo  string
	token string
}

func newClient(t *testing.T, s *apptest.Server, repo, user string) *client {
	secret, _, err := s.Auth.CreateToken(context.Background(), user, "test "+repo+" "+auth.RandomSecret(4), 0)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, s: s, repo: repo, token: secret}
}

func (c *client) do(method, path string, body []byte, headers ...string) (*http.Response, string) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	if c.token != "" {
		headers = append(headers, "Authorization", "Bearer "+c.token)
	}
	return c.s.Do(c.t, method, "/npm/"+c.repo+path, "", r, headers...)
}

func (c *client) publish(name, version string, want int, edit func(d, v map[string]any)) string {
	c.t.Helper()
	resp, body := c.do("PUT", "/"+escaped(name), doc(name, version, tgz(c.t, name, version), edit), "Content-Type", "application/json")
	if resp.StatusCode != want {
		c.t.Fatalf("publish %s@%s = %d %s, want %d", name, version, resp.StatusCode, body, want)
	}
	return body
}

// packument fetches a packument; abbreviated asks for the install form.
func (c *client) packument(name string, abbreviated bool) map[string]any {
	c.t.Helper()
	accept := "application/json"
	if abbreviated {
		accept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
	}
	resp, body := c.do("GET", "/"+escaped(name), nil, "Accept", accept)
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET %s = %d %s", name, resp.StatusCode, body)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		c.t.Fatalf("packument of %s is not JSON: %v", name, err)
	}
	return p
}

func wantError(t *testing.T, resp *http.Response, body string, status int, what string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s = %d %s, want %d", what, resp.StatusCode, body, status)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Fatalf("%s: body is not npm's error JSON: %s", what, body)
	}
}

func version(p map[string]any, v string) map[string]any {
	vs, _ := p["versions"].(map[string]any)
	m, _ := vs[v].(map[string]any)
	return m
}

func distOf(p map[string]any, v string) map[string]any {
	d, _ := version(p, v)["dist"].(map[string]any)
	return d
}

func TestHostedLifecycle(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := newClient(t, s, "npm-hosted", "admin")
		name := "@arca/util"
		tb := tgz(t, name, "1.0.0")
		resp, body := c.do("PUT", "/"+escaped(name), doc(name, "1.0.0", tb, nil))
		if resp.StatusCode != 201 {
			t.Fatalf("publish = %d %s", resp.StatusCode, body)
		}
		c.expect(409, "republish", "PUT", "/"+escaped(name), doc(name, "1.0.0", tb, nil))

		full := c.packument(name, false)
		d := distOf(full, "1.0.0")
		wantURL := s.URL + "/npm/npm-hosted/@arca/util/-/util-1.0.0.tgz"
		if d["tarball"] != wantURL || d["integrity"] != sri(tb) || d["shasum"] != shasum(tb) {
			t.Fatalf("dist = %v, want tarball %s", d, wantURL)
		}
		if full["_rev"] == "" || full["description"] != "a package named @arca/util" || full["dist-tags"].(map[string]any)["latest"] != "1.0.0" {
			t.Fatalf("full packument: %v", full)
		}
		if version(full, "1.0.0")["_npmUser"].(map[string]any)["name"] != "admin" {
			t.Fatalf("_npmUser missing: %v", version(full, "1.0.0"))
		}
		abbr := c.packument(name, true)
		if _, ok := abbr["modified"]; !ok || version(abbr, "1.0.0")["description"] != nil || distOf(abbr, "1.0.0")["integrity"] != sri(tb) {
			t.Fatalf("abbreviated packument: %v", abbr)
		}
		// The scoped name is accepted unencoded too, and HEAD answers.
		if resp, _ := c.do("HEAD", "/@arca/util", nil); resp.StatusCode != 200 {
			t.Fatalf("HEAD /@arca/util = %d", resp.StatusCode)
		}
		// Conditional GET.
		resp, _ = c.do("GET", "/"+escaped(name), nil)
		etag := resp.Header.Get("ETag")
		if resp, _ := c.do("GET", "/"+escaped(name), nil, "If-None-Match", etag); resp.StatusCode != 304 {
			t.Fatalf("If-None-Match = %d", resp.StatusCode)
		}
		// The tarball, byte for byte.
		resp, got := c.do("GET", "/@arca/util/-/util-1.0.0.tgz", nil)
		if resp.StatusCode != 200 || got != string(tb) {
			t.Fatalf("tarball = %d, %d bytes", resp.StatusCode, len(got))
		}
		if resp, body := c.do("GET", "/@arca/util/1.0.0", nil); resp.StatusCode != 200 || !strings.Contains(body, `"version":"1.0.0"`) {
			t.Fatalf("version document = %d %s", resp.StatusCode, body)
		}
		if resp, body := c.do("GET", "/@arca/util/latest", nil); resp.StatusCode != 200 || !strings.Contains(body, `"version":"1.0.0"`) {
			t.Fatalf("version by tag = %d %s", resp.StatusCode, body)
		}

		// A second version under a tag leaves latest alone.
		c.publish(name, "1.1.0-beta.1", 201, func(d, v map[string]any) { d["dist-tags"] = map[string]string{"beta": "1.1.0-beta.1"} })
		// gzip for clients that accept it, with its own validator.
		resp1, plain := c.do("GET", "/"+escaped(name), nil, "Accept-Encoding", "identity")
		resp2, zipped := c.do("GET", "/"+escaped(name), nil, "Accept-Encoding", "gzip, deflate")
		if resp2.Header.Get("Content-Encoding") != "gzip" || len(plain) < 1024 || resp1.Header.Get("ETag") == resp2.Header.Get("ETag") {
			t.Fatalf("gzip response: %v", resp2.Header)
		}
		zr, err := gzip.NewReader(strings.NewReader(zipped))
		if err != nil {
			t.Fatal(err)
		}
		if unzipped, _ := io.ReadAll(zr); string(unzipped) != plain {
			t.Fatalf("the gzip body differs from the plain one")
		}
		if resp, _ := c.do("GET", "/"+escaped(name), nil, "Accept-Encoding", "gzip", "If-None-Match", resp2.Header.Get("ETag")); resp.StatusCode != 304 {
			t.Fatalf("If-None-Match of the gzip validator = %d", resp.StatusCode)
		}
		tags := func() map[string]any {
			_, body := c.do("GET", "/-/package/"+escaped(name)+"/dist-tags", nil)
			var m map[string]any
			json.Unmarshal([]byte(body), &m)
			return m
		}
		if tg := tags(); tg["latest"] != "1.0.0" || tg["beta"] != "1.1.0-beta.1" {
			t.Fatalf("dist-tags = %v", tg)
		}
		if resp, body := c.do("PUT", "/-/package/"+escaped(name)+"/dist-tags/next", []byte(`"1.1.0-beta.1"`)); resp.StatusCode != 201 {
			t.Fatalf("dist-tag add = %d %s", resp.StatusCode, body)
		}
		c.expect(404, "tag a missing version", "PUT", "/-/package/"+escaped(name)+"/dist-tags/next", []byte(`"9.9.9"`))
		c.expect(400, "tag that is a range", "PUT", "/-/package/"+escaped(name)+"/dist-tags/1.x", []byte(`"1.0.0"`))
		if resp, _ := c.do("DELETE", "/-/package/"+escaped(name)+"/dist-tags/next", nil); resp.StatusCode != 200 {
			t.Fatalf("dist-tag rm = %d", resp.StatusCode)
		}
		c.expect(400, "remove latest", "DELETE", "/-/package/"+escaped(name)+"/dist-tags/latest", nil)
		if tg := tags(); tg["next"] != nil {
			t.Fatalf("dist-tags after rm = %v", tg)
		}

		// npm deprecate: the packument comes back with "deprecated" set.
		_, body = c.do("GET", "/"+escaped(name)+"?write=true", nil)
		var wdoc map[string]any
		json.Unmarshal([]byte(body), &wdoc)
		version(wdoc, "1.0.0")["deprecated"] = "use 1.1"
		b, _ := json.Marshal(wdoc)
		if resp, body := c.do("PUT", "/"+escaped(name), b); resp.StatusCode != 200 {
			t.Fatalf("deprecate = %d %s", resp.StatusCode, body)
		}
		if dep := version(c.packument(name, true), "1.0.0")["deprecated"]; dep != "use 1.1" {
			t.Fatalf("deprecated = %v", dep)
		}
		// The old revision is stale now.
		c.expect(409, "stale revision", "PUT", "/"+escaped(name)+"/-rev/"+wdoc["_rev"].(string), b)

		// npm unpublish <name>@<version>: PUT without it, then DELETE its tarball.
		_, body = c.do("GET", "/"+escaped(name)+"?write=true", nil)
		json.Unmarshal([]byte(body), &wdoc)
		delete(wdoc["versions"].(map[string]any), "1.1.0-beta.1")
		delete(wdoc["dist-tags"].(map[string]any), "beta")
		b, _ = json.Marshal(wdoc)
		reader := newClient(t, s, "npm-hosted", "admin")
		if resp, body := reader.do("PUT", "/"+escaped(name)+"/-rev/"+wdoc["_rev"].(string), b); resp.StatusCode != 200 {
			t.Fatalf("unpublish version = %d %s", resp.StatusCode, body)
		}
		_, body = c.do("GET", "/"+escaped(name)+"?write=true", nil)
		json.Unmarshal([]byte(body), &wdoc)
		c.expect(404, "tarball of an unpublished version", "DELETE", "/@arca/util/-/util-1.1.0-beta.1.tgz/-rev/"+wdoc["_rev"].(string), nil)
		if p := c.packument(name, false); version(p, "1.1.0-beta.1") != nil || p["dist-tags"].(map[string]any)["beta"] != nil {
			t.Fatalf("after unpublish: %v", p)
		}
		c.expect(404, "unpublished tarball", "GET", "/@arca/util/-/util-1.1.0-beta.1.tgz", nil)

		// Search finds it by name, description and keyword.
		for _, q := range []string{"util", "named", "keywords:arca"} {
			_, body := c.do("GET", "/-/v1/search?text="+q+"&size=5", nil)
			var res struct {
				Objects []struct {
					Package struct{ Name, Version string } `json:"package"`
				} `json:"objects"`
				Total int `json:"total"`
			}
			json.Unmarshal([]byte(body), &res)
			if res.Total != 1 || res.Objects[0].Package.Name != name || res.Objects[0].Package.Version != "1.0.0" {
				t.Fatalf("search %q = %s", q, body)
			}
		}

		// npm unpublish <name>: everything.
		c.expect(409, "unpublish at a stale revision", "DELETE", "/"+escaped(name)+"/-rev/1-stale", nil)
		if resp, body := c.do("DELETE", "/"+escaped(name)+"/-rev/"+wdoc["_rev"].(string), nil); resp.StatusCode != 200 {
			t.Fatalf("unpublish = %d %s", resp.StatusCode, body)
		}
		c.expect(404, "unpublished package", "GET", "/"+escaped(name), nil)
		// The version may be published again.
		c.publish(name, "1.0.0", 201, nil)
	})
}

// expect sends a request and checks it fails with status and npm's error JSON.
func (c *client) expect(status int, what, method, path string, body []byte, headers ...string) {
	c.t.Helper()
	resp, rb := c.do(method, path, body, headers...)
	wantError(c.t, resp, rb, status, what)
}

func TestAuthAndLogin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		anon := &client{t: t, s: s, repo: "npm-hosted"}
		resp, body := anon.do("GET", "/left-pad", nil)
		wantError(t, resp, body, 401, "anonymous read of a private repository")
		if resp.Header.Get("WWW-Authenticate") != `Basic realm="arca"` {
			t.Fatalf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
		}
		anon.expect(401, "anonymous whoami", "GET", "/-/whoami", nil)
		anon.expect(404, "web login", "POST", "/-/v1/login", []byte(`{}`))

		// npm login (legacy): a token for valid credentials, even with a stale token sent.
		anon.token = "arca_stalestalestalestalestalestale"
		resp, body = anon.do("PUT", "/-/user/org.couchdb.user:admin", []byte(`{"_id":"org.couchdb.user:admin","name":"admin","password":"`+apptest.AdminPassword+`","type":"user","roles":[]}`))
		if resp.StatusCode != 201 {
			t.Fatalf("login = %d %s", resp.StatusCode, body)
		}
		var login struct {
			Token string `json:"token"`
		}
		json.Unmarshal([]byte(body), &login)
		c := &client{t: t, s: s, repo: "npm-hosted", token: login.Token}
		if resp, body := c.do("GET", "/-/whoami", nil); resp.StatusCode != 200 || !strings.Contains(body, `"username": "admin"`) {
			t.Fatalf("whoami = %d %s", resp.StatusCode, body)
		}
		anon.token = ""
		anon.expect(401, "login with a wrong password", "PUT", "/-/user/org.couchdb.user:admin", []byte(`{"name":"admin","password":"wrong"}`))
		anon.expect(400, "login with names that disagree", "PUT", "/-/user/org.couchdb.user:admin", []byte(`{"name":"other","password":"x"}`))
		// A short-lived token as the password cannot mint a lasting one
		// (issue 22 item 6).
		short, _, err := s.Auth.CreateToken(context.Background(), "admin", "short", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		anon.expect(403, "login with a short-lived token as the password", "PUT", "/-/user/org.couchdb.user:admin", []byte(`{"name":"admin","password":"`+short+`"}`))

		// A reader may install but not publish; a developer may publish
		// but not unpublish.
		ctx := context.Background()
		rp, _ := s.Repos.Get(ctx, "npm-hosted")
		for _, u := range []struct{ name, role string }{{"rita", "reader"}, {"dev", "developer"}} {
			if _, err := s.Auth.CreateUser(ctx, u.name, "password-"+u.name+"-123", "", ""); err != nil {
				t.Fatal(err)
			}
			role, _ := auth.ParseRole(u.role)
			if err := s.Auth.Grant(ctx, u.name, rp.ID, role); err != nil {
				t.Fatal(err)
			}
		}
		c.publish("shared", "1.0.0", 201, nil)
		c.publish("shared", "1.1.0", 201, nil)
		rita := newClient(t, s, "npm-hosted", "rita")
		if p := rita.packument("shared", true); version(p, "1.0.0") == nil {
			t.Fatalf("reader cannot read")
		}
		rita.expect(403, "reader publishes", "PUT", "/shared", doc("shared", "2.0.0", tgz(t, "shared", "2.0.0"), nil))
		dev := newClient(t, s, "npm-hosted", "dev")
		dev.publish("shared", "2.0.0", 201, nil)
		_, body = dev.do("GET", "/shared?write=true", nil)
		var wdoc map[string]any
		json.Unmarshal([]byte(body), &wdoc)
		delete(wdoc["versions"].(map[string]any), "1.0.0")
		b, _ := json.Marshal(wdoc)
		dev.expect(403, "developer unpublishes", "PUT", "/shared/-rev/"+wdoc["_rev"].(string), b)
		dev.expect(403, "developer unpublishes all", "DELETE", "/shared/-rev/"+wdoc["_rev"].(string), nil)

		// npm logout revokes the token.
		if resp, body := c.do("DELETE", "/-/user/token/"+login.Token, nil); resp.StatusCode != 200 {
			t.Fatalf("logout = %d %s", resp.StatusCode, body)
		}
		c.expect(401, "whoami after logout", "GET", "/-/whoami", nil)
	})
}

// blobCount counts the blobs in the store.
func blobCount(t *testing.T, s *apptest.Server) int {
	n := 0
	if err := s.Blobs.Walk(context.Background(), func(blob.Stat) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPublishBadInput(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := newClient(t, s, "npm-hosted", "admin")
		before := blobCount(t, s)
		other := tgz(t, "pkg", "1.0.0", "package/extra", "x")
		cases := []struct {
			what   string
			name   string
			status int
			edit   func(d, v map[string]any)
			raw    []byte
		}{
			{"no attachment for a new package", "pkg", 400, func(d, v map[string]any) { delete(d, "_attachments") }, nil},
			{"integrity mismatch", "pkg", 400, func(d, v map[string]any) { v["dist"].(map[string]any)["integrity"] = sri(other) }, nil},
			{"shasum mismatch", "pkg", 400, func(d, v map[string]any) { v["dist"].(map[string]any)["shasum"] = shasum(other) }, nil},
			{"no digests", "pkg", 400, func(d, v map[string]any) { v["dist"] = map[string]any{} }, nil},
			{"tarball of another package", "pkg", 400, func(d, v map[string]any) {
				b := tgz(t, "other", "1.0.0")
				d["_attachments"].(map[string]any)["pkg-1.0.0.tgz"].(map[string]any)["data"] = base64.StdEncoding.EncodeToString(b)
				d["_attachments"].(map[string]any)["pkg-1.0.0.tgz"].(map[string]any)["length"] = len(b)
				v["dist"] = map[string]any{"integrity": sri(b)}
			}, nil},
			{"not a tarball", "pkg", 400, func(d, v map[string]any) {
				b := []byte("not gzip at all")
				d["_attachments"].(map[string]any)["pkg-1.0.0.tgz"].(map[string]any)["data"] = base64.StdEncoding.EncodeToString(b)
				d["_attachments"].(map[string]any)["pkg-1.0.0.tgz"].(map[string]any)["length"] = len(b)
				v["dist"] = map[string]any{"integrity": sri(b)}
			}, nil},
			{"length mismatch", "pkg", 400, func(d, v map[string]any) {
				d["_attachments"].(map[string]any)["pkg-1.0.0.tgz"].(map[string]any)["length"] = 3
			}, nil},
			{"bad base64", "pkg", 400, func(d, v map[string]any) {
				d["_attachments"].(map[string]any)["pkg-1.0.0.tgz"].(map[string]any)["data"] = "!!!"
			}, nil},
			{"invalid semver", "pkg", 400, func(d, v map[string]any) {
				d["versions"] = map[string]any{"1.0": v}
				v["version"] = "1.0"
			}, nil},
			{"version that disagrees", "pkg", 400, func(d, v map[string]any) { v["version"] = "2.0.0" }, nil},
			{"name that disagrees", "pkg", 400, func(d, v map[string]any) { d["name"] = "other" }, nil},
			{"two versions", "pkg", 400, func(d, v map[string]any) { d["versions"].(map[string]any)["2.0.0"] = v }, nil},
			{"uppercase name", "Pkg", 400, nil, nil},
			{"range as tag", "pkg", 400, func(d, v map[string]any) { d["dist-tags"] = map[string]string{"1.x": "1.0.0"} }, nil},
			{"malformed JSON", "pkg", 400, nil, []byte(`{"name":`)},
			{"stray attachment", "pkg", 400, func(d, v map[string]any) { d["_attachments"].(map[string]any)["evil.sh"] = map[string]any{"data": ""} }, nil},
		}
		for _, tc := range cases {
			body := tc.raw
			if body == nil {
				body = doc(tc.name, "1.0.0", tgz(t, tc.name, "1.0.0"), tc.edit)
			}
			resp, rb := c.do("PUT", "/"+tc.name, body)
			wantError(t, resp, rb, tc.status, tc.what)
		}
		if after := blobCount(t, s); after != before {
			t.Fatalf("refused publishes stored %d blobs", after-before)
		}
		c.expect(404, "the refused package", "GET", "/pkg", nil)

		// Writes to a proxy or group are refused.
		for _, body := range []string{
			`{"name":"npm-p","format":"npm","kind":"proxy","settings":{"upstream":{"url":"http://127.0.0.1:1/"}}}`,
			`{"name":"npm-g","format":"npm","kind":"group","settings":{"members":["npm-hosted"]}}`,
		} {
			if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(body)); resp.StatusCode != 201 {
				t.Fatalf("create repository = %d %s", resp.StatusCode, b)
			}
		}
		for _, r := range []string{"npm-p", "npm-g"} {
			pc := &client{t: t, s: s, repo: r, token: c.token}
			pc.expect(403, "publish to "+r, "PUT", "/pkg", doc("pkg", "1.0.0", tgz(t, "pkg", "1.0.0"), nil))
		}
		for _, bad := range []string{
			`{"name":"npm-x","format":"npm","kind":"proxy"}`,
			`{"name":"npm-x","format":"npm","kind":"proxy","settings":{"upstream":{"url":"ftp://x"}}}`,
			`{"name":"npm-x","format":"npm","kind":"proxy","settings":{"upstream":{"url":"http://x","metadata_max_age":"soon"}}}`,
			`{"name":"npm-x","format":"npm","kind":"group"}`,
			`{"name":"npm-x","format":"npm","kind":"hosted","settings":{"members":["a"]}}`,
			`{"name":"npm-x","format":"npm","kind":"hosted","settings":{"bogus":1}}`,
		} {
			if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(bad)); resp.StatusCode != 400 {
				t.Errorf("%s = %d %s", bad, resp.StatusCode, b)
			}
		}
		// Unknown endpoints and methods.
		c.expect(405, "PATCH", "PATCH", "/pkg", nil)
		c.expect(400, "encoded slash in an unscoped name", "GET", "/a%2fb", nil)
		c.expect(404, "unknown endpoint", "GET", "/-/nothing", nil)
	})
}

func TestPublishTooLarge(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) { c.Limits.MaxUploadBytes = 100 })
	c := newClient(t, s, "npm-hosted", "admin")
	big := tgz(t, "big", "1.0.0", "package/data", strings.Repeat("incompressible? no, but long enough ", 50))
	resp, body := c.do("PUT", "/big", doc("big", "1.0.0", big, nil))
	wantError(t, resp, body, 413, "tarball over the limit")
}

func TestConcurrentPublish(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := newClient(t, s, "npm-hosted", "admin")
		put := func(version string) int {
			req, _ := http.NewRequest("PUT", s.URL+"/npm/npm-hosted/race", bytes.NewReader(doc("race", version, tgz(t, "race", version), nil)))
			req.Header.Set("Authorization", "Bearer "+c.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		// The same version from 6 clients at once: one wins, the others get 409.
		codes := make(chan int, 6)
		for i := 0; i < 6; i++ {
			go func() { codes <- put("1.0.0") }()
		}
		got := map[int]int{}
		for i := 0; i < 6; i++ {
			got[<-codes]++
		}
		if got[201] != 1 || got[409] != 5 {
			t.Fatalf("statuses of concurrent publishes of one version: %v", got)
		}
		// Different versions at once: all land.
		for i := 0; i < 6; i++ {
			go func(i int) { codes <- put(fmt.Sprintf("2.0.%d", i)) }(i)
		}
		for i := 0; i < 6; i++ {
			if code := <-codes; code != 201 {
				t.Errorf("concurrent publish of a new version = %d", code)
			}
		}
		p := c.packument("race", true)
		if n := len(p["versions"].(map[string]any)); n != 7 {
			t.Fatalf("%d versions after the race, want 7", n)
		}
	})
}
