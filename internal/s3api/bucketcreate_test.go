package s3api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
)

// userClient creates a user with a global role and an S3 client of its.
func userClient(t *testing.T, srv *s3Server, name string, role auth.Role) *s3.Client {
	t.Helper()
	ctx := context.Background()
	if _, err := srv.Auth.CreateUser(ctx, name, name+"-password-1", "", role); err != nil {
		t.Fatal(err)
	}
	k, secret, err := srv.Auth.CreateAccessKey(ctx, name, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	return newClient(srv.S3URL, k.ID, secret, nil)
}

// TestBucketCreationByRole is issue 24 defect 7: users with the global
// role s3.create_bucket_role (developer by default) create buckets, which
// they then administer (write, overwrite, delete the bucket); a name that
// another user's bucket holds is BucketAlreadyExists (409).
func TestBucketCreationByRole(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		dev := userClient(t, srv, "dev", auth.Developer)
		other := userClient(t, srv, "other", auth.Developer)
		reader := userClient(t, srv, "reader", auth.Reader)

		if _, err := dev.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("devs")}); err != nil {
			t.Fatalf("a developer creates a bucket: %v", err)
		}
		rp, err := srv.Repos.Get(ctx, "devs")
		if err != nil {
			t.Fatal(err)
		}
		roles, err := srv.Auth.RepositoryRoles(ctx, rp.ID)
		if err != nil || len(roles) != 1 || roles[0].User != "dev" || roles[0].Role != auth.Admin {
			t.Fatalf("roles on the new bucket = %v, %v; want dev as admin", roles, err)
		}
		_, err = other.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("devs")})
		wantCode(t, err, "BucketAlreadyExists")
		_, err = reader.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("readers")})
		wantCode(t, err, "AccessDenied")

		// The creator administers it: writes, overwrites, deletes.
		for _, body := range []string{"one", "two"} {
			if _, err := dev.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("devs"), Key: aws.String("k"), Body: strings.NewReader(body)}); err != nil {
				t.Fatalf("the creator writes %q: %v", body, err)
			}
		}
		_, err = other.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("devs")})
		wantCode(t, err, "AccessDenied")
		if _, err := dev.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("devs"), Key: aws.String("k")}); err != nil {
			t.Fatal(err)
		}
		if _, err := dev.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("devs")}); err != nil {
			t.Fatalf("the creator deletes its bucket: %v", err)
		}
	})
}

// TestBucketCreationRoleConfigured: with s3.create_bucket_role admin, only
// server admins create buckets.
func TestBucketCreationRoleConfigured(t *testing.T) {
	srv := startS3With(t, "", func(c *config.Config) { c.S3.CreateBucketRole = "admin" })
	dev := userClient(t, srv, "dev", auth.Maintainer)
	_, err := dev.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("devs")})
	wantCode(t, err, "AccessDenied")
	mkBucket(t, srv.Client, "admins")
}
