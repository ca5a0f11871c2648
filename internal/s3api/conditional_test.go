package s3api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func exists(t *testing.T, c *s3.Client, b, key string) bool {
	t.Helper()
	_, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &b, Key: &key})
	return err == nil
}

// TestConditionalDeletes is issue 24 defect 2: DeleteObject honours
// If-Match, x-amz-if-match-size and x-amz-if-match-last-modified-time, and
// DeleteObjects each key's ETag, Size and LastModifiedTime, with a per-key
// PreconditionFailed; a failed condition deletes nothing.
func TestConditionalDeletes(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "conddel"
		mkBucket(t, c, b)
		put := func(key string) *s3.HeadObjectOutput {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: &key, Body: strings.NewReader("abc")}); err != nil {
				t.Fatal(err)
			}
			h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &key})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		h := put("k")
		del := func(in s3.DeleteObjectInput) error {
			in.Bucket, in.Key = &b, aws.String("k")
			_, err := c.DeleteObject(ctx, &in)
			return err
		}
		later := h.LastModified.Add(time.Hour)
		for name, in := range map[string]s3.DeleteObjectInput{
			"If-Match":                          {IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)},
			"x-amz-if-match-size":               {IfMatchSize: aws.Int64(4)},
			"x-amz-if-match-last-modified-time": {IfMatchLastModifiedTime: &later},
			"all but one":                       {IfMatch: h.ETag, IfMatchSize: aws.Int64(3), IfMatchLastModifiedTime: &later},
		} {
			wantCode(t, del(in), "PreconditionFailed")
			if !exists(t, c, b, "k") {
				t.Fatalf("%s: a failed condition deleted the object", name)
			}
		}
		// A version that does not exist: nothing is deleted (and S3 answers 204).
		if err := del(s3.DeleteObjectInput{VersionId: aws.String("3HL4kqtJlcpXroDTDmJ")}); err != nil || !exists(t, c, b, "k") {
			t.Fatalf("deleting a version that does not exist: %v", err)
		}
		wantCode(t, del(s3.DeleteObjectInput{VersionId: aws.String("null"), IfMatch: h.ETag}), "NotImplemented")
		if err := del(s3.DeleteObjectInput{IfMatch: h.ETag, IfMatchSize: aws.Int64(3), IfMatchLastModifiedTime: h.LastModified}); err != nil {
			t.Fatalf("conditions that hold: %v", err)
		}
		if exists(t, c, b, "k") {
			t.Fatal("the object is still there")
		}
		wantCode(t, del(s3.DeleteObjectInput{IfMatch: h.ETag}), "NoSuchKey")

		// DeleteObjects: per-key conditions.
		ha, hb, hc, hd := put("a"), put("b"), put("c"), put("d")
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("a"), ETag: aws.String(`"ffffffffffffffffffffffffffffffff"`)},
			{Key: aws.String("b"), ETag: hb.ETag, Size: aws.Int64(3), LastModifiedTime: hb.LastModified},
			{Key: aws.String("c"), Size: aws.Int64(99)},
			{Key: aws.String("d"), VersionId: aws.String("3HL4kqtJlcpXroDTDmJ")},
		}}})
		if err != nil {
			t.Fatalf("DeleteObjects: %v", err)
		}
		_, _, _ = ha, hc, hd
		errsByKey := map[string]string{}
		for _, e := range out.Errors {
			errsByKey[aws.ToString(e.Key)] = aws.ToString(e.Code)
		}
		if errsByKey["a"] != "PreconditionFailed" || errsByKey["c"] != "PreconditionFailed" || len(out.Errors) != 2 || len(out.Deleted) != 2 {
			t.Fatalf("DeleteObjects: errors %v, deleted %d", errsByKey, len(out.Deleted))
		}
		for key, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
			if exists(t, c, b, key) != want {
				t.Errorf("after DeleteObjects, %s exists = %v, want %v", key, !want, want)
			}
		}
	})
}

// TestConditionalWrites is issue 24 defect 3: If-None-Match with ETags
// and If-Match on PutObject and CompleteMultipartUpload, with 412, checked
// in the write's transaction (of concurrent If-None-Match: * writes of one
// key, exactly one succeeds).
func TestConditionalWrites(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "condput"
		mkBucket(t, c, b)
		put := func(key, body string, in s3.PutObjectInput) (string, error) {
			in.Bucket, in.Key, in.Body = &b, &key, strings.NewReader(body)
			out, err := c.PutObject(ctx, &in)
			if err != nil {
				return "", err
			}
			return aws.ToString(out.ETag), nil
		}
		etag, err := put("k", "one", s3.PutObjectInput{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = put("k", "two", s3.PutObjectInput{IfNoneMatch: aws.String(etag)})
		wantCode(t, err, "PreconditionFailed")
		_, err = put("k", "two", s3.PutObjectInput{IfMatch: aws.String(`"00000000000000000000000000000000"`)})
		wantCode(t, err, "PreconditionFailed")
		_, err = put("missing", "two", s3.PutObjectInput{IfMatch: aws.String(etag)})
		wantCode(t, err, "NoSuchKey")
		if exists(t, c, b, "missing") {
			t.Fatal("If-Match on a missing key stored it")
		}
		if got := string(get(t, c, b, "k")); got != "one" {
			t.Fatalf("failed conditions replaced the object: %q", got)
		}
		etag2, err := put("k", "two", s3.PutObjectInput{IfNoneMatch: aws.String(`"00000000000000000000000000000000"`)})
		if err != nil {
			t.Fatalf("If-None-Match of another ETag: %v", err)
		}
		if _, err := put("k", "three", s3.PutObjectInput{IfMatch: aws.String(etag2)}); err != nil {
			t.Fatalf("If-Match of the current ETag: %v", err)
		}

		// CompleteMultipartUpload: a failed condition leaves the upload to retry.
		data := randomData(t, 6<<20)
		id, parts := mpUpload(t, c, b, "k", data, nil, "")
		cur, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		complete := func(in s3.CompleteMultipartUploadInput) error {
			in.Bucket, in.Key, in.UploadId = &b, aws.String("k"), &id
			in.MultipartUpload = &types.CompletedMultipartUpload{Parts: parts}
			_, err := c.CompleteMultipartUpload(ctx, &in)
			return err
		}
		wantCode(t, complete(s3.CompleteMultipartUploadInput{IfNoneMatch: aws.String("*")}), "PreconditionFailed")
		wantCode(t, complete(s3.CompleteMultipartUploadInput{IfMatch: aws.String(etag2)}), "PreconditionFailed")
		if err := complete(s3.CompleteMultipartUploadInput{IfMatch: cur.ETag}); err != nil {
			t.Fatalf("Complete with If-Match of the current ETag: %v", err)
		}
		if got := get(t, c, b, "k"); len(got) != len(data) {
			t.Fatalf("completed object has %d bytes", len(got))
		}

		// Concurrent creations with If-None-Match: *: exactly one wins.
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = put("race", fmt.Sprint("body ", i), s3.PutObjectInput{IfNoneMatch: aws.String("*")})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range results {
			switch code := apiCode(err); {
			case err == nil:
				won++
			case code != "PreconditionFailed" && code != "ConditionalRequestConflict":
				t.Errorf("a losing If-None-Match: * write: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent If-None-Match: * writes succeeded, want 1", won)
		}
	})
}
