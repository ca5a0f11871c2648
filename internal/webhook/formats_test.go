package webhook_test

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
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// The events of every format, driven over each protocol's HTTP API as its
// client sends it (the e2e suite drives the real clients).

const admin = apptest.Admin

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func pushBlob(t *testing.T, s *apptest.Server, name string, b []byte) string {
	t.Helper()
	do(t, s, "POST", "/v2/"+name+"/blobs/uploads/?digest="+sha(b), admin, string(b), 201, "Content-Type", "application/octet-stream")
	return sha(b)
}

// pushImage pushes a one-layer image tagged tag and returns its digest.
func pushImage(t *testing.T, s *apptest.Server, name, tag string, layer []byte) string {
	t.Helper()
	cd, ld := pushBlob(t, s, name, []byte(`{}`)), pushBlob(t, s, name, layer)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":2},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cd, ld, len(layer))
	do(t, s, "PUT", "/v2/"+name+"/manifests/"+tag, admin, m, 201, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return sha([]byte(m))
}

// uploadWheel uploads a wheel as twine does.
func uploadWheel(t *testing.T, s *apptest.Server, project, version string) string {
	t.Helper()
	dist := project + "-" + version + ".dist-info/"
	var whl bytes.Buffer
	zw := zip.NewWriter(&whl)
	for fn, b := range map[string]string{project + "/__init__.py": "",
		dist + "METADATA": "Metadata-Version: 2.1\nName: " + project + "\nVersion: " + version + "\nSummary: x\n\nx\n",
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
	file := project + "-" + version + "-py3-none-any.whl"
	fw, _ := mw.CreateFormFile("content", file)
	fw.Write(whl.Bytes())
	mw.Close()
	do(t, s, "POST", "/pypi/pypi-hosted/", admin, body.String(), 200, "Content-Type", mw.FormDataContentType())
	return file
}

// publishNPM publishes name@version as npm publish does.
func publishNPM(t *testing.T, s *apptest.Server, name, version string) {
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
		"versions": map[string]any{version: map[string]any{"name": name, "version": version,
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/" + name + "/-/" + file}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream",
			"data": base64.StdEncoding.EncodeToString(tb.Bytes()), "length": tb.Len()}},
	})
	do(t, s, "PUT", "/npm/npm-hosted/"+name, admin, string(doc), 201, "Content-Type", "application/json")
}

// s3Client is an S3 client of the admin for s's S3 API.
func s3Client(t *testing.T, s *apptest.Server) *s3sdk.Client {
	t.Helper()
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "webhook test")
	if err != nil {
		t.Fatal(err)
	}
	return s3sdk.New(s3sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
}

// mlflow calls the MLflow REST API and decodes the answer.
func mlflow(t *testing.T, s *apptest.Server, path, body string) map[string]any {
	t.Helper()
	var out map[string]any
	json.Unmarshal([]byte(do(t, s, "POST", "/mlflow/api/2.0/mlflow/"+path, admin, body, 200, "Content-Type", "application/json")), &out)
	return out
}

func jsonString(t *testing.T, body, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	v, _ := m[field].(string)
	return strings.TrimSpace(v)
}
