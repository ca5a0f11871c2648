package mlflow

import (
	"bufio"
	"context"
	"database/sql/driver"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
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

// historyRange selects points of one metric of a run: between two steps
// (inclusive) when steps is set, after a point (in step order) when after
// is set, at most limit when limit > 0.
type historyRange struct {
	steps *[2]int64
	after *histPoint
	limit int
}

// readHistory returns points of one metric of a run in the primary key's
// order (step, timestamp, value, is_nan): one index range scan. Rows are
// read from the driver directly, without database/sql's per-row locking
// and conversions, which cost 40% of a long history's time.
func readHistory(ctx context.Context, db *meta.DB, runID int64, key string, rg historyRange) ([]histPoint, error) {
	query := `SELECT step, timestamp, value, is_nan FROM mlflow_metrics WHERE run_id = $1 AND key = $2`
	args := []any{runID, key}
	if rg.steps != nil {
		query += ` AND step >= $3 AND step <= $4`
		args = append(args, rg.steps[0], rg.steps[1])
	}
	if p := rg.after; p != nil {
		n := len(args)
		query += ` AND (step, timestamp, value, is_nan) > ($` + strconv.Itoa(n+1) + `, $` + strconv.Itoa(n+2) +
			`, $` + strconv.Itoa(n+3) + `, $` + strconv.Itoa(n+4) + `)`
		args = append(args, p.step, p.ts, p.value, b2i(p.isNaN))
	}
	query += ` ORDER BY step, timestamp, value, is_nan`
	if rg.limit > 0 {
		query += ` LIMIT ` + strconv.Itoa(rg.limit)
	}
	pts := make([]histPoint, 0, min(max(rg.limit, 0), 1<<16))
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return errors.New("the database driver cannot query")
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		rows, err := qc.QueryContext(ctx, query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, 4)
		for {
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			p := histPoint{step: asInt(dest[0]), ts: asInt(dest[1]), isNaN: asInt(dest[3]) != 0}
			switch v := dest[2].(type) {
			case float64:
				p.value = v
			case int64:
				p.value = float64(v)
			}
			pts = append(pts, p)
		}
	})
	return pts, meta.Err(err)
}

// asInt reads an integer column as the drivers return it.
func asInt(v driver.Value) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}

// chronological orders a history as MLflow answers get-history: by
// timestamp, then step, then value. Points are read in step order, which
// almost always is also chronological; then nothing is moved, and it
// reports true.
func chronological(pts []histPoint) bool {
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
	if slices.IsSortedFunc(pts, cmp) {
		return true
	}
	slices.SortStableFunc(pts, cmp)
	return false
}

func cmpInt(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

// historyToken is get-history's page token: MLflow's {"offset": N}, and,
// when the history's step order is chronological, the last point of the
// page ("after"), so that the next page is a range scan from there instead
// of a re-read of the whole history. Pages after the first keep the order
// the first page was answered in.
type historyToken struct {
	Offset int `json:"offset"`
	After  *struct {
		Step      int64   `json:"step"`
		Timestamp int64   `json:"timestamp"`
		Value     float64 `json:"value"`
		IsNaN     bool    `json:"is_nan"`
	} `json:"after,omitempty"`
}

func (t historyToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.StdEncoding.EncodeToString(b)
}

// decodeHistoryToken reads a page token of get-history; a token without a
// position (MLflow's own) is only an offset.
func decodeHistoryToken(s string) (historyToken, error) {
	var t historyToken
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && json.Unmarshal(b, &t) == nil && t.After != nil && t.Offset >= 0 {
		return t, nil
	}
	offset, err := search.DecodePageToken(s)
	return historyToken{Offset: offset}, err
}

// getMetricHistory: GET metrics/get-history, in chronological order.
// Without max_results the whole history is one page; with it, pages of
// max_results points (the client asks for 25000 at a time). The response
// is written by hand: a history can hold millions of points.
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
	tok, err := decodeHistoryToken(req.PageToken)
	if err != nil {
		return err
	}
	if req.MaxResults == nil {
		pts, err := readHistory(ctx, h.db, run.ID, req.MetricKey, historyRange{})
		if err != nil {
			return err
		}
		chronological(pts)
		return encodeMetrics(w, req.MetricKey, []runPoints{{pts: pts[min(tok.Offset, len(pts)):]}}, "")
	}
	// The first page reads the whole history, in step order, to learn
	// whether that order is chronological. If it is, the next pages are
	// range scans in step order from the previous page's last point;
	// otherwise every page reads and sorts the whole history.
	limit := int(min(int64(*req.MaxResults), 1<<30))
	var pts []histPoint
	keyset := tok.After != nil
	if keyset {
		a := tok.After
		pts, err = readHistory(ctx, h.db, run.ID, req.MetricKey, historyRange{limit: limit + 1,
			after: &histPoint{step: a.Step, ts: a.Timestamp, value: a.Value, isNaN: a.IsNaN}})
	} else {
		pts, err = readHistory(ctx, h.db, run.ID, req.MetricKey, historyRange{})
		keyset = chronological(pts) && tok.Offset == 0
		pts = pts[min(tok.Offset, len(pts)):]
	}
	if err != nil {
		return err
	}
	next := ""
	if len(pts) > limit {
		pts = pts[:limit]
		nt := historyToken{Offset: tok.Offset + limit}
		if keyset {
			last := pts[limit-1]
			nt.After = &struct {
				Step      int64   `json:"step"`
				Timestamp int64   `json:"timestamp"`
				Value     float64 `json:"value"`
				IsNaN     bool    `json:"is_nan"`
			}{last.step, last.ts, last.value, last.isNaN}
		}
		next = nt.encode()
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
		pts, err := readHistory(ctx, h.db, run.ID, req.MetricKey, historyRange{steps: steps})
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
