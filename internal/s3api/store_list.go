package s3api

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/meta"
)

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
