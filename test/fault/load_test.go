package fault

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
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// item is an acknowledged write: how to read it back and what it must hold.
type item struct {
	kind string
	what string
	sum  string // hex sha256 of the bytes read must give
	size int
	read func(c *client) ([]byte, error)
	// s3Key is set for S3 objects, which copies may use as sources.
	s3Key string
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// ledger records every acknowledged write.
type ledger struct {
	mu    sync.Mutex
	items []*item
	bytes int64
}

func (l *ledger) add(it *item) {
	l.mu.Lock()
	l.items = append(l.items, it)
	l.bytes += int64(it.size)
	l.mu.Unlock()
}

func (l *ledger) snapshot() []*item {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*item(nil), l.items...)
}

// pick returns a random acknowledged item of kind, or nil.
func (l *ledger) pick(rnd *rand.Rand, kind string) *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	for tries := 0; tries < 20 && len(l.items) > 0; tries++ {
		if it := l.items[rnd.IntN(len(l.items))]; it.kind == kind {
			return it
		}
	}
	return nil
}

var errDown = errors.New("no server process is running")

// client speaks each protocol to whichever process serves now.
type client struct {
	s    *server
	http *http.Client
}

func newClient(s *server) *client {
	return &client{s: s, http: &http.Client{Timeout: 60 * time.Second}}
}

// do sends a request with the admin's Basic credentials and reads the
// whole answer.
func (c *client) do(method, path string, body []byte, hdr ...string) (int, []byte, http.Header, error) {
	base, _ := c.s.urls()
	if base == "" {
		return 0, nil, nil, errDown
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		return 0, nil, nil, err
	}
	req.SetBasicAuth("admin", adminPassword)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, nil, err
	}
	return resp.StatusCode, b, resp.Header, nil
}

// get reads path, failing unless the answer is 200.
func (c *client) get(path string) ([]byte, error) {
	st, b, _, err := c.do("GET", path, nil)
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("GET %s = %d %s", path, st, clip(b))
	}
	return b, nil
}

func (c *client) s3() (*s3sdk.Client, error) {
	_, u := c.s.urls()
	if u == "" {
		return nil, errDown
	}
	return s3sdk.New(s3sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(u), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3Key, s3Secret, ""),
		HTTPClient:  c.http}), nil
}

func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func want(status int, ok ...int) error {
	for _, s := range ok {
		if status == s {
			return nil
		}
	}
	return fmt.Errorf("status %d", status)
}

func randomBytes(rnd *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rnd.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// op is one kind of write; it returns the acknowledged items.
type op struct {
	name   string
	weight int
	run    func(c *client, l *ledger, rnd *rand.Rand, n int) ([]*item, error)
}

func ops() []op {
	return []op{
		{"raw PUT", 6, rawPut},
		{"S3 PutObject", 6, s3Put},
		{"S3 CopyObject", 3, s3Copy},
		{"S3 multipart", 1, s3Multipart},
		{"OCI push and mount", 2, ociPush},
		{"PyPI upload", 2, pypiUpload},
		{"npm publish", 2, npmPublish},
		{"Go publish", 1, goPublish},
		{"Helm upload", 1, helmUpload},
		{"MLflow log-batch", 3, mlflowLogBatch},
		{"MLflow artifact", 3, mlflowArtifact},
	}
}

func rawPut(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	b := randomBytes(rnd, 1<<10+rnd.IntN(1<<20))
	path := fmt.Sprintf("/raw/files/fault/raw-%d.bin", n)
	st, body, _, err := c.do("PUT", path, b)
	if err != nil {
		return nil, err
	}
	if err := want(st, 200, 201, 204); err != nil {
		return nil, fmt.Errorf("%w: %s", err, clip(body))
	}
	return []*item{{kind: "raw", what: path, sum: sum(b), size: len(b), read: func(c *client) ([]byte, error) { return c.get(path) }}}, nil
}

func s3Reader(key string) func(c *client) ([]byte, error) {
	return func(c *client) ([]byte, error) {
		cl, err := c.s3()
		if err != nil {
			return nil, err
		}
		out, err := cl.GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: aws.String("backups"), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
}

func s3Put(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	cl, err := c.s3()
	if err != nil {
		return nil, err
	}
	b := randomBytes(rnd, 1<<10+rnd.IntN(256<<10))
	key := fmt.Sprintf("fault/obj-%d", n)
	if _, err := cl.PutObject(context.Background(), &s3sdk.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
		return nil, err
	}
	return []*item{{kind: "s3", what: "s3 backups/" + key, sum: sum(b), size: len(b), read: s3Reader(key), s3Key: key}}, nil
}

func s3Copy(c *client, l *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	src := l.pick(rnd, "s3")
	if src == nil {
		return nil, nil
	}
	cl, err := c.s3()
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("fault/copy-%d", n)
	if _, err := cl.CopyObject(context.Background(), &s3sdk.CopyObjectInput{Bucket: aws.String("backups"), Key: aws.String(key),
		CopySource: aws.String("backups/" + src.s3Key)}); err != nil {
		return nil, err
	}
	return []*item{{kind: "s3", what: "s3 copy backups/" + key, sum: src.sum, size: src.size, read: s3Reader(key), s3Key: key}}, nil
}

func s3Multipart(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	cl, err := c.s3()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	key := fmt.Sprintf("fault/mpu-%d", n)
	parts := [][]byte{randomBytes(rnd, 5<<20), randomBytes(rnd, 64<<10+rnd.IntN(64<<10))}
	up, err := cl.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := cl.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: aws.String("backups"), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			return nil, err
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := cl.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		return nil, err
	}
	whole := bytes.Join(parts, nil)
	return []*item{{kind: "s3", what: "s3 multipart backups/" + key, sum: sum(whole), size: len(whole), read: s3Reader(key), s3Key: key}}, nil
}

// ociPush pushes an image (its layer in two chunks), then mounts the layer
// into another repository and pushes a manifest there too.
func ociPush(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","fault":%d}`, n))
	layer := randomBytes(rnd, 64<<10+rnd.IntN(512<<10))
	cd, ld := "sha256:"+sum(cfg), "sha256:"+sum(layer)
	img, mnt := fmt.Sprintf("library/fault-app-%d", n), fmt.Sprintf("library/fault-mnt-%d", n)
	if st, b, _, err := c.do("POST", "/v2/"+img+"/blobs/uploads/?digest="+cd, cfg, "Content-Type", "application/octet-stream"); err != nil {
		return nil, err
	} else if err := want(st, 201); err != nil {
		return nil, fmt.Errorf("config push: %w %s", err, clip(b))
	}
	st, b, hdr, err := c.do("POST", "/v2/"+img+"/blobs/uploads/", nil)
	if err != nil {
		return nil, err
	} else if err := want(st, 202); err != nil {
		return nil, fmt.Errorf("upload start: %w %s", err, clip(b))
	}
	loc := hdr.Get("Location")
	half := len(layer) / 2
	if st, b, hdr, err = c.do("PATCH", loc, layer[:half], "Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("0-%d", half-1)); err != nil {
		return nil, err
	} else if err := want(st, 202); err != nil {
		return nil, fmt.Errorf("chunk: %w %s", err, clip(b))
	}
	sep := "?"
	if strings.Contains(hdr.Get("Location"), "?") {
		sep = "&"
	}
	if st, b, _, err = c.do("PUT", hdr.Get("Location")+sep+"digest="+ld, layer[half:], "Content-Type", "application/octet-stream",
		"Content-Range", fmt.Sprintf("%d-%d", half, len(layer)-1)); err != nil {
		return nil, err
	} else if err := want(st, 201); err != nil {
		return nil, fmt.Errorf("last chunk: %w %s", err, clip(b))
	}
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cd, len(cfg), ld, len(layer)))
	md := "sha256:" + sum(manifest)
	if st, b, _, err = c.do("PUT", "/v2/"+img+"/manifests/v1", manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); err != nil {
		return nil, err
	} else if err := want(st, 201); err != nil {
		return nil, fmt.Errorf("manifest: %w %s", err, clip(b))
	}
	items := []*item{
		{kind: "oci", what: img + "@" + md, sum: sum(manifest), size: len(manifest), read: func(c *client) ([]byte, error) { return c.get("/v2/" + img + "/manifests/" + md) }},
		{kind: "oci", what: img + " layer", sum: sum(layer), size: len(layer), read: func(c *client) ([]byte, error) { return c.get("/v2/" + img + "/blobs/" + ld) }},
	}
	// The same image in another repository, by mounts.
	for _, d := range []string{cd, ld} {
		st, b, _, err = c.do("POST", "/v2/"+mnt+"/blobs/uploads/?mount="+d+"&from="+img, nil)
		if err != nil {
			return items, nil
		} else if st != 201 {
			return items, fmt.Errorf("mount = %d %s", st, clip(b))
		}
	}
	if st, b, _, err = c.do("PUT", "/v2/"+mnt+"/manifests/v1", manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); err != nil {
		return items, nil
	} else if err := want(st, 201); err != nil {
		return items, fmt.Errorf("manifest after mount: %w %s", err, clip(b))
	}
	return append(items, &item{kind: "oci", what: mnt + " mounted layer", sum: sum(layer), size: len(layer),
		read: func(c *client) ([]byte, error) { return c.get("/v2/" + mnt + "/blobs/" + ld) }}), nil
}

func pypiUpload(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	name, version := fmt.Sprintf("faultpkg%d", n), fmt.Sprintf("1.0.%d", n)
	md := []byte(fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: fault suite\n", name, version))
	var whl bytes.Buffer
	zw := zip.NewWriter(&whl)
	for fn, b := range map[string][]byte{
		name + "/__init__.py":                        randomBytes(rnd, 1<<10+rnd.IntN(64<<10)),
		name + "-" + version + ".dist-info/METADATA": md,
		name + "-" + version + ".dist-info/WHEEL":    []byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
		name + "-" + version + ".dist-info/RECORD":   nil,
	} {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: fn, Method: zip.Store})
		w.Write(b)
	}
	zw.Close()
	data := whl.Bytes()
	filename := name + "-" + version + "-py3-none-any.whl"
	m5 := md5.Sum(data)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": name,
		"version": version, "filetype": "bdist_wheel", "pyversion": "py3", "sha256_digest": sum(data), "md5_digest": hex.EncodeToString(m5[:])} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", filename)
	fw.Write(data)
	mw.Close()
	st, b, _, err := c.do("POST", "/pypi/pypi-hosted/", body.Bytes(), "Content-Type", mw.FormDataContentType())
	if err != nil {
		return nil, err
	} else if err := want(st, 200, 201); err != nil {
		return nil, fmt.Errorf("%w %s", err, clip(b))
	}
	path := "/pypi/pypi-hosted/files/" + name + "/" + filename
	return []*item{{kind: "pypi", what: path, sum: sum(data), size: len(data), read: func(c *client) ([]byte, error) { return c.get(path) }}}, nil
}

func npmPublish(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	name, version := fmt.Sprintf("fault-pkg-%d", n), "1.0.0"
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range [][2]string{{"package/package.json", fmt.Sprintf(`{"name":%q,"version":%q}`, name, version)},
		{"package/index.js", string(randomBytes(rnd, 1<<10+rnd.IntN(32<<10)))}} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	gz.Close()
	tgz := buf.Bytes()
	s1, s512 := sha1.Sum(tgz), sha512.Sum512(tgz)
	doc, _ := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version, "_id": name + "@" + version,
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/" + name + "/-/" + name + "-" + version + ".tgz"}}},
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tgz), "length": len(tgz)}},
	})
	st, b, _, err := c.do("PUT", "/npm/npm-hosted/"+name, doc, "Content-Type", "application/json")
	if err != nil {
		return nil, err
	} else if err := want(st, 200, 201); err != nil {
		return nil, fmt.Errorf("%w %s", err, clip(b))
	}
	path := "/npm/npm-hosted/" + name + "/-/" + name + "-" + version + ".tgz"
	return []*item{{kind: "npm", what: path, sum: sum(tgz), size: len(tgz), read: func(c *client) ([]byte, error) { return c.get(path) }}}, nil
}

// mlflowRun creates a run in the Default experiment.
func mlflowRun(c *client) (string, error) {
	st, b, _, err := c.do("POST", "/mlflow/api/2.0/mlflow/runs/create", []byte(`{"experiment_id":"0"}`), "Content-Type", "application/json")
	if err != nil {
		return "", err
	} else if err := want(st, 200); err != nil {
		return "", fmt.Errorf("runs/create: %w %s", err, clip(b))
	}
	var out struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Run.Info.RunID == "" {
		return "", fmt.Errorf("runs/create answered %s", clip(b))
	}
	return out.Run.Info.RunID, nil
}

// metricLines is the canonical form of a metric history: "step value" lines.
func metricLines(points map[int64]float64) []byte {
	steps := make([]int64, 0, len(points))
	for s := range points {
		steps = append(steps, s)
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	var b bytes.Buffer
	for _, s := range steps {
		fmt.Fprintf(&b, "%d %g\n", s, points[s])
	}
	return b.Bytes()
}

func mlflowLogBatch(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	run, err := mlflowRun(c)
	if err != nil {
		return nil, err
	}
	points := map[int64]float64{}
	var metrics []map[string]any
	now := time.Now().UnixMilli()
	for step := int64(0); step < 100; step++ {
		v := float64(rnd.IntN(1000000)) / 1000
		points[step] = v
		metrics = append(metrics, map[string]any{"key": "loss", "value": v, "timestamp": now, "step": step})
	}
	body, _ := json.Marshal(map[string]any{"run_id": run, "metrics": metrics})
	st, b, _, err := c.do("POST", "/mlflow/api/2.0/mlflow/runs/log-batch", body, "Content-Type", "application/json")
	if err != nil {
		return nil, err
	} else if err := want(st, 200); err != nil {
		return nil, fmt.Errorf("log-batch: %w %s", err, clip(b))
	}
	expect := metricLines(points)
	return []*item{{kind: "mlflow", what: "run " + run + " metric loss", sum: sum(expect), size: len(points), read: func(c *client) ([]byte, error) {
		b, err := c.get("/mlflow/api/2.0/mlflow/metrics/get-history?run_id=" + run + "&metric_key=loss&max_results=1000")
		if err != nil {
			return nil, err
		}
		var h struct {
			Metrics []struct {
				Step  int64   `json:"step"`
				Value float64 `json:"value"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, err
		}
		got := map[int64]float64{}
		for _, m := range h.Metrics {
			got[m.Step] = m.Value
		}
		return metricLines(got), nil
	}}}, nil
}

func mlflowArtifact(c *client, _ *ledger, rnd *rand.Rand, n int) ([]*item, error) {
	run, err := mlflowRun(c)
	if err != nil {
		return nil, err
	}
	b := randomBytes(rnd, 1<<10+rnd.IntN(128<<10))
	path := fmt.Sprintf("/mlflow/api/2.0/mlflow-artifacts/artifacts/0/%s/artifacts/model-%d.bin", run, n)
	st, body, _, err := c.do("PUT", path, b, "Content-Type", "application/octet-stream")
	if err != nil {
		return nil, err
	} else if err := want(st, 200); err != nil {
		return nil, fmt.Errorf("artifact upload: %w %s", err, clip(body))
	}
	return []*item{{kind: "mlflow", what: path, sum: sum(b), size: len(b), read: func(c *client) ([]byte, error) { return c.get(path) }}}, nil
}
