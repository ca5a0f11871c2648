// Package mlflow serves the MLflow tracking server, model registry and
// artifact proxy at /mlflow: what the unmodified mlflow Python client talks
// to when MLFLOW_TRACKING_URI is http://HOST:PORT/mlflow.
//
// The MLflow space is one arca repository of format "mlflow" (by default
// "mlflow"). A user's role on it is the user's default permission on every
// experiment and registered model (reader → READ, developer → EDIT,
// maintainer and admin → MANAGE); MLflow's per-experiment and
// per-registered-model permissions override it. Artifacts are objects of an
// arca S3 bucket (the repository's artifact_bucket setting, by default
// "mlflow-artifacts"), so they are stored once in the shared blob store and
// readable with any S3 client too.
package mlflow

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Format is the repository format of an MLflow space.
const Format = "mlflow"

// DefaultArtifactBucket is the S3 bucket artifacts go to when the
// repository's settings name none.
const DefaultArtifactBucket = "mlflow-artifacts"

// CheckSettings validates an mlflow repository's settings: it is hosted,
// and artifact_bucket, when set, names a bucket.
func CheckSettings(kind string, settings map[string]any) error {
	if kind != repo.Hosted {
		return errs.E(errs.Invalid, "mlflow repositories can only be hosted")
	}
	for k, v := range settings {
		switch k {
		case "artifact_bucket":
			if s, ok := v.(string); !ok || repo.ValidateName(s) != nil {
				return errs.E(errs.Invalid, "artifact_bucket must name an s3 repository")
			}
		default:
			return errs.E(errs.Invalid, "unknown mlflow setting %q (want artifact_bucket)", k)
		}
	}
	return nil
}

// Handler serves the MLflow surface.
type Handler struct {
	db        *meta.DB
	repos     *repo.Store
	auth      *auth.Service
	blobs     *blob.Store
	objects   ObjectStore
	audit     *audit.Log
	log       *slog.Logger
	keys      *keyring.Keyring
	space     string // name of the mlflow repository
	publicURL string
	surface   httpx.Surface
	// otlpSurface serves OTLP trace export, with OTLP's errors.
	otlpSurface httpx.Surface
}

// Deps are what the MLflow handler needs.
type Deps struct {
	DB    *meta.DB
	Repos *repo.Store
	Auth  *auth.Service
	Blobs *blob.Store
	// Objects stores artifacts as objects of an S3 bucket.
	Objects ObjectStore
	Audit   *audit.Log
	Log     *slog.Logger
	// Keys holds the server key of part URLs.
	Keys *keyring.Keyring
	// Repository names the mlflow repository; "" means "mlflow".
	Repository string
	// PublicURL is the base URL clients reach arca at; "" derives it from
	// each request's Host.
	PublicURL string
}

// New returns the MLflow handler.
func New(d Deps) *Handler {
	h := &Handler{db: d.DB, repos: d.Repos, auth: d.Auth, blobs: d.Blobs, objects: d.Objects, audit: d.Audit,
		log: d.Log, keys: d.Keys, space: d.Repository, publicURL: d.PublicURL}
	if h.space == "" {
		h.space = "mlflow"
	}
	h.surface = httpx.Surface{Name: "mlflow", WriteError: writeError, Auth: d.Auth, Log: d.Log}
	h.otlpSurface = httpx.Surface{Name: "mlflow", WriteError: otlpSurfaceError, Auth: d.Auth, Log: d.Log}
	return h
}

// Bootstrap creates the Default experiment (id 0) when it does not exist.
func (h *Handler) Bootstrap(ctx context.Context) error {
	now := meta.Now()
	_, err := h.db.ExecContext(ctx, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time)
		VALUES (0, 'Default', $1, $2, $2) ON CONFLICT DO NOTHING`, experimentArtifactLocation(0), now)
	return meta.Err(err)
}

// handle adapts an MLflow handler to the surface: authentication, and
// errors in MLflow's format.
func (h *Handler) handle(fn httpx.HandlerFunc) http.Handler { return h.surface.Handle(fn) }
