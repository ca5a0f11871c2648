package scan

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/vulndb"
)

// Maven files and Go module versions: their components are their own
// coordinates (OSV ecosystems Maven and Go) and the dependencies their
// pom or go.mod pins to a version.

// Kinds of package artifacts besides PyPI's and npm's.
const (
	KindMaven = "maven" // Name groupId:artifactId, Ref the file's path in the repository
	KindGo    = "go"    // Name the module path, Ref the version
)

// mavenScanned are the extensions of the Maven files that are scanned
// (the main artifact of each kind and its pom; not sources, javadoc,
// signatures or checksums).
var mavenScanned = map[string]bool{"jar": true, "war": true, "ear": true, "aar": true, "pom": true}

// maxDescriptor bounds a pom or go.mod read for its dependencies.
const maxDescriptor = 1 << 20

func (s *Scanner) resolveMaven(ctx context.Context, rp *repo.Repository, t Target) (*artifact, error) {
	var digest, g, a, v, classifier, ext string
	err := s.DB.QueryRowContext(ctx, `SELECT digest, group_id, artifact_id, version, classifier, extension FROM maven_files WHERE repository_id = $1 AND path = $2`,
		rp.ID, t.Ref).Scan(&digest, &g, &a, &v, &classifier, &ext)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no file %s in %s", t.Ref, rp.Name)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	if classifier != "" || !mavenScanned[ext] || t.Name != g+":"+a {
		return nil, ErrNotScanned
	}
	comps := []vulndb.Component{{Ecosystem: "Maven", Name: g + ":" + a, Version: v, PURL: purl("maven", g, a, v)}}
	// The pom of the same version names its dependencies.
	var pomDigest string
	err = s.DB.QueryRowContext(ctx, `SELECT digest FROM maven_files WHERE repository_id = $1 AND group_id = $2 AND artifact_id = $3 AND version = $4
		AND classifier = '' AND extension = 'pom' ORDER BY snapshot_ts DESC, build DESC LIMIT 1`, rp.ID, g, a, v).Scan(&pomDigest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, meta.Err(err)
	}
	if pomDigest != "" {
		b, err := s.readSmall(ctx, pomDigest)
		if err != nil {
			return nil, err
		}
		if pom, ok := parsePOM(b); ok {
			for _, d := range pom.dependencies() {
				comps[0].Dependencies = append(comps[0].Dependencies, d.Name)
				comps = append(comps, d)
			}
		}
	}
	return &artifact{rp: rp, digest: digest, comps: comps}, nil
}

func (s *Scanner) resolveGo(ctx context.Context, rp *repo.Repository, t Target) (*artifact, error) {
	var zip, mod string
	err := s.DB.QueryRowContext(ctx, `SELECT zip_digest, mod_digest FROM go_versions WHERE repository_id = $1 AND module = $2 AND version = $3`,
		rp.ID, t.Name, t.Ref).Scan(&zip, &mod)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no version %s@%s in %s", t.Name, t.Ref, rp.Name)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	comps := []vulndb.Component{goComponent(t.Name, t.Ref, "")}
	b, err := s.readSmall(ctx, mod)
	if err != nil {
		return nil, err
	}
	for _, d := range parseGoMod(b) {
		comps[0].Dependencies = append(comps[0].Dependencies, d.Name)
		comps = append(comps, d)
	}
	return &artifact{rp: rp, digest: zip, comps: comps}, nil
}

// readSmall reads a descriptor's bytes, at most maxDescriptor.
func (s *Scanner) readSmall(ctx context.Context, digest string) ([]byte, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt digest")
	}
	rd, err := s.Blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(io.LimitReader(rd, maxDescriptor))
}

// goComponent is a module at a version, as OSV's Go ecosystem names
// versions (without the leading v).
func goComponent(module, version, at string) vulndb.Component {
	return vulndb.Component{Ecosystem: "Go", Name: module, Version: strings.TrimPrefix(version, "v"), PURL: purl("golang", "", module, version), Path: at}
}

// parseGoMod lists the modules a go.mod requires (untrusted input; an
// unreadable go.mod lists nothing).
func parseGoMod(b []byte) []vulndb.Component {
	f, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		return nil
	}
	var out []vulndb.Component
	for _, r := range f.Require {
		if len(out) >= 2000 {
			break
		}
		out = append(out, goComponent(r.Mod.Path, r.Mod.Version, "go.mod"))
	}
	return out
}

// pomDoc is the part of a pom read for its dependencies.
type pomDoc struct {
	GroupID    string `xml:"groupId"`
	ArtifactID string `xml:"artifactId"`
	Version    string `xml:"version"`
	Parent     struct {
		GroupID string `xml:"groupId"`
		Version string `xml:"version"`
	} `xml:"parent"`
	Properties struct {
		Entries []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"properties"`
	Dependencies []struct {
		GroupID    string `xml:"groupId"`
		ArtifactID string `xml:"artifactId"`
		Version    string `xml:"version"`
		Scope      string `xml:"scope"`
	} `xml:"dependencies>dependency"`
}

// parsePOM reads a pom (untrusted input).
func parsePOM(b []byte) (*pomDoc, bool) {
	var p pomDoc
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	if err := dec.Decode(&p); err != nil {
		return nil, false
	}
	return &p, true
}

var pomProperty = regexp.MustCompile(`\$\{([^}]{1,200})\}`)

// dependencies are the pom's compile and runtime dependencies whose
// version is a plain version once its own properties are substituted
// (ranges and what a parent or BOM manages are left out).
func (p *pomDoc) dependencies() []vulndb.Component {
	props := map[string]string{
		"project.version": p.Version, "version": p.Version, "pom.version": p.Version,
		"project.groupId": p.GroupID, "project.parent.version": p.Parent.Version,
	}
	if p.Version == "" {
		props["project.version"], props["version"] = p.Parent.Version, p.Parent.Version
	}
	if p.GroupID == "" {
		props["project.groupId"] = p.Parent.GroupID
	}
	for i, e := range p.Properties.Entries {
		if i >= 1000 {
			break
		}
		props[e.XMLName.Local] = strings.TrimSpace(e.Value)
	}
	expand := func(s string) string {
		return pomProperty.ReplaceAllStringFunc(strings.TrimSpace(s), func(m string) string {
			if v, ok := props[m[2:len(m)-1]]; ok && !strings.Contains(v, "${") {
				return v
			}
			return m
		})
	}
	var out []vulndb.Component
	for _, d := range p.Dependencies {
		if len(out) >= 2000 {
			break
		}
		switch strings.TrimSpace(d.Scope) {
		case "", "compile", "runtime":
		default:
			continue
		}
		g, a, v := expand(d.GroupID), expand(d.ArtifactID), expand(d.Version)
		if g == "" || a == "" || v == "" || strings.ContainsAny(g+a+v, "${}[](),") || len(g+a+v) > 512 {
			continue
		}
		out = append(out, vulndb.Component{Ecosystem: "Maven", Name: g + ":" + a, Version: v, PURL: purl("maven", g, a, v), Path: "pom.xml"})
	}
	return out
}
