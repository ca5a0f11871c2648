package search

import (
	"context"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// groupRange is a page of consecutive groups of a repository, by the
// values of their columns: what a whole reindex reads at once.
type groupRange struct{ lo, hi []any }

// groupTables are where the groups of each repository format are listed
// from, by the columns that make them up, in index order.
var groupTables = map[string]struct{ table, cols string }{
	"oci":   {"oci_tags", "name"},
	"pypi":  {"pypi_files", "project"},
	"npm":   {"npm_versions", "name"},
	"maven": {"maven_files", "group_id, artifact_id"},
	"go":    {"go_versions", "module"},
	"helm":  {"helm_charts", "name"},
	"raw":   {"raw_files", "path"},
	"s3":    {"s3_objects", "key"},
}

// groupPages calls fn with consecutive pages of up to n groups of rp,
// each read in a statement of its own, so that no read stays open while
// the documents are written (on SQLite a long read keeps the write-ahead
// log from being checkpointed).
func groupPages(ctx context.Context, q meta.Querier, rp *repo.Repository, n int, fn func(groupRange) error) error {
	gt := groupTables[rp.Format]
	ncols := len(strings.Split(gt.cols, ","))
	var after []any
	for {
		args := []any{rp.ID}
		cond := ""
		if after != nil {
			cond = " AND (" + gt.cols + ") > (" + placeholders(2, ncols) + ")"
			args = append(args, after...)
		}
		rows, err := q.QueryContext(ctx, `SELECT DISTINCT `+gt.cols+` FROM `+gt.table+` WHERE repository_id = $1`+cond+
			` ORDER BY `+gt.cols+` LIMIT `+strconv.Itoa(n), args...)
		if err != nil {
			return meta.Err(err)
		}
		var first, last []any
		count := 0
		if err := each(rows, func() error {
			vals := make([]string, ncols)
			ptrs := make([]any, ncols)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			key := make([]any, ncols)
			for i, v := range vals {
				key[i] = v
			}
			if first == nil {
				first = key
			}
			last = key
			count++
			return nil
		}); err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		if err := fn(groupRange{lo: first, hi: last}); err != nil {
			return err
		}
		if count < n {
			return nil
		}
		after = last
	}
}
