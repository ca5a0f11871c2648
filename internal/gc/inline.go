package gc

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Blobs kept in the database (blob.Store's inline writes): their bytes are
// the data column of their row in the blobs table, written by Record. They
// are collected like the others, except that deleting the row deletes the
// bytes in the same transaction, so they need no tombstone.

// InlineBlobs reads blobs kept in the database; it is the blob store's
// blob.InlineSource. Its reads may come from inside a transaction's
// function (a blob read while indexing, say), so they go through the
// database's read pool (meta.DB.Reads).
type InlineBlobs struct{ DB *meta.DB }

// Inline returns d's bytes when its row holds them.
func (s InlineBlobs) Inline(ctx context.Context, d blob.Digest) ([]byte, time.Time, error) {
	var data []byte
	var created int64
	err := s.DB.Reads().QueryRowContext(ctx, `SELECT data, created_at FROM blobs WHERE digest = $1 AND data IS NOT NULL`, string(d)).Scan(&data, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, errs.E(errs.NotFound, "blob %s not found", d)
	} else if err != nil {
		return nil, time.Time{}, meta.Err(err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, time.UnixMilli(created), nil
}

// collectInline is the collector's pass over blobs kept in the database:
// a row nothing refers to and nobody touched within the grace window is
// deleted, bytes and all.
func (c *Collector) collectInline(ctx context.Context, cutoff time.Time, dryRun bool, res *Result) error {
	after := ""
	for {
		rows, err := c.DB.QueryContext(ctx, `SELECT digest, size FROM blobs WHERE data IS NOT NULL AND digest > $1 AND touched_at < $2 ORDER BY digest LIMIT 1000`,
			after, cutoff.UnixMilli())
		if err != nil {
			return meta.Err(err)
		}
		var page []blob.Stat
		for rows.Next() {
			var st blob.Stat
			if err := rows.Scan(&st.Digest, &st.Size); err != nil {
				rows.Close()
				return meta.Err(err)
			}
			page = append(page, st)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return meta.Err(err)
		}
		for _, st := range page {
			res.Scanned++
			if used, err := c.referenced(ctx, string(st.Digest)); err != nil {
				return err
			} else if used {
				res.InUse++
				continue
			}
			v, err := c.dropInline(ctx, string(st.Digest), cutoff, dryRun)
			if err != nil {
				return err
			}
			switch v {
			case inUse:
				res.InUse++
			case young:
				res.Young++
			default:
				res.Deleted++
				res.BytesFreed += st.Size
			}
		}
		if len(page) < 1000 {
			return nil
		}
		after = string(page[len(page)-1].Digest)
	}
}

// dropInline deletes the row of an inline blob d unless something refers
// to it (the foreign keys refuse, or a manifest lists it) or it was touched
// after cutoff. In a dry run it rolls back.
func (c *Collector) dropInline(ctx context.Context, d string, cutoff time.Time, dryRun bool) (verdict, error) {
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, meta.Err(err)
	}
	defer tx.Rollback()
	var refs int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM oci_manifest_refs WHERE child = $1 LIMIT 1) t`, d).Scan(&refs); err != nil {
		return 0, meta.Err(err)
	}
	if refs > 0 {
		return inUse, nil
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = $1 AND touched_at < $2 AND data IS NOT NULL`, d, cutoff.UnixMilli())
	if errs.Is(meta.Err(err), errs.Invalid) { // a foreign key: still referenced
		return inUse, nil
	} else if err != nil {
		return 0, meta.Err(err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return young, nil
	}
	if dryRun {
		return free, nil
	}
	return free, meta.Err(tx.Commit())
}

// checkInline checks the bytes of an inline blob against its row: it
// returns the problem, or "".
func checkInline(d string, size int64, data []byte) string {
	if int64(len(data)) != size {
		return fmt.Sprintf("size differs: %d bytes in the database, %d recorded", len(data), size)
	}
	if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != d {
		return "the bytes in the database do not match the digest"
	}
	return ""
}
