package raw

import (
	"context"
	"database/sql"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// File is one stored file's metadata.
type File struct {
	Path        string
	Digest      string
	Size        int64
	ContentType string
	CreatedBy   string
	CreatedAt   int64
	UpdatedAt   int64
}

// Entry is one item of a directory listing.
type Entry struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Type     string `json:"type"` // "file" or "directory"
	Size     int64  `json:"size,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Modified int64  `json:"modified,omitempty"` // Unix milliseconds
}

// files is the raw_files table.
type files struct {
	db    *meta.DB
	blobs gc.Stater
}

func (f files) get(ctx context.Context, repoID int64, path string) (*File, error) {
	var fl File
	err := f.db.QueryRowContext(ctx,
		`SELECT path, digest, size, content_type, created_by, created_at, updated_at FROM raw_files WHERE repository_id = $1 AND path = $2`,
		repoID, path).Scan(&fl.Path, &fl.Digest, &fl.Size, &fl.ContentType, &fl.CreatedBy, &fl.CreatedAt, &fl.UpdatedAt)
	if err == sql.ErrNoRows {
		return nil, errs.E(errs.NotFound, "file %q not found", path)
	}
	return &fl, meta.Err(err)
}

// put records fl in the same transaction as its blob row. It reports
// whether a file was replaced.
func (f files) put(ctx context.Context, repoID int64, fl *File, md5, sha1 string) (replaced bool, err error) {
	err = f.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, f.blobs, gc.Blob{Digest: fl.Digest, Size: fl.Size, MD5: md5, SHA1: sha1}); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM raw_files WHERE repository_id = $1 AND path = $2`, repoID, fl.Path).Scan(&n); err != nil {
			return meta.Err(err)
		}
		replaced = n > 0
		_, err := tx.ExecContext(ctx,
			`INSERT INTO raw_files (repository_id, path, digest, size, content_type, created_by, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
			 ON CONFLICT (repository_id, path) DO UPDATE SET digest = excluded.digest, size = excluded.size,
			   content_type = excluded.content_type, created_by = excluded.created_by, updated_at = excluded.updated_at`,
			repoID, fl.Path, fl.Digest, fl.Size, fl.ContentType, fl.CreatedBy, fl.UpdatedAt)
		return meta.Err(err)
	})
	return replaced, err
}

func (f files) delete(ctx context.Context, repoID int64, path string) error {
	res, err := f.db.ExecContext(ctx, `DELETE FROM raw_files WHERE repository_id = $1 AND path = $2`, repoID, path)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "file %q not found", path)
	}
	return nil
}

// prefixEnd is the least string greater than every string starting with
// prefix (which is non-empty and ends in "/"), for index range scans.
func prefixEnd(prefix string) string {
	return prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
}

// list returns up to limit entries of directory dir ("" or ending in "/"),
// in byte order, after the entry named after. Subdirectories are collapsed
// into one entry each; every collapsed subdirectory costs one index seek,
// so a listing reads about as many rows as it returns.
func (f files) list(ctx context.Context, repoID int64, dir, after string, limit int) (entries []Entry, more bool, err error) {
	// Rows are read from cursor on: past it, or from it when inclusive.
	cursor, inclusive := dir+after, false
	if after != "" && strings.HasSuffix(after, "/") {
		cursor, inclusive = prefixEnd(dir+after), true // skip the whole subdirectory
	}
	for len(entries) <= limit {
		var p string
		var fl File
		q := `SELECT path, digest, size, updated_at FROM raw_files WHERE repository_id = $1 AND path > $2`
		if inclusive {
			q = `SELECT path, digest, size, updated_at FROM raw_files WHERE repository_id = $1 AND path >= $2`
		}
		args := []any{repoID, cursor}
		if dir != "" {
			q += ` AND path < $3`
			args = append(args, prefixEnd(dir))
		}
		// A directory's rows are read only up to its first file below it.
		q += ` ORDER BY path LIMIT 64`
		rows, err := f.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, false, meta.Err(err)
		}
		got := 0
		skipTo := ""
		for rows.Next() {
			got++
			if err := rows.Scan(&p, &fl.Digest, &fl.Size, &fl.UpdatedAt); err != nil {
				rows.Close()
				return nil, false, meta.Err(err)
			}
			rest := p[len(dir):]
			if name, _, isDir := strings.Cut(rest, "/"); isDir {
				entries = append(entries, Entry{Name: name, Path: dir + name + "/", Type: "directory"})
				skipTo = prefixEnd(dir + name + "/")
				break
			}
			entries = append(entries, Entry{Name: rest, Path: p, Type: "file", Size: fl.Size, Digest: fl.Digest, Modified: fl.UpdatedAt})
			cursor, inclusive = p, false
			if len(entries) > limit {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, meta.Err(err)
		}
		if skipTo != "" {
			cursor, inclusive = skipTo, true
			continue
		}
		if got < 64 {
			break
		}
	}
	if len(entries) > limit {
		return entries[:limit], true, nil
	}
	return entries, false, nil
}

// exists reports whether dir ("" or ending in "/") has any file below it.
func (f files) dirExists(ctx context.Context, repoID int64, dir string) (bool, error) {
	if dir == "" {
		return true, nil
	}
	var n int
	err := f.db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM (SELECT 1 FROM raw_files WHERE repository_id = $1 AND path > $2 AND path < $3 LIMIT 1) t`,
		repoID, dir, prefixEnd(dir)).Scan(&n)
	return n > 0, meta.Err(err)
}
