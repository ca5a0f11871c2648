package pypi_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

const admin = apptest.Admin

// dist is a distribution file built for a test.
type dist struct {
	name, version, filename string
	data, metadata          []byte
	filetype                string
}

func metadataFor(name, version, extra string) []byte {
	return []byte("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: test package " + name +
		"\nRequires-Python: >=3.8\n" + extra + "\nThe description of " + name + ".\n")
}

// wheel builds a pure-Python wheel whose METADATA says name and version.
func wheel(t testing.TB, name, version string) dist {
	esc := strings.NewReplacer("-", "_", ".", "_").Replace(name)
	md := metadataFor(name, version, "Requires-Dist: idna\n")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for fn, b := range map[string][]byte{
		esc + "/__init__.py":                        []byte("VERSION = " + fmt.Sprintf("%q", version) + "\n"),
		esc + "-" + version + ".dist-info/METADATA": md,
		esc + "-" + version + ".dist-info/WHEEL":    []byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
		esc + "-" + version + ".dist-info/RECORD":   nil,
	} {
		w, _ := zw.Create(fn)
		w.Write(b)
	}
	zw.Close()
	return dist{name: name, version: version, filename: esc + "-" + version + "-py3-none-any.whl", data: buf.Bytes(), metadata: md, filetype: "bdist_wheel"}
}

// sdist builds a .tar.gz source distribution.
func sdist(t testing.TB, name, version string) dist {
	esc := strings.NewReplacer("-", "_", ".", "_").Replace(name)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	md := metadataFor(name, version, "")
	for fn, b := range map[string][]byte{esc + "-" + version + "/PKG-INFO": md, esc + "-" + version + "/setup.py": []byte("")} {
		tw.WriteHeader(&tar.Header{Name: fn, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return dist{name: name, version: version, filename: esc + "-" + version + ".tar.gz", data: buf.Bytes(), filetype: "sdist"}
}

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func md5Sum(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

// upload sends d as twine does; override changes or (with "") removes
// form fields.
func upload(t testing.TB, s *apptest.Server, repo, userpass string, d dist, override map[string]string) (*http.Response, string) {
	t.Helper()
	fields := map[string]string{
		":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": d.name, "version": d.version,
		"filetype": d.filetype, "pyversion": "py3", "sha256_digest": hexSum(d.data), "md5_digest": md5Sum(d.data),
		"summary": "test package", "requires_python": ">=3.8",
	}
	if d.filetype == "sdist" {
		fields["pyversion"] = "source"
	}
	for k, v := range override {
		if v == "" {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", d.filename)
	fw.Write(d.data)
	mw.Close()
	return s.Do(t, "POST", "/pypi/"+repo+"/", userpass, &body, "Content-Type", mw.FormDataContentType())
}

func mustUpload(t testing.TB, s *apptest.Server, repo string, d dist) {
	t.Helper()
	if resp, body := upload(t, s, repo, admin, d, nil); resp.StatusCode != 200 {
		t.Fatalf("upload %s = %d %s", d.filename, resp.StatusCode, body)
	}
}

func blobCount(t testing.TB, s *apptest.Server) int {
	n := 0
	if err := s.Blobs.Walk(context.Background(), func(blob.Stat) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

type simplePage struct {
	Meta     map[string]string `json:"meta"`
	Name     string            `json:"name"`
	Versions []string          `json:"versions"`
	Files    []struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython string            `json:"requires-python"`
		CoreMetadata   any               `json:"core-metadata"`
		Yanked         any               `json:"yanked"`
		Size           int64             `json:"size"`
		UploadTime     string            `json:"upload-time"`
	} `json:"files"`
}

func jsonPage(t testing.TB, s *apptest.Server, path string) simplePage {
	t.Helper()
	resp, body := s.Do(t, "GET", path, admin, nil, "Accept", "application/vnd.pypi.simple.v1+json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.pypi.simple.v1+json" {
		t.Fatalf("GET %s = %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var p simplePage
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostedUploadAndIndex(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		w, sd := wheel(t, "Arca.Demo", "1.0.0"), sdist(t, "Arca.Demo", "1.0.0")
		mustUpload(t, s, "pypi-hosted", w)
		mustUpload(t, s, "pypi-hosted", sd)

		// The project list, both forms.
		resp, body := s.Do(t, "GET", "/pypi/pypi-hosted/simple/", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `<a href="arca-demo/">`) || !strings.Contains(resp.Header.Get("Vary"), "Accept") {
			t.Fatalf("index = %d %v %s", resp.StatusCode, resp.Header, body)
		}
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/simple/", admin, nil, "Accept", "application/vnd.pypi.simple.v1+json")
		if !strings.Contains(body, `"projects":[{"name":"Arca.Demo"}]`) {
			t.Fatalf("JSON index = %s", body)
		}

		// The project page in HTML: hashes, escaped requires-python, metadata.
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/simple/arca-demo/", admin, nil, "Accept", "text/html")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("page = %d %s", resp.StatusCode, body)
		}
		for _, want := range []string{
			`href="../../files/arca-demo/` + w.filename + `#sha256=` + hexSum(w.data) + `"`,
			`data-requires-python="&gt;=3.8"`,
			`data-core-metadata="sha256=` + hexSum(w.metadata) + `"`,
			`data-dist-info-metadata="sha256=` + hexSum(w.metadata) + `"`,
			`>` + sd.filename + `</a>`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %s:\n%s", want, body)
			}
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-hosted/simple/arca-demo/", admin, nil, "Accept", "text/html", "If-None-Match", etag); resp.StatusCode != 304 {
			t.Errorf("conditional GET = %d, want 304", resp.StatusCode)
		}

		// The JSON form (PEP 691 + 700).
		p := jsonPage(t, s, "/pypi/pypi-hosted/simple/arca-demo/")
		if p.Meta["api-version"] != "1.1" || len(p.Files) != 2 || p.Versions[0] != "1.0.0" || p.Files[0].Size != int64(len(w.data)) ||
			p.Files[0].Hashes["sha256"] != hexSum(w.data) || p.Files[0].RequiresPython != ">=3.8" || p.Files[1].CoreMetadata != nil {
			t.Errorf("JSON page: %+v", p)
		}

		// Names that are not normalized redirect; unknown projects are 404.
		resp, _ = s.Do(t, "GET", "/pypi/pypi-hosted/simple/Arca_Demo/", admin, nil)
		if resp.Request.URL.Path != "/pypi/pypi-hosted/simple/arca-demo/" || resp.StatusCode != 200 {
			t.Errorf("redirect: ended at %s with %d", resp.Request.URL.Path, resp.StatusCode)
		}
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/simple/nope/", admin, nil)
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, `project "nope" not found`) {
			t.Errorf("unknown project = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-hosted/simple/arca-demo/", admin, nil, "Accept", "application/json"); resp.StatusCode != 406 {
			t.Errorf("Accept: application/json = %d, want 406", resp.StatusCode)
		}

		// Files, their metadata, ranges.
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/files/arca-demo/"+w.filename, admin, nil)
		if resp.StatusCode != 200 || body != string(w.data) {
			t.Fatalf("file = %d (%d bytes)", resp.StatusCode, len(body))
		}
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/files/arca-demo/"+w.filename+".metadata", admin, nil)
		if resp.StatusCode != 200 || body != string(w.metadata) {
			t.Fatalf("metadata = %d %q", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-hosted/files/arca-demo/"+sd.filename+".metadata", admin, nil); resp.StatusCode != 404 {
			t.Errorf("sdist metadata = %d, want 404", resp.StatusCode)
		}
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/files/arca-demo/"+sd.filename, admin, nil, "Range", "bytes=0-1")
		if resp.StatusCode != 206 || body != string(sd.data[:2]) {
			t.Errorf("range = %d %q", resp.StatusCode, body)
		}

		// The JSON API.
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/pypi/arca-demo/json", admin, nil)
		var api struct {
			Info struct {
				Name, Version, Summary, Description string
				RequiresDist                        []string `json:"requires_dist"`
			}
			Releases map[string][]struct {
				Filename    string
				Digests     map[string]string
				PackageType string `json:"packagetype"`
				URL         string
			}
			URLs []struct{ Filename string }
		}
		if err := json.Unmarshal([]byte(body), &api); err != nil || resp.StatusCode != 200 {
			t.Fatalf("JSON API = %d %v %s", resp.StatusCode, err, body)
		}
		rel := api.Releases["1.0.0"]
		if api.Info.Version != "1.0.0" || api.Info.Summary != "test package Arca.Demo" || len(api.Info.RequiresDist) != 1 ||
			!strings.Contains(api.Info.Description, "The description") || len(rel) != 2 || len(api.URLs) != 2 ||
			rel[0].Digests["md5"] != md5Sum(w.data) || rel[0].PackageType != "bdist_wheel" || !strings.HasSuffix(rel[0].URL, "/pypi/pypi-hosted/files/arca-demo/"+w.filename) {
			t.Errorf("JSON API: %+v", api)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-hosted/pypi/arca-demo/1.0/json", admin, nil); resp.StatusCode != 200 {
			t.Errorf("release JSON = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/pypi/pypi-hosted/pypi/arca-demo/2.0/json", admin, nil); resp.StatusCode != 404 || !strings.Contains(body, `"message"`) {
			t.Errorf("missing release JSON = %d %s", resp.StatusCode, body)
		}

		// Anonymous clients of a private repository are asked for credentials.
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/simple/arca-demo/", "", nil)
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="arca"` || !strings.Contains(body, "401 Unauthorized") {
			t.Errorf("anonymous = %d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
}

func TestUploadRefusals(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		w := wheel(t, "demo", "1.0")
		mustUpload(t, s, "pypi-hosted", w)
		before := blobCount(t, s)

		zipOf := func(files map[string][]byte) []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for n, b := range files {
				f, _ := zw.Create(n)
				f.Write(b)
			}
			zw.Close()
			return buf.Bytes()
		}
		w2 := wheel(t, "demo", "2.0")
		bad := func(d dist, data []byte) dist { d.data = data; return d }
		bomb := bad(w2, zipOf(map[string][]byte{"demo-2.0.dist-info/METADATA": append([]byte("Name: demo\nVersion: 2.0\n\n"), bytes.Repeat([]byte("A"), 11<<20)...)}))
		for _, c := range []struct {
			name     string
			d        dist
			override map[string]string
			status   int
			msg      string
		}{
			{"sha256 mismatch", w2, map[string]string{"sha256_digest": hexSum([]byte("other"))}, 400, "sha256_digest does not match"},
			{"md5 mismatch", w2, map[string]string{"md5_digest": md5Sum([]byte("other"))}, 400, "MD5 mismatch"},
			{"no digests", w2, map[string]string{"sha256_digest": "", "md5_digest": ""}, 400, "declares no sha256_digest"},
			{"name mismatch", w2, map[string]string{"name": "other"}, 400, "is not of project other"},
			{"version mismatch", w2, map[string]string{"version": "3.0"}, 400, "says version 2.0, the form says 3.0"},
			{"invalid version", w2, map[string]string{"version": "two"}, 400, "not a PEP 440 version"},
			{"invalid name", w2, map[string]string{"name": "-x-"}, 400, "invalid project name"},
			{"filetype mismatch", w2, map[string]string{"filetype": "sdist"}, 400, "filetype"},
			{"unsupported action", w2, map[string]string{":action": "submit"}, 400, "unsupported :action"},
			{"metadata disagrees", bad(w2, zipOf(map[string][]byte{"demo-2.0.dist-info/METADATA": []byte("Name: demo\nVersion: 2.1\n")})), nil, 400, "metadata says version 2.1"},
			{"malformed wheel", bad(w2, []byte("not a zip")), nil, 400, "malformed wheel"},
			{"zip bomb metadata", bomb, nil, 413, "larger than"},
			{"malformed sdist", bad(sdist(t, "demo", "2.0"), []byte("not gzip")), nil, 400, "malformed sdist"},
			{"exists", w, nil, 409, "File already exists"},
			{"egg", dist{name: "demo", version: "2.0", filename: "demo-2.0.egg", data: []byte("x"), filetype: "bdist_egg"}, nil, 400, "unsupported file"},
		} {
			resp, body := upload(t, s, "pypi-hosted", admin, c.d, c.override)
			if resp.StatusCode != c.status || !strings.Contains(body, c.msg) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s: %d %q, want %d containing %q", c.name, resp.StatusCode, body, c.status, c.msg)
			}
		}
		if n := blobCount(t, s); n != before {
			t.Errorf("refused uploads stored %d blobs", n-before)
		}
		if resp, body := s.Do(t, "POST", "/pypi/pypi-hosted/", admin, strings.NewReader("x"), "Content-Type", "text/plain"); resp.StatusCode != 400 {
			t.Errorf("non-multipart = %d %s", resp.StatusCode, body)
		}
		if resp, _ := upload(t, s, "pypi-hosted", "", w2, nil); resp.StatusCode != 401 {
			t.Errorf("anonymous upload = %d", resp.StatusCode)
		}

		// A reader may not upload; a proxy takes no uploads.
		s.Do(t, "POST", "/api/v1/users", admin, strings.NewReader(`{"name":"reader1","password":"reader-pass-123"}`))
		s.Do(t, "PUT", "/api/v1/repositories/pypi-hosted/roles/reader1", admin, strings.NewReader(`{"role":"reader"}`))
		if resp, body := upload(t, s, "pypi-hosted", "reader1:reader-pass-123", w2, nil); resp.StatusCode != 403 {
			t.Errorf("reader upload = %d %s", resp.StatusCode, body)
		}
		s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"pp","format":"pypi","kind":"proxy","settings":{"upstream":{"url":"http://127.0.0.1:1/simple/"}}}`))
		if resp, body := upload(t, s, "pp", admin, w2, nil); resp.StatusCode != 403 || !strings.Contains(body, "proxy repository") {
			t.Errorf("upload to proxy = %d %s", resp.StatusCode, body)
		}

		// With allow_redeploy a file is replaced.
		if resp, body := s.Do(t, "PATCH", "/api/v1/repositories/pypi-hosted", admin, strings.NewReader(`{"settings":{"allow_redeploy":true}}`)); resp.StatusCode != 200 {
			t.Fatalf("PATCH = %d %s", resp.StatusCode, body)
		}
		w1b := wheel(t, "demo", "1.0")
		w1b.data = append(w1b.data, 0) // different bytes, same name (zip readers ignore trailing data)
		mustUpload(t, s, "pypi-hosted", w1b)
		if _, body := s.Do(t, "GET", "/pypi/pypi-hosted/files/demo/"+w.filename, admin, nil); body != string(w1b.data) {
			t.Error("redeploy did not replace the file")
		}
		if resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"g","format":"pypi","kind":"group","settings":{"allow_redeploy":true,"members":["pypi-hosted"]}}`)); resp.StatusCode != 400 {
			t.Errorf("group with allow_redeploy = %d %s", resp.StatusCode, body)
		}
	})
}

func TestYankAndDelete(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		w1, w2, s2 := wheel(t, "demo", "1.0"), wheel(t, "demo", "2.0"), sdist(t, "demo", "2.0")
		for _, d := range []dist{w1, w2, s2} {
			mustUpload(t, s, "pypi-hosted", d)
		}
		resp, body := s.Do(t, "POST", "/api/v1/pypi/pypi-hosted/Demo/2.0.0/yank", admin, strings.NewReader(`{"reason":"broken <build>"}`))
		if resp.StatusCode != 200 || !strings.Contains(body, `"yanked": true`) {
			t.Fatalf("yank = %d %s", resp.StatusCode, body)
		}
		_, page := s.Do(t, "GET", "/pypi/pypi-hosted/simple/demo/", admin, nil)
		if strings.Count(page, `data-yanked="broken &lt;build&gt;"`) != 2 {
			t.Errorf("yanked page:\n%s", page)
		}
		p := jsonPage(t, s, "/pypi/pypi-hosted/simple/demo/")
		if p.Files[0].Yanked != nil || p.Files[1].Yanked != "broken <build>" {
			t.Errorf("JSON yanked: %+v", p.Files)
		}
		_, body = s.Do(t, "GET", "/pypi/pypi-hosted/pypi/demo/json", admin, nil)
		if !strings.Contains(body, `"version": "1.0"`) {
			t.Errorf("JSON API's latest should skip the yanked 2.0: %s", body[:300])
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/pypi/pypi-hosted/demo/2.0/yank", admin, nil); resp.StatusCode != 200 {
			t.Errorf("unyank = %d", resp.StatusCode)
		}
		if _, page := s.Do(t, "GET", "/pypi/pypi-hosted/simple/demo/", admin, nil); strings.Contains(page, "data-yanked") {
			t.Errorf("still yanked:\n%s", page)
		}
		if resp, _ := s.Do(t, "POST", "/api/v1/pypi/pypi-hosted/demo/9.9/yank", admin, nil); resp.StatusCode != 404 {
			t.Errorf("yank of a missing release = %d", resp.StatusCode)
		}

		// Delete one file, then a release.
		resp, body = s.Do(t, "DELETE", "/api/v1/pypi/pypi-hosted/demo/2.0/"+s2.filename, admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, s2.filename) {
			t.Fatalf("delete file = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-hosted/files/demo/"+s2.filename, admin, nil); resp.StatusCode != 404 {
			t.Errorf("deleted file = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "DELETE", "/api/v1/pypi/pypi-hosted/demo/2.0", admin, nil); resp.StatusCode != 200 || !strings.Contains(body, w2.filename) {
			t.Errorf("delete release = %d %s", resp.StatusCode, body)
		}
		p = jsonPage(t, s, "/pypi/pypi-hosted/simple/demo/")
		if len(p.Files) != 1 || p.Files[0].Filename != w1.filename {
			t.Errorf("after deletes: %+v", p.Files)
		}
		if resp, body := s.Do(t, "DELETE", "/api/v1/pypi/pypi-hosted/demo/2.0", admin, nil); resp.StatusCode != 404 || !strings.Contains(body, `"code"`) {
			t.Errorf("second delete = %d %s", resp.StatusCode, body)
		}
		// The file name is free again.
		mustUpload(t, s, "pypi-hosted", w2)

		// Developers upload; yanking and deleting need a maintainer.
		s.Do(t, "POST", "/api/v1/users", admin, strings.NewReader(`{"name":"dev1","password":"dev-pass-12345"}`))
		s.Do(t, "PUT", "/api/v1/repositories/pypi-hosted/roles/dev1", admin, strings.NewReader(`{"role":"developer"}`))
		if resp, _ := s.Do(t, "POST", "/api/v1/pypi/pypi-hosted/demo/1.0/yank", "dev1:dev-pass-12345", nil); resp.StatusCode != 403 {
			t.Errorf("developer yank = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/pypi/pypi-hosted/demo/1.0", "", nil); resp.StatusCode != 401 {
			t.Errorf("anonymous delete = %d", resp.StatusCode)
		}
	})
}

// TestGarbageCollection checks that GC keeps what PyPI rows refer to (a
// file, its metadata blob) and frees them once the file is deleted.
func TestGarbageCollection(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		w := wheel(t, "demo", "1.0")
		mustUpload(t, s, "pypi-hosted", w)
		gc := s.Collector()
		gc.Grace = 0
		if _, err := gc.Run(context.Background(), false, nil); err != nil {
			t.Fatal(err)
		}
		if n := blobCount(t, s); n != 2 {
			t.Fatalf("after GC with the file present: %d blobs, want 2 (the wheel and its METADATA)", n)
		}
		if _, body := s.Do(t, "GET", "/pypi/pypi-hosted/files/demo/"+w.filename+".metadata", admin, nil); body != string(w.metadata) {
			t.Fatal("metadata lost")
		}
		if resp, _ := s.Do(t, "DELETE", "/api/v1/pypi/pypi-hosted/demo/1.0", admin, nil); resp.StatusCode != 200 {
			t.Fatalf("delete = %d", resp.StatusCode)
		}
		if _, err := gc.Run(context.Background(), false, nil); err != nil {
			t.Fatal(err)
		}
		if n := blobCount(t, s); n != 0 {
			t.Fatalf("after deleting the release and GC: %d blobs, want 0", n)
		}
	})
}

// TestTwoProcesses runs two arca processes on one PostgreSQL database and
// one blob directory: a page one of them cached must reflect changes made
// through the other.
func TestTwoProcesses(t *testing.T) {
	url, dir := metatest.PostgresURL(t), t.TempDir()
	a := apptest.Start(t, url, func(c *config.Config) { c.DataDir = dir })
	b := apptest.Start(t, url, func(c *config.Config) { c.DataDir = dir })
	mustUpload(t, a, "pypi-hosted", wheel(t, "demo", "1.0"))
	if p := jsonPage(t, b, "/pypi/pypi-hosted/simple/demo/"); len(p.Files) != 1 {
		t.Fatalf("b sees %d files", len(p.Files))
	}
	mustUpload(t, a, "pypi-hosted", wheel(t, "demo", "2.0"))
	if p := jsonPage(t, b, "/pypi/pypi-hosted/simple/demo/"); len(p.Files) != 2 {
		t.Fatalf("after an upload through a, b sees %d files", len(p.Files))
	}
	a.Do(t, "POST", "/api/v1/pypi/pypi-hosted/demo/2.0/yank", admin, nil)
	if p := jsonPage(t, b, "/pypi/pypi-hosted/simple/demo/"); p.Files[1].Yanked != true {
		t.Fatalf("after a yank through a, b serves %+v", p.Files[1])
	}
}
