package s3api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
)

// TestListVersionsResumeAfterDeleted is what cleanup tools do: list a
// page of versions, delete them, and ask for the next page with the
// markers of the page — which name a version that is gone. The listing
// goes on where it was, so that every version is deleted, in versioned
// and unversioned buckets.
func TestListVersionsResumeAfterDeleted(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		for _, versioned := range []bool{true, false} {
			b := fmt.Sprintf("resume-%v", versioned)
			mkBucket(t, c, b)
			if versioned {
				if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
					VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
					t.Fatal(err)
				}
			}
			want := 0
			for _, key := range []string{"a", "b", "c"} {
				for i := 0; i < 3; i++ {
					if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String(key), Body: strings.NewReader(fmt.Sprint(i))}); err != nil {
						t.Fatal(err)
					}
					if versioned || i == 0 {
						want++
					}
				}
			}
			in := &s3.ListObjectVersionsInput{Bucket: &b, MaxKeys: aws.Int32(2)}
			deleted := map[string]bool{}
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("listing does not end")
				}
				out, err := c.ListObjectVersions(ctx, in)
				if err != nil {
					t.Fatalf("page %d after %s/%s: %v", pages, aws.ToString(in.KeyMarker), aws.ToString(in.VersionIdMarker), err)
				}
				var objs []types.ObjectIdentifier
				for _, v := range out.Versions {
					id := aws.ToString(v.Key) + "@" + aws.ToString(v.VersionId)
					if deleted[id] {
						t.Fatalf("%s listed again after it was deleted", id)
					}
					deleted[id] = true
					objs = append(objs, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
				}
				if len(objs) > 0 {
					if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)}}); err != nil {
						t.Fatal(err)
					}
				}
				if !aws.ToBool(out.IsTruncated) {
					break
				}
				in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
			}
			if len(deleted) != want {
				ids := make([]string, 0, len(deleted))
				for id := range deleted {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				t.Fatalf("versioned=%v: deleted %d versions %v, want %d", versioned, len(deleted), ids, want)
			}
			if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b}); err != nil {
				t.Fatalf("versioned=%v: DeleteBucket after deleting every listed version: %v", versioned, err)
			}
		}
		// A version-id-marker of no known form is still refused.
		b := "resume-bad"
		mkBucket(t, c, b)
		_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &b, KeyMarker: aws.String("a"), VersionIdMarker: aws.String("not-a-version")})
		wantCode(t, err, "InvalidArgument")
	})
}

// TestListBucketsOwned is ListBuckets as in S3: a user lists the buckets
// it owns (and, in arca, those it was granted a role on), not every
// bucket its global role reaches, so that cleanup tools that delete what
// they list touch only their own; max-buckets pages the list.
func TestListBucketsOwned(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		alice := userClient(t, srv, "alice", auth.Developer)
		bob := userClient(t, srv, "bob", auth.Developer)
		carol := userClient(t, srv, "carol", auth.NoRole)
		for _, b := range []string{"alice-1", "alice-2", "alice-3"} {
			mkBucket(t, alice, b)
		}
		mkBucket(t, bob, "bob-1")
		rp, err := srv.Repos.Get(ctx, "alice-2")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Auth.Grant(ctx, "carol", rp.ID, auth.Reader); err != nil {
			t.Fatal(err)
		}
		names := func(c *s3.Client, in *s3.ListBucketsInput) ([]string, string) {
			t.Helper()
			out, err := c.ListBuckets(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, b := range out.Buckets {
				n = append(n, aws.ToString(b.Name))
			}
			return n, aws.ToString(out.ContinuationToken)
		}
		// bob's global developer role reaches alice's buckets, but they
		// are alice's: bob lists his own and the configured ones.
		if got, _ := names(bob, &s3.ListBucketsInput{Prefix: aws.String("alice")}); len(got) != 0 {
			t.Errorf("bob lists alice's buckets: %v", got)
		}
		if got, _ := names(bob, &s3.ListBucketsInput{}); !contains(got, "bob-1") || contains(got, "alice-1") {
			t.Errorf("bob lists %v", got)
		}
		if got, _ := names(carol, &s3.ListBucketsInput{}); fmt.Sprint(got) != "[alice-2]" {
			t.Errorf("carol, a reader of alice-2, lists %v", got)
		}
		if got, _ := names(srv.Client, &s3.ListBucketsInput{Prefix: aws.String("")}); !contains(got, "alice-1") || !contains(got, "bob-1") {
			t.Errorf("the admin lists %v", got)
		}
		// Pages of one bucket.
		var all []string
		in := &s3.ListBucketsInput{MaxBuckets: aws.Int32(1), Prefix: aws.String("alice-")}
		for i := 0; ; i++ {
			got, token := names(alice, in)
			all = append(all, got...)
			if token == "" {
				break
			}
			if i > 5 {
				t.Fatal("pages do not end")
			}
			in.ContinuationToken = aws.String(token)
		}
		if fmt.Sprint(all) != "[alice-1 alice-2 alice-3]" {
			t.Errorf("alice's pages: %v", all)
		}
		_, err = alice.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(0)})
		wantCode(t, err, "InvalidArgument")
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestPartChecksums: a multipart object keeps its parts' checksums, so
// GetObject of one part (with checksum mode) and GetObjectAttributes
// report each part's checksum and the object's checksum type; a checksum
// value that is not base64 at all is BadDigest on PutObject.
func TestPartChecksums(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "partsums"
		mkBucket(t, c, b)
		data := bytes.Repeat([]byte("0123456789abcdef"), (11<<20)/16) // 3 parts
		for _, typ := range []types.ChecksumType{types.ChecksumTypeFullObject, types.ChecksumTypeComposite} {
			key := "obj-" + string(typ)
			id, parts := mpUpload(t, c, b, key, data, &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, ChecksumType: typ},
				types.ChecksumAlgorithmCrc32)
			if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: &id,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
				t.Fatalf("%s: Complete: %v", typ, err)
			}
			for i, p := range parts {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key, PartNumber: aws.Int32(int32(i + 1)), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("%s: GET part %d: %v", typ, i+1, err)
				}
				out.Body.Close()
				if aws.ToString(out.ChecksumCRC32) != aws.ToString(p.ChecksumCRC32) || out.ChecksumType != typ {
					t.Errorf("%s: GET part %d: checksum %q type %q, want %q %q", typ, i+1, aws.ToString(out.ChecksumCRC32), out.ChecksumType,
						aws.ToString(p.ChecksumCRC32), typ)
				}
			}
			attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: &key,
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesChecksum}})
			if err != nil {
				t.Fatal(err)
			}
			if attrs.ObjectParts == nil || len(attrs.ObjectParts.Parts) != len(parts) || attrs.Checksum == nil || attrs.Checksum.ChecksumType != typ {
				t.Fatalf("%s: attributes %+v", typ, attrs)
			}
			for i, p := range attrs.ObjectParts.Parts {
				if aws.ToString(p.ChecksumCRC32) != aws.ToString(parts[i].ChecksumCRC32) {
					t.Errorf("%s: attributes of part %d: checksum %q, want %q", typ, i+1, aws.ToString(p.ChecksumCRC32), aws.ToString(parts[i].ChecksumCRC32))
				}
			}
		}
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("bad"), Body: strings.NewReader("x"),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String("bad")})
		wantCode(t, err, "BadDigest")
	})
}

// TestPresignedExpiryAndPreflight: a presigned URL whose X-Amz-Expires is
// negative or longer than a week is AccessDenied (403), as S3 answers; an
// OPTIONS (CORS preflight) is 400 without an Origin and 403 with one
// (arca configures no CORS rules). ListObjects (V1) returns its Prefix as
// sent even with encoding-type=url.
func TestPresignedExpiryAndPreflight(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "expiry"
		mkBucket(t, c, b)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
			t.Fatal(err)
		}
		ps := s3.NewPresignClient(c)
		good, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")}, s3.WithPresignExpires(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		do := func(method, u string, hdr ...string) (int, string) {
			req, _ := http.NewRequest(method, u, nil)
			for i := 0; i+1 < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		if code, body := do("GET", good.URL); code != 200 || body != "v" {
			t.Fatalf("presigned GET: %d %s", code, body)
		}
		for _, exp := range []string{"-7", "609901"} {
			u := regexp.MustCompile(`X-Amz-Expires=\d+`).ReplaceAllString(good.URL, "X-Amz-Expires="+exp)
			if code, body := do("GET", u); code != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
				t.Errorf("X-Amz-Expires=%s: %d %s", exp, code, body)
			}
		}
		if code, body := do("OPTIONS", good.URL); code != 400 {
			t.Errorf("OPTIONS without Origin: %d %s", code, body)
		}
		if code, body := do("OPTIONS", good.URL, "Origin", "http://example.com", "Access-Control-Request-Method", "GET"); code != 403 {
			t.Errorf("OPTIONS with Origin: %d %s", code, body)
		}
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: &b, Prefix: aws.String("\n"), EncodingType: types.EncodingTypeUrl})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.Prefix) != "\n" {
			t.Errorf("ListObjects V1 prefix \\n came back as %q", aws.ToString(out.Prefix))
		}
	})
}

// TestTagsAndMarkersAsS3: GetObjectTagging lists tags by key; eleven tags
// in a PutObjectTagging document are InvalidTag and store nothing; a HEAD
// of a missing key says x-amz-delete-marker: false when no delete marker
// is the reason.
func TestTagsAndMarkersAsS3(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "tagorder"
		mkBucket(t, c, b)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("v"), Tagging: aws.String("foo=bar&bar")}); err != nil {
			t.Fatal(err)
		}
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.TagSet) != 2 || aws.ToString(out.TagSet[0].Key) != "bar" || aws.ToString(out.TagSet[1].Key) != "foo" {
			t.Fatalf("tags not listed by key: %+v", out.TagSet)
		}
		var eleven []types.Tag
		for i := 0; i < 11; i++ {
			eleven = append(eleven, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
		}
		_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String("k"), Tagging: &types.Tagging{TagSet: eleven}})
		wantCode(t, err, "InvalidTag")
		if out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("k")}); err != nil || len(out.TagSet) != 2 {
			t.Fatalf("tags after a refused PutObjectTagging: %v %v", out, err)
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k")}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Head(srv.S3URL + "/" + b + "/k")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Anonymous: refused before the key is looked at.
		if resp.StatusCode != 403 {
			t.Fatalf("anonymous HEAD: %d", resp.StatusCode)
		}
		head, err := s3.NewPresignClient(c).PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.Head(head.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("x-amz-delete-marker") != "false" {
			t.Fatalf("HEAD of a deleted key in an unversioned bucket: %d, x-amz-delete-marker %q", resp.StatusCode, resp.Header.Get("x-amz-delete-marker"))
		}
	})
}

// TestBucketTagging is Put/Get/DeleteBucketTagging: NoSuchTagSet until
// tags are set, tags by key, up to 50 with the rules of object tags; the
// bucket's admin changes them, readers read them, others are refused.
func TestBucketTagging(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		owner := userClient(t, srv, "owner", auth.Developer)
		b := "tagged-bucket"
		mkBucket(t, owner, b)
		rp, err := srv.Repos.Get(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		reader := userClient(t, srv, "treader", auth.NoRole)
		dev := userClient(t, srv, "tdev", auth.NoRole)
		stranger := userClient(t, srv, "tstranger", auth.NoRole)
		for name, role := range map[string]auth.Role{"treader": auth.Reader, "tdev": auth.Developer} {
			if err := srv.Auth.Grant(ctx, name, rp.ID, role); err != nil {
				t.Fatal(err)
			}
		}
		_, err = owner.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b})
		wantCode(t, err, "NoSuchTagSet")
		set := &types.Tagging{TagSet: []types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}, {Key: aws.String("env"), Value: aws.String("prod")}}}
		if _, err := owner.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &b, Tagging: set}); err != nil {
			t.Fatal(err)
		}
		for who, c := range map[string]*s3.Client{"owner": owner, "reader": reader, "admin": srv.Client} {
			out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b})
			if err != nil || len(out.TagSet) != 2 || aws.ToString(out.TagSet[0].Key) != "env" || aws.ToString(out.TagSet[1].Value) != "ml" {
				t.Fatalf("%s: GetBucketTagging = %+v, %v", who, out, err)
			}
		}
		_, err = stranger.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b})
		wantCode(t, err, "AccessDenied")
		_, err = dev.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("x"), Value: aws.String("y")}}}})
		wantCode(t, err, "AccessDenied")
		_, err = dev.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: &b})
		wantCode(t, err, "AccessDenied")
		resp, err := http.Get(srv.S3URL + "/" + b + "?tagging")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("anonymous GetBucketTagging: %d", resp.StatusCode)
		}
		var many []types.Tag
		for i := 0; i < 51; i++ {
			many = append(many, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
		}
		_, err = owner.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: many}})
		wantCode(t, err, "InvalidTag")
		_, err = owner.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &b, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}}})
		wantCode(t, err, "InvalidTag")
		if out, err := reader.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b}); err != nil || len(out.TagSet) != 2 {
			t.Fatalf("tags after refused changes: %+v, %v", out, err)
		}
		if _, err := owner.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: &b}); err != nil {
			t.Fatal(err)
		}
		_, err = owner.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &b})
		wantCode(t, err, "NoSuchTagSet")
	})
}

// TestBucketCreationByAnyUser: with s3.create_bucket_role "any", users
// without a global role create buckets and work in them as in their own
// S3 account: the others' buckets are neither listed nor readable, and
// a copy out of another's bucket is refused.
func TestBucketCreationByAnyUser(t *testing.T) {
	srv := startS3With(t, "", func(c *config.Config) { c.S3.CreateBucketRole = "any" })
	ctx := context.Background()
	ann := userClient(t, srv, "ann", auth.NoRole)
	ben := userClient(t, srv, "ben", auth.NoRole)
	mkBucket(t, ann, "ann-b")
	mkBucket(t, ben, "ben-b")
	if _, err := ann.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("ann-b"), Key: aws.String("k"), Body: strings.NewReader("ann's")}); err != nil {
		t.Fatal(err)
	}
	out, err := ben.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "ben-b" {
		t.Fatalf("ben lists %+v, %v", out, err)
	}
	_, err = ben.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ann-b"), Key: aws.String("k")})
	wantCode(t, err, "AccessDenied")
	_, err = ben.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("ben-b"), Key: aws.String("k"), CopySource: aws.String("ann-b/k")})
	wantCode(t, err, "AccessDenied")
	_, err = ben.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ann-b")})
	wantCode(t, err, "BucketAlreadyExists")
	req, _ := http.NewRequest("PUT", srv.S3URL+"/anon-b", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 403 {
		t.Fatalf("anonymous CreateBucket: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestCompleteMalformedChecksum: a checksum on CompleteMultipartUpload
// that is not base64 is BadDigest, as S3 answers, and completes nothing.
func TestCompleteMalformedChecksum(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b, key := "complete-bad", "mp"
		mkBucket(t, c, b)
		id, parts := mpUpload(t, c, b, key, []byte("one small part"), &s3.CreateMultipartUploadInput{ChecksumAlgorithm: types.ChecksumAlgorithmSha256}, types.ChecksumAlgorithmSha256)
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: &id, ChecksumSHA256: aws.String("bad"),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		wantCode(t, err, "BadDigest")
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &key}); err == nil {
			t.Fatal("the upload was completed")
		}
		if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: &id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
			t.Fatalf("Complete without the bad checksum: %v", err)
		}
	})
}
