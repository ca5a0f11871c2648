package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/backup"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestScheduledBackup: with backup.to set, the job runner's leader takes a
// backup (at its start, then every backup.interval) that verifies, and
// prunes to backup.keep.
func TestScheduledBackup(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			url := ""
			if db == "postgres" {
				url = metatest.PostgresURL(t)
			}
			dir := t.TempDir()
			s := apptest.Start(t, url, func(c *config.Config) {
				c.Backup.To = dir
				c.Backup.Interval = config.Duration(time.Hour)
				c.Backup.Keep = 1
			})
			if err := s.Jobs.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s.Jobs.Stop(ctx)
			})
			ctx := context.Background()
			target, err := backup.OpenTarget(ctx, dir, backup.S3Options{})
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				entries, err := backup.List(ctx, target)
				if err != nil {
					t.Fatal(err)
				}
				if len(entries) == 1 && entries[0].Manifest != nil {
					if _, err := backup.Verify(ctx, target, *entries[0].Manifest, nil); err != nil {
						t.Fatalf("verifying the scheduled backup: %v", err)
					}
					if entries[0].Manifest.Blobs < 0 || len(entries[0].Manifest.Tables) == 0 {
						t.Fatalf("manifest = %+v", entries[0].Manifest)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no scheduled backup after 60s: %+v", entries)
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}
