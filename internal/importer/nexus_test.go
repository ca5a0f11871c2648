package importer_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/importer"
)

// fakeNexus implements the part of Nexus Repository 3's REST API an
// import reads, as Sonatype documents it: GET
// /service/rest/v1/components?repository=NAME, two components a page,
// continuationToken to the next (null on the last), each component with
// its assets (downloadUrl, path, checksum); the assets under
// /repository/NAME/PATH; and, for npm repositories, the npm registry API
// under /repository/NAME/. Every request needs the Basic credentials
// nx:nexus-pw. (Nexus itself cannot run here.)
type fakeNexus struct {
	*httptest.Server
	repos map[string][]fakeComponent
	files map[string][]byte // /repository/NAME/PATH -> bytes
}

type fakeComponent struct {
	format, group, name, version string
	assets                       []fakeAsset
}

type fakeAsset struct {
	path string
	body []byte
	sums map[string]string // overrides of the listed checksums
}

func newFakeNexus(t *testing.T) *fakeNexus {
	f := &fakeNexus{repos: map[string][]fakeComponent{}, files: map[string][]byte{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeNexus) add(repo string, c fakeComponent) {
	f.repos[repo] = append(f.repos[repo], c)
	for _, a := range c.assets {
		f.files["/repository/"+repo+"/"+a.path] = a.body
	}
}

func (f *fakeNexus) serve(w http.ResponseWriter, r *http.Request) {
	if u, p, ok := r.BasicAuth(); !ok || u != "nx" || p != "nexus-pw" {
		w.Header().Set("WWW-Authenticate", `BASIC realm="Sonatype Nexus Repository Manager"`)
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/service/rest/v1/components" {
		comps, ok := f.repos[r.URL.Query().Get("repository")]
		if !ok {
			http.Error(w, `{"message":"Repository not found"}`, http.StatusNotFound)
			return
		}
		start := 0
		if tok := r.URL.Query().Get("continuationToken"); tok != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(tok, "tok"))
			if err != nil {
				http.Error(w, "bad token", http.StatusNotAcceptable)
				return
			}
			start = n
		}
		end := min(start+2, len(comps))
		var items []map[string]any
		for _, c := range comps[start:end] {
			var assets []map[string]any
			for _, a := range c.assets {
				s1, s256, m5 := sha1Hex(a.body), sha256.Sum256(a.body), md5.Sum(a.body)
				sums := map[string]string{"sha1": s1, "sha256": hex.EncodeToString(s256[:]), "md5": hex.EncodeToString(m5[:])}
				for k, v := range a.sums {
					sums[k] = v
				}
				assets = append(assets, map[string]any{"downloadUrl": f.URL + "/repository/" + c.repoOf(f) + "/" + a.path,
					"path": a.path, "id": "x", "repository": c.repoOf(f), "format": c.format, "checksum": sums,
					"contentType": "application/octet-stream", "fileSize": len(a.body)})
			}
			items = append(items, map[string]any{"id": "c", "repository": c.repoOf(f), "format": c.format,
				"group": c.group, "name": c.name, "version": c.version, "assets": assets})
		}
		var tok any
		if end < len(comps) {
			tok = "tok" + strconv.Itoa(end)
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items, "continuationToken": tok})
		return
	}
	if b, ok := f.files[r.URL.Path]; ok {
		w.Write(b)
		return
	}
	// npm metadata: /repository/NAME/<package> (scoped: @scope%2fname).
	if rest, ok := strings.CutPrefix(r.URL.Path, "/repository/"); ok {
		repo, pkg, _ := strings.Cut(rest, "/")
		for _, c := range f.repos[repo] {
			name := c.name
			if c.group != "" {
				name = "@" + c.group + "/" + c.name
			}
			if c.format == "npm" && pkg == name {
				tgz := c.assets[0].body
				json.NewEncoder(w).Encode(map[string]any{"name": name, "dist-tags": map[string]string{"latest": c.version},
					"versions": map[string]any{c.version: map[string]any{"name": name, "version": c.version,
						"dist": map[string]any{"tarball": f.URL + "/repository/" + repo + "/" + c.assets[0].path,
							"integrity": sri(tgz), "shasum": sha1Hex(tgz)}}}})
				return
			}
		}
	}
	http.NotFound(w, r)
}

// repoOf finds the repository a component was added to.
func (c fakeComponent) repoOf(f *fakeNexus) string {
	for name, comps := range f.repos {
		for _, o := range comps {
			if o.name == c.name && o.version == c.version && o.format == c.format {
				return name
			}
		}
	}
	return ""
}

// wheel is a minimal wheel of project demo-pkg.
func wheel(t *testing.T, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"demo_pkg/__init__.py":                             "VERSION = '" + version + "'\n",
		"demo_pkg-" + version + ".dist-info/METADATA":      "Metadata-Version: 2.1\nName: demo-pkg\nVersion: " + version + "\nSummary: demo\n",
		"demo_pkg-" + version + ".dist-info/WHEEL":         "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"demo_pkg-" + version + ".dist-info/RECORD":        "",
		"demo_pkg-" + version + ".dist-info/top_level.txt": "demo_pkg\n",
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

func nexusSource(f *fakeNexus, repo, to string) importer.NexusSource {
	return importer.NexusSource{URL: f.URL, Repository: repo, To: to, Username: "nx", Password: "nexus-pw"}
}

// TestNexusImport: raw, maven2, pypi, npm and docker repositories of a
// fake Nexus, paged, into arca; a file whose bytes do not match its
// listed checksum fails alone and leaves nothing; a dry run writes
// nothing; a second run skips everything.
func TestNexusImport(t *testing.T) {
	apptest.EachWith(t, noScanOnPush, func(t *testing.T, s *apptest.Server) {
		f := newFakeNexus(t)
		f.add("raw-hosted", fakeComponent{format: "raw", name: "docs/a.txt", assets: []fakeAsset{{path: "docs/a.txt", body: []byte("alpha\n")}}})
		f.add("raw-hosted", fakeComponent{format: "raw", name: "docs/b.bin", assets: []fakeAsset{{path: "docs/b.bin", body: bytes.Repeat([]byte{7}, 70000)}}})
		f.add("raw-hosted", fakeComponent{format: "raw", name: "c.txt", assets: []fakeAsset{{path: "c.txt", body: []byte("gamma\n")}}})
		f.add("raw-hosted", fakeComponent{format: "raw", name: "bad.txt", assets: []fakeAsset{{path: "bad.txt", body: []byte("tampered\n"),
			sums: map[string]string{"sha1": sha1Hex([]byte("original\n"))}}}})
		jar, pom := []byte("PK\x03\x04 not really a jar"), []byte("<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>demo</artifactId><version>1.0</version></project>")
		f.add("maven-releases", fakeComponent{format: "maven2", group: "com.example", name: "demo", version: "1.0", assets: []fakeAsset{
			{path: "com/example/demo/1.0/demo-1.0.jar", body: jar}, {path: "com/example/demo/1.0/demo-1.0.jar.sha1", body: []byte(sha1Hex(jar))},
			{path: "com/example/demo/1.0/demo-1.0.pom", body: pom}}})
		whl := wheel(t, "1.0")
		f.add("pypi-hosted", fakeComponent{format: "pypi", name: "demo-pkg", version: "1.0", assets: []fakeAsset{
			{path: "packages/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl", body: whl}}})
		left, right := npmTarball(t, "left", "1.0.0"), npmTarball(t, "@sc/right", "2.0.0")
		f.add("npm-hosted", fakeComponent{format: "npm", name: "left", version: "1.0.0", assets: []fakeAsset{{path: "left/-/left-1.0.0.tgz", body: left}}})
		f.add("npm-hosted", fakeComponent{format: "npm", group: "sc", name: "right", version: "2.0.0", assets: []fakeAsset{{path: "@sc/right/-/right-2.0.0.tgz", body: right}}})
		registry := apptest.Start(t, "", nil)
		if resp, body := registry.Do(t, "POST", "/api/v1/repositories", "admin:"+apptest.AdminPassword, strings.NewReader(`{"name":"team","format":"oci"}`)); resp.StatusCode != 201 {
			t.Fatal(body)
		}
		img, _ := random.Image(1024, 1)
		reg := arcaRegistry(registry)
		if err := remote.Write(reg.ref(t, "team/app:1.0"), img, reg.opts...); err != nil {
			t.Fatal(err)
		}
		f.add("docker-hosted", fakeComponent{format: "docker", name: "team/app", version: "1.0"})

		target := importer.Target{Handler: s.Handler()}
		ctx := context.Background()
		var lastErr error
		run := func(src importer.NexusSource, opts importer.Options) *importer.Report {
			t.Helper()
			r := importer.NewReport("nexus", opts)
			lastErr = importer.Nexus(ctx, target, src, opts, r)
			return r
		}
		admin := "admin:" + apptest.AdminPassword

		wrong := nexusSource(f, "raw-hosted", "raw-imported")
		wrong.Password = "guess"
		if run(wrong, importer.Options{}); lastErr == nil || !strings.Contains(lastErr.Error(), "401") {
			t.Fatalf("wrong Nexus password: %v", lastErr)
		}
		r := run(nexusSource(f, "raw-hosted", "raw-imported"), importer.Options{DryRun: true})
		if r.Totals[importer.Planned].Items != 5 || r.Failures() != 0 { // the repository, four files
			t.Fatalf("dry run: %+v", r.Items)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/repositories/raw-imported", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("the dry run created the repository: %d", resp.StatusCode)
		}

		r = run(nexusSource(f, "raw-hosted", "raw-imported"), importer.Options{})
		if r.Totals[importer.Imported].Items != 4 || r.Failures() != 1 || !hasItem(r, "file", "bad.txt", importer.Failed) {
			t.Fatalf("raw import: %+v", r.Items)
		}
		for p, want := range map[string]string{"docs/a.txt": "alpha\n", "c.txt": "gamma\n"} {
			if resp, body := s.Do(t, "GET", "/raw/raw-imported/"+p, admin, nil); resp.StatusCode != 200 || body != want {
				t.Errorf("raw %s: %d %q", p, resp.StatusCode, body)
			}
		}
		if resp, _ := s.Do(t, "GET", "/raw/raw-imported/bad.txt", admin, nil); resp.StatusCode != 404 {
			t.Errorf("the file that failed its checksum was stored: %d", resp.StatusCode)
		}
		r = run(nexusSource(f, "raw-hosted", "raw-imported"), importer.Options{})
		if r.Totals[importer.Present].Items != 3 || r.Totals[importer.Imported].Items != 0 {
			t.Fatalf("second raw import: %+v", r.Items)
		}

		r = run(nexusSource(f, "maven-releases", "maven-imported"), importer.Options{})
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 3 { // the repository, jar, pom (the .sha1 is arca's own)
			t.Fatalf("maven import: %+v", r.Items)
		}
		if resp, body := s.Do(t, "GET", "/maven/maven-imported/com/example/demo/1.0/demo-1.0.jar.sha1", admin, nil); resp.StatusCode != 200 || !strings.HasPrefix(body, sha1Hex(jar)) {
			t.Fatalf("maven jar sha1: %d %q", resp.StatusCode, body)
		}
		if r = run(nexusSource(f, "maven-releases", "maven-imported"), importer.Options{}); r.Totals[importer.Present].Items != 2 {
			t.Fatalf("second maven import: %+v", r.Items)
		}

		r = run(nexusSource(f, "pypi-hosted", "pypi-imported"), importer.Options{})
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 2 {
			t.Fatalf("pypi import: %+v", r.Items)
		}
		if resp, body := s.Do(t, "GET", "/pypi/pypi-imported/simple/demo-pkg/", admin, nil); resp.StatusCode != 200 || !strings.Contains(body, "demo_pkg-1.0-py3-none-any.whl") {
			t.Fatalf("pypi page: %d %s", resp.StatusCode, body)
		}
		if r = run(nexusSource(f, "pypi-hosted", "pypi-imported"), importer.Options{}); r.Totals[importer.Present].Items != 1 {
			t.Fatalf("second pypi import: %+v", r.Items)
		}

		r = run(nexusSource(f, "npm-hosted", "npm-imported"), importer.Options{})
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 3 {
			t.Fatalf("npm import: %+v", r.Items)
		}
		if code, doc := getNPM(t, s, "npm-imported", "@sc/right"); code != 200 || doc.Versions["2.0.0"].Dist.Integrity != sri(right) {
			t.Fatalf("@sc/right: %d %+v", code, doc)
		}

		if r = run(nexusSource(f, "docker-hosted", "oci-imported"), importer.Options{}); lastErr == nil || !strings.Contains(lastErr.Error(), "--docker-url") ||
			r.Totals[importer.Imported].Items != 0 {
			t.Fatalf("docker without --docker-url: %+v", r.Items)
		}
		src := nexusSource(f, "docker-hosted", "oci-imported")
		src.DockerURL, src.Username, src.Password = registry.URL, "admin", apptest.AdminPassword
		// The fake wants nx:nexus-pw; the registry admin's: one set of
		// credentials serves both in real Nexus, here the fake is opened up.
		f.Config.Handler = allowAll(f)
		if r = run(src, importer.Options{}); r.Failures() != 0 || r.Totals[importer.Imported].Items != 2 {
			t.Fatalf("docker import: %+v", r.Items)
		}
		want, _ := img.Digest()
		if got, err := arcaRegistry(s).digest(t, "oci-imported/team/app:1.0"); err != nil || got != want {
			t.Fatalf("oci-imported/team/app:1.0 = %v %v, want %s", got, err, want)
		}

		if r = run(nexusSource(f, "no-such", "x"), importer.Options{}); lastErr == nil || !strings.Contains(lastErr.Error(), "404") {
			t.Fatalf("unknown repository: %+v", r.Items)
		}
	})
}

// allowAll serves the fake Nexus without checking credentials.
func allowAll(f *fakeNexus) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.SetBasicAuth("nx", "nexus-pw")
		f.serve(w, r)
	})
}
