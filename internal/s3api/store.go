package s3api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// object is one stored object's metadata.
type object struct {
	Key         string
	Digest      string
	Size        int64
	ETag        string // without quotes
	ContentType string
	// Headers are the stored content headers and user metadata, names in
	// lower case (content-encoding, cache-control, x-amz-meta-*, ...).
	Headers   map[string]string
	Checksums checksums
	PartSizes []int64
	CreatedBy string
	Modified  int64 // Unix ms
	// UploadID is the multipart upload the object was completed from, or "".
	UploadID string
	// VersionID is the object's version ("" for the null version).
	VersionID string
	// Noncurrent is set on a noncurrent version read by its ID.
	Noncurrent bool
	// Tags are written with the object (every write replaces them); get
	// reports only their number in TagCount.
	Tags     []tag
	TagCount int
	// Inline is the object's bytes when getWith read them from its blob's
	// row (blob/inline.go); nil otherwise.
	Inline []byte
}

// store is the S3 tables.
type store struct {
	db    *meta.DB
	blobs gc.Stater
}

const objectColumns = `key, digest, size, etag, content_type, headers, checksums, part_sizes, created_by, modified_at, upload_id, version_id`

func scanObject(row interface{ Scan(...any) error }) (*object, error) {
	var o object
	var headers, sums, parts string
	if err := row.Scan(&o.Key, &o.Digest, &o.Size, &o.ETag, &o.ContentType, &headers, &sums, &parts, &o.CreatedBy, &o.Modified, &o.UploadID, &o.VersionID); err != nil {
		return nil, err
	}
	if headers != "" {
		json.Unmarshal([]byte(headers), &o.Headers)
	}
	o.Checksums = decodeChecksums(sums)
	if parts != "" {
		json.Unmarshal([]byte(parts), &o.PartSizes)
	}
	return &o, nil
}

func encodeJSON(v any, empty bool) string {
	if empty {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (s store) get(ctx context.Context, repoID int64, key string) (*object, error) {
	return s.getWith(ctx, repoID, key, 0)
}

// getWith is get that also reads the bytes of an object of at most
// inlineMax bytes when its blob's row keeps them (object.Inline), so that
// a GET of a small object is one query and no file.
func (s store) getWith(ctx context.Context, repoID int64, key string, inlineMax int) (*object, error) {
	var tagCount int
	var data []byte
	o, err := scanObject(withColumns{s.db.QueryRowContext(ctx,
		`SELECT `+objectColumns+`, (SELECT COUNT(*) FROM s3_object_tags t WHERE t.repository_id = $1 AND t.key = $2),
		   CASE WHEN size <= $3 THEN (SELECT b.data FROM blobs b WHERE b.digest = s3_objects.digest) END
		   FROM s3_objects WHERE repository_id = $1 AND key = $2`, repoID, key, inlineMax), []any{&tagCount, &data}})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s3Error("NoSuchKey", "the specified key does not exist")
	}
	if o != nil {
		o.TagCount, o.Inline = tagCount, data
	}
	return o, meta.Err(err)
}

// withColumns scans a row of objectColumns followed by more columns.
type withColumns struct {
	row  interface{ Scan(...any) error }
	more []any
}

func (c withColumns) Scan(dest ...any) error { return c.row.Scan(append(dest, c.more...)...) }

// blobWrite says how an object came by its blob: bytes the request has
// just written (fresh, with the md5 to record), or bytes already stored (a
// copy, or a single-part upload's part).
type blobWrite struct {
	fresh  bool
	md5    string
	inline []byte // the bytes of a fresh write kept for the database (blob.Info.Inline)
}

// freshBlob is how an object comes by the blob the request has just
// written.
func freshBlob(info blob.Info) blobWrite {
	return blobWrite{fresh: true, md5: info.MD5, inline: info.Inline}
}

// put records o (and its blob) in one transaction; it reports whether an
// object was replaced. A copy whose source blob was collected meanwhile is
// errs.NotFound.
//
// The conditions c are checked against the object the write replaces,
// and the write is guarded by that object's state (see conditional.go).
func (s store) put(ctx context.Context, repoID int64, o *object, how blobWrite, c writeCond) (replaced bool, err error) {
	return s.putThen(ctx, repoID, o, how, c, nil)
}

// putThen is put, running also (when not nil: the write's audit event,
// recorded with it) at the end of the transaction.
func (s store) putThen(ctx context.Context, repoID int64, o *object, how blobWrite, c writeCond, also func(tx *sql.Tx, replaced bool)) (replaced bool, err error) {
	err = s.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		replaced, err = s.putTx(ctx, tx, repoID, o, how, c)
		if err == nil && also != nil {
			also(tx, replaced)
		}
		return err
	})
	return replaced, err
}

func (s store) putTx(ctx context.Context, tx *sql.Tx, repoID int64, o *object, how blobWrite, c writeCond) (bool, error) {
	if how.fresh {
		if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: o.Digest, Size: o.Size, MD5: how.md5, Inline: how.inline}); err != nil {
			return false, err
		}
	} else if err := gc.Claim(ctx, tx, o.Digest); err != nil {
		return false, err
	}
	cur, err := currentTx(ctx, tx, repoID, o.Key)
	if err != nil {
		return false, err
	}
	if err := c.check(cur); err != nil {
		return false, err
	}
	// In a versioned bucket the current object becomes noncurrent (or,
	// when suspended, the null version is replaced), and the write is
	// guarded by the state read.
	status, err := versioningTx(ctx, tx, repoID)
	if err != nil {
		return false, err
	}
	guarded := c.set() || status != ""
	o.VersionID = ""
	if status == versioningEnabled {
		o.VersionID = newVersionID(time.Now())
	}
	if err := retire(ctx, tx, repoID, o.Key, cur, status); err != nil {
		return false, err
	}
	args := []any{repoID, o.Key, o.Digest, o.Size, o.ETag, o.ContentType, encodeJSON(o.Headers, len(o.Headers) == 0), o.Checksums.encode(),
		encodeJSON(o.PartSizes, len(o.PartSizes) == 0), o.CreatedBy, o.Modified, o.UploadID, o.VersionID}
	const insert = `INSERT INTO s3_objects (repository_id, ` + objectColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	q := insert + ` ON CONFLICT (repository_id, key) DO UPDATE SET digest = excluded.digest, size = excluded.size, etag = excluded.etag,
		   content_type = excluded.content_type, headers = excluded.headers, checksums = excluded.checksums,
		   part_sizes = excluded.part_sizes, created_by = excluded.created_by, modified_at = excluded.modified_at,
		   upload_id = excluded.upload_id, version_id = excluded.version_id`
	switch {
	case !guarded:
	case cur == nil: // guarded: no object may have appeared meanwhile
		q = insert + ` ON CONFLICT (repository_id, key) DO NOTHING`
	default: // guarded: the object checked is the one replaced
		q = `UPDATE s3_objects SET digest = $3, size = $4, etag = $5, content_type = $6, headers = $7, checksums = $8,
		   part_sizes = $9, created_by = $10, modified_at = $11, upload_id = $12, version_id = $13
		 WHERE repository_id = $1 AND key = $2 AND etag = $14 AND modified_at = $15`
		args = append(args, cur.ETag, cur.Modified)
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return false, meta.Err(err)
	}
	if n, _ := res.RowsAffected(); guarded && n == 0 {
		return false, raced(c.set())
	}
	return cur != nil, writeTags(ctx, tx, repoID, o.Key, o.Tags)
}

func (s store) empty(ctx context.Context, repoID int64) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM s3_objects WHERE repository_id = $1 LIMIT 1) t`, repoID).Scan(&n)
	return n == 0, meta.Err(err)
}
