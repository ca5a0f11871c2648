package goproxy

import (
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/arcaproject/arca/internal/errs"
)

// What a GOPROXY path names (https://go.dev/ref/mod#goproxy-protocol).
const (
	KindList   = "list"   // $module/@v/list
	KindInfo   = "info"   // $module/@v/$version.info
	KindMod    = "mod"    // $module/@v/$version.mod
	KindZip    = "zip"    // $module/@v/$version.zip
	KindLatest = "latest" // $module/@latest
)

// maxPathLen bounds a request path below the repository.
const maxPathLen = 1024

// Path is a parsed GOPROXY request path.
type Path struct {
	// Key is the case-encoded path below the repository, as the go command
	// sent it: the key of a proxy's cache row and the path asked upstream.
	Key    string
	Kind   string
	Module string // decoded: github.com/Azure/azure-sdk-for-go
	// Version is decoded; for info, mod and zip only. The go command also
	// asks for queries (a branch or commit) as $query.info, so it need
	// not be canonical: see Canonical.
	Version string
}

// Canonical reports whether the path names a canonical semantic version
// (v1.2.3, v1.2.3-pre, v2.0.0+incompatible, a pseudo-version): what never
// changes once published.
func (p Path) Canonical() bool {
	return p.Version != "" && semver.IsValid(p.Version) && canonical(p.Version)
}

// canonical reports whether v is its own canonical form, keeping the
// +incompatible build suffix that module versions may carry.
func canonical(v string) bool {
	c := semver.Canonical(v)
	if b := semver.Build(v); b == "+incompatible" {
		c += b
	}
	return c == v
}

// ParsePath parses a path below /go/<repo>/ (without the leading slash):
// the case-encoded module path, then /@v/list, /@v/<version>.info, .mod,
// .zip or /@latest. Module paths are checked as the go command checks
// them (module.CheckPath), versions as path elements.
func ParsePath(s string) (Path, error) {
	p := Path{Key: s}
	if len(s) > maxPathLen {
		return p, errs.E(errs.Invalid, "path longer than %d bytes", maxPathLen)
	}
	var escMod, rest string
	if m, ok := strings.CutSuffix(s, "/@latest"); ok {
		escMod, p.Kind = m, KindLatest
	} else if i := strings.LastIndex(s, "/@v/"); i >= 0 {
		escMod, rest = s[:i], s[i+len("/@v/"):]
		switch {
		case rest == "list":
			p.Kind = KindList
		case strings.HasSuffix(rest, ".info"):
			p.Kind, rest = KindInfo, strings.TrimSuffix(rest, ".info")
		case strings.HasSuffix(rest, ".mod"):
			p.Kind, rest = KindMod, strings.TrimSuffix(rest, ".mod")
		case strings.HasSuffix(rest, ".zip"):
			p.Kind, rest = KindZip, strings.TrimSuffix(rest, ".zip")
		default:
			return p, errs.E(errs.Invalid, "%s: want @v/list, @v/<version>.info, .mod or .zip", trunc(s))
		}
	} else {
		return p, errs.E(errs.Invalid, "%s: want <module>/@v/... or <module>/@latest", trunc(s))
	}
	mod, err := module.UnescapePath(escMod)
	if err != nil {
		return p, errs.E(errs.Invalid, "module path: %v", err)
	}
	p.Module = mod
	if p.Kind == KindInfo || p.Kind == KindMod || p.Kind == KindZip {
		v, err := module.UnescapeVersion(rest)
		if err != nil || v == "" {
			return p, errs.E(errs.Invalid, "version %q: not a valid version", trunc(rest))
		}
		p.Version = v
	}
	return p, nil
}

// CheckVersion checks that version may be published as a version of
// module mod: canonical semver matching the path's major version suffix
// (module.Check), not a query.
func CheckVersion(mod, version string) error {
	if err := module.Check(mod, version); err != nil {
		return errs.E(errs.Invalid, "%v", err)
	}
	if !canonical(version) {
		return errs.E(errs.Invalid, "version %s is not canonical: write %s", version, semver.Canonical(version))
	}
	return nil
}

// Escaped returns the case-encoded module path (module.EscapePath).
func Escaped(mod string) string {
	e, err := module.EscapePath(mod)
	if err != nil {
		return mod
	}
	return e
}

// EscapedVersion returns the case-encoded version.
func EscapedVersion(v string) string {
	e, err := module.EscapeVersion(v)
	if err != nil {
		return v
	}
	return e
}

// SortVersions sorts versions by semantic version precedence, oldest
// first (the order of semver.Sort).
func SortVersions(vs []string) { semver.Sort(vs) }

// Latest returns the version the go command takes as @latest from a list:
// the highest release, else the highest pre-release; "" for none.
func Latest(vs []string) string {
	var rel, pre string
	for _, v := range vs {
		if !semver.IsValid(v) {
			continue
		}
		if semver.Prerelease(v) == "" {
			if rel == "" || semver.Compare(v, rel) > 0 {
				rel = v
			}
		} else if pre == "" || semver.Compare(v, pre) > 0 {
			pre = v
		}
	}
	if rel != "" {
		return rel
	}
	return pre
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
