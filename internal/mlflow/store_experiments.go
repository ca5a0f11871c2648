package mlflow

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// experimentRow is one row of mlflow_experiments.
type experimentRow struct {
	ID               int64
	Name             string
	ArtifactLocation string
	LifecycleStage   string
	CreationTime     int64
	LastUpdateTime   int64
}

const experimentColumns = `id, name, artifact_location, lifecycle_stage, creation_time, last_update_time`

func scanExperiment(row interface{ Scan(...any) error }) (*experimentRow, error) {
	var e experimentRow
	err := row.Scan(&e.ID, &e.Name, &e.ArtifactLocation, &e.LifecycleStage, &e.CreationTime, &e.LastUpdateTime)
	return &e, err
}

// experimentByID returns an experiment in any lifecycle stage, or
// RESOURCE_DOES_NOT_EXIST.
func experimentByID(ctx context.Context, q meta.Querier, id int64) (*experimentRow, error) {
	e, err := scanExperiment(q.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM mlflow_experiments WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notExist("no experiment with id=%d exists", id)
	}
	return e, meta.Err(err)
}

// experimentByName returns an experiment by name, or nil when there is
// none.
func experimentByName(ctx context.Context, q meta.Querier, name string) (*experimentRow, error) {
	e, err := scanExperiment(q.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM mlflow_experiments WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return e, meta.Err(err)
}

// activeExperiment refuses experiments that are not active, as MLflow
// does before creating runs and models or changing tags.
func (e *experimentRow) mustBeActive() error {
	if e.LifecycleStage != stageActive {
		return invalidParam("the experiment %d must be in the 'active' state; it is %s", e.ID, e.LifecycleStage)
	}
	return nil
}

// loadExperiments returns the experiments with the given ids, in that
// order, with their tags. Ids that do not exist are skipped.
func loadExperiments(ctx context.Context, q dbq, ids []int64) ([]Experiment, error) {
	rows := make(map[int64]*experimentRow, len(ids))
	tags := make(map[int64][]ExperimentTag, len(ids))
	err := chunks(ids, func(part []int64) error {
		list := q.inList(1, len(part))
		rs, err := q.QueryContext(ctx, `SELECT `+experimentColumns+` FROM mlflow_experiments WHERE id IN (`+list+`)`, int64Args(part)...)
		if err != nil {
			return meta.Err(err)
		}
		for rs.Next() {
			e, err := scanExperiment(rs)
			if err != nil {
				rs.Close()
				return meta.Err(err)
			}
			rows[e.ID] = e
		}
		if err := closeRows(rs); err != nil {
			return err
		}
		rs, err = q.QueryContext(ctx, `SELECT experiment_id, key, value FROM mlflow_experiment_tags
			WHERE experiment_id IN (`+list+`) ORDER BY experiment_id, key`, int64Args(part)...)
		if err != nil {
			return meta.Err(err)
		}
		for rs.Next() {
			var id int64
			var t ExperimentTag
			if err := rs.Scan(&id, &t.Key, &t.Value); err != nil {
				rs.Close()
				return meta.Err(err)
			}
			tags[id] = append(tags[id], t)
		}
		return closeRows(rs)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Experiment, 0, len(ids))
	for _, id := range ids {
		if e, ok := rows[id]; ok {
			out = append(out, e.message(tags[id]))
		}
	}
	return out, nil
}

func (e *experimentRow) message(tags []ExperimentTag) Experiment {
	return Experiment{ExperimentID: itoa(e.ID), Name: e.Name, ArtifactLocation: e.ArtifactLocation,
		LifecycleStage: e.LifecycleStage, CreationTime: Int64(e.CreationTime), LastUpdateTime: Int64(e.LastUpdateTime), Tags: tags}
}

// closeRows closes rs and returns the error that ended its iteration.
func closeRows(rs *sql.Rows) error {
	err := rs.Err()
	rs.Close()
	return meta.Err(err)
}

// countCustomViews counts the custom view tags among keys.
func countCustomViews(keys []string) int {
	n := 0
	for _, k := range keys {
		if strings.HasPrefix(k, customViewTagStart) {
			n++
		}
	}
	return n
}

// insertExperiment creates an experiment in tx and returns its id. An
// empty location becomes the experiment's place in the artifact proxy.
func insertExperiment(ctx context.Context, tx dbq, name, location, createdBy string, tags []ExperimentTag) (int64, error) {
	now := meta.Now()
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO mlflow_experiments (name, artifact_location, created_by, creation_time, last_update_time)
		VALUES ($1, $2, $3, $4, $4) RETURNING id`, name, location, createdBy, now).Scan(&id)
	if err != nil {
		if meta.IsUniqueViolation(err) {
			return 0, alreadyExists("experiment(name=%s) already exists", name)
		}
		return 0, meta.Err(err)
	}
	if location == "" {
		if _, err := tx.ExecContext(ctx, `UPDATE mlflow_experiments SET artifact_location = $1 WHERE id = $2`,
			experimentArtifactLocation(id), id); err != nil {
			return 0, meta.Err(err)
		}
	}
	if len(tags) > 0 {
		err := tx.insertRows(ctx, `INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES`,
			`ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`, 3, len(tags),
			func(i int, args []any) []any { return append(args, id, tags[i].Key, tags[i].Value) })
		if err != nil {
			return 0, err
		}
	}
	return id, nil
}
