// Package goproxy serves Go module repositories at /go/<repo>/: the
// GOPROXY protocol the go command speaks (https://go.dev/ref/mod#goproxy-protocol).
// Hosted repositories store module versions uploaded as module zips;
// proxy repositories cache another GOPROXY and pass its checksum database
// through; group repositories merge their members' version lists.
//
// Clients set GOPROXY=http://USER:TOKEN@HOST/go/<repo> (credentials in the
// URL are sent as Basic authentication) and, for modules only arca
// serves, GONOSUMDB=<their path prefixes>.
package goproxy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/usage"
)

// Format is the repository format this package serves.
const Format = "go"

// Handler serves the Go module surface.
type Handler struct {
	quota     *usage.Quota
	downloads *usage.Downloads
	db        *meta.DB
	repos     *repo.Store
	auth      *auth.Service
	blobs     *blob.Store
	audit     *audit.Log
	log       *slog.Logger
	maxUpload int64
	surface   httpx.Surface

	// Proxy state. None of it needs to survive a restart or be shared:
	// it only spares upstream calls.
	client   *http.Client
	fetches  singleflight.Group   // upstream requests in flight
	upstream *repo.UpstreamHealth // pauses after failures, negative cache
	gate     repo.DownloadGate
}

// Deps are what the Go handler needs.
type Deps struct {
	// Quota checks uploads against the repository quota; Downloads
	// notes downloads for cleanup policies. Either may be nil.
	Quota     *usage.Quota
	Downloads *usage.Downloads
	DB        *meta.DB
	Repos     *repo.Store
	Auth      *auth.Service
	Blobs     *blob.Store
	Audit     *audit.Log
	Log       *slog.Logger
	// MaxUpload caps an uploaded module zip (bytes); 0 means the module
	// zip limit of the go command (500 MiB).
	MaxUpload int64
	// Client fetches from proxies' upstreams; nil means a default client.
	Client *http.Client
	// Gate decides whether content may be downloaded (vulnerability
	// policies); nil allows everything.
	Gate repo.DownloadGate
}

// New returns the Go module handler.
func New(d Deps) *Handler {
	h := &Handler{db: d.DB, repos: d.Repos, auth: d.Auth, blobs: d.Blobs, audit: d.Audit, log: d.Log,
		maxUpload: d.MaxUpload, client: d.Client, upstream: repo.NewUpstreamHealth(), gate: d.Gate}
	h.quota, h.downloads = d.Quota, d.Downloads
	if h.client == nil {
		h.client = &http.Client{Timeout: 30 * time.Minute}
	}
	h.surface = httpx.Surface{Name: "go", WriteError: writeError, Auth: d.Auth, Log: d.Log}
	return h
}

// codeMethod marks an error as a method the path does not take (405).
const codeMethod = "METHOD_NOT_ALLOWED"

// writeError renders err as plain text with its status, which the go
// command prints. 404 and 410 tell it to try the next proxy in GOPROXY;
// 401 carries a Basic challenge.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpx.Status(err)
	if errs.CodeOf(err) == codeMethod {
		status = http.StatusMethodNotAllowed
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="arca"`)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, "%s\n", errs.Message(err))
}

// repository resolves a repository of this format and checks that the
// request may perform action on it. Changes need a hosted repository.
func (h *Handler) repository(ctx context.Context, name string, action auth.Action) (*repo.Repository, error) {
	rp, err := h.repos.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if rp.Format != Format {
		return nil, errs.E(errs.NotFound, "repository %q is a %s repository, not go", rp.Name, rp.Format)
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, action); err != nil {
		return nil, err
	}
	if action != auth.Read && rp.Kind != repo.Hosted {
		return nil, errs.E(errs.Denied, "%s is a %s repository: publish to a hosted Go repository", rp.Name, rp.Kind)
	}
	return rp, nil
}

// contentType is what a GOPROXY file is served as.
func contentType(kind string) string {
	switch kind {
	case KindInfo, KindLatest:
		return "application/json"
	case KindZip:
		return "application/zip"
	}
	return "text/plain; charset=utf-8"
}
