// Package helm serves Helm chart repositories at /helm/<repo>/: what
// `helm repo add`, `helm repo update`, `helm search repo` and `helm pull`
// read (index.yaml and the chart archives it names), with uploads as
// ChartMuseum takes them (POST api/charts, which the helm cm-push plugin
// and curl send) or a plain PUT. Hosted repositories build index.yaml
// from their charts' Chart.yaml; proxy repositories cache another chart
// repository; group repositories merge their members' indexes.
//
// Charts can also be pushed to arca's OCI registry (helm push oci://...),
// which is the OCI surface's business, not this package's.
package helm

import (
	"context"
	"encoding/json"
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
const Format = "helm"

// Handler serves the Helm chart repository surface.
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
}

// Deps are what the Helm handler needs.
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
	// MaxUpload caps an uploaded chart (bytes); 0 means no limit beyond
	// the archive's own bounds.
	MaxUpload int64
	// Client fetches from proxies' upstreams; nil means a default client.
	Client *http.Client
}

// New returns the Helm handler.
func New(d Deps) *Handler {
	h := &Handler{db: d.DB, repos: d.Repos, auth: d.Auth, blobs: d.Blobs, audit: d.Audit, log: d.Log,
		maxUpload: d.MaxUpload, client: d.Client, upstream: repo.NewUpstreamHealth()}
	h.quota, h.downloads = d.Quota, d.Downloads
	if h.client == nil {
		h.client = &http.Client{Timeout: 30 * time.Minute}
	}
	h.surface = httpx.Surface{Name: "helm", WriteError: writeError, Auth: d.Auth, Log: d.Log}
	return h
}

// writeError renders err as ChartMuseum does, {"error": "..."} with its
// status; 401 carries a Basic challenge, which helm answers with the
// credentials of `helm repo add --username --password`.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpx.Status(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="arca"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
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
		return nil, errs.E(errs.NotFound, "repository %q is a %s repository, not helm", rp.Name, rp.Format)
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, action); err != nil {
		return nil, err
	}
	if action != auth.Read && rp.Kind != repo.Hosted {
		return nil, errs.E(errs.Denied, "%s is a %s repository: upload to a hosted Helm repository", rp.Name, rp.Kind)
	}
	return rp, nil
}
