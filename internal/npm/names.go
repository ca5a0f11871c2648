package npm

import (
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Name is an npm package name: "base", or "@scope/base".
type Name struct {
	Scope string // without the "@"; "" for an unscoped package
	Base  string
}

// maxNameLen is npm's limit on a package name, scope included.
const maxNameLen = 214

// ParseName parses and checks a package name as npm's
// validate-npm-package-name does for names that may exist: URL-safe
// characters only, no leading "." or "_", at most 214 characters.
// Uppercase letters and the characters ~'!()* are accepted here because
// old packages have them; CheckNewName refuses them for new packages.
func ParseName(s string) (Name, error) {
	bad := func(why string) (Name, error) {
		return Name{}, errs.E(errs.Invalid, "invalid package name %q: %s", truncate(s, 80), why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > maxNameLen {
		return bad("longer than 214 characters")
	}
	var n Name
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		scope, base, ok := strings.Cut(rest, "/")
		if !ok || scope == "" || base == "" {
			return bad("a scoped name is @scope/name")
		}
		n = Name{Scope: scope, Base: base}
	} else {
		n = Name{Base: s}
	}
	for _, part := range []string{n.Scope, n.Base} {
		for i := 0; i < len(part); i++ {
			if !urlSafe(part[i]) {
				return bad("only URL-safe characters (letters, digits, - . _ ~ ! ' ( ) *) are allowed")
			}
		}
	}
	if n.Base[0] == '.' || n.Base[0] == '_' {
		return bad("cannot start with . or _")
	}
	if n.Scope != "" && (n.Scope[0] == '.' || n.Scope[0] == '_') {
		return bad("a scope cannot start with . or _")
	}
	switch strings.ToLower(n.Base) {
	case "node_modules", "favicon.ico":
		if n.Scope == "" {
			return bad("reserved name")
		}
	}
	return n, nil
}

// urlSafe reports whether c is left alone by JavaScript's
// encodeURIComponent, which is npm's test of a name.
func urlSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}

// CheckNewName applies the stricter rules for publishing a new package:
// no uppercase letters and none of the characters ~'!()*.
func CheckNewName(n Name) error {
	s := n.String()
	if strings.ToLower(s) != s {
		return errs.E(errs.Invalid, "invalid package name %q: new packages must not have uppercase letters", s)
	}
	if strings.ContainsAny(n.Base, "~'!()*") {
		return errs.E(errs.Invalid, "invalid package name %q: new packages must not contain the characters ~'!()*", s)
	}
	return nil
}

// String is the name as npm writes it: "@scope/base" or "base".
func (n Name) String() string {
	if n.Scope == "" {
		return n.Base
	}
	return "@" + n.Scope + "/" + n.Base
}

// Escaped is the name as one URL path segment: "@scope%2fbase".
func (n Name) Escaped() string {
	if n.Scope == "" {
		return n.Base
	}
	return "@" + n.Scope + "%2f" + n.Base
}

// TarballFile is the file name of a version's tarball: "base-1.0.0.tgz".
func (n Name) TarballFile(version string) string { return n.Base + "-" + version + ".tgz" }

// versionOfFile extracts the version from a tarball file name of n, or "".
func (n Name) versionOfFile(file string) string {
	v, ok := strings.CutPrefix(file, n.Base+"-")
	if !ok {
		return ""
	}
	v, ok = strings.CutSuffix(v, ".tgz")
	if !ok {
		return ""
	}
	return v
}

// splitPath splits an escaped URL path below /npm/ into its unescaped
// segments, keeping a scoped package name — "@scope%2fname" as npm sends
// it, or "@scope/name" as tarball URLs have it — together in one segment.
// A "%2f" anywhere else is refused, so that no segment holds a slash a
// client did not mean as a package name's.
func splitPath(escaped string) ([]string, error) {
	raw := strings.Split(escaped, "/")
	out := make([]string, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		seg, err := url.PathUnescape(raw[i])
		if err != nil {
			return nil, errs.E(errs.Invalid, "invalid escaping in path")
		}
		if strings.Contains(seg, "/") && !strings.HasPrefix(seg, "@") {
			return nil, errs.E(errs.Invalid, "encoded slash outside a scoped package name")
		}
		out = append(out, seg)
	}
	return out, nil
}

// takeName reads a package name from the front of segs: one segment, or
// a scope segment "@scope" followed by the name's segment. It returns the
// name and the segments after it.
func takeName(segs []string) (Name, []string, error) {
	if len(segs) == 0 || segs[0] == "" {
		return Name{}, nil, errs.E(errs.NotFound, "no package name in path")
	}
	s, rest := segs[0], segs[1:]
	if strings.HasPrefix(s, "@") && !strings.Contains(s, "/") {
		if len(rest) == 0 {
			return Name{}, nil, errs.E(errs.Invalid, "invalid package name %q: a scoped name is @scope/name", truncate(s, 80))
		}
		s, rest = s+"/"+rest[0], rest[1:]
	}
	n, err := ParseName(s)
	return n, rest, err
}
