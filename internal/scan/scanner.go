// Package scan catalogues what artifacts contain (the packages installed
// in an image's layers, a package's own metadata), keeps the catalogue as
// an SBOM (a CycloneDX referrer of each image), matches it against the
// vulnerability data of internal/vulndb, keeps one report per artifact,
// and enforces repositories' download policies on the reports.
//
// Scans run as background jobs: the composition root hears pushes and
// uploads through audit.Log.Subscribe and enqueues a Target; nothing here
// scans on a request's goroutine.
package scan

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/oci"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/vulndb"
)

// Kinds of artifacts scanned.
const (
	KindImage = "oci"
	KindPyPI  = "pypi"
	KindNPM   = "npm"
)

// Target names one artifact: an image manifest (Name the image, Ref its
// digest), a PyPI file (Name the project, Ref the file name), an npm
// version (Name the package, Ref the version), a Maven file (Name
// groupId:artifactId, Ref its path) or a Go module version (Name the
// module, Ref the version).
type Target struct {
	Kind       string `json:"kind"`
	Repository string `json:"repository"`
	Name       string `json:"name"`
	Ref        string `json:"ref"`
}

func (t Target) String() string {
	sep := "@"
	if t.Kind == KindPyPI {
		sep = "/"
	}
	return t.Repository + "/" + t.Name + sep + t.Ref
}

// Referrers pushes SBOMs beside images: the OCI surface's own store path
// (oci.Handler), so that GC and the referrers API treat them as any push.
type Referrers interface {
	PushReferrer(ctx context.Context, rp *repo.Repository, image string, subject blob.Digest, ref oci.Referrer) (blob.Digest, error)
	HasReferrer(ctx context.Context, rp *repo.Repository, image string, subject blob.Digest, artifactType string) (bool, error)
}

// Deps are a Scanner's dependencies.
type Deps struct {
	DB        *meta.DB
	Blobs     *blob.Store
	Repos     *repo.Store
	Vulns     *vulndb.DB
	Referrers Referrers
	Audit     *audit.Log
	Log       *slog.Logger
	Limits    Limits
	// External scanners (adapter.go): Keys seals their credentials,
	// Tokens mints the pull tokens they fetch images with, from
	// RegistryURL (the base URL adapters reach arca's registry at).
	Keys        Sealer
	Tokens      PullTokens
	RegistryURL string
}

// Scanner scans artifacts and keeps their reports.
type Scanner struct {
	Deps
}

// New returns a Scanner.
func New(d Deps) *Scanner {
	if d.Limits.LayerBytes == 0 {
		d.Limits.LayerBytes = DefaultLimits.LayerBytes
	}
	if d.Limits.Files == 0 {
		d.Limits.Files = DefaultLimits.Files
	}
	if d.Limits.FileBytes == 0 {
		d.Limits.FileBytes = DefaultLimits.FileBytes
	}
	return &Scanner{Deps: d}
}

// ErrNotScanned is returned for artifacts that are not scanned: OCI
// artifacts that are not images (SBOMs, signatures, charts).
var ErrNotScanned = errors.New("not a scannable artifact")

// artifact is a Target resolved: its content digest and its components.
type artifact struct {
	rp     *repo.Repository
	digest string
	comps  []vulndb.Component
	// children are the platform manifests of an index.
	children []string
	// sbomOf is the manifest an SBOM is pushed beside (images only).
	image bool
}

// Scan catalogues t (walking an image's layers, or reading a package's
// metadata), matches it, and stores the report. An index is reported as
// the union of its platforms, each scanned first. With reuse, an
// artifact already catalogued is matched again from its stored
// components (a rescan after the vulnerability data changed).
func (s *Scanner) Scan(ctx context.Context, t Target, reuse bool) (*Report, error) {
	rp, err := s.Repos.Get(ctx, t.Repository)
	if err != nil {
		return nil, err
	}
	var a *artifact
	if reuse {
		if comps, digest, ok, err := s.storedComponents(ctx, rp.ID, t); err != nil {
			return nil, err
		} else if ok {
			a = &artifact{rp: rp, digest: digest, comps: comps}
		}
	}
	if a == nil {
		a, err = s.resolve(ctx, rp, t)
		if err != nil {
			if errors.Is(err, ErrNotScanned) {
				return nil, err
			}
			if errs.Is(err, errs.NotFound) {
				return nil, err
			}
			// An artifact that cannot be catalogued gets a report that says so.
			return s.store(ctx, rp, t, "", nil, nil, err)
		}
	}
	for _, child := range a.children {
		ct := Target{Kind: KindImage, Repository: t.Repository, Name: t.Name, Ref: child}
		r, err := s.Scan(ctx, ct, true)
		if err != nil {
			if errors.Is(err, ErrNotScanned) || errs.Is(err, errs.NotFound) {
				continue
			}
			return nil, err
		}
		a.comps = append(a.comps, r.Components...)
	}
	findings, err := s.Vulns.Match(ctx, a.comps)
	if err != nil {
		return nil, err
	}
	// The SBOM goes first, so that an image with a report has its SBOM.
	if a.image {
		if err := s.pushSBOM(ctx, rp, t, a); err != nil {
			s.Log.WarnContext(ctx, "pushing an SBOM", "artifact", t.String(), "err", err)
		}
	}
	rep, err := s.store(ctx, rp, t, a.digest, a.comps, findings, nil)
	if err != nil {
		return nil, err
	}
	s.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "scan.completed", Repository: rp.Name, Subject: t.Name + refSep(t) + t.Ref,
		Detail: map[string]any{"kind": t.Kind, "digest": rep.Digest, "counts": rep.Counts, "worst": rep.Worst, "worst_advisory": rep.WorstAdvisory,
			"components": len(rep.Components)}})
	return rep, nil
}

func refSep(t Target) string {
	if t.Kind == KindPyPI {
		return "/"
	}
	return "@"
}

func (s *Scanner) pushSBOM(ctx context.Context, rp *repo.Repository, t Target, a *artifact) error {
	if s.Referrers == nil || rp.Kind != repo.Hosted {
		return nil
	}
	if ok, err := s.Referrers.HasReferrer(ctx, rp, t.Name, blob.Digest(a.digest), SBOMType); err != nil || ok {
		return err
	}
	doc, err := cycloneDX(rp.Name+"/"+t.Name, a.digest, a.comps)
	if err != nil {
		return err
	}
	_, err = s.Referrers.PushReferrer(ctx, rp, t.Name, blob.Digest(a.digest), oci.Referrer{ArtifactType: SBOMType, MediaType: SBOMType, Content: doc,
		Annotations: map[string]string{"org.opencontainers.image.description": "SBOM generated by arca"}})
	return err
}

// resolve reads an artifact's components from its stored metadata and
// content.
func (s *Scanner) resolve(ctx context.Context, rp *repo.Repository, t Target) (*artifact, error) {
	switch t.Kind {
	case KindPyPI:
		var digest, name, version, md string
		err := s.DB.QueryRowContext(ctx, `SELECT digest, name, version, metadata FROM pypi_files WHERE repository_id = $1 AND project = $2 AND filename = $3`,
			rp.ID, t.Name, t.Ref).Scan(&digest, &name, &version, &md)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errs.E(errs.NotFound, "no file %s in %s", t.Ref, rp.Name)
		}
		if err != nil {
			return nil, meta.Err(err)
		}
		var fields map[string][]string
		json.Unmarshal([]byte(md), &fields)
		return &artifact{rp: rp, digest: digest, comps: []vulndb.Component{pythonComponent(name, version, fields["requires-dist"])}}, nil
	case KindNPM:
		var digest, manifest string
		err := s.DB.QueryRowContext(ctx, `SELECT digest, manifest FROM npm_versions WHERE repository_id = $1 AND name = $2 AND version = $3`,
			rp.ID, t.Name, t.Ref).Scan(&digest, &manifest)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errs.E(errs.NotFound, "no version %s@%s in %s", t.Name, t.Ref, rp.Name)
		}
		if err != nil {
			return nil, meta.Err(err)
		}
		// The stored document ends inside dist, at the tarball URL.
		c, ok := parsePackageJSON([]byte(manifest + `"}}`))
		if !ok {
			return nil, errs.E(errs.Internal, "stored manifest of %s@%s is unreadable", t.Name, t.Ref)
		}
		return &artifact{rp: rp, digest: digest, comps: []vulndb.Component{c}}, nil
	case KindImage:
		return s.resolveImage(ctx, rp, t)
	case KindMaven:
		return s.resolveMaven(ctx, rp, t)
	case KindGo:
		return s.resolveGo(ctx, rp, t)
	}
	return nil, errs.E(errs.Invalid, "unknown artifact kind %q", t.Kind)
}

func (s *Scanner) resolveImage(ctx context.Context, rp *repo.Repository, t Target) (*artifact, error) {
	var digest, mediaType, artifactType string
	err := s.DB.QueryRowContext(ctx, `SELECT digest, media_type, artifact_type FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND (digest = $3 OR pushed_as = $3)`,
		rp.ID, t.Name, t.Ref).Scan(&digest, &mediaType, &artifactType)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no manifest %s in %s/%s", t.Ref, rp.Name, t.Name)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt manifest digest")
	}
	rd, err := s.Blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	var m struct {
		ArtifactType string               `json:"artifactType"`
		Config       *ocispec.Descriptor  `json:"config"`
		Layers       []ocispec.Descriptor `json:"layers"`
		Manifests    []ocispec.Descriptor `json:"manifests"`
	}
	err = json.NewDecoder(rd).Decode(&m)
	rd.Close()
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "stored manifest %s is unreadable", digest)
	}
	a := &artifact{rp: rp, digest: digest}
	if m.Config == nil { // an index
		for _, c := range m.Manifests {
			if c.ArtifactType == "" {
				a.children = append(a.children, string(c.Digest))
			}
		}
		return a, nil
	}
	if m.ArtifactType != "" || (m.Config.MediaType != ocispec.MediaTypeImageConfig && m.Config.MediaType != "application/vnd.docker.container.image.v1+json") {
		return nil, ErrNotScanned
	}
	var layers []blob.Digest
	for _, l := range m.Layers {
		ld, err := blob.ParseDigest(string(l.Digest))
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "layer digest")
		}
		if l.Size > s.Limits.LayerBytes {
			return nil, errs.E(errs.TooLarge, "layer %s of %d bytes is larger than the scanner reads (%d)", ld, l.Size, s.Limits.LayerBytes)
		}
		layers = append(layers, ld)
	}
	if a.comps, err = catalog(ctx, s.Blobs, layers, s.Limits); err != nil {
		return nil, err
	}
	a.image = true
	return a, nil
}

// storedComponents returns the components of an artifact's last report.
func (s *Scanner) storedComponents(ctx context.Context, repoID int64, t Target) ([]vulndb.Component, string, bool, error) {
	var comps, digest, status string
	err := s.DB.QueryRowContext(ctx, `SELECT components, digest, status FROM scan_reports WHERE repository_id = $1 AND kind = $2 AND name = $3 AND ref = $4`,
		repoID, t.Kind, t.Name, t.Ref).Scan(&comps, &digest, &status)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != StatusOK) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, meta.Err(err)
	}
	var out []vulndb.Component
	if err := json.Unmarshal([]byte(comps), &out); err != nil {
		return nil, "", false, nil
	}
	return out, digest, true, nil
}

// String of a severity count map, e.g. "Critical: 1, High: 2".
func summary(counts map[string]int) string {
	var parts []string
	for _, sev := range []vulndb.Severity{vulndb.Critical, vulndb.High, vulndb.Medium, vulndb.Low, vulndb.Unknown} {
		if n := counts[sev.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d", sev, n))
		}
	}
	return cmp.Or(strings.Join(parts, ", "), "no findings")
}
