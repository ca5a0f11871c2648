package ui

import (
	"context"
	"database/sql"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Read-only queries of the MLflow tables (internal/meta/migrations/*/
// 00006_mlflow.sql) for the experiment and run lists.

// mlflowTag is a key and value of a tag or param.
type mlflowTag struct {
	Key, Value string
}

// experimentRow is an experiment as the pages show it.
type experimentRow struct {
	ID               int64
	Name             string
	Stage            string
	ArtifactLocation string
	CreatedBy        string
	Created, Updated int64
	Runs             int64 // active runs
	LastRun          int64 // latest start time of an active run; 0 if none
	Description      string
	Tags             []mlflowTag // not mlflow.* (system tags)
}

// mlflowNoteTag holds the description of an experiment or a run.
const mlflowNoteTag = "mlflow.note.content"

// experimentsQuery selects the experiments a list page shows.
type experimentsQuery struct {
	Name          string // substring of the name, case-insensitive
	Stage         string // active | deleted | "" (both)
	ByName        bool   // order by name instead of most recently updated
	Limit, Offset int
}

func (h *Handler) listExperiments(ctx context.Context, v *mlflowViewer, q experimentsQuery) ([]experimentRow, error) {
	var a sqlArgs
	conds := []string{v.visible(&a, mlflowExperimentKind, "e.id")}
	if q.Stage != "" {
		conds = append(conds, "e.lifecycle_stage = "+a.add(q.Stage))
	}
	if q.Name != "" {
		conds = append(conds, `LOWER(e.name) LIKE `+a.add(likeContains(strings.ToLower(q.Name)))+` ESCAPE '\'`)
	}
	order := "e.last_update_time DESC, e.id DESC"
	if q.ByName {
		order = "LOWER(e.name), e.id"
	}
	rows, err := h.db.QueryContext(ctx, `SELECT e.id, e.name, e.lifecycle_stage, e.artifact_location, e.created_by,
			e.creation_time, e.last_update_time,
			(SELECT COUNT(*) FROM mlflow_runs r WHERE r.experiment_id = e.id AND r.lifecycle_stage = 'active'),
			(SELECT COALESCE(MAX(r.start_time), 0) FROM mlflow_runs r WHERE r.experiment_id = e.id AND r.lifecycle_stage = 'active')
		FROM mlflow_experiments e WHERE `+strings.Join(conds, " AND ")+` ORDER BY `+order+
		` LIMIT `+a.add(q.Limit)+` OFFSET `+a.add(q.Offset), a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []experimentRow
	for rows.Next() {
		var e experimentRow
		if err := rows.Scan(&e.ID, &e.Name, &e.Stage, &e.ArtifactLocation, &e.CreatedBy, &e.Created, &e.Updated, &e.Runs, &e.LastRun); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	return out, h.experimentTags(ctx, out)
}

// getExperiment reads one experiment with its tags; ok is false when there
// is none with that id.
func (h *Handler) getExperiment(ctx context.Context, id int64) (e experimentRow, ok bool, err error) {
	err = h.db.QueryRowContext(ctx, `SELECT e.id, e.name, e.lifecycle_stage, e.artifact_location, e.created_by,
			e.creation_time, e.last_update_time,
			(SELECT COUNT(*) FROM mlflow_runs r WHERE r.experiment_id = e.id AND r.lifecycle_stage = 'active'), 0
		FROM mlflow_experiments e WHERE e.id = $1`, id).
		Scan(&e.ID, &e.Name, &e.Stage, &e.ArtifactLocation, &e.CreatedBy, &e.Created, &e.Updated, &e.Runs, &e.LastRun)
	if err == sql.ErrNoRows {
		return e, false, nil
	}
	if err != nil {
		return e, false, meta.Err(err)
	}
	list := []experimentRow{e}
	if err := h.experimentTags(ctx, list); err != nil {
		return e, false, err
	}
	return list[0], true, nil
}

// experimentTags fills the tags and descriptions of es.
func (h *Handler) experimentTags(ctx context.Context, es []experimentRow) error {
	if len(es) == 0 {
		return nil
	}
	at := make(map[int64]int, len(es))
	ids := make([]int64, len(es))
	for i, e := range es {
		at[e.ID] = i
		ids[i] = e.ID
	}
	var a sqlArgs
	rows, err := h.db.QueryContext(ctx, `SELECT experiment_id, key, value FROM mlflow_experiment_tags
		WHERE experiment_id IN `+sqlList(&a, ids)+` ORDER BY experiment_id, key`, a.args...)
	if err != nil {
		return meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var t mlflowTag
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return meta.Err(err)
		}
		e := &es[at[id]]
		switch {
		case t.Key == mlflowNoteTag:
			e.Description = t.Value
		case !strings.HasPrefix(t.Key, "mlflow."):
			e.Tags = append(e.Tags, t)
		}
	}
	return meta.Err(rows.Err())
}

// runRow is a run in a runs table or on its own page.
type runRow struct {
	ID           int64 // internal
	UUID         string
	ExperimentID int64
	Name         string
	Status       string
	User         string
	Stage        string
	Start, End   int64 // 0 when unknown
	ArtifactURI  string
	// Metrics and Params hold the table's chosen columns.
	Metrics map[string]latestMetric
	Params  map[string]string
}

// latestMetric is a run's latest value of a metric.
type latestMetric struct {
	Value     float64
	NaN       bool
	Step      int64
	Timestamp int64
}

// runsByID reads the runs of ids, in that order (a search's page), with
// the latest values of metrics and the values of params.
func (h *Handler) runsByID(ctx context.Context, ids []int64, metrics, params []string) ([]runRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var a sqlArgs
	rows, err := h.db.QueryContext(ctx, `SELECT id, run_uuid, experiment_id, name, status, user_id, lifecycle_stage,
			COALESCE(start_time, 0), COALESCE(end_time, 0), artifact_uri
		FROM mlflow_runs WHERE id IN `+sqlList(&a, ids), a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	byID := make(map[int64]*runRow, len(ids))
	for rows.Next() {
		r := &runRow{Metrics: map[string]latestMetric{}, Params: map[string]string{}}
		if err := rows.Scan(&r.ID, &r.UUID, &r.ExperimentID, &r.Name, &r.Status, &r.User, &r.Stage, &r.Start, &r.End, &r.ArtifactURI); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		byID[r.ID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	if len(metrics) > 0 {
		a = sqlArgs{}
		rows, err := h.db.QueryContext(ctx, `SELECT run_id, key, value, is_nan, step, timestamp FROM mlflow_latest_metrics
			WHERE run_id IN `+sqlList(&a, ids)+` AND key IN `+sqlList(&a, metrics), a.args...)
		if err != nil {
			return nil, meta.Err(err)
		}
		for rows.Next() {
			var id int64
			var k string
			var m latestMetric
			var nan int64
			if err := rows.Scan(&id, &k, &m.Value, &nan, &m.Step, &m.Timestamp); err != nil {
				rows.Close()
				return nil, meta.Err(err)
			}
			m.Value, m.NaN = metricValue(m.Value, nan)
			if r := byID[id]; r != nil {
				r.Metrics[k] = m
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, meta.Err(err)
		}
	}
	if len(params) > 0 {
		a = sqlArgs{}
		rows, err := h.db.QueryContext(ctx, `SELECT run_id, key, value FROM mlflow_params
			WHERE run_id IN `+sqlList(&a, ids)+` AND key IN `+sqlList(&a, params), a.args...)
		if err != nil {
			return nil, meta.Err(err)
		}
		for rows.Next() {
			var id int64
			var t mlflowTag
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				rows.Close()
				return nil, meta.Err(err)
			}
			if r := byID[id]; r != nil {
				r.Params[t.Key] = t.Value
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, meta.Err(err)
		}
	}
	out := make([]runRow, 0, len(ids))
	for _, id := range ids {
		if r := byID[id]; r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// experimentKeys returns up to limit distinct metric keys (latest
// metrics) and param keys, by name, of an experiment's most recent active
// runs (keysOfRuns of them, so that an experiment of a million runs costs
// no more): the columns a runs table offers.
func (h *Handler) experimentKeys(ctx context.Context, experimentID int64, limit int) (metrics, params []string, err error) {
	read := func(table string) ([]string, error) {
		rows, err := h.db.QueryContext(ctx, `SELECT DISTINCT m.key FROM `+table+` m WHERE m.run_id IN
			(SELECT r.id FROM mlflow_runs r WHERE r.experiment_id = $1 AND r.lifecycle_stage = 'active'
			 ORDER BY r.start_time DESC LIMIT $2)
			ORDER BY m.key LIMIT $3`, experimentID, keysOfRuns, limit)
		if err != nil {
			return nil, meta.Err(err)
		}
		defer rows.Close()
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return nil, meta.Err(err)
			}
			keys = append(keys, k)
		}
		return keys, meta.Err(rows.Err())
	}
	if metrics, err = read("mlflow_latest_metrics"); err != nil {
		return nil, nil, err
	}
	params, err = read("mlflow_params")
	return metrics, params, err
}

// keysOfRuns is how many of an experiment's latest runs offer their keys
// as columns.
const keysOfRuns = 1000

// runIDs runs a query selecting mlflow_runs.id and returns the ids.
func (h *Handler) runIDs(ctx context.Context, query string, args []any) ([]int64, error) {
	rows, err := h.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, meta.Err(err)
		}
		ids = append(ids, id)
	}
	return ids, meta.Err(rows.Err())
}
