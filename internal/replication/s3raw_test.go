package replication_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

// s3Endpoint serves s's S3 API and returns its URL with an admin key.
func s3Endpoint(t testing.TB, s *apptest.Server) (url, key, secret string, client *s3sdk.Client) {
	t.Helper()
	ts := httptest.NewServer(s.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "replication test")
	if err != nil {
		t.Fatal(err)
	}
	client = s3sdk.New(s3sdk.Options{
		BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, ""),
	})
	return ts.URL, k.ID, secret, client
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func getObject(c *s3sdk.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func hasObject(c *s3sdk.Client, bucket, key string, want []byte) func() error {
	return func() error {
		got, err := getObject(c, bucket, key)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s/%s differs (%d bytes, want %d)", bucket, key, len(got), len(want))
		}
		return nil
	}
}

// TestS3Push: a bucket is replicated to another arca's S3 API: objects on
// event (a multipart one too), a full run that then moves nothing, and a
// delete that propagates only once the policy asks for it.
func TestS3Push(t *testing.T) {
	apptest.Each(t, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		_, _, _, sc := s3Endpoint(t, src)
		durl, dkey, dsecret, dc := s3Endpoint(t, dst)
		ctx := context.Background()
		bucket := "dvc-storage"
		put := func(key string, body []byte) {
			if _, err := sc.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
				Metadata: map[string]string{"team": "ml"}}); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
		}
		before := randomBytes(t, 1000)
		put("data/before.bin", before)

		p := createPolicy(t, src, fmt.Sprintf(`{"name":"bucket-dr","repository":%q,"direction":"push","on_event":true,
			"remote":{"url":%q,"repository":%q,"username":%q,"password":%q}}`, bucket, durl, bucket, dkey, dsecret))
		one := randomBytes(t, 3000)
		put("data/one.bin", one)
		eventually(t, 20*time.Second, hasObject(dc, bucket, "data/one.bin", one))
		head, err := dc.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: &bucket, Key: aws.String("data/one.bin")})
		if err != nil || head.Metadata["team"] != "ml" {
			t.Fatalf("replica's metadata = %v %v", head, err)
		}
		if _, err := getObject(dc, bucket, "data/before.bin"); err == nil {
			t.Fatal("an object put before the policy was replicated by an event")
		}

		// A multipart object.
		key := "data/multi.bin"
		mp, err := sc.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		part1, part2 := randomBytes(t, 5<<20), randomBytes(t, 1<<20)
		var parts []types.CompletedPart
		for i, b := range [][]byte{part1, part2} {
			out, err := sc.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
		}
		if _, err := sc.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: mp.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, hasObject(dc, bucket, key, append(part1, part2...)))

		// A full run copies what came before the policy and skips the
		// rest (the multipart object by the ETag it was copied from).
		n := len(runs(t, src, p.ID))
		waitRuns(t, src, p.ID, n, 10*time.Second)
		runNow(t, src, p.ID)
		run := waitRuns(t, src, p.ID, n+1, 20*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Copied] != 1 || got[replication.Skipped] != 2 {
			t.Fatalf("full run = %+v", run)
		}
		eventually(t, 5*time.Second, hasObject(dc, bucket, "data/before.bin", before))

		// Deletes: not propagated, until asked.
		if _, err := sc.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &bucket, Key: aws.String("data/one.bin")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := hasObject(dc, bucket, "data/one.bin", one)(); err != nil {
			t.Fatalf("a delete propagated without deletes: %v", err)
		}
		p.Deletes = true
		p.Remote.Username, p.Remote.Password = replication.Masked, replication.Masked
		if resp, out := src.Do(t, "PUT", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), admin, strings.NewReader(mustJSON(t, p))); resp.StatusCode != 200 {
			t.Fatalf("update = %d %s", resp.StatusCode, out)
		}
		if _, err := sc.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &bucket, Key: aws.String("data/before.bin")}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() error {
			if _, err := getObject(dc, bucket, "data/before.bin"); err == nil {
				return fmt.Errorf("data/before.bin still on the replica")
			}
			return nil
		})
		// ... and a full run removes what was deleted before.
		n = len(runs(t, src, p.ID))
		runNow(t, src, p.ID)
		run = waitRuns(t, src, p.ID, n+1, 20*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Deleted] != 1 {
			t.Fatalf("full run with deletes = %+v", run)
		}
		if _, err := getObject(dc, bucket, "data/one.bin"); err == nil {
			t.Fatal("data/one.bin survived a full run with deletes")
		}
	})
}

// TestRawPullAndPush: raw files, nested directories too, pulled from
// another arca by hand and pushed to it on events.
func TestRawPullAndPush(t *testing.T) {
	apptest.Each(t, func(t *testing.T, local *apptest.Server) {
		remote := apptest.Start(t, "", nil)
		startJobs(t, local)
		files := map[string]string{"a.txt": "alpha", "models/v1/w.bin": "weights", "models/v2/w.bin": "weights two", "skip/me.txt": "no"}
		for p, body := range files {
			if resp, out := remote.Do(t, "PUT", "/raw/files/"+p, admin, strings.NewReader(body)); resp.StatusCode != 201 {
				t.Fatalf("put %s = %d %s", p, resp.StatusCode, out)
			}
		}
		pull := createPolicy(t, local, fmt.Sprintf(`{"name":"raw-in","repository":"files","direction":"pull",
			"remote":{"url":%q,"repository":"files","username":"admin","password":%q},"filter":{"names":["*.txt","models/*/*"]}}`, remote.URL, apptest.AdminPassword))
		runNow(t, local, pull.ID)
		run := waitRuns(t, local, pull.ID, 1, 20*time.Second)
		if run.State != replication.Succeeded || run.Copied != 3 {
			t.Fatalf("pull run = %+v", run)
		}
		// The finished run is in the audit trail (and so reaches webhooks).
		evs, err := local.Audit.List(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var heard bool
		for _, e := range evs {
			if e.Action == "replication.finished" && e.Subject == "raw-in" && e.Repository == "files" && e.Detail["state"] == "succeeded" {
				heard = true
			}
		}
		if !heard {
			t.Errorf("no replication.finished audit event for the pull run; events: %+v", evs)
		}
		for p, body := range files {
			resp, got := local.Do(t, "GET", "/raw/files/"+p, admin, nil)
			if p == "skip/me.txt" {
				if resp.StatusCode != 404 {
					t.Errorf("%s was pulled, the filter leaves it out", p)
				}
				continue
			}
			if resp.StatusCode != 200 || got != body {
				t.Errorf("pulled %s = %d %q", p, resp.StatusCode, got)
			}
		}
		push := createPolicy(t, local, fmt.Sprintf(`{"name":"raw-out","repository":"files","direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":"files","username":"admin","password":%q}}`, remote.URL, apptest.AdminPassword))
		if resp, _ := local.Do(t, "PUT", "/raw/files/new/file.txt", admin, strings.NewReader("fresh")); resp.StatusCode != 201 {
			t.Fatal("local put")
		}
		eventually(t, 20*time.Second, func() error {
			if resp, got := remote.Do(t, "GET", "/raw/files/new/file.txt", admin, nil); resp.StatusCode != 200 || got != "fresh" {
				return fmt.Errorf("remote new/file.txt = %d %q", resp.StatusCode, got)
			}
			return nil
		})
		if resp, _ := local.Do(t, "DELETE", "/raw/files/a.txt", admin, nil); resp.StatusCode != http.StatusNoContent {
			t.Fatal("local delete")
		}
		eventually(t, 20*time.Second, func() error {
			if resp, _ := remote.Do(t, "GET", "/raw/files/a.txt", admin, nil); resp.StatusCode != 404 {
				return fmt.Errorf("remote a.txt = %d after the delete", resp.StatusCode)
			}
			return nil
		})
		run = waitRuns(t, local, push.ID, 2, 10*time.Second)
		if got := outcomes(run); run.Cause != replication.CauseEvent || got[replication.Deleted] != 1 {
			t.Fatalf("delete run = %+v", run)
		}
	})
}
