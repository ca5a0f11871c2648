// Package search is one search across every format arca holds: image
// tags, PyPI, npm, Maven, Go and Helm versions, raw files, S3 keys, MLflow
// experiments, runs, registered models and model versions, by name and
// description; and, for a digest, every place that content is used.
//
// The index (table search_docs, migration 00034) is derived data: the
// search_index job rebuilds the part of it an audited change touched from
// the format tables (index.go, sources.go), and `arca search reindex` or
// POST /api/v1/search/reindex rebuilds all of it. Two engines answer
// queries over it, chosen by the database: SQLite's FTS5 and PostgreSQL's
// full text search (engines.go). Every answer is filtered by the one
// permission model: a result the caller may not read is neither returned
// nor counted (access.go). Digest searches read the blob references of
// the format tables themselves (digest.go), as fsck does.
package search

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// MLflow is what search needs of the MLflow space, whose experiments and
// registered models carry permissions of their own.
type MLflow interface {
	// SearchScope says which resources of kind ("experiment" or
	// "registered_model") p may read: all of them except ids (all true),
	// or only ids (all false).
	SearchScope(ctx context.Context, p auth.Principal, kind string) (all bool, ids []int64, err error)
	// ArtifactBucket names the bucket holding MLflow's artifacts ("" when
	// there is no MLflow space).
	ArtifactBucket(ctx context.Context) (string, error)
}

// Deps are the service's dependencies.
type Deps struct {
	DB    *meta.DB
	Repos *repo.Store
	Auth  *auth.Service
	// Blobs is read for image labels (an image's config blob) when
	// indexing; nil leaves labels out.
	Blobs *blob.Store
	// MLflow is the MLflow space (nil: none served).
	MLflow MLflow
	Log    *slog.Logger
}

// Service indexes and searches.
type Service struct {
	Deps
	engine Engine
	// pageSize is the groups a whole reindex reads at once.
	pageSize int
	// labels caches imageLabels by manifest digest: an image's group is
	// rebuilt whole when any of its tags changes, and a manifest's labels
	// never change (its digest names its bytes), so a push to an image of
	// a thousand tags reads one manifest and one config, not a thousand.
	labelsMu sync.Mutex
	labels   map[string]map[string]string
}

// maxCachedLabels bounds Service.labels; the cache starts over when full.
const maxCachedLabels = 8192

// New returns the service, with the engine of the database in use.
func New(d Deps) *Service {
	s := &Service{Deps: d, pageSize: groupPage}
	if d.DB.Dialect == meta.Postgres {
		s.engine = postgresEngine{d.DB}
	} else {
		s.engine = sqliteEngine{d.DB}
	}
	return s
}

// Result is one thing found.
type Result struct {
	Format     string   `json:"format"`
	Repository string   `json:"repository"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Version    string   `json:"version,omitempty"`
	Digests    []string `json:"digests,omitempty"`
	Summary    string   `json:"summary,omitempty"`
	UpdatedAt  int64    `json:"updated_at,omitempty"`
	// URL is the result's page in the web UI.
	URL string `json:"url"`

	scopeID int64
}

// Page is a page of results, best first.
type Page struct {
	Query   string   `json:"query"`
	Digest  string   `json:"digest,omitempty"` // set for a digest search
	Results []Result `json:"results"`
	// NextCursor asks for the next page ("" on the last one).
	NextCursor string `json:"next_cursor,omitempty"`
}

// Request is a search as the API takes it.
type Request struct {
	Q      string
	Format string // overrides format: in Q
	Limit  int    // 1..MaxLimit, default DefaultLimit
	Cursor string
}

// Page sizes, and how deep paging goes: work stays bounded per request.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	MaxOffset    = 1000
)

// Search answers r for principal p.
func (s *Service) Search(ctx context.Context, p auth.Principal, r Request) (Page, error) {
	q, err := ParseQuery(r.Q)
	if err != nil {
		return Page{}, err
	}
	if r.Format != "" {
		q.Format = strings.ToLower(r.Format)
	}
	limit := r.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0 || limit > MaxLimit:
		return Page{}, errs.E(errs.Invalid, "limit must be between 1 and %d", MaxLimit)
	}
	offset, err := decodeCursor(r.Cursor)
	if err != nil {
		return Page{}, err
	}
	f, err := s.filterFor(ctx, p)
	if err != nil {
		return Page{}, err
	}
	page := Page{Query: r.Q, Digest: q.Digest}
	var res []Result
	if q.Digest != "" {
		res, err = s.digestSearch(ctx, p, q, f, offset, limit+1)
		if err == nil && len(res) == 0 && offset == 0 && q.BareDigest {
			q.Digest, page.Digest = "", ""
		}
	}
	if q.Digest == "" && err == nil {
		res, err = s.engine.Search(ctx, q, f, offset, limit+1)
	}
	if err != nil {
		return Page{}, err
	}
	if len(res) > limit {
		res = res[:limit]
		if offset+limit < MaxOffset {
			page.NextCursor = encodeCursor(offset + limit)
		}
	}
	for i := range res {
		res[i].URL = link(res[i])
	}
	page.Results = res
	if page.Results == nil {
		page.Results = []Result{}
	}
	return page, nil
}

func encodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

func decodeCursor(c string) (int, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil && len(b) > 1 && b[0] == 'o' {
		if n, err := strconv.Atoi(string(b[1:])); err == nil && n >= 0 && n < MaxOffset {
			return n, nil
		}
	}
	return 0, errs.E(errs.Invalid, "invalid cursor")
}

// link is a result's page in the web UI.
func link(r Result) string {
	rp := "/ui/repositories/" + url.PathEscape(r.Repository)
	switch r.Format {
	case "oci":
		return rp + "/images/" + r.Name
	case "pypi", "npm", "maven", "go", "helm":
		if r.Kind == KindPackage {
			return rp + "/packages/" + r.Name
		}
	case "mlflow":
		switch r.Kind {
		case KindExperiment:
			return "/ui/experiments/" + strconv.FormatInt(r.scopeID, 10)
		case KindRun:
			return "/ui/runs/" + url.PathEscape(r.Version)
		case KindModel:
			return "/ui/models/" + url.PathEscape(r.Name)
		case KindModelVersion:
			return "/ui/models/" + url.PathEscape(r.Name) + "/versions/" + url.PathEscape(r.Version)
		case KindArtifact: // <experiment>/<run>/artifacts/<path>
			if parts := strings.SplitN(r.Name, "/", 3); len(parts) == 3 && strings.HasPrefix(parts[2], "artifacts/") {
				return "/ui/runs/" + url.PathEscape(parts[1]) + "/artifacts"
			}
			return "/ui/experiments"
		}
	case "raw", "s3":
		if r.Kind == KindFile || r.Kind == KindObject {
			return rp + "/download?path=" + url.QueryEscape(r.Name)
		}
	}
	return rp
}

// Kinds of results.
const (
	KindTag          = "tag"      // OCI: an image's tag
	KindManifest     = "manifest" // OCI, digest search
	KindLayer        = "blob"     // OCI, digest search: a layer or config of an image
	KindPackage      = "package"  // a version of a PyPI, npm, Maven, Go module or Helm chart
	KindFile         = "file"     // raw
	KindObject       = "object"   // S3
	KindExperiment   = "experiment"
	KindRun          = "run"
	KindModel        = "registered_model"
	KindModelVersion = "model_version"
	KindArtifact     = "artifact" // MLflow, digest search
	KindCache        = "cached"   // a proxy's cached file, digest search
)
