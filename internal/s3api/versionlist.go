package s3api

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/meta"
)

// listedVersion is one entry of ListObjectVersions.
type listedVersion struct {
	Key, VersionID, ETag, CreatedBy string
	Seq, Size, Modified             int64
	Marker, Latest                  bool
}

// versionPage is one page of ListObjectVersions: versions and common
// prefixes, by key and newest first. NextKey and NextVersion are the
// markers to continue from when Truncated.
type versionPage struct {
	Versions             []listedVersion
	Prefixes             []string
	Truncated            bool
	NextKey, NextVersion string
}

// versionsUnion is every version of a bucket's keys: the current objects
// (before every noncurrent version, by seq) and s3_object_versions.
const versionsUnion = `SELECT key, CASE WHEN version_id = '' THEN 'null' ELSE version_id END AS version_id,
	  9223372036854775807 AS seq, 0 AS delete_marker, etag, size, modified_at, created_by
	FROM s3_objects WHERE repository_id = $1
	UNION ALL
	SELECT key, version_id, seq, delete_marker, etag, size, modified_at, created_by
	FROM s3_object_versions WHERE repository_id = $1`

// resumeAfter is where a listing continues after version vid of key:
// the versions of key with seq < bound follow, and with fromCurrent its
// current version too (so every version of the key follows). A version
// that is gone (deleted since the page that named it) is placed by the
// write time its ID carries; a gone null version, whose place is unknown,
// resumes at the key's newest version (repeating rather than skipping).
// A version-id-marker of no known form is InvalidArgument.
func (s store) resumeAfter(ctx context.Context, repoID int64, key, vid string) (bound int64, fromCurrent bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT seq FROM (`+versionsUnion+`) v WHERE key = $2 AND version_id = $3`, repoID, key, vid).Scan(&bound)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return bound, false, meta.Err(err)
	}
	t, ok := versionIDTime(vid)
	switch {
	case vid == "null":
		return 0, true, nil
	case !ok:
		return 0, false, s3Error("InvalidArgument", "invalid version id specified")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT version_id, seq, modified_at FROM (`+versionsUnion+`) v WHERE key = $2 ORDER BY seq DESC`, repoID, key)
	if err != nil {
		return 0, false, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var seq, modified int64
		if err := rows.Scan(&id, &seq, &modified); err != nil {
			return 0, false, meta.Err(err)
		}
		written, ok := versionIDTime(id)
		if !ok {
			written = modified * int64(time.Millisecond)
		}
		if written < t {
			if seq == currentSeq {
				return 0, true, nil
			}
			return seq + 1, false, nil
		}
	}
	return 0, false, meta.Err(rows.Err())
}

// listVersions returns up to max versions and common prefixes (together)
// under prefix, after (keyMarker, vidMarker). With a delimiter, keys that
// contain it after the prefix roll up into one common prefix each, and
// the scan jumps past each such prefix, as list does.
func (s store) listVersions(ctx context.Context, repoID int64, prefix, delim, keyMarker, vidMarker string, max int) (versionPage, error) {
	var page versionPage
	curKey, curSeq, inclusive := keyMarker, int64(-1), false
	prevKey := "" // the key of the row before, to tell the latest version
	if vidMarker != "" {
		bound, fromCurrent, err := s.resumeAfter(ctx, repoID, keyMarker, vidMarker)
		if err != nil {
			return page, err
		}
		if fromCurrent {
			inclusive = true
		} else {
			curSeq, prevKey = bound, keyMarker
		}
	}
	if prefix > curKey {
		curKey, curSeq, inclusive = prefix, -1, true
	}
	end := prefixEnd(prefix)
	var order []bool // per item of the page: a common prefix?
	for len(order) <= max {
		args := []any{repoID, curKey}
		cond := `key >= $2`
		if !inclusive {
			cond = `(key > $2 OR (key = $2 AND seq < $3))`
			args = append(args, curSeq)
		}
		if end != "" {
			args = append(args, end)
			cond += ` AND key < $` + itoa(len(args))
		}
		batch := min(max-len(order)+1, 1000)
		if delim != "" {
			batch = min(batch, 100)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT key, version_id, seq, delete_marker, etag, size, modified_at, created_by FROM (`+
			versionsUnion+`) v WHERE `+cond+` ORDER BY key, seq DESC LIMIT `+itoa(batch), args...)
		if err != nil {
			return page, meta.Err(err)
		}
		got, skipTo, skip := 0, "", false
		for rows.Next() {
			got++
			var v listedVersion
			var marker int
			if err := rows.Scan(&v.Key, &v.VersionID, &v.Seq, &marker, &v.ETag, &v.Size, &v.Modified, &v.CreatedBy); err != nil {
				rows.Close()
				return page, meta.Err(err)
			}
			v.Marker, v.Latest = marker != 0, v.Key != prevKey
			prevKey = v.Key
			if delim != "" {
				if i := strings.Index(v.Key[len(prefix):], delim); i >= 0 {
					cp := v.Key[:len(prefix)+i+len(delim)]
					skipTo, skip = prefixEnd(cp), true
					if cp > keyMarker {
						page.Prefixes = append(page.Prefixes, cp)
						order = append(order, true)
					}
					break
				}
			}
			page.Versions = append(page.Versions, v)
			order = append(order, false)
			curKey, curSeq, inclusive = v.Key, v.Seq, false
			if len(order) > max {
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return page, meta.Err(err)
		}
		if skip {
			if skipTo == "" {
				break
			}
			curKey, inclusive = skipTo, true
			continue
		}
		if got < batch {
			break
		}
	}
	if len(order) > max {
		page.Truncated = true
		// Drop the one extra item read to learn that more follow.
		if order[len(order)-1] {
			page.Prefixes = page.Prefixes[:len(page.Prefixes)-1]
		} else {
			page.Versions = page.Versions[:len(page.Versions)-1]
		}
		order = order[:len(order)-1]
		if len(order) > 0 && order[len(order)-1] {
			page.NextKey = page.Prefixes[len(page.Prefixes)-1]
		} else if n := len(page.Versions); n > 0 {
			page.NextKey, page.NextVersion = page.Versions[n-1].Key, page.Versions[n-1].VersionID
		}
	}
	return page, nil
}
