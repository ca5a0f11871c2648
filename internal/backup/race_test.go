package backup_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/backup"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/config"
)

// collectingDriver plays a collection that runs between a backup's
// snapshot and its copy of one blob: the first time the backup asks for
// the blob, its reference and row are deleted and then its bytes, as a
// delete followed by arca gc would.
type collectingDriver struct {
	blob.Driver
	victim  blob.Digest
	collect func()
	once    sync.Once
}

func (d *collectingDriver) Stat(ctx context.Context, dg blob.Digest) (blob.Stat, error) {
	if dg == d.victim {
		d.once.Do(d.collect)
	}
	return d.Driver.Stat(ctx, dg)
}

func TestBackupRetriesWhenABlobIsCollected(t *testing.T) {
	ctx := context.Background()
	s := apptest.Start(t, "", func(c *config.Config) { c.GC.Grace = config.Duration(time.Millisecond) })
	do(t, s, "PUT", "/raw/files/keep.txt", apptest.Admin, "kept", 201)
	do(t, s, "PUT", "/raw/files/gone.txt", apptest.Admin, "deleted meanwhile", 201)
	victim := blob.Digest(digestOf("deleted meanwhile"))
	drv := &collectingDriver{Driver: s.Blobs.Driver(), victim: victim, collect: func() {
		// The file is deleted and a real collection takes its blob.
		do(t, s, "DELETE", "/raw/files/gone.txt", apptest.Admin, "", 204)
		time.Sleep(5 * time.Millisecond)
		res, err := s.Collector().Run(ctx, false, nil)
		if err != nil || res.Deleted != 1 {
			t.Errorf("collection between snapshot and copy: %+v, %v", res, err)
		}
	}}
	target, err := backup.OpenTarget(ctx, t.TempDir(), backup.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := backup.Run(ctx, backup.Source{DB: s.DB, Blobs: blob.New(drv, nil)}, target, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Attempts != 2 || m.Tables["raw_files"] != 1 {
		t.Fatalf("backup after a collection: %d attempts, %d raw files", m.Attempts, m.Tables["raw_files"])
	}
	if rep, err := backup.Verify(ctx, target, m, nil); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("verify = %v, %v", rep.Problems, err)
	}

	// Bytes missing while their row stays are damage, not a race: a backup
	// to a new target (the old one holds a copy) fails after its attempts
	// and says so.
	if err := s.Blobs.Delete(ctx, blob.Digest(digestOf("kept"))); err != nil {
		t.Fatal(err)
	}
	fresh, err := backup.OpenTarget(ctx, t.TempDir(), backup.S3Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Run(ctx, backup.Source{DB: s.DB, Blobs: s.Blobs}, fresh, backup.Options{}); err == nil || !strings.Contains(err.Error(), "arca fsck") {
		t.Fatalf("backup with a blob missing for good: %v", err)
	}
}
