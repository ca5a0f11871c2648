package mlflow

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"slices"
	"sort"
	"strings"
)

// point is a metric point as stored: NaN is value 0 with isNaN set, and
// the infinities are the largest finite doubles (as MLflow stores them,
// since SQL databases differ on infinities).
type point struct {
	key           string
	step, ts      int64
	value         float64
	isNaN         bool
	modelID       string
	datasetName   string
	datasetDigest string
}

// storedValue maps a metric value to what the database keeps.
func storedValue(v float64) (float64, bool) {
	switch {
	case math.IsNaN(v):
		return 0, true
	case math.IsInf(v, 1):
		return math.MaxFloat64, false
	case math.IsInf(v, -1):
		return -math.MaxFloat64, false
	}
	return v, false
}

// pointsOf converts validated metrics to stored points, dropping exact
// duplicates within the request.
func pointsOf(ms []metricIn) []point {
	type id struct {
		key      string
		step, ts int64
		value    float64
		isNaN    bool
	}
	seen := make(map[id]bool, len(ms))
	pts := make([]point, 0, len(ms))
	for _, m := range ms {
		v, isNaN := storedValue(float64(*m.Value))
		k := id{m.Key, int64(m.Step), int64(*m.Timestamp), v, isNaN}
		if seen[k] {
			continue
		}
		seen[k] = true
		pts = append(pts, point{key: m.Key, step: int64(m.Step), ts: int64(*m.Timestamp), value: v, isNaN: isNaN,
			modelID: m.ModelID, datasetName: m.DatasetName, datasetDigest: m.DatasetDigest})
	}
	// Concurrent writers insert rows in one order, so that on PostgreSQL
	// they wait for each other rather than deadlock.
	slices.SortFunc(pts, func(a, b point) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		if c := cmp.Compare(a.step, b.step); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return cmp.Compare(a.value, b.value)
	})
	return pts
}

// newer reports whether a is more recent than b: greater step, then
// timestamp, then value.
func (a *point) newer(b *point) bool {
	if a.step != b.step {
		return a.step > b.step
	}
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	return a.value > b.value
}

// writeMetrics stores points of a run in tx: every point (a point already
// stored is ignored) and, per key, the latest point, replacing the stored
// latest only when the new one is more recent.
func writeMetrics(ctx context.Context, tx dbq, runID int64, pts []point) error {
	if len(pts) == 0 {
		return nil
	}
	err := tx.insertRows(ctx, `INSERT INTO mlflow_metrics (run_id, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) VALUES`,
		`ON CONFLICT DO NOTHING`, 9, len(pts), func(i int, args []any) []any {
			p := &pts[i]
			return append(args, runID, p.key, p.step, p.ts, p.value, b2i(p.isNaN), p.modelID, p.datasetName, p.datasetDigest)
		})
	if err != nil {
		return err
	}
	latest := make(map[string]*point, 8)
	for i := range pts {
		p := &pts[i]
		if cur, ok := latest[p.key]; !ok || p.newer(cur) {
			latest[p.key] = p
		}
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys) // one lock order for concurrent writers on PostgreSQL
	return tx.insertRows(ctx, `INSERT INTO mlflow_latest_metrics (run_id, key, step, timestamp, value, is_nan) VALUES`,
		`ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp,
			value = excluded.value, is_nan = excluded.is_nan
		WHERE (excluded.step, excluded.timestamp, excluded.value) >
			(mlflow_latest_metrics.step, mlflow_latest_metrics.timestamp, mlflow_latest_metrics.value)`,
		6, len(keys), func(i int, args []any) []any {
			p := latest[keys[i]]
			return append(args, runID, p.key, p.step, p.ts, p.value, b2i(p.isNaN))
		})
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// writeParams stores params of a run in tx (keys unique). A param already
// logged with the same value is fine; with another value the whole request
// fails with INVALID_PARAMETER_VALUE, since params cannot change.
func writeParams(ctx context.Context, tx dbq, run *runRow, params []Param) error {
	if len(params) == 0 {
		return nil
	}
	params = slices.Clone(params)
	slices.SortFunc(params, func(a, b Param) int { return strings.Compare(a.Key, b.Key) }) // one lock order
	var b strings.Builder
	b.WriteString(`INSERT INTO mlflow_params (run_id, key, value) VALUES `)
	args := make([]any, 0, 3*len(params))
	for i, p := range params {
		if i > 0 {
			b.WriteByte(',')
		}
		tx.placeholders(&b, len(args)+1, 3)
		args = append(args, run.ID, p.Key, p.Value)
	}
	b.WriteString(` ON CONFLICT DO NOTHING RETURNING key`)
	inserted := make(map[string]bool, len(params))
	err := eachRow(ctx, tx, b.String(), args, func(rs *sql.Rows) error {
		var k string
		err := rs.Scan(&k)
		inserted[k] = true
		return err
	})
	if err != nil || len(inserted) == len(params) {
		return err
	}
	want := make(map[string]string, len(params)-len(inserted))
	keyArgs := []any{run.ID}
	for _, p := range params {
		if !inserted[p.Key] {
			want[p.Key] = p.Value
			keyArgs = append(keyArgs, p.Key)
		}
	}
	var changed []string
	err = eachRow(ctx, tx, `SELECT key, value FROM mlflow_params WHERE run_id = $1 AND key IN (`+tx.inList(2, len(keyArgs)-1)+`) ORDER BY key`,
		keyArgs, func(rs *sql.Rows) error {
			var k, v string
			if err := rs.Scan(&k, &v); err != nil {
				return err
			}
			if v != want[k] {
				changed = append(changed, "key='"+k+"' old value='"+v+"' new value='"+want[k]+"'")
			}
			return nil
		})
	if err != nil {
		return err
	}
	if len(changed) > 0 {
		return invalidParam("changing param values is not allowed: run ID='%s' already has %s", run.UUID, strings.Join(changed, "; "))
	}
	return nil
}

// modelExperiments returns the experiment of each existing logged model
// among ids.
func modelExperiments(ctx context.Context, q dbq, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := eachRow(ctx, q, `SELECT id, experiment_id FROM mlflow_logged_models WHERE id IN (`+q.inList(1, len(ids))+`)`, args,
		func(rs *sql.Rows) error {
			var id string
			var exp int64
			err := rs.Scan(&id, &exp)
			out[id] = exp
			return err
		})
	return out, err
}
