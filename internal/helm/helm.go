// Package helm serves Helm chart repositories at /helm/<repo>/.
package helm

import (
	"log/slog"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Format is the repository format this package serves.
const Format = "helm"

// Handler serves the Helm surface.
type Handler struct{}

// Deps are what the Helm handler needs.
type Deps struct {
	DB        *meta.DB
	Repos     *repo.Store
	Auth      *auth.Service
	Blobs     *blob.Store
	Audit     *audit.Log
	Log       *slog.Logger
	MaxUpload int64
}

// New returns the Helm handler.
func New(d Deps) *Handler { return &Handler{} }

// Routes mounts the Helm surface.
func (h *Handler) Routes(mux *http.ServeMux) {}

// CheckSettings validates a Helm repository's settings.
func CheckSettings(kind string, settings map[string]any) error { return nil }
