package s3api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// upload is a multipart upload in progress.
type upload struct {
	ID          string
	RepoID      int64
	Key         string
	ContentType string
	Headers     map[string]string
	Algorithm   string // checksum algorithm declared at creation, or ""
	Type        string // checksum type (FULL_OBJECT or COMPOSITE), or ""
	Tagging     string // x-amz-tagging for the object, as parseTaggingHeader reads it
	CreatedBy   string
	Created     int64
}

// part is one uploaded part.
type part struct {
	Number    int
	Digest    string
	Size      int64
	ETag      string // md5 hex
	Checksums checksums
	Modified  int64
}

func (s store) createUpload(ctx context.Context, u *upload) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO s3_uploads (id, repository_id, key, content_type, headers, checksum_algorithm, checksum_type, created_by, created_at, tagging)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		u.ID, u.RepoID, u.Key, u.ContentType, encodeJSON(u.Headers, len(u.Headers) == 0), u.Algorithm, u.Type, u.CreatedBy, u.Created, u.Tagging)
	return meta.Err(err)
}

const uploadColumns = `id, repository_id, key, content_type, headers, checksum_algorithm, checksum_type, created_by, created_at, tagging`

func scanUpload(row interface{ Scan(...any) error }) (*upload, error) {
	var u upload
	var headers string
	if err := row.Scan(&u.ID, &u.RepoID, &u.Key, &u.ContentType, &headers, &u.Algorithm, &u.Type, &u.CreatedBy, &u.Created, &u.Tagging); err != nil {
		return nil, err
	}
	if headers != "" {
		json.Unmarshal([]byte(headers), &u.Headers)
	}
	return &u, nil
}

func errNoSuchUpload() error {
	return s3Error("NoSuchUpload", "the specified multipart upload does not exist; the upload ID may be invalid, or the upload may have been aborted or completed")
}

func (s store) getUpload(ctx context.Context, repoID int64, key, id string) (*upload, error) {
	u, err := scanUpload(s.db.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM s3_uploads WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (u.RepoID != repoID || u.Key != key)) {
		return nil, errNoSuchUpload()
	}
	return u, meta.Err(err)
}

// putPart records a part (and its blob), replacing an earlier upload of
// the same part number. An upload completed or aborted meanwhile is
// NoSuchUpload.
func (s store) putPart(ctx context.Context, uploadID string, p *part, how blobWrite) error {
	return s.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if how.fresh {
			if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: p.Digest, Size: p.Size, MD5: how.md5, Inline: how.inline}); err != nil {
				return err
			}
		} else if err := gc.Claim(ctx, tx, p.Digest); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM s3_uploads WHERE id = $1`, uploadID).Scan(&n); err != nil {
			return meta.Err(err)
		}
		if n == 0 {
			return errNoSuchUpload()
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO s3_parts (upload_id, part_number, digest, size, etag, checksums, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			 ON CONFLICT (upload_id, part_number) DO UPDATE SET digest = excluded.digest, size = excluded.size, etag = excluded.etag,
			   checksums = excluded.checksums, modified_at = excluded.modified_at`,
			uploadID, p.Number, p.Digest, p.Size, p.ETag, p.Checksums.encode(), p.Modified)
		if errs.Is(meta.Err(err), errs.Invalid) { // the upload's row went away
			return errNoSuchUpload()
		}
		return meta.Err(err)
	})
}

// parts lists an upload's parts after part number after, up to max.
func (s store) parts(ctx context.Context, uploadID string, after, max int) ([]*part, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT part_number, digest, size, etag, checksums, modified_at FROM s3_parts
		 WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3`, uploadID, after, max)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*part
	for rows.Next() {
		var p part
		var sums string
		if err := rows.Scan(&p.Number, &p.Digest, &p.Size, &p.ETag, &sums, &p.Modified); err != nil {
			return nil, meta.Err(err)
		}
		p.Checksums = decodeChecksums(sums)
		out = append(out, &p)
	}
	return out, meta.Err(rows.Err())
}

// complete turns an upload into an object: the upload's rows go, the
// object's row comes, in one transaction. A concurrent abort or complete
// makes it NoSuchUpload.
func (s store) complete(ctx context.Context, repoID int64, uploadID string, o *object, how blobWrite, c writeCond) (replaced bool, err error) {
	err = s.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM s3_uploads WHERE id = $1`, uploadID)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoSuchUpload()
		}
		replaced, err = s.putTx(ctx, tx, repoID, o, how, c)
		return err
	})
	return replaced, err
}

func (s store) abort(ctx context.Context, uploadID string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM s3_uploads WHERE id = $1`, uploadID)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errNoSuchUpload()
	}
	return nil
}

// uploads lists uploads in progress under prefix, ordered by key and ID,
// after (keyMarker, idMarker), up to max+1 rows.
func (s store) uploads(ctx context.Context, repoID int64, prefix, keyMarker, idMarker string, max int) ([]*upload, error) {
	q := `SELECT ` + uploadColumns + ` FROM s3_uploads WHERE repository_id = $1 AND key >= $2 AND (key > $3 OR (key = $3 AND id > $4))`
	args := []any{repoID, prefix, keyMarker, idMarker}
	if end := prefixEnd(prefix); end != "" {
		q += ` AND key < $5`
		args = append(args, end)
	}
	q += ` ORDER BY key, id LIMIT ` + itoa(max+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, u)
	}
	return out, meta.Err(rows.Err())
}

// completedFrom returns the object at key when it was completed from
// upload id (a retried CompleteMultipartUpload), or nil.
func (s store) completedFrom(ctx context.Context, repoID int64, key, id string) (*object, error) {
	o, err := s.get(ctx, repoID, key)
	if errs.Is(err, errs.NotFound) || (err == nil && (id == "" || o.UploadID != id)) {
		return nil, nil
	}
	return o, err
}
