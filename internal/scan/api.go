package scan

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/vulndb"
)

// Queue enqueues scans as background jobs (the composition root's job
// runner).
type Queue interface {
	EnqueueScan(ctx context.Context, t Target) error
	// EnqueueRescan queues a rescan of every reported artifact.
	EnqueueRescan(ctx context.Context) error
	// EnqueueAdapterScan queues a scan of t by the external scanner
	// called scanner.
	EnqueueAdapterScan(ctx context.Context, t Target, scanner string) error
}

// EnqueueAll queues the scans of t: arca's own, and for images one by
// every enabled external scanner, whose list it reads through db (the
// transaction q inserts in, when it does).
func (s *Scanner) EnqueueAll(ctx context.Context, q Queue, db meta.Querier, t Target) error {
	if err := q.EnqueueScan(ctx, t); err != nil {
		return err
	}
	if t.Kind != KindImage {
		return nil
	}
	adapters, err := adapters(ctx, db, true)
	if err != nil {
		return err
	}
	for _, a := range adapters {
		if err := q.EnqueueAdapterScan(ctx, t, a.Name); err != nil {
			return err
		}
	}
	return nil
}

// API serves the scanning endpoints of /api/v1.
type API struct {
	scanner *Scanner
	vulns   *vulndb.DB
	repos   *repo.Store
	auth    *auth.Service
	queue   Queue
	surface httpx.Surface
}

// NewAPI returns the scanning API.
func NewAPI(s *Scanner, a *auth.Service, q Queue, log *slog.Logger) *API {
	return &API{scanner: s, vulns: s.Vulns, repos: s.Repos, auth: a, queue: q,
		surface: httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: a, Log: log}}
}

// Routes mounts the endpoints, readable top to bottom.
func (h *API) Routes(mux *http.ServeMux) {
	s := &h.surface
	mux.Handle("GET /api/v1/vulndb", s.Handle(h.vulndbStatus))   // what vulnerability data is loaded
	mux.Handle("POST /api/v1/scan", s.Handle(h.scan))            // scan an artifact, a repository, or everything
	mux.Handle("GET /api/v1/scan/reports", s.Handle(h.list))     // reports, worst first (the dashboard)
	mux.Handle("GET /api/v1/scan/reports/{id}", s.Handle(h.get)) // one report (JSON, or Harbor's format)
	mux.Handle("GET /api/v1/scan/report", s.Handle(h.find))      // one report by artifact
	// ?scanner=<name> picks an external scanner's report instead of arca's.

	mux.Handle("GET /api/v1/scanners", s.Handle(h.listAdapters))            // registered external scanners (admin)
	mux.Handle("POST /api/v1/scanners", s.Handle(h.createAdapter))          // register one (admin)
	mux.Handle("GET /api/v1/scanners/{name}", s.Handle(h.getAdapter))       // one registration (admin)
	mux.Handle("PUT /api/v1/scanners/{name}", s.Handle(h.updateAdapter))    // replace it (admin)
	mux.Handle("DELETE /api/v1/scanners/{name}", s.Handle(h.deleteAdapter)) // remove it and its reports (admin)
}

// HarborReportType is Harbor's vulnerability report media type, which
// tools that read Harbor's reports ask for in Accept.
const HarborReportType = "application/vnd.security.vulnerability.report; version=1.1"

func (h *API) vulndbStatus(w http.ResponseWriter, r *http.Request) error {
	if auth.From(r.Context()).Anonymous() {
		return errs.E(errs.Unauthenticated, "sign in to see the vulnerability data")
	}
	total, sources, err := h.vulns.Status(r.Context())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"advisories": total, "sources": sources})
}

// scan queues scans: {"repository", "kind", "name", "ref"} one artifact;
// {"repository"} every artifact of it (developers of the repository);
// {} a rescan of everything reported (admins).
func (h *API) scan(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var t Target
	if err := httpx.DecodeJSON(r, &t); err != nil {
		return err
	}
	p := auth.From(ctx)
	if t.Repository == "" {
		if err := auth.RequireAdmin(p); err != nil {
			return err
		}
		if err := h.queue.EnqueueRescan(ctx); err != nil {
			return err
		}
		return httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"queued": "rescan"})
	}
	rp, err := h.repos.Get(ctx, t.Repository)
	if err != nil {
		return err
	}
	if err := h.auth.Authorize(ctx, p, rp, auth.Write); err != nil {
		return err
	}
	var targets []Target
	if t.Name != "" || t.Ref != "" {
		if t.Kind == "" {
			t.Kind = rp.Format
		}
		if t.Kind != rp.Format || t.Name == "" || t.Ref == "" {
			return errs.E(errs.Invalid, "name an artifact by kind (%s), name and ref", rp.Format)
		}
		targets = []Target{t}
	} else {
		if targets, err = h.scanner.Artifacts(ctx, rp, 10_000); err != nil {
			return err
		}
	}
	for _, t := range targets {
		if err := h.scanner.EnqueueAll(ctx, h.queue, h.scanner.DB, t); err != nil {
			return err
		}
	}
	return httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"queued": len(targets), "targets": targets})
}

// readable checks that the caller may read the report's repository;
// reports of repositories it may not read are not found.
func (h *API) readable(ctx context.Context, name string) error {
	rp, err := h.repos.Get(ctx, name)
	if err != nil {
		return err
	}
	return h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read)
}

func (h *API) list(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if auth.From(ctx).Anonymous() {
		return errs.E(errs.Unauthenticated, "sign in to see scan reports")
	}
	minSev := vulndb.None
	if v := q.Get("min_severity"); v != "" {
		s, ok := vulndb.ParseSeverity(v)
		if !ok {
			return errs.E(errs.Invalid, "min_severity: want low, medium, high or critical")
		}
		minSev = s
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	repository := q.Get("repository")
	if repository != "" {
		if err := h.readable(ctx, repository); err != nil {
			return err
		}
	}
	reports, err := h.scanner.ListBy(ctx, q.Get("scanner"), repository, minSev, 1000)
	if err != nil {
		return err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	out := []*Report{}
	ok := map[string]bool{}
	for _, rep := range reports {
		may, seen := ok[rep.Repository]
		if !seen {
			may = h.readable(ctx, rep.Repository) == nil
			ok[rep.Repository] = may
		}
		if may && len(out) < limit {
			out = append(out, rep)
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *API) get(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errs.E(errs.NotFound, "no scan report %q", r.PathValue("id"))
	}
	rep, err := h.scanner.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if scanner := r.URL.Query().Get("scanner"); scanner != "" && scanner != "arca" {
		// The report of the same artifact by another scanner, once the
		// caller may read arca's.
		if err := h.readable(r.Context(), rep.Repository); err != nil {
			return errs.E(errs.NotFound, "no scan report %d", id)
		}
		if rep, err = h.scanner.FindBy(r.Context(), rep.Target, scanner); err != nil {
			return err
		}
	}
	return h.answer(w, r, rep)
}

func (h *API) find(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	t := Target{Repository: q.Get("repository"), Kind: q.Get("kind"), Name: q.Get("name"), Ref: q.Get("ref")}
	if t.Repository == "" || t.Name == "" || t.Ref == "" {
		return errs.E(errs.Invalid, "name an artifact: repository, kind, name and ref")
	}
	if err := h.readable(r.Context(), t.Repository); err != nil {
		return err
	}
	if t.Kind == "" {
		rp, _ := h.repos.Get(r.Context(), t.Repository)
		t.Kind = rp.Format
	}
	rep, err := h.scanner.FindBy(r.Context(), t, q.Get("scanner"))
	if err != nil {
		return err
	}
	return h.answer(w, r, rep)
}

func (h *API) answer(w http.ResponseWriter, r *http.Request, rep *Report) error {
	if err := h.readable(r.Context(), rep.Repository); err != nil {
		if errs.Is(err, errs.Denied) {
			return errs.E(errs.NotFound, "no scan report %d", rep.ID)
		}
		return err
	}
	if wantsHarbor(r) {
		body, err := json.Marshal(h.harborReport(r.Context(), rep))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", HarborReportType)
		_, err = w.Write(body)
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}

func wantsHarbor(r *http.Request) bool {
	if r.URL.Query().Get("format") == "harbor" {
		return true
	}
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(a)); err == nil && mt == "application/vnd.security.vulnerability.report" {
			return true
		}
	}
	return false
}
