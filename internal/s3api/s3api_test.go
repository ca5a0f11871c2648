package s3api_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// s3Server is an arca with its S3 listener and an admin key pair.
type s3Server struct {
	*apptest.Server
	S3URL        string
	KeyID        string
	Secret       string
	Client       *s3.Client
	TLSClient    *s3.Client // over HTTPS: the SDK then sends aws-chunked bodies with trailing checksums
	HTTPSURL     string
	HTTPSClient  *http.Client
	PlainHTTPURL string
}

func startS3(t *testing.T, dbURL string) *s3Server {
	t.Helper()
	return startS3With(t, dbURL, nil)
}

// startS3With starts a server whose configuration edit changes.
func startS3With(t *testing.T, dbURL string, edit func(*config.Config)) *s3Server {
	t.Helper()
	s := apptest.Start(t, dbURL, edit)
	ts := httptest.NewServer(s.S3Handler())
	tls := httptest.NewTLSServer(s.S3Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(tls.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := &s3Server{Server: s, S3URL: ts.URL, KeyID: k.ID, Secret: secret, HTTPSURL: tls.URL, HTTPSClient: tls.Client()}
	srv.Client = newClient(ts.URL, k.ID, secret, nil)
	srv.TLSClient = newClient(tls.URL, k.ID, secret, tls.Client())
	return srv
}

func newClient(url, id, secret string, hc *http.Client) *s3.Client {
	o := s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
	}
	if hc != nil {
		o.HTTPClient = hc
	}
	return s3.New(o)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want error %s", code)
	}
	if got := apiCode(err); got != code {
		t.Fatalf("error %v (code %q), want code %s", err, got, code)
	}
}

func randomData(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func get(t *testing.T, c *s3.Client, bucket, key string) []byte {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading %s/%s: %v", bucket, key, err)
	}
	return b
}

// nonSeekable hides a reader's Seek, so that the SDK must stream it.
type nonSeekable struct{ io.Reader }

func TestSDK(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dbURL := ""
			if db == "postgres" {
				dbURL = metatest.PostgresURL(t)
			}
			srv := startS3(t, dbURL)
			testBuckets(t, srv)
			testObjects(t, srv)
			testListing(t, srv)
			testMultipart(t, srv)
			testPresigned(t, srv)
			testErrors(t, srv)
		})
	}
}

func testBuckets(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	c := srv.Client
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("test-bucket")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	// In us-east-1, re-creating one's own bucket succeeds (S3's legacy region).
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("test-bucket")})
	if err != nil {
		t.Fatalf("re-creating one's own bucket in us-east-1: %v", err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("library")})
	wantCode(t, err, "BucketAlreadyExists")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	wantCode(t, err, "InvalidBucketName")
	hb, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("test-bucket")})
	if err != nil || aws.ToString(hb.BucketRegion) != "us-east-1" {
		t.Fatalf("HeadBucket: %v %+v", err, hb)
	}
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("ListBuckets: %v", err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	for _, want := range []string{"backups", "dvc-storage", "mlflow-artifacts", "test-bucket"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListBuckets = %v, lacks %s", names, want)
		}
	}
	if slices.Contains(names, "library") {
		t.Errorf("ListBuckets lists the OCI repository library: %v", names)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("test-bucket")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation = %+v, %v", loc, err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("doomed"), Key: aws.String("x"), Body: strings.NewReader("x")})
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("doomed")})
	wantCode(t, err, "BucketNotEmpty")
	c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("doomed"), Key: aws.String("x")})
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("doomed")}); err != nil {
		t.Fatalf("DeleteBucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("doomed")})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("HeadBucket of a deleted bucket: %v", err)
	}
}

func testObjects(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	b := aws.String("test-bucket")
	for name, c := range map[string]*s3.Client{"http": srv.Client, "https": srv.TLSClient} {
		for _, alg := range []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256} {
			for _, seekable := range []bool{true, false} {
				if !seekable && name == "http" {
					continue // the SDK streams unseekable bodies only over TLS
				}
				data := randomData(t, 300<<10+7)
				key := fmt.Sprintf("obj/%s-%s-%v", name, alg, seekable)
				var body io.Reader = bytes.NewReader(data)
				if !seekable {
					body = nonSeekable{body}
				}
				out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: &key, Body: body, ChecksumAlgorithm: alg,
					ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/x-test"),
					Metadata: map[string]string{"Color": "blue"}})
				if err != nil {
					t.Fatalf("PutObject %s: %v", key, err)
				}
				if aws.ToString(out.ETag) != `"`+md5Hex(data)+`"` {
					t.Fatalf("PutObject %s ETag %s, want md5 %s", key, aws.ToString(out.ETag), md5Hex(data))
				}
				if got := get(t, c, "test-bucket", key); !bytes.Equal(got, data) {
					t.Fatalf("GetObject %s: %d bytes that differ from the %d put", key, len(got), len(data))
				}
				head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("HeadObject: %v", err)
				}
				if aws.ToString(head.ContentType) != "application/x-test" || head.Metadata["color"] != "blue" || aws.ToInt64(head.ContentLength) != int64(len(data)) {
					t.Fatalf("HeadObject %s = type %q meta %v length %d", key, aws.ToString(head.ContentType), head.Metadata, aws.ToInt64(head.ContentLength))
				}
			}
		}
	}
	data := []byte("0123456789abcdefghij")
	if _, err := srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("small.txt"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	// Range.
	rg, err := srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("small.txt"), Range: aws.String("bytes=5-9")})
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rg.Body)
	rg.Body.Close()
	if string(part) != "56789" || aws.ToString(rg.ContentRange) != "bytes 5-9/20" {
		t.Fatalf("range read %q %q", part, aws.ToString(rg.ContentRange))
	}
	_, err = srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("small.txt"), Range: aws.String("bytes=50-60")})
	wantCode(t, err, "InvalidRange")
	// Conditional requests.
	etag := `"` + md5Hex(data) + `"`
	_, err = srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("small.txt"), IfNoneMatch: &etag})
	if err == nil || !strings.Contains(err.Error(), "304") {
		t.Fatalf("If-None-Match with the current ETag: %v, want 304", err)
	}
	_, err = srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("small.txt"), IfMatch: aws.String(`"nope"`)})
	wantCode(t, err, "PreconditionFailed")
	// Response overrides.
	ov, err := srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("small.txt"),
		ResponseContentType: aws.String("text/x-over"), ResponseContentDisposition: aws.String("attachment; filename=x")})
	if err != nil || aws.ToString(ov.ContentType) != "text/x-over" || aws.ToString(ov.ContentDisposition) != "attachment; filename=x" {
		t.Fatalf("response overrides: %v %+v", err, ov)
	}
	ov.Body.Close()
	// Conditional write.
	_, err = srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("small.txt"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	// Copy, keeping and replacing metadata.
	if _, err := srv.Client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy.txt"), CopySource: aws.String("test-bucket/small.txt")}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if got := get(t, srv.Client, "test-bucket", "copy.txt"); !bytes.Equal(got, data) {
		t.Fatalf("copy holds %q", got)
	}
	_, err = srv.Client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy.txt"), CopySource: aws.String("test-bucket/copy.txt")})
	wantCode(t, err, "InvalidRequest")
	if _, err := srv.Client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("copy.txt"), CopySource: aws.String("test-bucket/copy.txt"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}}); err != nil {
		t.Fatalf("CopyObject REPLACE: %v", err)
	}
	head, err := srv.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy.txt")})
	if err != nil || aws.ToString(head.ContentType) != "text/plain" || head.Metadata["k"] != "v" {
		t.Fatalf("after REPLACE: %v %+v", err, head)
	}
	// Delete.
	if _, err := srv.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("copy.txt")}); err != nil {
		t.Fatal(err)
	}
	_, err = srv.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("copy.txt")})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("HeadObject after delete: %v", err)
	}
	_, err = srv.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("copy.txt")})
	wantCode(t, err, "NoSuchKey")
	if _, err := srv.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("never-was")}); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
}

func testListing(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	c := srv.Client
	b := aws.String("list-bucket")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/1", "a/2", "a/sub/3", "b/1", "c", "d e/ü", "z"}
	for i := 0; i < 30; i++ {
		keys = append(keys, fmt.Sprintf("many/%03d", i))
	}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range out.CommonPrefixes {
		got = append(got, aws.ToString(p.Prefix))
	}
	for _, o := range out.Contents {
		got = append(got, aws.ToString(o.Key))
	}
	if want := []string{"a/", "b/", "d e/", "many/", "c", "z"}; !slices.Equal(got, want) {
		t.Fatalf("delimited listing = %v, want %v", got, want)
	}
	// Pagination, with and without a delimiter, with url encoding.
	for _, delim := range []string{"", "/"} {
		var all []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: b, MaxKeys: aws.Int32(4), Delimiter: aws.String(delim), EncodingType: types.EncodingTypeUrl})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Contents)+len(page.CommonPrefixes) > 4 {
				t.Fatalf("page of %d items with max-keys 4", len(page.Contents)+len(page.CommonPrefixes))
			}
			// The SDK leaves encoding-type=url values encoded.
			for _, o := range page.Contents {
				k, _ := url.QueryUnescape(aws.ToString(o.Key))
				all = append(all, k)
			}
			for _, cp := range page.CommonPrefixes {
				k, _ := url.QueryUnescape(aws.ToString(cp.Prefix))
				all = append(all, k)
			}
		}
		slices.Sort(all)
		want := slices.Clone(keys)
		if delim != "" {
			want = []string{"a/", "b/", "c", "d e/", "many/", "z"}
		}
		slices.Sort(want)
		if !slices.Equal(all, want) {
			t.Fatalf("paginated listing (delimiter %q) = %v\nwant %v", delim, all, want)
		}
	}
	// Prefix and start-after; ListObjects (v1) with marker.
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b, Prefix: aws.String("a/"), StartAfter: aws.String("a/1")})
	if err != nil || len(out.Contents) != 2 || aws.ToString(out.Contents[0].Key) != "a/2" {
		t.Fatalf("prefix + start-after: %v %+v", err, out.Contents)
	}
	v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b, Prefix: aws.String("many/"), Marker: aws.String("many/027")})
	if err != nil || len(v1.Contents) != 2 || aws.ToString(v1.Contents[0].Key) != "many/028" {
		t.Fatalf("ListObjects with marker: %v %+v", err, v1.Contents)
	}
	// DeleteObjects (the SDK sends a checksum header).
	var ids []types.ObjectIdentifier
	for _, k := range keys {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: ids}})
	if err != nil || len(del.Deleted) != len(keys) || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %v, %d deleted, errors %+v", err, len(del.Deleted), del.Errors)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b})
	if err != nil || len(out.Contents) != 0 {
		t.Fatalf("after DeleteObjects: %v %d keys", err, len(out.Contents))
	}
}

func testMultipart(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	b := aws.String("test-bucket")
	for _, tc := range []struct {
		name string
		c    *s3.Client
		alg  types.ChecksumAlgorithm
		typ  types.ChecksumType
	}{
		{"plain", srv.Client, "", ""},
		{"crc32-composite", srv.TLSClient, types.ChecksumAlgorithmCrc32, ""},
		{"crc64-full", srv.TLSClient, types.ChecksumAlgorithmCrc64nvme, types.ChecksumTypeFullObject},
		{"crc32c-full", srv.Client, types.ChecksumAlgorithmCrc32c, types.ChecksumTypeFullObject},
	} {
		key := aws.String("mp/" + tc.name)
		c := tc.c
		cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key, ChecksumAlgorithm: tc.alg, ChecksumType: tc.typ,
			ContentType: aws.String("application/x-mp"), Metadata: map[string]string{"m": "1"}})
		if err != nil {
			t.Fatalf("%s: CreateMultipartUpload: %v", tc.name, err)
		}
		parts := [][]byte{randomData(t, 5<<20), randomData(t, 5<<20+1), randomData(t, 1000)}
		var done []types.CompletedPart
		// Upload out of order, as parallel clients do.
		for _, i := range []int{2, 0, 1} {
			up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)),
				Body: bytes.NewReader(parts[i]), ChecksumAlgorithm: tc.alg})
			if err != nil {
				t.Fatalf("%s: UploadPart %d: %v", tc.name, i+1, err)
			}
			done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag,
				ChecksumCRC32: up.ChecksumCRC32, ChecksumCRC32C: up.ChecksumCRC32C, ChecksumCRC64NVME: up.ChecksumCRC64NVME})
		}
		slices.SortFunc(done, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
		lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: cr.UploadId})
		if err != nil || len(lp.Parts) != 3 {
			t.Fatalf("%s: ListParts: %v %+v", tc.name, err, lp)
		}
		lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b, Prefix: aws.String("mp/")})
		if err != nil || len(lu.Uploads) != 1 {
			t.Fatalf("%s: ListMultipartUploads: %v %+v", tc.name, err, lu)
		}
		// Out of order in Complete is refused.
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{done[1], done[0]}}})
		wantCode(t, err, "InvalidPartOrder")
		comp, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
		if err != nil {
			t.Fatalf("%s: CompleteMultipartUpload: %v", tc.name, err)
		}
		md5s := md5.New()
		for _, p := range parts {
			s := md5.Sum(p)
			md5s.Write(s[:])
		}
		if want := `"` + hex.EncodeToString(md5s.Sum(nil)) + `-3"`; aws.ToString(comp.ETag) != want {
			t.Fatalf("%s: ETag %s, want %s", tc.name, aws.ToString(comp.ETag), want)
		}
		whole := slices.Concat(parts...)
		if got := get(t, c, "test-bucket", *key); !bytes.Equal(got, whole) {
			t.Fatalf("%s: multipart object differs (%d bytes, want %d)", tc.name, len(got), len(whole))
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key, PartNumber: aws.Int32(2)})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(parts[1])) || aws.ToInt32(head.PartsCount) != 3 {
			t.Fatalf("%s: HeadObject part 2: %v %+v", tc.name, err, head)
		}
		if aws.ToString(head.ContentType) != "application/x-mp" || head.Metadata["m"] != "1" {
			t.Fatalf("%s: multipart object lost its headers: %+v", tc.name, head)
		}
		_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(4), Body: strings.NewReader("x")})
		wantCode(t, err, "NoSuchUpload")
	}
	// Abort, part numbers out of range, too-small parts, UploadPartCopy.
	key := aws.String("mp/other")
	cr, err := srv.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Client.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(10001), Body: strings.NewReader("x")})
	wantCode(t, err, "InvalidArgument")
	p1, _ := srv.Client.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("small")})
	p2, err := srv.Client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: key, UploadId: cr.UploadId, PartNumber: aws.Int32(2),
		CopySource: aws.String("test-bucket/small.txt"), CopySourceRange: aws.String("bytes=0-4")})
	if err != nil {
		t.Fatalf("UploadPartCopy: %v", err)
	}
	_, err = srv.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p1.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	wantCode(t, err, "EntityTooSmall")
	if _, err := srv.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b, Key: key, UploadId: cr.UploadId}); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	_, err = srv.Client.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: cr.UploadId})
	wantCode(t, err, "NoSuchUpload")
}

func testPresigned(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	ps := s3.NewPresignClient(srv.Client)
	put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("presigned/x y.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, put.URL, strings.NewReader("via a presigned URL"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %s %s", resp.Status, body)
	}
	getReq, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("presigned/x y.txt")},
		s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(getReq.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "via a presigned URL" {
		t.Fatalf("presigned GET: %s %s", resp.Status, body)
	}
	// Tampered and expired URLs are refused.
	resp, _ = http.Get(strings.Replace(getReq.URL, "presigned", "presigneD", 1))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered presigned URL: %d %s", resp.StatusCode, b)
	}
	old, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("presigned/x y.txt")},
		s3.WithPresignExpires(time.Second), func(o *s3.PresignOptions) {
			o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
				o.Retryer = aws.NopRetryer{}
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	resp, _ = http.Get(old.URL)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>AccessDenied</Code>") || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired presigned URL: %d %s", resp.StatusCode, b)
	}
}

func testErrors(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	bad := newClient(srv.S3URL, srv.KeyID, srv.Secret+"x", nil)
	_, err := bad.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	unknown := newClient(srv.S3URL, "NOSUCHKEY", srv.Secret, nil)
	_, err = unknown.ListBuckets(ctx, &s3.ListBucketsInput{})
	wantCode(t, err, "InvalidAccessKeyId")
	_, err = srv.Client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
	wantCode(t, err, "NoSuchBucket")
	// A wrong checksum stores nothing.
	_, err = srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("bad-sum"),
		Body: strings.NewReader("hello"), ChecksumCRC32: aws.String("AAAAAA==")})
	wantCode(t, err, "BadDigest")
	_, err = srv.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("bad-sum")})
	if err == nil {
		t.Fatal("an object with a wrong checksum was stored")
	}
	// A user without a role on a bucket is denied.
	if _, err := srv.Auth.CreateUser(ctx, "alice", "alice-password-1", "", ""); err != nil {
		t.Fatal(err)
	}
	k, secret, err := srv.Auth.CreateAccessKey(ctx, "alice", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	alice := newClient(srv.S3URL, k.ID, secret, nil)
	_, err = alice.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("test-bucket"), Key: aws.String("small.txt")})
	wantCode(t, err, "AccessDenied")
	_, err = alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alices")})
	wantCode(t, err, "AccessDenied")
	// Anything unsupported is 501 NotImplemented.
	_, err = srv.Client.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("test-bucket")})
	wantCode(t, err, "NotImplemented")
}
