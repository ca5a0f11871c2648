package gc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestReferencesRaceCollection adds references to blobs that garbage
// collection is about to delete — S3 CopyObject and UploadPartCopy racing
// the deletion of their source, OCI cross-repository mounts racing the
// deletion of the source's link, and re-uploads of content whose old copy
// is an orphan — while GC runs in a tight loop and every blob looks older
// than the grace window. Every write the server acknowledged must read back
// byte for byte, during the run and after a last collection (issue 11).
func TestReferencesRaceCollection(t *testing.T) {
	scale := 1
	if testing.Short() {
		scale = 0
	}
	if v, err := strconv.Atoi(os.Getenv("ARCA_TEST_GC_RACE_SCALE")); err == nil {
		scale = v
	}
	iterations := map[string]int{"s3-copy": 300, "s3-part-copy": 100, "oci-mount": 100, "raw-reupload": 100, "s3-reupload": 100, "maven-redeploy": 100,
		"go-republish": 50, "helm-reupload": 50}
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		r := newRacer(t, s)
		stop := make(chan struct{})
		var gcRuns atomic.Int64
		var gcWG sync.WaitGroup
		gcWG.Add(1)
		go func() {
			defer gcWG.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Collector().Run(context.Background(), false, nil); err != nil {
					t.Errorf("GC: %v", err)
					return
				}
				gcRuns.Add(1)
			}
		}()
		ops := map[string]func(i int) (ack, error){
			"s3-copy": r.s3Copy, "s3-part-copy": r.s3PartCopy, "oci-mount": r.ociMount,
			"raw-reupload": r.rawReupload, "s3-reupload": r.s3Reupload, "maven-redeploy": r.mavenRedeploy,
			"go-republish": r.goRepublish, "helm-reupload": r.helmReupload,
		}
		var acked []ack
		var mu sync.Mutex
		for name, op := range ops {
			n := max(iterations[name]*scale, 10)
			var wg sync.WaitGroup
			var next atomic.Int64
			refused := 0
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
						a, err := op(i)
						mu.Lock()
						if err != nil {
							refused++
						} else {
							acked = append(acked, a)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			t.Logf("%s: %d iterations, %d acknowledged, %d refused", name, n, n-refused, refused)
		}
		close(stop)
		gcWG.Wait()
		lost := r.verify(acked)
		if _, err := s.Collector().Run(context.Background(), false, nil); err != nil {
			t.Fatal(err)
		}
		lost += r.verify(acked)
		t.Logf("%d GC runs during the race; %d acknowledged writes checked twice; %d lost", gcRuns.Load(), len(acked), lost)
		if lost > 0 {
			t.Fatalf("%d acknowledged writes lost their bytes", lost)
		}
	})
}

// ack is an acknowledged write: where to read it and what it holds.
type ack struct {
	read    func() ([]byte, error)
	content []byte
	what    string
}

type racer struct {
	t  *testing.T
	s  *apptest.Server
	s3 *s3sdk.Client
}

func newRacer(t *testing.T, s *apptest.Server) *racer {
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "gc race test")
	if err != nil {
		t.Fatal(err)
	}
	c := s3sdk.New(s3sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
	return &racer{t: t, s: s, s3: c}
}

func content(what string, i int) []byte {
	b := make([]byte, 4096)
	rand.Read(b)
	return append([]byte(fmt.Sprintf("%s %d ", what, i)), b...)
}

// ageBlob makes content's blob look committed and last referenced two hours ago.
func (r *racer) ageBlob(c []byte) {
	h := digestHex(c)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(r.s.Config.BlobDir(), "blobs", "sha256", h[:2], h), old, old)
	r.s.DB.Exec(`UPDATE blobs SET touched_at = $1 WHERE digest = $2`, old.UnixMilli(), "sha256:"+h)
}

// jitter sleeps up to 3 ms, so that the racing requests interleave in
// every order.
func jitter() {
	n, _ := rand.Int(rand.Reader, big.NewInt(3000))
	time.Sleep(time.Duration(n.Int64()) * time.Microsecond)
}

// both runs a and b at the same time and returns a's error.
func both(a func() error, b func()) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); jitter(); b() }()
	err := a()
	wg.Wait()
	return err
}

func (r *racer) putObject(key string, c []byte) error {
	_, err := r.s3.PutObject(context.Background(), &s3sdk.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String(key), Body: bytes.NewReader(c)})
	return err
}

func (r *racer) deleteObject(key string) {
	r.s3.DeleteObject(context.Background(), &s3sdk.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String(key)})
}

func (r *racer) objectReader(key string) func() ([]byte, error) {
	return func() ([]byte, error) {
		out, err := r.s3.GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: aws.String("backups"), Key: aws.String(key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}
}

// expectedRefusal tells the refusals a race may cause (the source was gone)
// from failures.
func (r *racer) expectedRefusal(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return err
	}
	r.t.Errorf("%s: unexpected failure: %v", op, err)
	return err
}

func (r *racer) s3Copy(i int) (ack, error) {
	src, dst := fmt.Sprintf("race/src-%d", i), fmt.Sprintf("race/dst-%d", i)
	c := content("copy", i)
	if err := r.putObject(src, c); err != nil {
		r.t.Fatal(err)
	}
	r.ageBlob(c)
	err := both(func() error {
		_, err := r.s3.CopyObject(context.Background(), &s3sdk.CopyObjectInput{Bucket: aws.String("backups"), Key: aws.String(dst),
			CopySource: aws.String("backups/" + src)})
		return err
	}, func() { r.deleteObject(src) })
	if err != nil {
		return ack{}, r.expectedRefusal("CopyObject", err)
	}
	return ack{read: r.objectReader(dst), content: c, what: "copy " + dst}, nil
}

func (r *racer) s3PartCopy(i int) (ack, error) {
	ctx := context.Background()
	src, dst := fmt.Sprintf("race/psrc-%d", i), fmt.Sprintf("race/pdst-%d", i)
	c := content("part copy", i)
	if err := r.putObject(src, c); err != nil {
		r.t.Fatal(err)
	}
	r.ageBlob(c)
	mpu, err := r.s3.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(dst)})
	if err != nil {
		r.t.Fatal(err)
	}
	var etag *string
	err = both(func() error {
		out, err := r.s3.UploadPartCopy(ctx, &s3sdk.UploadPartCopyInput{Bucket: aws.String("backups"), Key: aws.String(dst),
			UploadId: mpu.UploadId, PartNumber: aws.Int32(1), CopySource: aws.String("backups/" + src)})
		if err == nil {
			etag = out.CopyPartResult.ETag
		}
		return err
	}, func() { r.deleteObject(src) })
	if err != nil {
		return ack{}, r.expectedRefusal("UploadPartCopy", err)
	}
	r.ageBlob(c) // the part's blob is old too when the upload completes
	_, err = r.s3.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(dst),
		UploadId: mpu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: etag}}}})
	if err != nil {
		r.t.Errorf("CompleteMultipartUpload: %v", err)
		return ack{}, err
	}
	return ack{read: r.objectReader(dst), content: c, what: "part copy " + dst}, nil
}

func (r *racer) ociMount(i int) (ack, error) {
	c := content("layer", i)
	d := "sha256:" + digestHex(c)
	src, dst := fmt.Sprintf("library/src-%d", i), fmt.Sprintf("library/dst-%d", i)
	if resp, body := r.s.Do(r.t, "POST", "/v2/"+src+"/blobs/uploads/?digest="+d, admin, bytes.NewReader(c)); resp.StatusCode != 201 {
		r.t.Fatalf("push = %d %s", resp.StatusCode, body)
	}
	r.ageBlob(c)
	var status int
	both(func() error {
		resp, _ := r.s.Do(r.t, "POST", "/v2/"+dst+"/blobs/uploads/?mount="+d+"&from="+src, admin, nil)
		status = resp.StatusCode
		return nil
	}, func() { r.s.Do(r.t, "DELETE", "/v2/"+src+"/blobs/"+d, admin, nil) })
	switch status {
	case http.StatusCreated:
	case http.StatusAccepted: // the source was gone: the client would upload
		return ack{}, errors.New("mount fell back to an upload")
	default:
		r.t.Errorf("mount = %d", status)
		return ack{}, errors.New("mount failed")
	}
	return ack{content: c, what: "mount " + dst, read: func() ([]byte, error) {
		resp, body := r.s.Do(r.t, "GET", "/v2/"+dst+"/blobs/"+d, admin, nil)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET = %d", resp.StatusCode)
		}
		return []byte(body), nil
	}}, nil
}

func (r *racer) rawReupload(i int) (ack, error) {
	c := content("raw", i)
	old, again := fmt.Sprintf("/raw/files/race/old-%d", i), fmt.Sprintf("/raw/files/race/new-%d", i)
	r.s.Do(r.t, "PUT", old, admin, bytes.NewReader(c))
	r.s.Do(r.t, "DELETE", old, admin, nil)
	r.ageBlob(c) // an old orphan: GC's to take
	jitter()
	resp, body := r.s.Do(r.t, "PUT", again, admin, bytes.NewReader(c))
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusServiceUnavailable: // collected while stored: not acknowledged
		return ack{}, errors.New(body)
	default:
		r.t.Errorf("re-upload = %d %s", resp.StatusCode, body)
		return ack{}, errors.New(body)
	}
	return ack{content: c, what: "raw " + again, read: func() ([]byte, error) {
		resp, body := r.s.Do(r.t, "GET", again, admin, nil)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET = %d", resp.StatusCode)
		}
		return []byte(body), nil
	}}, nil
}

// mavenRedeploy deploys a Maven file, deletes it, and deploys its bytes
// again at another version while GC may be collecting them.
func (r *racer) mavenRedeploy(i int) (ack, error) {
	c := content("maven", i)
	old := fmt.Sprintf("/maven/maven-hosted/race/lib/%d.0/lib-%d.0.jar", i, i)
	again := fmt.Sprintf("/maven/maven-hosted/race/lib/%d.1/lib-%d.1.jar", i, i)
	r.s.Do(r.t, "PUT", old, admin, bytes.NewReader(c))
	r.s.Do(r.t, "DELETE", old, admin, nil)
	r.ageBlob(c)
	jitter()
	resp, body := r.s.Do(r.t, "PUT", again, admin, bytes.NewReader(c))
	switch resp.StatusCode {
	case http.StatusCreated:
	case http.StatusServiceUnavailable:
		return ack{}, errors.New(body)
	default:
		r.t.Errorf("maven redeploy = %d %s", resp.StatusCode, body)
		return ack{}, errors.New(body)
	}
	return ack{content: c, what: "maven " + again, read: func() ([]byte, error) {
		resp, body := r.s.Do(r.t, "GET", again, admin, nil)
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET = %d", resp.StatusCode)
		}
		return []byte(body), nil
	}}, nil
}

func (r *racer) s3Reupload(i int) (ack, error) {
	c := content("object", i)
	old, again := fmt.Sprintf("race/old-%d", i), fmt.Sprintf("race/new-%d", i)
	if err := r.putObject(old, c); err != nil {
		r.t.Fatal(err)
	}
	r.deleteObject(old)
	r.ageBlob(c)
	jitter()
	if err := r.putObject(again, c); err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ServiceUnavailable" {
			return ack{}, err
		}
		r.t.Errorf("PutObject of an old orphan's content: %v", err)
		return ack{}, err
	}
	return ack{read: r.objectReader(again), content: c, what: "object " + again}, nil
}

// verify reads every acknowledged write back and returns how many differ.
func (r *racer) verify(acked []ack) int {
	lost := 0
	for _, a := range acked {
		got, err := a.read()
		if err != nil || !bytes.Equal(got, a.content) {
			lost++
			if lost <= 5 {
				r.t.Errorf("%s: read back %d bytes, %v; want %d bytes", a.what, len(got), err, len(a.content))
			}
		}
	}
	return lost
}
