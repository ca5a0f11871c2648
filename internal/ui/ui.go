// Package ui is arca's web UI: server-rendered pages (html/template, assets
// embedded with go:embed, no JavaScript build) over the same packages every
// protocol uses — auth.Service for sign-in and the one permission check,
// repo.Store, audit.Log, gc.Collector and blob.Store — plus read-only
// queries of the format tables (one *_queries.go file per format).
//
// Browsers sign in with a session (ui_sessions): a random token in an
// HttpOnly, SameSite=Lax cookie, only its hash stored. Every state-changing
// request carries the session's anti-forgery token in a form field and
// passes the browser's cross-origin checks (Sec-Fetch-Site / Origin).
//
// Adding a page takes one handler file, one template in templates/pages
// and one line in routes.go; see docs/ui.md.
package ui

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/lineage"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/internal/search"
	"github.com/arcaproject/arca/internal/usage"
	"github.com/arcaproject/arca/internal/webhook"
)

// Deps are what the UI needs.
type Deps struct {
	DB    *meta.DB
	Repos *repo.Store
	Auth  *auth.Service
	Blobs *blob.Store
	Audit *audit.Log
	Log   *slog.Logger
	// GC returns the garbage collector that "run now" runs.
	GC *gc.Collector
	// PublicURL is the base URL clients reach arca at; "" derives it from
	// each request's Host.
	PublicURL string
	// S3Addr is the S3 listener's address (its port goes into snippets);
	// "" when the build serves no S3.
	S3Addr string
	// MLflowSpace names the repository of format mlflow that MLflow pages
	// show ("" for "mlflow").
	MLflowSpace string
	// SessionTTL is how long a sign-in lasts (0: DefaultSessionTTL).
	SessionTTL time.Duration
	// SSO is the OpenID Connect sign-in offered beside the password form
	// (nil: none).
	SSO SSO
	// Version is shown in the footer.
	Version string
	// Webhooks serves the webhook pages (nil: none).
	Webhooks *webhook.Service
	// Scans are the vulnerability reports; ScanQueue queues scans (the
	// security pages' scan button). Nil hides the pages.
	Scans     *scan.Scanner
	ScanQueue scan.Queue
	// Usage serves the storage page (nil hides it).
	Usage *usage.Service
	// Lineage draws what was made from what (nil hides the page).
	Lineage *lineage.Service
	// Search answers the search box of every page (nil: none).
	Search *search.Service
}

// Handler serves the web UI.
type Handler struct {
	Deps
	db         *meta.DB
	auth       *auth.Service
	repos      *repo.Store
	log        *slog.Logger
	sessionTTL time.Duration
	// views are the templates, the layout and partials parsed in the
	// background from New on (so that a start does not wait for them),
	// each page when first rendered; a page rendered before the layout
	// is parsed waits for it.
	views      func() *views
	origin     *http.CrossOriginProtection
	statsCache statsCache
}

// New returns the UI handler. It panics if the embedded layout and
// partials do not parse, which a test catches before any release
// (TestTemplatesParse, which also parses every page).
func New(d Deps) *Handler {
	if d.SessionTTL <= 0 {
		d.SessionTTL = DefaultSessionTTL
	}
	if d.MLflowSpace == "" {
		d.MLflowSpace = "mlflow"
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	views := sync.OnceValue(func() *views {
		v, err := loadViews()
		if err != nil {
			panic(err) // the embedded templates are broken: a build error
		}
		return v
	})
	go views()
	return &Handler{Deps: d, db: d.DB, auth: d.Auth, repos: d.Repos, log: d.Log, sessionTTL: d.SessionTTL,
		views: views, origin: http.NewCrossOriginProtection()}
}
