package mlflow

import "strings"

// Pure parsing of the URIs a model version's source may be: models:/,
// runs:/, mlflow-artifacts:/ and every other artifact store's.

// splitURI splits a URI the way Python's urllib.parse.urlparse does: the
// scheme (lower case) is what precedes the first ':' when it starts with
// a letter and holds only letters, digits, '+', '-' and '.'; "//" starts
// an authority that runs to the next '/', '?' or '#'; the query and
// fragment are cut off the path.
func splitURI(uri string) (scheme, authority, path string) {
	rest := uri
	if i := strings.IndexByte(rest, ':'); i > 0 && isASCIILetter(rest[0]) {
		ok := true
		for j := 0; j < i; j++ {
			c := rest[j]
			if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
				ok = false
				break
			}
		}
		if ok {
			scheme, rest = strings.ToLower(rest[:i]), rest[i+1:]
		}
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		authority, rest = rest[:end], rest[end:]
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	return scheme, authority, rest
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// modelsURI is a parsed models:/ URI: either a logged model
// (models:/m-<id>) or a version of a registered model, named by number,
// stage, alias or "latest" (all empty).
type modelsURI struct {
	LoggedModelID string
	Name          string
	Version       string // digits
	Stage         string
	Alias         string
}

// parseModelsURI reads models:/<model_id>, models:/<name>/<version>,
// models:/<name>/<stage>, models:/<name>/latest and models:/<name>@<alias>.
func parseModelsURI(uri string) (modelsURI, bool) {
	scheme, authority, path := splitURI(uri)
	if scheme != "models" || authority != "" || !strings.HasPrefix(path, "/") || len(path) <= 1 {
		return modelsURI{}, false
	}
	parts := strings.Split(strings.TrimLeft(path, "/"), "/")
	if len(parts) > 2 || strings.TrimSpace(parts[0]) == "" {
		return modelsURI{}, false
	}
	if len(parts) == 2 {
		name, suffix := parts[0], parts[1]
		switch {
		case strings.TrimSpace(suffix) == "":
			return modelsURI{}, false
		case isDigits(suffix):
			return modelsURI{Name: name, Version: suffix}, true
		case strings.EqualFold(suffix, aliasLatest):
			return modelsURI{Name: name}, true
		default:
			return modelsURI{Name: name, Stage: suffix}, true
		}
	}
	if i := strings.LastIndexByte(parts[0], '@'); i >= 0 {
		alias := parts[0][i+1:]
		if strings.TrimSpace(alias) == "" {
			return modelsURI{}, false
		}
		return modelsURI{Name: parts[0][:i], Alias: alias}, true
	}
	return modelsURI{LoggedModelID: parts[0]}, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseRunsURI reads runs:/<run_id>/<path>; path may be empty.
func parseRunsURI(uri string) (runID, artifactPath string, ok bool) {
	scheme, authority, path := splitURI(uri)
	if scheme != "runs" || authority != "" || !strings.HasPrefix(path, "/") || len(path) <= 1 {
		return "", "", false
	}
	runID, artifactPath, _ = strings.Cut(path[1:], "/")
	if runID == "" {
		return "", "", false
	}
	return runID, artifactPath, true
}

// isLocalSource reports whether a source names a file on the server
// (no scheme, or file:).
func isLocalSource(source string) bool {
	scheme, _, _ := splitURI(source)
	return scheme == "" || scheme == "file"
}

// isProxiedArtifactSource reports whether a source is served by an MLflow
// artifact proxy: mlflow-artifacts: or an http(s) URL through
// /api/2.0/mlflow-artifacts/artifacts.
func isProxiedArtifactSource(source string) bool {
	scheme, _, segs := uriSegments(source)
	if scheme == "mlflow-artifacts" {
		return true
	}
	if scheme != "http" && scheme != "https" {
		return false
	}
	route := []string{"api", "2.0", "mlflow-artifacts", "artifacts"}
	for i := 0; i+len(route) <= len(segs); i++ {
		if equalStrings(segs[i:i+len(route)], route) {
			return true
		}
	}
	return false
}

// uriSegments returns a URI's scheme, lower-case authority and its path's
// non-empty segments, each fully percent-decoded.
func uriSegments(uri string) (scheme, authority string, segs []string) {
	scheme, authority, path := splitURI(uri)
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			segs = append(segs, unquoteFully(s, false))
		}
	}
	return scheme, strings.ToLower(authority), segs
}

// uriWithin reports whether uri lies at or below root: same scheme and
// authority, and root's path segments a prefix of uri's.
func uriWithin(uri, root string) bool {
	s1, a1, p1 := uriSegments(uri)
	s2, a2, p2 := uriSegments(root)
	return s1 == s2 && a1 == a2 && len(p2) > 0 && len(p1) >= len(p2) && equalStrings(p1[:len(p2)], p2)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unquoteFully percent-decodes s until it stops changing (plus also turns
// '+' into ' '), so that "%252e%252e" is seen as "..". Malformed escapes
// stay as they are, as Python's unquote leaves them.
func unquoteFully(s string, plus bool) string {
	for i := 0; i < 16; i++ {
		u := unescapeLeniently(s, plus)
		if u == s {
			return s
		}
		s = u
	}
	return s
}

// unescapeLeniently decodes each valid %XX once and keeps invalid ones.
func unescapeLeniently(s string, plus bool) string {
	if !strings.ContainsRune(s, '%') && !(plus && strings.ContainsRune(s, '+')) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isPercentHex(s[i+1]) && isPercentHex(s[i+2]):
			b = append(b, percentHexValue(s[i+1])<<4|percentHexValue(s[i+2]))
			i += 2
		case c == '+' && plus:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isPercentHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func percentHexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// sourceEscapesRoot reports whether a non-local source climbs out of the
// place it names or is not an absolute path: a ".." segment or NUL
// (after decoding), a path that is empty, relative, or has "." segments.
func sourceEscapesRoot(source string) bool {
	decoded := unquoteFully(source, true)
	for _, seg := range strings.Split(decoded, "/") {
		if seg == ".." {
			return true
		}
	}
	_, _, path := splitURI(decoded)
	for strings.Contains(path, "//") {
		path = strings.ReplaceAll(path, "//", "/")
	}
	path = strings.TrimRight(path, "/")
	if strings.ContainsRune(path, 0) || !strings.HasPrefix(path, "/") {
		return true
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "." {
			return true
		}
	}
	return false
}

// appendArtifactPath appends a relative artifact path to an artifact root.
func appendArtifactPath(root, rel string) string {
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return root
	}
	return strings.TrimRight(root, "/") + "/" + rel
}
