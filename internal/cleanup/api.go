package cleanup

import (
	"context"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/jobs"
)

// Queue is the job queue as the API uses it: a run is a job.
type Queue interface {
	// EnqueueCleanup queues a run of the named policy ("" for every
	// enabled policy), followed by garbage collection.
	EnqueueCleanup(ctx context.Context, policy string) (jobs.Job, error)
}

// API serves /api/v1/cleanup, for global admins only.
type API struct {
	s       *Service
	queue   Queue
	audit   *audit.Log
	surface httpx.Surface
}

// NewAPI returns the cleanup API.
func NewAPI(s *Service, a *auth.Service, q Queue) *API {
	return &API{s: s, queue: q, audit: s.d.Audit, surface: httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: a, Log: s.d.Log}}
}

// Routes registers the API, readable top to bottom.
func (a *API) Routes(mux *http.ServeMux) {
	s := &a.surface
	mux.Handle("GET /api/v1/cleanup/policies", s.Handle(a.admin(a.list)))                    // every policy
	mux.Handle("POST /api/v1/cleanup/policies", s.Handle(a.admin(a.create)))                 // add one
	mux.Handle("POST /api/v1/cleanup/preview", s.Handle(a.admin(a.previewUnsaved)))          // preview a policy not saved
	mux.Handle("GET /api/v1/cleanup/policies/{name}", s.Handle(a.admin(a.get)))              // one policy, its last run
	mux.Handle("PUT /api/v1/cleanup/policies/{name}", s.Handle(a.admin(a.update)))           // replace it
	mux.Handle("DELETE /api/v1/cleanup/policies/{name}", s.Handle(a.admin(a.delete)))        // delete it
	mux.Handle("POST /api/v1/cleanup/policies/{name}/preview", s.Handle(a.admin(a.preview))) // what a run would delete and free
	mux.Handle("POST /api/v1/cleanup/policies/{name}/run", s.Handle(a.admin(a.run)))         // queue a run (then GC)
}

func (a *API) admin(fn func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
			return err
		}
		return fn(w, r)
	}
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.s.Policies.List(r.Context())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, ps)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	p, err := a.s.Policies.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, p)
}

// decode reads a policy; enabled defaults to true.
func decode(r *http.Request) (*Policy, error) {
	p := &Policy{Enabled: true}
	if err := httpx.DecodeJSON(r, p); err != nil {
		return nil, err
	}
	p.ID, p.CreatedAt, p.UpdatedAt, p.LastRunAt, p.LastResult = 0, 0, 0, 0, nil
	return p, nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request) error {
	p, err := decode(r)
	if err != nil {
		return err
	}
	p.CreatedBy = auth.From(r.Context()).String()
	if err := a.s.Policies.Create(r.Context(), p); err != nil {
		return err
	}
	a.audit.Record(r.Context(), audit.Event{Action: "cleanup.policy.create", Subject: p.Name, Repository: p.Repository, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"format": p.Format, "criteria": p.Criteria, "enabled": p.Enabled}})
	return httpx.WriteJSON(w, http.StatusCreated, p)
}

func (a *API) update(w http.ResponseWriter, r *http.Request) error {
	p, err := decode(r)
	if err != nil {
		return err
	}
	if p.Name == "" {
		p.Name = r.PathValue("name")
	} else if p.Name != r.PathValue("name") {
		return errs.E(errs.Invalid, "a policy cannot be renamed")
	}
	if err := a.s.Policies.Update(r.Context(), p); err != nil {
		return err
	}
	a.audit.Record(r.Context(), audit.Event{Action: "cleanup.policy.update", Subject: p.Name, Repository: p.Repository, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"format": p.Format, "criteria": p.Criteria, "enabled": p.Enabled}})
	stored, err := a.s.Policies.Get(r.Context(), p.Name)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, stored)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.s.Policies.Delete(r.Context(), name); err != nil {
		return err
	}
	a.audit.Record(r.Context(), audit.Event{Action: "cleanup.policy.delete", Subject: name, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) preview(w http.ResponseWriter, r *http.Request) error {
	p, err := a.s.Policies.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	pv, err := a.s.Preview(r.Context(), p)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, pv)
}

// previewUnsaved previews a policy sent in the body, to try criteria
// before saving them.
func (a *API) previewUnsaved(w http.ResponseWriter, r *http.Request) error {
	p, err := decode(r)
	if err != nil {
		return err
	}
	if p.Name == "" {
		p.Name = "preview"
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := a.s.Policies.repositoryID(r.Context(), p); err != nil {
		return err
	}
	pv, err := a.s.Preview(r.Context(), p)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, pv)
}

// run queues a run and answers 202 with the job.
func (a *API) run(w http.ResponseWriter, r *http.Request) error {
	p, err := a.s.Policies.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	j, err := a.queue.EnqueueCleanup(r.Context(), p.Name)
	if err != nil {
		return err
	}
	a.audit.Record(r.Context(), audit.Event{Action: "cleanup.run.enqueue", Subject: p.Name, Repository: p.Repository, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"job_id": j.ID}})
	return httpx.WriteJSON(w, http.StatusAccepted, j)
}

// RunAll runs every enabled policy; it reports the results and the
// first error (the other policies still run).
func (s *Service) RunAll(ctx context.Context) ([]Result, error) {
	ps, err := s.Policies.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Result
	var first error
	for _, p := range ps {
		if !p.Enabled {
			continue
		}
		res, err := s.Run(ctx, p)
		if err != nil && first == nil {
			first = err
		}
		out = append(out, res)
	}
	return out, first
}

// RunNamed runs one policy by name (disabled ones too: an admin asked).
func (s *Service) RunNamed(ctx context.Context, name string) (Result, error) {
	p, err := s.Policies.Get(ctx, name)
	if err != nil {
		return Result{}, err
	}
	return s.Run(ctx, p)
}
