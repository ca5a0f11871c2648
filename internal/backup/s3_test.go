package backup_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/backup"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/keyring"
)

// TestBackupToAnotherArcaAndPrune backs up into the default backups bucket
// of a second arca over S3, prunes, verifies and restores from there.
func TestBackupToAnotherArcaAndPrune(t *testing.T) {
	ctx := context.Background()
	src := apptest.Start(t, "", nil)
	dr := apptest.Start(t, "", nil)
	ts := httptest.NewServer(dr.S3Handler())
	t.Cleanup(ts.Close)
	k, secret, err := dr.Auth.CreateAccessKey(ctx, "admin", "", "", "backups of src")
	if err != nil {
		t.Fatal(err)
	}
	target, err := backup.OpenTarget(ctx, "s3://backups/src", backup.S3Options{Endpoint: ts.URL, AccessKey: k.ID, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	source := backup.Source{DB: src.DB, Blobs: src.Blobs}
	do(t, src, "PUT", "/raw/files/old.txt", apptest.Admin, "only in the first backup", 201)
	first, err := backup.Run(ctx, source, target, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	do(t, src, "DELETE", "/raw/files/old.txt", apptest.Admin, "", 204)
	do(t, src, "PUT", "/raw/files/new.txt", apptest.Admin, "in the second", 201)
	// The deleted file's blob row stays until a collection; drop it as one
	// would, so that the second backup no longer names it.
	if _, err := src.DB.ExecContext(ctx, `DELETE FROM blobs WHERE digest = $1`, digestOf("only in the first backup")); err != nil {
		t.Fatal(err)
	}
	second, err := backup.Run(ctx, source, target, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if second.CopiedBlobs != 1 {
		t.Fatalf("second backup copied %d blobs", second.CopiedBlobs)
	}

	// Within the hour, prune keeps the first backup's blob (a backup may
	// be copying it); later it goes with the first backup.
	rep, err := backup.Prune(ctx, target, backup.Retention{Keep: 1}, time.Now(), true)
	if err != nil || len(rep.Deleted) != 1 || rep.Deleted[0] != first.ID || rep.Blobs != 0 {
		t.Fatalf("prune --dry-run = %+v, %v", rep, err)
	}
	rep, err = backup.Prune(ctx, target, backup.Retention{Keep: 1}, time.Now().Add(2*time.Hour), false)
	if err != nil || len(rep.Deleted) != 1 || rep.Blobs != 1 || rep.BlobsBytes != int64(len("only in the first backup")) {
		t.Fatalf("prune = %+v, %v", rep, err)
	}
	all, err := backup.List(ctx, target)
	if err != nil || len(all) != 1 || all[0].ID != second.ID {
		t.Fatalf("list after prune = %+v, %v", all, err)
	}
	if rep, err := backup.Verify(ctx, target, second, nil); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify = %v, %v", rep.Problems, err)
	}

	dir := t.TempDir()
	kek, err := os.ReadFile(src.Config.KEKFile())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kek"), kek, 0o600)
	cfg := config.Default()
	cfg.DataDir = dir
	blobs, err := app.OpenBlobStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := keyring.LoadKEK(keyring.Source{File: filepath.Join(dir, "kek")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.Find(ctx, target, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, target, m, backup.Destination{DataDir: dir, Blobs: blobs, KEK: key}, nil); err != nil {
		t.Fatal(err)
	}
	restored := apptest.Start(t, "", func(c *config.Config) { c.DataDir = dir })
	if got := do(t, restored, "GET", "/raw/files/new.txt", apptest.Admin, "", 200); got != "in the second" {
		t.Fatalf("restored file = %q", got)
	}
	do(t, restored, "GET", "/raw/files/old.txt", apptest.Admin, "", 404)
}
