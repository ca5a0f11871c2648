package mlflow

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// histPoint is one stored point of a metric's history.
type histPoint struct {
	step, ts int64
	value    float64
	isNaN    bool
}

// readHistory returns every point of one metric of a run, in the primary
// key's order (step, timestamp, value): one index range scan, with rows
// between from and to (inclusive) when steps is set.
func readHistory(ctx context.Context, q meta.Querier, runID int64, key string, steps *[2]int64, buf []histPoint) ([]histPoint, error) {
	query := `SELECT step, timestamp, value, is_nan FROM mlflow_metrics WHERE run_id = $1 AND key = $2`
	args := []any{runID, key}
	if steps != nil {
		query += ` AND step >= $3 AND step <= $4`
		args = append(args, steps[0], steps[1])
	}
	query += ` ORDER BY step, timestamp, value, is_nan`
	pts := buf[:0]
	err := eachRow(ctx, q, query, args, func(rs *sql.Rows) error {
		var p histPoint
		err := rs.Scan(&p.step, &p.ts, &p.value, &p.isNaN)
		pts = append(pts, p)
		return err
	})
	return pts, err
}

// chronological orders a history as MLflow answers get-history: by
// timestamp, then step, then value. Points are read in step order, which
// almost always is also chronological; only then is nothing moved.
func chronological(pts []histPoint) {
	cmp := func(a, b histPoint) int {
		switch {
		case a.ts != b.ts:
			return cmpInt(a.ts, b.ts)
		case a.step != b.step:
			return cmpInt(a.step, b.step)
		case a.value < b.value:
			return -1
		case a.value > b.value:
			return 1
		}
		return 0
	}
	if !slices.IsSortedFunc(pts, cmp) {
		slices.SortStableFunc(pts, cmp)
	}
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

// getMetricHistory: GET metrics/get-history. Without max_results the whole
// history is one page; with it, pages of max_results points and offset
// page tokens. The response is written by hand: a history can hold
// millions of points.
func (h *Handler) getMetricHistory(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID      string `json:"run_id"`
		RunUUID    string `json:"run_uuid"`
		MetricKey  string `json:"metric_key"`
		PageToken  string `json:"page_token"`
		MaxResults *Int64 `json:"max_results"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.runFor(ctx, req.RunID, req.RunUUID, Read)
	if err != nil {
		return err
	}
	if err := required("metric_key", req.MetricKey); err != nil {
		return err
	}
	if req.MaxResults != nil && *req.MaxResults <= 0 {
		return invalidParam("invalid value %d for parameter 'max_results' supplied: it must be a positive integer", *req.MaxResults)
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	pts, err := readHistory(ctx, h.db, run.ID, req.MetricKey, nil, nil)
	if err != nil {
		return err
	}
	chronological(pts)
	pts = pts[min(offset, len(pts)):]
	next := ""
	if req.MaxResults != nil && int64(len(pts)) > int64(*req.MaxResults) {
		pts = pts[:*req.MaxResults]
		next = search.EncodePageToken(offset + len(pts))
	}
	return encodeMetrics(w, req.MetricKey, []runPoints{{pts: pts}}, next)
}

// runPoints are points of one run's metric; runID is "" in get-history,
// whose metrics carry none.
type runPoints struct {
	runID string
	pts   []histPoint
}

// encodeMetrics writes {"metrics": [...], "next_page_token": ...}.
func encodeMetrics(w http.ResponseWriter, key string, groups []runPoints, next string) error {
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	quotedKey, _ := json.Marshal(key)
	b := make([]byte, 0, 256)
	b = append(b, `{"metrics": [`...)
	first := true
	for _, g := range groups {
		var quotedRun []byte
		if g.runID != "" {
			quotedRun, _ = json.Marshal(g.runID)
		}
		for _, p := range g.pts {
			if !first {
				b = append(b, ", "...)
			}
			first = false
			b = append(b, `{"key": `...)
			b = append(b, quotedKey...)
			b = append(b, `, "value": `...)
			if p.isNaN {
				b = append(b, `"NaN"`...)
			} else {
				b = appendFloat(b, p.value)
			}
			b = append(b, `, "timestamp": `...)
			b = strconv.AppendInt(b, p.ts, 10)
			b = append(b, `, "step": `...)
			b = strconv.AppendInt(b, p.step, 10)
			if quotedRun != nil {
				b = append(b, `, "run_id": `...)
				b = append(b, quotedRun...)
			}
			b = append(b, '}')
			if len(b) > 32<<10 {
				if _, err := bw.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
	}
	b = append(b, ']')
	if next != "" {
		quoted, _ := json.Marshal(next)
		b = append(b, `, "next_page_token": `...)
		b = append(b, quoted...)
	}
	b = append(b, "}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// appendFloat writes a finite double as a JSON number, as encoding/json
// does: plain decimals unless the exponent is very large or small.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}

// getMetricHistoryBulkInterval: GET metrics/get-history-bulk-interval: for
// up to 100 runs, at most max_results points of one metric each (default
// and maximum 2500), optionally within a step range, sampled evenly over
// the run's points in step order and always ending with the last point.
func (h *Handler) getMetricHistoryBulkInterval(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunIDs     []string `json:"run_ids"`
		MetricKey  string   `json:"metric_key"`
		StartStep  *Int64   `json:"start_step"`
		EndStep    *Int64   `json:"end_step"`
		MaxResults *Int64   `json:"max_results"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.RunIDs) == 0 {
		return invalidParam("missing value for required parameter 'run_ids'")
	}
	if len(req.RunIDs) > maxHistoryRunIDs {
		return invalidParam("get-history-bulk-interval takes at most %d run_ids; got %d", maxHistoryRunIDs, len(req.RunIDs))
	}
	if err := required("metric_key", req.MetricKey); err != nil {
		return err
	}
	limit := maxHistoryResultsPerRun
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > maxHistoryResultsPerRun {
			return invalidParam("max_results must be between 1 and %d", maxHistoryResultsPerRun)
		}
		limit = int(*req.MaxResults)
	}
	var steps *[2]int64
	switch {
	case req.StartStep != nil && req.EndStep != nil:
		if *req.StartStep > *req.EndStep {
			return invalidParam("end_step must be greater than start_step; got start_step=%d and end_step=%d", *req.StartStep, *req.EndStep)
		}
		steps = &[2]int64{int64(*req.StartStep), int64(*req.EndStep)}
	case req.StartStep != nil || req.EndStep != nil:
		return invalidParam("give both start_step and end_step, or neither")
	}
	ctx := r.Context()
	runs := make([]*runRow, len(req.RunIDs))
	for i, id := range req.RunIDs {
		run, err := h.runFor(ctx, id, "", Read)
		if err != nil {
			return err
		}
		runs[i] = run
	}
	groups := make([]runPoints, 0, len(runs))
	for _, run := range runs {
		pts, err := readHistory(ctx, h.db, run.ID, req.MetricKey, steps, nil)
		if err != nil {
			return err
		}
		groups = append(groups, runPoints{runID: run.UUID, pts: sample(pts, limit)})
	}
	return encodeMetrics(w, req.MetricKey, groups, "")
}

// sample keeps at most n of pts (in order): the first point of each of n
// buckets of near-equal size (the first len%n buckets one larger), with
// the last point replacing the last sample so that the range's end is
// always shown. With n = 1 that is the last point alone.
func sample(pts []histPoint, n int) []histPoint {
	if len(pts) <= n {
		return pts
	}
	size, extra := len(pts)/n, len(pts)%n
	out := make([]histPoint, 0, n)
	for b := 0; b < n; b++ {
		out = append(out, pts[b*size+min(b, extra)])
	}
	out[n-1] = pts[len(pts)-1]
	return out
}
