// Package gc deletes blobs that nothing refers to, online: pushes and pulls
// go on while it runs.
//
// A blob is garbage when no metadata row of any format refers to it and it
// was committed longer ago than the grace window. Every format's rows refer
// to blobs through a foreign key on the blobs table, so GC does not need to
// know the formats:
//
//  1. Walk the blob store; skip blobs committed within the grace window.
//  2. Delete the blob's row. The database refuses while any row refers to
//     it, so a blob in use, or linked while GC runs, survives.
//  3. Stat the blob again and delete it only if it is still old: a push
//     that committed the same content in the meantime refreshed it, and its
//     metadata re-creates the row.
//
// A dry run performs step 2 in a transaction that it rolls back.
package gc

import (
	"context"
	"log/slog"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Result summarises a run.
type Result struct {
	Scanned      int   `json:"scanned"`
	Deleted      int   `json:"deleted"`
	BytesFreed   int64 `json:"bytes_freed"`
	InUse        int   `json:"in_use"`
	Young        int   `json:"young"` // within the grace window
	StagedPurged int   `json:"staged_purged"`
	UploadsEnded int   `json:"uploads_expired"`
	DryRun       bool  `json:"dry_run"`
	TookMillis   int64 `json:"took_ms"`
}

// Collector runs garbage collection.
type Collector struct {
	DB    *meta.DB
	Blobs *blob.Store
	Log   *slog.Logger
	// Grace protects blobs committed this recently; it must exceed the time
	// between a push committing a blob and writing its metadata.
	Grace time.Duration
	// StagedMaxAge is the age past which abandoned uploads are removed.
	StagedMaxAge time.Duration
}

// Run collects garbage once. progress, if not nil, is called every 1000
// blobs with the result so far.
func (c *Collector) Run(ctx context.Context, dryRun bool, progress func(Result)) (Result, error) {
	start := time.Now()
	res := Result{DryRun: dryRun}
	cutoff := start.Add(-c.Grace)
	err := c.Blobs.Walk(ctx, func(st blob.Stat) error {
		res.Scanned++
		if progress != nil && res.Scanned%1000 == 0 {
			progress(res)
		}
		if !st.ModTime.Before(cutoff) {
			res.Young++
			return nil
		}
		free, err := c.release(ctx, st.Digest, dryRun)
		if err != nil {
			return err
		}
		if !free {
			res.InUse++
			return nil
		}
		if !dryRun {
			now, err := c.Blobs.Stat(ctx, st.Digest)
			if errs.Is(err, errs.NotFound) {
				return nil
			} else if err != nil {
				return err
			}
			if !now.ModTime.Before(cutoff) { // re-pushed while we looked
				res.Young++
				return nil
			}
			if err := c.Blobs.Delete(ctx, st.Digest); err != nil {
				return err
			}
		}
		res.Deleted++
		res.BytesFreed += st.Size
		return nil
	})
	if err != nil {
		return res, err
	}
	if !dryRun {
		stagedCutoff := start.Add(-c.StagedMaxAge)
		if res.StagedPurged, err = c.Blobs.PurgeStaged(ctx, stagedCutoff); err != nil {
			return res, err
		}
		r, err := c.DB.ExecContext(ctx, `DELETE FROM oci_uploads WHERE updated_at < $1`, stagedCutoff.UnixMilli())
		if err != nil {
			return res, meta.Err(err)
		}
		n, _ := r.RowsAffected()
		res.UploadsEnded = int(n)
	}
	res.TookMillis = time.Since(start).Milliseconds()
	return res, nil
}

// release deletes d's row unless something refers to it, and reports
// whether d is free. In a dry run the deletion is rolled back.
func (c *Collector) release(ctx context.Context, d blob.Digest, dryRun bool) (bool, error) {
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, meta.Err(err)
	}
	defer tx.Rollback()
	// Manifests may list children they do not link (sparse indexes), so
	// those references have no foreign key and are checked here.
	var refs int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM oci_manifest_refs WHERE child = $1 LIMIT 1) t`, string(d)).Scan(&refs); err != nil {
		return false, meta.Err(err)
	}
	if refs > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = $1`, string(d)); err != nil {
		if errs.Is(meta.Err(err), errs.Invalid) { // a foreign key: still referenced
			return false, nil
		}
		return false, meta.Err(err)
	}
	if dryRun {
		return true, nil
	}
	return true, meta.Err(tx.Commit())
}
