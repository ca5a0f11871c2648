package search

import (
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

// TestEntityErrors checks the per-entity rules beyond what the oracle
// covers, and that every error is INVALID_PARAMETER_VALUE naming what is
// wrong and the clause.
func TestEntityErrors(t *testing.T) {
	runs := func(f string, o ...string) error {
		_, err := Runs(RunsRequest{ExperimentIDs: []int64{1}, Filter: f, OrderBy: o})
		return err
	}
	exps := func(f string, o ...string) error {
		_, err := Experiments(ExperimentsRequest{Filter: f, OrderBy: o})
		return err
	}
	models := func(f string, o ...string) error {
		_, err := RegisteredModels(RegisteredModelsRequest{Filter: f, OrderBy: o})
		return err
	}
	versions := func(f string, o ...string) error {
		_, err := ModelVersions(ModelVersionsRequest{Filter: f, OrderBy: o})
		return err
	}
	traces := func(f string, o ...string) error {
		_, err := Traces(TracesRequest{ExperimentIDs: []int64{1}, Filter: f, OrderBy: o})
		return err
	}
	logged := func(f string, o ...LoggedModelOrder) error {
		_, err := LoggedModels(LoggedModelsRequest{ExperimentIDs: []int64{1}, Filter: f, OrderBy: o})
		return err
	}
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"metric with string", runs("metrics.acc = '1'"), []string{"Expected a numeric value for metric 'acc'", "'metrics.acc = '1''"}},
		{"metric comparator", runs("metrics.acc == 1"), []string{"Invalid comparator '==' for metric 'acc'", "=, !=, <, <=, >, >="}},
		{"metric NOT LIKE", runs("metrics.acc NOT LIKE 1"), []string{"Invalid comparator 'NOT LIKE'"}},
		{"param with number", runs("params.lr = 0.1"), []string{"Expected a quoted string value for parameter 'lr'", "got 0.1"}},
		{"param IN", runs("params.lr IN ('a')"), []string{"Invalid comparator 'IN' for parameter 'lr'"}},
		{"status IN", runs("status IN ('a')"), []string{"Invalid comparator 'IN' for attribute 'status'"}},
		{"start_time string", runs("start_time > '1'"), []string{"Expected a numeric value for attribute 'start_time'"}},
		{"unknown attribute", runs("attributes.foo = 'x'"), []string{"Invalid attribute key 'foo'", "run_id, run_name"}},
		{"unknown entity", runs("foo.bar = 'x'"), []string{"Invalid entity type 'foo'"}},
		{"metric IS NULL", runs("metrics.x IS NULL"), []string{"only supported for tags and params"}},
		{"dataset key", runs("datasets.foo = 'x'"), []string{"Invalid dataset key 'foo'"}},
		{"RLIKE on runs", runs("tags.x RLIKE 'a'"), []string{"Invalid comparator 'RLIKE'"}},
		{"LIKE ending in escape", runs(`params.x LIKE 'a\'`), []string{"ends with the escape character"}},
		{"ILIKE ending in escape", runs(`tags.x ILIKE 'a\\\'`), []string{"ends with the escape character"}},
		{"order by dataset", runs("", "datasets.name"), []string{"runs can be ordered by attributes, metrics, params and tags"}},
		{"order by unknown attribute", runs("", "lifecycle_stage"), []string{"invalid attribute key 'lifecycle_stage'"}},
		{"duplicate order", runs("", "metrics.a", "metrics.a DESC"), []string{"`order_by` contains duplicate fields"}},
		{"duplicate order alias", runs("", "created", "attributes.start_time"), []string{"duplicate"}},
		{"bad view type", func() error { _, err := Runs(RunsRequest{ViewType: "SOME"}); return err }(), []string{"Invalid view type 'SOME'"}},

		{"experiments attributes prefix", exps("attributes.name = 'x'"), []string{"Invalid entity type 'attributes'"}},
		{"experiments id", exps("experiment_id = 'abc'"), []string{"Invalid experiment ID 'abc'"}},
		{"experiments id in list", exps("experiment_id IN ('1', 'x')"), []string{"Invalid experiment ID 'x'"}},
		{"experiments id number", exps("experiment_id = 1"), []string{"Expected a quoted string value for attribute 'experiment_id'"}},
		{"experiments id comparator", exps("experiment_id > '1'"), []string{"Invalid comparator '>'"}},
		{"experiments float time", exps("creation_time > 1.5"), []string{"'creation_time': 1.5 is not an integer"}},
		{"experiments order by tag", exps("", "tags.x"), []string{"experiments can be ordered by"}},
		{"experiments IS NULL on name", exps("name IS NULL"), []string{"only supported for tags"}},

		{"models numeric", models("name = 1"), []string{"Expected a quoted string value for attribute 'name'"}},
		{"models attribute", models("creation_timestamp > 1"), []string{"Invalid attribute key 'creation_timestamp'"}},
		{"models tag IS NULL", models("tags.x IS NULL"), []string{"Invalid comparator 'IS NULL' for tag 'x'"}},
		{"models order", models("", "tags.x"), []string{"Invalid order by key"}},
		{"models order duplicate", models("", "timestamp", "last_updated_timestamp DESC"), []string{"duplicate"}},

		{"versions float", versions("version_number = 1.5"), []string{"1.5 is not an integer"}},
		{"versions string", versions("version_number = 'x'"), []string{"Invalid value for numeric attribute 'version_number'"}},
		{"versions numeric run_id", versions("run_id = 1"), []string{"Only the 'version_number' attribute supports comparison with numeric values"}},
		{"versions source IN", versions("source_path IN ('x')"), []string{"Invalid comparator 'IN' for attribute 'source_path'"}},
		{"versions order", versions("", "run_id"), []string{"Invalid order by key"}},

		{"traces span", traces("span.name = 'x'"), []string{"span.* is not supported"}},
		{"traces feedback", traces("feedback.rating > 1"), []string{"feedback.* is not supported"}},
		{"traces RLIKE", traces("tags.x RLIKE 'a'"), []string{"RLIKE is not supported"}},
		{"traces text", traces("text LIKE '%a%'"), []string{"'text' is not supported"}},
		{"traces attribute", traces("experiment_id = 1"), []string{"Invalid attribute key 'experiment_id'"}},
		{"traces numeric with string", traces("timestamp_ms > 'x'"), []string{"Expected a numeric value for attribute 'timestamp_ms'"}},
		{"traces tag IN", traces("tags.x IN ('a')"), []string{"Invalid comparator 'IN' for tag 'x'"}},
		{"traces metadata IN", traces("metadata.x IN ('a')"), []string{"Invalid comparator 'IN' for metadata 'x'"}},
		{"traces status IS NULL", traces("status IS NULL"), []string{"only supported for tags and metadata"}},
		{"traces order entity", traces("", "span.name"), []string{"span.* is not supported"}},
		{"traces order duplicate", traces("", "timestamp", "timestamp_ms DESC"), []string{"duplicate"}},

		{"logged entity", logged("metric.acc > 1"), []string{"Invalid entity type 'metric'"}},
		{"logged attribute", logged("foo = 'x'"), []string{"Invalid attribute key 'foo'"}},
		{"logged metric string", logged("metrics.acc > 'x'"), []string{"Expected a numeric value for metric 'acc'"}},
		{"logged order entity", logged("", LoggedModelOrder{FieldName: "params.x"}), []string{"only `metrics.<name>` is allowed"}},
		{"logged order field", logged("", LoggedModelOrder{FieldName: "foo"}), []string{"Invalid order by field name: 'foo'"}},
		{"logged order digest", logged("", LoggedModelOrder{FieldName: "metrics.a", DatasetDigest: "d"}), []string{"`dataset_digest` can only be specified"}},
		{"logged dataset name", func() error {
			_, err := LoggedModels(LoggedModelsRequest{Datasets: []LoggedModelDataset{{DatasetDigest: "d"}}})
			return err
		}(), []string{"`dataset_name` in the `datasets` clause must be specified"}},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if errs.KindOf(tt.err) != errs.Invalid || errs.CodeOf(tt.err) != "INVALID_PARAMETER_VALUE" {
			t.Errorf("%s: %v is not INVALID_PARAMETER_VALUE", tt.name, tt.err)
		}
		for _, w := range tt.want {
			if !strings.Contains(errs.Message(tt.err), w) {
				t.Errorf("%s: %q does not say %q", tt.name, errs.Message(tt.err), w)
			}
		}
	}
}

// TestValuesAreBound checks that no value from a filter reaches the SQL
// text: each is a bind argument.
func TestValuesAreBound(t *testing.T) {
	const marker = "zq'x; DROP TABLE mlflow_runs; --"
	q, err := Runs(RunsRequest{
		ExperimentIDs: []int64{1, 2},
		Filter: `params.p = "` + marker + `" AND tags.t LIKE "` + marker + `%" AND run_name ILIKE "` + marker +
			`" AND datasets.name IN ("` + marker + `") AND tags.` + "`k" + marker + "`" + ` = 'v'`,
		OrderBy: []string{"tags.`" + marker + "` DESC"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(q.SQL, "zq") || strings.Contains(q.SQL, "DROP") {
		t.Fatalf("user input in SQL: %s", q.SQL)
	}
	found := 0
	for _, a := range q.Args {
		if s, ok := a.(string); ok && strings.Contains(s, "zq") {
			found++
		}
	}
	if found < 6 {
		t.Errorf("the values are not all among the arguments: %v", q.Args)
	}
}
