package ui

import (
	"context"
	"database/sql"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// fileTable names where a format keeps named files: raw_files by path,
// s3_objects by key. The names are constants, never user input.
type fileTable struct {
	table, name, modified string
}

var (
	rawFiles  = fileTable{"raw_files", "path", "updated_at"}
	s3Objects = fileTable{"s3_objects", "key", "modified_at"}
)

func tableOf(format string) fileTable {
	if format == "s3" {
		return s3Objects
	}
	return rawFiles
}

// Entry is a file, or a "directory" (a common prefix ending in "/").
type Entry struct {
	Name     string // relative to the listed prefix
	Path     string // the whole path or key; a directory's ends in "/"
	Dir      bool
	Size     int64
	Digest   string
	Modified int64
}

// prefixEnd is the least string greater than every string starting with
// prefix (non-empty, ending in "/"), for index range scans.
func prefixEnd(prefix string) string {
	return prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
}

// listEntries returns up to limit entries under prefix ("" or ending in
// "/") in byte order, after the entry path after (exclusive; "" for the
// start). Directories are collapsed into one entry each, at the cost of one
// index seek each, so a page reads about as many rows as it shows.
func (h *Handler) listEntries(ctx context.Context, t fileTable, repoID int64, prefix, after string, limit int) (entries []Entry, more bool, err error) {
	cursor, inclusive := prefix, true
	if after != "" && strings.HasPrefix(after, prefix) {
		cursor, inclusive = after, false
		if strings.HasSuffix(after, "/") {
			cursor, inclusive = prefixEnd(after), true // past the whole directory
		}
	}
	const batch = 64
	for len(entries) <= limit {
		op := ">"
		if inclusive {
			op = ">="
		}
		q := `SELECT ` + t.name + `, digest, size, ` + t.modified + ` FROM ` + t.table +
			` WHERE repository_id = $1 AND ` + t.name + ` ` + op + ` $2`
		args := []any{repoID, cursor}
		if prefix != "" {
			q += ` AND ` + t.name + ` < $3`
			args = append(args, prefixEnd(prefix))
		}
		q += ` ORDER BY ` + t.name + ` LIMIT 64`
		rows, err := h.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, false, meta.Err(err)
		}
		got, skipTo := 0, ""
		for rows.Next() {
			got++
			var e Entry
			if err := rows.Scan(&e.Path, &e.Digest, &e.Size, &e.Modified); err != nil {
				rows.Close()
				return nil, false, meta.Err(err)
			}
			rest := e.Path[len(prefix):]
			if name, _, isDir := strings.Cut(rest, "/"); isDir {
				entries = append(entries, Entry{Name: name + "/", Path: prefix + name + "/", Dir: true})
				skipTo = prefixEnd(prefix + name + "/")
				break
			}
			e.Name = rest
			entries = append(entries, e)
			cursor, inclusive = e.Path, false
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
		if got < batch {
			break
		}
	}
	if len(entries) > limit {
		return entries[:limit], true, nil
	}
	return entries, false, nil
}

// FileInfo is one stored file, for downloading.
type FileInfo struct {
	Digest      string
	Size        int64
	ContentType string
	Modified    int64
}

// fileInfo returns one file by path or key, or ok false.
func (h *Handler) fileInfo(ctx context.Context, t fileTable, repoID int64, path string) (f FileInfo, ok bool, err error) {
	err = h.db.QueryRowContext(ctx,
		`SELECT digest, size, content_type, `+t.modified+` FROM `+t.table+` WHERE repository_id = $1 AND `+t.name+` = $2`,
		repoID, path).Scan(&f.Digest, &f.Size, &f.ContentType, &f.Modified)
	if err == sql.ErrNoRows {
		return f, false, nil
	}
	return f, err == nil, meta.Err(err)
}
