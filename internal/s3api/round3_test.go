package s3api_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
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
