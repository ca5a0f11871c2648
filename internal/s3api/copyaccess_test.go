package s3api_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestCopyAccess is issue 11: a copy needs read on the source and write on
// the destination, whatever bucket the source is in (public, or one where
// the caller is only a reader), for CopyObject and UploadPartCopy.
func TestCopyAccess(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dbURL := ""
			if db == "postgres" {
				dbURL = metatest.PostgresURL(t)
			}
			testCopyAccess(t, startS3(t, dbURL))
		})
	}
}

func testCopyAccess(t *testing.T, srv *s3Server) {
	ctx := context.Background()
	for _, b := range []string{"src-public", "src-readable", "src-secret", "dst"} {
		if _, err := srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("CreateBucket %s: %v", b, err)
		}
		if _, err := srv.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("obj"), Body: strings.NewReader("from " + b)}); err != nil {
			t.Fatalf("PutObject %s: %v", b, err)
		}
	}
	pub, err := srv.Repos.Get(ctx, "src-public")
	if err != nil {
		t.Fatal(err)
	}
	pub.Visibility = "public"
	if err := srv.Repos.Update(ctx, pub); err != nil {
		t.Fatal(err)
	}
	// One user per role on dst; every one of them may read src-readable.
	clients := map[auth.Role]*s3.Client{}
	for _, role := range []auth.Role{auth.Reader, auth.Developer, auth.Maintainer, auth.Admin} {
		name := "u-" + string(role)
		if _, err := srv.Auth.CreateUser(ctx, name, name+"-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		for bucket, r := range map[string]auth.Role{"dst": role, "src-readable": auth.Reader} {
			rp, err := srv.Repos.Get(ctx, bucket)
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Auth.Grant(ctx, name, rp.ID, r); err != nil {
				t.Fatal(err)
			}
		}
		k, secret, err := srv.Auth.CreateAccessKey(ctx, name, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		clients[role] = newClient(srv.S3URL, k.ID, secret, nil)
	}
	for role, c := range clients {
		mayWrite := role != auth.Reader
		// rclone (and other clients) create the destination bucket before
		// a copy and go on when S3 says it exists, as owned (200 in
		// us-east-1) or as another's (BucketAlreadyExists). dst is
		// administered by u-admin, so it is u-admin's bucket (issue 24).
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("dst")})
		if role == auth.Admin {
			if err != nil {
				t.Fatalf("%s: CreateBucket of a bucket it administers: %v", role, err)
			}
		} else {
			wantCode(t, err, "BucketAlreadyExists")
		}
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("src-secret")})
		wantCode(t, err, "BucketAlreadyExists")
		_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("new-" + string(role))})
		wantCode(t, err, "AccessDenied") // new buckets need a global role (developer by default)
		for _, src := range []string{"src-public", "src-readable"} {
			key := src + "-" + string(role)
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String(key), CopySource: aws.String(src + "/obj")})
			if !mayWrite {
				wantCode(t, err, "AccessDenied")
				continue
			}
			if err != nil {
				t.Fatalf("%s: CopyObject from %s: %v", role, src, err)
			}
			if got := get(t, srv.Client, "dst", key); string(got) != "from "+src {
				t.Fatalf("%s: copy from %s holds %q", role, src, got)
			}
			// UploadPartCopy, whole and ranged.
			mp := key + "-multipart"
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String(mp)})
			if err != nil {
				t.Fatalf("%s: CreateMultipartUpload: %v", role, err)
			}
			var parts []types.CompletedPart
			for i, rng := range []string{"", "bytes=0-3"} {
				in := &s3.UploadPartCopyInput{Bucket: aws.String("dst"), Key: aws.String(mp), UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), CopySource: aws.String(src + "/obj")}
				if rng != "" {
					in.CopySourceRange = aws.String(rng)
				}
				out, err := c.UploadPartCopy(ctx, in)
				if err != nil {
					t.Fatalf("%s: UploadPartCopy from %s (%q): %v", role, src, rng, err)
				}
				parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag})
			}
			// Completing is not this test's subject (the first part is
			// under S3's 5 MiB minimum).
			if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String(mp), UploadId: up.UploadId}); err != nil {
				t.Fatalf("%s: AbortMultipartUpload: %v", role, err)
			}
		}
		// Read on the source is still needed.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("secret-" + string(role)), CopySource: aws.String("src-secret/obj")})
		wantCode(t, err, "AccessDenied")
		// And write on the destination: every user may read dst, none
		// may write to src-readable or src-public.
		for _, to := range []string{"src-readable", "src-public"} {
			_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(to), Key: aws.String("back-" + string(role)), CopySource: aws.String("dst/obj")})
			wantCode(t, err, "AccessDenied")
		}
		// Replacing an existing key needs maintainer, as a PUT does.
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("obj"), CopySource: aws.String("src-public/obj")})
		if role == auth.Reader || role == auth.Developer {
			wantCode(t, err, "AccessDenied")
		} else if err != nil {
			t.Fatalf("%s: CopyObject over an existing key: %v", role, err)
		}
	}
	// Anonymous clients may read the public bucket but write nowhere.
	anon := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.S3URL), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
	if out, err := anon.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("src-public"), Key: aws.String("obj")}); err != nil {
		t.Fatalf("anonymous GetObject of the public bucket: %v", err)
	} else {
		var buf bytes.Buffer
		buf.ReadFrom(out.Body)
		out.Body.Close()
	}
	_, err = anon.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("anon"), CopySource: aws.String("src-public/obj")})
	wantCode(t, err, "AccessDenied")
}
