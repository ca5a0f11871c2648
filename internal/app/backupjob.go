package app

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/backup"
)

// backupArgs is a scheduled backup (backup.to, every backup.interval): the
// elected leader enqueues it once per interval, so a cluster takes one.
type backupArgs struct {
	Trigger string `json:"trigger"`
}

func (backupArgs) Kind() string { return "backup" }

type backupWorker struct {
	river.WorkerDefaults[backupArgs]
	app *App
}

// backupSchedule is the configured schedule in backup's terms.
func (a *App) backupSchedule() backup.Schedule {
	c := a.Config.Backup
	return backup.Schedule{
		To:        c.To,
		S3:        backup.S3Options{Endpoint: c.S3Endpoint, Region: c.S3Region, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey},
		Interval:  time.Duration(c.Interval),
		Retention: backup.Retention{Keep: c.Keep, KeepDays: c.KeepDays},
	}
}

func (w *backupWorker) Work(ctx context.Context, j *river.Job[backupArgs]) error {
	a := w.app
	m, pruned, err := backup.RunScheduled(ctx, backup.Source{DB: a.DB, Blobs: a.Blobs}, a.backupSchedule(), nil)
	if err != nil {
		return fmt.Errorf("scheduled backup: %w", err)
	}
	a.Log.Info("scheduled backup", "job_id", j.ID, "id", m.ID, "blobs", m.Blobs, "copied_blobs", m.CopiedBlobs,
		"copied_bytes", m.CopiedBytes, "pruned", len(pruned.Deleted))
	return river.RecordOutput(ctx, map[string]any{"id": m.ID, "blobs": m.Blobs, "blob_bytes": m.BlobBytes,
		"copied_blobs": m.CopiedBlobs, "copied_bytes": m.CopiedBytes, "pruned": pruned.Deleted})
}

// backupJobs registers the backup worker, and the periodic backup when
// backup.to is configured.
func (a *App) backupJobs(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &backupWorker{app: a})
	if a.Config.Backup.To == "" || a.Config.Backup.Interval <= 0 {
		return nil
	}
	// Also on a leader's start, unless the current period's backup was
	// already taken (unique by period), as GC does.
	return []*river.PeriodicJob{periodic("backup", time.Duration(a.Config.Backup.Interval), true, backupArgs{Trigger: "periodic"})}
}
