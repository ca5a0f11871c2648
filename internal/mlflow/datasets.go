package mlflow

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// Evaluation datasets (MLflow 3's mlflow.genai.datasets, the /api/3.0
// datasets endpoints): a named set of records, linked to experiments.
// They follow their experiments' permissions as MLflow's auth app does: a
// caller needs the permission on every experiment a dataset is linked to
// (READ to read, EDIT to change, MANAGE to delete); a dataset linked to no
// experiment takes the caller's permission on the space. Records are in
// dataset_records.go.

// evalDataset is the Dataset message (datasets.proto): tags, schema and
// profile are JSON text, times Unix milliseconds.
type evalDataset struct {
	DatasetID      string   `json:"dataset_id"`
	Name           string   `json:"name"`
	Tags           string   `json:"tags,omitempty"`
	Schema         string   `json:"schema,omitempty"`
	Profile        string   `json:"profile,omitempty"`
	Digest         string   `json:"digest"`
	CreatedTime    int64    `json:"created_time"`
	LastUpdateTime int64    `json:"last_update_time"`
	CreatedBy      string   `json:"created_by,omitempty"`
	LastUpdatedBy  string   `json:"last_updated_by,omitempty"`
	ExperimentIDs  []string `json:"experiment_ids,omitempty"`
}

type datasetReply struct {
	Dataset *evalDataset `json:"dataset"`
}

// mlflowUserTag names who made a dataset or record, as MLflow reads it.
const mlflowUserTag = "mlflow.user"

// datasetDigest is MLflow's: the first 8 hex digits of sha256 of
// "<name>:<last_update_time>".
func datasetDigest(name string, updated int64) string {
	sum := sha256.Sum256([]byte(name + ":" + strconv.FormatInt(updated, 10)))
	return hex.EncodeToString(sum[:])[:8]
}

func datasetNotFound(id string) error {
	return notExist("Evaluation dataset with id '%s' not found", id)
}

// parseTagsJSON reads the tags of CreateDataset and SetDatasetTags: a
// JSON object as text; values that are not strings are kept as their
// JSON text, null values are left out.
func parseTagsJSON(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, invalidParam("Invalid value for parameter 'tags': want a JSON object as text")
	}
	tags := make(map[string]string, len(raw))
	for k, v := range raw {
		if !present(v) {
			continue
		}
		var str string
		if json.Unmarshal(v, &str) != nil {
			str = string(v)
		}
		tags[k] = str
	}
	return tags, nil
}

// datasetExperiments returns the experiments a dataset is linked to, or
// RESOURCE_DOES_NOT_EXIST.
func datasetExperiments(ctx context.Context, q meta.Querier, id string) ([]int64, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM mlflow_eval_datasets WHERE dataset_id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, datasetNotFound(id)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	rows, err := q.QueryContext(ctx, `SELECT experiment_id FROM mlflow_eval_dataset_experiments WHERE dataset_id = $1 ORDER BY experiment_id`, id)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var e int64
		if err := rows.Scan(&e); err != nil {
			return nil, meta.Err(err)
		}
		ids = append(ids, e)
	}
	return ids, meta.Err(rows.Err())
}

// requireDataset checks the caller's permission on a dataset: need on
// every experiment it is linked to, or on the space when there is none.
func (h *Handler) requireDataset(ctx context.Context, id string, need Permission) error {
	exps, err := datasetExperiments(ctx, h.db, id)
	if err != nil {
		return err
	}
	if len(exps) == 0 {
		return h.require(ctx, "", 0, need)
	}
	for _, e := range exps {
		if err := h.requireExperiment(ctx, e, need); err != nil {
			return err
		}
	}
	return nil
}

// requireExperiments checks need on each listed experiment, which must
// exist; an empty list needs it on the space.
func (h *Handler) requireExperiments(ctx context.Context, ids []int64, need Permission) error {
	if len(ids) == 0 {
		return h.require(ctx, "", 0, need)
	}
	for _, id := range ids {
		if _, err := experimentByID(ctx, h.db, id); err != nil {
			return err
		}
		if err := h.requireExperiment(ctx, id, need); err != nil {
			return err
		}
	}
	return nil
}

// loadDataset returns a dataset's message with its tags and experiments.
func loadDataset(ctx context.Context, q meta.Querier, id string) (*evalDataset, error) {
	d := &evalDataset{}
	err := q.QueryRowContext(ctx, `SELECT dataset_id, name, digest, data_schema, profile, created_time, last_update_time, created_by, last_updated_by
		FROM mlflow_eval_datasets WHERE dataset_id = $1`, id).Scan(&d.DatasetID, &d.Name, &d.Digest, &d.Schema, &d.Profile,
		&d.CreatedTime, &d.LastUpdateTime, &d.CreatedBy, &d.LastUpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, datasetNotFound(id)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM mlflow_eval_dataset_tags WHERE dataset_id = $1`, id)
	if err != nil {
		return nil, meta.Err(err)
	}
	tags := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		tags[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	b, _ := json.Marshal(tags) // sorted keys
	d.Tags = string(b)
	exps, err := datasetExperiments(ctx, q, id)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		d.ExperimentIDs = append(d.ExperimentIDs, strconv.FormatInt(e, 10))
	}
	return d, nil
}

// createDataset is CreateDataset (POST datasets/create).
func (h *Handler) createDataset(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Name          *string  `json:"name"`
		ExperimentIDs []string `json:"experiment_ids"`
		Tags          string   `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name == nil || *req.Name == "" {
		return invalidParam("Missing value for required parameter 'name'.")
	}
	tags, err := parseTagsJSON(req.Tags)
	if err != nil {
		return err
	}
	exps, err := parseExperimentIDs(req.ExperimentIDs)
	if err != nil {
		return err
	}
	if err := h.requireExperiments(ctx, exps, Edit); err != nil {
		return err
	}
	id := "d-" + randomHex(16)
	now := meta.Now()
	by := tags[mlflowUserTag]
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_eval_datasets (dataset_id, name, digest, created_time, last_update_time, created_by, last_updated_by)
			VALUES ($1, $2, $3, $4, $4, $5, $5)`, id, *req.Name, datasetDigest(*req.Name, now), now, by); err != nil {
			return meta.Err(err)
		}
		if err := setDatasetTags(ctx, tx, id, tags); err != nil {
			return err
		}
		return linkDataset(ctx, tx, id, exps)
	})
	if err != nil {
		return err
	}
	d, err := loadDataset(ctx, h.db, id)
	if err != nil {
		return err
	}
	return reply(w, datasetReply{d})
}

func setDatasetTags(ctx context.Context, tx *sql.Tx, id string, tags map[string]string) error {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys) // one lock order for concurrent writers
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_eval_dataset_tags (dataset_id, key, value) VALUES ($1, $2, $3)
			ON CONFLICT (dataset_id, key) DO UPDATE SET value = excluded.value`, id, k, tags[k]); err != nil {
			return meta.Err(err)
		}
	}
	return nil
}

func linkDataset(ctx context.Context, tx *sql.Tx, id string, exps []int64) error {
	for _, e := range exps {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_eval_dataset_experiments (dataset_id, experiment_id) VALUES ($1, $2)
			ON CONFLICT DO NOTHING`, id, e); err != nil {
			return meta.Err(err)
		}
	}
	return nil
}

// getDataset is GetDataset (GET datasets/<id>).
func (h *Handler) getDataset(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Read); err != nil {
		return err
	}
	d, err := loadDataset(ctx, h.db, id)
	if err != nil {
		return err
	}
	return reply(w, datasetReply{d})
}

// deleteDataset is DeleteDataset: the dataset and its records; deleting
// one that does not exist succeeds, as in MLflow.
func (h *Handler) deleteDataset(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("dataset_id")
	err := h.requireDataset(ctx, id, Manage)
	if isNotFound(err) {
		return reply(w, nil)
	}
	if err != nil {
		return err
	}
	if _, err := h.db.ExecContext(ctx, `DELETE FROM mlflow_eval_datasets WHERE dataset_id = $1`, id); err != nil {
		return meta.Err(err)
	}
	return reply(w, nil)
}

// searchDatasets is SearchEvaluationDatasets (POST datasets/search): the
// datasets of the listed experiments, which the caller must read, or of
// any experiment, leaving out what the caller may not read.
func (h *Handler) searchDatasets(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
		FilterString  string   `json:"filter_string"`
		MaxResults    *Int64   `json:"max_results"`
		OrderBy       []string `json:"order_by"`
		PageToken     string   `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	limit, err := registryPageSize(req.MaxResults, 1000, 50000)
	if err != nil {
		return err
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	exps, err := parseExperimentIDs(req.ExperimentIDs)
	if err != nil {
		return err
	}
	for _, e := range exps {
		if err := h.requireExperiment(ctx, e, Read); err != nil {
			return err
		}
	}
	if len(exps) == 0 {
		exps = nil
	}
	fetch := func(offset, limit int) ([]string, error) {
		q, err := search.EvaluationDatasets(search.EvaluationDatasetsRequest{ExperimentIDs: exps, Filter: req.FilterString,
			OrderBy: req.OrderBy, Offset: offset, Limit: limit})
		if err != nil {
			return nil, err
		}
		return queryStrings(ctx, h.db, q)
	}
	readable := func(ids []string) ([]bool, error) {
		ok := make([]bool, len(ids))
		for i, id := range ids {
			err := h.requireDataset(ctx, id, Read)
			switch {
			case err == nil:
				ok[i] = true
			case isRefusal(err) || isNotFound(err):
			default:
				return nil, err
			}
		}
		return ok, nil
	}
	ids, end, more, err := readablePage(offset, limit, fetch, readable)
	if err != nil {
		return err
	}
	out := struct {
		Datasets      []*evalDataset `json:"datasets"`
		NextPageToken string         `json:"next_page_token,omitempty"`
	}{Datasets: []*evalDataset{}, NextPageToken: nextPageToken(end, more)}
	for _, id := range ids {
		d, err := loadDataset(ctx, h.db, id)
		if isNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		out.Datasets = append(out.Datasets, d)
	}
	return reply(w, out)
}

// setDatasetTagsHandler is SetDatasetTags (PATCH datasets/<id>/tags):
// the tags merge into the dataset's.
func (h *Handler) setDatasetTagsHandler(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Tags *string `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Edit); err != nil {
		return err
	}
	if req.Tags == nil {
		return invalidParam("Missing value for required parameter 'tags'.")
	}
	tags, err := parseTagsJSON(*req.Tags)
	if err != nil {
		return err
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error { return setDatasetTags(ctx, tx, id, tags) })
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// deleteDatasetTag is DeleteDatasetTag; a tag or dataset that is not
// there is no error, as in MLflow.
func (h *Handler) deleteDatasetTag(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("dataset_id")
	err := h.requireDataset(ctx, id, Edit)
	if isNotFound(err) {
		return reply(w, nil)
	}
	if err != nil {
		return err
	}
	if _, err := h.db.ExecContext(ctx, `DELETE FROM mlflow_eval_dataset_tags WHERE dataset_id = $1 AND key = $2`, id, r.PathValue("key")); err != nil {
		return meta.Err(err)
	}
	return reply(w, nil)
}

// getDatasetExperimentIDs is GetDatasetExperimentIds.
func (h *Handler) getDatasetExperimentIDs(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Read); err != nil {
		return err
	}
	exps, err := datasetExperiments(ctx, h.db, id)
	if err != nil {
		return err
	}
	out := struct {
		ExperimentIDs []string `json:"experiment_ids"`
	}{ExperimentIDs: []string{}}
	for _, e := range exps {
		out.ExperimentIDs = append(out.ExperimentIDs, strconv.FormatInt(e, 10))
	}
	return reply(w, out)
}

// addDatasetToExperiments is AddDatasetToExperiments: EDIT on the dataset
// and on every experiment added.
func (h *Handler) addDatasetToExperiments(w http.ResponseWriter, r *http.Request) error {
	return h.relinkDataset(w, r, true)
}

// removeDatasetFromExperiments is RemoveDatasetFromExperiments.
func (h *Handler) removeDatasetFromExperiments(w http.ResponseWriter, r *http.Request) error {
	return h.relinkDataset(w, r, false)
}

func (h *Handler) relinkDataset(w http.ResponseWriter, r *http.Request, add bool) error {
	ctx := r.Context()
	var req struct {
		ExperimentIDs []string `json:"experiment_ids"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	exps, err := parseExperimentIDs(req.ExperimentIDs)
	if err != nil {
		return err
	}
	if len(exps) == 0 {
		return invalidParam("Missing value for required parameter 'experiment_ids'.")
	}
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Edit); err != nil {
		return err
	}
	if add {
		if err := h.requireExperiments(ctx, exps, Edit); err != nil {
			return err
		}
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if add {
			return linkDataset(ctx, tx, id, exps)
		}
		for _, e := range exps {
			if _, err := tx.ExecContext(ctx, `DELETE FROM mlflow_eval_dataset_experiments WHERE dataset_id = $1 AND experiment_id = $2`, id, e); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d, err := loadDataset(ctx, h.db, id)
	if err != nil {
		return err
	}
	return reply(w, datasetReply{d})
}

func isNotFound(err error) bool { return err != nil && errs.Is(err, errs.NotFound) }

// isRefusal reports whether err refuses the caller (403 or 401).
func isRefusal(err error) bool {
	return err != nil && (errs.Is(err, errs.Denied) || errs.Is(err, errs.Unauthenticated))
}

// queryStrings runs a query that selects one text column.
func queryStrings(ctx context.Context, q meta.Querier, query search.Query) ([]string, error) {
	rows, err := q.QueryContext(ctx, query.SQL, query.Args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, s)
	}
	return out, meta.Err(rows.Err())
}
