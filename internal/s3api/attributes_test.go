package s3api_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestGetObjectAttributes is issue 24 item 10: ETag, checksum, object
// parts, storage class and size of plain and multipart objects.
func TestGetObjectAttributes(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "attrs"
		mkBucket(t, c, b)
		body := []byte("attributes")
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("plain"), Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
		if err != nil {
			t.Fatal(err)
		}
		all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts,
			types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}
		out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("plain"), ObjectAttributes: all})
		if err != nil {
			t.Fatalf("GetObjectAttributes: %v", err)
		}
		if aws.ToString(out.ETag) != strings.Trim(aws.ToString(put.ETag), `"`) || aws.ToInt64(out.ObjectSize) != int64(len(body)) ||
			out.StorageClass != types.StorageClassStandard || out.ObjectParts != nil || out.LastModified == nil {
			t.Fatalf("attributes of a plain object: %+v", out)
		}
		if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumSHA256) != aws.ToString(put.ChecksumSHA256) || out.Checksum.ChecksumType != types.ChecksumTypeFullObject {
			t.Fatalf("checksum attribute: %+v", out.Checksum)
		}
		// Only what is asked for.
		out, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("plain"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
		if err != nil || out.ETag != nil || out.Checksum != nil || aws.ToInt64(out.ObjectSize) != int64(len(body)) {
			t.Fatalf("ObjectSize only: %+v, %v", out, err)
		}

		// A multipart object: its parts, paged.
		data := randomData(t, 10<<20+7)
		id, parts := mpUpload(t, c, b, "mp", data, nil, "")
		done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("mp"), UploadId: &id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		if err != nil {
			t.Fatal(err)
		}
		out, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("mp"), ObjectAttributes: all, MaxParts: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		op := out.ObjectParts
		if aws.ToString(out.ETag) != strings.Trim(aws.ToString(done.ETag), `"`) || op == nil || aws.ToInt32(op.TotalPartsCount) != 3 ||
			!aws.ToBool(op.IsTruncated) || len(op.Parts) != 2 || aws.ToInt64(op.Parts[1].Size) != 5<<20 || aws.ToString(op.NextPartNumberMarker) != "2" {
			t.Fatalf("parts of a multipart object: %+v %+v", out, op)
		}
		out, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("mp"), ObjectAttributes: all, PartNumberMarker: aws.String("2")})
		if err != nil || len(out.ObjectParts.Parts) != 1 || aws.ToInt32(out.ObjectParts.Parts[0].PartNumber) != 3 || aws.ToInt64(out.ObjectParts.Parts[0].Size) != 7 {
			t.Fatalf("the last page of parts: %+v, %v", out, err)
		}

		_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("missing"), ObjectAttributes: all})
		wantCode(t, err, "NoSuchKey")
		_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: &b, Key: aws.String("plain"), ObjectAttributes: []types.ObjectAttributes{"Colour"}})
		wantCode(t, err, "InvalidArgument")
	})
}

// TestCannedACLs is issue 24 item 11: PutBucketAcl with private or
// public-read sets the bucket's visibility (anonymous reads follow);
// PutObjectAcl accepts what agrees with the bucket; grants and other
// canned ACLs are NotImplemented.
func TestCannedACLs(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "acls"
		mkBucket(t, c, b)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("public soon")}); err != nil {
			t.Fatal(err)
		}
		anon := func() int {
			resp, err := http.Get(srv.S3URL + "/" + b + "/k")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		publicGrant := func() bool {
			out, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: &b})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range out.Grants {
				if g.Grantee != nil && strings.HasSuffix(aws.ToString(g.Grantee.URI), "/AllUsers") && g.Permission == types.PermissionRead {
					return true
				}
			}
			return false
		}
		if anon() != http.StatusForbidden || publicGrant() {
			t.Fatal("a new bucket is readable anonymously")
		}
		if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b, ACL: types.BucketCannedACLPublicRead}); err != nil {
			t.Fatalf("PutBucketAcl public-read: %v", err)
		}
		if anon() != http.StatusOK || !publicGrant() {
			t.Fatal("public-read did not make the bucket public")
		}
		if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &b, Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
			t.Fatalf("PutObjectAcl public-read in a public bucket: %v", err)
		}
		_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: &b, Key: aws.String("k"), ACL: types.ObjectCannedACLPrivate})
		wantCode(t, err, "NotImplemented")
		if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b, ACL: types.BucketCannedACLPrivate}); err != nil {
			t.Fatalf("PutBucketAcl private: %v", err)
		}
		if anon() != http.StatusForbidden || publicGrant() {
			t.Fatal("private did not make the bucket private")
		}
		_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b, ACL: types.BucketCannedACLPublicReadWrite})
		wantCode(t, err, "NotImplemented")
		_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b, GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
		wantCode(t, err, "NotImplemented")
		if anon() != http.StatusForbidden {
			t.Fatal("a refused ACL changed the bucket")
		}
		// Changing a bucket's ACL needs its admin role.
		dev := userClient(t, srv, "dev", "")
		rp, _ := srv.Repos.Get(ctx, b)
		if err := srv.Auth.Grant(ctx, "dev", rp.ID, "maintainer"); err != nil {
			t.Fatal(err)
		}
		_, err = dev.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: &b, ACL: types.BucketCannedACLPublicRead})
		wantCode(t, err, "AccessDenied")
	})
}
