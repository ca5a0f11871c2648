package gc_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// TestInlineBlobs: S3 objects up to blob.inline_max live in their blob's
// row, not in the blob store; they read back whole (also when empty),
// copies claim them, garbage collection deletes a row nothing refers to
// (and keeps one a copy still names), and fsck checks the bytes in the row
// against the digest.
func TestInlineBlobs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if s.DB.Dialect == meta.Postgres {
			// Off by default on PostgreSQL in this release (replicas of
			// the previous one cannot read them); every release reads them.
			s.Blobs.SetInline(gc.InlineBlobs{DB: s.DB}, s.Config.Blob.InlineMax)
		}
		r := newRacer(t, s)
		small, large := content("small object", 1), bytes.Repeat([]byte("large object "), 2000)
		for key, body := range map[string][]byte{"small": small, "empty": {}, "large": large} {
			if _, err := r.s3.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
		}
		inline := func(c []byte) bool {
			var n int
			if err := s.DB.QueryRow(`SELECT COUNT(*) FROM blobs WHERE digest = $1 AND data IS NOT NULL`, "sha256:"+digestHex(c)).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		if !inline(small) || blobExists(s, small) || !inline([]byte{}) || blobExists(s, []byte{}) {
			t.Fatalf("small objects: in the row %v/%v, in the blob store %v/%v; want the row only", inline(small), inline([]byte{}), blobExists(s, small), blobExists(s, []byte{}))
		}
		if inline(large) || !blobExists(s, large) {
			t.Fatalf("a %d-byte object: in the row %v, in the blob store %v", len(large), inline(large), blobExists(s, large))
		}
		get := func(key string, rng *string) []byte {
			t.Helper()
			out, err := r.s3.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String("backups"), Key: aws.String(key), Range: rng})
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			defer out.Body.Close()
			b, err := io.ReadAll(out.Body)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if got := get("small", nil); !bytes.Equal(got, small) {
			t.Fatalf("small object reads back as %d bytes", len(got))
		}
		if got := get("small", aws.String("bytes=5-20")); !bytes.Equal(got, small[5:21]) {
			t.Fatalf("range of a small object = %q, want %q", got, small[5:21])
		}
		if got := get("empty", nil); len(got) != 0 {
			t.Fatalf("empty object reads back as %d bytes", len(got))
		}
		if rep, err := s.Collector().Fsck(ctx, false); err != nil || len(rep.Missing) != 0 {
			t.Fatalf("fsck with inline blobs = %+v, %v", rep, err)
		}

		// A copy claims the row; deleting the original leaves it in use.
		if _, err := r.s3.CopyObject(ctx, &s3sdk.CopyObjectInput{Bucket: aws.String("backups"), Key: aws.String("copy"), CopySource: aws.String("backups/small")}); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"small", "empty"} {
			if _, err := r.s3.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String(key)}); err != nil {
				t.Fatal(err)
			}
		}
		age(t, s)
		res, err := s.Collector().Run(ctx, true, nil)
		if err != nil || res.Deleted != 1 || !inline([]byte{}) {
			t.Fatalf("dry run = %+v, %v (empty blob's row kept: %v)", res, err, inline([]byte{}))
		}
		res, err = s.Collector().Run(ctx, false, nil)
		if err != nil || res.Deleted != 1 || inline([]byte{}) || !inline(small) {
			t.Fatalf("collection = %+v, %v; empty blob's row kept %v, copied blob's %v", res, err, inline([]byte{}), inline(small))
		}
		if got := get("copy", nil); !bytes.Equal(got, small) {
			t.Fatalf("the copy reads back as %d bytes after a collection", len(got))
		}
		if _, err := r.s3.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String("copy")}); err != nil {
			t.Fatal(err)
		}
		age(t, s)
		if res, err = s.Collector().Run(ctx, false, nil); err != nil || res.Deleted != 1 || inline(small) {
			t.Fatalf("collection after the last reference went = %+v, %v", res, err)
		}

		// Bytes in a row that do not match its digest are reported.
		if _, err := r.s3.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("small"), Body: bytes.NewReader(small)}); err != nil {
			t.Fatal(err)
		}
		corrupt := bytes.Clone(small)
		corrupt[len(corrupt)/2] ^= 1
		if _, err := s.DB.Exec(`UPDATE blobs SET data = $1 WHERE digest = $2`, corrupt, "sha256:"+digestHex(small)); err != nil {
			t.Fatal(err)
		}
		rep, err := s.Collector().Fsck(ctx, false)
		if err != nil || len(rep.Missing) != 1 || !strings.Contains(rep.Missing[0].Problem, "do not match") {
			t.Fatalf("fsck of a corrupt inline blob = %+v, %v", rep, err)
		}
	})
}
