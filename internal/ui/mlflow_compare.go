package ui

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// maxCompareRuns bounds the runs of one comparison.
const maxCompareRuns = 20

type compareData struct {
	Runs       []compareRun
	RunsParam  string // the runs, comma-separated, for links and forms
	Metric     string
	MetricKeys []string
	Chart      template.HTML
	Points     int
	Metrics    []compareRow // latest value of every metric, per run
	Params     []compareRow
	AllParams  bool // show every param, not only those that differ
	SameParams int  // params hidden because every run has the same value
	// Dropped is how many runs past maxCompareRuns were left out.
	Dropped int
}

// compareRun is one run of a comparison with its colour on the chart.
type compareRun struct {
	runRow
	Color      string
	Experiment string
}

// compareRow is one param or metric across the compared runs.
type compareRow struct {
	Key     string
	Values  []string // per run; Missing[i] when run i has none
	Missing []bool
	Differs bool
}

// compareRuns puts several runs (?runs=a,b,c, or runs repeated) on one
// chart of a metric (?metric=, by default the first the runs share), with
// a table of their latest metrics and a diff of their params (only the
// params that differ unless ?all=1).
func (h *Handler) compareRuns(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	var ids []string
	for _, v := range q["runs"] {
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return errs.E(errs.Invalid, "Choose runs to compare: tick them in an experiment's runs table.")
	}
	d := compareData{AllParams: q.Get("all") == "1"}
	if len(ids) > maxCompareRuns {
		d.Dropped = len(ids) - maxCompareRuns
		ids = ids[:maxCompareRuns]
	}
	d.RunsParam = strings.Join(ids, ",")
	experiments := map[int64]string{}
	var internal []int64
	for i, id := range ids {
		_, run, err := h.readableRun(ctx, id)
		if err != nil {
			return err
		}
		name, ok := experiments[run.ExperimentID]
		if !ok {
			e, _, err := h.getExperiment(ctx, run.ExperimentID)
			if err != nil {
				return err
			}
			name = e.Name
			experiments[run.ExperimentID] = name
		}
		d.Runs = append(d.Runs, compareRun{runRow: run, Color: ChartColor(i), Experiment: name})
		internal = append(internal, run.ID)
	}

	latest, err := h.runMetrics(ctx, internal)
	if err != nil {
		return err
	}
	d.Metrics = compareTable(d.Runs, func(run compareRun) map[string]string {
		m := map[string]string{}
		for _, v := range latest[run.ID] {
			m[v.Key] = v.Text()
		}
		return m
	})
	for _, row := range d.Metrics {
		d.MetricKeys = append(d.MetricKeys, row.Key)
	}
	d.Metric = q.Get("metric")
	if !slices.Contains(d.MetricKeys, d.Metric) {
		d.Metric = ""
		if len(d.MetricKeys) > 0 {
			d.Metric = d.MetricKeys[0]
		}
	}
	if d.Metric != "" {
		if err := h.compareChart(r, &d); err != nil {
			return err
		}
	}

	params, err := h.paramsOf(r, internal)
	if err != nil {
		return err
	}
	all := compareTable(d.Runs, func(run compareRun) map[string]string { return params[run.ID] })
	for _, row := range all {
		if row.Differs || d.AllParams || len(d.Runs) == 1 {
			d.Params = append(d.Params, row)
		} else {
			d.SameParams++
		}
	}
	return h.render(w, r, http.StatusOK, "compare", Page{Title: "Compare runs", Nav: "experiments", Data: d})
}

// compareChart draws the histories of d.Metric of every run on one chart.
func (h *Handler) compareChart(r *http.Request, d *compareData) error {
	hists := make([]metricHistory, len(d.Runs))
	byTime := true
	for i, run := range d.Runs {
		hist, err := h.metricHistory(r.Context(), run.ID, d.Metric)
		if err != nil {
			return err
		}
		hists[i] = hist
		byTime = byTime && (hist.sameStep() || len(hist.Steps) == 0)
	}
	c := LineChart{ID: "compare-chart", Title: d.Metric, XLabel: xLabel(byTime), YLabel: d.Metric}
	for i, hist := range hists {
		s := hist.series(d.Runs[i].DisplayName(), byTime)
		s.Color = d.Runs[i].Color
		c.Series = append(c.Series, s)
		d.Points += len(hist.Values)
	}
	d.Chart = c.SVG()
	return nil
}

// compareTable lines up the keys of every run's values, by key.
func compareTable(runs []compareRun, values func(compareRun) map[string]string) []compareRow {
	per := make([]map[string]string, len(runs))
	var keys []string
	seen := map[string]bool{}
	for i, run := range runs {
		per[i] = values(run)
		for k := range per[i] {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	rows := make([]compareRow, len(keys))
	for j, k := range keys {
		row := compareRow{Key: k, Values: make([]string, len(runs)), Missing: make([]bool, len(runs))}
		for i := range runs {
			v, ok := per[i][k]
			row.Values[i], row.Missing[i] = v, !ok
			if i > 0 && (v != row.Values[0] || !ok != row.Missing[0]) {
				row.Differs = true
			}
		}
		rows[j] = row
	}
	return rows
}

// maxCompareParams bounds the params read for a comparison.
const maxCompareParams = 20000

// paramsOf reads the params of runs.
func (h *Handler) paramsOf(r *http.Request, runIDs []int64) (map[int64]map[string]string, error) {
	var a sqlArgs
	rows, err := h.db.QueryContext(r.Context(), `SELECT run_id, key, value FROM mlflow_params
		WHERE run_id IN `+sqlList(&a, runIDs)+` LIMIT `+a.add(maxCompareParams), a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := map[int64]map[string]string{}
	for rows.Next() {
		var id int64
		var k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return nil, meta.Err(err)
		}
		if out[id] == nil {
			out[id] = map[string]string{}
		}
		out[id][k] = v
	}
	return out, meta.Err(rows.Err())
}

// Link is this comparison with other query values.
func (d compareData) Link(kv ...string) string {
	q := url.Values{"runs": {d.RunsParam}}
	if d.Metric != "" {
		q.Set("metric", d.Metric)
	}
	if d.AllParams {
		q.Set("all", "1")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return "/ui/compare?" + q.Encode()
}
