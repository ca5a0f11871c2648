package raw

import (
	"strings"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

const (
	maxPathLen    = 1024
	maxSegmentLen = 255
)

// CleanPath validates the path of a file or directory inside a raw
// repository, as it arrives from a client (decoded from the URL). It returns
// the path unchanged or an errs.Invalid error: a path is never silently
// rewritten, so two spellings can never name one file. A directory path
// ends in "/" ("" is the root); dir reports whether p names one.
func CleanPath(p string) (clean string, dir bool, err error) {
	if p == "" {
		return "", true, nil
	}
	if len(p) > maxPathLen {
		return "", false, errs.E(errs.Invalid, "path too long (max %d bytes)", maxPathLen)
	}
	if !utf8.ValidString(p) {
		return "", false, errs.E(errs.Invalid, "path is not valid UTF-8")
	}
	if strings.HasPrefix(p, "/") {
		return "", false, errs.E(errs.Invalid, "invalid path: absolute paths are not allowed")
	}
	dir = strings.HasSuffix(p, "/")
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for _, s := range segs {
		switch {
		case s == "":
			return "", false, errs.E(errs.Invalid, "invalid path: empty segment")
		case s == "." || s == "..":
			return "", false, errs.E(errs.Invalid, "invalid path: %q segments are not allowed", s)
		case len(s) > maxSegmentLen:
			return "", false, errs.E(errs.Invalid, "invalid path: segment longer than %d bytes", maxSegmentLen)
		case strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f || c == '\\' }):
			return "", false, errs.E(errs.Invalid, "invalid path: control characters or backslashes")
		}
	}
	return p, dir, nil
}

// checkEscaped rejects encoded slashes and backslashes in the raw (escaped)
// URL path: "a%2Fb" must not become a file named "a/b" by another route.
func checkEscaped(escaped string) error {
	lower := strings.ToLower(escaped)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		return errs.E(errs.Invalid, "invalid path: encoded slashes are not allowed")
	}
	return nil
}
