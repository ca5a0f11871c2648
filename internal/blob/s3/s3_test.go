package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/blob/blobtest"
	"github.com/arcaproject/arca/internal/blob/s3"
	"github.com/arcaproject/arca/internal/config"
)

// upstream starts a second arca whose S3 API holds the driver's bucket,
// and returns a config for it.
func upstream(t *testing.T) s3.Config {
	t.Helper()
	srv := apptest.Start(t, "", nil)
	ts := httptest.NewServer(srv.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := srv.Auth.CreateAccessKey(context.Background(), "admin", "", "", "blob driver test")
	if err != nil {
		t.Fatal(err)
	}
	client := s3sdk.New(s3sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
	if _, err := client.CreateBucket(context.Background(), &s3sdk.CreateBucketInput{Bucket: aws.String("arca-blobs")}); err != nil {
		t.Fatal(err)
	}
	return s3.Config{Endpoint: ts.URL, Bucket: "arca-blobs", Region: "us-east-1", AccessKey: k.ID, SecretKey: secret,
		PathStyle: true, PartSize: 5 << 20}
}

// TestConformance runs the blob driver suite against another arca's S3 API,
// each case under its own prefix of one bucket.
func TestConformance(t *testing.T) {
	cfg := upstream(t)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		c := cfg
		c.Prefix = fmt.Sprintf("case-%d", n.Add(1))
		d, err := s3.New(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestLargeBlobs covers what the suite's small blobs do not: a blob of
// several segments assembled with server-side copies, and a resumed write
// whose small segments are re-chunked into parts.
func TestLargeBlobs(t *testing.T) {
	cfg := upstream(t)
	d, err := s3.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := blob.New(d, nil)
	ctx := context.Background()
	data := make([]byte, 12<<20+5)
	rand.Read(data)
	sum := sha256.Sum256(data)
	info, err := store.Put(ctx, bytes.NewReader(data), blob.Expect{Digest: blob.FromSum(sum[:])}, blob.MD5)
	if err != nil {
		t.Fatalf("Put of 12 MiB: %v", err)
	}
	readBack(t, store, info.Digest, data)

	data2 := make([]byte, 11<<20)
	rand.Read(data2)
	w, err := store.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data2); off += 3 << 20 {
		w.Write(data2[off:min(off+3<<20, len(data2))])
		st, err := w.Suspend(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if w, err = store.Resume(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	sum2 := sha256.Sum256(data2)
	info2, err := w.Commit(ctx, blob.Expect{Digest: blob.FromSum(sum2[:])})
	if err != nil {
		t.Fatalf("Commit of a resumed write: %v", err)
	}
	readBack(t, store, info2.Digest, data2)
}

func readBack(t *testing.T, s *blob.Store, d blob.Digest, want []byte) {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(want))
	}
}

// TestArcaOnS3 runs a whole arca on the S3 driver (blob.driver: s3) whose
// bucket is another arca's.
func TestArcaOnS3(t *testing.T) {
	cfg := upstream(t)
	srv := apptest.Start(t, "", func(c *config.Config) {
		c.Blob.Driver = "s3"
		c.Blob.S3 = config.BlobS3{Endpoint: cfg.Endpoint, Bucket: cfg.Bucket, Region: cfg.Region, Prefix: "arca2",
			AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, PathStyle: true, PartSize: 5 << 20}
	})
	if resp, body := srv.Do(t, "PUT", "/raw/files/dir/a.txt", apptest.Admin, strings.NewReader("stored in S3")); resp.StatusCode != 201 {
		t.Fatalf("upload: %s %s", resp.Status, body)
	}
	if resp, body := srv.Do(t, "GET", "/raw/files/dir/a.txt", apptest.Admin, nil); resp.StatusCode != 200 || body != "stored in S3" {
		t.Fatalf("download: %s %q", resp.Status, body)
	}
	if resp, body := srv.Do(t, "GET", "/readyz", "", nil); resp.StatusCode != 200 {
		t.Fatalf("readyz: %s %s", resp.Status, body)
	}
}
