package ui

import (
	"context"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// searchRuns returns the ids of one page of runs (req's filter, view,
// offset and limit) ordered by a runs-table column. Every column but the
// duration is an MLflow order_by clause; the duration, which MLflow cannot
// order by, orders the filtered runs in an outer query (a running run
// lasts until now). A bad filter is errs.Invalid with a message for the
// user.
func (h *Handler) searchRuns(ctx context.Context, req search.RunsRequest, sort string, desc bool) ([]int64, error) {
	if sort == "duration" {
		offset, limit := req.Offset, req.Limit
		req.Offset, req.Limit = 0, 0
		q, err := search.Runs(req)
		if err != nil {
			return nil, err
		}
		a := sqlArgs{args: q.Args}
		sql := "SELECT r.id FROM mlflow_runs r WHERE r.id IN (" + q.SQL + ") ORDER BY (COALESCE(r.end_time, " + a.add(meta.Now()) +
			") - r.start_time)" + sqlDir(desc) + " NULLS LAST, r.run_uuid LIMIT " + a.add(limit) + " OFFSET " + a.add(offset)
		return h.runIDs(ctx, sql, a.args)
	}
	clause, err := orderClause(sort, desc)
	if err != nil {
		return nil, err
	}
	req.OrderBy = []string{clause}
	q, err := search.Runs(req)
	if err != nil {
		return nil, err
	}
	return h.runIDs(ctx, q.SQL, q.Args)
}

func sqlDir(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

// orderClause is the MLflow order_by clause of a runs-table column.
func orderClause(key string, desc bool) (string, error) {
	dir := sqlDir(desc)
	for _, kind := range []string{"metrics.", "params."} {
		if k, ok := strings.CutPrefix(key, kind); ok {
			if strings.Contains(k, "`") {
				return "", errs.E(errs.Invalid, "cannot sort by %q: the key contains a backtick", k)
			}
			return kind + "`" + k + "`" + dir, nil
		}
	}
	return "attributes." + key + dir, nil
}
