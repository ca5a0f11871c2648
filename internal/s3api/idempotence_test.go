package s3api_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/config"
)

// TestIdempotence is issue 24 defect 5: re-creating one's own bucket
// (200 in us-east-1, BucketAlreadyOwnedByYou elsewhere), completing a
// completed upload again (200, the same result, while the key holds that
// upload's object), and a part uploaded twice concurrently, listed twice
// in the order the uploads finished.
func TestIdempotence(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "again"
		mkBucket(t, c, b)
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b}); err != nil {
			t.Fatalf("re-creating one's own bucket in us-east-1: %v", err)
		}

		data := randomData(t, 6<<20)
		id, parts := mpUpload(t, c, b, "k", data, &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}, types.ChecksumAlgorithmCrc32)
		complete := func(id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
			return c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: &id,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		}
		first, err := complete(id, parts)
		if err != nil {
			t.Fatal(err)
		}
		again, err := complete(id, parts)
		if err != nil {
			t.Fatalf("completing a completed upload again: %v", err)
		}
		if aws.ToString(again.ETag) != aws.ToString(first.ETag) || aws.ToString(again.ChecksumCRC32) != aws.ToString(first.ChecksumCRC32) ||
			aws.ToString(again.Location) != aws.ToString(first.Location) || aws.ToString(again.ChecksumCRC32) == "" {
			t.Fatalf("second Complete answered %+v, first %+v", again, first)
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: bytes.NewReader([]byte("other"))}); err != nil {
			t.Fatal(err)
		}
		_, err = complete(id, parts)
		wantCode(t, err, "NoSuchUpload")

		// Part 1 uploaded twice; the upload that finished last (A) is the
		// part, and the client lists both ETags in finishing order.
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		var listed []types.CompletedPart
		for _, body := range []string{"BBBBBBBB", "AAAAAAAA"} {
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte(body))})
			if err != nil {
				t.Fatal(err)
			}
			listed = append(listed, types.CompletedPart{PartNumber: aws.Int32(1), ETag: out.ETag})
		}
		if _, err := complete(aws.ToString(up.UploadId), listed); err != nil {
			t.Fatalf("Complete listing part 1 twice: %v", err)
		}
		if got := string(get(t, c, b, "k")); got != "AAAAAAAA" {
			t.Fatalf("object = %q, want the part that finished last", got)
		}
	})
}

// TestBucketAlreadyOwnedElsewhere: outside us-east-1, re-creating one's
// own bucket is BucketAlreadyOwnedByYou, as S3 answers.
func TestBucketAlreadyOwnedElsewhere(t *testing.T) {
	srv := startS3With(t, "", func(c *config.Config) { c.S3.Region = "eu-west-1" })
	ctx := context.Background()
	mkBucket(t, srv.Client, "mine")
	_, err := srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mine")})
	wantCode(t, err, "BucketAlreadyOwnedByYou")
}
