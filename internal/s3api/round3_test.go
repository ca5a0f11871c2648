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

	"github.com/arcaproject/arca/internal/auth"
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
