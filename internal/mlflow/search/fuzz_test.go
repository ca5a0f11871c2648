package search

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// Every entry point that takes user input is fuzzed: it must never
// panic, and must either reject the input with INVALID_PARAMETER_VALUE
// or produce a query that the database runs.

var filterSeeds = []string{
	"", "metrics.acc > 0.9", "params.lr = '0.01' AND tags.env LIKE 'p%'", "attributes.run_id IN ('a', 'b')",
	"datasets.name ILIKE '%x%'", "status != 'FINISHED' AND start_time >= 5.5", "tags.`a b` IS NULL",
	"name = 'm' AND version_number >= 2", "tags.`mlflow.prompt.is_prompt` = 'true'", "experiment_id IN ('1')",
	"timestamp_ms > 1 AND metadata.`mlflow.user` = 'x' AND run_id = 'r' AND name = 'n'",
	"creation_time > 1 AND tags.x != 'y'", "name IN ('a', 'b') AND created_by = 'u' AND last_update_time > 5", "metrics.acc != 1e999", `params.x LIKE 'a\%b\_'`,
	"metrics.a > 1 OR b", "params.x = 'it''s'", `tags."k" = "v"`, "run_id NOT IN ('a',)", "((", "'", "`",
	"source_path LIKE 's3://%' AND run_id != 'x'", "model_id IN ('m-1') AND metrics.acc < 0",
}

var orderSeeds = []string{
	"", "metrics.acc DESC", "params.lr", "tags.`a b` ASC", "start_time", "name DESC", "timestamp",
	"version_number", "creation_timestamp DESC", "metadata.`k`", "run_id", "experiment_id ASC", "end_time_ms",
}

// fuzzDB is one migrated SQLite database per fuzz target.
func fuzzDB(f *testing.F) *meta.DB {
	return metatest.OpenSQLite(f)
}

// compileAll runs every compiler on one filter and order_by entry.
func compileAll(filter, order string, postgres bool) map[string]func() (Query, error) {
	var orderBy []string
	if order != "" {
		orderBy = []string{order}
	}
	return map[string]func() (Query, error){
		"runs": func() (Query, error) {
			return Runs(RunsRequest{ExperimentIDs: []int64{1, 2}, Filter: filter, OrderBy: orderBy, Offset: 3, Limit: 10})
		},
		"experiments": func() (Query, error) {
			return Experiments(ExperimentsRequest{ViewType: All, Filter: filter, OrderBy: orderBy, Limit: 10})
		},
		"registered_models": func() (Query, error) {
			return RegisteredModels(RegisteredModelsRequest{Filter: filter, OrderBy: orderBy, Limit: 10})
		},
		"model_versions": func() (Query, error) {
			return ModelVersions(ModelVersionsRequest{Filter: filter, OrderBy: orderBy, Limit: 10})
		},
		"traces": func() (Query, error) {
			return Traces(TracesRequest{ExperimentIDs: []int64{1}, Filter: filter, OrderBy: orderBy, Limit: 10, Postgres: postgres})
		},
		"evaluation_datasets": func() (Query, error) {
			return EvaluationDatasets(EvaluationDatasetsRequest{ExperimentIDs: []int64{1}, Filter: filter, OrderBy: orderBy, Limit: 10})
		},
		"logged_models": func() (Query, error) {
			return LoggedModels(LoggedModelsRequest{
				ExperimentIDs: []int64{1}, Filter: filter, Limit: 10,
				Datasets: []LoggedModelDataset{{DatasetName: "d"}},
				OrderBy:  []LoggedModelOrder{{FieldName: order, DatasetName: "d"}},
			})
		},
	}
}

// checkCompiled fails unless err is INVALID_PARAMETER_VALUE or q runs.
func checkCompiled(t *testing.T, db *meta.DB, what string, q Query, err error) {
	t.Helper()
	if err != nil {
		if errs.KindOf(err) != errs.Invalid || errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
			t.Fatalf("%s: error %v is not INVALID_PARAMETER_VALUE", what, err)
		}
		return
	}
	if len(q.Args) > 30000 {
		t.Fatalf("%s: %d arguments", what, len(q.Args))
	}
	for i := range q.Args {
		// Every argument is used ($1 must not be found as part of $10).
		p := fmt.Sprintf("$%d", i+1)
		used := false
		for rest := q.SQL; !used; {
			j := strings.Index(rest, p)
			if j < 0 {
				break
			}
			rest = rest[j+len(p):]
			used = rest == "" || rest[0] < '0' || rest[0] > '9'
		}
		if !used {
			t.Fatalf("%s: argument %s is not in %s", what, p, q.SQL)
		}
	}
	rows, err := db.QueryContext(context.Background(), q.SQL, q.Args...)
	if err != nil {
		t.Fatalf("%s: the database rejects the query: %v\n%s\n%v", what, err, q.SQL, q.Args)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, q.SQL)
	}
	rows.Close()
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		cs, err := ParseFilter(filter)
		if err != nil {
			if errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
				t.Fatalf("error %v without INVALID_PARAMETER_VALUE", err)
			}
			return
		}
		for _, c := range cs {
			if c.Pos < 0 || c.Pos >= c.End || c.End > len(filter) {
				t.Fatalf("bad positions %d..%d in %q", c.Pos, c.End, filter)
			}
			if (c.Op == OpIn || c.Op == OpNotIn) != (c.Value.Kind == ListValue) {
				t.Fatalf("%s with %v", c.Op, c.Value)
			}
		}
	})
}

func FuzzParseOrderBy(f *testing.F) {
	for _, s := range orderSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, clause string) {
		if _, err := ParseOrderBy(clause); err != nil && errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
			t.Fatalf("error %v without INVALID_PARAMETER_VALUE", err)
		}
	})
}

func FuzzDecodePageToken(f *testing.F) {
	for _, s := range []string{"", EncodePageToken(0), EncodePageToken(12345), "eyJvZmZzZXQiOiAiNSJ9", "!!", "e30="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		off, err := DecodePageToken(token)
		if err != nil {
			if errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
				t.Fatalf("error %v without INVALID_PARAMETER_VALUE", err)
			}
			return
		}
		if off < 0 || off > maxOffset {
			t.Fatalf("offset %d", off)
		}
		if again, err := DecodePageToken(EncodePageToken(off)); err != nil || again != off {
			t.Fatalf("%d does not round-trip", off)
		}
	})
}

// fuzzCompiler fuzzes one compiler with a filter and an order_by entry,
// running what it compiles on SQLite.
func fuzzCompiler(f *testing.F, entity string) {
	for _, fs := range filterSeeds {
		for _, o := range orderSeeds[:4] {
			f.Add(fs, o)
		}
	}
	for _, o := range orderSeeds {
		f.Add("", o)
	}
	db := fuzzDB(f)
	f.Fuzz(func(t *testing.T, filter, order string) {
		q, err := compileAll(filter, order, false)[entity]()
		checkCompiled(t, db, entity, q, err)
		if entity == "runs" {
			checkRunIDs(t, db, filter, order)
		}
	})
}

func FuzzRuns(f *testing.F)               { fuzzCompiler(f, "runs") }
func FuzzExperiments(f *testing.F)        { fuzzCompiler(f, "experiments") }
func FuzzRegisteredModels(f *testing.F)   { fuzzCompiler(f, "registered_models") }
func FuzzModelVersions(f *testing.F)      { fuzzCompiler(f, "model_versions") }
func FuzzTraces(f *testing.F)             { fuzzCompiler(f, "traces") }
func FuzzLoggedModels(f *testing.F)       { fuzzCompiler(f, "logged_models") }
func FuzzEvaluationDatasets(f *testing.F) { fuzzCompiler(f, "evaluation_datasets") }

// checkRunIDs runs RunIDs, which must fail only with
// INVALID_PARAMETER_VALUE.
func checkRunIDs(t *testing.T, db *meta.DB, filter, order string) {
	t.Helper()
	var orderBy []string
	if order != "" {
		orderBy = []string{order}
	}
	req := RunsRequest{ExperimentIDs: []int64{1, 2}, Filter: filter, OrderBy: orderBy, Limit: 10}
	_, err := RunIDs(context.Background(), db, req)
	if err != nil && (errs.KindOf(err) != errs.Invalid || errs.CodeOf(err) != "INVALID_PARAMETER_VALUE") {
		t.Fatalf("RunIDs(%q, %q): %v", filter, order, err)
	}
	// Every comparison that can drive, driving.
	p, err := newRunsPlan(req)
	if err != nil {
		return
	}
	for j, c := range p.conds {
		if !canDrive(c) {
			continue
		}
		driven, _ := newRunsPlan(req)
		q, err := driven.compile(j)
		checkCompiled(t, db, fmt.Sprintf("runs driven by %q", filter[c.Pos:c.End]), q, err)
	}
}

// TestSeedsRunOnBothEngines runs every seed through every compiler on
// SQLite and PostgreSQL: what compiles must run on both.
func TestSeedsRunOnBothEngines(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		for _, fs := range filterSeeds {
			for _, o := range orderSeeds {
				for entity, compile := range compileAll(fs, o, db.Dialect == meta.Postgres) {
					q, err := compile()
					checkCompiled(t, db, entity+" "+fs+" | "+o, q, err)
				}
				checkRunIDs(t, db, fs, o)
			}
		}
	})
}
