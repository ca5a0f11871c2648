package s3api

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// Versioning. The current version of a key is its row in s3_objects
// (version_id '' for the null version); older versions and delete markers
// are rows of s3_object_versions, newest with the highest seq. A version
// names its blob by a foreign key like any object, and every row that
// comes to name a blob here (a current object becoming noncurrent, a
// noncurrent one becoming current again) is added in the transaction that
// claims the blob (gc.Claim), so garbage collection keeps noncurrent
// versions until they are deleted.

const (
	versioningEnabled   = "Enabled"
	versioningSuspended = "Suspended"
)

// currentSeq orders the current version before every noncurrent one.
const currentSeq = math.MaxInt64

// A version ID is 24 bytes in URL-safe base64: a format byte, the time
// of the write in Unix nanoseconds (big-endian) and 15 random bytes. The
// time orders a key's versions even after one was deleted, so a listing
// resumes after a version-id-marker that is gone (cleanup tools delete
// what each page listed before asking for the next).
const versionIDFormat = 1

func newVersionID(now time.Time) string {
	var b [24]byte
	rand.Read(b[9:])
	b[0] = versionIDFormat
	binary.BigEndian.PutUint64(b[1:9], uint64(now.UnixNano()))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// versionIDTime is the write time a version ID carries (false for the
// null version, IDs of other forms and older random IDs it cannot tell).
func versionIDTime(vid string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(vid)
	if err != nil || len(b) != 24 || b[0] != versionIDFormat {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), true
}

// vidOut is a version ID as S3 shows it ("null" for the null version).
func vidOut(v string) string {
	if v == "" {
		return "null"
	}
	return v
}

// versioningTx is the bucket's versioning status: "" (never configured),
// Enabled or Suspended.
func versioningTx(ctx context.Context, q meta.Querier, repoID int64) (string, error) {
	var status string
	err := q.QueryRowContext(ctx, `SELECT status FROM s3_bucket_versioning WHERE repository_id = $1`, repoID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return status, meta.Err(err)
}

func (s store) versioning(ctx context.Context, repoID int64) (string, error) {
	return versioningTx(ctx, s.db, repoID)
}

func (s store) setVersioning(ctx context.Context, repoID int64, status string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO s3_bucket_versioning (repository_id, status) VALUES ($1, $2)
		ON CONFLICT (repository_id) DO UPDATE SET status = excluded.status`, repoID, status)
	return meta.Err(err)
}

// raced is the error of a guarded change that found the row changed since
// it was read: with conditions the client asked for, S3's 409; otherwise
// the transaction runs again.
func raced(conditional bool) error {
	if conditional {
		return errConflict()
	}
	return errs.E(errs.Unavailable, "the object changed during the write").WithCode(meta.CodeRetry)
}

// version is one version of a key: an object, or a delete marker.
type version struct {
	object
	Marker bool
	Seq    int64
}

const versionSelect = `SELECT key, COALESCE(digest, ''), size, etag, content_type, headers, checksums, part_sizes, created_by,
	modified_at, upload_id, version_id, delete_marker, seq FROM s3_object_versions`

// scanExtra scans a row of objectColumns followed by more columns.
type scanExtra struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (s scanExtra) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

func scanVersion(row interface{ Scan(...any) error }) (*version, error) {
	var v version
	var marker int
	o, err := scanObject(scanExtra{row, []any{&marker, &v.Seq}})
	if err != nil {
		return nil, err
	}
	v.object, v.Marker = *o, marker != 0
	return &v, nil
}

// insertVersion adds v as the newest noncurrent version of its key. A
// version that names a blob claims it first (the blob/GC rule).
func insertVersion(ctx context.Context, tx *sql.Tx, repoID int64, v *version) error {
	var digest any
	if !v.Marker {
		if err := gc.Claim(ctx, tx, v.Digest); err != nil {
			return err
		}
		digest = v.Digest
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM s3_object_versions WHERE repository_id = $1 AND key = $2`,
		repoID, v.Key).Scan(&seq); err != nil {
		return meta.Err(err)
	}
	marker := 0
	if v.Marker {
		marker = 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO s3_object_versions (repository_id, key, version_id, seq, delete_marker, digest, size, etag,
		  content_type, headers, checksums, part_sizes, created_by, modified_at, upload_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		repoID, v.Key, vidOut(v.VersionID), seq, marker, digest, v.Size, v.ETag, v.ContentType, encodeJSON(v.Headers, len(v.Headers) == 0),
		v.Checksums.encode(), encodeJSON(v.PartSizes, len(v.PartSizes) == 0), v.CreatedBy, v.Modified, v.UploadID)
	if errs.Is(meta.Err(err), errs.Conflict) { // a concurrent write took the seq or the version
		return raced(false)
	}
	return meta.Err(err)
}

// retire prepares a write or delete of key in a bucket of the given
// versioning status: the current object cur (nil when none) becomes
// noncurrent when versioning is enabled or it is not the null version; a
// suspended bucket's null version is replaced, wherever it is.
func retire(ctx context.Context, tx *sql.Tx, repoID int64, key string, cur *object, status string) error {
	if status == "" {
		return nil
	}
	if status == versioningSuspended {
		if _, err := tx.ExecContext(ctx, `DELETE FROM s3_object_versions WHERE repository_id = $1 AND key = $2 AND version_id = 'null'`,
			repoID, key); err != nil {
			return meta.Err(err)
		}
	}
	if cur != nil && (status == versioningEnabled || cur.VersionID != "") {
		return insertVersion(ctx, tx, repoID, &version{object: *cur})
	}
	return nil
}

// promote makes the newest noncurrent version of key current, unless it
// is a delete marker (the key then stays deleted).
func promote(ctx context.Context, tx *sql.Tx, repoID int64, key string) error {
	v, err := scanVersion(tx.QueryRowContext(ctx, versionSelect+` WHERE repository_id = $1 AND key = $2 ORDER BY seq DESC LIMIT 1`, repoID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return meta.Err(err)
	}
	if v.Marker {
		return nil
	}
	if err := gc.Claim(ctx, tx, v.Digest); err != nil {
		return err
	}
	vid := v.VersionID
	if vid == "null" {
		vid = ""
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO s3_objects (repository_id, `+objectColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (repository_id, key) DO NOTHING`,
		repoID, v.Key, v.Digest, v.Size, v.ETag, v.ContentType, encodeJSON(v.Headers, len(v.Headers) == 0), v.Checksums.encode(),
		encodeJSON(v.PartSizes, len(v.PartSizes) == 0), v.CreatedBy, v.Modified, v.UploadID, vid)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return raced(false)
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM s3_object_versions WHERE repository_id = $1 AND key = $2 AND version_id = $3`, repoID, key, v.VersionID)
	return meta.Err(err)
}

// deleteOutcome is what a deletion did.
type deleteOutcome struct {
	Deleted bool // an object or version went
	// MarkerID is the delete marker a versioned bucket got ("" when none).
	MarkerID string
	// VersionID is the version deleted by ID; Marker when it was a marker.
	VersionID string
	Marker    bool
}

func deleteCurrent(ctx context.Context, tx *sql.Tx, repoID int64, cur *object, conditional bool) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM s3_objects WHERE repository_id = $1 AND key = $2 AND etag = $3 AND modified_at = $4`,
		repoID, cur.Key, cur.ETag, cur.Modified)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return raced(conditional)
	}
	return nil
}

// deleteIf deletes a key when c holds, in one transaction: in a versioned
// bucket by adding a delete marker (the object becomes noncurrent). A
// missing key without conditions is not an error (S3).
func (s store) deleteIf(ctx context.Context, repoID int64, key string, c deleteCond) (out deleteOutcome, err error) {
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		out = deleteOutcome{}
		cur, err := currentTx(ctx, tx, repoID, key)
		if err != nil {
			return err
		}
		if err := c.check(cur); err != nil {
			return err
		}
		status, err := versioningTx(ctx, tx, repoID)
		if err != nil {
			return err
		}
		if err := retire(ctx, tx, repoID, key, cur, status); err != nil {
			return err
		}
		if cur != nil {
			if err := deleteCurrent(ctx, tx, repoID, cur, c.set()); err != nil {
				return err
			}
			out.Deleted = true
		}
		if status == "" {
			return nil
		}
		m := &version{object: object{Key: key, Modified: meta.Now()}, Marker: true}
		if status == versioningEnabled {
			m.VersionID = newVersionID(time.Now())
		}
		out.MarkerID = vidOut(m.VersionID)
		return insertVersion(ctx, tx, repoID, m)
	})
	return out, err
}

// deleteVersion deletes one version of key for good ("null" is the null
// version); when it was the latest, the next newest becomes current. A
// version that does not exist is not an error (S3).
func (s store) deleteVersion(ctx context.Context, repoID int64, key, vid string) (out deleteOutcome, err error) {
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		out = deleteOutcome{}
		cur, err := currentTx(ctx, tx, repoID, key)
		if err != nil {
			return err
		}
		if cur != nil && vidOut(cur.VersionID) == vid {
			if err := deleteCurrent(ctx, tx, repoID, cur, false); err != nil {
				return err
			}
			out = deleteOutcome{Deleted: true, VersionID: vid}
			return promote(ctx, tx, repoID, key)
		}
		v, err := scanVersion(tx.QueryRowContext(ctx, versionSelect+` WHERE repository_id = $1 AND key = $2 AND version_id = $3`, repoID, key, vid))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return meta.Err(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM s3_object_versions WHERE repository_id = $1 AND key = $2 AND version_id = $3`, repoID, key, vid); err != nil {
			return meta.Err(err)
		}
		out = deleteOutcome{Deleted: true, VersionID: vid, Marker: v.Marker}
		if cur == nil {
			return promote(ctx, tx, repoID, key)
		}
		return nil
	})
	return out, err
}

// getVersion returns version vid of key ("null" for the null version),
// current or not; NoSuchVersion when there is none.
func (s store) getVersion(ctx context.Context, repoID int64, key, vid string) (*version, error) {
	cur, err := s.get(ctx, repoID, key)
	if err == nil && vidOut(cur.VersionID) == vid {
		return &version{object: *cur, Seq: currentSeq}, nil
	}
	if err != nil && !errs.Is(err, errs.NotFound) {
		return nil, err
	}
	v, err := scanVersion(s.db.QueryRowContext(ctx, versionSelect+` WHERE repository_id = $1 AND key = $2 AND version_id = $3`, repoID, key, vid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s3Error("NoSuchVersion", "the specified version does not exist")
	}
	return v, meta.Err(err)
}

// latestMarker returns the delete marker that is key's latest version, or
// nil (the key has a current object, or no marker is the newest).
func (s store) latestMarker(ctx context.Context, repoID int64, key string) (*version, error) {
	v, err := scanVersion(s.db.QueryRowContext(ctx, versionSelect+` WHERE repository_id = $1 AND key = $2 ORDER BY seq DESC LIMIT 1`, repoID, key))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !v.Marker) {
		return nil, nil
	}
	return v, meta.Err(err)
}

// hasVersions reports whether a bucket keeps noncurrent versions or
// delete markers.
func (s store) hasVersions(ctx context.Context, repoID int64) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM s3_object_versions WHERE repository_id = $1 LIMIT 1) t`, repoID).Scan(&n)
	return n > 0, meta.Err(err)
}
