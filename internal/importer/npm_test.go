package importer_test

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
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/importer"
)

// npmTarball is a package tarball: package/package.json and index.js.
func npmTarball(t *testing.T, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	pj, _ := json.Marshal(map[string]string{"name": name, "version": version})
	for file, body := range map[string][]byte{"package/package.json": pj, "package/index.js": []byte("module.exports = '" + name + version + "'\n")} {
		tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func sri(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// verdaccioPackage writes one package into a Verdaccio-like storage
// directory, as Verdaccio lays it out: <storage>/<name>/package.json and
// the tarballs beside it. Versions listed in noTarball get no file (an
// uplink's cached document).
func verdaccioPackage(t *testing.T, storage, name string, versions []string, tags map[string]string,
	deprecated map[string]string, noTarball ...string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(storage, filepath.FromSlash(name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := name[strings.LastIndex(name, "/")+1:]
	tarballs := map[string][]byte{}
	vs := map[string]any{}
	for _, v := range versions {
		tgz := npmTarball(t, name, v)
		tarballs[v] = tgz
		m := map[string]any{"name": name, "version": v, "description": "imported " + name,
			"_id": name + "@" + v, "_npmUser": map[string]string{"name": "someone"},
			"dist": map[string]any{"integrity": sri(tgz), "shasum": sha1Hex(tgz),
				"tarball": "http://verdaccio.invalid/" + name + "/-/" + base + "-" + v + ".tgz"}}
		if msg := deprecated[v]; msg != "" {
			m["deprecated"] = msg
		}
		vs[v] = m
		skip := false
		for _, n := range noTarball {
			skip = skip || n == v
		}
		if !skip {
			if err := os.WriteFile(filepath.Join(dir, base+"-"+v+".tgz"), tgz, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	doc, _ := json.Marshal(map[string]any{"name": name, "versions": vs, "dist-tags": tags, "_rev": "3-abc",
		"_attachments": map[string]any{}, "_uplinks": map[string]any{}, "_distfiles": map[string]any{}})
	if err := os.WriteFile(filepath.Join(dir, "package.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return tarballs
}

type npmDoc struct {
	DistTags map[string]string `json:"dist-tags"`
	Versions map[string]struct {
		Deprecated string `json:"deprecated"`
		Dist       struct {
			Integrity, Shasum, Tarball string
		} `json:"dist"`
	} `json:"versions"`
}

func getNPM(t *testing.T, s *apptest.Server, repo, name string) (int, npmDoc) {
	t.Helper()
	resp, body := s.Do(t, "GET", "/npm/"+repo+"/"+strings.Replace(name, "/", "%2f", 1), "admin:"+apptest.AdminPassword, nil)
	var d npmDoc
	if resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &d); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, d
}

// TestNPMImportVerdaccioStorage: a dry run writes nothing; the import
// publishes every version with a tarball, its dist-tags and deprecations,
// with the source's integrity; a tarball that does not match its
// integrity fails alone and writes nothing; once it is fixed, running
// again imports it and skips the rest. Then the registry path copies the
// packages over HTTP into another repository.
func TestNPMImportVerdaccioStorage(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		storage := t.TempDir()
		os.WriteFile(filepath.Join(storage, ".verdaccio-db.json"), []byte(`{"list":["a","@s/b","c"],"secret":"x"}`), 0o600)
		a := verdaccioPackage(t, storage, "a", []string{"1.0.0", "1.1.0", "2.0.0-beta.1", "0.9.0"},
			map[string]string{"latest": "1.1.0", "beta": "2.0.0-beta.1"}, map[string]string{"1.0.0": "use 1.1"}, "0.9.0")
		b := verdaccioPackage(t, storage, "@s/b", []string{"0.1.0"}, map[string]string{"latest": "0.1.0"}, nil)
		c := verdaccioPackage(t, storage, "c", []string{"3.0.0"}, map[string]string{"latest": "3.0.0"}, nil)
		good := c["3.0.0"]
		os.WriteFile(filepath.Join(storage, "c", "c-3.0.0.tgz"), npmTarball(t, "c", "3.0.0-tampered")[:len(good)/2], 0o644)

		target := importer.Target{Handler: s.Handler()}
		src := importer.NPMSource{Storage: storage, Repository: "npm-imported"}
		ctx := context.Background()

		r := importer.NewReport("npm", importer.Options{DryRun: true})
		if err := importer.NPM(ctx, target, src, importer.Options{DryRun: true}, r); err != nil {
			t.Fatal(err)
		}
		if got := r.Totals[importer.Planned].Items; got != 6 { // the repository, a x3, b, c
			t.Fatalf("dry run planned %d: %+v", got, r.Items)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/repositories/npm-imported", "admin:"+apptest.AdminPassword, nil); resp.StatusCode != 404 {
			t.Fatalf("the dry run created the repository: %d", resp.StatusCode)
		}

		r = importer.NewReport("npm", importer.Options{})
		if err := importer.NPM(ctx, target, src, importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Failures() != 1 || r.Totals[importer.Imported].Items != 1+3+1 { // repository, a x3, b
			t.Fatalf("import: %+v", r.Items)
		}
		var failed importer.Item
		for _, it := range r.Items {
			if it.Outcome == importer.Failed {
				failed = it
			}
		}
		if failed.Name != "c@3.0.0" || !strings.Contains(failed.Reason, "dist.integrity") {
			t.Fatalf("failure = %+v", failed)
		}
		if code, _ := getNPM(t, s, "npm-imported", "c"); code != 404 {
			t.Fatalf("the tampered tarball left package c behind: %d", code)
		}
		code, doc := getNPM(t, s, "npm-imported", "a")
		if code != 200 || len(doc.Versions) != 3 || doc.DistTags["latest"] != "1.1.0" || doc.DistTags["beta"] != "2.0.0-beta.1" {
			t.Fatalf("a in arca: %d %+v", code, doc)
		}
		if doc.Versions["1.0.0"].Deprecated != "use 1.1" || doc.Versions["1.1.0"].Deprecated != "" {
			t.Fatalf("deprecations: %+v", doc.Versions)
		}
		for v, tgz := range a {
			if v == "0.9.0" {
				continue
			}
			if got := doc.Versions[v].Dist; got.Integrity != sri(tgz) || got.Shasum != sha1Hex(tgz) {
				t.Errorf("a@%s dist = %+v", v, got)
			}
			resp, body := s.Do(t, "GET", strings.TrimPrefix(doc.Versions[v].Dist.Tarball, s.URL), "admin:"+apptest.AdminPassword, nil)
			if resp.StatusCode != 200 || body != string(tgz) {
				t.Errorf("tarball of a@%s: %d", v, resp.StatusCode)
			}
		}
		if code, doc := getNPM(t, s, "npm-imported", "@s/b"); code != 200 || doc.Versions["0.1.0"].Dist.Integrity != sri(b["0.1.0"]) {
			t.Fatalf("@s/b in arca: %d %+v", code, doc)
		}

		// Fixed, the next run imports c alone.
		os.WriteFile(filepath.Join(storage, "c", "c-3.0.0.tgz"), good, 0o644)
		r = importer.NewReport("npm", importer.Options{})
		if err := importer.NPM(ctx, target, src, importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 1 || r.Totals[importer.Present].Items != 5 { // c; a x4, b
			t.Fatalf("second run: %+v", r.Items)
		}

		// Deprecations and dist-tags changed at the source since: applied
		// to the versions arca has.
		verdaccioPackage(t, storage, "a", []string{"1.0.0", "1.1.0", "2.0.0-beta.1"},
			map[string]string{"latest": "1.0.0", "next": "2.0.0-beta.1"}, map[string]string{"1.1.0": "broken"})
		r = importer.NewReport("npm", importer.Options{})
		if err := importer.NPM(ctx, target, src, importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 1 || !hasItem(r, "metadata", "a", importer.Imported) {
			t.Fatalf("third run: %+v", r.Items)
		}
		code, doc = getNPM(t, s, "npm-imported", "a")
		if doc.DistTags["latest"] != "1.0.0" || doc.DistTags["next"] != "2.0.0-beta.1" || doc.DistTags["beta"] != "2.0.0-beta.1" ||
			doc.Versions["1.0.0"].Deprecated != "" || doc.Versions["1.1.0"].Deprecated != "broken" {
			t.Fatalf("a after the third run: %d %+v", code, doc)
		}

		// The registry path: arca's repository over HTTP as the source.
		reg := importer.NPMSource{URL: s.URL + "/npm/npm-imported", Packages: []string{"a", "@s/b", "c"},
			Username: "admin", Password: apptest.AdminPassword, Repository: "npm-copy"}
		r = importer.NewReport("npm", importer.Options{})
		if err := importer.NPM(ctx, target, reg, importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 1+3+1+1 {
			t.Fatalf("registry import: %+v", r.Items)
		}
		if code, doc := getNPM(t, s, "npm-copy", "a"); code != 200 || doc.Versions["1.1.0"].Deprecated != "broken" ||
			doc.DistTags["latest"] != "1.0.0" || doc.Versions["1.1.0"].Dist.Integrity != sri(a["1.1.0"]) {
			t.Fatalf("a copied: %d %+v", code, doc)
		}
	})
}

func hasItem(r *importer.Report, kind, name string, o importer.Outcome) bool {
	for _, it := range r.Items {
		if it.Kind == kind && it.Name == name && it.Outcome == o {
			return true
		}
	}
	return false
}
