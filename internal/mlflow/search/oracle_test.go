package search

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestOracle loads the fixture that oracle.py created in real MLflow and
// checks that every search case returns what MLflow returned, in the same
// order, or is rejected where MLflow rejected it, on both engines.
func TestOracle(t *testing.T) {
	f := readFixture(t)
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		n := f.load(t, db)
		for _, c := range f.Cases {
			name := fmt.Sprintf("%s %q %v %s %v", c.Entity, c.Filter, c.OrderBy, c.ViewType, c.Experiments)
			got, err := runCase(db, n, c)
			if c.Error != "" {
				if err == nil {
					t.Errorf("%s: MLflow rejects it (%s) but arca returned %v", name, c.Error, got)
				} else if errs.KindOf(err) != errs.Invalid || errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
					t.Errorf("%s: error %v is not INVALID_PARAMETER_VALUE", name, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if !slices.Equal(got, c.Result) {
				t.Errorf("%s:\n got %v\nwant %v (MLflow)", name, got, c.Result)
			}
		}
	})
}

// runCase compiles and runs one case and names the rows it returns.
func runCase(db *meta.DB, n *names, c oracleCase) ([]string, error) {
	filter := n.replace(c.Filter)
	order := make([]string, len(c.OrderBy))
	for i, o := range c.OrderBy {
		order[i] = n.replace(o)
	}
	var q Query
	var err error
	switch c.Entity {
	case "runs":
		var ids []int64
		for _, e := range c.Experiments {
			for id, name := range n.experiments {
				if name == e {
					ids = append(ids, id)
				}
			}
		}
		q, err = Runs(RunsRequest{ExperimentIDs: ids, ViewType: c.ViewType, Filter: filter, OrderBy: order})
	case "experiments":
		q, err = Experiments(ExperimentsRequest{ViewType: c.ViewType, Filter: filter, OrderBy: order})
	case "registered_models":
		q, err = RegisteredModels(RegisteredModelsRequest{Filter: filter, OrderBy: order})
	case "model_versions":
		q, err = ModelVersions(ModelVersionsRequest{Filter: filter, OrderBy: order})
	default:
		return nil, fmt.Errorf("unknown entity %s", c.Entity)
	}
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(context.Background(), q.SQL, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("query failed: %v\n%s", err, q.SQL)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		if c.Entity == "model_versions" {
			var k [2]int64
			if err := rows.Scan(&k[0], &k[1]); err != nil {
				return nil, err
			}
			out = append(out, n.versions[k])
			continue
		}
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		switch c.Entity {
		case "runs":
			out = append(out, n.runs[id])
		case "experiments":
			out = append(out, n.experiments[id])
		default:
			out = append(out, n.models[id])
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, rows.Err()
}

