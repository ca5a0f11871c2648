package app_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/config"
)

// TestDownloadMissingBlob deletes a file's blob behind arca's back: every
// download path answers a whole error (500), not the file's headers with a
// truncated body, and not 404 (the file exists; its content is lost).
func TestDownloadMissingBlob(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) {
		for i := range c.Repositories {
			if c.Repositories[i].Name == "files" {
				c.Repositories[i].Visibility = "public"
			}
		}
	})
	lose := func(content []byte) {
		t.Helper()
		sum := sha256.Sum256(content)
		if err := s.Blobs.Delete(context.Background(), blob.FromSum(sum[:])); err != nil {
			t.Fatal(err)
		}
	}
	content := strings.Repeat("lost content ", 1000)
	if resp, body := s.Do(t, "PUT", "/raw/files/dir/lost.txt", apptest.Admin, strings.NewReader(content)); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	lose([]byte(content))
	artifact := strings.Repeat("lost artifact ", 3000) // past blob.inline_max: in the blob store
	const artifactPath = "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/run/lost.bin"
	if resp, body := s.Do(t, "PUT", artifactPath, apptest.Admin, strings.NewReader(artifact)); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT artifact: %s %s", resp.Status, body)
	}
	lose([]byte(artifact))
	tarball := npmTarball(t, "lostpkg", "1.0.0")
	doc, _ := json.Marshal(map[string]any{
		"_id": "lostpkg", "name": "lostpkg", "dist-tags": map[string]string{"latest": "1.0.0"},
		"versions": map[string]any{"1.0.0": map[string]any{"name": "lostpkg", "version": "1.0.0",
			"dist": map[string]any{"shasum": fmt.Sprintf("%x", sha1.Sum(tarball)), "tarball": "http://localhost/lostpkg/-/lostpkg-1.0.0.tgz"}}},
		"_attachments": map[string]any{"lostpkg-1.0.0.tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tarball), "length": len(tarball)}},
	})
	if resp, body := s.Do(t, "PUT", "/npm/npm-hosted/lostpkg", apptest.Admin, bytes.NewReader(doc), "Content-Type", "application/json"); resp.StatusCode/100 != 2 {
		t.Fatalf("npm publish: %s %s", resp.Status, body)
	}
	lose(tarball)
	for _, path := range []string{"/raw/files/dir/lost.txt", "/ui/repositories/files/download?path=dir/lost.txt", artifactPath,
		"/npm/npm-hosted/lostpkg/-/lostpkg-1.0.0.tgz"} {
		for _, rng := range []string{"", "bytes=5-50"} {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			if !strings.HasPrefix(path, "/raw/") && !strings.HasPrefix(path, "/ui/") {
				req.SetBasicAuth("admin", apptest.AdminPassword)
			}
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, body := doRead(t, req)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("GET %s (range %q): %s, want 500", path, rng, resp.Status)
			}
			if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
				t.Errorf("GET %s: Content-Length %s for a %d-byte error", path, cl, len(body))
			}
		}
	}
}

func doRead(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, b
}

// npmTarball is a minimal package tarball as npm pack makes it.
func npmTarball(t *testing.T, name, version string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for fn, b := range map[string][]byte{
		"package/package.json": []byte(`{"name":"` + name + `","version":"` + version + `"}`),
		"package/data.txt":     []byte(strings.Repeat("lost tarball ", 1000)),
	} {
		if err := tw.WriteHeader(&tar.Header{Name: fn, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
