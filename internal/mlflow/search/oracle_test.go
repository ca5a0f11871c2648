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
			// Page by page, the same rows in the same order.
			for _, limit := range []int{1, 2, 3} {
				var paged []string
				for offset := 0; offset <= len(c.Result); offset += limit {
					page, err := runPage(db, n, c, offset, limit)
					if err != nil {
						t.Fatalf("%s page %d+%d: %v", name, offset, limit, err)
					}
					paged = append(paged, page...)
				}
				if !slices.Equal(paged, c.Result) {
					t.Errorf("%s in pages of %d:\n got %v\nwant %v (MLflow)", name, limit, paged, c.Result)
				}
				if c.Entity != "runs" {
					continue
				}
				// RunIDs, which lets a selective comparison drive.
				var viaIDs []string
				for offset := 0; offset <= len(c.Result); offset += limit {
					page, err := runIDsPage(db, n, c, offset, limit)
					if err != nil {
						t.Fatalf("%s RunIDs page %d+%d: %v", name, offset, limit, err)
					}
					viaIDs = append(viaIDs, page...)
				}
				if !slices.Equal(viaIDs, c.Result) {
					t.Errorf("%s with RunIDs in pages of %d:\n got %v\nwant %v (MLflow)", name, limit, viaIDs, c.Result)
				}
			}
		}
	})
}

// runCase compiles and runs one case and names the rows it returns.
func runCase(db *meta.DB, n *names, c oracleCase) ([]string, error) {
	return runPage(db, n, c, 0, 0)
}

// runIDsPage runs one page of a runs case with RunIDs.
func runIDsPage(db *meta.DB, n *names, c oracleCase, offset, limit int) ([]string, error) {
	order := make([]string, len(c.OrderBy))
	for i, o := range c.OrderBy {
		order[i] = n.replace(o)
	}
	ids, err := RunIDs(context.Background(), db, RunsRequest{ExperimentIDs: experimentIDs(n, c), ViewType: c.ViewType,
		Filter: n.replace(c.Filter), OrderBy: order, Offset: offset, Limit: limit})
	out := []string{}
	for _, id := range ids {
		out = append(out, n.runs[id])
	}
	return out, err
}

func experimentIDs(n *names, c oracleCase) []int64 {
	var ids []int64
	for _, e := range c.Experiments {
		for id, name := range n.experiments {
			if name == e {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// runPage runs one page of a case (limit 0: all rows).
func runPage(db *meta.DB, n *names, c oracleCase, offset, limit int) ([]string, error) {
	filter := n.replace(c.Filter)
	order := make([]string, len(c.OrderBy))
	for i, o := range c.OrderBy {
		order[i] = n.replace(o)
	}
	var q Query
	var err error
	switch c.Entity {
	case "runs":
		q, err = Runs(RunsRequest{ExperimentIDs: experimentIDs(n, c), ViewType: c.ViewType, Filter: filter, OrderBy: order, Offset: offset, Limit: limit})
	case "experiments":
		q, err = Experiments(ExperimentsRequest{ViewType: c.ViewType, Filter: filter, OrderBy: order, Offset: offset, Limit: limit})
	case "registered_models":
		q, err = RegisteredModels(RegisteredModelsRequest{Filter: filter, OrderBy: order, Offset: offset, Limit: limit})
	case "model_versions":
		q, err = ModelVersions(ModelVersionsRequest{Filter: filter, OrderBy: order, Offset: offset, Limit: limit})
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
