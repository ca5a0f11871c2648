package gc

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// This file is the writers' half of the blob/GC boundary; gc.go is the
// collector's. Every metadata row that names a blob is added in a
// transaction that first calls Record (bytes the caller has just committed
// to the blob store) or Claim (bytes already stored: a copy, a mount, a
// single-part multipart completion). Both touch the blob's row, and the
// collector deletes a row only when it was not touched within the grace
// window and nothing refers to it, in the transaction that writes the
// blob's tombstone; the bytes go only after that commits. The rule and why
// it holds on SQLite and PostgreSQL are in docs/architecture.md.

// Stater is the part of the blob store that Record needs: what its driver
// holds (blob.Store.StatStored), not blobs kept in the database, which
// Record finds in the row and which a lookup through the pool from inside
// the transaction must not look for (meta's pool guard).
type Stater interface {
	StatStored(ctx context.Context, d blob.Digest) (blob.Stat, error)
}

// Blob is what Record notes about committed bytes: their sha256 digest and
// size, and the other digests a protocol needs (lowercase hex, "" when not
// computed).
type Blob struct {
	Digest            string
	Size              int64
	MD5, SHA1, SHA512 string
	// Inline is the bytes of a write the blob store kept for the database
	// (blob.Info.Inline): Record stores them in the blob's row.
	Inline []byte
}

// BlobOf describes a committed write.
func BlobOf(info blob.Info) Blob {
	return Blob{Digest: string(info.Digest), Size: info.Size, MD5: info.MD5, SHA1: info.SHA1, SHA512: info.SHA512, Inline: info.Inline}
}

// Record notes in tx that the caller has committed b's bytes to blobs and
// is about to refer to them in the same transaction.
//
//  1. The blob's row is created or touched (and digests it lacked are
//     filled in).
//  2. If garbage collection holds a tombstone for the digest, it may be
//     deleting these very bytes: Record fails with a meta.CodeRetry error,
//     so that meta.DB.WithTx runs the transaction again once the tombstone
//     is gone.
//  3. When the row is new, the bytes are checked in the store inside the
//     transaction: a collector that deleted them before the row existed
//     has finished (its tombstone is gone), so a blob present now stays.
//     Missing bytes fail the write with errs.Unavailable; nothing refers
//     to them.
//
// Bytes the store kept for the database (b.Inline not nil) go into a new
// row; a row that was there already has the same bytes, in the store or in
// the row.
func Record(ctx context.Context, tx meta.Querier, blobs Stater, b Blob) error {
	now := meta.Now()
	var created int64
	var data any // NULL: the bytes are in the blob store
	if b.Inline != nil {
		data = b.Inline // never nil (blob.Info.Inline): zero bytes are not NULL
	}
	err := tx.QueryRowContext(ctx,
		`INSERT INTO blobs (digest, size, md5, sha1, sha512, created_at, touched_at, data) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
		 ON CONFLICT (digest) DO UPDATE SET
		   touched_at = excluded.touched_at,
		   md5 = CASE WHEN blobs.md5 = '' THEN excluded.md5 ELSE blobs.md5 END,
		   sha1 = CASE WHEN blobs.sha1 = '' THEN excluded.sha1 ELSE blobs.sha1 END,
		   sha512 = CASE WHEN blobs.sha512 = '' THEN excluded.sha512 ELSE blobs.sha512 END
		 RETURNING created_at`,
		b.Digest, b.Size, b.MD5, b.SHA1, b.SHA512, now, data).Scan(&created)
	if err != nil {
		return meta.Err(err)
	}
	if err := checkTombstone(ctx, tx, b.Digest); err != nil {
		return err
	}
	if created != now || b.Inline != nil {
		return nil // the row was there (its bytes are, too), or holds them
	}
	if _, err := blobs.StatStored(ctx, blob.Digest(b.Digest)); errs.Is(err, errs.NotFound) {
		return errs.E(errs.Unavailable, "blob %s was collected while it was being stored; send it again", b.Digest)
	} else if err != nil {
		return errs.Wrap(err, errs.Unavailable, "blob store unavailable")
	}
	return nil
}

// Claim notes in tx that the caller is about to refer to blob d, which it
// did not write but found stored. It fails with errs.NotFound when d has
// no row (never stored, or collected): the caller must then treat the
// content as absent. On PostgreSQL the touch locks the row until tx ends,
// so a collector deciding about d waits and then sees the fresh touch.
func Claim(ctx context.Context, tx meta.Querier, d string) error {
	res, err := tx.ExecContext(ctx, `UPDATE blobs SET touched_at = $2 WHERE digest = $1`, d, meta.Now())
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "blob %s is not stored", d).WithCode(CodeNotStored)
	}
	return nil
}

// CodeNotStored is the code of Claim's error for a blob that is not stored.
const CodeNotStored = "BLOB_NOT_STORED"

// checkTombstone fails with a meta.CodeRetry error while a collector may
// be deleting d's bytes. A tombstone older than staleTombstone was left by
// a collector that died or stalled past unlinkWithin, and no collector
// deletes bytes under it any more: it is removed here, so that content
// stored again after a crash of the collector is not refused until the
// next collection.
func checkTombstone(ctx context.Context, tx meta.Querier, d string) error {
	var created int64
	err := tx.QueryRowContext(ctx, `SELECT created_at FROM blob_tombstones WHERE digest = $1`, d).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return meta.Err(err)
	}
	if created < time.Now().Add(-staleTombstone).UnixMilli() {
		_, err := tx.ExecContext(ctx, `DELETE FROM blob_tombstones WHERE digest = $1`, d)
		return meta.Err(err)
	}
	return errs.E(errs.Unavailable, "blob %s is being garbage-collected", d).WithCode(meta.CodeRetry)
}
