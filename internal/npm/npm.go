// Package npm serves npm registries at /npm/<repo>/: what npm, pnpm and
// yarn install from and publish to. Hosted repositories store what
// clients publish; proxy repositories cache another registry; group
// repositories answer from their members, hosted ones first, so that an
// internal package shadows a public one of the same name.
//
// Clients configure, in .npmrc:
//
//	registry=http://HOST/npm/<repo>/
//	//HOST/npm/<repo>/:_authToken=<arca token>
package npm

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
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
const Format = "npm"

// defaultMaxTarball bounds a published tarball when the configuration
// sets no upload limit: a publish document is decoded in memory.
const defaultMaxTarball = 128 << 20

// Handler serves the npm surface.
type Handler struct {
	quota      *usage.Quota
	downloads  *usage.Downloads
	gate       repo.DownloadGate
	db         *meta.DB
	repos      *repo.Store
	auth       *auth.Service
	blobs      *blob.Store
	store      store
	audit      *audit.Log
	log        *slog.Logger
	publicURL  string
	maxTarball int64
	surface    httpx.Surface
	cache      *bodyCache // built packuments, keyed by what makes them current

	// Proxy state. None of it needs to survive a restart or be shared:
	// it only spares the upstream calls.
	client   *http.Client
	fetches  singleflight.Group   // upstream requests in flight
	upstream *repo.UpstreamHealth // pauses after failures, negative cache
}

// Deps are what the npm handler needs.
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
	// PublicURL is the base URL clients reach arca at; "" derives it from
	// each request's Host.
	PublicURL string
	// MaxUpload caps a published tarball (bytes); 0 means 128 MiB.
	MaxUpload int64
	// Gate decides whether content may be downloaded (vulnerability
	// policies); nil allows everything.
	Gate repo.DownloadGate
	// Client fetches from proxies' upstreams; nil means a default client.
	Client *http.Client
}

// New returns the npm handler.
func New(d Deps) *Handler {
	h := &Handler{db: d.DB, repos: d.Repos, auth: d.Auth, blobs: d.Blobs, store: store{d.DB, d.Blobs}, audit: d.Audit,
		log: d.Log, publicURL: strings.TrimSuffix(d.PublicURL, "/"), maxTarball: d.MaxUpload,
		cache: newBodyCache(64 << 20), client: d.Client,
		upstream: repo.NewUpstreamHealth(), gate: d.Gate}
	h.quota, h.downloads = d.Quota, d.Downloads
	if h.client == nil {
		h.client = &http.Client{Timeout: 30 * time.Minute}
	}
	if h.maxTarball <= 0 {
		h.maxTarball = defaultMaxTarball
	}
	h.surface = httpx.Surface{Name: "npm", WriteError: writeError, Auth: authenticator{d.Auth}, Log: d.Log}
	return h
}

// authenticator is auth.Service, except that a login request with stale
// credentials (npm sends the token it has) is let through as anonymous:
// logging in is how a client replaces them.
type authenticator struct{ svc *auth.Service }

func (a authenticator) Authenticate(ctx context.Context, r *http.Request) (auth.Principal, error) {
	p, err := a.svc.Authenticate(ctx, r)
	if err != nil && errs.Is(err, errs.Unauthenticated) && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/-/user/org.couchdb.user:") {
		return auth.Principal{}, nil
	}
	return p, err
}

// codeMethod marks an error as a method the path does not take (405).
const codeMethod = "METHOD_NOT_ALLOWED"

// writeError renders err as npm clients expect: {"error": "..."} with the
// status, and a Basic challenge on 401 (npm then asks for credentials or
// reports that it needs a login).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpx.Status(err)
	if errs.CodeOf(err) == codeMethod {
		status = http.StatusMethodNotAllowed
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="arca"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"error": errs.Message(err)})
}

// repository resolves a repository of this format and checks that the
// request may perform action on it. Changes need a hosted repository.
func (h *Handler) repository(ctx context.Context, name string, action auth.Action) (*repo.Repository, error) {
	rp, err := h.repos.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if rp.Format != Format {
		return nil, errs.E(errs.NotFound, "repository %q is a %s repository, not npm", rp.Name, rp.Format)
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, action); err != nil {
		return nil, err
	}
	if action != auth.Read && rp.Kind != repo.Hosted {
		return nil, errs.E(errs.Denied, "%s is a %s repository: publish to a hosted npm repository", rp.Name, rp.Kind)
	}
	return rp, nil
}

// baseURL is the URL clients reach arca at.
func (h *Handler) baseURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// tarballPrefix is what tarball URLs of repository rp start with; a
// package's tarball is at prefix + name + "/-/" + file.
func (h *Handler) tarballPrefix(r *http.Request, rp *repo.Repository) string {
	return h.baseURL(r) + "/npm/" + rp.Name + "/"
}

// isoTime formats Unix milliseconds as npm's time fields do.
func isoTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
