package s3api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/blob"
)

// TestGetObjectMissingBlob deletes an object's blob behind arca's back: a
// GET answers a whole S3 error document (500 InternalError), never the
// object's headers with a truncated body.
func TestGetObjectMissingBlob(t *testing.T) {
	srv := startS3(t, "")
	ctx := context.Background()
	data := bytes.Repeat([]byte("lost content "), 3000) // past blob.inline_max: in the blob store, not the database
	if _, err := srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lost")}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lost"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if err := srv.Blobs.Delete(ctx, blob.FromSum(sum[:])); err != nil {
		t.Fatal(err)
	}
	ps := s3.NewPresignClient(srv.Client)
	for _, rng := range []string{"", "bytes=10-99"} {
		u, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lost"), Key: aws.String("k")}, s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, u.URL, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("range %q: reading the error body: %v (Content-Length %s)", rng, err, resp.Header.Get("Content-Length"))
		}
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "<Code>InternalError</Code>") {
			t.Fatalf("range %q: %s %s", rng, resp.Status, body)
		}
		if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
			t.Fatalf("range %q: Content-Length %s for a %d-byte error body", rng, cl, len(body))
		}
		if resp.Header.Get("Content-Range") != "" || resp.Header.Get("ETag") != "" {
			t.Fatalf("range %q: the error carries the object's headers: %v", rng, resp.Header)
		}
	}
	_, err := srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lost"), Key: aws.String("k")})
	wantCode(t, err, "InternalError")
}
