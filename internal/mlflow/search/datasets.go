package search

import "strings"

// EvaluationDatasetsRequest is a search_datasets call (MLflow 3's
// evaluation datasets): a filter on the attributes name, created_time,
// last_update_time, created_by and last_updated_by and on tags.<key>,
// order_by on name, created_time and last_update_time, and the
// experiments the datasets must be linked to (none: any).
type EvaluationDatasetsRequest struct {
	ExperimentIDs []int64
	Filter        string
	OrderBy       []string
	Offset, Limit int
}

// datasetAttr is an evaluation dataset attribute of filters and order_by.
type datasetAttr struct {
	col     string
	numeric bool
	list    bool // IN allowed
	order   bool // allowed in order_by
}

func lookupDatasetAttr(key string) (datasetAttr, bool) {
	switch key {
	case "name":
		return datasetAttr{col: "d.name", list: true, order: true}, true
	case "created_time":
		return datasetAttr{col: "d.created_time", numeric: true, order: true}, true
	case "last_update_time":
		return datasetAttr{col: "d.last_update_time", numeric: true, order: true}, true
	case "created_by":
		return datasetAttr{col: "d.created_by"}, true
	case "last_updated_by":
		return datasetAttr{col: "d.last_updated_by"}, true
	}
	return datasetAttr{}, false
}

const datasetAttrNames = "name, created_time, last_update_time, created_by, last_updated_by"

func resolveDataset(ck checker, c Comparison) (cond, error) {
	kind, ok := experimentKind(c.Entity) // attribute, tag and tags, as for experiments
	if !ok {
		return cond{}, ck.errf(c, "Invalid entity type '%s'. Valid entity types are attribute and tags", c.Entity)
	}
	rc := cond{Comparison: c, kind: kind, key: c.Key}
	if kind == tagKey {
		return rc, ck.apply(c, rule{what: "tag '" + c.Key + "'", ops: stringOps})
	}
	a, ok := lookupDatasetAttr(c.Key)
	if !ok {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are: %s", c.Key, datasetAttrNames)
	}
	switch {
	case a.numeric:
		if err := ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: numericOps, numeric: true}); err != nil {
			return rc, err
		}
		if _, ok := c.Value.isInt(); !ok {
			return rc, ck.errf(c, "Invalid value for numeric attribute '%s': %s is not an integer", c.Key, c.Value.Text)
		}
		return rc, nil
	case a.list:
		if c.Op == OpNotIn {
			return rc, ck.errf(c, "List values for 'name' are only supported with the IN comparator.")
		}
		return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: listOps})
	}
	return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: stringOps})
}

// EvaluationDatasets compiles a datasets search to a query that selects
// mlflow_eval_datasets.dataset_id of one page, in order. MLflow's default
// order is created_time DESC; dataset_id DESC breaks ties.
func EvaluationDatasets(req EvaluationDatasetsRequest) (Query, error) {
	conds, err := parseConds(req.Filter, resolveDataset)
	if err != nil {
		return Query{}, err
	}
	orderBy := req.OrderBy
	if len(orderBy) == 0 {
		orderBy = []string{"created_time DESC"}
	}
	var orders []string
	seen := orderSeen{}
	for _, ob := range orderBy {
		t, err := ParseOrderBy(ob)
		if err != nil {
			return Query{}, err
		}
		kind, ok := experimentKind(t.Entity)
		a, found := lookupDatasetAttr(t.Key)
		if !ok || kind != attrKey || !found || !a.order {
			return Query{}, invalidf("Invalid order by key in %s. Valid keys are name, created_time and last_update_time", quote(ob))
		}
		if err := seen.add(a.col, orderBy); err != nil {
			return Query{}, err
		}
		orders = append(orders, a.col+dir(t.Desc))
	}
	orders = append(orders, "d.dataset_id DESC")

	var b sqlb
	var ands []string
	if req.ExperimentIDs != nil {
		ands = append(ands, "EXISTS (SELECT 1 FROM mlflow_eval_dataset_experiments x WHERE x.dataset_id = d.dataset_id AND "+
			b.inExperiments("x.experiment_id", req.ExperimentIDs)+")")
	}
	for _, c := range conds {
		var s string
		var err error
		if c.kind == tagKey {
			s, err = keyValueCond(&b, "mlflow_eval_dataset_tags", "t", "t.dataset_id = d.dataset_id", c)
		} else {
			a, _ := lookupDatasetAttr(c.key)
			if a.numeric {
				s = b.integer(a.col, c.Op, c.Value)
			} else {
				s, err = b.str(a.col, c.Op, c.Value)
			}
		}
		if err != nil {
			return Query{}, err
		}
		ands = append(ands, s)
	}
	sql := "SELECT d.dataset_id FROM mlflow_eval_datasets d" + where(ands) + " ORDER BY " + strings.Join(orders, ", ")
	return Query{SQL: b.page(sql, req.Offset, req.Limit), Args: b.args}, nil
}
