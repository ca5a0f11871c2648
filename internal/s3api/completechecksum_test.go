package s3api_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// eachS3 runs fn against an S3 listener on SQLite and on PostgreSQL.
func eachS3(t *testing.T, fn func(t *testing.T, srv *s3Server)) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dbURL := ""
			if db == "postgres" {
				dbURL = metatest.PostgresURL(t)
			}
			fn(t, startS3(t, dbURL))
		})
	}
}

func mkBucket(t *testing.T, c *s3.Client, b string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &b}); err != nil {
		t.Fatalf("CreateBucket %s: %v", b, err)
	}
}

// mpUpload uploads data in parts (5 MiB but the last) with alg as the
// parts' checksum ("" for the SDK's default) and returns the upload ID and
// the completed parts.
func mpUpload(t *testing.T, c *s3.Client, b, key string, data []byte, create *s3.CreateMultipartUploadInput, alg types.ChecksumAlgorithm) (string, []types.CompletedPart) {
	t.Helper()
	ctx := context.Background()
	if create == nil {
		create = &s3.CreateMultipartUploadInput{}
	}
	create.Bucket, create.Key = &b, &key
	up, err := c.CreateMultipartUpload(ctx, create)
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []types.CompletedPart
	for i, n := 0, int32(1); i < len(data); i, n = i+5<<20, n+1 {
		chunk := data[i:min(i+5<<20, len(data))]
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: up.UploadId, PartNumber: aws.Int32(n),
			Body: bytes.NewReader(chunk), ChecksumAlgorithm: alg})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32,
			ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256, ChecksumCRC32C: out.ChecksumCRC32C})
	}
	return aws.ToString(up.UploadId), parts
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func crc32Of(b []byte) string {
	s := crc32.ChecksumIEEE(b)
	return b64([]byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
}

// TestCompleteChecksums is issue 24 defect 1: the x-amz-checksum-* header
// of CompleteMultipartUpload is checked against the assembled object (a
// full-object value) or the parts' checksums (a composite "<base64>-N"),
// and never against the XML body.
func TestCompleteChecksums(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "sums"
		mkBucket(t, c, b)
		data := randomData(t, 10<<20+1000)
		complete := func(key, id string, parts []types.CompletedPart, in s3.CompleteMultipartUploadInput) (*s3.CompleteMultipartUploadOutput, error) {
			in.Bucket, in.Key, in.UploadId = &b, &key, &id
			in.MultipartUpload = &types.CompletedMultipartUpload{Parts: parts}
			return c.CompleteMultipartUpload(ctx, &in)
		}

		// Full-object CRC32 on an upload created for it.
		full := crc32Of(data)
		id, parts := mpUpload(t, c, b, "full", data, &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ChecksumType: types.ChecksumTypeFullObject}, types.ChecksumAlgorithmCrc32)
		if _, err := complete("full", id, parts, s3.CompleteMultipartUploadInput{ChecksumCRC32: aws.String(crc32Of(data[1:])), ChecksumType: types.ChecksumTypeFullObject}); apiCode(err) != "BadDigest" {
			t.Fatalf("wrong full-object CRC32: %v, want BadDigest", err)
		}
		_, err := complete("full", id, parts, s3.CompleteMultipartUploadInput{MpuObjectSize: aws.Int64(int64(len(data) - 1))})
		wantCode(t, err, "InvalidRequest")
		out, err := complete("full", id, parts, s3.CompleteMultipartUploadInput{ChecksumCRC32: aws.String(full), ChecksumType: types.ChecksumTypeFullObject,
			MpuObjectSize: aws.Int64(int64(len(data)))})
		if err != nil {
			t.Fatalf("Complete with the right full-object CRC32: %v", err)
		}
		if aws.ToString(out.ChecksumCRC32) != full || out.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("result checksum %q %q, want %q FULL_OBJECT", aws.ToString(out.ChecksumCRC32), out.ChecksumType, full)
		}
		if got := get(t, c, b, "full"); !bytes.Equal(got, data) {
			t.Fatal("object differs from what was uploaded")
		}

		// Full-object CRC32 on an upload that declared no algorithm (the
		// SDK sends CRC32 with each part by default).
		id, parts = mpUpload(t, c, b, "plain", data, nil, "")
		if _, err := complete("plain", id, parts, s3.CompleteMultipartUploadInput{ChecksumCRC32: aws.String(full)}); err != nil {
			t.Fatalf("Complete with a full-object CRC32 of an upload without algorithm: %v", err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("plain"), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || aws.ToString(head.ChecksumCRC32) != full {
			t.Fatalf("HeadObject CRC32 = %v, %v; want %s", head, err, full)
		}

		// Composite SHA-256 and SHA-1: the checksum of the parts' checksums, with -N.
		for _, alg := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmSha1} {
			key := "composite-" + string(alg)
			id, parts := mpUpload(t, c, b, key, data, &s3.CreateMultipartUploadInput{ChecksumAlgorithm: alg}, alg)
			sum := sha256.New()
			if alg == types.ChecksumAlgorithmSha1 {
				sum = newSHA1()
			}
			for _, p := range parts {
				v := aws.ToString(p.ChecksumSHA256) + aws.ToString(p.ChecksumSHA1)
				raw, err := base64.StdEncoding.DecodeString(v)
				if err != nil || v == "" {
					t.Fatalf("part %d has no %s checksum (%q)", aws.ToInt32(p.PartNumber), alg, v)
				}
				sum.Write(raw)
			}
			want := fmt.Sprintf("%s-%d", b64(sum.Sum(nil)), len(parts))
			wrong := fmt.Sprintf("%s-%d", b64(sum.Sum(nil)), len(parts)+1)
			in := func(v string) s3.CompleteMultipartUploadInput {
				if alg == types.ChecksumAlgorithmSha1 {
					return s3.CompleteMultipartUploadInput{ChecksumSHA1: aws.String(v)}
				}
				return s3.CompleteMultipartUploadInput{ChecksumSHA256: aws.String(v)}
			}
			if _, err := complete(key, id, parts, in(wrong)); apiCode(err) != "BadDigest" {
				t.Fatalf("%s: wrong composite: %v, want BadDigest", alg, err)
			}
			out, err := complete(key, id, parts, in(want))
			if err != nil {
				t.Fatalf("%s: Complete with the composite checksum: %v", alg, err)
			}
			if got := aws.ToString(out.ChecksumSHA256) + aws.ToString(out.ChecksumSHA1); got != want || out.ChecksumType != types.ChecksumTypeComposite {
				t.Fatalf("%s: result checksum %q %s, want %q COMPOSITE", alg, got, out.ChecksumType, want)
			}
		}
	})
}

// TestMalformedChecksum is issue 24 defect 6: a checksum value that is
// base64 of the wrong length (a hex digest) is BadDigest, like a wrong one,
// and stores nothing.
func TestMalformedChecksum(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "malformed"
		mkBucket(t, c, b)
		body := []byte("some bytes")
		sum := sha256.Sum256(body)
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: bytes.NewReader(body),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(hex.EncodeToString(sum[:]))})
		wantCode(t, err, "BadDigest")
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")}); err == nil {
			t.Fatal("an object with a malformed checksum was stored")
		}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: bytes.NewReader(body),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(b64(sum[:]))}); err != nil {
			t.Fatalf("the right checksum: %v", err)
		}
	})
}

func newSHA1() hash.Hash { return sha1.New() }
