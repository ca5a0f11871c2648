package backup_test

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
	"io"
	"mime/multipart"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// fillPackages publishes a wheel, an npm package, a Go module and a Helm chart.
func fillPackages(t *testing.T, s *apptest.Server) {
	t.Helper()
	// A wheel, uploaded as twine does.
	md := "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nSummary: demo\n\nDemo.\n"
	var whl bytes.Buffer
	zw := zip.NewWriter(&whl)
	for fn, b := range map[string]string{"demo/__init__.py": "", "demo-1.0.dist-info/METADATA": md,
		"demo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n", "demo-1.0.dist-info/RECORD": ""} {
		w, _ := zw.Create(fn)
		w.Write([]byte(b))
	}
	zw.Close()
	sum, m5 := sha256.Sum256(whl.Bytes()), md5.Sum(whl.Bytes())
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": "demo",
		"version": "1.0", "filetype": "bdist_wheel", "pyversion": "py3", "sha256_digest": hex.EncodeToString(sum[:]), "md5_digest": hex.EncodeToString(m5[:])} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", "demo-1.0-py3-none-any.whl")
	fw.Write(whl.Bytes())
	mw.Close()
	do(t, s, "POST", "/pypi/pypi-hosted/", apptest.Admin, body.String(), 200, "Content-Type", mw.FormDataContentType())

	// An npm package, published as npm publish does.
	var tb bytes.Buffer
	gz := gzip.NewWriter(&tb)
	tw := tar.NewWriter(gz)
	pj := `{"name":"demo-pkg","version":"1.0.0"}`
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pj))
	tw.Close()
	gz.Close()
	s1, s512 := sha1.Sum(tb.Bytes()), sha512.Sum512(tb.Bytes())
	doc, _ := json.Marshal(map[string]any{
		"_id": "demo-pkg", "name": "demo-pkg", "dist-tags": map[string]string{"latest": "1.0.0"},
		"versions": map[string]any{"1.0.0": map[string]any{"name": "demo-pkg", "version": "1.0.0",
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/demo-pkg/-/demo-pkg-1.0.0.tgz"}}},
		"_attachments": map[string]any{"demo-pkg-1.0.0.tgz": map[string]any{"content_type": "application/octet-stream",
			"data": base64.StdEncoding.EncodeToString(tb.Bytes()), "length": tb.Len()}},
	})
	do(t, s, "PUT", "/npm/npm-hosted/demo-pkg", apptest.Admin, string(doc), 201, "Content-Type", "application/json")

	// A Go module version and a Helm chart.
	var mz bytes.Buffer
	zw = zip.NewWriter(&mz)
	for fn, b := range map[string]string{"go.mod": "module example.com/demo\n", "demo.go": "package demo\n"} {
		w, _ := zw.Create("example.com/demo@v1.0.0/" + fn)
		w.Write([]byte(b))
	}
	zw.Close()
	do(t, s, "PUT", "/go/go-hosted/example.com/demo/@v/v1.0.0.zip", apptest.Admin, mz.String(), 201)
	var cb bytes.Buffer
	gz = gzip.NewWriter(&cb)
	tw = tar.NewWriter(gz)
	cy := "apiVersion: v2\nname: demo\nversion: 1.0.0\n"
	tw.WriteHeader(&tar.Header{Name: "demo/Chart.yaml", Mode: 0o644, Size: int64(len(cy)), Typeflag: tar.TypeReg})
	tw.Write([]byte(cy))
	tw.Close()
	gz.Close()
	do(t, s, "POST", "/helm/helm-hosted/api/charts", apptest.Admin, cb.String(), 201)
}

// fillMLflowExtras adds what fill's runs do not: experiment, model and
// version tags, an alias, a logged model with tags and params, a dataset
// input.
func fillMLflowExtras(t *testing.T, s *apptest.Server, exp, run string) {
	t.Helper()
	ml := func(method, path, body string) string {
		t.Helper()
		return do(t, s, method, "/mlflow/api/2.0/mlflow/"+path, apptest.Admin, body, 200, "Content-Type", "application/json")
	}
	ml("POST", "experiments/set-experiment-tag", `{"experiment_id":"`+exp+`","key":"owner","value":"erin"}`)
	ml("POST", "registered-models/set-tag", `{"name":"clf","key":"stage","value":"dev"}`)
	ml("POST", "model-versions/set-tag", `{"name":"clf","version":"1","key":"checked","value":"yes"}`)
	ml("POST", "registered-models/alias", `{"name":"clf","alias":"champion","version":"1"}`)
	var lm struct {
		Model struct {
			Info struct {
				ModelID string `json:"model_id"`
			} `json:"info"`
		} `json:"model"`
	}
	json.Unmarshal([]byte(ml("POST", "logged-models", `{"experiment_id":"`+exp+`","name":"m1","source_run_id":"`+run+`","tags":[{"key":"k","value":"v"}]}`)), &lm)
	ml("POST", "logged-models/"+lm.Model.Info.ModelID+"/params", `{"params":[{"key":"depth","value":"3"}]}`)
	ml("POST", "runs/log-inputs", `{"run_id":"`+run+`","datasets":[{"dataset":{"name":"train","digest":"abc","source_type":"local","source":"{}"},"tags":[{"key":"mlflow.data.context","value":"training"}]}]}`)
}

// fillS3 writes an object in one PUT, one in a multipart upload, and
// leaves a second multipart upload open with one part.
func fillS3(t *testing.T, s *apptest.Server) (key string, body []byte) {
	t.Helper()
	ctx := context.Background()
	c := s3Client(t, s)
	bucket := aws.String("dvc-storage")
	if _, err := c.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: bucket, Key: aws.String("small.txt"), Body: strings.NewReader("small object")}); err != nil {
		t.Fatal(err)
	}
	part := bytes.Repeat([]byte("p"), 5<<20)
	up, err := c.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, b := range [][]byte{part, []byte("tail")} {
		out, err := c.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: bucket, Key: aws.String("big.bin"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("big.bin"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	open, err := c.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("open.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: bucket, Key: aws.String("open.bin"), UploadId: open.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("open part")}); err != nil {
		t.Fatal(err)
	}
	return "big.bin", append(part, "tail"...)
}

// failLogin records a failed login (login_failures).
func failLogin(t *testing.T, s *apptest.Server) {
	t.Helper()
	do(t, s, "GET", "/api/v1/repositories", "erin:wrong-password", "", 401)
}

// s3Client is an S3 client of the admin (with a new key) for s's S3 API.
func s3Client(t *testing.T, s *apptest.Server) *s3sdk.Client {
	t.Helper()
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "backup test")
	if err != nil {
		t.Fatal(err)
	}
	return s3sdk.New(s3sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
}

func s3Get(t *testing.T, s *apptest.Server, bucket, key string) []byte {
	t.Helper()
	out, err := s3Client(t, s).GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GET s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
