package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

type experimentsData struct {
	Query       string
	View        string // active | deleted | all
	Sort        string // updated | name
	Experiments []experimentRow
	Pager       *Pager
	// Restricted is set when the viewer sees only experiments shared with
	// them explicitly (no role on the space).
	Restricted bool
}

// experiments lists the experiments the viewer may read, searchable by
// name, most recently updated first.
func (h *Handler) experiments(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := h.mlflowView(ctx)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := experimentsData{Query: strings.TrimSpace(q.Get("q")), View: q.Get("view"), Sort: q.Get("sort"),
		Restricted: !v.byRole && !v.all}
	stage := "active"
	switch d.View {
	case "deleted":
		stage = "deleted"
	case "all":
		stage = ""
	default:
		d.View = "active"
	}
	if d.Sort != "name" {
		d.Sort = "updated"
	}
	d.Pager = newPager(r, 50)
	rows, err := h.listExperiments(ctx, v, experimentsQuery{Name: d.Query, Stage: stage, ByName: d.Sort == "name",
		Limit: d.Pager.Limit(), Offset: d.Pager.Offset()})
	if err != nil {
		return err
	}
	d.Experiments = rows[:d.Pager.Keep(len(rows))]
	return h.page(w, r, "experiments", "Experiments", d)
}

// runsPageSize is the default number of runs per page of a runs table.
const runsPageSize = 50

type experimentData struct {
	Crumbs     []crumb
	Experiment experimentRow
	// The search, as the form shows it.
	Filter      string
	FilterError string
	View        string
	Sort        string // a runs column key (see runsColumn)
	Desc        bool
	Metrics     []string       // chosen metric columns
	Params      []string       // chosen param columns
	AllMetrics  []columnChoice // metric keys of the experiment's runs
	AllParams   []columnChoice
	Columns     []runsColumn
	Runs        []runRow
	// Paging by MLflow page token.
	Prev, Next  string
	First, Last int
	// CompareMetric is the metric the compare page opens with.
	CompareMetric string
}

// columnChoice is a key offered as a column, and whether it is shown.
type columnChoice struct {
	Key string
	On  bool
}

func columnChoices(all, chosen []string) []columnChoice {
	on := map[string]bool{}
	for _, k := range chosen {
		on[k] = true
	}
	out := make([]columnChoice, len(all))
	for i, k := range all {
		out[i] = columnChoice{Key: k, On: on[k]}
	}
	return out
}

// runsColumn is a sortable column heading of the runs table.
type runsColumn struct {
	Label string
	Key   string // start_time, run_name, status, duration, user_id, metrics.<key>, params.<key>
	Href  string // the table sorted by this column (toggled when it is the current one)
	Sort  string // aria-sort: ascending, descending or ""
	Num   bool
	Kind  string // "" for attributes, metric, param
}

// maxColumnKeys bounds the metric and param keys offered as columns.
const maxColumnKeys = 200

// experiment shows an experiment's runs: sortable by any column, filtered
// with MLflow's search grammar (internal/mlflow/search), with chosen
// metric and param columns, paginated by MLflow page token. A filter
// error is shown inline with status 400.
func (h *Handler) experiment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := h.mlflowView(ctx)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errs.E(errs.NotFound, "There is no experiment %q.", r.PathValue("id"))
	}
	e, ok, err := h.getExperiment(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "There is no experiment %d.", id)
	}
	if err := h.mlflowRequire(ctx, v, mlflowExperimentKind, id, "this experiment"); err != nil {
		return err
	}
	q := r.URL.Query()
	d := experimentData{Experiment: e, Filter: strings.TrimSpace(q.Get("filter")), View: q.Get("view"),
		Crumbs: []crumb{{Label: "Experiments", Href: "/ui/experiments"}, {Label: e.Name}}}
	allMetrics, allParams, err := h.experimentKeys(ctx, id, maxColumnKeys)
	if err != nil {
		return err
	}
	d.Metrics, d.Params = chosenColumns(q, allMetrics, allParams)
	d.AllMetrics, d.AllParams = columnChoices(allMetrics, d.Metrics), columnChoices(allParams, d.Params)
	d.Sort, d.Desc = runsSort(q)
	viewType := search.ActiveOnly
	switch d.View {
	case "deleted":
		viewType = search.DeletedOnly
	case "all":
		viewType = search.All
	default:
		d.View = "active"
	}
	size := runsPageSize
	if n, err := strconv.Atoi(q.Get("size")); err == nil && n >= 10 && n <= 500 {
		size = n
	}
	d.Columns = runsColumns(r.URL, d.Sort, d.Desc, d.Metrics, d.Params)
	if len(d.Metrics) > 0 {
		d.CompareMetric = d.Metrics[0]
	}
	if k, ok := strings.CutPrefix(d.Sort, "metrics."); ok {
		d.CompareMetric = k
	}

	offset, err := search.DecodePageToken(q.Get("page_token"))
	var ids []int64
	if err == nil {
		ids, err = h.searchRuns(ctx, search.RunsRequest{ExperimentIDs: []int64{id}, ViewType: viewType, Filter: d.Filter,
			Offset: offset, Limit: size + 1}, d.Sort, d.Desc)
	}
	if errs.Is(err, errs.Invalid) {
		d.FilterError = errs.Message(err)
		return h.render(w, r, http.StatusBadRequest, "experiment", Page{Title: e.Name, Data: d})
	}
	if err != nil {
		return err
	}
	more := len(ids) > size
	ids = ids[:min(len(ids), size)]
	if d.Runs, err = h.runsByID(ctx, ids, d.Metrics, d.Params); err != nil {
		return err
	}
	d.First, d.Last = offset+1, offset+len(d.Runs)
	if offset > 0 {
		d.Prev = withToken(r.URL, max(offset-size, 0))
	}
	if more {
		d.Next = withToken(r.URL, offset+size)
	}
	return h.page(w, r, "experiment", e.Name, d)
}

// withToken is u with the page token of the page at offset.
func withToken(u *url.URL, offset int) string {
	q := u.Query()
	q.Del("page_token")
	if offset > 0 {
		q.Set("page_token", search.EncodePageToken(offset))
	}
	if len(q) == 0 {
		return u.Path
	}
	return u.Path + "?" + q.Encode()
}

// chosenColumns reads ?metrics=a,b&params=c (repeated or comma-separated).
// Without either (and without cols=1, which the column form sends so that
// choosing none is possible) it picks the first few keys of the
// experiment.
func chosenColumns(q url.Values, allMetrics, allParams []string) (metrics, params []string) {
	split := func(vs []string) []string {
		var out []string
		seen := map[string]bool{}
		for _, v := range vs {
			for _, k := range strings.Split(v, ",") {
				if k = strings.TrimSpace(k); k != "" && !seen[k] && len(out) < 50 {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
		return out
	}
	metrics, params = split(q["metrics"]), split(q["params"])
	if len(metrics) == 0 && len(params) == 0 && q.Get("cols") == "" {
		metrics = allMetrics[:min(len(allMetrics), 4)]
		params = allParams[:min(len(allParams), 3)]
	}
	return metrics, params
}

// runsSort reads ?sort=<column key>&dir=asc|desc; the default is the
// newest runs first.
func runsSort(q url.Values) (key string, desc bool) {
	key = q.Get("sort")
	switch {
	case key == "start_time", key == "run_name", key == "status", key == "duration", key == "user_id":
	case strings.HasPrefix(key, "metrics.") && len(key) > len("metrics."):
	case strings.HasPrefix(key, "params.") && len(key) > len("params."):
	default:
		return "start_time", true
	}
	switch q.Get("dir") {
	case "asc":
		return key, false
	case "desc":
		return key, true
	}
	return key, defaultDesc(key)
}

// defaultDesc is the direction a column sorts in first: newest, longest
// and highest first; names alphabetically.
func defaultDesc(key string) bool {
	return key == "start_time" || key == "duration" || strings.HasPrefix(key, "metrics.")
}

// runsColumns are the table's sortable headings.
func runsColumns(u *url.URL, sort string, desc bool, metrics, params []string) []runsColumn {
	cols := []runsColumn{
		{Label: "Run", Key: "run_name"},
		{Label: "Started", Key: "start_time"},
		{Label: "Duration", Key: "duration", Num: true},
		{Label: "Status", Key: "status"},
		{Label: "User", Key: "user_id"},
	}
	for _, m := range metrics {
		cols = append(cols, runsColumn{Label: m, Key: "metrics." + m, Num: true, Kind: "metric"})
	}
	for _, p := range params {
		cols = append(cols, runsColumn{Label: p, Key: "params." + p, Kind: "param"})
	}
	for i := range cols {
		c := &cols[i]
		d := defaultDesc(c.Key)
		if c.Key == sort {
			c.Sort = "ascending"
			if desc {
				c.Sort = "descending"
			}
			d = !desc
		}
		q := u.Query()
		q.Del("page_token")
		q.Set("sort", c.Key)
		q.Set("dir", map[bool]string{true: "desc", false: "asc"}[d])
		c.Href = u.Path + "?" + q.Encode()
	}
	return cols
}
