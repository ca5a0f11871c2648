package mlflow

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxArtifactPath bounds an artifact path: it is an object key, and S3
// keys have at most 1024 bytes.
const maxArtifactPath = 1024

// cleanArtifactPath checks an artifact path taken from a request (already
// URL-decoded once) and returns it as the object key below the artifact
// root. A path is refused, with INVALID_PARAMETER_VALUE, when it could
// name anything outside the root or name one file two ways: an empty
// path, a leading "/", empty, "." or ".." segments, backslashes, NUL and
// other control characters, "#", a Windows drive ("C:"), invalid UTF-8 —
// checked on the path as given and again after decoding any percent
// escapes it still holds, since MLflow's own server decodes until nothing
// changes and a path such as "a%2F..%2F..%2Fb" must not become a way out.
// The key is the path as given, never a decoded form.
func cleanArtifactPath(p string) (string, error) {
	if p == "" {
		return "", invalidParam("invalid artifact path: empty")
	}
	if len(p) > maxArtifactPath {
		return "", invalidParam("invalid artifact path: longer than %d bytes", maxArtifactPath)
	}
	if err := checkArtifactPath(p); err != nil {
		return "", err
	}
	// Each decoding that changes the text shortens it, so this ends.
	for decoded := p; ; {
		d := unescapeLenient(decoded)
		if d == decoded {
			break
		}
		decoded = d
		if err := checkArtifactPath(decoded); err != nil {
			return "", err
		}
	}
	return p, nil
}

// unescapeLenient decodes every valid %XX escape of s and keeps anything
// else as it is (as Python's unquote does, which MLflow's server uses).
func unescapeLenient(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// checkArtifactPath applies cleanArtifactPath's rules to one spelling of
// a path.
func checkArtifactPath(p string) error {
	if !utf8.ValidString(p) {
		return invalidParam("invalid artifact path: not UTF-8")
	}
	if strings.ContainsFunc(p, func(c rune) bool { return c < 0x20 || c == 0x7f || c == '\\' || c == '#' }) {
		return invalidParam("invalid artifact path %q: control characters, backslashes and # are not allowed", p)
	}
	if strings.HasPrefix(p, "/") {
		return invalidParam("invalid artifact path %q: must be relative", p)
	}
	if len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z') {
		return invalidParam("invalid artifact path %q: must be relative", p)
	}
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "":
			return invalidParam("invalid artifact path %q: empty segment", p)
		case ".", "..":
			return invalidParam("invalid artifact path %q: %q segments are not allowed", p, seg)
		}
	}
	return nil
}

// cleanListPath is cleanArtifactPath for a directory to list: "" is the
// root, and one trailing "/" is allowed.
func cleanListPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if t := strings.TrimSuffix(p, "/"); t != "" {
		p = t
	}
	return cleanArtifactPath(p)
}

// joinArtifactPath joins a root key and a relative path ("" is the root
// itself).
func joinArtifactPath(root, rel string) string {
	switch {
	case root == "":
		return rel
	case rel == "":
		return root
	}
	return root + "/" + rel
}

// artifactExperiment is the experiment an artifact key belongs to: its
// first segment, when that is an experiment ID in its canonical decimal
// form (as every location arca creates starts, see locations.go).
func artifactExperiment(key string) (int64, bool) {
	first, _, _ := strings.Cut(key, "/")
	if first == "" || len(first) > 18 || strings.TrimLeft(first, "0123456789") != "" || (len(first) > 1 && first[0] == '0') {
		return 0, false
	}
	id, err := strconv.ParseInt(first, 10, 64)
	return id, err == nil
}
