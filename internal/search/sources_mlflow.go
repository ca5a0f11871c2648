package search

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// MLflow groups: "experiment:<id>" (the experiment; expand adds its runs),
// "run:<uuid>" and "model:<name>" (the registered model and its versions).
const (
	groupExperiment = "experiment:"
	groupRun        = "run:"
	groupModel      = "model:"
)

// expand lists the groups a reindex of group refreshes: an experiment's
// runs go with it (deleting or restoring it hides or shows them).
func expand(ctx context.Context, tx meta.Querier, rp *repo.Repository, group string) ([]string, error) {
	out := []string{group}
	if rp.Format != "mlflow" || !strings.HasPrefix(group, groupExperiment) {
		return out, nil
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(group, groupExperiment), 10, 64)
	if err != nil {
		return out, nil
	}
	runs, err := meta.QueryStrings(ctx, tx, `SELECT run_uuid FROM mlflow_runs WHERE experiment_id = $1`, id)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		out = append(out, groupRun+r)
	}
	return out, nil
}

func mlflowSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	g := c.group
	switch {
	case g == "":
		for _, fn := range []func(context.Context, sourceCtx, string, func(Doc) error) error{mlflowExperiments, mlflowRuns, mlflowModels} {
			if err := fn(ctx, c, "", emit); err != nil {
				return err
			}
		}
		return nil
	case strings.HasPrefix(g, groupExperiment):
		return mlflowExperiments(ctx, c, strings.TrimPrefix(g, groupExperiment), emit)
	case strings.HasPrefix(g, groupRun):
		return mlflowRuns(ctx, c, strings.TrimPrefix(g, groupRun), emit)
	case strings.HasPrefix(g, groupModel):
		return mlflowModels(ctx, c, strings.TrimPrefix(g, groupModel), emit)
	}
	return nil
}

// tagsText is "key value" lines of key/value rows, bounded.
func tagsText(ctx context.Context, tx meta.Querier, q string, arg any) (string, error) {
	rows, err := tx.QueryContext(ctx, q, arg)
	if err != nil {
		return "", meta.Err(err)
	}
	var b strings.Builder
	err = each(rows, func() error {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if b.Len() < maxBody {
			b.WriteString(k + " " + clip(v, 256) + "\n")
		}
		return nil
	})
	return b.String(), err
}

func mlflowExperiments(ctx context.Context, c sourceCtx, id string, emit func(Doc) error) error {
	q := `SELECT id, name, last_update_time FROM mlflow_experiments WHERE lifecycle_stage = 'active'`
	var args []any
	if id != "" {
		q += ` AND id = $1`
		args = append(args, id)
	}
	type exp struct {
		id   int64
		name string
		at   int64
	}
	var exps []exp
	rows, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if err := each(rows, func() error {
		var e exp
		err := rows.Scan(&e.id, &e.name, &e.at)
		exps = append(exps, e)
		return err
	}); err != nil {
		return err
	}
	for _, e := range exps {
		d := c.doc(groupExperiment+strconv.FormatInt(e.id, 10), KindExperiment, e.name, "", e.at)
		d.ScopeKind, d.ScopeID = scopeExperiment, e.id
		if d.Body, err = tagsText(ctx, c.tx, `SELECT key, value FROM mlflow_experiment_tags WHERE experiment_id = $1 ORDER BY key`, e.id); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

func mlflowRuns(ctx context.Context, c sourceCtx, uuid string, emit func(Doc) error) error {
	q := `SELECT r.id, r.run_uuid, r.name, r.experiment_id, e.name, r.status, COALESCE(r.end_time, r.start_time, 0) FROM mlflow_runs r
		JOIN mlflow_experiments e ON e.id = r.experiment_id
		WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'`
	var args []any
	if uuid != "" {
		q += ` AND r.run_uuid = $1`
		args = append(args, uuid)
	}
	type run struct {
		id, exp           int64
		uuid, name, ename string
		status            string
		at                int64
	}
	var runs []run
	rows, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if err := each(rows, func() error {
		var r run
		err := rows.Scan(&r.id, &r.uuid, &r.name, &r.exp, &r.ename, &r.status, &r.at)
		runs = append(runs, r)
		return err
	}); err != nil {
		return err
	}
	for _, r := range runs {
		name := r.name
		if name == "" {
			name = r.uuid
		}
		d := c.doc(groupRun+r.uuid, KindRun, name, r.uuid, r.at)
		d.ScopeKind, d.ScopeID = scopeExperiment, r.exp
		d.Summary = fmt.Sprintf("run of experiment %s, %s", r.ename, strings.ToLower(r.status))
		if d.Body, err = tagsText(ctx, c.tx, `SELECT key, value FROM mlflow_run_tags WHERE run_id = $1 ORDER BY key`, r.id); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

func mlflowModels(ctx context.Context, c sourceCtx, name string, emit func(Doc) error) error {
	q := `SELECT id, name, description, last_updated_timestamp FROM mlflow_registered_models`
	var args []any
	if name != "" {
		q += ` WHERE name = $1`
		args = append(args, name)
	}
	type model struct {
		id         int64
		name, desc string
		at         int64
	}
	var models []model
	rows, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if err := each(rows, func() error {
		var m model
		err := rows.Scan(&m.id, &m.name, &m.desc, &m.at)
		models = append(models, m)
		return err
	}); err != nil {
		return err
	}
	for _, m := range models {
		group := groupModel + m.name
		d := c.doc(group, KindModel, m.name, "", m.at)
		d.ScopeKind, d.ScopeID, d.Summary = scopeModel, m.id, m.desc
		if d.Body, err = tagsText(ctx, c.tx, `SELECT key, value FROM mlflow_registered_model_tags WHERE model_id = $1 ORDER BY key`, m.id); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
		aliases := map[int64][]string{}
		arows, err := c.tx.QueryContext(ctx, `SELECT alias, version FROM mlflow_model_aliases WHERE model_id = $1`, m.id)
		if err != nil {
			return meta.Err(err)
		}
		if err := each(arows, func() error {
			var a string
			var v int64
			err := arows.Scan(&a, &v)
			aliases[v] = append(aliases[v], a)
			return err
		}); err != nil {
			return err
		}
		vrows, err := c.tx.QueryContext(ctx, `SELECT version, description, current_stage, source, run_id, last_updated_timestamp
			FROM mlflow_model_versions WHERE model_id = $1 AND deleted = 0 ORDER BY version`, m.id)
		if err != nil {
			return meta.Err(err)
		}
		var versions []Doc
		if err := each(vrows, func() error {
			var v, at int64
			var desc, stage, src, runID string
			if err := vrows.Scan(&v, &desc, &stage, &src, &runID, &at); err != nil {
				return err
			}
			vd := c.doc(group, KindModelVersion, m.name, strconv.FormatInt(v, 10), at)
			vd.ScopeKind, vd.ScopeID, vd.Summary = scopeModel, m.id, desc
			vd.Body = strings.Join(append([]string{stage, src, runID}, aliases[v]...), " ")
			versions = append(versions, vd)
			return nil
		}); err != nil {
			return err
		}
		for _, vd := range versions {
			if err := emit(vd); err != nil {
				return err
			}
		}
	}
	return nil
}
