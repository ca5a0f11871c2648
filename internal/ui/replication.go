package ui

import (
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/errs"
)

type replicationData struct {
	Policies []ReplicationPolicy
	Runs     []ReplicationRun
}

// replication lists the replication policies and the newest runs of all
// of them (docs/replication.md: policies are made in the API).
func (h *Handler) replication(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.replicationPolicies(r.Context())
	if err != nil {
		return err
	}
	runs, err := h.replicationRuns(r.Context(), 0, 50)
	if err != nil {
		return err
	}
	return h.page(w, r, "admin_replication", "Replication", replicationData{Policies: ps, Runs: runs})
}

// replicationRunPage shows one run and what it did to each item.
func (h *Handler) replicationRunPage(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil {
		return errs.E(errs.NotFound, "no replication run %q", r.PathValue("run"))
	}
	run, err := h.replicationRun(r.Context(), id)
	if err != nil {
		return err
	}
	return h.page(w, r, "admin_replication_run", "Replication run "+strconv.FormatInt(id, 10), run)
}
