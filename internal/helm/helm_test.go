package helm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/helm"
)

func createRepo(t *testing.T, s *apptest.Server, body string) {
	t.Helper()
	if resp, b := s.Do(t, "POST", "/api/v1/repositories", apptest.Admin, strings.NewReader(body)); resp.StatusCode != 201 {
		t.Fatalf("create repository %s = %d %s", body, resp.StatusCode, b)
	}
}

// client talks to one Helm repository as one user ("" is anonymous).
type client struct {
	t        *testing.T
	s        *apptest.Server
	repo     string
	userpass string
}

func (c *client) expect(status int, what, method, path string, body []byte, headers ...string) string {
	c.t.Helper()
	resp, b := c.s.Do(c.t, method, "/helm/"+c.repo+"/"+path, c.userpass, bytes.NewReader(body), headers...)
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

// chart builds a chart archive as helm package does.
func chart(t *testing.T, name, version, note string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range [][2]string{
		{name + "/Chart.yaml", fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\nappVersion: \"1.0\"\ndescription: %s\n", name, version, note)},
		{name + "/values.yaml", "replicas: 1\n"},
		{name + "/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"},
	} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func prov(file string, tgz []byte) []byte {
	sum := sha256.Sum256(tgz)
	return []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\n\n...\nfiles:\n  " + file + ": sha256:" + hex.EncodeToString(sum[:]) +
		"\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n")
}

// multipartChart is the form helm cm-push sends.
func multipartChart(t *testing.T, tgz, provFile []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("chart", "chart.tgz")
	w.Write(tgz)
	if provFile != nil {
		w, _ = mw.CreateFormFile("prov", "chart.tgz.prov")
		w.Write(provFile)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func index(t *testing.T, body string) *helm.Index {
	t.Helper()
	ix, err := helm.ParseIndex([]byte(body))
	if err != nil {
		t.Fatalf("index.yaml %q: %v", body, err)
	}
	return ix
}

func versions(ix *helm.Index, name string) string {
	var vs []string
	for _, e := range ix.Entries[name] {
		vs = append(vs, e.Version())
	}
	return strings.Join(vs, ",")
}

func TestHostedUploadIndexDownload(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := &client{t: t, s: s, repo: "helm-hosted", userpass: apptest.Admin} // a default repository
		if got := c.expect(200, "empty index", "GET", "index.yaml", nil); len(index(t, got).Entries) != 0 {
			t.Fatalf("empty index = %q", got)
		}
		v1 := chart(t, "demo", "1.0.0", "first")
		c.expect(201, "POST the archive", "POST", "api/charts", v1)
		c.expect(200, "the same archive again", "POST", "api/charts", v1)
		c.expect(409, "another archive of 1.0.0", "POST", "api/charts", chart(t, "demo", "1.0.0", "changed"))
		v11 := chart(t, "demo", "1.10.0", "newer")
		form, ct := multipartChart(t, v11, prov("demo-1.10.0.tgz", v11))
		c.expect(201, "multipart with provenance (cm-push)", "POST", "api/charts", form, "Content-Type", ct)
		other := chart(t, "other-chart", "0.1.0-rc.1", "dashes")
		c.expect(201, "plain PUT", "PUT", "charts/other-chart-0.1.0-rc.1.tgz", other)
		c.expect(400, "PUT at another name", "PUT", "charts/other-chart-0.2.0.tgz", chart(t, "other-chart", "0.3.0", "x"))
		c.expect(201, "provenance by PUT", "PUT", "charts/demo-1.0.0.tgz.prov", prov("demo-1.0.0.tgz", v1))
		c.expect(404, "provenance of a missing chart", "POST", "api/prov", prov("demo-9.0.0.tgz", v1))
		c.expect(400, "provenance of another chart", "PUT", "charts/demo-1.0.0.tgz.prov", prov("demo-1.10.0.tgz", v1))

		ixBody := c.expect(200, "index", "GET", "index.yaml", nil)
		ix := index(t, ixBody)
		if versions(ix, "demo") != "1.10.0,1.0.0" || versions(ix, "other-chart") != "0.1.0-rc.1" {
			t.Fatalf("index = %s", ixBody)
		}
		e := ix.Entries["demo"][1]
		sum := sha256.Sum256(v1)
		if e["digest"] != hex.EncodeToString(sum[:]) || e.URLs()[0] != "charts/demo-1.0.0.tgz" || e["appVersion"] != "1.0" ||
			e["description"] != "first" || e["created"] == "" || e["apiVersion"] != "v2" {
			t.Fatalf("entry = %v", e)
		}
		if got := c.expect(200, "download", "GET", "charts/demo-1.0.0.tgz", nil); got != string(v1) {
			t.Fatalf("download differs")
		}
		if got := c.expect(200, "provenance", "GET", "charts/demo-1.10.0.tgz.prov", nil); !strings.Contains(got, "demo-1.10.0.tgz: sha256:") {
			t.Fatalf("provenance = %q", got)
		}
		c.expect(404, "no provenance", "GET", "charts/other-chart-0.1.0-rc.1.tgz.prov", nil)
		c.expect(404, "missing chart", "GET", "charts/demo-2.0.0.tgz", nil)
		c.expect(404, "not a chart file", "GET", "charts/index.yaml", nil)
		if got := c.expect(200, "ChartMuseum list", "GET", "api/charts", nil); !strings.Contains(got, `"other-chart"`) {
			t.Fatalf("api/charts = %s", got)
		}

		// What is refused leaves nothing behind.
		for what, body := range map[string][]byte{
			"not an archive": []byte("hello"),
			"no Chart.yaml":  func() []byte { b := chart(t, "x", "1.0.0", "x"); return b[:len(b)/2] }(),
			"bad version":    chart(t, "bad", "1.0", "x"),
			"empty":          nil,
			"bad provenance": nil,
		} {
			if what == "bad provenance" {
				form, ct := multipartChart(t, chart(t, "withprov", "1.0.0", "x"), []byte("not signed"))
				c.expect(400, what, "POST", "api/charts", form, "Content-Type", ct)
				continue
			}
			c.expect(400, what, "POST", "api/charts", body)
		}
		if got := index(t, c.expect(200, "index after refusals", "GET", "index.yaml", nil)); len(got.Entries) != 2 {
			t.Fatalf("refused uploads changed the index: %v", got.Entries)
		}

		// Replace with ?force (maintainer), delete.
		changed := chart(t, "demo", "1.0.0", "replaced")
		c.expect(201, "force", "POST", "api/charts?force", changed)
		if got := c.expect(200, "replaced download", "GET", "charts/demo-1.0.0.tgz", nil); got != string(changed) {
			t.Fatal("force did not replace the archive")
		}
		c.expect(404, "the replaced archive's provenance went with it", "GET", "charts/demo-1.0.0.tgz.prov", nil)
		c.expect(200, "delete", "DELETE", "api/charts/demo/1.0.0", nil)
		c.expect(404, "delete again", "DELETE", "api/charts/demo/1.0.0", nil)
		c.expect(404, "deleted download", "GET", "charts/demo-1.0.0.tgz", nil)
		if got := index(t, c.expect(200, "index after delete", "GET", "index.yaml", nil)); versions(got, "demo") != "1.10.0" {
			t.Fatalf("index after delete = %v", got.Entries)
		}
		var n int
		s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_events WHERE action LIKE 'helm.%'`).Scan(&n)
		if n != 6 { // 3 uploads, 1 provenance, 1 replace, 1 delete
			t.Fatalf("audit has %d helm events, want 6", n)
		}
		// helm.delete says what the version held: its archive and provenance.
		c.expect(200, "delete a version with provenance", "DELETE", "api/charts/demo/1.10.0", nil)
		var detail string
		if err := s.DB.QueryRowContext(context.Background(), `SELECT detail FROM audit_events WHERE action = 'helm.delete' AND subject = 'demo-1.10.0'`).Scan(&detail); err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		json.Unmarshal([]byte(detail), &d)
		sum = sha256.Sum256(v11)
		provSum := sha256.Sum256(prov("demo-1.10.0.tgz", v11))
		if d["digest"] != "sha256:"+hex.EncodeToString(sum[:]) || d["provenance_digest"] != "sha256:"+hex.EncodeToString(provSum[:]) ||
			d["chart"] != "demo" || d["version"] != "1.10.0" || d["size"] != float64(len(v11)) {
			t.Fatalf("helm.delete detail = %s", detail)
		}
	})
}

func TestRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		createRepo(t, s, `{"name":"helm-other","format":"helm","kind":"hosted"}`)
		createRepo(t, s, `{"name":"helm-public","format":"helm","kind":"hosted","visibility":"public"}`)
		anon := &client{t: t, s: s, repo: "helm-hosted"}
		reader := user(t, s, "reader", "helm-hosted", "reader")
		dev := user(t, s, "dev", "helm-hosted", "developer")
		maint := user(t, s, "maint", "helm-hosted", "maintainer")
		other := user(t, s, "other", "helm-other", "admin")
		other.repo = "helm-hosted"
		v1 := chart(t, "roles", "1.0.0", "x")
		for _, c := range []struct {
			c      *client
			status int
		}{{anon, 401}, {reader, 403}, {other, 403}} {
			c.c.expect(c.status, "upload", "POST", "api/charts", v1)
			c.c.expect(c.status, "put", "PUT", "charts/roles-1.0.0.tgz", v1)
		}
		dev.expect(201, "developer upload", "POST", "api/charts", v1)
		for _, c := range []struct {
			c      *client
			status int
		}{{anon, 401}, {reader, 403}, {other, 403}} {
			c.c.expect(c.status, "provenance", "POST", "api/prov", prov("roles-1.0.0.tgz", v1))
			c.c.expect(c.status, "put provenance", "PUT", "charts/roles-1.0.0.tgz.prov", prov("roles-1.0.0.tgz", v1))
		}
		maint.expect(200, "maintainer delete", "DELETE", "api/charts/roles/1.0.0", nil)
		dev.expect(201, "developer upload", "POST", "api/charts", v1)
		dev.expect(201, "developer provenance", "POST", "api/prov", prov("roles-1.0.0.tgz", v1))
		dev.expect(403, "developer force", "POST", "api/charts?force", chart(t, "roles", "1.0.0", "y"))
		dev.expect(403, "developer replaces provenance", "POST", "api/prov", prov("roles-1.0.0.tgz", []byte("other")))
		form, ct := multipartChart(t, v1, prov("roles-1.0.0.tgz", []byte("other")))
		dev.expect(403, "developer replaces provenance with a re-upload", "POST", "api/charts", form, "Content-Type", ct)
		form, ct = multipartChart(t, v1, prov("roles-1.0.0.tgz", v1))
		dev.expect(200, "developer re-uploads the same archive and provenance", "POST", "api/charts", form, "Content-Type", ct)
		for _, p := range []string{"index.yaml", "charts/roles-1.0.0.tgz", "charts/roles-1.0.0.tgz.prov", "api/charts"} {
			anon.expect(401, "anonymous read", "GET", p, nil)
			other.expect(403, "other repository's admin reads", "GET", p, nil)
			for _, c := range []*client{reader, dev, maint} {
				c.expect(200, "read", "GET", p, nil)
			}
		}
		for _, c := range []struct {
			c      *client
			status int
		}{{anon, 401}, {reader, 403}, {dev, 403}, {other, 403}} {
			c.c.expect(c.status, "delete", "DELETE", "api/charts/roles/1.0.0", nil)
		}
		maint.expect(201, "maintainer force", "POST", "api/charts?force", chart(t, "roles", "1.0.0", "y"))
		maint.expect(200, "maintainer delete", "DELETE", "api/charts/roles/1.0.0", nil)

		pub := &client{t: t, s: s, repo: "helm-public", userpass: apptest.Admin}
		pub.expect(201, "upload", "POST", "api/charts", v1)
		anonPub := &client{t: t, s: s, repo: "helm-public"}
		anonPub.expect(200, "anonymous index of a public repository", "GET", "index.yaml", nil)
		anonPub.expect(200, "anonymous download from a public repository", "GET", "charts/roles-1.0.0.tgz", nil)
		anonPub.expect(401, "anonymous upload to a public repository", "POST", "api/charts", chart(t, "roles", "2.0.0", "x"))
		(&client{t: t, s: s, repo: "files", userpass: apptest.Admin}).expect(404, "raw repository", "GET", "index.yaml", nil)
	})
}

func TestProxyAndGroup(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		up := apptest.Start(t, "", nil)
		upc := &client{t: t, s: up, repo: "helm-hosted", userpass: apptest.Admin}
		pub := chart(t, "public", "1.0.0", "public chart")
		upc.expect(201, "upstream upload", "POST", "api/charts", pub)
		upc.expect(201, "upstream provenance", "POST", "api/prov", prov("public-1.0.0.tgz", pub))
		upc.expect(201, "upstream impostor", "POST", "api/charts", chart(t, "internal", "9.0.0", "impostor"))

		createRepo(t, s, fmt.Sprintf(`{"name":"helm-proxy","format":"helm","kind":"proxy","settings":{"upstream":{"url":%q,"username":"admin","password":%q,"index_max_age":"1ms","negative_cache_ttl":"1h"}}}`,
			up.URL+"/helm/helm-hosted", apptest.AdminPassword))
		createRepo(t, s, `{"name":"helm-group","format":"helm","kind":"group","settings":{"members":["helm-proxy","helm-hosted"]}}`)
		if _, body := s.Do(t, "GET", "/api/v1/repositories/helm-proxy", apptest.Admin, nil); strings.Contains(body, apptest.AdminPassword) {
			t.Fatalf("the repository API shows the upstream password: %s", body)
		}
		proxy := &client{t: t, s: s, repo: "helm-proxy", userpass: apptest.Admin}
		group := &client{t: t, s: s, repo: "helm-group", userpass: apptest.Admin}
		hosted := &client{t: t, s: s, repo: "helm-hosted", userpass: apptest.Admin}
		internal := chart(t, "internal", "1.0.0", "ours")
		hosted.expect(201, "hosted upload", "POST", "api/charts", internal)

		ix := index(t, proxy.expect(200, "proxied index", "GET", "index.yaml", nil))
		if versions(ix, "public") != "1.0.0" || ix.Entries["public"][0].URLs()[0] != "charts/public-1.0.0.tgz" {
			t.Fatalf("proxied index = %v", ix.Entries)
		}
		if got := proxy.expect(200, "proxied chart", "GET", "charts/public-1.0.0.tgz", nil); got != string(pub) {
			t.Fatal("proxied chart differs")
		}
		proxy.expect(200, "proxied provenance", "GET", "charts/public-1.0.0.tgz.prov", nil)
		proxy.expect(403, "upload to a proxy", "POST", "api/charts", pub)
		proxy.expect(404, "not in the upstream's index", "GET", "charts/public-2.0.0.tgz", nil)

		// Cached forever: gone upstream, still served; the index follows the upstream.
		upc.expect(200, "upstream delete", "DELETE", "api/charts/public/1.0.0", nil)
		if got := proxy.expect(200, "cached chart", "GET", "charts/public-1.0.0.tgz", nil); got != string(pub) {
			t.Fatal("cached chart differs")
		}
		if ix := index(t, proxy.expect(200, "index after upstream delete", "GET", "index.yaml", nil)); versions(ix, "public") != "" {
			t.Fatalf("index after upstream delete = %v", ix.Entries)
		}
		upc.expect(201, "upstream upload again", "POST", "api/charts", pub)

		// The group merges, hosted members first: the impostor adds no version.
		gix := index(t, group.expect(200, "group index", "GET", "index.yaml", nil))
		if versions(gix, "internal") != "1.0.0" || versions(gix, "public") != "1.0.0" {
			t.Fatalf("group index = %v", gix.Entries)
		}
		if got := group.expect(200, "group chart from the proxy", "GET", "charts/public-1.0.0.tgz", nil); got != string(pub) {
			t.Fatal("group chart differs")
		}
		if got := group.expect(200, "group chart from hosted", "GET", "charts/internal-1.0.0.tgz", nil); got != string(internal) {
			t.Fatal("group chart differs")
		}
		group.expect(404, "the impostor through the group", "GET", "charts/internal-9.0.0.tgz", nil)
		group.expect(403, "upload to a group", "POST", "api/charts", pub)

		// A reader of the group who may not read the hosted member that
		// holds the chart is refused rather than served the impostor.
		r := user(t, s, "groupreader", "helm-group", "reader")
		r.repo = "helm-group"
		r.expect(403, "shadowed by an unreadable hosted member", "GET", "charts/internal-9.0.0.tgz", nil)
	})
}
