package search

import (
	"strconv"
	"strings"
)

// experimentAttr is an experiment attribute of filters and order_by.
type experimentAttr struct {
	col     string
	numeric bool // an integer column compared with integers
	id      bool // experiment_id: quoted integers, IN allowed
}

func lookupExperimentAttr(key string) (experimentAttr, bool) {
	switch key {
	case "name":
		return experimentAttr{col: "e.name"}, true
	case "experiment_id":
		return experimentAttr{col: "e.id", id: true}, true
	case "creation_time":
		return experimentAttr{col: "e.creation_time", numeric: true}, true
	case "last_update_time":
		return experimentAttr{col: "e.last_update_time", numeric: true}, true
	}
	return experimentAttr{}, false
}

const experimentAttrNames = "name, experiment_id, creation_time, last_update_time"

// experimentKind maps an identifier prefix of an experiments search:
// MLflow accepts only attribute, tag and tags there.
func experimentKind(entity string) (keyKind, bool) {
	switch entity {
	case "", "attribute":
		return attrKey, true
	case "tag", "tags":
		return tagKey, true
	}
	return 0, false
}

func resolveExperiment(ck checker, c Comparison) (cond, error) {
	kind, ok := experimentKind(c.Entity)
	if !ok {
		return cond{}, ck.errf(c, "Invalid entity type '%s'. Valid entity types are attribute, tag and tags", c.Entity)
	}
	rc := cond{Comparison: c, kind: kind, key: c.Key}
	if kind == tagKey {
		return rc, ck.apply(c, rule{what: "tag '" + c.Key + "'", ops: nullableOps})
	}
	a, ok := lookupExperimentAttr(c.Key)
	if !ok {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are %s", c.Key, experimentAttrNames)
	}
	if c.Op == OpIsNull || c.Op == OpIsNotNull {
		return rc, ck.errf(c, "IS NULL / IS NOT NULL is only supported for tags, not for attribute '%s'", c.Key)
	}
	switch {
	case a.numeric:
		if err := ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: numericOps, numeric: true}); err != nil {
			return rc, err
		}
		if _, ok := c.Value.isInt(); !ok {
			return rc, ck.errf(c, "Invalid value for numeric attribute '%s': %s is not an integer", c.Key, c.Value.Text)
		}
	case a.id:
		if err := ck.apply(c, rule{what: "attribute 'experiment_id'", ops: []Op{OpEq, OpNe, OpIn, OpNotIn}}); err != nil {
			return rc, err
		}
		vals := c.Value.List
		if c.Value.Kind == StringValue {
			vals = []string{c.Value.Text}
		}
		for _, v := range vals {
			if _, err := parseID(v); err != nil {
				return rc, ck.errf(c, "Invalid experiment ID '%s'. Experiment ID must be a valid integer", v)
			}
		}
	default:
		return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: stringOps})
	}
	return rc, nil
}

// Experiments compiles an experiments search to a query that selects
// mlflow_experiments.id of one page, in order. MLflow's default order is
// creation_time DESC, experiment_id ASC; an order_by without
// experiment_id gets experiment_id DESC as its tie-breaker.
func Experiments(req ExperimentsRequest) (Query, error) {
	conds, err := parseConds(req.Filter, resolveExperiment)
	if err != nil {
		return Query{}, err
	}
	stage, err := viewStages("e.lifecycle_stage", req.ViewType)
	if err != nil {
		return Query{}, err
	}
	orderBy := req.OrderBy
	if len(orderBy) == 0 {
		orderBy = []string{"creation_time DESC", "experiment_id ASC"}
	}
	var orders []string
	idOrdered := false
	for _, ob := range orderBy {
		t, err := ParseOrderBy(ob)
		if err != nil {
			return Query{}, err
		}
		kind, ok := experimentKind(t.Entity)
		if !ok || kind != attrKey {
			return Query{}, invalidf("Invalid order_by clause %s: experiments can be ordered by the attributes %s", quote(ob), experimentAttrNames)
		}
		a, ok := lookupExperimentAttr(t.Key)
		if !ok {
			return Query{}, invalidf("Invalid order_by clause %s: invalid attribute key '%s'. Valid keys are %s", quote(ob), t.Key, experimentAttrNames)
		}
		idOrdered = idOrdered || a.id
		orders = append(orders, a.col+dir(t.Desc))
	}
	if !idOrdered {
		orders = append(orders, "e.id DESC")
	}

	var b sqlb
	ands := []string{stage}
	for _, c := range conds {
		s, err := experimentCond(&b, c)
		if err != nil {
			return Query{}, err
		}
		ands = append(ands, s)
	}
	sql := "SELECT e.id FROM mlflow_experiments e" + where(ands) + " ORDER BY " + strings.Join(orders, ", ")
	return Query{SQL: b.page(sql, req.Offset, req.Limit), Args: b.args}, nil
}

func experimentCond(b *sqlb, c cond) (string, error) {
	if c.kind == tagKey {
		return keyValueCond(b, "mlflow_experiment_tags", "t", "t.experiment_id = e.id", c)
	}
	a, _ := lookupExperimentAttr(c.key)
	switch {
	case a.numeric:
		return b.integer(a.col, c.Op, c.Value), nil
	case a.id:
		if c.Value.Kind == StringValue {
			n, _ := parseID(c.Value.Text)
			return a.col + " " + string(c.Op) + " " + b.arg(n), nil
		}
		ids := make([]int64, len(c.Value.List))
		for i, v := range c.Value.List {
			ids[i], _ = parseID(v)
		}
		return a.col + " " + string(c.Op) + " (" + b.int64List(ids) + ")", nil
	}
	return b.str(a.col, c.Op, c.Value)
}

// parseID reads an integer id as Python's int() does (surrounding
// spaces allowed).
func parseID(v string) (int64, error) {
	return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
}
