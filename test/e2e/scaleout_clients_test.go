package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The clients of the scale-out test speak each protocol over net/http (and
// the AWS SDK for S3), so that every single request can be sent to a
// replica of the test's choosing.

// cluster is several arca processes sharing one database and one bucket,
// and a round-robin over the live ones.
type cluster struct {
	t      *testing.T
	cred   string // user:password
	mu     sync.Mutex
	reps   []*Server
	killed []*Server // replicas killed and replaced, kept for their logs
	next   int
}

// pick returns the next live replica, round-robin.
func (c *cluster) pick() *Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	for range len(c.reps) {
		s := c.reps[c.next%len(c.reps)]
		c.next++
		if s.Running() {
			return s
		}
	}
	c.t.Fatal("no replica is running")
	return nil
}

func (c *cluster) live() []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Server
	for _, s := range c.reps {
		if s.Running() {
			out = append(out, s)
		}
	}
	return out
}

var httpClient = &http.Client{Timeout: time.Minute}

// send sends one request to s with the cluster's credentials and returns
// the status and body; a transport error is returned, not fatal.
func (c *cluster) send(s *Server, method, path string, body []byte, headers ...string) (int, []byte, http.Header, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		return 0, nil, nil, err
	}
	u, p, _ := strings.Cut(c.cred, ":")
	req.SetBasicAuth(u, p)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// must sends a request to s and fails the test unless it is answered want.
func (c *cluster) must(s *Server, want int, method, path string, body []byte, headers ...string) ([]byte, http.Header) {
	c.t.Helper()
	status, b, h, err := c.send(s, method, path, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s%s: %v", method, s.URL, path, err)
	}
	if status != want {
		c.t.Fatalf("%s %s%s = %d %s, want %d", method, s.URL, path, status, b, want)
	}
	return b, h
}

// mustJSON is must that decodes the answer into v.
func (c *cluster) mustJSON(s *Server, want int, method, path string, body any, v any) {
	c.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	out, _ := c.must(s, want, method, path, b, "Content-Type", "application/json")
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			c.t.Fatalf("%s %s: decoding %q: %v", method, path, out, err)
		}
	}
}

// locationPath is the path and query of an upload's Location header.
func locationPath(t testing.TB, h http.Header) string {
	u, err := url.Parse(h.Get("Location"))
	if err != nil || u.Path == "" {
		t.Fatalf("bad Location %q", h.Get("Location"))
	}
	return u.RequestURI()
}

// splitImage is an image pushed in pieces across replicas.
type splitImage struct {
	name, tag      string
	layer, config  []byte
	manifest       []byte
	manifestDigest string
}

func newSplitImage(name, tag string, layerSize int) *splitImage {
	img := &splitImage{name: name, tag: tag, layer: randomBytes(layerSize),
		config: []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":%q}`, name))}
	m := map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha256Hex(img.config), "size": len(img.config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + sha256Hex(img.layer), "size": len(img.layer)}},
	}
	img.manifest, _ = json.Marshal(m)
	img.manifestDigest = "sha256:" + sha256Hex(img.manifest)
	return img
}

// startChunked opens an upload session of the layer on s and sends its
// first chunk; it returns the session's path.
func (c *cluster) startChunked(s *Server, img *splitImage, chunk int) string {
	c.t.Helper()
	_, h := c.must(s, http.StatusAccepted, "POST", "/v2/library/"+img.name+"/blobs/uploads/", nil)
	return c.patchChunk(s, locationPath(c.t, h), img.layer[:chunk], 0)
}

// patchChunk sends bytes starting at offset to the session at loc on s.
func (c *cluster) patchChunk(s *Server, loc string, b []byte, offset int) string {
	c.t.Helper()
	_, h := c.must(s, http.StatusAccepted, "PATCH", loc, b, "Content-Type", "application/octet-stream",
		"Content-Range", fmt.Sprintf("%d-%d", offset, offset+len(b)-1))
	return locationPath(c.t, h)
}

// finishImage closes the layer's session at loc on s, pushes the config
// monolithically on another replica and the manifest on a third.
func (c *cluster) finishImage(s *Server, loc string, img *splitImage) {
	c.t.Helper()
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	c.must(s, http.StatusCreated, "PUT", loc+sep+"digest=sha256:"+sha256Hex(img.layer), nil)
	_, h := c.must(c.pick(), http.StatusAccepted, "POST", "/v2/library/"+img.name+"/blobs/uploads/", nil)
	loc = locationPath(c.t, h)
	sep = "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	c.must(c.pick(), http.StatusCreated, "PUT", loc+sep+"digest=sha256:"+sha256Hex(img.config), img.config,
		"Content-Type", "application/octet-stream")
	c.must(c.pick(), http.StatusCreated, "PUT", "/v2/library/"+img.name+"/manifests/"+img.tag, img.manifest,
		"Content-Type", "application/vnd.oci.image.manifest.v1+json")
}

// checkImage pulls img from s and compares every byte.
func (c *cluster) checkImage(s *Server, img *splitImage) {
	c.t.Helper()
	m, h := c.must(s, http.StatusOK, "GET", "/v2/library/"+img.name+"/manifests/"+img.tag, nil,
		"Accept", "application/vnd.oci.image.manifest.v1+json")
	if !bytes.Equal(m, img.manifest) || h.Get("Docker-Content-Digest") != img.manifestDigest {
		c.t.Errorf("%s: manifest of %s:%s differs", s.URL, img.name, img.tag)
	}
	for _, b := range [][]byte{img.layer, img.config} {
		got, _ := c.must(s, http.StatusOK, "GET", "/v2/library/"+img.name+"/blobs/sha256:"+sha256Hex(b), nil)
		if !bytes.Equal(got, b) {
			c.t.Errorf("%s: blob of %s differs (%d bytes, want %d)", s.URL, img.name, len(got), len(b))
		}
	}
}

// s3Client is an S3 client of one replica's S3 listener.
func s3Client(e *s3Endpoint) *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(e.KeyID, e.Secret, ""), RetryMaxAttempts: 1})
}

// sdistFile builds a source distribution and its twine-style upload form.
func pypiUpload(name, version string) (body []byte, contentType string) {
	esc := strings.NewReplacer("-", "_", ".", "_").Replace(name)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	md := "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: scale-out test\n"
	for fn, b := range map[string]string{esc + "-" + version + "/PKG-INFO": md, esc + "-" + version + "/setup.py": ""} {
		tw.WriteHeader(&tar.Header{Name: fn, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write([]byte(b))
	}
	tw.Close()
	gz.Close()
	data := buf.Bytes()
	m5 := md5.Sum(data)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
		"name": name, "version": version, "filetype": "sdist", "pyversion": "source", "sha256_digest": sha256Hex(data),
		"md5_digest": hex.EncodeToString(m5[:]), "summary": "scale-out test"} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", esc+"-"+version+".tar.gz")
	fw.Write(data)
	mw.Close()
	return form.Bytes(), mw.FormDataContentType()
}

// pypiVersions reads a project's versions from s's PEP 691 page.
func (c *cluster) pypiVersions(s *Server, name string) []string {
	c.t.Helper()
	b, _ := c.must(s, http.StatusOK, "GET", "/pypi/pypi-hosted/simple/"+name+"/", nil, "Accept", "application/vnd.pypi.simple.v1+json")
	var page struct{ Versions []string }
	if err := json.Unmarshal(b, &page); err != nil {
		c.t.Fatalf("simple page %s: %v", b, err)
	}
	return page.Versions
}

// npmPublish is the body npm publish sends for one new version.
func npmPublish(name, version string) []byte {
	pkg := fmt.Sprintf(`{"name":%q,"version":%q}`, name, version)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pkg)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pkg))
	tw.Close()
	gz.Close()
	tb := buf.Bytes()
	s1 := sha1.Sum(tb)
	s512 := sha512.Sum512(tb)
	doc := map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version,
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": fmt.Sprintf("http://localhost/%s/-/%s-%s.tgz", name, name, version)}}},
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tb), "length": len(tb)}},
	}
	b, _ := json.Marshal(doc)
	return b
}

// npmVersions reads a package's versions and latest tag from s.
func (c *cluster) npmVersions(s *Server, name string) (versions []string, latest string) {
	c.t.Helper()
	b, _ := c.must(s, http.StatusOK, "GET", "/npm/npm-hosted/"+name, nil)
	var doc struct {
		DistTags map[string]string          `json:"dist-tags"`
		Versions map[string]json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		c.t.Fatalf("packument %s: %v", b, err)
	}
	for v := range doc.Versions {
		versions = append(versions, v)
	}
	return versions, doc.DistTags["latest"]
}

// s3Multipart uploads data as a multipart upload whose create, parts and
// complete each go to the next replica.
func (c *cluster) s3Multipart(ctx context.Context, clients map[*Server]*s3.Client, bucket, key string, data []byte, partSize int) {
	c.t.Helper()
	cl := func() *s3.Client { return clients[c.pick()] }
	mu, err := cl().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		c.t.Fatalf("create multipart upload: %v", err)
	}
	var parts []s3types.CompletedPart
	for i, n := 0, int32(1); i < len(data); i, n = i+partSize, n+1 {
		end := min(i+partSize, len(data))
		out, err := cl().UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(data[i:end])})
		if err != nil {
			c.t.Fatalf("upload part %d: %v", n, err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := cl().CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mu.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		c.t.Fatalf("complete multipart upload: %v", err)
	}
}
