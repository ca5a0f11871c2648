package s3api

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
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
	var tagCount int
	o, err := scanObject(countingTags{s.db.QueryRowContext(ctx,
		`SELECT `+objectColumns+`, (SELECT COUNT(*) FROM s3_object_tags t WHERE t.repository_id = $1 AND t.key = $2)
		   FROM s3_objects WHERE repository_id = $1 AND key = $2`, repoID, key), &tagCount})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s3Error("NoSuchKey", "the specified key does not exist")
	}
	if o != nil {
		o.TagCount = tagCount
	}
	return o, meta.Err(err)
}

// countingTags scans a row of objectColumns followed by a tag count.
type countingTags struct {
	row interface{ Scan(...any) error }
	n   *int
}

func (c countingTags) Scan(dest ...any) error { return c.row.Scan(append(dest, c.n)...) }

// blobWrite says how an object came by its blob: bytes the request has
// just written (fresh, with the md5 to record), or bytes already stored (a
// copy, or a single-part upload's part).
type blobWrite struct {
	fresh bool
	md5   string
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
		if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: o.Digest, Size: o.Size, MD5: how.md5}); err != nil {
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

// prefixEnd is the least string greater than every string that starts with
// p (valid UTF-8), or "" when there is none: p with its last code point
// incremented, so that the bound is valid UTF-8 too (PostgreSQL checks).
func prefixEnd(p string) string {
	r := []rune(p)
	for len(r) > 0 {
		last := r[len(r)-1]
		if last < utf8.MaxRune {
			next := last + 1
			if next >= 0xD800 && next <= 0xDFFF {
				next = 0xE000
			}
			r[len(r)-1] = next
			return string(r)
		}
		r = r[:len(r)-1]
	}
	return ""
}

// listPage is one page of a listing: objects and common prefixes, in key
// order. Next is the marker to continue from when Truncated.
type listPage struct {
	Objects   []*object
	Prefixes  []string
	Truncated bool
	Next      string
}

// list returns up to max objects and common prefixes (together) under
// prefix, in byte order, after marker. With a delimiter, keys that contain
// it after the prefix are rolled up into one common prefix each, and the
// scan jumps past each such prefix with one index seek, so a page costs
// about as many rows read as it returns, however many keys sit below the
// prefixes. Cursors are keys, not offsets, so pages stay consistent while
// other clients write.
func (s store) list(ctx context.Context, repoID int64, prefix, delim, marker string, max int) (listPage, error) {
	if s.db.Dialect == meta.SQLite && delim != "" {
		if r, _ := utf8.DecodeLastRuneInString(delim); r != utf8.RuneError && r < utf8.MaxRune {
			return s.listWalk(ctx, repoID, prefix, delim, marker, max)
		}
	}
	return s.listLoop(ctx, repoID, prefix, delim, marker, max)
}

// listLoop is list as a loop of queries, each a range scan of the index
// from a cursor that jumps past each common prefix.
func (s store) listLoop(ctx context.Context, repoID int64, prefix, delim, marker string, max int) (listPage, error) {
	var page listPage
	cursor, inclusive := marker, false
	if prefix > cursor {
		cursor, inclusive = prefix, true
	}
	end := prefixEnd(prefix)
	count := 0
	lastIsPrefix := false
	for count <= max {
		op := ">"
		if inclusive {
			op = ">="
		}
		q := `SELECT ` + objectColumns + ` FROM s3_objects WHERE repository_id = $1 AND key ` + op + ` $2`
		args := []any{repoID, cursor}
		if end != "" {
			q += ` AND key < $3`
			args = append(args, end)
		}
		batch := min(max-count+1, 1000)
		if delim != "" {
			batch = min(batch, 100) // a common prefix ends the batch early
		}
		q += ` ORDER BY key LIMIT ` + itoa(batch)
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return page, meta.Err(err)
		}
		got, skipTo := 0, ""
		for rows.Next() {
			got++
			o, err := scanObject(rows)
			if err != nil {
				rows.Close()
				return page, meta.Err(err)
			}
			if delim != "" {
				if i := strings.Index(o.Key[len(prefix):], delim); i >= 0 {
					cp := o.Key[:len(prefix)+i+len(delim)]
					skipTo = prefixEnd(cp)
					if cp > marker {
						page.Prefixes = append(page.Prefixes, cp)
						count++
						lastIsPrefix = true
					}
					break
				}
			}
			page.Objects = append(page.Objects, o)
			count++
			lastIsPrefix = false
			cursor, inclusive = o.Key, false
			if count > max {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return page, meta.Err(err)
		}
		if skipTo != "" {
			cursor, inclusive = skipTo, true
			continue
		}
		if got < batch {
			break
		}
	}
	return page.trim(count, max, lastIsPrefix), nil
}

// listWalk is list with a delimiter on SQLite in one statement: a
// recursive query walks the index from the cursor, each step one seek to
// the least key past the previous one — past the whole common prefix when
// the previous key has the delimiter after the prefix — so a page of common
// prefixes costs one statement instead of one per prefix. The rows it
// returns are then read exactly as listLoop reads its rows. SQLite's
// substr, instr and length count characters, so the prefix's length is
// passed in characters; a common prefix ends with the delimiter, so the
// least string past all the keys it rolls up is the common prefix with the
// delimiter's last character replaced by the next one (prefixEnd).
func (s store) listWalk(ctx context.Context, repoID int64, prefix, delim, marker string, max int) (listPage, error) {
	var page listPage
	cursor, op := marker, ">"
	if prefix > cursor {
		cursor, op = prefix, ">="
	}
	last, _ := utf8.DecodeLastRuneInString(delim)
	past := string(last + 1)
	if last+1 >= 0xD800 && last+1 <= 0xDFFF {
		past = string(rune(0xE000))
	}
	end := prefixEnd(prefix)
	bound, args := "", []any{repoID, cursor, utf8.RuneCountInString(prefix), delim, past, max + 2}
	if end != "" {
		bound = ` AND key < $7`
		args = append(args, end)
	}
	// The rows are at most max+2: a first common prefix at or before the
	// marker is skipped, and one more item tells that more follow.
	// Each step seeks to the least key at or past a bound other than k: the
	// bound is k itself after an object, the end of the common prefix after
	// one (a single lower bound, so that SQLite seeks the index with it).
	// CROSS JOIN keeps the walk the outer loop: ordered by the objects'
	// key instead, SQLite scanned every object of the bucket.
	q := `WITH RECURSIVE walk(k, n) AS (
		  SELECT (SELECT key FROM s3_objects WHERE repository_id = $1 AND key ` + op + ` $2` + bound + ` ORDER BY key LIMIT 1), 1
		  UNION ALL
		  SELECT (SELECT key FROM s3_objects WHERE repository_id = $1 AND key >= CASE
		      WHEN instr(substr(w.k, $3 + 1), $4) > 0 THEN substr(w.k, 1, $3 + instr(substr(w.k, $3 + 1), $4) + length($4) - 2) || $5
		      ELSE w.k END AND key <> w.k` + bound + `
		    ORDER BY key LIMIT 1), w.n + 1
		  FROM walk w WHERE w.k IS NOT NULL AND w.n < $6)
		SELECT ` + prefixed("o.", objectColumns) + ` FROM walk CROSS JOIN s3_objects o WHERE o.repository_id = $1 AND o.key = walk.k ORDER BY walk.n`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return page, meta.Err(err)
	}
	defer rows.Close()
	count, lastIsPrefix := 0, false
	for rows.Next() && count <= max {
		o, err := scanObject(rows)
		if err != nil {
			return page, meta.Err(err)
		}
		if i := strings.Index(o.Key[len(prefix):], delim); i >= 0 {
			if cp := o.Key[:len(prefix)+i+len(delim)]; cp > marker {
				page.Prefixes = append(page.Prefixes, cp)
				count++
				lastIsPrefix = true
			}
			continue
		}
		page.Objects = append(page.Objects, o)
		count++
		lastIsPrefix = false
	}
	if err := rows.Err(); err != nil {
		return page, meta.Err(err)
	}
	return page.trim(count, max, lastIsPrefix), nil
}

// prefixed qualifies each of a comma-separated list of columns with p.
func prefixed(p, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = p + c
	}
	return strings.Join(cols, ", ")
}

// trim ends a page read with one item more than max (count items in
// all) to learn whether more follow: the extra item, the last one read, is
// dropped and the page marked truncated after its new last item.
func (p listPage) trim(count, max int, lastIsPrefix bool) listPage {
	if count <= max {
		return p
	}
	p.Truncated = true
	if lastIsPrefix {
		p.Prefixes = p.Prefixes[:len(p.Prefixes)-1]
	} else {
		p.Objects = p.Objects[:len(p.Objects)-1]
	}
	p.Next = lastOf(p)
	return p
}

// lastOf is the greatest item of a page.
func lastOf(p listPage) string {
	last := ""
	if n := len(p.Objects); n > 0 {
		last = p.Objects[n-1].Key
	}
	if n := len(p.Prefixes); n > 0 && p.Prefixes[n-1] > last {
		last = p.Prefixes[n-1]
	}
	return last
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = digits[n%10]
		n /= 10
	}
	return string(b[i:])
}

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
			if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: p.Digest, Size: p.Size, MD5: how.md5}); err != nil {
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
