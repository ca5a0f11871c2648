package vulndb

import (
	"regexp"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"
)

// Component is one package found in an artifact, in OSV's terms.
type Component struct {
	// Ecosystem is OSV's name: PyPI, npm, Maven, Go, Debian, Alpine,
	// Ubuntu, ... An OS package's release follows a colon when known
	// (Debian:12, Alpine:v3.18), and narrows matching to advisories of
	// that release.
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	// Source is the package the advisories name when it differs from
	// Name: a Debian binary package's source package, an Alpine
	// package's origin.
	Source string `json:"source,omitempty"`
	// PURL is the package URL, for SBOMs.
	PURL string `json:"purl,omitempty"`
	// Dependencies are the names the package declares it needs (its own
	// metadata's requirements), for SBOMs.
	Dependencies []string `json:"dependencies,omitempty"`
	// Path is where in an image it was found.
	Path string `json:"path,omitempty"`
}

// Base is the ecosystem without its release.
func (c Component) Base() string { b, _, _ := strings.Cut(c.Ecosystem, ":"); return b }

// lookupName is the name advisories use for the component.
func (c Component) lookupName() string {
	if c.Source != "" {
		return NormalizeName(c.Base(), c.Source)
	}
	return NormalizeName(c.Base(), c.Name)
}

// rpmEcosystems are the RPM distributions in OSV. Their advisories name
// source packages (Red Hat's RHSA: openssl for openssl-libs) or binary
// packages (SUSE's, some of AlmaLinux's and Rocky's), so a binary
// package with a source package of another name is looked up by both.
var rpmEcosystems = map[string]bool{"Red Hat": true, "AlmaLinux": true, "Rocky Linux": true, "SUSE": true,
	"openSUSE": true, "Azure Linux": true, "Mageia": true, "openEuler": true}

// lookupNames are the names advisories may use for the component.
func (c Component) lookupNames() []string {
	if c.Source != "" && rpmEcosystems[c.Base()] {
		return []string{NormalizeName(c.Base(), c.Source), NormalizeName(c.Base(), c.Name)}
	}
	return []string{c.lookupName()}
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// NormalizeName is the form package names are indexed under: PEP 503 for
// PyPI (advisories spell names as their authors did), as given otherwise.
func NormalizeName(ecosystem, name string) string {
	if ecosystem == "PyPI" {
		return strings.ToLower(pep503.ReplaceAllString(name, "-"))
	}
	return name
}

// releaseMatches reports whether an advisory's ecosystem (Debian:12,
// Alpine:v3.18, Ubuntu:22.04:LTS, PyPI) applies to a component's
// (Debian:12, or Debian when the release is unknown).
func releaseMatches(advisory, component string) bool {
	ab, arel, _ := strings.Cut(advisory, ":")
	cb, crel, _ := strings.Cut(component, ":")
	if ab != cb {
		return false
	}
	if crel == "" || arel == "" {
		return true
	}
	return arel == crel || strings.HasPrefix(arel, crel+":")
}

// Hit is an advisory that affects a component.
type Hit struct {
	Advisory *Advisory
	// Fixed is the lowest version that fixes it, after the component's,
	// when an affected range names one.
	Fixed string
}

// Affects reports whether a names the component's version as affected,
// evaluating its ranges with the ecosystem's own version ordering
// (osv-scalibr's semantic package: PEP 440, npm semver, Debian, Alpine,
// Maven, Go, ...). A version the ecosystem cannot parse, or an ecosystem
// it does not know, matches only the advisory's explicit version list.
func (a *Advisory) Affects(c Component) (bool, string) {
	if a.Withdrawn != "" {
		return false, ""
	}
	names := c.lookupNames()
	affected, fixed := false, ""
	for _, af := range a.Affected {
		if !slices.Contains(names, NormalizeName(c.Base(), af.Package.Name)) || !releaseMatches(af.Package.Ecosystem, c.Ecosystem) {
			continue
		}
		if slices.Contains(af.Versions, c.Version) {
			affected = true
		}
		v, err := semantic.Parse(c.Version, c.Base())
		if err != nil {
			continue
		}
		for _, r := range af.Ranges {
			if r.Type != "ECOSYSTEM" && r.Type != "SEMVER" {
				continue
			}
			if in, fix := inRange(c.Base(), v, r.Events); in {
				affected = true
				if fix != "" && (fixed == "" || less(c.Base(), fix, fixed)) {
					fixed = fix
				}
			}
		}
	}
	return affected, fixed
}

// inRange evaluates one range as the OSV schema defines it: the events
// sorted by version, a version is affected from an introduced event on
// until a fixed or limit event at or below it, or a last_affected event
// below it. It returns the fixed version that ends the interval holding v.
func inRange(ecosystem string, v semantic.Version, events []Event) (bool, string) {
	type point struct {
		ev  Event
		ver string
	}
	var pts []point
	for _, e := range events {
		s := e.Introduced + e.Fixed + e.LastAffected + e.Limit
		pts = append(pts, point{e, s})
	}
	// "0" (introduced at the beginning) sorts first; versions the
	// ecosystem cannot read sort as equal to v, which keeps them inert.
	slices.SortStableFunc(pts, func(x, y point) int {
		switch {
		case x.ver == y.ver:
			return 0
		case x.ev.Introduced == "0":
			return -1
		case y.ev.Introduced == "0":
			return 1
		}
		px, err := semantic.Parse(x.ver, ecosystem)
		if err != nil {
			return 0
		}
		c, err := px.CompareStr(y.ver)
		if err != nil {
			return 0
		}
		return c
	})
	affected, fixed := false, ""
	for i, p := range pts {
		c, err := v.CompareStr(p.ver) // >0: v after p.ver
		switch {
		case p.ev.Introduced != "":
			if p.ev.Introduced == "0" || (err == nil && c >= 0) {
				affected = true
				fixed = ""
				for _, q := range pts[i+1:] {
					if q.ev.Fixed != "" {
						fixed = q.ev.Fixed
						break
					}
					if q.ev.Introduced != "" {
						break
					}
				}
			}
		case p.ev.Fixed != "" || p.ev.Limit != "":
			if err == nil && c >= 0 {
				affected = false
			}
		case p.ev.LastAffected != "":
			if err == nil && c > 0 {
				affected = false
			}
		}
	}
	if !affected {
		fixed = ""
	}
	return affected, fixed
}

// less orders two versions of an ecosystem.
func less(ecosystem, a, b string) bool {
	va, err := semantic.Parse(a, ecosystem)
	if err != nil {
		return a < b
	}
	c, err := va.CompareStr(b)
	if err != nil {
		return a < b
	}
	return c < 0
}
