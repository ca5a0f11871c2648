package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/jobs"
)

// Jobs is the background job queue as the API uses it.
type Jobs interface {
	List(ctx context.Context, p jobs.ListParams) (jobs.Page, error)
	Get(ctx context.Context, id int64) (jobs.Job, error)
	// EnqueueGC queues a garbage collection (retention first unless
	// dryRun); an equal one already queued or running is returned instead,
	// marked Duplicate.
	EnqueueGC(ctx context.Context, dryRun bool) (jobs.Job, error)
}

// listJobs answers the job history, newest first:
// ?kind=gc&state=completed&limit=100&after=<next of the previous page>.
func (h *Handler) listJobs(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	page, err := h.jobs.List(r.Context(), jobs.ListParams{Kind: q.Get("kind"), State: q.Get("state"), Limit: limit, After: q.Get("after")})
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, page)
}

func (h *Handler) getJob(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errs.E(errs.NotFound, "no job %q", r.PathValue("id"))
	}
	j, err := h.jobs.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, j)
}

// enqueueGC queues a garbage collection and answers 202 with the job (200
// with the job already queued or running, when there is one);
// ?dry_run=true only reports. POST /api/v1/gc runs one synchronously.
func (h *Handler) enqueueGC(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	j, err := h.jobs.EnqueueGC(r.Context(), dry)
	if err != nil {
		return err
	}
	status := http.StatusAccepted
	if j.Duplicate {
		status = http.StatusOK
	} else {
		h.audit.Record(r.Context(), audit.Event{Action: "gc.enqueue", RemoteAddr: r.RemoteAddr,
			Detail: map[string]any{"dry_run": dry, "job_id": j.ID}})
	}
	return httpx.WriteJSON(w, status, j)
}
