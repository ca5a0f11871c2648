package s3api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// parseRange parses a Range header against an object of size bytes. S3
// serves one range: "bytes=first-last", "bytes=first-" or "bytes=-suffix".
// ok is false when the header is to be ignored (malformed, or several
// ranges) and the whole object served; a range that cannot be satisfied is
// InvalidRange.
func parseRange(v string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, false, nil
	}
	unsatisfiable := s3Error("InvalidRange", "the requested range is not satisfiable")
	if first == "" {
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	a, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || a < 0 {
		return 0, size, false, nil
	}
	b := size - 1
	if last != "" {
		if b, perr = strconv.ParseInt(last, 10, 64); perr != nil || b < a {
			return 0, size, false, nil
		}
		b = min(b, size-1)
	}
	if a >= size {
		return 0, 0, false, unsatisfiable
	}
	return a, b - a + 1, true, nil
}

// etagMatches reports whether an If-Match / If-None-Match list names etag
// (unquoted), or is "*".
func etagMatches(list, etag string) bool {
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		item = strings.TrimPrefix(item, "W/")
		if item == "*" || strings.Trim(item, `"`) == etag {
			return true
		}
	}
	return false
}

// checkConditions evaluates If-Match, If-Unmodified-Since, If-None-Match
// and If-Modified-Since of a GET or HEAD as S3 does: a true If-Match wins
// over a false If-Unmodified-Since, and a false If-None-Match over a true
// If-Modified-Since. The prefix is "" or "x-amz-copy-source-" (CopyObject).
func checkConditions(h http.Header, prefix, etag string, modified time.Time, notModified string) error {
	modified = modified.Truncate(time.Second)
	failed := s3Error("PreconditionFailed", "at least one of the preconditions you specified did not hold")
	if v := h.Get(prefix + "If-Match"); v != "" {
		if !etagMatches(v, etag) {
			return failed
		}
	} else if v := h.Get(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && modified.After(t) {
			return failed
		}
	}
	if v := h.Get(prefix + "If-None-Match"); v != "" {
		if etagMatches(v, etag) {
			return s3Error(notModified, "not modified")
		}
	} else if v := h.Get(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !modified.After(t) {
			return s3Error(notModified, "not modified")
		}
	}
	return nil
}
