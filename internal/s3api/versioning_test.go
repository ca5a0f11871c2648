package s3api_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

func getVersion(t *testing.T, c *s3.Client, b, key, vid string) (string, error) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: &b, Key: &key}
	if vid != "" {
		in.VersionId = &vid
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if vid != "" && aws.ToString(out.VersionId) != vid {
		t.Fatalf("GET %s?versionId=%s answered version %q", key, vid, aws.ToString(out.VersionId))
	}
	return string(body), err
}

// versionsOf lists the versions of key (and delete markers), newest
// first, as "id:body-etag-or-marker" entries; latest is the IsLatest one.
func versionsOf(t *testing.T, c *s3.Client, b, key string) (ids []string, markers map[string]bool, latest string) {
	t.Helper()
	out, err := c.ListObjectVersions(context.Background(), &s3.ListObjectVersionsInput{Bucket: &b, Prefix: &key})
	if err != nil {
		t.Fatalf("ListObjectVersions: %v", err)
	}
	type entry struct {
		id     string
		marker bool
		latest bool
		mod    int64
	}
	var all []entry
	for _, v := range out.Versions {
		if aws.ToString(v.Key) == key {
			all = append(all, entry{aws.ToString(v.VersionId), false, aws.ToBool(v.IsLatest), v.LastModified.UnixNano()})
		}
	}
	for _, m := range out.DeleteMarkers {
		if aws.ToString(m.Key) == key {
			all = append(all, entry{aws.ToString(m.VersionId), true, aws.ToBool(m.IsLatest), m.LastModified.UnixNano()})
		}
	}
	markers = map[string]bool{}
	for _, e := range all {
		ids = append(ids, e.id)
		if e.marker {
			markers[e.id] = true
		}
		if e.latest {
			if latest != "" {
				t.Fatalf("two latest versions of %s: %s and %s", key, latest, e.id)
			}
			latest = e.id
		}
	}
	return ids, markers, latest
}

// TestVersioning is issue 24 item 8: PutBucketVersioning and
// GetBucketVersioning, version IDs on writes, ListObjectVersions (the null
// version of unversioned objects too), GET/HEAD/DELETE/CopySource by
// versionId, delete markers, suspension, paging, and garbage collection
// that keeps noncurrent versions.
func TestVersioning(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "versioned"
		mkBucket(t, c, b)
		put := func(key, body string) string {
			t.Helper()
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: &key, Body: strings.NewReader(body)})
			if err != nil {
				t.Fatalf("PutObject %s: %v", key, err)
			}
			return aws.ToString(out.VersionId)
		}

		// Unversioned: each object is its key's null version.
		if vid := put("old", "old-null"); vid != "" {
			t.Fatalf("an unversioned write got version %q", vid)
		}
		st, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b})
		if err != nil || st.Status != "" {
			t.Fatalf("GetBucketVersioning of a new bucket: %+v, %v", st, err)
		}
		if ids, _, latest := versionsOf(t, c, b, "old"); len(ids) != 1 || ids[0] != "null" || latest != "null" {
			t.Fatalf("versions of an unversioned object: %v (latest %s)", ids, latest)
		}
		if body, err := getVersion(t, c, b, "old", "null"); err != nil || body != "old-null" {
			t.Fatalf("GET ?versionId=null: %q, %v", body, err)
		}

		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatalf("PutBucketVersioning: %v", err)
		}
		if st, _ := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &b}); st.Status != types.BucketVersioningStatusEnabled {
			t.Fatalf("status %q after enabling", st.Status)
		}

		// Writes get version IDs; older versions stay readable by ID.
		v1, v2 := put("k", "one"), put("k", "two")
		if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" {
			t.Fatalf("version IDs %q, %q", v1, v2)
		}
		if ids, _, latest := versionsOf(t, c, b, "k"); len(ids) != 2 || ids[0] != v2 || ids[1] != v1 || latest != v2 {
			t.Fatalf("versions of k = %v (latest %s), want [%s %s]", ids, latest, v2, v1)
		}
		if body, _ := getVersion(t, c, b, "k", ""); body != "two" {
			t.Fatalf("current k = %q", body)
		}
		if body, err := getVersion(t, c, b, "k", v1); err != nil || body != "one" {
			t.Fatalf("k?versionId=v1 = %q, %v", body, err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &v1})
		if err != nil || aws.ToInt64(head.ContentLength) != 3 || aws.ToString(head.VersionId) != v1 {
			t.Fatalf("HEAD k?versionId=v1: %+v, %v", head, err)
		}
		_, err = getVersion(t, c, b, "k", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
		wantCode(t, err, "NoSuchVersion")

		// A garbage collection keeps every version's bytes.
		col := srv.Collector()
		col.Grace = 0
		if _, err := col.Run(ctx, false, nil); err != nil {
			t.Fatalf("gc: %v", err)
		}
		if body, err := getVersion(t, c, b, "k", v1); err != nil || body != "one" {
			t.Fatalf("a noncurrent version after gc: %q, %v", body, err)
		}

		// DELETE adds a delete marker; the versions stay.
		del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k")})
		if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
			t.Fatalf("DELETE in a versioned bucket: %+v, %v", del, err)
		}
		m1 := aws.ToString(del.VersionId)
		_, err = getVersion(t, c, b, "k", "")
		wantCode(t, err, "NoSuchKey")
		_, err = getVersion(t, c, b, "k", m1)
		wantCode(t, err, "MethodNotAllowed")
		ids, markers, latest := versionsOf(t, c, b, "k")
		if len(ids) != 3 || !markers[m1] || latest != m1 {
			t.Fatalf("after DELETE: versions %v, markers %v, latest %s", ids, markers, latest)
		}

		// CopySource by version.
		cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b, Key: aws.String("copied"), CopySource: aws.String(b + "/k?versionId=" + v1)})
		if err != nil || aws.ToString(cp.CopySourceVersionId) != v1 || aws.ToString(cp.VersionId) == "" {
			t.Fatalf("CopyObject from a version: %+v, %v", cp, err)
		}
		if body, _ := getVersion(t, c, b, "copied", ""); body != "one" {
			t.Fatalf("copy of v1 = %q", body)
		}

		// Deleting the marker brings v2 back; deleting v2 for good, v1.
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &m1}); err != nil {
			t.Fatal(err)
		}
		if body, _ := getVersion(t, c, b, "k", ""); body != "two" {
			t.Fatalf("after removing the delete marker k = %q", body)
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("k"), VersionId: &v2}); err != nil {
			t.Fatal(err)
		}
		if body, err := getVersion(t, c, b, "k", ""); body != "one" || err != nil {
			t.Fatalf("after deleting the current version k = %q, %v", body, err)
		}
		if ids, _, latest := versionsOf(t, c, b, "k"); len(ids) != 1 || latest != v1 {
			t.Fatalf("versions left: %v (latest %s)", ids, latest)
		}

		// The null version from before versioning stays, as a noncurrent version.
		v3 := put("old", "old-enabled")
		if ids, _, latest := versionsOf(t, c, b, "old"); len(ids) != 2 || latest != v3 || ids[1] != "null" {
			t.Fatalf("versions of old: %v (latest %s)", ids, latest)
		}
		// Suspended: writes replace the null version.
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}}); err != nil {
			t.Fatal(err)
		}
		put("old", "old-suspended")
		ids, _, latest = versionsOf(t, c, b, "old")
		if len(ids) != 2 || latest != "null" || ids[1] != v3 {
			t.Fatalf("versions of old after a suspended write: %v (latest %s)", ids, latest)
		}
		if body, _ := getVersion(t, c, b, "old", "null"); body != "old-suspended" {
			t.Fatalf("the null version = %q", body)
		}
		// Restoring an older version: a copy of it onto its own key.
		if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b, Key: aws.String("old"), CopySource: aws.String(b + "/old?versionId=" + v3)}); err != nil {
			t.Fatalf("copying a version onto its key: %v", err)
		}
		if body, _ := getVersion(t, c, b, "old", ""); body != "old-enabled" {
			t.Fatalf("after restoring %s, old = %q", v3, body)
		}
		_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &b, Key: aws.String("old"), CopySource: aws.String(b + "/old")})
		wantCode(t, err, "InvalidRequest")

		// Paging one entry at a time walks the same list.
		full, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &b})
		if err != nil {
			t.Fatal(err)
		}
		total := len(full.Versions) + len(full.DeleteMarkers)
		var walked []string
		in := &s3.ListObjectVersionsInput{Bucket: &b, MaxKeys: aws.Int32(1)}
		for range 20 {
			out, err := c.ListObjectVersions(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Versions {
				walked = append(walked, aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId))
			}
			for _, m := range out.DeleteMarkers {
				walked = append(walked, aws.ToString(m.Key)+"@"+aws.ToString(m.VersionId))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
		}
		if len(walked) != total {
			t.Fatalf("paging walked %v, the full list has %d entries", walked, total)
		}

		// A delimiter rolls versions up into common prefixes.
		put("dir/a", "a")
		put("dir/b", "b")
		put("dir/a", "a2")
		dl, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &b, Delimiter: aws.String("/")})
		if err != nil || len(dl.CommonPrefixes) != 1 || aws.ToString(dl.CommonPrefixes[0].Prefix) != "dir/" {
			t.Fatalf("ListObjectVersions with a delimiter: %+v, %v", dl, err)
		}
		for _, v := range dl.Versions {
			if strings.HasPrefix(aws.ToString(v.Key), "dir/") {
				t.Fatalf("%s listed beside its common prefix", aws.ToString(v.Key))
			}
		}

		// Concurrent writes of one key each become a version.
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &b,
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 6)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("race"), Body: strings.NewReader(fmt.Sprint("body ", i))})
			}()
		}
		wg.Wait()
		for _, err := range results {
			if err != nil {
				t.Fatalf("a concurrent versioned write: %v", err)
			}
		}
		if ids, _, _ := versionsOf(t, c, b, "race"); len(ids) != len(results) {
			t.Fatalf("%d versions of race after %d writes", len(ids), len(results))
		}

		// Garbage collection keeps a noncurrent version's bytes until the
		// version is deleted, and then collects them.
		gone := "bytes of a version that will be deleted"
		gv := put("gone", gone)
		put("gone", "its successor")
		sum := sha256.Sum256([]byte(gone))
		if _, err := col.Run(ctx, false, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Blobs.Stat(ctx, blob.FromSum(sum[:])); err != nil {
			t.Fatalf("gc collected a noncurrent version's blob: %v", err)
		}
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("gone"), VersionId: &gv}); err != nil {
			t.Fatal(err)
		}
		if _, err := col.Run(ctx, false, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Blobs.Stat(ctx, blob.FromSum(sum[:])); !errs.Is(err, errs.NotFound) {
			t.Fatalf("the blob of a deleted version is still stored: %v", err)
		}

		// DeleteObjects by version; a bucket with versions is not empty.
		dout, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("k"), VersionId: &v1}, {Key: aws.String("copied")}}}})
		if err != nil || len(dout.Errors) != 0 || len(dout.Deleted) != 2 {
			t.Fatalf("DeleteObjects: %+v, %v", dout, err)
		}
		if ids, _, _ := versionsOf(t, c, b, "k"); len(ids) != 0 {
			t.Fatalf("k keeps versions %v", ids)
		}
		for _, o := range []string{"old", "copied"} {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: &o}); err != nil {
				t.Fatal(err)
			}
		}
		_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b})
		wantCode(t, err, "BucketNotEmpty")
	})
}
