// Package vulndb keeps vulnerability data from OSV (https://ossf.github.io/osv-schema/)
// in the metadata database — imported from OSV's per-ecosystem export zips
// or downloaded from a mirror of them — and matches components (an
// ecosystem, a package name and a version) against it with each
// ecosystem's own version ordering.
package vulndb

import (
	"encoding/json"
	"fmt"
	"strings"

	cvss30 "github.com/pandatix/go-cvss/30"
	cvss31 "github.com/pandatix/go-cvss/31"
	cvss40 "github.com/pandatix/go-cvss/40"
)

// maxAdvisoryBytes bounds one advisory document (the largest OSV records,
// Linux kernel ones with hundreds of ranges, are well under 1 MiB).
const maxAdvisoryBytes = 4 << 20

// Advisory is the part of an OSV record that arca reads.
type Advisory struct {
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Withdrawn        string          `json:"withdrawn,omitempty"`
	Aliases          []string        `json:"aliases,omitempty"`
	Summary          string          `json:"summary,omitempty"`
	Details          string          `json:"details,omitempty"`
	Severity         []SeverityEntry `json:"severity,omitempty"`
	Affected         []Affected      `json:"affected,omitempty"`
	DatabaseSpecific json.RawMessage `json:"database_specific,omitempty"`
}

// SeverityEntry is an OSV severity: a CVSS vector and its type.
type SeverityEntry struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one package an advisory names, with the versions affected.
type Affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		PURL      string `json:"purl,omitempty"`
	} `json:"package"`
	Ranges            []Range         `json:"ranges,omitempty"`
	Versions          []string        `json:"versions,omitempty"`
	Severity          []SeverityEntry `json:"severity,omitempty"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific,omitempty"`
	DatabaseSpecific  json.RawMessage `json:"database_specific,omitempty"`
}

// Range is an OSV range: events in the ecosystem's version order (type
// ECOSYSTEM or SEMVER; GIT ranges name commits and are not matched).
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one boundary of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// ParseAdvisory decodes and checks one OSV record. It is the parser of
// untrusted input (an export zip from anywhere), so it bounds the size and
// requires an ID.
func ParseAdvisory(b []byte) (*Advisory, error) {
	if len(b) > maxAdvisoryBytes {
		return nil, fmt.Errorf("advisory of %d bytes exceeds %d", len(b), maxAdvisoryBytes)
	}
	var a Advisory
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("not an OSV record: %w", err)
	}
	if a.ID == "" || len(a.ID) > 200 {
		return nil, fmt.Errorf("OSV record without a valid id")
	}
	for _, af := range a.Affected {
		if len(af.Package.Name) > 1000 || len(af.Package.Ecosystem) > 200 {
			return nil, fmt.Errorf("%s: package name or ecosystem too long", a.ID)
		}
	}
	return &a, nil
}

// Severity is a finding's severity, ordered so that larger is worse. The
// names are Harbor's (and Trivy's), which the vulnerability report format
// uses.
type Severity int

const (
	None Severity = iota
	Unknown
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"None", "Unknown", "Low", "Medium", "High", "Critical"}

func (s Severity) String() string {
	if s < None || s > Critical {
		return "Unknown"
	}
	return severityNames[s]
}

// MarshalText writes the name, so JSON shows "High" rather than 4.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name, case-insensitively; MODERATE (GitHub's word)
// is Medium.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q: want low, medium, high or critical", b)
	}
	*s = v
	return nil
}

// ParseSeverity reads a severity name.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "negligible":
		return None, true
	case "unknown", "":
		return Unknown, true
	case "low":
		return Low, true
	case "medium", "moderate":
		return Medium, true
	case "high", "important":
		return High, true
	case "critical":
		return Critical, true
	}
	return Unknown, false
}

// FromScore rates a CVSS base score as CVSS v3 and v4 do.
func FromScore(score float64) Severity {
	switch {
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	case score > 0:
		return Low
	}
	return None
}

// cvssScore computes the base score of a CVSS vector with
// github.com/pandatix/go-cvss; ok is false for vectors it cannot read
// (CVSS v2 among them: OSV records carry v3 or v4 beside it).
func cvssScore(typ, vector string) (float64, bool) {
	switch {
	case typ == "CVSS_V4" || strings.HasPrefix(vector, "CVSS:4.0/"):
		v, err := cvss40.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return v.Score(), true
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		v, err := cvss31.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return v.BaseScore(), true
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		v, err := cvss30.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return v.BaseScore(), true
	}
	return 0, false
}

// Rate returns the advisory's severity and CVSS score: the highest base
// score of its CVSS vectors (its own, then its packages'), else the
// severity its database states (database_specific.severity, as GitHub and
// others write it, on the record or on an affected package), else Unknown.
func (a *Advisory) Rate() (Severity, float64) {
	best, found := 0.0, false
	consider := func(entries []SeverityEntry) {
		for _, e := range entries {
			if s, ok := cvssScore(e.Type, e.Score); ok {
				found = true
				best = max(best, s)
			}
		}
	}
	consider(a.Severity)
	for _, af := range a.Affected {
		consider(af.Severity)
	}
	if found {
		return FromScore(best), best
	}
	stated := Unknown
	for _, raw := range append([]json.RawMessage{a.DatabaseSpecific}, specifics(a.Affected)...) {
		var ds struct {
			Severity any `json:"severity"`
			Urgency  any `json:"urgency"`
		}
		if len(raw) == 0 || json.Unmarshal(raw, &ds) != nil {
			continue
		}
		for _, v := range []any{ds.Severity, ds.Urgency} {
			if s, ok := v.(string); ok {
				if sev, ok := ParseSeverity(s); ok && sev > stated {
					stated = sev
				}
			}
		}
	}
	return stated, 0
}

func specifics(afs []Affected) []json.RawMessage {
	var out []json.RawMessage
	for _, af := range afs {
		out = append(out, af.DatabaseSpecific, af.EcosystemSpecific)
	}
	return out
}
