package mlflow

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// createExperiment: POST experiments/create. Creating needs EDIT on the
// space; the creator manages the new experiment.
func (h *Handler) createExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name             string          `json:"name"`
		ArtifactLocation string          `json:"artifact_location"`
		Tags             []ExperimentTag `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.require(ctx, "", 0, Edit); err != nil {
		return err
	}
	if err := required("name", req.Name); err != nil {
		return err
	}
	if err := validateExperimentName(req.Name); err != nil {
		return err
	}
	tags := dedupeExperimentTags(req.Tags)
	keys := make([]string, len(tags))
	for i, t := range tags {
		if err := validateExperimentTag(t.Key, t.Value); err != nil {
			return err
		}
		keys[i] = t.Key
	}
	if countCustomViews(keys) > maxCustomViews {
		return errTooManyViews(0)
	}
	if req.ArtifactLocation != "" {
		if err := validateArtifactLocation(req.ArtifactLocation); err != nil {
			return err
		}
	}
	var id int64
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = insertExperiment(ctx, h.tx(tx), req.Name, req.ArtifactLocation, auth.From(ctx).Name, tags)
		if err != nil {
			return err
		}
		return grantCreator(ctx, tx, experimentResource, id)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "mlflow.experiment.create", Repository: h.space, Subject: itoa(id),
		RemoteAddr: r.RemoteAddr, Detail: map[string]any{"name": req.Name}})
	return reply(w, map[string]string{"experiment_id": itoa(id)})
}

// dedupeExperimentTags keeps the last value of each key.
func dedupeExperimentTags(tags []ExperimentTag) []ExperimentTag {
	return dedupeBy(tags, func(t ExperimentTag) string { return t.Key })
}

func errTooManyViews(experimentID int64) error {
	return invalidParam("cannot create another custom view for experiment %d: an experiment has at most %d; delete one first", experimentID, maxCustomViews)
}

// getExperiment: GET experiments/get.
func (h *Handler) getExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := required("experiment_id", req.ExperimentID); err != nil {
		return err
	}
	id, err := parseExperimentID(req.ExperimentID)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.requireExperiment(ctx, id, Read); err != nil {
		return err
	}
	exps, err := loadExperiments(ctx, h.q(), []int64{id})
	if err != nil {
		return err
	}
	if len(exps) == 0 {
		return notExist("no experiment with id=%d exists", id)
	}
	return reply(w, map[string]Experiment{"experiment": exps[0]})
}

// getExperimentByName: GET experiments/get-by-name.
func (h *Handler) getExperimentByName(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentName string `json:"experiment_name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := required("experiment_name", req.ExperimentName); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.knownCaller(ctx); err != nil {
		return err
	}
	e, err := experimentByName(ctx, h.db, req.ExperimentName)
	if err != nil {
		return err
	}
	if e == nil {
		return notExist("could not find experiment with name '%s'", req.ExperimentName)
	}
	if err := h.requireExperiment(ctx, e.ID, Read); err != nil {
		return err
	}
	exps, err := loadExperiments(ctx, h.q(), []int64{e.ID})
	if err != nil {
		return err
	}
	if len(exps) == 0 {
		return notExist("could not find experiment with name '%s'", req.ExperimentName)
	}
	return reply(w, map[string]Experiment{"experiment": exps[0]})
}

// searchExperiments: GET and POST experiments/search. Only experiments the
// caller may read are found.
func (h *Handler) searchExperiments(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		MaxResults *Int64    `json:"max_results"`
		PageToken  string    `json:"page_token"`
		Filter     string    `json:"filter"`
		OrderBy    []string  `json:"order_by"`
		ViewType   *ViewType `json:"view_type"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.MaxResults == nil {
		// MLflow reads an absent max_results as 0, which it refuses.
		req.MaxResults = new(Int64)
	}
	limit, err := pageSize(req.MaxResults, 0, maxSearchResults)
	if err != nil {
		return err
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	ctx := r.Context()
	vis, err := h.visibility(ctx)
	if err != nil {
		return err
	}
	sreq := search.ExperimentsRequest{Filter: req.Filter, OrderBy: req.OrderBy}
	if req.ViewType != nil {
		sreq.ViewType = string(*req.ViewType)
	}
	ids, next, err := h.searchVisibleExperiments(ctx, sreq, vis, offset, limit)
	if err != nil {
		return err
	}
	exps, err := loadExperiments(ctx, h.q(), ids)
	if err != nil {
		return err
	}
	return reply(w, struct {
		Experiments   []Experiment `json:"experiments,omitempty"`
		NextPageToken string       `json:"next_page_token,omitempty"`
	}{exps, next})
}

// searchVisibleExperiments returns one page of the ids an experiments
// search finds and the caller may read, and the next page's token. Offsets
// count in the unfiltered order, so tokens stay valid whatever the caller
// may read; when the caller cannot read everything, the search is read in
// batches until the page is full.
func (h *Handler) searchVisibleExperiments(ctx context.Context, req search.ExperimentsRequest, vis *visibility, offset, limit int) ([]int64, string, error) {
	if vis.unrestricted() {
		req.Offset, req.Limit = offset, limit+1
		ids, err := h.searchExperimentPage(ctx, req)
		if err != nil {
			return nil, "", err
		}
		if len(ids) > limit {
			return ids[:limit], search.EncodePageToken(offset + limit), nil
		}
		return ids, "", nil
	}
	batch := max(limit+1, 500)
	var out []int64
	for pos := offset; ; {
		req.Offset, req.Limit = pos, batch
		ids, err := h.searchExperimentPage(ctx, req)
		if err != nil {
			return nil, "", err
		}
		for i, id := range ids {
			if !vis.can(id) {
				continue
			}
			if len(out) == limit {
				return out, search.EncodePageToken(pos + i), nil
			}
			out = append(out, id)
		}
		if len(ids) < batch {
			return out, "", nil
		}
		pos += len(ids)
	}
}

func (h *Handler) searchExperimentPage(ctx context.Context, req search.ExperimentsRequest) ([]int64, error) {
	q, err := search.Experiments(req)
	if err != nil {
		return nil, err
	}
	return h.searchIDs(ctx, q)
}

// searchIDs runs a compiled search that selects one integer id per row.
func (h *Handler) searchIDs(ctx context.Context, q search.Query) ([]int64, error) {
	rows, err := h.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		ids = append(ids, id)
	}
	return ids, closeRows(rows)
}

// updateExperiment: POST experiments/update renames an active experiment.
func (h *Handler) updateExperiment(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		NewName      string `json:"new_name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id, err := h.experimentParam(r, req.ExperimentID, Edit)
	if err != nil {
		return err
	}
	if err := required("new_name", req.NewName); err != nil {
		return err
	}
	if err := validateExperimentName(req.NewName); err != nil {
		return err
	}
	ctx := r.Context()
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		e, err := experimentByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if e.LifecycleStage != stageActive {
			return invalidState("cannot rename a non-active experiment")
		}
		_, err = tx.ExecContext(ctx, `UPDATE mlflow_experiments SET name = $1, last_update_time = $2 WHERE id = $3`,
			req.NewName, meta.Now(), id)
		if meta.IsUniqueViolation(err) {
			return alreadyExists("experiment(name=%s) already exists", req.NewName)
		}
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "mlflow.experiment.rename", Repository: h.space, Subject: itoa(id), RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"name": req.NewName}})
	return reply(w, nil)
}

// experimentParam reads a required experiment id and checks the caller's
// permission on it.
func (h *Handler) experimentParam(r *http.Request, s string, need Permission) (int64, error) {
	if err := required("experiment_id", s); err != nil {
		return 0, err
	}
	id, err := parseExperimentID(s)
	if err != nil {
		return 0, err
	}
	return id, h.requireExperiment(r.Context(), id, need)
}

// deleteExperiment: POST experiments/delete marks an active experiment
// and all its runs deleted.
func (h *Handler) deleteExperiment(w http.ResponseWriter, r *http.Request) error {
	return h.setExperimentStage(w, r, stageActive, stageDeleted, "mlflow.experiment.delete")
}

// restoreExperiment: POST experiments/restore makes a deleted experiment
// and all its runs active again.
func (h *Handler) restoreExperiment(w http.ResponseWriter, r *http.Request) error {
	return h.setExperimentStage(w, r, stageDeleted, stageActive, "mlflow.experiment.restore")
}

// setExperimentStage moves an experiment in stage from to stage to, with
// all its runs; an experiment in another stage is not found, as in MLflow.
func (h *Handler) setExperimentStage(w http.ResponseWriter, r *http.Request, from, to, action string) error {
	var req struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id, err := h.experimentParam(r, req.ExperimentID, Manage)
	if err != nil {
		return err
	}
	ctx := r.Context()
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		now := meta.Now()
		res, err := tx.ExecContext(ctx, `UPDATE mlflow_experiments SET lifecycle_stage = $1, last_update_time = $2
			WHERE id = $3 AND lifecycle_stage = $4`, to, now, id, from)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notExist("no experiment with id=%d exists", id)
		}
		var deleted any // restored runs lose their deletion time
		if to == stageDeleted {
			deleted = now
		}
		_, err = tx.ExecContext(ctx, `UPDATE mlflow_runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3`,
			to, deleted, id)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: h.space, Subject: itoa(id), RemoteAddr: r.RemoteAddr})
	return reply(w, nil)
}

// setExperimentTag: POST experiments/set-experiment-tag.
func (h *Handler) setExperimentTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		Key          string `json:"key"`
		Value        string `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id, err := h.experimentParam(r, req.ExperimentID, Edit)
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := validateExperimentTag(req.Key, req.Value); err != nil {
		return err
	}
	ctx := r.Context()
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		e, err := experimentByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := e.mustBeActive(); err != nil {
			return err
		}
		if countCustomViews([]string{req.Key}) == 1 {
			var exists, views int
			err := tx.QueryRowContext(ctx, `SELECT
				COALESCE(SUM(CASE WHEN key = $2 THEN 1 ELSE 0 END), 0),
				COALESCE(SUM(CASE WHEN key LIKE $3 THEN 1 ELSE 0 END), 0)
				FROM mlflow_experiment_tags WHERE experiment_id = $1`, id, req.Key, customViewTagStart+"%").Scan(&exists, &views)
			if err != nil {
				return meta.Err(err)
			}
			if exists == 0 && views >= maxCustomViews {
				return errTooManyViews(id)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)
			ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`, id, req.Key, req.Value)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// deleteExperimentTag: POST experiments/delete-experiment-tag.
func (h *Handler) deleteExperimentTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string `json:"experiment_id"`
		Key          string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id, err := h.experimentParam(r, req.ExperimentID, Edit)
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	ctx := r.Context()
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		e, err := experimentByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := e.mustBeActive(); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM mlflow_experiment_tags WHERE experiment_id = $1 AND key = $2`, id, req.Key)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notExist("no tag with name: %s in experiment with id %d", req.Key, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}
