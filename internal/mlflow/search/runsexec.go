package search

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/meta"
)

// probeLimit is how many runs a filter comparison may match and still
// drive a search (see RunIDs); counting stops there.
const probeLimit = 1000

// RunIDs runs a runs search on db and returns the mlflow_runs.id of one
// page, in order: the rows of Runs(req), planned better.
//
// Runs walks the experiments' runs in order and stops after the page;
// when the filter matches few of them, that walk reads them all. So
// RunIDs first counts, in one query reading at most probeLimit index
// entries per comparison, the runs of each comparison that an index can
// enumerate (run_id = or IN, run_name =, param or tag =, a LIKE of one
// of these with a literal prefix, a metric compared with a number). If one matches fewer than probeLimit, the
// search reads those runs and sorts them; otherwise it is Runs' query.
// Both are one SQL text for SQLite and PostgreSQL.
func RunIDs(ctx context.Context, db meta.Querier, req RunsRequest) ([]int64, error) {
	p, err := newRunsPlan(req)
	if err != nil {
		return nil, err
	}
	driver := -1
	if req.Limit > 0 && len(req.ExperimentIDs) > 0 {
		if driver, err = chooseDriver(ctx, db, p); err != nil {
			return nil, err
		}
		if driver >= 0 {
			if p, err = newRunsPlan(req); err != nil {
				return nil, err
			}
		}
	}
	q, err := p.compile(driver)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, meta.Err(err)
		}
		ids = append(ids, id)
	}
	return ids, meta.Err(rows.Err())
}

// canDrive reports whether an index can enumerate the runs of c.
func canDrive(c cond) bool {
	if c.Op == OpLike {
		_, _, ok := likePrefix(c.Value.Text)
		return ok && (c.kind == paramKey || c.kind == tagKey || c.key == "run_id" || c.key == "run_name")
	}
	switch c.kind {
	case attrKey:
		return (c.key == "run_id" && (c.Op == OpEq || c.Op == OpIn)) || (c.key == "run_name" && c.Op == OpEq)
	case paramKey, tagKey:
		return c.Op == OpEq
	case metricKey:
		return c.Op != OpNe
	}
	return false
}

// likePrefix returns the range [lo, hi) of the strings that begin with
// the literal prefix of a LIKE pattern (up to its first wildcard), which
// holds every string the pattern matches (case-sensitively). hi is ""
// when there is no upper bound. ok is false when the pattern begins with
// a wildcard.
func likePrefix(pattern string) (lo, hi string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '%' || c == '_' {
			break
		}
		if c == '\\' && i+1 < len(pattern) {
			i++
			c = pattern[i]
		}
		b.WriteByte(c)
	}
	lo = b.String()
	if lo == "" || !utf8.ValidString(lo) {
		return "", "", false
	}
	return lo, successor(lo), true
}

// successor is the least string that is greater than every string
// beginning with s (in code point order, which is the byte order of
// UTF-8 and the order of COLLATE "C" and of SQLite's BINARY), or "" when
// there is none: s with its last character that has a successor
// incremented and what follows that character dropped.
func successor(s string) string {
	r := []rune(s)
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] < utf8.MaxRune {
			next := r[i] + 1
			if next >= 0xD800 && next <= 0xDFFF {
				next = 0xE000 // no surrogates in valid UTF-8
			}
			return string(append(r[:i:i], next))
		}
	}
	return ""
}

// rangeConds are col >= lo AND col < hi.
func rangeConds(b *sqlb, col, lo, hi string) string {
	s := col + " >= " + b.arg(lo)
	if hi != "" {
		s += " AND " + col + " < " + b.arg(hi)
	}
	return s
}

// chooseDriver returns the comparison matching the fewest runs, if that
// is fewer than probeLimit, or -1.
func chooseDriver(ctx context.Context, db meta.Querier, p *runsPlan) (int, error) {
	var b sqlb
	var probes []string
	var which []int
	best, bestCount := -1, probeLimit
	for j, c := range p.conds {
		if !canDrive(c) {
			continue
		}
		if c.kind == attrKey && c.key == "run_id" {
			if n := max(1, len(c.Value.List)); n < bestCount { // a list of ids
				best, bestCount = j, n
			}
			continue
		}
		probes = append(probes, fmt.Sprintf("(SELECT count(*) FROM (%s LIMIT %s) x%d)", driverRuns(&b, c, p.req.ExperimentIDs), b.arg(int64(probeLimit)), j))
		which = append(which, j)
	}
	if len(probes) == 0 {
		return best, nil
	}
	counts := make([]int64, len(probes))
	ptrs := make([]any, len(probes))
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	if err := db.QueryRowContext(ctx, "SELECT "+strings.Join(probes, ", "), b.args...).Scan(ptrs...); err != nil {
		return -1, meta.Err(err)
	}
	for i, n := range counts {
		if int(n) < bestCount {
			best, bestCount = which[i], int(n)
		}
	}
	return best, nil
}

// driverRuns is a SELECT of the run_id of the runs that comparison c
// (for which canDrive holds) matches, or a few more, from an index alone:
// run_uuid; experiment and name; a param's or tag's key and the first
// 200 characters of its value (the search compares whole values after);
// a metric's values within the experiments.
func driverRuns(b *sqlb, c cond, experiments []int64) string {
	switch c.kind {
	case attrKey:
		col, scope := "dr.run_uuid", ""
		if c.key == "run_name" {
			col, scope = "dr.name", b.inExperiments("dr.experiment_id", experiments)+" AND "
		}
		var s string
		if c.Op == OpLike {
			lo, hi, _ := likePrefix(c.Value.Text)
			s = rangeConds(b, col, lo, hi)
		} else {
			s, _ = b.str(col, c.Op, c.Value)
		}
		return "SELECT dr.id AS run_id FROM mlflow_runs dr WHERE " + scope + s
	case metricKey:
		return "SELECT dm.run_id FROM mlflow_latest_metrics dm WHERE " + b.inExperiments("dm.experiment_id", experiments) +
			" AND dm.key = " + b.arg(c.key) + " AND dm.is_nan = 0 AND " + b.real("dm.value", c.Op, c.Value.Num)
	}
	table := "mlflow_params"
	if c.kind == tagKey {
		table = "mlflow_run_tags"
	}
	sql := "SELECT dp.run_id FROM " + table + " dp WHERE dp.key = " + b.arg(c.key) + " AND "
	if c.Op != OpLike {
		return sql + "substr(dp.value, 1, 200) = substr(" + b.arg(c.Value.Text) + ", 1, 200)"
	}
	// The pattern's prefix, cut to the indexed 200 characters.
	lo, _, _ := likePrefix(c.Value.Text)
	if r := []rune(lo); len(r) > 200 {
		lo = string(r[:200])
	}
	return sql + rangeConds(b, "substr(dp.value, 1, 200)", lo, successor(lo))
}
