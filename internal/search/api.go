package search

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/jobs"
)

// Queue enqueues reindexing as background jobs (the composition root's
// job runner).
type Queue interface {
	// EnqueueIndex queues a search_index job of t; an equal one not yet
	// started is returned instead, marked Duplicate.
	EnqueueIndex(ctx context.Context, t Target) (jobs.Job, error)
}

// API serves /api/v1/search.
type API struct {
	s       *Service
	queue   Queue
	audit   *audit.Log
	surface httpx.Surface
}

// NewAPI returns the search API.
func NewAPI(s *Service, q Queue, al *audit.Log, log *slog.Logger) *API {
	return &API{s: s, queue: q, audit: al,
		surface: httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: s.Auth, Log: log}}
}

// Routes mounts the endpoints, readable top to bottom.
func (h *API) Routes(mux *http.ServeMux) {
	s := &h.surface
	mux.Handle("GET /api/v1/search", s.Handle(h.search))           // ?q=&format=&limit=&cursor=: what the caller may read, best first
	mux.Handle("POST /api/v1/search/reindex", s.Handle(h.reindex)) // admins: rebuild the index ({"repository"} for one)
}

func (h *API) search(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	req := Request{Q: q.Get("q"), Format: q.Get("format"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return errs.E(errs.Invalid, "limit must be a number")
		}
		req.Limit = n
		if n == 0 {
			req.Limit = -1 // refused, not the default
		}
	}
	page, err := h.s.Search(r.Context(), auth.From(r.Context()), req)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, page)
}

func (h *API) reindex(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := auth.RequireAdmin(auth.From(ctx)); err != nil {
		return err
	}
	var t Target
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(r, &t); err != nil {
			return err
		}
	}
	t.Group = ""
	if t.Repository == "" {
		t.All = true
	} else {
		t.All = false
		if _, err := h.s.Repos.Get(ctx, t.Repository); err != nil {
			return err
		}
	}
	j, err := h.queue.EnqueueIndex(ctx, t)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if j.Duplicate {
		status = http.StatusOK
	} else {
		h.audit.Record(ctx, audit.Event{Action: "search.reindex", Repository: t.Repository, RemoteAddr: r.RemoteAddr,
			Detail: map[string]any{"job_id": j.ID}})
	}
	return httpx.WriteJSON(w, status, j)
}
