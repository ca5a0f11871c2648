package s3api

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/meta"
)

// Conditional writes and deletes. The conditions a request states are
// checked inside the transaction that writes or deletes, against the row
// it changes, and the change itself is guarded by that row's state (etag
// and modification time), so that a concurrent write between the check
// and the change fails the request instead of being overwritten: a
// condition asked for is always a condition checked.

// writeCond are the conditions of a write (PutObject, CopyObject,
// CompleteMultipartUpload) on the object it replaces.
type writeCond struct {
	IfMatch     string // an If-Match list, "" when none
	IfNoneMatch string // an If-None-Match list ("*" or ETags), "" when none
}

func writeCondOf(h http.Header) writeCond {
	return writeCond{IfMatch: h.Get("If-Match"), IfNoneMatch: h.Get("If-None-Match")}
}

func (c writeCond) set() bool { return c.IfMatch != "" || c.IfNoneMatch != "" }

func errPrecondition() error {
	return s3Error("PreconditionFailed", "at least one of the preconditions you specified did not hold")
}

// check evaluates c against the current object (nil when the key has
// none): If-None-Match fails when it names the current ETag (or is * and
// an object exists); If-Match needs an object (else NoSuchKey, as S3) with
// a named ETag.
func (c writeCond) check(cur *object) error {
	if c.IfNoneMatch != "" && cur != nil && etagMatches(c.IfNoneMatch, cur.ETag) {
		return errPrecondition()
	}
	if c.IfMatch != "" {
		if cur == nil {
			return s3Error("NoSuchKey", "the specified key does not exist")
		}
		if !etagMatches(c.IfMatch, cur.ETag) {
			return errPrecondition()
		}
	}
	return nil
}

// deleteCond are the conditions of DeleteObject (If-Match,
// x-amz-if-match-size, x-amz-if-match-last-modified-time) or of one key of
// DeleteObjects (ETag, Size, LastModifiedTime).
type deleteCond struct {
	IfMatch  string
	Size     *int64
	Modified *time.Time // compared to the second
}

func (c deleteCond) set() bool { return c.IfMatch != "" || c.Size != nil || c.Modified != nil }

// parseDeleteCond reads the conditions of a deletion; the values are
// those of the headers or of the XML elements. A value that does not
// parse is InvalidArgument: the condition cannot be checked, so nothing
// is deleted.
func parseDeleteCond(etag, size, modified string) (deleteCond, error) {
	c := deleteCond{IfMatch: etag}
	if size != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
		if err != nil || n < 0 {
			return deleteCond{}, s3Error("InvalidArgument", "the size condition must be a non-negative integer")
		}
		c.Size = &n
	}
	if modified != "" {
		t, err := parseCondTime(modified)
		if err != nil {
			return deleteCond{}, err
		}
		c.Modified = &t
	}
	return c, nil
}

// parseCondTime accepts the HTTP date of a header and the ISO 8601 time
// of an XML element.
func parseCondTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := http.ParseTime(v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Time{}, s3Error("InvalidArgument", "the last-modified-time condition is not a valid date")
}

// check evaluates c against the current object (nil when the key has
// none). A condition on a missing key is NoSuchKey.
func (c deleteCond) check(cur *object) error {
	if !c.set() {
		return nil
	}
	if cur == nil {
		return s3Error("NoSuchKey", "the specified key does not exist")
	}
	if c.IfMatch != "" && !etagMatches(c.IfMatch, cur.ETag) {
		return errPrecondition()
	}
	if c.Size != nil && *c.Size != cur.Size {
		return errPrecondition()
	}
	if c.Modified != nil && time.UnixMilli(cur.Modified).Unix() != c.Modified.Unix() {
		return errPrecondition()
	}
	return nil
}

// currentTx reads the object at key inside tx, or nil.
func currentTx(ctx context.Context, tx *sql.Tx, repoID int64, key string) (*object, error) {
	o, err := scanObject(tx.QueryRowContext(ctx, `SELECT `+objectColumns+` FROM s3_objects WHERE repository_id = $1 AND key = $2`, repoID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return o, meta.Err(err)
}

// errConflict is the answer when the object changed between a
// condition's check and the guarded change (S3's 409).
func errConflict() error {
	return s3Error("ConditionalRequestConflict", "a conflicting operation occurred; retry the request")
}
