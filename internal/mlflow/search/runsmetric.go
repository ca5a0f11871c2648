package search

import (
	"fmt"
	"strings"
)

// byMetric compiles a page of runs ordered first by a metric without
// sorting every run of the experiments. MLflow's order puts the runs
// with a number first (in value order), then those whose value is NaN,
// then those without the metric; so the query takes them in three parts,
// each of at most offset+limit rows:
//
//	a0  the runs with a number, walked in value order on the index
//	    mlflow_latest_metrics_experiment (experiment, key, is_nan, value)
//	    and stopped after offset+limit rows;
//	a1  the NaN runs, only as many as a0 left to fill;
//	a2  the runs without the metric, only as many as a0 and a1 left.
//
// A part that has nothing left to fill has LIMIT 0, which both engines
// answer without reading anything. The page is then cut from the
// concatenation. Filters on the ordering metric are applied in the walk
// itself (and exclude a2: such runs have the metric).
func (p *runsPlan) byMetric() (string, error) {
	first := p.orders[0]
	merged, nanPossible, err := p.merge(metricKey, first.key, "o")
	if err != nil {
		return "", err
	}
	missingPossible := len(merged) == 0
	tailJoins, tailKeys, err := p.sortKeys(p.orders[1:], 1, false)
	if err != nil {
		return "", err
	}
	ties := p.tieBreakers()
	filters, err := p.filters()
	if err != nil {
		return "", err
	}

	// Columns every part selects: the id, the metric value, the other
	// sort keys, start_time and run_uuid.
	var cols, outer []string
	var inner []sortKey
	for i, k := range append(tailKeys, ties...) {
		name := fmt.Sprintf("k%d", i)
		cols = append(cols, k.expr+" AS "+name)
		outer = append(outer, name+k.dir)
		inner = append(inner, k)
	}
	selectList := func(v string) string {
		return "SELECT r.id AS id, " + v + " AS v, " + strings.Join(cols, ", ")
	}
	joins := ""
	if len(tailJoins) > 0 {
		joins = " " + strings.Join(tailJoins, " ")
	}
	runConds := append(p.scope(), filters...)
	n := p.b.arg(int64(p.req.Offset + p.req.Limit))
	key := p.b.arg(first.key)
	walk := func(nan string) string {
		return " FROM mlflow_latest_metrics o CROSS JOIN mlflow_runs r" + joins +
			where(append(append([]string{p.b.inExperiments("o.experiment_id", p.req.ExperimentIDs), "o.key = " + key, "o.is_nan " + nan},
				nonEmpty(merged)...), append([]string{"r.id = o.run_id"}, runConds...)...))
	}

	parts := []string{"a0 AS MATERIALIZED (" + selectList("o.value") + walk("= 0") +
		" ORDER BY " + joinKeys(append([]sortKey{{"o.value", dir(first.desc)}}, inner...)) + " LIMIT " + n + ")"}
	union := []string{"SELECT 0 AS c, a0.* FROM a0"}
	left := n + " - (SELECT count(*) FROM a0)"
	if nanPossible {
		parts = append(parts, "a1 AS MATERIALIZED ("+selectList("0.0")+walk("<> 0")+
			" ORDER BY "+joinKeys(inner)+" LIMIT "+left+")")
		union = append(union, "SELECT 1, a1.* FROM a1")
		left += " - (SELECT count(*) FROM a1)"
	}
	if missingPossible {
		parts = append(parts, "a2 AS MATERIALIZED ("+selectList("0.0")+" FROM mlflow_runs r"+joins+
			where(append(runConds, "NOT EXISTS (SELECT 1 FROM mlflow_latest_metrics m WHERE m.run_id = r.id AND m.key = "+key+")"))+
			" ORDER BY "+joinKeys(inner)+" LIMIT "+left+")")
		union = append(union, "SELECT 2, a2.* FROM a2")
	}
	sql := "WITH " + strings.Join(parts, ", ") +
		" SELECT id FROM (" + strings.Join(union, " UNION ALL ") + ") t" +
		" ORDER BY c, v" + dir(first.desc) + ", " + strings.Join(outer, ", ")
	return p.b.page(sql, p.req.Offset, p.req.Limit), nil
}
