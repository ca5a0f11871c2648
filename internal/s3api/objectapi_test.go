package s3api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/s3api"
)

// The object API writes what an S3 PUT writes: same blob, same limits,
// an ETag without an MD5; and its objects are ordinary objects to S3
// clients.
func TestObjectAPI(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			url := ""
			if db == "postgres" {
				url = metatest.PostgresURL(t)
			}
			srv := startS3(t, url)
			testObjectAPI(t, srv)
		})
	}
}

func testObjectAPI(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	objs := srv.S3.Objects()
	data := randomData(t, 300<<10)
	info, err := objs.Put(ctx, "mlflow-artifacts", "api/a.bin", bytes.NewReader(data), int64(len(data)), "")
	if err != nil {
		t.Fatal(err)
	}
	// No MD5 is computed: the ETag is opaque (half the SHA-256, with a
	// one-part suffix that tells clients it is no MD5).
	sum := sha256.Sum256(data)
	if info.ETag != hex.EncodeToString(sum[:16])+"-1" || info.Size != int64(len(data)) || info.ContentType != "binary/octet-stream" {
		t.Fatalf("put: %+v", info)
	}
	// The same bytes through S3 are the same blob, with S3's MD5 ETag.
	out, err := srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mlflow-artifacts"), Key: aws.String("s3/a.bin"), Body: bytes.NewReader(data)})
	if err != nil || aws.ToString(out.ETag) != `"`+md5Hex(data)+`"` {
		t.Fatalf("S3 put: %v %v", err, aws.ToString(out.ETag))
	}
	head, err := srv.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mlflow-artifacts"), Key: aws.String("api/a.bin"),
		ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(data)) || aws.ToString(head.ETag) != `"`+info.ETag+`"` ||
		aws.ToString(head.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("S3 head of an API object: %v %+v", err, head)
	}
	var digests int
	srv.DB.QueryRowContext(ctx, `SELECT COUNT(DISTINCT digest) FROM s3_objects WHERE key IN ('api/a.bin', 's3/a.bin')`).Scan(&digests)
	if digests != 1 {
		t.Fatalf("the same bytes are %d blobs", digests)
	}
	// Unknown sizes stream too; a known size must match.
	if _, err := objs.Put(ctx, "mlflow-artifacts", "api/b.txt", strings.NewReader("bbb"), -1, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.Put(ctx, "mlflow-artifacts", "api/short", strings.NewReader("abc"), 4, ""); err == nil {
		t.Fatal("a body shorter than its size was stored")
	}
	_, rd, err := objs.Open(ctx, "mlflow-artifacts", "api/a.bin")
	if err != nil {
		t.Fatal(err)
	}
	rd.Seek(1000, io.SeekStart)
	part := make([]byte, 10)
	io.ReadFull(rd, part)
	rd.Close()
	if !bytes.Equal(part, data[1000:1010]) {
		t.Fatal("seek and read")
	}
	page, err := objs.List(ctx, "mlflow-artifacts", "", "/", "", 1)
	if err != nil || len(page.Prefixes) != 1 || page.Prefixes[0] != "api/" || page.Next != "api/" {
		t.Fatalf("list page 1: %v %+v", err, page)
	}
	page, err = objs.List(ctx, "mlflow-artifacts", "", "/", page.Next, 10)
	if err != nil || len(page.Prefixes) != 1 || page.Prefixes[0] != "s3/" || page.Next != "" {
		t.Fatalf("list page 2: %v %+v", err, page)
	}
	if ok, err := objs.Delete(ctx, "mlflow-artifacts", "api/b.txt"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if _, err := objs.Stat(ctx, "mlflow-artifacts", "api/b.txt"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("stat deleted: %v", err)
	}
	if _, err := objs.Put(ctx, "no-such-bucket", "k", strings.NewReader("x"), 1, ""); errs.CodeOf(err) != "NoSuchBucket" {
		t.Fatalf("missing bucket: %v", err)
	}
	if _, err := objs.Put(ctx, "mlflow-artifacts", "", strings.NewReader("x"), 1, ""); !errs.Is(err, errs.Invalid) {
		t.Fatalf("empty key: %v", err)
	}

	// Multipart: S3's ETag and part rules.
	id, err := objs.CreateUpload(ctx, "mlflow-artifacts", "api/mp.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := randomData(t, 5<<20), randomData(t, 10)
	e1, err := objs.UploadPart(ctx, "mlflow-artifacts", id, 1, bytes.NewReader(p1), int64(len(p1)))
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := objs.UploadPart(ctx, "mlflow-artifacts", id, 2, bytes.NewReader(p2), -1)
	if _, err := objs.CompleteUpload(ctx, "mlflow-artifacts", "api/other.bin", id, []s3api.CompletedPart{{Number: 1, ETag: e1}}); errs.CodeOf(err) != "NoSuchUpload" {
		t.Fatalf("complete under another key: %v", err)
	}
	if _, err := objs.CompleteUpload(ctx, "mlflow-artifacts", "api/mp.bin", id, []s3api.CompletedPart{{Number: 1, ETag: e1}, {Number: 1, ETag: e1}}); errs.CodeOf(err) != "InvalidPartOrder" {
		t.Fatalf("parts out of order: %v", err)
	}
	mp, err := objs.CompleteUpload(ctx, "mlflow-artifacts", "api/mp.bin", id, []s3api.CompletedPart{{Number: 1, ETag: `"` + e1 + `"`}, {Number: 2, ETag: e2}})
	if err != nil || !strings.HasSuffix(mp.ETag, "-2") || mp.Size != int64(len(p1)+len(p2)) {
		t.Fatalf("complete: %v %+v", err, mp)
	}
	got := get(t, srv.Client, "mlflow-artifacts", "api/mp.bin")
	if !bytes.Equal(got, append(p1, p2...)) {
		t.Fatal("assembled object differs")
	}
	id, _ = objs.CreateUpload(ctx, "mlflow-artifacts", "api/small.bin", "")
	e1, _ = objs.UploadPart(ctx, "mlflow-artifacts", id, 1, strings.NewReader("tiny"), 4)
	e2, _ = objs.UploadPart(ctx, "mlflow-artifacts", id, 2, strings.NewReader("tiny"), 4)
	if _, err := objs.CompleteUpload(ctx, "mlflow-artifacts", "api/small.bin", id, []s3api.CompletedPart{{Number: 1, ETag: e1}, {Number: 2, ETag: e2}}); errs.CodeOf(err) != "EntityTooSmall" {
		t.Fatalf("small first part: %v", err)
	}
	if err := objs.AbortUpload(ctx, "mlflow-artifacts", "api/small.bin", id); err != nil {
		t.Fatal(err)
	}
	if _, err := objs.UploadPart(ctx, "mlflow-artifacts", id, 3, strings.NewReader("x"), 1); errs.CodeOf(err) != "NoSuchUpload" {
		t.Fatalf("part after abort: %v", err)
	}
}

// The object API keeps the S3 listener's upload limit.
func TestObjectAPILimit(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) { c.Limits.MaxUploadBytes = 1000 })
	objs := s.S3.Objects()
	ctx := context.Background()
	for _, size := range []int64{2000, -1} {
		_, err := objs.Put(ctx, "mlflow-artifacts", "big", bytes.NewReader(make([]byte, 2000)), size, "")
		if !errs.Is(err, errs.TooLarge) {
			t.Fatalf("size %d over the limit: %v", size, err)
		}
	}
	if _, err := objs.Stat(ctx, "mlflow-artifacts", "big"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("an upload over the limit was stored: %v", err)
	}
	id, _ := objs.CreateUpload(ctx, "mlflow-artifacts", "big", "")
	if _, err := objs.UploadPart(ctx, "mlflow-artifacts", id, 1, bytes.NewReader(make([]byte, 2000)), -1); !errs.Is(err, errs.TooLarge) {
		t.Fatalf("part over the limit: %v", err)
	}
}
