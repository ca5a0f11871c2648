package mlflow

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/arcaproject/arca/internal/meta"
)

// Every logging endpoint needs EDIT on the run's experiment, refuses runs
// that are not active, validates the whole request before writing, and
// writes in one transaction: a refused request writes nothing.

// writableRun looks up the run a logging request names and checks that
// the caller may edit it, and may edit every logged model its metrics or
// inputs name.
func (h *Handler) writableRun(ctx context.Context, runID, runUUID string, modelIDs []string) (*runRow, error) {
	run, err := h.runFor(ctx, runID, runUUID, Edit)
	if err != nil {
		return nil, err
	}
	if len(modelIDs) > 0 {
		exps, err := modelExperiments(ctx, h.q(), modelIDs)
		if err != nil {
			return nil, err
		}
		for _, exp := range exps {
			if exp != run.ExperimentID {
				if err := h.requireExperiment(ctx, exp, Edit); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := run.mustBeActive(); err != nil {
		return nil, err
	}
	return run, nil
}

// logTx runs fn in a transaction after checking that run is still active.
// Logging is the hot small write of a training loop, so on SQLite it is
// group-committed with other writers' (meta.DB.WithBatchTx): fn must touch
// the database only through tx.
func (h *Handler) logTx(ctx context.Context, run *runRow, fn func(tx *sql.Tx) error) error {
	return h.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if err := stillActive(ctx, tx, run); err != nil {
			return err
		}
		return fn(tx)
	})
}

// metricModels lists the distinct logged models that metrics name.
func metricModels(ms []metricIn) []string {
	seen := map[string]bool{}
	var ids []string
	for _, m := range ms {
		if m.ModelID != "" && !seen[m.ModelID] {
			seen[m.ModelID] = true
			ids = append(ids, m.ModelID)
		}
	}
	return ids
}

// logMetric: POST runs/log-metric.
func (h *Handler) logMetric(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		metricIn
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.writableRun(ctx, req.RunID, req.RunUUID, metricModels([]metricIn{req.metricIn}))
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	if err := validateMetric("", &req.metricIn); err != nil {
		return err
	}
	err = h.logTx(ctx, run, func(tx *sql.Tx) error {
		return writeMetrics(ctx, h.tx(tx), run.ID, pointsOf([]metricIn{req.metricIn}))
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// logParam: POST runs/log-parameter.
func (h *Handler) logParam(w http.ResponseWriter, r *http.Request) error {
	return h.logKeyValue(w, r, validateParam, func(ctx context.Context, q dbq, run *runRow, key, value string) error {
		return writeParams(ctx, q, run, []Param{{Key: key, Value: value}})
	})
}

// setTag: POST runs/set-tag. Setting mlflow.runName renames the run.
func (h *Handler) setTag(w http.ResponseWriter, r *http.Request) error {
	return h.logKeyValue(w, r, validateTag, func(ctx context.Context, q dbq, run *runRow, key, value string) error {
		return insertRunTags(ctx, q, run.ID, []RunTag{{Key: key, Value: value}})
	})
}

// logKeyValue serves the calls that log one key and value to an active
// run: it validates the pair (validate may cut the value, as MLflow does)
// and writes it in the run's logging transaction.
func (h *Handler) logKeyValue(w http.ResponseWriter, r *http.Request,
	validate func(prefix, key, value string) (string, error),
	write func(ctx context.Context, q dbq, run *runRow, key, value string) error) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.writableRun(ctx, req.RunID, req.RunUUID, nil)
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	value, err := validate("", req.Key, req.Value)
	if err != nil {
		return err
	}
	err = h.logTx(ctx, run, func(tx *sql.Tx) error { return write(ctx, h.tx(tx), run, req.Key, value) })
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// deleteTag: POST runs/delete-tag.
func (h *Handler) deleteTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID string `json:"run_id"`
		Key   string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.writableRun(ctx, req.RunID, "", nil)
	if err != nil {
		return err
	}
	if err := required("key", req.Key); err != nil {
		return err
	}
	err = h.logTx(ctx, run, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM mlflow_run_tags WHERE run_id = $1 AND key = $2`, run.ID, req.Key)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notExist("no tag with name: %s in run with id %s", req.Key, run.UUID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// logBatch: POST runs/log-batch: up to 1000 metrics, 100 params and 100
// tags (1000 in all), written in one transaction with multi-row inserts.
func (h *Handler) logBatch(w http.ResponseWriter, r *http.Request) error {
	var req batchRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := required("run_id", req.RunID); err != nil {
		return err
	}
	if !validRunID(req.RunID) {
		return invalidParam("invalid value %q for parameter 'run_id'", req.RunID)
	}
	ctx := r.Context()
	run, err := h.writableRun(ctx, req.RunID, "", metricModels(req.Metrics))
	if err != nil {
		return err
	}
	params, tags, err := req.validate()
	if err != nil {
		return err
	}
	pts := pointsOf(req.Metrics)
	err = h.logTx(ctx, run, func(tx *sql.Tx) error {
		if err := writeParams(ctx, h.tx(tx), run, params); err != nil {
			return err
		}
		if err := writeMetrics(ctx, h.tx(tx), run.ID, pts); err != nil {
			return err
		}
		return insertRunTags(ctx, h.tx(tx), run.ID, tags)
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// batchRequest is a log-batch message.
type batchRequest struct {
	RunID   string     `json:"run_id"`
	Metrics []metricIn `json:"metrics"`
	Params  []Param    `json:"params"`
	Tags    []RunTag   `json:"tags"`
}

// validate checks a batch against MLflow's limits and rules and returns
// its params and tags as they are to be stored (values truncated, tags
// deduplicated with the last value winning).
func (b *batchRequest) validate() ([]Param, []RunTag, error) {
	if err := batchLimit("metrics", maxMetricsPerBatch, len(b.Metrics)); err != nil {
		return nil, nil, err
	}
	if err := batchLimit("params", maxParamsTagsPerBatch, len(b.Params)); err != nil {
		return nil, nil, err
	}
	if err := batchLimit("tags", maxParamsTagsPerBatch, len(b.Tags)); err != nil {
		return nil, nil, err
	}
	if err := batchLimit("metrics, params, and tags", maxEntitiesPerBatch, len(b.Metrics)+len(b.Params)+len(b.Tags)); err != nil {
		return nil, nil, err
	}
	for i := range b.Metrics {
		prefix := "metrics[" + itoa(int64(i)) + "]"
		if err := required(prefix+".key", b.Metrics[i].Key); err != nil {
			return nil, nil, err
		}
		if err := validateMetric(prefix, &b.Metrics[i]); err != nil {
			return nil, nil, err
		}
	}
	params := make([]Param, len(b.Params))
	seen := make(map[string]bool, len(b.Params))
	var dupes []string
	for i, p := range b.Params {
		prefix := "params[" + itoa(int64(i)) + "]"
		if err := required(prefix+".key", p.Key); err != nil {
			return nil, nil, err
		}
		v, err := validateParam(prefix, p.Key, p.Value)
		if err != nil {
			return nil, nil, err
		}
		params[i] = Param{Key: p.Key, Value: v}
		if seen[p.Key] {
			dupes = append(dupes, p.Key)
		}
		seen[p.Key] = true
	}
	if len(dupes) > 0 {
		return nil, nil, invalidParam("duplicate parameter keys were submitted: %q; send one value per param key", dupes)
	}
	tags := make([]RunTag, len(b.Tags))
	for i, t := range b.Tags {
		prefix := "tags[" + itoa(int64(i)) + "]"
		if err := required(prefix+".key", t.Key); err != nil {
			return nil, nil, err
		}
		v, err := validateTag(prefix, t.Key, t.Value)
		if err != nil {
			return nil, nil, err
		}
		tags[i] = RunTag{Key: t.Key, Value: v}
	}
	return params, dedupeRunTags(tags), nil
}
