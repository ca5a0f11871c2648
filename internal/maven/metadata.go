package maven

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// Metadata is a maven-metadata.xml document, at artifact level (Versions,
// Latest, Release) or at a snapshot version's level (Snapshot,
// SnapshotVersions).
type Metadata struct {
	XMLName    xml.Name   `xml:"metadata"`
	ModelVer   string     `xml:"modelVersion,attr,omitempty"`
	GroupID    string     `xml:"groupId,omitempty"`
	ArtifactID string     `xml:"artifactId,omitempty"`
	Version    string     `xml:"version,omitempty"`
	Versioning Versioning `xml:"versioning"`
	// Plugins are a groupId's plugin prefixes (<groupId path>/maven-metadata.xml).
	Plugins []Plugin `xml:"plugins>plugin,omitempty"`
}

// Plugin maps a plugin prefix (dependency in mvn dependency:get) to its
// artifactId.
type Plugin struct {
	Name       string `xml:"name,omitempty"`
	Prefix     string `xml:"prefix"`
	ArtifactID string `xml:"artifactId"`
}

// Versioning is the <versioning> element.
type Versioning struct {
	Latest           string            `xml:"latest,omitempty"`
	Release          string            `xml:"release,omitempty"`
	Snapshot         *Snapshot         `xml:"snapshot,omitempty"`
	Versions         []string          `xml:"versions>version,omitempty"`
	LastUpdated      string            `xml:"lastUpdated,omitempty"`
	SnapshotVersions []SnapshotVersion `xml:"snapshotVersions>snapshotVersion,omitempty"`
}

// Snapshot is the latest build of a snapshot version.
type Snapshot struct {
	Timestamp   string `xml:"timestamp,omitempty"`
	BuildNumber int    `xml:"buildNumber,omitempty"`
	LocalCopy   bool   `xml:"localCopy,omitempty"`
}

// SnapshotVersion is the latest file of one classifier and extension of a
// snapshot version.
type SnapshotVersion struct {
	Classifier string `xml:"classifier,omitempty"`
	Extension  string `xml:"extension"`
	Value      string `xml:"value"`
	Updated    string `xml:"updated"`
}

// maxMetadata bounds a metadata document read from a client or upstream.
const maxMetadata = 16 << 20

// ParseMetadata decodes a maven-metadata.xml document.
func ParseMetadata(r io.Reader) (*Metadata, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxMetadata+1))
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "reading maven-metadata.xml")
	}
	if len(b) > maxMetadata {
		return nil, errs.E(errs.TooLarge, "maven-metadata.xml exceeds %d bytes", maxMetadata)
	}
	var m Metadata
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	if err := dec.Decode(&m); err != nil {
		return nil, errs.E(errs.Invalid, "invalid maven-metadata.xml: %v", err)
	}
	if m.XMLName.Local != "metadata" {
		return nil, errs.E(errs.Invalid, "invalid maven-metadata.xml: the root element is <%s>", m.XMLName.Local)
	}
	return &m, nil
}

// Render encodes the document as arca serves it.
func (m *Metadata) Render() []byte {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	c := *m
	c.ModelVer = "1.1.0"
	if err := enc.Encode(&c); err != nil {
		// Only strings and numbers: encoding cannot fail.
		panic(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Merge folds o into m, as a group answers: the union of versions and of
// plugin prefixes (the first member's wins), the highest latest and
// release, the newest snapshot and lastUpdated, and per classifier and
// extension the newest snapshot file.
func (m *Metadata) Merge(o *Metadata) {
	if m.GroupID == "" {
		m.GroupID, m.ArtifactID, m.Version = o.GroupID, o.ArtifactID, o.Version
	}
	v, w := &m.Versioning, &o.Versioning
	for _, x := range w.Versions {
		if !slices.Contains(v.Versions, x) {
			v.Versions = append(v.Versions, x)
		}
	}
	slices.SortStableFunc(v.Versions, CompareVersions)
	if CompareVersions(w.Latest, v.Latest) > 0 {
		v.Latest = w.Latest
	}
	if CompareVersions(w.Release, v.Release) > 0 {
		v.Release = w.Release
	}
	if w.Snapshot != nil && (v.Snapshot == nil || w.Snapshot.Timestamp > v.Snapshot.Timestamp ||
		(w.Snapshot.Timestamp == v.Snapshot.Timestamp && w.Snapshot.BuildNumber > v.Snapshot.BuildNumber)) {
		s := *w.Snapshot
		v.Snapshot = &s
	}
	if w.LastUpdated > v.LastUpdated {
		v.LastUpdated = w.LastUpdated
	}
	for _, pl := range o.Plugins {
		if !slices.ContainsFunc(m.Plugins, func(x Plugin) bool { return x.Prefix == pl.Prefix }) {
			m.Plugins = append(m.Plugins, pl)
		}
	}
	for _, sv := range w.SnapshotVersions {
		i := slices.IndexFunc(v.SnapshotVersions, func(x SnapshotVersion) bool {
			return x.Classifier == sv.Classifier && x.Extension == sv.Extension
		})
		switch {
		case i < 0:
			v.SnapshotVersions = append(v.SnapshotVersions, sv)
		case sv.Updated > v.SnapshotVersions[i].Updated:
			v.SnapshotVersions[i] = sv
		}
	}
}

// lastUpdated formats Unix milliseconds as Maven's lastUpdated.
func lastUpdated(ms int64) string { return time.UnixMilli(ms).UTC().Format(layoutLastUpdated) }

// CompareVersions orders Maven versions roughly as Maven's
// ComparableVersion does: items split at '.', '-' and digit/letter
// boundaries; numbers compare numerically and sort after qualifiers;
// the qualifiers alpha < beta < milestone < rc < snapshot < "" (release)
// < sp, unknown ones after those, alphabetically. "" sorts first.
func CompareVersions(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" {
		return -1
	}
	if b == "" {
		return 1
	}
	x, y := versionItems(a), versionItems(b)
	for i := 0; i < len(x) || i < len(y); i++ {
		var p, q string
		if i < len(x) {
			p = x[i]
		}
		if i < len(y) {
			q = y[i]
		}
		if c := compareItem(p, q); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func versionItems(v string) []string {
	var out []string
	cur := ""
	flush := func() {
		out = append(out, cur)
		cur = ""
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '.' || c == '-' {
			flush()
			continue
		}
		if cur != "" && isDigit(cur[len(cur)-1]) != isDigit(c) {
			flush()
		}
		cur += string(c)
	}
	flush()
	// Trailing zeros and release qualifiers do not count: 1.0 == 1 == 1-ga.
	for len(out) > 1 && (out[len(out)-1] == "0" || qualifierRank(out[len(out)-1]) == rankRelease) {
		out = out[:len(out)-1]
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

const (
	rankRelease = 6
	rankUnknown = 8
)

func qualifierRank(q string) int {
	switch strings.ToLower(q) {
	case "alpha", "a":
		return 1
	case "beta", "b":
		return 2
	case "milestone", "m":
		return 3
	case "rc", "cr":
		return 4
	case "snapshot":
		return 5
	case "", "ga", "final", "release":
		return rankRelease
	case "sp":
		return 7
	}
	return rankUnknown
}

// compareItem compares two items; a missing item is "" (a release).
func compareItem(p, q string) int {
	pn, perr := strconv.ParseUint(p, 10, 64)
	qn, qerr := strconv.ParseUint(q, 10, 64)
	// A missing item is 0 beside a number, a release beside a qualifier.
	if p == "" && qerr == nil {
		pn, perr = 0, nil
	}
	if q == "" && perr == nil {
		qn, qerr = 0, nil
	}
	switch {
	case perr == nil && qerr == nil:
		switch {
		case pn < qn:
			return -1
		case pn > qn:
			return 1
		}
		return 0
	case perr == nil: // number > any qualifier, and > missing
		return 1
	case qerr == nil:
		return -1
	}
	pr, qr := qualifierRank(p), qualifierRank(q)
	if pr != qr {
		if pr < qr {
			return -1
		}
		return 1
	}
	if pr == rankUnknown {
		return strings.Compare(strings.ToLower(p), strings.ToLower(q))
	}
	return 0
}
