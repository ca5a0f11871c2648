// Package pypi serves Python package repositories at /pypi/<repo>/: uploads
// with twine (the legacy upload API), the simple index that pip and uv read
// (PEP 503 HTML and PEP 691 JSON, with PEP 592 yanking, PEP 658/714 core
// metadata files and PEP 700 sizes and upload times), the JSON API per
// project, and yank and delete through arca's API. Proxy repositories cache
// another index; group repositories merge their members.
package pypi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
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
const Format = "pypi"

// Handler serves the PyPI surface.
type Handler struct {
	quota     *usage.Quota
	downloads *usage.Downloads
	gate      repo.DownloadGate
	repos     *repo.Store
	auth      *auth.Service
	blobs     *blob.Store
	store     store
	audit     *audit.Log
	log       *slog.Logger
	publicURL string
	maxUpload int64
	client    *http.Client

	pages   pageCache          // rendered pages of hosted projects
	fetches singleflight.Group // upstream pages and files in flight
	mu      sync.Mutex
	down    map[string]time.Time // upstream URL → not called again before

	surface     httpx.Surface // the index, files and uploads: plain-text errors
	jsonSurface httpx.Surface // the JSON API: {"message": ...} errors
	apiSurface  httpx.Surface // arca's own API: arca's JSON errors
}

// Deps are what the PyPI handler needs.
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
	PublicURL string // base URL clients reach arca at; "" derives it from each request
	MaxUpload int64  // bytes of one uploaded file; 0 = unlimited
	// Client fetches from proxies' upstreams; nil means a default client.
	Client *http.Client
	// Gate decides whether content may be downloaded (vulnerability
	// policies); nil allows everything.
	Gate repo.DownloadGate
}

// New returns the PyPI handler.
func New(d Deps) *Handler {
	client := d.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}}
	}
	h := &Handler{repos: d.Repos, auth: d.Auth, blobs: d.Blobs, store: store{d.DB, d.Blobs}, audit: d.Audit, log: d.Log,
		publicURL: strings.TrimSuffix(d.PublicURL, "/"), maxUpload: d.MaxUpload, client: client, down: map[string]time.Time{}}
	h.quota, h.downloads = d.Quota, d.Downloads
	h.surface = httpx.Surface{Name: "pypi", WriteError: writeError, Auth: d.Auth, Log: d.Log}
	h.jsonSurface = httpx.Surface{Name: "pypi", WriteError: writeJSONError, Auth: d.Auth, Log: d.Log}
	h.apiSurface = httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: d.Auth, Log: d.Log}
	h.gate = d.Gate
	return h
}

// repository resolves the request's repository and checks that the caller
// may perform action on it. Only hosted repositories take changes.
func (h *Handler) repository(r *http.Request, action auth.Action) (*repo.Repository, Settings, error) {
	ctx := r.Context()
	rp, err := h.repos.Get(ctx, r.PathValue("repo"))
	if err != nil {
		return nil, Settings{}, err
	}
	if rp.Format != Format {
		return nil, Settings{}, errs.E(errs.NotFound, "repository %q is a %s repository, not a PyPI repository", rp.Name, rp.Format)
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, action); err != nil {
		return nil, Settings{}, err
	}
	if action != auth.Read && rp.Kind != repo.Hosted {
		return nil, Settings{}, errs.E(errs.Denied, "%s is a %s repository: upload to and change a hosted repository", rp.Name, rp.Kind)
	}
	s, err := settingsOf(rp.Settings)
	if err != nil {
		return nil, Settings{}, errs.Wrap(err, errs.Internal, "repository %s has invalid settings", rp.Name)
	}
	return rp, s, nil
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

// codeNotAcceptable marks a request whose Accept header admits no form
// the simple API offers (406).
const codeNotAcceptable = "NOT_ACCEPTABLE"

func status(err error) int {
	if errs.CodeOf(err) == codeNotAcceptable {
		return http.StatusNotAcceptable
	}
	return httpx.Status(err)
}

// writeError renders err as pip and twine show it: the status line and a
// plain-text body. A 401 carries a Basic challenge, so that pip asks
// keyring, .netrc or the user for credentials.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := status(err)
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="arca"`)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(st)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, "%d %s: %s\n", st, http.StatusText(st), errs.Message(err))
}

// writeJSONError renders err as PyPI's JSON API does: {"message": ...}.
func writeJSONError(w http.ResponseWriter, r *http.Request, err error) {
	st := status(err)
	if st == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="arca"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	if r.Method == http.MethodHead {
		return
	}
	json.NewEncoder(w).Encode(map[string]string{"message": errs.Message(err)})
}
