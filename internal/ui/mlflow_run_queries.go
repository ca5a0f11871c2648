package ui

import (
	"context"
	"database/sql"
	"math"

	"github.com/arcaproject/arca/internal/meta"
)

// Read-only queries of one run's data.

// getRun reads the run with public id uuid; ok is false when there is
// none.
func (h *Handler) getRun(ctx context.Context, uuid string) (r runRow, ok bool, err error) {
	err = h.db.QueryRowContext(ctx, `SELECT id, run_uuid, experiment_id, name, status, user_id, lifecycle_stage,
			COALESCE(start_time, 0), COALESCE(end_time, 0), artifact_uri
		FROM mlflow_runs WHERE run_uuid = $1`, uuid).
		Scan(&r.ID, &r.UUID, &r.ExperimentID, &r.Name, &r.Status, &r.User, &r.Stage, &r.Start, &r.End, &r.ArtifactURI)
	if err == sql.ErrNoRows {
		return r, false, nil
	}
	if err != nil {
		return r, false, meta.Err(err)
	}
	return r, true, nil
}

// keyValues reads (key, value) rows of a query, at most limit of them;
// more is true when there were more.
func (h *Handler) keyValues(ctx context.Context, limit int, query string, args ...any) (kv []mlflowTag, more bool, err error) {
	rows, err := h.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		if len(kv) == limit {
			return kv, true, nil
		}
		var t mlflowTag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, false, meta.Err(err)
		}
		kv = append(kv, t)
	}
	return kv, false, meta.Err(rows.Err())
}

// maxRunParams bounds the params and tags a run page lists.
const maxRunParams = 2000

func (h *Handler) runParams(ctx context.Context, runID int64) ([]mlflowTag, bool, error) {
	return h.keyValues(ctx, maxRunParams, `SELECT key, value FROM mlflow_params WHERE run_id = $1 ORDER BY key LIMIT $2`,
		runID, maxRunParams+1)
}

func (h *Handler) runTags(ctx context.Context, runID int64) ([]mlflowTag, bool, error) {
	return h.keyValues(ctx, maxRunParams, `SELECT key, value FROM mlflow_run_tags WHERE run_id = $1 ORDER BY key LIMIT $2`,
		runID, maxRunParams+1)
}

// namedMetric is a run's latest value of one metric.
type namedMetric struct {
	Key string
	latestMetric
}

// runMetrics reads the latest value of every metric of runs, by key.
func (h *Handler) runMetrics(ctx context.Context, runIDs []int64) (map[int64][]namedMetric, error) {
	out := map[int64][]namedMetric{}
	if len(runIDs) == 0 {
		return out, nil
	}
	var a sqlArgs
	rows, err := h.db.QueryContext(ctx, `SELECT run_id, key, value, is_nan, step, timestamp FROM mlflow_latest_metrics
		WHERE run_id IN `+sqlList(&a, runIDs)+` ORDER BY run_id, key`, a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, nan int64
		var m namedMetric
		if err := rows.Scan(&id, &m.Key, &m.Value, &nan, &m.Step, &m.Timestamp); err != nil {
			return nil, meta.Err(err)
		}
		m.Value, m.NaN = metricValue(m.Value, nan)
		out[id] = append(out[id], m)
	}
	return out, meta.Err(rows.Err())
}

// metricValue reads a stored metric value: NaN is stored as is_nan, and
// the infinities as the largest finite doubles (as MLflow stores them),
// which are read back as infinities.
func metricValue(v float64, isNaN int64) (float64, bool) {
	switch {
	case isNaN != 0:
		return 0, true
	case v == math.MaxFloat64:
		return math.Inf(1), false
	case v == -math.MaxFloat64:
		return math.Inf(-1), false
	}
	return v, false
}

// metricHistory is every logged point of one metric of one run, in order
// of step then time. NaN points have Y NaN (the chart skips them).
type metricHistory struct {
	Steps, Times []int64
	Values       []float64
}

func (h *Handler) metricHistory(ctx context.Context, runID int64, key string) (metricHistory, error) {
	var m metricHistory
	rows, err := h.db.QueryContext(ctx, `SELECT step, timestamp, value, is_nan FROM mlflow_metrics
		WHERE run_id = $1 AND key = $2 ORDER BY step, timestamp`, runID, key)
	if err != nil {
		return m, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var step, ts, nan int64
		var v float64
		if err := rows.Scan(&step, &ts, &v, &nan); err != nil {
			return m, meta.Err(err)
		}
		if v, _ = metricValue(v, nan); nan != 0 {
			v = math.NaN()
		}
		m.Steps = append(m.Steps, step)
		m.Times = append(m.Times, ts)
		m.Values = append(m.Values, v)
	}
	return m, meta.Err(rows.Err())
}

// sameStep reports whether the history has several points, all at one
// step (a metric logged without steps).
func (m metricHistory) sameStep() bool {
	return len(m.Steps) > 1 && m.Steps[0] == m.Steps[len(m.Steps)-1]
}

// series turns a history into chart points: x is the step, or with
// byTime the seconds since the first point.
func (m metricHistory) series(name string, byTime bool) ChartSeries {
	s := ChartSeries{Name: name, X: make([]float64, len(m.Steps)), Y: m.Values}
	for i := range m.Steps {
		if byTime {
			s.X[i] = float64(m.Times[i]-m.Times[0]) / 1000
		} else {
			s.X[i] = float64(m.Steps[i])
		}
	}
	return s
}

// xLabel names the x axis of series(byTime).
func xLabel(byTime bool) string {
	if byTime {
		return "seconds"
	}
	return "step"
}

// datasetRow is a dataset a run used.
type datasetRow struct {
	Name, Digest, SourceType, Source, Context string
}

func (h *Handler) runDatasets(ctx context.Context, runID int64) ([]datasetRow, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT d.name, d.digest, d.source_type, d.source, i.context
		FROM mlflow_run_inputs i JOIN mlflow_datasets d ON d.id = i.dataset_id
		WHERE i.run_id = $1 ORDER BY d.name, d.digest LIMIT 500`, runID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []datasetRow
	for rows.Next() {
		var d datasetRow
		if err := rows.Scan(&d.Name, &d.Digest, &d.SourceType, &d.Source, &d.Context); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, d)
	}
	return out, meta.Err(rows.Err())
}

// loggedModelRow is an MLflow 3 logged model a run produced or used.
type loggedModelRow struct {
	ID, Name, Status, Type, ArtifactLocation string
	Direction                                string // output | input
	Created                                  int64
}

// runLoggedModels lists the logged models of a run: those it produced
// (source run, or an output link) and those it used (input link).
func (h *Handler) runLoggedModels(ctx context.Context, run runRow) ([]loggedModelRow, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT m.id, m.name, m.status, m.model_type, m.artifact_location, m.creation_timestamp,
			COALESCE((SELECT MIN(rm.direction) FROM mlflow_run_models rm WHERE rm.run_id = $1 AND rm.model_id = m.id), 'output')
		FROM mlflow_logged_models m
		WHERE m.lifecycle_stage = 'active' AND (m.source_run_id = $2
			OR m.id IN (SELECT rm.model_id FROM mlflow_run_models rm WHERE rm.run_id = $1))
		ORDER BY m.creation_timestamp DESC, m.id LIMIT 200`, run.ID, run.UUID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []loggedModelRow
	for rows.Next() {
		var m loggedModelRow
		if err := rows.Scan(&m.ID, &m.Name, &m.Status, &m.Type, &m.ArtifactLocation, &m.Created, &m.Direction); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, m)
	}
	return out, meta.Err(rows.Err())
}

// runLoggedModel returns one logged model of a run (see runLoggedModels).
func (h *Handler) runLoggedModel(ctx context.Context, run runRow, modelID string) (loggedModelRow, bool, error) {
	ms, err := h.runLoggedModels(ctx, run)
	if err != nil {
		return loggedModelRow{}, false, err
	}
	for _, m := range ms {
		if m.ID == modelID {
			return m, true, nil
		}
	}
	return loggedModelRow{}, false, nil
}

// versionLink is a registered model version that came from a run.
type versionLink struct {
	Model   string
	Version int64
	Stage   string
	Status  string
	Aliases []string
}

// runVersions lists the registered model versions made from a run (its
// run id, or one of its logged models) that the viewer may see.
func (h *Handler) runVersions(ctx context.Context, v *mlflowViewer, run runRow) ([]versionLink, error) {
	var a sqlArgs
	uuid := a.add(run.UUID)
	rows, err := h.db.QueryContext(ctx, `SELECT rm.id, rm.name, mv.version, mv.current_stage, mv.status
		FROM mlflow_model_versions mv JOIN mlflow_registered_models rm ON rm.id = mv.model_id
		WHERE mv.deleted = 0 AND (mv.run_id = `+uuid+` OR (mv.logged_model_id <> '' AND mv.logged_model_id IN
			(SELECT lm.id FROM mlflow_logged_models lm WHERE lm.source_run_id = `+uuid+`)))
		AND `+v.visible(&a, mlflowModelKind, "rm.id")+`
		ORDER BY rm.name, mv.version DESC LIMIT 200`, a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	var out []versionLink
	var modelIDs []int64
	type mv struct {
		model   int64
		version int64
	}
	at := map[mv]int{}
	for rows.Next() {
		var l versionLink
		var id int64
		if err := rows.Scan(&id, &l.Model, &l.Version, &l.Stage, &l.Status); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		if len(modelIDs) == 0 || modelIDs[len(modelIDs)-1] != id {
			modelIDs = append(modelIDs, id)
		}
		at[mv{id, l.Version}] = len(out)
		out = append(out, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, meta.Err(err)
	}
	a = sqlArgs{}
	rows, err = h.db.QueryContext(ctx, `SELECT model_id, version, alias FROM mlflow_model_aliases
		WHERE model_id IN `+sqlList(&a, modelIDs)+` ORDER BY alias`, a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k mv
		var alias string
		if err := rows.Scan(&k.model, &k.version, &alias); err != nil {
			return nil, meta.Err(err)
		}
		if i, ok := at[k]; ok {
			out[i].Aliases = append(out[i].Aliases, alias)
		}
	}
	return out, meta.Err(rows.Err())
}
