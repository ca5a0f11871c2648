package mlflow

import (
	"context"
	"database/sql"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// MLflow 3 logged models: what log_model creates before uploading a
// model's files (to loggedModelArtifactLocation) and finalizes after.
// Permissions are those of the model's experiment; deleting a model or
// one of its tags needs MANAGE, as in MLflow's auth.

// modelFor looks up a logged model by id and checks the caller's
// permission on its experiment.
func (h *Handler) modelFor(ctx context.Context, id string, need Permission) (*modelRow, error) {
	if err := h.knownCaller(ctx); err != nil {
		return nil, err
	}
	if err := required("model_id", id); err != nil {
		return nil, err
	}
	m, err := modelByID(ctx, h.db, id)
	if err != nil {
		return nil, err
	}
	return m, h.requireExperiment(ctx, m.ExperimentID, need)
}

// replyModel answers {"model": ...} with the model as stored now.
func (h *Handler) replyModel(ctx context.Context, w http.ResponseWriter, id string) error {
	models, err := loadModels(ctx, h.q(), []string{id})
	if err != nil {
		return err
	}
	if len(models) == 0 {
		return errModelNotFound(id)
	}
	return reply(w, map[string]LoggedModel{"model": models[0]})
}

func modelTagKey(t LoggedModelTag) string         { return t.Key }
func modelParamKey(p LoggedModelParameter) string { return p.Key }

// createLoggedModel: POST logged-models.
func (h *Handler) createLoggedModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string                 `json:"experiment_id"`
		Name         string                 `json:"name"`
		ModelType    string                 `json:"model_type"`
		SourceRunID  string                 `json:"source_run_id"`
		Params       []LoggedModelParameter `json:"params"`
		Tags         []LoggedModelTag       `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	expID, err := h.experimentParam(r, req.ExperimentID, Edit)
	if err != nil {
		return err
	}
	if err := validateLoggedModelName(req.Name); err != nil {
		return err
	}
	name := req.Name
	if name == "" {
		name = randomName()
	}
	ctx := r.Context()
	id := "m-" + randomHex(16)
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		e, err := experimentByID(ctx, tx, expID)
		if err != nil {
			return err
		}
		if err := e.mustBeActive(); err != nil {
			return err
		}
		now := meta.Now()
		_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_logged_models (id, experiment_id, name, artifact_location, status,
			model_type, source_run_id, user_id, creation_timestamp, last_updated_timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
			id, expID, name, loggedModelArtifactLocation(e.ArtifactLocation, id), modelStates[1], req.ModelType, req.SourceRunID,
			auth.From(ctx).Name, now)
		if err != nil {
			return meta.Err(err)
		}
		if err := writeModelParams(ctx, h.tx(tx), id, dedupeBy(req.Params, modelParamKey)); err != nil {
			return err
		}
		return writeModelTags(ctx, h.tx(tx), id, dedupeBy(req.Tags, modelTagKey))
	})
	if err != nil {
		return err
	}
	return h.replyModel(ctx, w, id)
}

// getLoggedModel: GET logged-models/{model_id}; deleted models only with
// allow_deleted=true.
func (h *Handler) getLoggedModel(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("model_id")
	m, err := h.modelFor(ctx, id, Read)
	if err != nil {
		return err
	}
	if m.LifecycleStage == stageDeleted && !strings.EqualFold(r.URL.Query().Get("allow_deleted"), "true") {
		return errModelNotFound(id)
	}
	return h.replyModel(ctx, w, id)
}

// finalizeLoggedModel: PATCH logged-models/{model_id} sets the model's
// status (READY once its files are uploaded, or UPLOAD_FAILED).
func (h *Handler) finalizeLoggedModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Status *ModelStatus `json:"status"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("model_id")
	if _, err := h.modelFor(ctx, id, Edit); err != nil {
		return err
	}
	if req.Status == nil {
		return invalidParam("missing value for required parameter 'status'")
	}
	if _, err := h.db.ExecContext(ctx, `UPDATE mlflow_logged_models SET status = $1, last_updated_timestamp = $2 WHERE id = $3`,
		string(*req.Status), meta.Now(), id); err != nil {
		return meta.Err(err)
	}
	return h.replyModel(ctx, w, id)
}

// deleteLoggedModel: DELETE logged-models/{model_id} marks the model
// deleted.
func (h *Handler) deleteLoggedModel(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("model_id")
	m, err := h.modelFor(ctx, id, Manage)
	if err != nil {
		return err
	}
	if _, err := h.db.ExecContext(ctx, `UPDATE mlflow_logged_models SET lifecycle_stage = $1, last_updated_timestamp = $2 WHERE id = $3`,
		stageDeleted, meta.Now(), id); err != nil {
		return meta.Err(err)
	}
	h.audit.Record(ctx, audit.Event{Action: "mlflow.logged_model.delete", Repository: h.space, Subject: id, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"experiment_id": itoa(m.ExperimentID)}})
	return reply(w, nil)
}

// setLoggedModelTags: PATCH logged-models/{model_id}/tags.
func (h *Handler) setLoggedModelTags(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tags []LoggedModelTag `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("model_id")
	if _, err := h.modelFor(ctx, id, Edit); err != nil {
		return err
	}
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		return writeModelTags(ctx, h.tx(tx), id, dedupeBy(req.Tags, modelTagKey))
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// deleteLoggedModelTag: DELETE logged-models/{model_id}/tags/{tag_key}.
func (h *Handler) deleteLoggedModelTag(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, key := r.PathValue("model_id"), r.PathValue("tag_key")
	if _, err := h.modelFor(ctx, id, Manage); err != nil {
		return err
	}
	res, err := h.db.ExecContext(ctx, `DELETE FROM mlflow_logged_model_tags WHERE model_id = $1 AND key = $2`, id, key)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notExist("no tag with key %q found for model with ID %q", key, id)
	}
	return reply(w, nil)
}

// logLoggedModelParams: POST logged-models/{model_id}/params.
func (h *Handler) logLoggedModelParams(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Params []LoggedModelParameter `json:"params"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("model_id")
	if _, err := h.modelFor(ctx, id, Edit); err != nil {
		return err
	}
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		return writeModelParams(ctx, h.tx(tx), id, dedupeBy(req.Params, modelParamKey))
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// searchLoggedModels: POST logged-models/search, in experiments the caller
// may read.
func (h *Handler) searchLoggedModels(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter        string   `json:"filter"`
		Datasets      []struct {
			DatasetName   string `json:"dataset_name"`
			DatasetDigest string `json:"dataset_digest"`
		} `json:"datasets"`
		MaxResults *Int64 `json:"max_results"`
		OrderBy    []struct {
			FieldName     string `json:"field_name"`
			Ascending     *Bool  `json:"ascending"`
			DatasetName   string `json:"dataset_name"`
			DatasetDigest string `json:"dataset_digest"`
		} `json:"order_by"`
		PageToken string `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.ExperimentIDs) == 0 {
		return invalidParam("missing value for required parameter 'experiment_ids'")
	}
	expIDs, err := parseExperimentIDs(req.ExperimentIDs)
	if err != nil {
		return err
	}
	limit, err := pageSize(req.MaxResults, defaultSearchModelsResults, maxSearchResults)
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
	sreq := search.LoggedModelsRequest{ExperimentIDs: vis.filter(expIDs), Filter: req.Filter, Offset: offset, Limit: limit + 1}
	for _, d := range req.Datasets {
		if d.DatasetName == "" {
			return invalidParam("`dataset_name` in the `datasets` clause must be specified")
		}
		sreq.Datasets = append(sreq.Datasets, search.LoggedModelDataset{DatasetName: d.DatasetName, DatasetDigest: d.DatasetDigest})
	}
	for _, o := range req.OrderBy {
		sreq.OrderBy = append(sreq.OrderBy, search.LoggedModelOrder{FieldName: o.FieldName, Ascending: o.Ascending == nil || bool(*o.Ascending),
			DatasetName: o.DatasetName, DatasetDigest: o.DatasetDigest})
	}
	q, err := search.LoggedModels(sreq)
	if err != nil {
		return err
	}
	var resp struct {
		Models        []LoggedModel `json:"models,omitempty"`
		NextPageToken string        `json:"next_page_token,omitempty"`
	}
	if len(sreq.ExperimentIDs) == 0 {
		return reply(w, resp)
	}
	var ids []string
	err = eachRow(ctx, h.db, q.SQL, q.Args, func(rs *sql.Rows) error {
		var id string
		err := rs.Scan(&id)
		ids = append(ids, id)
		return err
	})
	if err != nil {
		return err
	}
	if len(ids) > limit {
		ids = ids[:limit]
		resp.NextPageToken = search.EncodePageToken(offset + limit)
	}
	if resp.Models, err = loadModels(ctx, h.q(), ids); err != nil {
		return err
	}
	return reply(w, resp)
}
