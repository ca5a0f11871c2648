package mlflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// runRow is one row of mlflow_runs.
type runRow struct {
	ID             int64
	UUID           string
	ExperimentID   int64
	Name           string
	UserID         string
	Status         string
	StartTime      sql.NullInt64
	EndTime        sql.NullInt64
	LifecycleStage string
	ArtifactURI    string
}

const runColumns = `id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri`

func scanRun(row interface{ Scan(...any) error }) (*runRow, error) {
	var r runRow
	err := row.Scan(&r.ID, &r.UUID, &r.ExperimentID, &r.Name, &r.UserID, &r.Status, &r.StartTime, &r.EndTime,
		&r.LifecycleStage, &r.ArtifactURI)
	return &r, err
}

// runByUUID returns a run by the id clients know it by, or
// RESOURCE_DOES_NOT_EXIST.
func runByUUID(ctx context.Context, q meta.Querier, uuid string) (*runRow, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM mlflow_runs WHERE run_uuid = $1`, uuid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("run with id=%s not found", uuid)
	}
	return r, meta.Err(err)
}

// mustBeActive refuses to change a deleted run, as MLflow does (with
// INVALID_PARAMETER_VALUE).
func (r *runRow) mustBeActive() error {
	if r.LifecycleStage != stageActive {
		return invalidParam("the run %s must be in the 'active' state; it is %s", r.UUID, r.LifecycleStage)
	}
	return nil
}

// stillActive re-reads a run's stage inside the transaction that writes to
// it, so that a run deleted meanwhile refuses the write.
func stillActive(ctx context.Context, tx *sql.Tx, r *runRow) error {
	err := tx.QueryRowContext(ctx, `SELECT lifecycle_stage FROM mlflow_runs WHERE id = $1`, r.ID).Scan(&r.LifecycleStage)
	if errors.Is(err, sql.ErrNoRows) {
		return notExist("run with id=%s not found", r.UUID)
	}
	if err != nil {
		return meta.Err(err)
	}
	return r.mustBeActive()
}

func (r *runRow) info() RunInfo {
	return RunInfo{RunUUID: r.UUID, RunID: r.UUID, ExperimentID: itoa(r.ExperimentID), RunName: r.Name, UserID: r.UserID,
		Status: r.Status, StartTime: Int64(r.StartTime.Int64), EndTime: Int64(r.EndTime.Int64),
		ArtifactURI: r.ArtifactURI, LifecycleStage: r.LifecycleStage}
}

// metricValue is what a stored point reads as: NaN where is_nan is set.
func metricValue(v float64, isNaN bool) Float {
	if isNaN {
		return Float(math.NaN())
	}
	return Float(v)
}

// loadRuns returns the runs with the given internal ids, in that order,
// each with its latest metrics, params, tags, inputs and outputs: one
// query per table for the whole list, never one per run.
func loadRuns(ctx context.Context, q dbq, ids []int64) ([]Run, error) {
	runs := make(map[int64]*Run, len(ids))
	err := chunks(ids, func(part []int64) error {
		list, args := q.inList(1, len(part)), int64Args(part)
		err := eachRow(ctx, q, `SELECT `+runColumns+` FROM mlflow_runs WHERE id IN (`+list+`)`, args, func(rs *sql.Rows) error {
			r, err := scanRun(rs)
			if err == nil {
				runs[r.ID] = &Run{Info: r.info(), Outputs: &RunOutputs{}}
			}
			return err
		})
		if err != nil {
			return err
		}
		err = eachRow(ctx, q, `SELECT run_id, key, step, timestamp, value, is_nan FROM mlflow_latest_metrics
			WHERE run_id IN (`+list+`) ORDER BY run_id, key`, args, func(rs *sql.Rows) error {
			var id int64
			var m Metric
			var v float64
			var isNaN bool
			if err := rs.Scan(&id, &m.Key, &m.Step, &m.Timestamp, &v, &isNaN); err != nil {
				return err
			}
			m.Value = metricValue(v, isNaN)
			if run := runs[id]; run != nil {
				run.Data.Metrics = append(run.Data.Metrics, m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, table := range []string{"mlflow_params", "mlflow_run_tags"} {
			params := table == "mlflow_params"
			err = eachRow(ctx, q, `SELECT run_id, key, value FROM `+table+` WHERE run_id IN (`+list+`) ORDER BY run_id, key`, args,
				func(rs *sql.Rows) error {
					var id int64
					var k, v string
					if err := rs.Scan(&id, &k, &v); err != nil {
						return err
					}
					if run := runs[id]; run != nil && params {
						run.Data.Params = append(run.Data.Params, Param{Key: k, Value: v})
					} else if run != nil {
						run.Data.Tags = append(run.Data.Tags, RunTag{Key: k, Value: v})
					}
					return nil
				})
			if err != nil {
				return err
			}
		}
		err = eachRow(ctx, q, `SELECT i.run_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, i.tags
			FROM mlflow_run_inputs i JOIN mlflow_datasets d ON d.id = i.dataset_id
			WHERE i.run_id IN (`+list+`) ORDER BY i.run_id, d.id`, args, func(rs *sql.Rows) error {
			var id int64
			var in DatasetInput
			var tags string
			d := &in.Dataset
			if err := rs.Scan(&id, &d.Name, &d.Digest, &d.SourceType, &d.Source, &d.Schema, &d.Profile, &tags); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(tags), &in.Tags); err != nil {
				return err
			}
			if run := runs[id]; run != nil {
				run.Inputs.DatasetInputs = append(run.Inputs.DatasetInputs, in)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return eachRow(ctx, q, `SELECT run_id, model_id, direction, step FROM mlflow_run_models
			WHERE run_id IN (`+list+`) ORDER BY run_id, direction, model_id`, args, func(rs *sql.Rows) error {
			var id, step int64
			var model, dir string
			if err := rs.Scan(&id, &model, &dir, &step); err != nil {
				return err
			}
			run := runs[id]
			switch {
			case run == nil:
			case dir == directionInput:
				run.Inputs.ModelInputs = append(run.Inputs.ModelInputs, ModelInput{ModelID: model})
			default:
				run.Outputs.ModelOutputs = append(run.Outputs.ModelOutputs, ModelOutput{ModelID: model, Step: Int64(step)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Run, 0, len(ids))
	for _, id := range ids {
		if r, ok := runs[id]; ok {
			out = append(out, *r)
		}
	}
	return out, nil
}

// Directions of mlflow_run_models.
const (
	directionInput  = "input"
	directionOutput = "output"
)

// eachRow runs a query and calls fn for each row.
func eachRow(ctx context.Context, q meta.Querier, query string, args []any, fn func(rs *sql.Rows) error) error {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return meta.Err(err)
	}
	for rs.Next() {
		if err := fn(rs); err != nil {
			rs.Close()
			return meta.Err(err)
		}
	}
	return closeRows(rs)
}

// insertRunTags upserts tags of a run (keys unique), keeping the run's name
// in step with the mlflow.runName tag.
func insertRunTags(ctx context.Context, tx dbq, runID int64, tags []RunTag) error {
	if len(tags) == 0 {
		return nil
	}
	tags = slices.Clone(tags)
	slices.SortFunc(tags, func(a, b RunTag) int { return strings.Compare(a.Key, b.Key) }) // one lock order
	err := tx.insertRows(ctx, `INSERT INTO mlflow_run_tags (run_id, key, value) VALUES`,
		`ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value`, 3, len(tags),
		func(i int, args []any) []any { return append(args, runID, tags[i].Key, tags[i].Value) })
	if err != nil {
		return err
	}
	for _, t := range tags {
		if t.Key == tagRunName {
			if _, err := tx.ExecContext(ctx, `UPDATE mlflow_runs SET name = $1 WHERE id = $2`, t.Value, runID); err != nil {
				return meta.Err(err)
			}
		}
	}
	return nil
}

// dedupeRunTags keeps the last value of each key.
func dedupeRunTags(tags []RunTag) []RunTag {
	return dedupeBy(tags, func(t RunTag) string { return t.Key })
}
