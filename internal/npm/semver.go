package npm

import (
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Version is a parsed Semantic Versioning 2.0.0 version, as npm accepts
// it for a published package: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // dot-separated prerelease identifiers
	Build               []string // dot-separated build identifiers
}

// maxVersionLen and maxVersionNumber are node-semver's limits: 256
// characters, and numbers no larger than JavaScript's MAX_SAFE_INTEGER.
const (
	maxVersionLen    = 256
	maxVersionNumber = 1<<53 - 1
)

// ParseVersion parses a strict SemVer 2.0.0 version: no leading "v" or
// "=", no leading zeros in numeric identifiers, no empty identifiers.
func ParseVersion(s string) (Version, error) {
	var v Version
	bad := func(why string) (Version, error) {
		return Version{}, errs.E(errs.Invalid, "invalid semver %q: %s", truncate(s, 80), why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > maxVersionLen {
		return bad("longer than 256 characters")
	}
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		ids, ok := identifiers(rest[i+1:], false)
		if !ok {
			return bad("bad build metadata")
		}
		v.Build, rest = ids, rest[:i]
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		ids, ok := identifiers(rest[i+1:], true)
		if !ok {
			return bad("bad prerelease")
		}
		v.Pre, rest = ids, rest[:i]
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return bad("want MAJOR.MINOR.PATCH")
	}
	nums := [3]*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		n, ok := number(p)
		if !ok {
			return bad("MAJOR, MINOR and PATCH must be numbers without leading zeros")
		}
		*nums[i] = n
	}
	return v, nil
}

// number parses a numeric identifier: digits, no leading zero, at most
// maxVersionNumber.
func number(s string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') || len(s) > 16 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n <= maxVersionNumber
}

// identifiers splits dot-separated identifiers of [0-9A-Za-z-]; numeric
// prerelease identifiers must not have leading zeros.
func identifiers(s string, pre bool) ([]string, bool) {
	ids := strings.Split(s, ".")
	for _, id := range ids {
		if id == "" {
			return nil, false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				return nil, false
			}
		}
		if pre && numeric && len(id) > 1 && id[0] == '0' {
			return nil, false
		}
	}
	return ids, true
}

// String formats v in canonical form; ParseVersion(v.String()) == v.
func (v Version) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(v.Major, 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(v.Minor, 10))
	b.WriteByte('.')
	b.WriteString(strconv.FormatUint(v.Patch, 10))
	if len(v.Pre) > 0 {
		b.WriteByte('-')
		b.WriteString(strings.Join(v.Pre, "."))
	}
	if len(v.Build) > 0 {
		b.WriteByte('+')
		b.WriteString(strings.Join(v.Build, "."))
	}
	return b.String()
}

// Prerelease reports whether v has prerelease identifiers.
func (v Version) Prerelease() bool { return len(v.Pre) > 0 }

// Compare orders versions by SemVer precedence: -1, 0 or +1. Build
// metadata does not take part.
func (v Version) Compare(w Version) int {
	for _, c := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1 // a release ranks above its prereleases
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := compareIdentifier(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

// compareIdentifier compares prerelease identifiers: numeric ones
// numerically and below alphanumeric ones, which compare in ASCII order.
func compareIdentifier(a, b string) int {
	an, aNum := number(a)
	bn, bNum := number(b)
	switch {
	case aNum && bNum:
		if an < bn {
			return -1
		} else if an > bn {
			return 1
		}
		return 0
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(a, b)
}

// looksLikeRange reports whether a dist-tag name could be read as a
// version or range by npm (which then refuses it as a tag): anything that
// starts with a digit, "v" or "=" followed by a digit, a comparison
// operator, "~", "^", or is "*", "x" or "X".
func looksLikeRange(tag string) bool {
	if tag == "" {
		return true
	}
	switch tag[0] {
	case '<', '>', '=', '~', '^', '*', ' ':
		return true
	}
	t := strings.TrimLeft(tag, "vV=")
	if t != "" && t[0] >= '0' && t[0] <= '9' {
		return true
	}
	return tag == "x" || tag == "X" || strings.HasPrefix(tag, "x.") || strings.HasPrefix(tag, "X.")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
