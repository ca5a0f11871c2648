package search

import (
	"fmt"
	"strings"
)

// Trace keys that MLflow maps to tags and metadata.
const (
	TraceNameTag      = "mlflow.traceName"
	TraceSourceRunKey = "mlflow.sourceRun"
)

// traceAttr is a trace attribute of filters and order_by.
type traceAttr struct {
	name    string // canonical, as MLflow names it
	col     string
	numeric bool
	list    bool
	unset   bool // '' means not set (NULL in MLflow)
}

func lookupTraceAttr(key string) (traceAttr, bool) {
	switch key {
	case "request_id":
		return traceAttr{name: "request_id", col: "t.trace_id", list: true}, true
	case "client_request_id":
		return traceAttr{name: "client_request_id", col: "t.client_request_id", list: true, unset: true}, true
	case "status":
		return traceAttr{name: "status", col: "t.state", list: true}, true
	case "timestamp", "timestamp_ms":
		return traceAttr{name: "timestamp_ms", col: "t.request_time", numeric: true}, true
	case "execution_time", "execution_time_ms":
		return traceAttr{name: "execution_time_ms", col: "t.execution_duration", numeric: true}, true
	case "end_time", "end_time_ms":
		return traceAttr{name: "end_time_ms", col: "(t.request_time + t.execution_duration)", numeric: true}, true
	case "experiment_id":
		return traceAttr{name: "experiment_id", col: "t.experiment_id", numeric: true}, true
	}
	return traceAttr{}, false
}

const traceAttrNames = "request_id, client_request_id, status, timestamp_ms, execution_time_ms, end_time_ms, name, run_id (and the aliases timestamp, execution_time, end_time)"

// traceKind maps an identifier prefix of a traces search.
func traceKind(entity string) (keyKind, error) {
	switch entity {
	case "", "attribute", "attributes", "trace":
		return attrKey, nil
	case "tag", "tags":
		return tagKey, nil
	case "metadata", "request_metadata":
		return metadataKey, nil
	case "span", "feedback", "expectation", "issue", "assessment":
		return 0, fmt.Errorf("filtering traces on %s.* is not supported by this server", entity)
	}
	return 0, fmt.Errorf("Invalid entity type '%s'. Valid values are attributes, tags and metadata", entity)
}

// traceRedirect maps the attribute names MLflow stores elsewhere: name
// is the tag mlflow.traceName and run_id the metadata mlflow.sourceRun.
func traceRedirect(kind keyKind, key string) (keyKind, string) {
	if kind == attrKey {
		switch key {
		case "name":
			return tagKey, TraceNameTag
		case "run_id":
			return metadataKey, TraceSourceRunKey
		}
	}
	return kind, key
}

// isRunIDAttr reports whether c filters on the attribute run_id (which
// traceRedirect maps to the metadata mlflow.sourceRun).
func isRunIDAttr(c Comparison) bool {
	kind, err := traceKind(c.Entity)
	return err == nil && kind == attrKey && c.Key == "run_id"
}

func resolveTrace(ck checker, c Comparison) (cond, error) {
	kind, err := traceKind(c.Entity)
	if err != nil {
		return cond{}, ck.errf(c, "%s", err)
	}
	kind, key := traceRedirect(kind, c.Key)
	rc := cond{Comparison: c, kind: kind, key: key}
	if c.Op == OpRLike {
		return rc, ck.errf(c, "RLIKE is not supported by this server; use LIKE or ILIKE")
	}
	switch kind {
	case tagKey, metadataKey:
		return rc, ck.apply(c, rule{what: kind.String() + " '" + key + "'", ops: nullableOps})
	}
	switch key {
	case "prompt":
		// prompt = "name/version": traces linked to that prompt version
		// (LinkPromptsToTrace).
		if c.Op != OpEq {
			return rc, ck.errf(c, "Invalid comparator '%s' for prompts filter. Only '=' is supported with format: prompt = \"name/version\"", c.Op)
		}
		if err := ck.apply(c, rule{what: "attribute 'prompt'", ops: []Op{OpEq}}); err != nil {
			return rc, err
		}
		if strings.Count(c.Value.Text, "/") != 1 {
			return rc, ck.errf(c, "Invalid prompts filter value '%s'. Expected format: prompt = \"name/version\"", c.Value.Text)
		}
		return rc, nil
	case "text":
		return rc, ck.errf(c, "filtering traces on '%s' is not supported by this server", key)
	}
	a, ok := lookupTraceAttr(key)
	if !ok || a.name == "experiment_id" {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are %s", c.Key, traceAttrNames)
	}
	rc.key = a.name
	if c.Op == OpIsNull || c.Op == OpIsNotNull {
		return rc, ck.errf(c, "IS NULL / IS NOT NULL is only supported for tags and metadata, not for attribute '%s'", c.Key)
	}
	switch {
	case a.numeric:
		return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: numericOps, numeric: true})
	case a.list:
		return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: listOps})
	}
	return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: stringOps})
}

// metadataExpr is the SQL of metadata value key of trace t, bound as
// an argument. SQLite reads the JSON with json_extract and a quoted path
// (so that keys with dots are one label); PostgreSQL with jsonb's ->>.
func metadataExpr(b *sqlb, key string, postgres bool) string {
	if postgres {
		return "(CAST(t.trace_metadata AS jsonb) ->> " + b.arg(key) + ")"
	}
	path := `$."` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
	return "json_extract(t.trace_metadata, " + b.arg(path) + ")"
}

// Traces compiles a traces search to a query that selects
// mlflow_traces.trace_id of one page, in order: the order_by keys (tags
// and metadata missing last), then timestamp_ms DESC and request_id
// (unless ordered by already).
func Traces(req TracesRequest) (Query, error) {
	conds, err := parseConds(req.Filter, resolveTrace)
	if err != nil {
		return Query{}, err
	}
	var b sqlb
	var joins, orders []string
	seen := orderSeen{}
	for i, ob := range req.OrderBy {
		t, err := ParseOrderBy(ob)
		if err != nil {
			return Query{}, err
		}
		kind, err := traceKind(t.Entity)
		if err != nil {
			return Query{}, invalidf("Invalid order_by clause %s: %s", quote(ob), err)
		}
		kind, key := traceRedirect(kind, t.Key)
		if err := seen.add(kind.String()+"."+key, req.OrderBy); err != nil {
			return Query{}, err
		}
		switch kind {
		case tagKey:
			alias := fmt.Sprintf("o%d", i)
			joins = append(joins, "LEFT JOIN mlflow_trace_tags "+alias+" ON "+alias+".trace_id = t.trace_id AND "+alias+".key = "+b.arg(key))
			orders = append(orders, alias+".value"+dir(t.Desc)+" NULLS LAST")
		case metadataKey:
			orders = append(orders, metadataExpr(&b, key, req.Postgres)+dir(t.Desc)+" NULLS LAST")
		default:
			a, ok := lookupTraceAttr(key)
			if !ok {
				return Query{}, invalidf("Invalid order_by clause %s: invalid attribute key '%s'. Valid keys are experiment_id, %s", quote(ob), t.Key, traceAttrNames)
			}
			if a.name != key {
				// An alias: record the canonical name too, so that
				// "timestamp" and "timestamp_ms" count as one field.
				if err := seen.add("attribute."+a.name, req.OrderBy); err != nil {
					return Query{}, err
				}
			}
			orders = append(orders, a.col+dir(t.Desc))
		}
	}
	if !seen["attribute.timestamp_ms"] {
		orders = append(orders, "t.request_time DESC")
	}
	if !seen["attribute.request_id"] {
		orders = append(orders, "t.trace_id ASC")
	}

	ands := []string{b.inExperiments("t.experiment_id", req.ExperimentIDs)}
	for _, c := range conds {
		var s string
		var err error
		switch c.kind {
		case tagKey:
			s, err = keyValueCond(&b, "mlflow_trace_tags", "tt", "tt.trace_id = t.trace_id", c)
		case metadataKey:
			expr := metadataExpr(&b, c.key, req.Postgres)
			switch c.Op {
			case OpIsNull:
				s = expr + " IS NULL"
			case OpIsNotNull:
				s = expr + " IS NOT NULL"
			default:
				s, err = b.str(expr, c.Op, c.Value)
				if err == nil && isRunIDAttr(c.Comparison) && c.Op == OpEq {
					// run_id also finds traces linked to the run (link-to-run).
					s = "(" + s + " OR EXISTS (SELECT 1 FROM mlflow_trace_runs lr WHERE lr.trace_id = t.trace_id AND lr.run_uuid = " +
						b.arg(c.Value.Text) + "))"
				}
			}
		default:
			a, _ := lookupTraceAttr(c.key)
			switch {
			case c.key == "prompt":
				name, version, _ := strings.Cut(c.Value.Text, "/")
				s = "EXISTS (SELECT 1 FROM mlflow_trace_prompts lp WHERE lp.trace_id = t.trace_id AND lp.prompt_name = " +
					b.arg(name) + " AND lp.prompt_version = " + b.arg(version) + ")"
			case a.numeric:
				s = b.integer(a.col, c.Op, c.Value)
			case a.unset:
				s, err = b.strOrNull(a.col, c.Op, c.Value)
			default:
				s, err = b.str(a.col, c.Op, c.Value)
			}
		}
		if err != nil {
			return Query{}, err
		}
		ands = append(ands, s)
	}
	sql := "SELECT t.trace_id FROM mlflow_traces t"
	if len(joins) > 0 {
		sql += " " + strings.Join(joins, " ")
	}
	sql += where(ands) + " ORDER BY " + strings.Join(orders, ", ")
	return Query{SQL: b.page(sql, req.Offset, req.Limit), Args: b.args}, nil
}
