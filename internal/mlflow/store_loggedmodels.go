package mlflow

import (
	"context"
	"database/sql"
	"errors"

	"github.com/arcaproject/arca/internal/meta"
)

// modelRow is one row of mlflow_logged_models.
type modelRow struct {
	ID               string
	ExperimentID     int64
	Name             string
	ArtifactLocation string
	Status           string
	StatusMessage    string
	LifecycleStage   string
	ModelType        string
	SourceRunID      string
	Created, Updated int64
}

const modelColumns = `id, experiment_id, name, artifact_location, status, status_message, lifecycle_stage, model_type,
	source_run_id, creation_timestamp, last_updated_timestamp`

func scanModel(row interface{ Scan(...any) error }) (*modelRow, error) {
	var m modelRow
	err := row.Scan(&m.ID, &m.ExperimentID, &m.Name, &m.ArtifactLocation, &m.Status, &m.StatusMessage, &m.LifecycleStage,
		&m.ModelType, &m.SourceRunID, &m.Created, &m.Updated)
	return &m, err
}

// modelByID returns a logged model in any lifecycle stage, or
// RESOURCE_DOES_NOT_EXIST.
func modelByID(ctx context.Context, q meta.Querier, id string) (*modelRow, error) {
	m, err := scanModel(q.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM mlflow_logged_models WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errModelNotFound(id)
	}
	return m, meta.Err(err)
}

func errModelNotFound(id string) error {
	return notExist("logged model with ID '%s' not found", id)
}

func (m *modelRow) info() LoggedModelInfo {
	return LoggedModelInfo{ModelID: m.ID, ExperimentID: itoa(m.ExperimentID), Name: m.Name,
		CreationTimestampMs: Int64(m.Created), LastUpdatedTimestampMs: Int64(m.Updated), ArtifactURI: m.ArtifactLocation,
		Status: m.Status, ModelType: m.ModelType, SourceRunID: m.SourceRunID, StatusMessage: m.StatusMessage}
}

// loadModels returns the logged models with the given ids, in that order,
// with tags, params and every metric point logged for them: one query per
// table for the whole list.
func loadModels(ctx context.Context, q dbq, ids []string) ([]LoggedModel, error) {
	models := make(map[string]*LoggedModel, len(ids))
	for start := 0; start < len(ids); start += maxInList {
		part := ids[start:min(start+maxInList, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		list := q.inList(1, len(part))
		err := eachRow(ctx, q, `SELECT `+modelColumns+` FROM mlflow_logged_models WHERE id IN (`+list+`)`, args, func(rs *sql.Rows) error {
			m, err := scanModel(rs)
			if err == nil {
				models[m.ID] = &LoggedModel{Info: m.info()}
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, table := range []string{"mlflow_logged_model_tags", "mlflow_logged_model_params"} {
			tags := table == "mlflow_logged_model_tags"
			err := eachRow(ctx, q, `SELECT model_id, key, value FROM `+table+` WHERE model_id IN (`+list+`) ORDER BY model_id, key`, args,
				func(rs *sql.Rows) error {
					var id, k, v string
					if err := rs.Scan(&id, &k, &v); err != nil {
						return err
					}
					if m := models[id]; m != nil && tags {
						m.Info.Tags = append(m.Info.Tags, LoggedModelTag{Key: k, Value: v})
					} else if m != nil {
						m.Data.Params = append(m.Data.Params, LoggedModelParameter{Key: k, Value: v})
					}
					return nil
				})
			if err != nil {
				return nil, err
			}
		}
		err = eachRow(ctx, q, `SELECT m.model_id, r.run_uuid, m.key, m.step, m.timestamp, m.value, m.is_nan, m.dataset_name, m.dataset_digest
			FROM mlflow_metrics m JOIN mlflow_runs r ON r.id = m.run_id
			WHERE m.model_id <> '' AND m.model_id IN (`+list+`) ORDER BY m.model_id, m.key, m.step, m.timestamp`, args,
			func(rs *sql.Rows) error {
				var id string
				var mt Metric
				var v float64
				var isNaN bool
				if err := rs.Scan(&id, &mt.RunID, &mt.Key, &mt.Step, &mt.Timestamp, &v, &isNaN, &mt.DatasetName, &mt.DatasetDigest); err != nil {
					return err
				}
				mt.Value, mt.ModelID = metricValue(v, isNaN), id
				if m := models[id]; m != nil {
					m.Data.Metrics = append(m.Data.Metrics, mt)
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	out := make([]LoggedModel, 0, len(ids))
	for _, id := range ids {
		if m, ok := models[id]; ok {
			out = append(out, *m)
		}
	}
	return out, nil
}

// writeModelTags upserts tags of a logged model (keys unique).
func writeModelTags(ctx context.Context, tx dbq, id string, tags []LoggedModelTag) error {
	if len(tags) == 0 {
		return nil
	}
	return tx.insertRows(ctx, `INSERT INTO mlflow_logged_model_tags (model_id, key, value) VALUES`,
		`ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`, 3, len(tags),
		func(i int, args []any) []any { return append(args, id, tags[i].Key, tags[i].Value) })
}

// writeModelParams stores params of a logged model (keys unique): logging
// a param again with the same value is fine, with another value refused.
func writeModelParams(ctx context.Context, tx dbq, id string, params []LoggedModelParameter) error {
	if len(params) == 0 {
		return nil
	}
	args := []any{id}
	want := make(map[string]string, len(params))
	for _, p := range params {
		args = append(args, p.Key)
		want[p.Key] = p.Value
	}
	err := eachRow(ctx, tx, `SELECT key, value FROM mlflow_logged_model_params WHERE model_id = $1 AND key IN (`+tx.inList(2, len(params))+`)`,
		args, func(rs *sql.Rows) error {
			var k, v string
			if err := rs.Scan(&k, &v); err != nil {
				return err
			}
			if want[k] != v {
				return invalidParam("changing param values is not allowed: logged model '%s' already has param '%s' with value '%s'", id, k, v)
			}
			return nil
		})
	if err != nil {
		return err
	}
	return tx.insertRows(ctx, `INSERT INTO mlflow_logged_model_params (model_id, key, value) VALUES`, `ON CONFLICT DO NOTHING`,
		3, len(params), func(i int, args []any) []any { return append(args, id, params[i].Key, params[i].Value) })
}

// dedupeBy keeps the last element of each key, at its key's first
// position.
func dedupeBy[T any](in []T, key func(T) string) []T {
	pos := make(map[string]int, len(in))
	out := make([]T, 0, len(in))
	for _, e := range in {
		k := key(e)
		if i, ok := pos[k]; ok {
			out[i] = e
			continue
		}
		pos[k] = len(out)
		out = append(out, e)
	}
	return out
}
