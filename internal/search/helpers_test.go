package search_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/search"
)

// Content of every format, sent over each protocol's HTTP API as its
// client sends it.

const admin = apptest.Admin

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// do sends a request and fails unless the status is want.
func do(t *testing.T, s *apptest.Server, method, path, userpass, body string, want int, headers ...string) string {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp, got := s.Do(t, method, path, userpass, r, headers...)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	return got
}

func pushBlob(t *testing.T, s *apptest.Server, name string, b []byte) string {
	t.Helper()
	do(t, s, "POST", "/v2/"+name+"/blobs/uploads/?digest="+sha(b), admin, string(b), 201, "Content-Type", "application/octet-stream")
	return sha(b)
}

// pushImage pushes a one-layer image whose config carries labels, tagged
// tag, and returns the manifest's digest.
func pushImage(t *testing.T, s *apptest.Server, name, tag string, labels map[string]string, layer []byte) string {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Labels": labels},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{sha(layer)}}})
	cd, ld := pushBlob(t, s, name, cfg), pushBlob(t, s, name, layer)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cd, len(cfg), ld, len(layer))
	do(t, s, "PUT", "/v2/"+name+"/manifests/"+tag, admin, m, 201, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return sha([]byte(m))
}

// uploadWheel uploads a wheel as twine does.
func uploadWheel(t *testing.T, s *apptest.Server, project, version, summary string) {
	t.Helper()
	dist := project + "-" + version + ".dist-info/"
	var whl bytes.Buffer
	zw := zip.NewWriter(&whl)
	for fn, b := range map[string]string{project + "/__init__.py": "",
		dist + "METADATA": "Metadata-Version: 2.1\nName: " + project + "\nVersion: " + version + "\nSummary: " + summary + "\nKeywords: geodesy,maps\n\nx\n",
		dist + "WHEEL":    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n", dist + "RECORD": ""} {
		w, _ := zw.Create(fn)
		w.Write([]byte(b))
	}
	zw.Close()
	sum, m5 := sha256.Sum256(whl.Bytes()), md5.Sum(whl.Bytes())
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": project,
		"version": version, "filetype": "bdist_wheel", "pyversion": "py3", "sha256_digest": hex.EncodeToString(sum[:]), "md5_digest": hex.EncodeToString(m5[:])} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", project+"-"+version+"-py3-none-any.whl")
	fw.Write(whl.Bytes())
	mw.Close()
	do(t, s, "POST", "/pypi/pypi-hosted/", admin, body.String(), 200, "Content-Type", mw.FormDataContentType())
}

// publishNPM publishes name@version as npm publish does.
func publishNPM(t *testing.T, s *apptest.Server, name, version, description string) {
	t.Helper()
	var tb bytes.Buffer
	gz := gzip.NewWriter(&tb)
	tw := tar.NewWriter(gz)
	pj := `{"name":"` + name + `","version":"` + version + `"}`
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pj))
	tw.Close()
	gz.Close()
	s1, s512 := sha1.Sum(tb.Bytes()), sha512.Sum512(tb.Bytes())
	file := name + "-" + version + ".tgz"
	doc, _ := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version, "description": description,
			"keywords": []string{"charts", "svg"},
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/" + name + "/-/" + file}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream",
			"data": base64.StdEncoding.EncodeToString(tb.Bytes()), "length": tb.Len()}},
	})
	do(t, s, "PUT", "/npm/npm-hosted/"+url.PathEscape(name), admin, string(doc), 201, "Content-Type", "application/json")
}

// publishGo publishes a module version as arca go publish does.
func publishGo(t *testing.T, s *apptest.Server, mod, version string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+mod+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "m.go"), []byte("package m\n"), 0o644)
	var zb bytes.Buffer
	if err := modzip.CreateFromDir(&zb, module.Version{Path: mod, Version: version}, dir); err != nil {
		t.Fatal(err)
	}
	do(t, s, "PUT", "/go/go-hosted/"+mod+"/@v/"+version+".zip", admin, zb.String(), 201)
}

// uploadChart uploads a chart as helm cm-push does.
func uploadChart(t *testing.T, s *apptest.Server, name, version, description string) {
	t.Helper()
	var cb bytes.Buffer
	gz := gzip.NewWriter(&cb)
	tw := tar.NewWriter(gz)
	y := "apiVersion: v2\nname: " + name + "\nversion: " + version + "\nappVersion: \"2.4\"\ndescription: " + description + "\nkeywords: [ingress]\n"
	tw.WriteHeader(&tar.Header{Name: name + "/Chart.yaml", Mode: 0o644, Size: int64(len(y)), Typeflag: tar.TypeReg})
	tw.Write([]byte(y))
	tw.Close()
	gz.Close()
	do(t, s, "POST", "/helm/helm-hosted/api/charts", admin, cb.String(), 201)
}

// s3Client is an S3 client of the admin for s's S3 API.
func s3Client(t *testing.T, s *apptest.Server) *s3sdk.Client {
	t.Helper()
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "search test")
	if err != nil {
		t.Fatal(err)
	}
	return s3sdk.New(s3sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
}

func putS3(t *testing.T, s *apptest.Server, c *s3sdk.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// mlflow calls the MLflow REST API as admin and decodes the answer.
func mlflow(t *testing.T, s *apptest.Server, method, path, body string) map[string]any {
	t.Helper()
	var out map[string]any
	json.Unmarshal([]byte(do(t, s, method, "/mlflow/api/2.0/mlflow/"+path, admin, body, 200, "Content-Type", "application/json")), &out)
	return out
}

// query searches as userpass ("" for anonymous).
func query(t *testing.T, s *apptest.Server, userpass, q string, extra ...string) search.Page {
	t.Helper()
	v := url.Values{"q": {q}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	body := do(t, s, "GET", "/api/v1/search?"+v.Encode(), userpass, "", 200)
	var p search.Page
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return p
}

// eventually retries query until ok holds of its answer (the index is
// kept by background jobs).
func eventually(t *testing.T, s *apptest.Server, userpass, q string, ok func(search.Page) bool) search.Page {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := query(t, s, userpass, q)
		if ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("search %q as %q: %+v", q, strings.Split(userpass, ":")[0], p.Results)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// find returns the first result of format and kind named name.
func find(p search.Page, format, kind, name string) (search.Result, bool) {
	for _, r := range p.Results {
		if r.Format == format && r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return search.Result{}, false
}

func has(format, kind, name string) func(search.Page) bool {
	return func(p search.Page) bool { _, ok := find(p, format, kind, name); return ok }
}

func startJobs(t *testing.T, s *apptest.Server) {
	t.Helper()
	if err := s.Jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Jobs.Stop(context.Background()) })
}
