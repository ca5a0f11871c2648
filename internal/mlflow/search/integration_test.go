package search

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// queryStrings runs q and returns its first column as strings.
func queryStrings(t *testing.T, db *meta.DB, q Query) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q.SQL, q.Args...)
	if err != nil {
		t.Fatalf("query failed: %v\n%s %v", err, q.SQL, q.Args)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustExec(t *testing.T, db *meta.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestStringSemantics checks that =, LIKE and ILIKE behave the same on
// both engines: LIKE case-sensitive, ILIKE folding ASCII, '\' escaping
// % and _, and awkward values matched exactly.
func TestStringSemantics(t *testing.T) {
	values := []string{"CNN", "cnn", "Cnn", "c_n", "cxn", "50%", "50 percent", `a\b`, "it's", `say "hi"`,
		"ÉCOLE", "école", "", "x'; DROP TABLE mlflow_runs; --", "日本語", "tab\there"}
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		mustExec(t, db, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (1, 'e', 'x', 0, 0)`)
		for i, v := range values {
			id := i + 1
			mustExec(t, db, `INSERT INTO mlflow_runs (id, run_uuid, experiment_id, name, start_time, artifact_uri) VALUES ($1, $2, 1, $3, $4, 'a')`,
				id, fmt.Sprintf("r%02d", id), v, 100-id)
			mustExec(t, db, `INSERT INTO mlflow_params (run_id, key, value) VALUES ($1, 'p', $2)`, id, v)
		}
		search := func(filter string) []string {
			t.Helper()
			q, err := Runs(RunsRequest{ExperimentIDs: []int64{1}, Filter: filter, OrderBy: []string{"attributes.run_id"}})
			if err != nil {
				t.Fatalf("%s: %v", filter, err)
			}
			ids := queryStrings(t, db, Query{SQL: "SELECT run_uuid FROM mlflow_runs WHERE id IN (SELECT id FROM (" + q.SQL + ") s) ORDER BY run_uuid", Args: q.Args})
			var vals []string
			for _, id := range ids {
				var n int
				fmt.Sscanf(id, "r%d", &n)
				vals = append(vals, values[n-1])
			}
			return vals
		}
		tests := []struct {
			filter string
			want   []string
		}{
			{"params.p = 'CNN'", []string{"CNN"}},
			{"params.p != 'CNN'", without(values, "CNN")},
			{"params.p LIKE 'C%'", []string{"CNN", "Cnn"}},
			{"params.p LIKE 'c%'", []string{"cnn", "c_n", "cxn"}},
			{"params.p LIKE '%nn'", []string{"cnn", "Cnn"}},
			{"params.p LIKE 'CN_'", []string{"CNN"}},
			{"params.p ILIKE 'cnn'", []string{"CNN", "cnn", "Cnn"}},
			{"params.p ILIKE 'C%N'", []string{"CNN", "cnn", "Cnn", "c_n", "cxn"}},
			{`params.p LIKE 'c\_n'`, []string{"c_n"}},
			{"params.p LIKE 'c_n'", []string{"cnn", "c_n", "cxn"}},
			{`params.p LIKE '50\%'`, []string{"50%"}},
			{"params.p LIKE '50%'", []string{"50%", "50 percent"}},
			{`params.p LIKE 'a\\b'`, []string{`a\b`}},
			{`params.p = 'a\b'`, []string{`a\b`}},
			{`params.p = "it's"`, []string{"it's"}},
			{`params.p = 'say "hi"'`, []string{`say "hi"`}},
			{"params.p = 'ÉCOLE'", []string{"ÉCOLE"}},
			{"params.p LIKE 'É%'", []string{"ÉCOLE"}},
			{"params.p LIKE '%COLE'", []string{"ÉCOLE"}},
			{"params.p ILIKE '%cole'", []string{"ÉCOLE", "école"}},
			{"params.p = ''", []string{""}},
			{"params.p LIKE ''", []string{""}},
			{"params.p = 'x''; DROP TABLE mlflow_runs; --'", []string{}}, // '' is kept as written, as MLflow does
			{`params.p = "x'; DROP TABLE mlflow_runs; --"`, []string{"x'; DROP TABLE mlflow_runs; --"}},
			{"params.p LIKE '日本%'", []string{"日本語"}},
			{"params.p = 'tab\there'", []string{"tab\there"}},
			{"run_name LIKE 'C%'", []string{"CNN", "Cnn"}},
			{"run_name ILIKE 'c%'", []string{"CNN", "cnn", "Cnn", "c_n", "cxn"}},
			{"run_name LIKE 'c\\_%'", []string{"c_n"}},
			{"run_name LIKE 'é%'", []string{"école"}},
			{"run_name LIKE '日本%'", []string{"日本語"}},
			{"params.p LIKE '50%'", []string{"50%", "50 percent"}},
			{"params.p LIKE 'x''%'", []string{}},
			{`params.p LIKE "x'%"`, []string{"x'; DROP TABLE mlflow_runs; --"}},
			{"run_id LIKE 'r0%'", []string{"CNN", "cnn", "Cnn", "c_n", "cxn", "50%", "50 percent", `a\b`, "it's"}},
			{"params.p IN ('CNN', 'cnn')", nil}, // params take no IN
		}
		for _, tt := range tests {
			if tt.want == nil {
				if _, err := Runs(RunsRequest{ExperimentIDs: []int64{1}, Filter: tt.filter}); err == nil {
					t.Errorf("%s: accepted", tt.filter)
				}
				continue
			}
			if got := search(tt.filter); !sameSet(got, tt.want) {
				t.Errorf("%s:\n got %q\nwant %q", tt.filter, got, tt.want)
			}
			// RunIDs, where a selective comparison drives the search.
			ids, err := RunIDs(context.Background(), db, RunsRequest{ExperimentIDs: []int64{1}, Filter: tt.filter, Limit: 100})
			if err != nil {
				t.Fatalf("RunIDs %s: %v", tt.filter, err)
			}
			var got []string
			for _, id := range ids {
				got = append(got, values[id-1])
			}
			if !sameSet(got, tt.want) {
				t.Errorf("RunIDs %s:\n got %q\nwant %q", tt.filter, got, tt.want)
			}
		}
	})
}

func without(vs []string, drop string) []string {
	var out []string
	for _, v := range vs {
		if v != drop {
			out = append(out, v)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRunsPaging walks the default order page by page and checks that
// the pages, joined, are the whole ordered result.
func TestRunsPaging(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		mustExec(t, db, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (1, 'e', 'x', 0, 0)`)
		for i := 1; i <= 23; i++ {
			mustExec(t, db, `INSERT INTO mlflow_runs (id, run_uuid, experiment_id, start_time, artifact_uri) VALUES ($1, $2, 1, $3, 'a')`,
				i, fmt.Sprintf("u%02d", i), i%5)
			mustExec(t, db, `INSERT INTO mlflow_latest_metrics (run_id, key, step, timestamp, value) VALUES ($1, 'm', 0, 0, $2)`, i, float64(i%7))
		}
		for _, order := range [][]string{nil, {"metrics.m DESC"}} {
			all := queryStrings(t, db, mustQuery(t, RunsRequest{ExperimentIDs: []int64{1}, OrderBy: order}))
			if len(all) != 23 {
				t.Fatalf("%d runs", len(all))
			}
			var paged []string
			token := ""
			for pages := 0; pages < 10; pages++ {
				off, err := DecodePageToken(token)
				if err != nil {
					t.Fatal(err)
				}
				page := queryStrings(t, db, mustQuery(t, RunsRequest{ExperimentIDs: []int64{1}, OrderBy: order, Offset: off, Limit: 5 + 1}))
				if len(page) <= 5 {
					paged = append(paged, page...)
					break
				}
				paged = append(paged, page[:5]...)
				token = EncodePageToken(off + 5)
			}
			if !slices.Equal(paged, all) {
				t.Errorf("order %v: paged %v, all %v", order, paged, all)
			}
		}
		// Offset without limit.
		rest := queryStrings(t, db, mustQuery(t, RunsRequest{ExperimentIDs: []int64{1}, Offset: 20}))
		if len(rest) != 3 {
			t.Errorf("offset 20 without limit: %v", rest)
		}
	})
}

func mustQuery(t *testing.T, req RunsRequest) Query {
	t.Helper()
	q, err := Runs(req)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestIntegerBounds checks comparisons of integer columns with
// fractional and out-of-range numbers.
func TestIntegerBounds(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		mustExec(t, db, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (1, 'e', 'x', 0, 0)`)
		for i, st := range []any{-5, 0, 5, 6, nil} {
			mustExec(t, db, `INSERT INTO mlflow_runs (id, run_uuid, experiment_id, start_time, artifact_uri) VALUES ($1, $2, 1, $3, 'a')`,
				i+1, fmt.Sprintf("u%d", i+1), st)
		}
		tests := map[string][]string{
			"start_time > 5.5":                  {"u4"},
			"start_time >= 5.5":                 {"u4"},
			"start_time < 5.5":                  {"u1", "u2", "u3"},
			"start_time <= -5.0":                {"u1"},
			"start_time = 5.0":                  {"u3"},
			"start_time = 5.5":                  {},
			"start_time != 5.5":                 {"u1", "u2", "u3", "u4"},
			"start_time > 1e30":                 {},
			"start_time < 1e30":                 {"u1", "u2", "u3", "u4"},
			"start_time > -1e30":                {"u1", "u2", "u3", "u4"},
			"start_time != 1e30":                {"u1", "u2", "u3", "u4"},
			"start_time = 1e30":                 {},
			"start_time > 9223372036854775807":  {},
			"start_time < -9223372036854775808": {},
			"start_time > -6":                   {"u1", "u2", "u3", "u4"},
		}
		for filter, want := range tests {
			q, err := Runs(RunsRequest{ExperimentIDs: []int64{1}, Filter: filter})
			if err != nil {
				t.Errorf("%s: %v", filter, err)
				continue
			}
			got := queryStrings(t, db, Query{SQL: "SELECT run_uuid FROM mlflow_runs WHERE id IN (" + q.SQL + ")", Args: q.Args})
			if !sameSet(got, want) {
				t.Errorf("%s: got %v, want %v", filter, got, want)
			}
		}
	})
}

// TestLatestMetricExperiment checks migration 00010's trigger: a latest
// metric inserted without its run's experiment gets it, and an upsert
// keeps it.
func TestLatestMetricExperiment(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		mustExec(t, db, `INSERT INTO mlflow_experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (7, 'e', 'x', 0, 0)`)
		mustExec(t, db, `INSERT INTO mlflow_runs (id, run_uuid, experiment_id, artifact_uri) VALUES (1, 'u1', 7, 'a')`)
		mustExec(t, db, `INSERT INTO mlflow_latest_metrics (run_id, key, step, timestamp, value) VALUES (1, 'a', 0, 0, 1), (1, 'b', 0, 0, 2)`)
		mustExec(t, db, `INSERT INTO mlflow_latest_metrics (run_id, key, step, timestamp, value) VALUES (1, 'a', 1, 1, 3)
			ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, value = excluded.value`)
		got := queryStrings(t, db, Query{SQL: `SELECT key || ':' || CAST(experiment_id AS TEXT) || ':' || CAST(value AS TEXT) FROM mlflow_latest_metrics ORDER BY key`})
		if !slices.Equal(got, []string{"a:7:3", "b:7:2"}) && !slices.Equal(got, []string{"a:7:3.0", "b:7:2.0"}) {
			t.Errorf("latest metrics %v", got)
		}
	})
}
