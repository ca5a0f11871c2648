package gc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app/apptest"
)

const admin = apptest.Admin

func digestHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// age makes every stored blob look committed, and last referenced, two
// hours ago.
func age(t *testing.T, s *apptest.Server) {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	if _, err := s.DB.Exec(`UPDATE blobs SET touched_at = $1`, old.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(s.Config.BlobDir(), "blobs")
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

func blobExists(s *apptest.Server, content []byte) bool {
	h := digestHex(content)
	_, err := os.Stat(filepath.Join(s.Config.BlobDir(), "blobs", "sha256", h[:2], h))
	return err == nil
}

func TestCollect(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		kept, deleted, shared := []byte("kept file"), []byte("deleted file"), []byte("shared content")
		s.Do(t, "PUT", "/raw/files/kept", admin, bytes.NewReader(kept))
		s.Do(t, "PUT", "/raw/files/deleted", admin, bytes.NewReader(deleted))
		s.Do(t, "PUT", "/raw/files/shared", admin, bytes.NewReader(shared))
		// The same bytes as an image layer: deleting the raw file leaves it in use.
		resp, _ := s.Do(t, "POST", "/v2/library/app/blobs/uploads/?digest=sha256:"+digestHex(shared), admin, bytes.NewReader(shared))
		if resp.StatusCode != 201 {
			t.Fatalf("layer push = %d", resp.StatusCode)
		}
		s.Do(t, "DELETE", "/raw/files/deleted", admin, nil)
		s.Do(t, "DELETE", "/raw/files/shared", admin, nil)

		// Young blobs survive whatever their references.
		res, err := s.Collector().Run(ctx, false, nil)
		if err != nil || res.Deleted != 0 || res.Young != 3 {
			t.Fatalf("run on young blobs = %+v, %v", res, err)
		}
		age(t, s)
		// A dry run deletes nothing but reports the garbage.
		res, err = s.Collector().Run(ctx, true, nil)
		if err != nil || res.Deleted != 1 || res.BytesFreed != int64(len(deleted)) || !blobExists(s, deleted) {
			t.Fatalf("dry run = %+v, %v", res, err)
		}
		res, err = s.Collector().Run(ctx, false, nil)
		if err != nil || res.Deleted != 1 || res.InUse != 2 {
			t.Fatalf("run = %+v, %v", res, err)
		}
		if blobExists(s, deleted) || !blobExists(s, kept) || !blobExists(s, shared) {
			t.Fatal("GC deleted the wrong blobs")
		}
		if _, body := s.Do(t, "GET", "/raw/files/kept", admin, nil); body != string(kept) {
			t.Fatalf("kept file reads %q", body)
		}
		// The same content pushed again after GC is stored anew.
		if resp, _ := s.Do(t, "PUT", "/raw/files/again", admin, bytes.NewReader(deleted)); resp.StatusCode != 201 {
			t.Fatalf("re-upload = %d", resp.StatusCode)
		}
		if _, body := s.Do(t, "GET", "/raw/files/again", admin, nil); body != string(deleted) {
			t.Fatalf("re-uploaded file reads %q", body)
		}
		// The admin API runs it too.
		resp, body := s.Do(t, "POST", "/api/v1/gc?dry_run=true", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"dry_run": true`) {
			t.Fatalf("API gc = %d %s", resp.StatusCode, body)
		}
	})
}

// TestCollectDuringPushes runs GC while clients keep pushing content that
// GC considers garbage; no pushed file may lose its bytes.
func TestCollectDuringPushes(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		var contents [][]byte
		for i := 0; i < 40; i++ {
			c := []byte(fmt.Sprintf("content %d %s", i, strings.Repeat("x", i*100)))
			contents = append(contents, c)
			s.Do(t, "PUT", fmt.Sprintf("/raw/files/old/%d", i), admin, bytes.NewReader(c))
			s.Do(t, "DELETE", fmt.Sprintf("/raw/files/old/%d", i), admin, nil)
		}
		age(t, s) // everything is now old garbage
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A push whose bytes a collection took between their commit and
			// their record is refused with 503 ("send it again"), which
			// clients retry: up to three tries, as they would. What is
			// acknowledged (201) must read back below.
			for i, c := range contents {
				var resp *http.Response
				var err error
				for try := 0; try < 3; try++ {
					req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/raw/files/new/%d", s.URL, i), bytes.NewReader(c))
					req.SetBasicAuth("admin", apptest.AdminPassword)
					resp, err = http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != 503 {
						break
					}
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 201 {
					t.Errorf("push %d during GC: %v %v", i, resp, err)
					return
				}
				resp.Body.Close()
			}
		}()
		for i := 0; i < 5; i++ {
			if _, err := s.Collector().Run(ctx, false, nil); err != nil {
				t.Fatalf("GC: %v", err)
			}
		}
		wg.Wait()
		if _, err := s.Collector().Run(ctx, false, nil); err != nil {
			t.Fatal(err)
		}
		for i, c := range contents {
			resp, body := s.Do(t, "GET", fmt.Sprintf("/raw/files/new/%d", i), admin, nil)
			if resp.StatusCode != 200 || body != string(c) {
				t.Fatalf("file %d pushed during GC reads %d %q", i, resp.StatusCode, body[:min(len(body), 40)])
			}
		}
	})
}

// TestFsck checks a healthy store, then one whose blob file was deleted
// behind arca's back: fsck names the artifacts that lost their bytes, and
// --repair removes them so that they answer 404 instead of failing.
func TestFsck(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		lost, kept := []byte("bytes that will be lost"), []byte("bytes that stay")
		s.Do(t, "PUT", "/raw/files/models/lost.bin", admin, bytes.NewReader(lost))
		s.Do(t, "PUT", "/raw/files/models/kept.bin", admin, bytes.NewReader(kept))
		s.Do(t, "POST", "/v2/library/app/blobs/uploads/?digest=sha256:"+digestHex(lost), admin, bytes.NewReader(lost))
		rep, err := s.Collector().Fsck(ctx, false)
		if err != nil || len(rep.Missing) != 0 || rep.Rows < 2 || rep.Blobs != rep.Rows {
			t.Fatalf("fsck of a healthy store = %+v, %v", rep, err)
		}
		h := digestHex(lost)
		if err := os.Remove(filepath.Join(s.Config.BlobDir(), "blobs", "sha256", h[:2], h)); err != nil {
			t.Fatal(err)
		}
		rep, err = s.Collector().Fsck(ctx, false)
		if err != nil || len(rep.Missing) != 1 || rep.Missing[0].Digest != "sha256:"+h {
			t.Fatalf("fsck after losing a blob = %+v, %v", rep, err)
		}
		used := strings.Join(rep.Missing[0].UsedBy, ", ")
		if !strings.Contains(used, "raw files/models/lost.bin") || !strings.Contains(used, "oci blob library/app") {
			t.Fatalf("fsck names the lost blob's users as %q", used)
		}
		if rep, err = s.Collector().Fsck(ctx, true); err != nil || !rep.Repaired {
			t.Fatalf("fsck --repair = %+v, %v", rep, err)
		}
		if resp, _ := s.Do(t, "GET", "/raw/files/models/lost.bin", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("a repaired file answers %d, want 404", resp.StatusCode)
		}
		if _, body := s.Do(t, "GET", "/raw/files/models/kept.bin", admin, nil); body != string(kept) {
			t.Fatalf("a healthy file reads %q after repair", body)
		}
		if rep, err = s.Collector().Fsck(ctx, false); err != nil || len(rep.Missing) != 0 {
			t.Fatalf("fsck after repair = %+v, %v", rep, err)
		}
	})
}

// TestCollectExpiresMultipartUploads: arca gc aborts S3 multipart uploads
// older than s3.upload_max_age, and their parts become garbage in the same
// run (issue 22, item 14).
func TestCollectExpiresMultipartUploads(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		r := newRacer(t, s)
		part := content("abandoned part", 1)
		up, err := r.s3.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String("abandoned")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.s3.UploadPart(ctx, &s3sdk.UploadPartInput{Bucket: aws.String("backups"), Key: aws.String("abandoned"), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(part)}); err != nil {
			t.Fatal(err)
		}
		res, err := s.Collector().Run(ctx, false, nil)
		if err != nil || res.MultipartEnded != 0 {
			t.Fatalf("GC of a fresh upload = %+v, %v", res, err)
		}
		old := time.Now().Add(-time.Duration(s.Config.S3.UploadMaxAge) - time.Hour).UnixMilli()
		if _, err := s.DB.Exec(`UPDATE s3_uploads SET created_at = $1`, old); err != nil {
			t.Fatal(err)
		}
		r.ageBlob(part)
		res, err = s.Collector().Run(ctx, false, nil)
		if err != nil || res.MultipartEnded != 1 || res.Deleted != 1 || blobExists(s, part) {
			t.Fatalf("GC of an abandoned upload = %+v, %v (part still stored: %v)", res, err, blobExists(s, part))
		}
		if _, err := r.s3.ListParts(ctx, &s3sdk.ListPartsInput{Bucket: aws.String("backups"), Key: aws.String("abandoned"), UploadId: up.UploadId}); err == nil {
			t.Fatal("the abandoned upload still lists its parts")
		}
	})
}

// TestInterruptedDeletion: a collector killed between burying a blob (its
// row deleted, its tombstone written) and deleting the bytes leaves a
// tombstone behind. While it is fresh the bytes stay and fsck reports them
// as being deleted, not as orphans; once it is stale, content stored again
// takes it over instead of being refused until the next collection, and a
// collection removes it and collects the bytes in the same run.
func TestInterruptedDeletion(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		again, left := []byte("stored again after the crash"), []byte("left by the crash")
		s.Do(t, "PUT", "/raw/files/again", admin, bytes.NewReader(again))
		s.Do(t, "PUT", "/raw/files/left", admin, bytes.NewReader(left))
		s.Do(t, "DELETE", "/raw/files/again", admin, nil)
		s.Do(t, "DELETE", "/raw/files/left", admin, nil)
		age(t, s)
		bury := func(content []byte, at time.Time) {
			t.Helper()
			d := "sha256:" + digestHex(content)
			if _, err := s.DB.Exec(`DELETE FROM blobs WHERE digest = $1`, d); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB.Exec(`INSERT INTO blob_tombstones (digest, created_at) VALUES ($1, $2)`, d, at.UnixMilli()); err != nil {
				t.Fatal(err)
			}
		}
		bury(again, time.Now())
		bury(left, time.Now())

		rep, err := s.Collector().Fsck(ctx, false)
		if err != nil || rep.Deleting != 2 || rep.Orphans != 0 || len(rep.Missing) != 0 {
			t.Fatalf("fsck with two fresh tombstones = %+v, %v", rep, err)
		}
		// A fresh tombstone: its collector may still delete the bytes.
		res, err := s.Collector().Run(ctx, false, nil)
		if err != nil || res.Deleted != 0 || !blobExists(s, again) || !blobExists(s, left) {
			t.Fatalf("run beside fresh tombstones = %+v, %v", res, err)
		}

		// Stale: the collector is gone and deletes nothing any more.
		stale := time.Now().Add(-2 * time.Minute)
		if _, err := s.DB.Exec(`UPDATE blob_tombstones SET created_at = $1`, stale.UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if resp, body := s.Do(t, "PUT", "/raw/files/again-2", admin, bytes.NewReader(again)); resp.StatusCode != 201 {
			t.Fatalf("storing content under a stale tombstone = %d %s", resp.StatusCode, body)
		}
		var tombstones int
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM blob_tombstones WHERE digest = $1`, "sha256:"+digestHex(again)).Scan(&tombstones); err != nil || tombstones != 0 {
			t.Fatalf("the writer left %d tombstones (%v)", tombstones, err)
		}
		res, err = s.Collector().Run(ctx, false, nil)
		if err != nil || res.Deleted != 1 || blobExists(s, left) || !blobExists(s, again) {
			t.Fatalf("run after the tombstones went stale = %+v, %v (left stored: %v, again stored: %v)", res, err, blobExists(s, left), blobExists(s, again))
		}
		if _, body := s.Do(t, "GET", "/raw/files/again-2", admin, nil); body != string(again) {
			t.Fatalf("content stored again reads %q", body)
		}
		rep, err = s.Collector().Fsck(ctx, false)
		if err != nil || rep.Deleting != 0 || rep.Orphans != 0 || len(rep.Missing) != 0 {
			t.Fatalf("fsck at the end = %+v, %v", rep, err)
		}
	})
}
