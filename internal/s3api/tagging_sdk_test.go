package s3api_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestObjectTagging is issue 23 item 4: x-amz-tagging on PutObject,
// CopyObject and CreateMultipartUpload, the object tagging operations,
// x-amz-tagging-count, S3's limits and error codes, and who may change
// tags.
func TestObjectTagging(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dbURL := ""
			if db == "postgres" {
				dbURL = metatest.PostgresURL(t)
			}
			testObjectTagging(t, startS3(t, dbURL))
		})
	}
}

func tagsOf(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("GetObjectTagging %s: %v", key, err)
	}
	var s []string
	for _, tg := range out.TagSet {
		s = append(s, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	return strings.Join(s, "&")
}

func tagCount(t *testing.T, c *s3.Client, bucket, key string) int32 {
	t.Helper()
	out, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("HeadObject %s: %v", key, err)
	}
	g, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	g.Body.Close()
	if aws.ToInt32(g.TagCount) != aws.ToInt32(out.TagCount) {
		t.Fatalf("GET says %d tags, HEAD %d", aws.ToInt32(g.TagCount), aws.ToInt32(out.TagCount))
	}
	return aws.ToInt32(out.TagCount)
}

func testObjectTagging(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	c := srv.Client
	b := "tagged"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b}); err != nil {
		t.Fatal(err)
	}
	put := func(key, tagging string) error {
		in := &s3.PutObjectInput{Bucket: &b, Key: aws.String(key), Body: strings.NewReader("body of " + key)}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		_, err := c.PutObject(ctx, in)
		return err
	}
	// PutObject with x-amz-tagging.
	if err := put("a", "team=ml&stage=prod%20eu"); err != nil {
		t.Fatalf("PutObject with tags: %v", err)
	}
	// GetObjectTagging lists them by key, as S3 does.
	if got := tagsOf(t, c, b, "a"); got != "stage=prod eu&team=ml" {
		t.Fatalf("tags of a = %q", got)
	}
	if n := tagCount(t, c, b, "a"); n != 2 {
		t.Fatalf("x-amz-tagging-count = %d", n)
	}
	// The limits, with S3's codes; nothing is stored on a refusal.
	wantCode(t, put("bad", "a=1&a=2"), "InvalidTag")
	wantCode(t, put("bad", strings.Repeat("k", 129)+"=v"), "InvalidTag")
	wantCode(t, put("bad", "k="+strings.Repeat("v", 257)), "InvalidTag")
	var eleven []string
	for i := range 11 {
		eleven = append(eleven, fmt.Sprintf("k%d=v", i))
	}
	wantCode(t, put("bad", strings.Join(eleven, "&")), "BadRequest")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("bad")}); err == nil {
		t.Fatal("an object with refused tags was stored")
	}
	// Overwriting without tags drops them (S3 replaces the whole object).
	if err := put("a", ""); err != nil {
		t.Fatal(err)
	}
	if got, n := tagsOf(t, c, b, "a"), tagCount(t, c, b, "a"); got != "" || n != 0 {
		t.Fatalf("overwritten object keeps tags %q (count %d)", got, n)
	}
	// PutObjectTagging / DeleteObjectTagging.
	set := func(key string, tags ...types.Tag) error {
		_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String(key), Tagging: &types.Tagging{TagSet: tags}})
		return err
	}
	tg := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	if err := set("a", tg("x", "1"), tg("y", "")); err != nil {
		t.Fatalf("PutObjectTagging: %v", err)
	}
	if got := tagsOf(t, c, b, "a"); got != "x=1&y=" {
		t.Fatalf("tags after PutObjectTagging = %q", got)
	}
	wantCode(t, set("a", tg("x", "1"), tg("x", "2")), "InvalidTag")
	wantCode(t, set("a", tg("aws:x", "1")), "InvalidTag")
	wantCode(t, set("missing", tg("x", "1")), "NoSuchKey")
	_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &b, Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey")
	if got := tagsOf(t, c, b, "a"); got != "x=1&y=" {
		t.Fatalf("a refused PutObjectTagging changed the tags: %q", got)
	}
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: &b, Key: aws.String("a")}); err != nil {
		t.Fatalf("DeleteObjectTagging: %v", err)
	}
	if got := tagsOf(t, c, b, "a"); got != "" {
		t.Fatalf("tags after DeleteObjectTagging = %q", got)
	}
	// CopyObject: tags are copied by default, replaced with REPLACE.
	if err := set("a", tg("src", "yes")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b, Key: aws.String("copy"), CopySource: aws.String(b + "/a")}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if got := tagsOf(t, c, b, "copy"); got != "src=yes" {
		t.Fatalf("copied tags = %q", got)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b, Key: aws.String("copy2"), CopySource: aws.String(b + "/a"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("new=1")}); err != nil {
		t.Fatalf("CopyObject REPLACE: %v", err)
	}
	if got := tagsOf(t, c, b, "copy2"); got != "new=1" {
		t.Fatalf("replaced tags = %q", got)
	}
	// Retagging an object in place by copying it onto itself.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b, Key: aws.String("copy2"), CopySource: aws.String(b + "/copy2"),
		TaggingDirective: types.TaggingDirectiveReplace}); err != nil {
		t.Fatalf("CopyObject onto itself with REPLACE: %v", err)
	}
	if got := tagsOf(t, c, b, "copy2"); got != "" {
		t.Fatalf("tags after a REPLACE without x-amz-tagging = %q", got)
	}
	// CreateMultipartUpload with x-amz-tagging: the tags arrive at completion.
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), Tagging: aws.String("mp=1&kind=big")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), Tagging: aws.String("a=1&a=1")})
	wantCode(t, err, "InvalidTag")
	up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: up.ETag, PartNumber: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(t, c, b, "mp"); got != "kind=big&mp=1" {
		t.Fatalf("multipart tags = %q", got)
	}
	// Deleting the object deletes its tags: a new object at the key has none.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("mp")}); err != nil {
		t.Fatal(err)
	}
	var left int
	srv.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM s3_object_tags WHERE key = 'mp'`).Scan(&left)
	if left != 0 {
		t.Fatalf("%d tags outlived their object", left)
	}

	// Roles: a developer may tag an untagged object, but replacing or
	// deleting tags needs the maintainer role; a reader may only read them.
	rp, err := srv.Repos.Get(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[auth.Role]*s3.Client{}
	for _, role := range []auth.Role{auth.Reader, auth.Developer} {
		name := "tagger-" + string(role)
		if _, err := srv.Auth.CreateUser(ctx, name, name+"-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		if err := srv.Auth.Grant(ctx, name, rp.ID, role); err != nil {
			t.Fatal(err)
		}
		k, secret, err := srv.Auth.CreateAccessKey(ctx, name, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		clients[role] = newClient(srv.S3URL, k.ID, secret, nil)
	}
	if err := put("dev", ""); err != nil {
		t.Fatal(err)
	}
	dev, reader := clients[auth.Developer], clients[auth.Reader]
	if _, err := reader.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String("dev"), Tagging: &types.Tagging{TagSet: []types.Tag{tg("r", "1")}}}); apiCode(err) != "AccessDenied" {
		t.Fatalf("reader PutObjectTagging = %v", err)
	}
	if got := tagsOf(t, reader, b, "a"); got != "src=yes" {
		t.Fatalf("reader GetObjectTagging = %q", got)
	}
	if _, err := dev.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String("dev"), Tagging: &types.Tagging{TagSet: []types.Tag{tg("d", "1")}}}); err != nil {
		t.Fatalf("developer tagging an untagged object: %v", err)
	}
	if _, err := dev.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &b, Key: aws.String("dev"), Tagging: &types.Tagging{TagSet: []types.Tag{tg("d", "2")}}}); apiCode(err) != "AccessDenied" {
		t.Fatalf("developer replacing tags = %v", err)
	}
	if _, err := dev.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: &b, Key: aws.String("dev")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("developer deleting tags = %v", err)
	}
	if got := tagsOf(t, c, b, "dev"); got != "d=1" {
		t.Fatalf("tags after refused changes = %q", got)
	}
}
