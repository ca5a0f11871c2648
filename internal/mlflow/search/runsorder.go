package search

import (
	"fmt"
	"strings"
)

// runOrder is one checked order_by term of a runs search.
type runOrder struct {
	kind keyKind // attrKey, metricKey, paramKey or tagKey
	key  string  // the user's key, or the attribute's canonical name
	attr runAttr // attributes only
	desc bool
}

// sortKey is one ORDER BY expression and its direction.
type sortKey struct {
	expr, dir string // dir: " ASC", " DESC", possibly with " NULLS LAST"
}

func (k sortKey) String() string { return k.expr + k.dir }

func parseRunOrders(orderBy []string) ([]runOrder, error) {
	var out []runOrder
	seen := orderSeen{}
	for _, ob := range orderBy {
		t, err := ParseOrderBy(ob)
		if err != nil {
			return nil, err
		}
		kind, ok := runKind(t.Entity)
		if !ok || kind == datasetKey {
			return nil, invalidf("Invalid order_by clause %s: runs can be ordered by attributes, metrics, params and tags", quote(ob))
		}
		o := runOrder{kind: kind, key: t.Key, desc: t.Desc}
		if kind == attrKey {
			if o.attr, ok = lookupRunAttr(t.Key); !ok {
				return nil, invalidf("Invalid order_by clause %s: invalid attribute key '%s'. Valid keys are %s", quote(ob), t.Key, runAttrNames)
			}
			o.key = o.attr.name
		}
		if err := seen.add(kind.String()+"."+o.key, orderBy); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

var runKeyTables = map[keyKind]string{metricKey: "mlflow_latest_metrics", paramKey: "mlflow_params", tagKey: "mlflow_run_tags"}

// runsPlan is a runs search being compiled.
type runsPlan struct {
	b      sqlb
	req    RunsRequest
	conds  []cond
	used   []bool // filters applied by an ordering join instead of WHERE
	orders []runOrder
	stage  string
}

// Runs compiles a runs search to a query that selects mlflow_runs.id of
// one page, in order. The order is MLflow's: the order_by keys first,
// each with missing values last (and, for metrics, NaN after every
// number but before missing), then start_time DESC (unless ordered by
// already) and run_uuid. A run matches a metric, param or tag comparison
// only if it has that key; metrics compare their latest value.
//
// The query walks the experiments' runs in order (or, ordered by a
// metric first, that metric's values in order) and stops after the
// page, which is fast unless the filter matches few of them; RunIDs
// also handles that case well.
func Runs(req RunsRequest) (Query, error) {
	p, err := newRunsPlan(req)
	if err != nil {
		return Query{}, err
	}
	return p.compile(-1)
}

func newRunsPlan(req RunsRequest) (*runsPlan, error) {
	conds, err := parseConds(req.Filter, resolveRun)
	if err != nil {
		return nil, err
	}
	stage, err := viewStages("r.lifecycle_stage", req.ViewType)
	if err != nil {
		return nil, err
	}
	orders, err := parseRunOrders(req.OrderBy)
	if err != nil {
		return nil, err
	}
	return &runsPlan{req: req, conds: conds, used: make([]bool, len(conds)), orders: orders, stage: stage}, nil
}

// compile builds the query, driven by the runs of filter comparison
// driver when it is not -1 (see RunIDs).
func (p *runsPlan) compile(driver int) (Query, error) {
	var sql string
	var err error
	switch {
	case driver >= 0:
		sql, err = p.plain(driver)
	case len(p.orders) > 0 && p.orders[0].kind == metricKey && p.req.Limit > 0 && len(p.req.ExperimentIDs) > 0:
		sql, err = p.byMetric()
	default:
		sql, err = p.plain(-1)
	}
	if err != nil {
		return Query{}, err
	}
	return Query{SQL: sql, Args: p.b.args}, nil
}

// scope is the WHERE condition on run r of the experiments and view.
func (p *runsPlan) scope() []string {
	return []string{p.b.inExperiments("r.experiment_id", p.req.ExperimentIDs), p.stage}
}

// filters are the WHERE conditions of the filter's comparisons that no
// ordering join applies.
func (p *runsPlan) filters() ([]string, error) {
	var out []string
	for j, c := range p.conds {
		if p.used[j] {
			continue
		}
		s, err := runCond(&p.b, c)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// merge takes the filters on key (kind, key), other than IS NULL, to be
// applied to row alias of an inner join. nanPossible reports whether a
// NaN metric can pass them all.
func (p *runsPlan) merge(kind keyKind, key, alias string) (conds []string, nanPossible bool, err error) {
	nanPossible = true
	for j, c := range p.conds {
		if c.kind != kind || c.key != key || c.Op == OpIsNull || p.used[j] {
			continue
		}
		p.used[j] = true
		if c.Op == OpIsNotNull {
			conds = append(conds, "")
			continue
		}
		s, nan, err := runValueCond(&p.b, alias, c)
		if err != nil {
			return nil, false, err
		}
		nanPossible = nanPossible && nan
		conds = append(conds, s)
	}
	return conds, nanPossible, nil
}

// sortKeys compiles order terms to joins and sort keys. With merge, a
// term's key that the filter requires becomes an inner join applying
// those filters, which lets the engine walk the (key, value) index.
func (p *runsPlan) sortKeys(orders []runOrder, first int, merge bool) (joins []string, keys []sortKey, err error) {
	for i, o := range orders {
		if o.kind == attrKey {
			k := sortKey{o.attr.col, dir(o.desc)}
			if o.attr.nullable {
				k.dir += " NULLS LAST"
			}
			keys = append(keys, k)
			continue
		}
		alias := fmt.Sprintf("o%d", first+i)
		on := []string{alias + ".run_id = r.id", alias + ".key = " + p.b.arg(o.key)}
		join, nanPossible := "LEFT JOIN", true
		if merge {
			merged, nan, err := p.merge(o.kind, o.key, alias)
			if err != nil {
				return nil, nil, err
			}
			if len(merged) > 0 {
				join, nanPossible = "JOIN", nan
				on = append(on, nonEmpty(merged)...)
			}
		}
		joins = append(joins, join+" "+runKeyTables[o.kind]+" "+alias+" ON "+strings.Join(on, " AND "))
		if o.kind != metricKey {
			keys = append(keys, sortKey{alias + ".value", dir(o.desc) + " NULLS LAST"})
			continue
		}
		if join == "LEFT JOIN" || nanPossible {
			// 0 (a number), 1 (NaN), then NULL (no such metric).
			keys = append(keys, sortKey{alias + ".is_nan", " ASC NULLS LAST"})
		}
		keys = append(keys, sortKey{alias + ".value", dir(o.desc)})
	}
	return joins, keys, nil
}

// tieBreakers are MLflow's last sort keys: start_time DESC, unless
// ordered by already, then run_uuid.
func (p *runsPlan) tieBreakers() []sortKey {
	var keys []sortKey
	started := false
	for _, o := range p.orders {
		started = started || (o.kind == attrKey && o.key == "start_time")
	}
	if !started {
		keys = append(keys, sortKey{"r.start_time", " DESC NULLS LAST"})
	}
	return append(keys, sortKey{"r.run_uuid", " ASC"})
}

func joinKeys(keys []sortKey) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k.String()
	}
	return strings.Join(s, ", ")
}

// plain is one SELECT over the runs with a join per ordering key. With
// a driver, the runs are those of that filter comparison (see RunIDs),
// read first.
func (p *runsPlan) plain(driver int) (string, error) {
	from := "mlflow_runs r"
	var ands []string
	if driver >= 0 {
		from = "(" + driverRuns(&p.b, p.conds[driver], p.req.ExperimentIDs) + ") d CROSS JOIN mlflow_runs r"
		ands = append(ands, "r.id = d.run_id")
	}
	joins, keys, err := p.sortKeys(p.orders, 0, true)
	if err != nil {
		return "", err
	}
	keys = append(keys, p.tieBreakers()...)
	filters, err := p.filters()
	if err != nil {
		return "", err
	}
	sql := "SELECT r.id FROM " + from
	if len(joins) > 0 {
		sql += " " + strings.Join(joins, " ")
	}
	sql += where(append(append(ands, p.scope()...), filters...)) + " ORDER BY " + joinKeys(keys)
	return p.b.page(sql, p.req.Offset, p.req.Limit), nil
}
