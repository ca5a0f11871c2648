// Package gc deletes blobs that nothing refers to, online: pushes and pulls
// go on while it runs, in this process and in others sharing the database
// and the blob store.
//
// A blob is garbage when no metadata row of any format refers to it, its
// row was not touched within the grace window, and its bytes were not
// committed within it. Every format's rows refer to blobs through a foreign
// key on the blobs table, so GC does not need to know the formats. For each
// old blob in the store:
//
//  1. In one transaction: make sure the blob has a row (a placeholder when
//     it has none, which also waits out a writer inserting one), delete the
//     row unless it was touched recently (the database refuses while any
//     row refers to it), and write the blob's tombstone.
//  2. After that commits, delete the bytes, unless they were committed
//     again meanwhile.
//  3. Remove the tombstone.
//
// Writers add references only through Record and Claim (refs.go), which
// touch the row in the transaction that adds the reference and refuse to
// go on while a tombstone stands. A dry run performs step 1 in a
// transaction that it rolls back.
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
	// MultipartEnded counts S3 multipart uploads aborted for their age.
	MultipartEnded int   `json:"multipart_uploads_expired"`
	DryRun         bool  `json:"dry_run"`
	TookMillis     int64 `json:"took_ms"`
}

// Collector runs garbage collection.
type Collector struct {
	DB    *meta.DB
	Blobs *blob.Store
	Log   *slog.Logger
	// Grace protects blobs committed or referenced this recently; it must
	// exceed the time between a write committing a blob and recording its
	// metadata.
	Grace time.Duration
	// StagedMaxAge is the age past which abandoned uploads are removed.
	StagedMaxAge time.Duration
	// MultipartMaxAge is the age past which unfinished S3 multipart
	// uploads are aborted (their parts then become garbage); 0 keeps them.
	MultipartMaxAge time.Duration
}

// staleTombstone is the age past which a tombstone is taken to be left by
// a collector that died between writing it and removing it; a collector
// does not delete bytes later than unlinkWithin after its tombstone
// committed, so past it the tombstone protects nothing: a writer storing
// the digest again removes it (Record), and so does the next collection.
const (
	staleTombstone = time.Minute
	unlinkWithin   = 20 * time.Second
)

// Run collects garbage once. progress, if not nil, is called every 1000
// blobs with the result so far.
func (c *Collector) Run(ctx context.Context, dryRun bool, progress func(Result)) (Result, error) {
	start := time.Now()
	res := Result{DryRun: dryRun}
	cutoff := start.Add(-c.Grace)
	if !dryRun {
		if err := c.finishStale(ctx); err != nil {
			return res, err
		}
		// Expired uploads first: their parts become garbage in this run.
		if err := c.expireUploads(ctx, start, &res); err != nil {
			return res, err
		}
	}
	err := c.Blobs.Walk(ctx, func(st blob.Stat) error {
		res.Scanned++
		if progress != nil && res.Scanned%1000 == 0 {
			progress(res)
		}
		if !st.ModTime.Before(cutoff) {
			res.Young++
			return nil
		}
		if used, err := c.referenced(ctx, string(st.Digest)); err != nil {
			return err
		} else if used {
			res.InUse++
			return nil
		}
		verdict, err := c.bury(ctx, st, cutoff, dryRun)
		if err != nil {
			return err
		}
		switch verdict {
		case inUse:
			res.InUse++
			return nil
		case young:
			res.Young++
			return nil
		}
		if !dryRun {
			deleted, err := c.unlink(ctx, st.Digest, cutoff, time.Now())
			if err != nil {
				return err
			}
			if !deleted {
				res.Young++
				return nil
			}
		}
		res.Deleted++
		res.BytesFreed += st.Size
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := c.collectInline(ctx, cutoff, dryRun, &res); err != nil {
		return res, err
	}
	if !dryRun {
		if res.StagedPurged, err = c.Blobs.PurgeStaged(ctx, start.Add(-c.StagedMaxAge)); err != nil {
			return res, err
		}
	}
	res.TookMillis = time.Since(start).Milliseconds()
	return res, nil
}

// expireUploads ends OCI upload sessions and S3 multipart uploads that were
// abandoned; their staged bytes and parts are collected as garbage.
func (c *Collector) expireUploads(ctx context.Context, now time.Time, res *Result) error {
	r, err := c.DB.ExecContext(ctx, `DELETE FROM oci_uploads WHERE updated_at < $1`, now.Add(-c.StagedMaxAge).UnixMilli())
	if err != nil {
		return meta.Err(err)
	}
	n, _ := r.RowsAffected()
	res.UploadsEnded = int(n)
	if c.MultipartMaxAge <= 0 {
		return nil
	}
	r, err = c.DB.ExecContext(ctx, `DELETE FROM s3_uploads WHERE created_at < $1`, now.Add(-c.MultipartMaxAge).UnixMilli())
	if err != nil {
		return meta.Err(err)
	}
	n, _ = r.RowsAffected()
	res.MultipartEnded = int(n)
	return nil
}

type verdict int

const (
	free verdict = iota
	inUse
	young
)

// referenced reports whether anything refers to d now. It is a read
// without a transaction, to spare referenced blobs (most of them) a write
// transaction; a blob it finds free is decided again by bury, under the
// database's foreign keys.
func (c *Collector) referenced(ctx context.Context, d string) (bool, error) {
	q := `SELECT CASE WHEN EXISTS (SELECT 1 FROM oci_manifest_refs WHERE child = $1)`
	for _, r := range referrers() {
		q += ` OR EXISTS (SELECT 1 FROM ` + r.table + ` WHERE ` + r.column + ` = $1)`
	}
	q += ` THEN 1 ELSE 0 END`
	var used int
	if err := c.DB.QueryRowContext(ctx, q, d).Scan(&used); err != nil {
		return false, meta.Err(err)
	}
	return used == 1, nil
}

// bury is step 1: it deletes d's row and writes its tombstone when nothing
// refers to d and its row is old. In a dry run it rolls back.
func (c *Collector) bury(ctx context.Context, st blob.Stat, cutoff time.Time, dryRun bool) (verdict, error) {
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, meta.Err(err)
	}
	defer tx.Rollback()
	d := string(st.Digest)
	// A placeholder row for bytes that have none, so that this transaction
	// and a writer recording the same digest meet on one key: whichever
	// comes second waits for the other and then sees its outcome.
	if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at, touched_at) VALUES ($1, $2, 0, 0) ON CONFLICT (digest) DO NOTHING`,
		d, st.Size); err != nil {
		return 0, meta.Err(err)
	}
	// Manifests may list children they do not link (sparse indexes), so
	// those references have no foreign key and are checked here.
	var refs int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM oci_manifest_refs WHERE child = $1 LIMIT 1) t`, d).Scan(&refs); err != nil {
		return 0, meta.Err(err)
	}
	if refs > 0 {
		return inUse, nil
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = $1 AND touched_at < $2`, d, cutoff.UnixMilli())
	if errs.Is(meta.Err(err), errs.Invalid) { // a foreign key: still referenced
		return inUse, nil
	} else if err != nil {
		return 0, meta.Err(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return young, nil // touched within the grace window
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO blob_tombstones (digest, created_at) VALUES ($1, $2)`, d, meta.Now()); err != nil {
		if meta.IsUniqueViolation(err) { // another collector is at it
			return young, nil
		}
		return 0, meta.Err(err)
	}
	if dryRun {
		return free, nil
	}
	return free, meta.Err(tx.Commit())
}

// unlink is steps 2 and 3 for a blob buried at buried. The bytes stay when
// they were committed again after cutoff (a writer re-storing the same
// content, which waits for the tombstone to go and then finds them), or
// when the collector was held up so long that another may have taken the
// tombstone for stale. It reports whether the bytes were deleted.
func (c *Collector) unlink(ctx context.Context, d blob.Digest, cutoff, buried time.Time) (bool, error) {
	deleted := false
	st, err := c.Blobs.Stat(ctx, d)
	switch {
	case errs.Is(err, errs.NotFound):
	case err != nil:
		return false, err
	case st.ModTime.Before(cutoff) && time.Since(buried) < unlinkWithin:
		if err := c.Blobs.Delete(ctx, d); err != nil {
			return false, err
		}
		deleted = true
	}
	_, err = c.DB.ExecContext(context.WithoutCancel(ctx), `DELETE FROM blob_tombstones WHERE digest = $1`, string(d))
	return deleted, meta.Err(err)
}

// finishStale removes the tombstones of collectors that died (or stalled
// past unlinkWithin) between writing a tombstone and removing it. Their
// rows are gone, so the bytes they left are ordinary orphans: the walk that
// follows collects them with the usual checks, which a writer storing the
// same content again meanwhile is protected by. Deleting the bytes here
// instead would race with such a writer, which may take a stale tombstone
// over (Record).
func (c *Collector) finishStale(ctx context.Context) error {
	r, err := c.DB.ExecContext(ctx, `DELETE FROM blob_tombstones WHERE created_at < $1`,
		time.Now().Add(-staleTombstone).UnixMilli())
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := r.RowsAffected(); n > 0 {
		c.Log.Info("garbage collection removed the tombstones of interrupted deletions; their blobs are collected as garbage", "tombstones", n)
	}
	return nil
}
