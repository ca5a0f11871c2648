package maven

import (
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// What a repository path names.
const (
	KindFile          = "file"              // <g...>/<a>/<v>/<a>-<v>[-<classifier>].<ext>
	KindArtifactMeta  = "artifact-metadata" // <g...>/<a>/maven-metadata.xml
	KindVersionMeta   = "version-metadata"  // <g...>/<a>/<v>-SNAPSHOT/maven-metadata.xml
	metadataFile      = "maven-metadata.xml"
	snapshotSuffix    = "SNAPSHOT"
	maxPathLen        = 1024
	maxSegmentLen     = 255
	timestampLen      = len("20060102.150405") // a snapshot build's yyyyMMdd.HHmmss
	layoutLastUpdated = "20060102150405"
)

// checksums are the checksum files a client may ask for beside any file.
func checksums() []string { return []string{"md5", "sha1", "sha256", "sha512"} }

// Path is a parsed repository path.
type Path struct {
	// Key is the path of the file itself, without a checksum suffix: the
	// key of its row and the path asked of an upstream.
	Key        string
	Kind       string
	GroupID    string // dotted
	ArtifactID string
	Version    string // the version directory: 1.0 or 1.0-SNAPSHOT
	// File is the file name without a checksum suffix; Checksum is that
	// suffix ("md5", "sha1", "sha256", "sha512") or "".
	File     string
	Checksum string
	// Of a file: its classifier ("" for the main artifact) and extension
	// (jar, pom, jar.asc, tar.gz), and for a timestamped snapshot its
	// timestamp (yyyyMMdd.HHmmss) and build number.
	Classifier string
	Extension  string
	Timestamp  string
	Build      int
}

// Snapshot reports whether the path is in a snapshot version.
func (p Path) Snapshot() bool { return IsSnapshot(p.Version) }

// IsSnapshot reports whether a version is a snapshot (ends in -SNAPSHOT).
func IsSnapshot(v string) bool { return strings.HasSuffix(v, "-"+snapshotSuffix) }

// SnapshotValue is a timestamped snapshot file's version: 1.0-20261206.210000-3.
func (p Path) SnapshotValue() string {
	if p.Timestamp == "" {
		return p.Version
	}
	return strings.TrimSuffix(p.Version, snapshotSuffix) + p.Timestamp + "-" + strconv.Itoa(p.Build)
}

// ParsePath parses a path below /maven/<repo>/ (no leading slash). It
// accepts artifact files, their checksums and the metadata files arca
// maintains; anything else is Invalid.
func ParsePath(s string) (Path, error) {
	var p Path
	if s == "" || len(s) > maxPathLen {
		return p, errs.E(errs.Invalid, "a Maven path has 1-%d characters", maxPathLen)
	}
	segs := strings.Split(s, "/")
	for _, seg := range segs {
		if err := checkSegment(seg); err != nil {
			return p, err
		}
	}
	file := segs[len(segs)-1]
	for _, c := range checksums() {
		if f, ok := strings.CutSuffix(file, "."+c); ok {
			file, p.Checksum = f, c
			break
		}
	}
	if file == "" {
		return p, errs.E(errs.Invalid, "no file name in %q", s)
	}
	p.File = file
	n := len(segs)
	p.Key = strings.Join(append(segs[:n-1:n-1], file), "/")
	if file == metadataFile {
		switch {
		case n >= 4 && IsSnapshot(segs[n-2]):
			p.Kind, p.GroupID, p.ArtifactID, p.Version = KindVersionMeta, strings.Join(segs[:n-3], "."), segs[n-3], segs[n-2]
		case n >= 3:
			p.Kind, p.GroupID, p.ArtifactID = KindArtifactMeta, strings.Join(segs[:n-2], "."), segs[n-2]
		default:
			return p, errs.E(errs.Invalid, "metadata %q names no groupId and artifactId", s)
		}
		return p, nil
	}
	if n < 4 {
		return p, errs.E(errs.Invalid, "%q is not <groupId path>/<artifactId>/<version>/<file>", s)
	}
	p.Kind, p.GroupID, p.ArtifactID, p.Version = KindFile, strings.Join(segs[:n-3], "."), segs[n-3], segs[n-2]
	rest, ok := strings.CutPrefix(file, p.ArtifactID+"-")
	if !ok {
		return p, errs.E(errs.Invalid, "file %q does not start with the artifactId %q", file, p.ArtifactID)
	}
	switch {
	case strings.HasPrefix(rest, p.Version) && (len(rest) == len(p.Version) || rest[len(p.Version)] == '.' || rest[len(p.Version)] == '-'):
		rest = rest[len(p.Version):]
	case p.Snapshot():
		base := strings.TrimSuffix(p.Version, snapshotSuffix) // "1.0-"
		after, ok := strings.CutPrefix(rest, base)
		if !ok || !timestampAt(after) {
			return p, errs.E(errs.Invalid, "file %q is not of version %s", file, p.Version)
		}
		p.Timestamp = after[:timestampLen]
		after = after[timestampLen+1:]
		i := 0
		for i < len(after) && after[i] >= '0' && after[i] <= '9' {
			i++
		}
		b, err := strconv.Atoi(after[:i])
		if err != nil || b < 1 || i > 9 {
			return p, errs.E(errs.Invalid, "file %q has no build number", file)
		}
		p.Build, rest = b, after[i:]
	default:
		return p, errs.E(errs.Invalid, "file %q is not of version %s", file, p.Version)
	}
	if c, ok := strings.CutPrefix(rest, "-"); ok {
		cls, ext, found := strings.Cut(c, ".")
		if !found || cls == "" {
			return p, errs.E(errs.Invalid, "file %q: want -<classifier>.<extension> after the version", file)
		}
		p.Classifier, rest = cls, "."+ext
	}
	ext, ok := strings.CutPrefix(rest, ".")
	if !ok || ext == "" || strings.HasSuffix(ext, ".") {
		return p, errs.E(errs.Invalid, "file %q has no extension", file)
	}
	p.Extension = ext
	return p, nil
}

// timestampAt reports whether s starts with yyyyMMdd.HHmmss-.
func timestampAt(s string) bool {
	if len(s) < timestampLen+2 || s[8] != '.' || s[timestampLen] != '-' {
		return false
	}
	for i := 0; i < timestampLen; i++ {
		if i != 8 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// checkSegment admits the characters Maven coordinates and file names
// use, and no empty, dot or dot-dot segment.
func checkSegment(seg string) error {
	if seg == "" || seg == "." || seg == ".." || len(seg) > maxSegmentLen || seg[0] == '.' {
		return errs.E(errs.Invalid, "invalid path segment %q", trunc(seg))
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._-+~", c) >= 0) {
			return errs.E(errs.Invalid, "invalid character %q in path segment %q", c, trunc(seg))
		}
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
