package search

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// benchRuns is the size of the benchmark's experiment.
const benchRuns = 100_000

// loadRuns fills experiment 1 with n runs (and experiment 2 with n/10),
// each with three latest metrics (f1 on half of them, acc NaN on 0.1%),
// three params and three tags, with plain SQL that both engines run.
// 1% of the runs are deleted.
func loadRuns(tb testing.TB, db *meta.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	exp := fmt.Sprintf("CASE WHEN i <= %d THEN 1 ELSE 2 END", n)
	seq := fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < %d) ", n+n/10)
	stmts := []string{
		`INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (1, 'big', 'x', 0, 0), (2, 'other', 'x', 0, 0)`,
		seq + fmt.Sprintf(`INSERT INTO mlflow_runs (id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri)
			SELECT i, 'u' || CAST(1000000 + (i * 7919) %% 1000003 AS TEXT), %s, 'run-' || CAST(i AS TEXT),
			'user' || CAST(i %% 20 AS TEXT), CASE WHEN i %% 10 = 0 THEN 'FAILED' ELSE 'FINISHED' END,
			1700000000000 + i * 1000, 1700000000000 + i * 1000 + 500, CASE WHEN i %% 100 = 0 THEN 'deleted' ELSE 'active' END, 'a' FROM s`, exp),
		seq + fmt.Sprintf(`INSERT INTO mlflow_latest_metrics (run_id, experiment_id, key, step, timestamp, value, is_nan)
			SELECT i, %s, 'acc', 0, 0, CASE WHEN i %% 1000 = 7 THEN 0 ELSE ((i * 7919) %% 10007) / 10007.0 END, CASE WHEN i %% 1000 = 7 THEN 1 ELSE 0 END FROM s`, exp),
		seq + fmt.Sprintf(`INSERT INTO mlflow_latest_metrics (run_id, experiment_id, key, step, timestamp, value) SELECT i, %s, 'loss', 0, 0, ((i * 104729) %% 10009) / 10009.0 FROM s`, exp),
		seq + fmt.Sprintf(`INSERT INTO mlflow_latest_metrics (run_id, experiment_id, key, step, timestamp, value) SELECT i, %s, 'f1', 0, 0, ((i * 31) %% 997) / 997.0 FROM s WHERE i %% 2 = 0`, exp),
		seq + `INSERT INTO mlflow_params (run_id, key, value) SELECT i, 'lr', CASE i % 4 WHEN 0 THEN '0.1' WHEN 1 THEN '0.01' WHEN 2 THEN '0.001' ELSE '0.0001' END FROM s`,
		seq + `INSERT INTO mlflow_params (run_id, key, value) SELECT i, 'model', 'model-' || CAST(i % 50 AS TEXT) FROM s`,
		seq + `INSERT INTO mlflow_params (run_id, key, value) SELECT i, 'seed', CAST(i AS TEXT) FROM s`,
		seq + `INSERT INTO mlflow_run_tags (run_id, key, value) SELECT i, 'env', CASE i % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'dev' ELSE 'staging' END FROM s`,
		seq + `INSERT INTO mlflow_run_tags (run_id, key, value) SELECT i, 'mlflow.runName', 'run-' || CAST(i AS TEXT) FROM s`,
		seq + `INSERT INTO mlflow_run_tags (run_id, key, value) SELECT i, 'mlflow.user', 'user' || CAST(i % 20 AS TEXT) FROM s`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			tb.Fatalf("%v\n%s", err, s)
		}
	}
	// Statistics and visibility maps, as autovacuum keeps them on a
	// production PostgreSQL.
	// SQLite has none unless someone runs ANALYZE, and arca does not: the
	// searches are built to be planned well without them.
	if db.Dialect == meta.Postgres {
		if _, err := db.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Logf("%s: loaded %d runs in %v", db.Dialect, n+n/10, time.Since(start).Round(time.Millisecond))
}

// benchCases are typical searches of the MLflow UI and client.
var benchCases = []struct {
	name   string
	filter string
	order  []string
	offset int
}{
	{"default order", "", nil, 0},
	{"default order deep page", "", nil, 50_000},
	{"metric filter + order by metric", "metrics.acc > 0.5", []string{"metrics.acc DESC"}, 0},
	{"metric filter + order by metric deep page", "metrics.acc > 0.5", []string{"metrics.acc DESC"}, 20_000},
	{"selective metric filter + order by metric", "metrics.acc > 0.999", []string{"metrics.acc DESC"}, 0},
	{"order by metric", "", []string{"metrics.acc DESC"}, 0},
	{"order by sparse metric", "", []string{"metrics.f1"}, 0},
	{"metric filter, default order", "metrics.loss < 0.1", nil, 0},
	{"param equality", "params.lr = '0.01'", nil, 0},
	{"selective param equality", "params.seed = '77777'", nil, 0},
	{"tag LIKE", "tags.env LIKE 'prod%'", nil, 0},
	{"tag equality + metric order", "tags.`mlflow.user` = 'user7'", []string{"metrics.loss"}, 0},
	{"run name", "attributes.run_name = 'run-4242'", nil, 0},
	{"run name LIKE", "run_name LIKE 'run-4242%'", nil, 0},
	{"status + start_time", "status = 'FAILED' AND start_time > 1700050000000", nil, 0},
	{"metric + param + order", "metrics.acc > 0.9 AND params.lr = '0.01'", []string{"metrics.acc DESC"}, 0},
	{"order by param", "", []string{"params.model DESC"}, 0},
}

// BenchmarkSearchRuns times RunIDs, pages of 100 (and one more, to
// know whether a next page exists) over 100,000 runs, on both engines.
// With -v it logs each query and its plan.
//
//	go test ./internal/mlflow/search -run '^$' -bench SearchRuns -benchtime 20x -v
func BenchmarkSearchRuns(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var db *meta.DB
			if engine == "sqlite" {
				db = metatest.OpenSQLite(b)
			} else {
				db = metatest.OpenPostgres(b)
			}
			loadRuns(b, db, benchRuns)
			ctx := context.Background()
			for _, c := range benchCases {
				req := RunsRequest{ExperimentIDs: []int64{1}, Filter: c.filter, OrderBy: c.order, Offset: c.offset, Limit: 101}
				if testing.Verbose() {
					q, driver := chosenQuery(b, db, req)
					b.Logf("%s (driver %d): %s\n%s", c.name, driver, q.SQL, explain(b, db, q))
				}
				b.Run(c.name, func(b *testing.B) {
					var ids []int64
					for b.Loop() {
						var err error
						if ids, err = RunIDs(ctx, db, req); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(len(ids)), "rows")
				})
			}
		})
	}
}

// chosenQuery returns the query RunIDs runs for req.
func chosenQuery(tb testing.TB, db *meta.DB, req RunsRequest) (Query, int) {
	tb.Helper()
	p, err := newRunsPlan(req)
	if err != nil {
		tb.Fatal(err)
	}
	driver, err := chooseDriver(context.Background(), db, p)
	if err != nil {
		tb.Fatal(err)
	}
	p, _ = newRunsPlan(req)
	q, err := p.compile(driver)
	if err != nil {
		tb.Fatal(err)
	}
	return q, driver
}

// explain returns the engine's plan of q.
func explain(tb testing.TB, db *meta.DB, q Query) string {
	tb.Helper()
	prefix := "EXPLAIN QUERY PLAN "
	if db.Dialect == meta.Postgres {
		prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
	}
	rows, err := db.QueryContext(context.Background(), prefix+q.SQL, q.Args...)
	if err != nil {
		tb.Fatalf("explain: %v", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
	}
	return "    " + strings.Join(lines, "\n    ")
}
