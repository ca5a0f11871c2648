package replication

import (
	"io"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// Routes registers the replication part of the admin API, readable top to
// bottom. Every endpoint is for administrators only.
func (s *Service) Routes(mux *http.ServeMux, al *audit.Log) {
	h := &apiHandler{s: s, audit: al}
	sf := &s.surface
	mux.Handle("GET /api/v1/replication/policies", sf.Handle(h.list))           // ?repository=
	mux.Handle("POST /api/v1/replication/policies", sf.Handle(h.create))        //
	mux.Handle("GET /api/v1/replication/policies/{id}", sf.Handle(h.get))       //
	mux.Handle("PUT /api/v1/replication/policies/{id}", sf.Handle(h.replace))   // credentials sent back masked are kept
	mux.Handle("DELETE /api/v1/replication/policies/{id}", sf.Handle(h.delete)) // and its history
	mux.Handle("POST /api/v1/replication/policies/{id}/run", sf.Handle(h.run))  // a full run now, as a job
	mux.Handle("GET /api/v1/replication/policies/{id}/runs", sf.Handle(h.runs)) // ?before=<run id>&limit=
	mux.Handle("GET /api/v1/replication/runs", sf.Handle(h.runs))               // every policy's
	mux.Handle("GET /api/v1/replication/runs/{run}", sf.Handle(h.getRun))       // with its items
}

type apiHandler struct {
	s     *Service
	audit *audit.Log
}

func admin(r *http.Request) error { return auth.RequireAdmin(auth.From(r.Context())) }

func pathID(r *http.Request, key string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(key), 10, 64)
	if err != nil || id <= 0 {
		return 0, errs.E(errs.NotFound, "no replication %s %q", key, r.PathValue(key))
	}
	return id, nil
}

func (h *apiHandler) list(w http.ResponseWriter, r *http.Request) error {
	if err := admin(r); err != nil {
		return err
	}
	ps, err := h.s.store.list(r.Context(), r.URL.Query().Get("repository"))
	if err != nil {
		return err
	}
	out := make([]*Policy, len(ps))
	for i, p := range ps {
		out[i] = p.Redacted()
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

// readPolicy decodes and checks a policy from the request body.
func (h *apiHandler) readPolicy(r *http.Request) (*Policy, int64, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		return nil, 0, errs.Wrap(err, errs.Invalid, "reading the request body")
	}
	if len(b) > 64<<10 {
		return nil, 0, errs.E(errs.TooLarge, "a policy is at most 64 KiB of JSON")
	}
	p, err := decodePolicy(b)
	if err != nil {
		return nil, 0, err
	}
	rp, err := h.s.d.Repos.Get(r.Context(), p.Repository)
	if errs.Is(err, errs.NotFound) {
		return nil, 0, errs.E(errs.Invalid, "repository %q does not exist", p.Repository)
	} else if err != nil {
		return nil, 0, err
	}
	if _, ok := formats[rp.Format]; !ok {
		return nil, 0, errs.E(errs.Invalid, "repositories of format %s are not replicated (formats: oci, s3, raw, pypi, npm, maven, go, helm, mlflow)", rp.Format)
	}
	if rp.Kind != "hosted" {
		return nil, 0, errs.E(errs.Invalid, "repository %q is a %s repository; replication works on hosted ones", rp.Name, rp.Kind)
	}
	p.Format = rp.Format
	return p, rp.ID, p.validate()
}

func (h *apiHandler) create(w http.ResponseWriter, r *http.Request) error {
	if err := admin(r); err != nil {
		return err
	}
	p, repoID, err := h.readPolicy(r)
	if err != nil {
		return err
	}
	if err := h.s.store.create(r.Context(), p, repoID); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "replication.policy.create", Repository: p.Repository, Subject: p.Name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"direction": p.Direction, "remote": p.Remote.URL, "remote_repository": p.Remote.Repository}})
	return httpx.WriteJSON(w, http.StatusCreated, p.Redacted())
}

func (h *apiHandler) get(w http.ResponseWriter, r *http.Request) error {
	p, err := h.policyAt(r)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, p.Redacted())
}

func (h *apiHandler) replace(w http.ResponseWriter, r *http.Request) error {
	old, err := h.policyAt(r)
	if err != nil {
		return err
	}
	p, repoID, err := h.readPolicy(r)
	if err != nil {
		return err
	}
	if p.Name != old.Name {
		return errs.E(errs.Invalid, "a policy's name cannot change (%q)", old.Name)
	}
	if p.Remote.Username == Masked {
		p.Remote.Username = old.Remote.Username
	}
	if p.Remote.Password == Masked {
		p.Remote.Password = old.Remote.Password
	}
	p.ID, p.CreatedAt = old.ID, old.CreatedAt
	if err := h.s.store.update(r.Context(), p, repoID); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "replication.policy.update", Repository: p.Repository, Subject: p.Name, RemoteAddr: r.RemoteAddr})
	return httpx.WriteJSON(w, http.StatusOK, p.Redacted())
}

func (h *apiHandler) delete(w http.ResponseWriter, r *http.Request) error {
	p, err := h.policyAt(r)
	if err != nil {
		return err
	}
	if err := h.s.store.delete(r.Context(), p.ID); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "replication.policy.delete", Repository: p.Repository, Subject: p.Name, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// run queues a full run of the policy and answers 202 with the job's ID.
func (h *apiHandler) run(w http.ResponseWriter, r *http.Request) error {
	p, err := h.policyAt(r)
	if err != nil {
		return err
	}
	if p.Format == "maven" {
		return errMavenFullRun
	}
	jobID, err := h.s.d.Enqueue(r.Context(), Job{PolicyID: p.ID, Cause: CauseManual})
	if err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "replication.run", Repository: p.Repository, Subject: p.Name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"job_id": jobID}})
	return httpx.WriteJSON(w, http.StatusAccepted, map[string]any{"policy_id": p.ID, "job_id": jobID})
}

func (h *apiHandler) runs(w http.ResponseWriter, r *http.Request) error {
	if err := admin(r); err != nil {
		return err
	}
	var policyID int64
	if r.PathValue("id") != "" {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if _, err := h.s.store.get(r.Context(), id); err != nil {
			return err
		}
		policyID = id
	}
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	runs, err := h.s.store.runs(r.Context(), policyID, before, limit)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, runs)
}

func (h *apiHandler) getRun(w http.ResponseWriter, r *http.Request) error {
	if err := admin(r); err != nil {
		return err
	}
	id, err := pathID(r, "run")
	if err != nil {
		return err
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	run, err := h.s.store.run(r.Context(), id, limit)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, run)
}

// policyAt is the policy the request's path names, for an admin.
func (h *apiHandler) policyAt(r *http.Request) (*Policy, error) {
	if err := admin(r); err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return h.s.store.get(r.Context(), id)
}
