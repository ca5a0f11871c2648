package replication_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

// wheel builds a pure-Python wheel whose METADATA says name and version.
func wheel(name, version string) (filename string, data []byte) {
	esc := strings.NewReplacer("-", "_", ".", "_").Replace(name)
	md := "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: test\n\nA test package.\n"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for fn, b := range map[string]string{
		esc + "/__init__.py":                        "VERSION = " + fmt.Sprintf("%q", version) + "\n",
		esc + "-" + version + ".dist-info/METADATA": md,
		esc + "-" + version + ".dist-info/WHEEL":    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		esc + "-" + version + ".dist-info/RECORD":   "",
	} {
		w, _ := zw.Create(fn)
		w.Write([]byte(b))
	}
	zw.Close()
	return esc + "-" + version + "-py3-none-any.whl", buf.Bytes()
}

// twineUpload sends a wheel as twine does.
func twineUpload(t testing.TB, s *apptest.Server, repo, name, version string) (filename string, data []byte) {
	t.Helper()
	filename, data = wheel(name, version)
	sum := sha256.Sum256(data)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": name,
		"version": version, "filetype": "bdist_wheel", "pyversion": "py3", "sha256_digest": hex.EncodeToString(sum[:])} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", filename)
	fw.Write(data)
	mw.Close()
	if resp, out := s.Do(t, "POST", "/pypi/"+repo+"/", admin, &body, "Content-Type", mw.FormDataContentType()); resp.StatusCode != 200 {
		t.Fatalf("upload %s = %d %s", filename, resp.StatusCode, out)
	}
	return filename, data
}

// pypiFile reads a file through the simple index's link, as pip does.
func pypiFile(t testing.TB, s *apptest.Server, repo, project, filename string) (string, error) {
	resp, out := s.Do(t, "GET", "/pypi/"+repo+"/simple/"+project+"/", admin, nil, "Accept", "application/vnd.pypi.simple.v1+json")
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("project page %s = %d", project, resp.StatusCode)
	}
	var page struct {
		Files []struct{ Filename, URL string } `json:"files"`
	}
	decode(t, out, &page)
	for _, f := range page.Files {
		if f.Filename == filename {
			page, _ := url.Parse("/pypi/" + repo + "/simple/" + project + "/")
			link, err := url.Parse(f.URL)
			if err != nil {
				return "", err
			}
			u := page.ResolveReference(link).Path
			resp, body := s.Do(t, "GET", u, admin, nil)
			if resp.StatusCode != 200 {
				return "", fmt.Errorf("GET %s = %d", u, resp.StatusCode)
			}
			return body, nil
		}
	}
	return "", fmt.Errorf("%s not on the project page of %s", filename, project)
}

// TestPyPIPushAndPull: wheels pushed on events and by hand, pulled by a
// version filter; a deleted file goes from the replica only with deletes.
func TestPyPIPushAndPull(t *testing.T) {
	apptest.Each(t, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		for _, s := range []*apptest.Server{src, dst} {
			if resp, out := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"py","format":"pypi"}`)); resp.StatusCode != 201 {
				t.Fatalf("repository = %d %s", resp.StatusCode, out)
			}
		}
		old, oldData := twineUpload(t, src, "py", "demo-lib", "0.9.0")
		p := createPolicy(t, src, fmt.Sprintf(`{"name":"py-dr","repository":"py","direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":"py","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
		fn, data := twineUpload(t, src, "py", "demo-lib", "1.0.0")
		eventually(t, 20*time.Second, func() error {
			got, err := pypiFile(t, dst, "py", "demo-lib", fn)
			if err == nil && got != string(data) {
				err = fmt.Errorf("replica's %s differs", fn)
			}
			return err
		})
		runNow(t, src, p.ID)
		run := waitRuns(t, src, p.ID, 2, 20*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Copied] != 1 || got[replication.Skipped] != 1 {
			t.Fatalf("full run = %+v", run)
		}
		if got, err := pypiFile(t, dst, "py", "demo-lib", old); err != nil || got != string(oldData) {
			t.Fatalf("the full run did not copy %s: %v", old, err)
		}
		if resp, out := src.Do(t, "DELETE", "/api/v1/pypi/py/demo-lib/0.9.0/"+old, admin, nil); resp.StatusCode/100 != 2 {
			t.Fatalf("delete = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			if _, err := pypiFile(t, dst, "py", "demo-lib", old); err == nil {
				return fmt.Errorf("%s still on the replica", old)
			}
			return nil
		})

		// A pull of the 1.x releases only, into a third arca.
		third := apptest.Start(t, "", nil)
		startJobs(t, third)
		if resp, out := third.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"py","format":"pypi"}`)); resp.StatusCode != 201 {
			t.Fatalf("repository = %d %s", resp.StatusCode, out)
		}
		twineUpload(t, src, "py", "demo-lib", "2.0.0")
		pull := createPolicy(t, third, fmt.Sprintf(`{"name":"py-in","repository":"py","direction":"pull",
			"remote":{"url":%q,"repository":"py","username":"admin","password":%q},"filter":{"versions":["1.*"]}}`, src.URL, apptest.AdminPassword))
		runNow(t, third, pull.ID)
		run = waitRuns(t, third, pull.ID, 1, 20*time.Second)
		if run.State != replication.Succeeded || run.Copied != 1 {
			t.Fatalf("pull run = %+v", run)
		}
		if got, err := pypiFile(t, third, "py", "demo-lib", fn); err != nil || got != string(data) {
			t.Fatalf("pulled %s: %v", fn, err)
		}
		if _, err := pypiFile(t, third, "py", "demo-lib", "demo_lib-2.0.0-py3-none-any.whl"); err == nil {
			t.Fatal("2.0.0 was pulled; the filter selects 1.*")
		}
	})
}

// npmTarball builds a package tarball.
func npmTarball(name, version string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for fn, b := range map[string]string{
		"package/package.json": fmt.Sprintf(`{"name":%q,"version":%q,"main":"index.js"}`, name, version),
		"package/index.js":     "module.exports = " + fmt.Sprintf("%q", version) + ";\n",
	} {
		tw.WriteHeader(&tar.Header{Name: fn, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write([]byte(b))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// npmPublish sends what `npm publish` sends.
func npmPublish(t testing.TB, s *apptest.Server, repo, name, version string) []byte {
	t.Helper()
	tb := npmTarball(name, version)
	s1, s512 := sha1.Sum(tb), sha512.Sum512(tb)
	base := name[strings.LastIndex(name, "/")+1:]
	doc, _ := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version, "description": "test",
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/" + name + "/-/" + base + "-" + version + ".tgz"}}},
		"_attachments": map[string]any{base + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tb), "length": len(tb)}},
	})
	path := "/npm/" + repo + "/" + strings.Replace(name, "/", "%2f", 1)
	if resp, out := s.Do(t, "PUT", path, admin, bytes.NewReader(doc), "Content-Type", "application/json"); resp.StatusCode/100 != 2 {
		t.Fatalf("publish %s@%s = %d %s", name, version, resp.StatusCode, out)
	}
	return tb
}

// npmVersion reads a version's tarball as npm install does: packument,
// then dist.tarball.
func npmVersion(t testing.TB, s *apptest.Server, repo, name, version string) ([]byte, map[string]string, error) {
	resp, out := s.Do(t, "GET", "/npm/"+repo+"/"+strings.Replace(name, "/", "%2f", 1), admin, nil)
	if resp.StatusCode != 200 {
		return nil, nil, fmt.Errorf("packument of %s = %d", name, resp.StatusCode)
	}
	var p struct {
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]struct {
			Dist struct{ Tarball string } `json:"dist"`
		} `json:"versions"`
	}
	decode(t, out, &p)
	v, ok := p.Versions[version]
	if !ok {
		return nil, p.DistTags, fmt.Errorf("%s@%s not in the packument", name, version)
	}
	u := v.Dist.Tarball[strings.Index(v.Dist.Tarball, "/npm/"):]
	resp, body := s.Do(t, "GET", u, admin, nil)
	if resp.StatusCode != 200 {
		return nil, nil, fmt.Errorf("GET %s = %d", u, resp.StatusCode)
	}
	return []byte(body), p.DistTags, nil
}

// TestNPMPushAndPull: packages (a scoped one too) published on events and
// in full runs, with their dist-tags; an unpublished version leaves the
// replica when the policy propagates deletes.
func TestNPMPushAndPull(t *testing.T) {
	apptest.Each(t, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		for _, s := range []*apptest.Server{src, dst} {
			if resp, out := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"js","format":"npm"}`)); resp.StatusCode != 201 {
				t.Fatalf("repository = %d %s", resp.StatusCode, out)
			}
		}
		before := npmPublish(t, src, "js", "left-pad", "1.0.0")
		p := createPolicy(t, src, fmt.Sprintf(`{"name":"js-dr","repository":"js","direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":"js","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
		scoped := npmPublish(t, src, "js", "@team/widget", "2.1.0")
		eventually(t, 20*time.Second, func() error {
			got, tags, err := npmVersion(t, dst, "js", "@team/widget", "2.1.0")
			if err == nil && (!bytes.Equal(got, scoped) || tags["latest"] != "2.1.0") {
				err = fmt.Errorf("replica's @team/widget@2.1.0 differs (tags %v)", tags)
			}
			return err
		})
		runNow(t, src, p.ID)
		run := waitRuns(t, src, p.ID, 2, 20*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Copied] != 1 || got[replication.Skipped] != 1 {
			t.Fatalf("full run = %+v", run)
		}
		if got, _, err := npmVersion(t, dst, "js", "left-pad", "1.0.0"); err != nil || !bytes.Equal(got, before) {
			t.Fatalf("left-pad@1.0.0 on the replica: %v", err)
		}
		npmPublish(t, src, "js", "left-pad", "1.1.0")
		eventually(t, 20*time.Second, func() error { _, _, err := npmVersion(t, dst, "js", "left-pad", "1.1.0"); return err })
		// Unpublish 1.1.0 at the source, as npm unpublish left-pad@1.1.0 does.
		resp, out := src.Do(t, "GET", "/npm/js/left-pad?write=true", admin, nil)
		var full map[string]any
		decode(t, out, &full)
		delete(full["versions"].(map[string]any), "1.1.0")
		full["dist-tags"] = map[string]string{"latest": "1.0.0"}
		if resp, out = src.Do(t, "PUT", "/npm/js/left-pad/-rev/"+full["_rev"].(string), admin, strings.NewReader(mustJSON(t, full)),
			"Content-Type", "application/json"); resp.StatusCode/100 != 2 {
			t.Fatalf("unpublish = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			if _, _, err := npmVersion(t, dst, "js", "left-pad", "1.1.0"); err == nil {
				return fmt.Errorf("left-pad@1.1.0 still on the replica")
			}
			return nil
		})
		if _, _, err := npmVersion(t, dst, "js", "left-pad", "1.0.0"); err != nil {
			t.Fatalf("left-pad@1.0.0 went too: %v", err)
		}
	})
}
