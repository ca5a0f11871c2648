package pypi

import (
	"regexp"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// maxVersionLen bounds a version string.
const maxVersionLen = 128

// Version is a PEP 440 version. Numbers are kept as decimal strings without
// leading zeros, so that any length compares correctly.
type Version struct {
	Epoch   string   // "0" when absent
	Release []string // at least one component
	Pre     string   // "a", "b", "rc" or "" (none)
	PreN    string
	Post    string // "" (none) or the post-release number
	Dev     string // "" (none) or the dev-release number
	Local   string // normalized local label (lowercase, "." separators), "" when absent
}

// versionRE is the grammar of PEP 440 (the regular expression of its
// appendix B, as packaging uses it), matched case-insensitively.
var versionRE = regexp.MustCompile(`(?i)^\s*v?` +
	`(?:(?P<epoch>[0-9]+)!)?` +
	`(?P<release>[0-9]+(?:\.[0-9]+)*)` +
	`(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?` +
	`(?:(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?` +
	`(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?` +
	`(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?` +
	`\s*$`)

var versionGroups = func() map[string]int {
	m := map[string]int{}
	for i, n := range versionRE.SubexpNames() {
		if n != "" {
			m[n] = i
		}
	}
	return m
}()

// ParseVersion parses s as a PEP 440 version.
func ParseVersion(s string) (Version, error) {
	if len(s) > maxVersionLen {
		return Version{}, errs.E(errs.Invalid, "version is longer than %d characters", maxVersionLen)
	}
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, errs.E(errs.Invalid, "invalid version %q: not a PEP 440 version", truncate(s, 80))
	}
	g := func(name string) string { return m[versionGroups[name]] }
	v := Version{Epoch: trimZeros(g("epoch"))}
	for _, part := range strings.Split(g("release"), ".") {
		v.Release = append(v.Release, trimZeros(part))
	}
	if l := strings.ToLower(g("pre_l")); l != "" {
		switch l {
		case "alpha", "a":
			v.Pre = "a"
		case "beta", "b":
			v.Pre = "b"
		default: // c, rc, pre, preview
			v.Pre = "rc"
		}
		v.PreN = trimZeros(g("pre_n"))
	}
	switch {
	case g("post_n1") != "":
		v.Post = trimZeros(g("post_n1"))
	case g("post_l") != "":
		v.Post = trimZeros(g("post_n2"))
	}
	if g("dev_l") != "" {
		v.Dev = trimZeros(g("dev_n"))
	}
	if l := g("local"); l != "" {
		parts := strings.FieldsFunc(strings.ToLower(l), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
		for i, p := range parts {
			if isDigits(p) {
				parts[i] = trimZeros(p)
			}
		}
		v.Local = strings.Join(parts, ".")
	}
	return v, nil
}

// NormalizeVersion returns the normalized form of a PEP 440 version string.
func NormalizeVersion(s string) (string, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

// trimZeros strips leading zeros from a decimal string; "" becomes "0".
func trimZeros(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

// String is the normalized form: 1!2.0rc1.post2.dev3+local.1.
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != "" && v.Epoch != "0" {
		b.WriteString(v.Epoch)
		b.WriteByte('!')
	}
	b.WriteString(strings.Join(v.Release, "."))
	if v.Pre != "" {
		b.WriteString(v.Pre)
		b.WriteString(v.PreN)
	}
	if v.Post != "" {
		b.WriteString(".post")
		b.WriteString(v.Post)
	}
	if v.Dev != "" {
		b.WriteString(".dev")
		b.WriteString(v.Dev)
	}
	if v.Local != "" {
		b.WriteByte('+')
		b.WriteString(v.Local)
	}
	return b.String()
}

// IsPrerelease reports whether v is a pre-release or a development release.
func (v Version) IsPrerelease() bool { return v.Pre != "" || v.Dev != "" }

// CompareVersions orders versions as PEP 440 (and pip) do: -1, 0 or 1.
func CompareVersions(a, b Version) int {
	if c := cmpNum(a.epoch(), b.epoch()); c != 0 {
		return c
	}
	ra, rb := trimRelease(a.Release), trimRelease(b.Release)
	for i := 0; i < len(ra) || i < len(rb); i++ {
		x, y := "0", "0"
		if i < len(ra) {
			x = ra[i]
		}
		if i < len(rb) {
			y = rb[i]
		}
		if c := cmpNum(x, y); c != 0 {
			return c
		}
	}
	if c := cmpPre(a, b); c != 0 {
		return c
	}
	// No post release sorts before any post release.
	if c := cmpOptional(a.Post, b.Post, -1); c != 0 {
		return c
	}
	// No dev release sorts after any dev release.
	if c := cmpOptional(a.Dev, b.Dev, 1); c != 0 {
		return c
	}
	return cmpLocal(a.Local, b.Local)
}

func (v Version) epoch() string {
	if v.Epoch == "" {
		return "0"
	}
	return v.Epoch
}

// trimRelease drops trailing zero components: 1.0.0 equals 1.
func trimRelease(r []string) []string {
	for len(r) > 1 && r[len(r)-1] == "0" {
		r = r[:len(r)-1]
	}
	return r
}

// cmpNum compares decimal strings without leading zeros.
func cmpNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// cmpOptional compares optional numbers; absent sorts as absent (-1 before
// every number, or 1 after every number).
func cmpOptional(a, b string, absent int) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return absent
	case b == "":
		return -absent
	}
	return cmpNum(a, b)
}

// preRank places the pre-release part: a dev release of a final version
// (1.0.dev1) sorts before its pre-releases, a final version after them.
func preRank(v Version) (rank int, n string) {
	switch {
	case v.Pre == "" && v.Post == "" && v.Dev != "":
		return 0, ""
	case v.Pre == "a":
		return 1, v.PreN
	case v.Pre == "b":
		return 2, v.PreN
	case v.Pre == "rc":
		return 3, v.PreN
	}
	return 4, ""
}

func cmpPre(a, b Version) int {
	ra, na := preRank(a)
	rb, nb := preRank(b)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	return cmpNum(trimZeros(na), trimZeros(nb))
}

// cmpLocal orders local labels: none first; then segment by segment,
// numbers after words, numbers numerically, words alphabetically, and a
// longer label after its prefix.
func cmpLocal(a, b string) int {
	if a == "" || b == "" {
		return cmpOptional(a, b, -1)
	}
	sa, sb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(sa) && i < len(sb); i++ {
		x, y := sa[i], sb[i]
		xn, yn := isDigits(x), isDigits(y)
		switch {
		case xn && yn:
			if c := cmpNum(trimZeros(x), trimZeros(y)); c != 0 {
				return c
			}
		case xn:
			return 1
		case yn:
			return -1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(sa) < len(sb):
		return -1
	case len(sa) > len(sb):
		return 1
	}
	return 0
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
