package search

// runAttr is a run attribute that filters and order_by may name.
type runAttr struct {
	name     string // canonical name, as MLflow translates aliases
	col      string
	numeric  bool // an integer column compared with numbers
	list     bool // IN and NOT IN allowed
	nullable bool
}

// lookupRunAttr resolves an attribute key and its aliases (created for
// start_time, "run name" for run_name).
func lookupRunAttr(key string) (runAttr, bool) {
	switch key {
	case "run_id":
		return runAttr{name: "run_id", col: "r.run_uuid", list: true}, true
	case "run_name", "run name", "Run name", "Run Name":
		// MLflow filters run names through the mlflow.runName tag because
		// runs logged by MLflow <= 1.29 have no name column; arca's runs
		// always have one, kept equal to that tag by the tracking code.
		return runAttr{name: "run_name", col: "r.name"}, true
	case "status":
		return runAttr{name: "status", col: "r.status"}, true
	case "user_id":
		return runAttr{name: "user_id", col: "r.user_id"}, true
	case "artifact_uri":
		return runAttr{name: "artifact_uri", col: "r.artifact_uri"}, true
	case "start_time", "created", "Created":
		return runAttr{name: "start_time", col: "r.start_time", numeric: true, nullable: true}, true
	case "end_time":
		return runAttr{name: "end_time", col: "r.end_time", numeric: true, nullable: true}, true
	}
	return runAttr{}, false
}

const runAttrNames = "run_id, run_name, status, user_id, artifact_uri, start_time, end_time (and the aliases created, 'run name')"

// runKind maps an identifier prefix of a runs search to what it names.
func runKind(entity string) (keyKind, bool) {
	switch entity {
	case "", "attribute", "attributes", "attr", "run":
		return attrKey, true
	case "metric", "metrics":
		return metricKey, true
	case "parameter", "parameters", "param", "params":
		return paramKey, true
	case "tag", "tags":
		return tagKey, true
	case "dataset", "datasets":
		return datasetKey, true
	}
	return 0, false
}

func resolveRun(ck checker, c Comparison) (cond, error) {
	kind, ok := runKind(c.Entity)
	if !ok {
		return cond{}, ck.errf(c, "Invalid entity type '%s'. Valid values are metrics, params, tags, attributes and datasets", c.Entity)
	}
	rc := cond{Comparison: c, kind: kind, key: c.Key}
	if (c.Op == OpIsNull || c.Op == OpIsNotNull) && kind != paramKey && kind != tagKey {
		return rc, ck.errf(c, "IS NULL / IS NOT NULL is only supported for tags and params, not for %s '%s'", kind, c.Key)
	}
	switch kind {
	case metricKey:
		return rc, ck.apply(c, rule{what: "metric '" + c.Key + "'", ops: numericOps, numeric: true})
	case paramKey, tagKey:
		return rc, ck.apply(c, rule{what: kind.String() + " '" + c.Key + "'", ops: nullableOps})
	case datasetKey:
		switch c.Key {
		case "name", "digest", "context":
		default:
			return rc, ck.errf(c, "Invalid dataset key '%s' specified. Valid keys are name, digest and context", c.Key)
		}
		return rc, ck.apply(c, rule{what: "dataset " + c.Key, ops: listOps})
	}
	a, ok := lookupRunAttr(c.Key)
	if !ok {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are %s", c.Key, runAttrNames)
	}
	rc.key = a.name
	r := rule{what: "attribute '" + c.Key + "'", ops: stringOps}
	switch {
	case a.numeric:
		r.ops, r.numeric = numericOps, true
	case a.list:
		r.ops = listOps
	}
	return rc, ck.apply(c, r)
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// runValueCond is the condition on the value of row alias (a latest
// metric, param or tag with c's key). nanPossible reports whether a NaN
// metric can satisfy it.
func runValueCond(b *sqlb, alias string, c cond) (s string, nanPossible bool, err error) {
	if c.kind == metricKey {
		s, nanPossible = metricCond(b, alias, c.Op, c.Value.Num)
		return s, nanPossible, nil
	}
	s, err = b.str(alias+".value", c.Op, c.Value)
	return s, false, err
}

// metricCond compares metric rows (value, is_nan) as MLflow does: a NaN
// (stored as 0 with is_nan = 1) satisfies only !=.
func metricCond(b *sqlb, alias string, op Op, v float64) (string, bool) {
	if op == OpNe {
		return "(" + alias + ".value <> " + b.arg(v) + " OR " + alias + ".is_nan <> 0)", true
	}
	return b.real(alias+".value", op, v) + " AND " + alias + ".is_nan = 0", false
}

// runCond is the WHERE condition of one filter comparison.
func runCond(b *sqlb, c cond) (string, error) {
	switch c.kind {
	case metricKey:
		s, _ := metricCond(b, "m", c.Op, c.Value.Num)
		return "EXISTS (SELECT 1 FROM mlflow_latest_metrics m WHERE m.run_id = r.id AND m.key = " + b.arg(c.key) + " AND " + s + ")", nil
	case paramKey, tagKey:
		table := "mlflow_params"
		if c.kind == tagKey {
			table = "mlflow_run_tags"
		}
		return keyValueCond(b, table, "p", "p.run_id = r.id", c)
	case datasetKey:
		col := map[string]string{"name": "d.name", "digest": "d.digest", "context": "i.context"}[c.key]
		s, err := b.str(col, c.Op, c.Value)
		if err != nil {
			return "", err
		}
		return "EXISTS (SELECT 1 FROM mlflow_run_inputs i JOIN mlflow_datasets d ON d.id = i.dataset_id WHERE i.run_id = r.id AND " + s + ")", nil
	}
	a, _ := lookupRunAttr(c.key)
	if a.numeric {
		return b.integer(a.col, c.Op, c.Value), nil
	}
	return b.str(a.col, c.Op, c.Value)
}

// keyValueCond is the condition of a comparison on a key-value table
// (params, tags): the row must exist (or, for IS NULL, must not) and
// its value must compare.
func keyValueCond(b *sqlb, table, alias, link string, c cond) (string, error) {
	sub := "SELECT 1 FROM " + table + " " + alias + " WHERE " + link + " AND " + alias + ".key = " + b.arg(c.key)
	switch c.Op {
	case OpIsNull:
		return "NOT EXISTS (" + sub + ")", nil
	case OpIsNotNull:
		return "EXISTS (" + sub + ")", nil
	}
	s, err := b.str(alias+".value", c.Op, c.Value)
	if err != nil {
		return "", err
	}
	return "EXISTS (" + sub + " AND " + s + ")", nil
}
