package ui

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// readableRun resolves a run by its public id and checks that the viewer
// may read its experiment.
func (h *Handler) readableRun(ctx context.Context, uuid string) (*mlflowViewer, runRow, error) {
	v, err := h.mlflowView(ctx)
	if err != nil {
		return nil, runRow{}, err
	}
	run, ok, err := h.getRun(ctx, uuid)
	if err != nil {
		return nil, run, err
	}
	if !ok {
		return nil, run, errs.E(errs.NotFound, "There is no run %q.", uuid)
	}
	if err := h.mlflowRequire(ctx, v, mlflowExperimentKind, run.ExperimentID, "this run's experiment"); err != nil {
		return nil, run, err
	}
	return v, run, nil
}

// maxRunCharts bounds the metric charts of a run page; the others are
// reached with ?metric=.
const maxRunCharts = 24

type runData struct {
	Crumbs       []crumb
	Run          runRow
	Experiment   experimentRow
	Description  string
	Source       string // mlflow.source.name
	GitCommit    string // mlflow.source.git.commit
	ParentRun    string // mlflow.parentRunId
	Params       []mlflowTag
	MoreParams   bool
	Tags         []mlflowTag // user tags
	SystemTags   []mlflowTag // mlflow.*
	Metrics      []runMetricRow
	Charts       []metricChart
	ChartsCut    int // metrics without a chart on this page
	Datasets     []datasetRow
	LoggedModels []loggedModelRow
	Versions     []versionLink
	Artifacts    *artifactListing
}

// runMetricRow is a latest metric and the anchor of its chart ("" when
// not charted on this page).
type runMetricRow struct {
	namedMetric
	Anchor string
}

// metricChart is the chart of one metric's history.
type metricChart struct {
	Key    string
	Anchor string
	Points int
	SVG    template.HTML
}

// run shows one run: its info, params, tags, latest metrics with a chart
// of each metric's history over steps, datasets, logged models, the
// registered model versions made from it, and the top folder of its
// artifacts. ?metric=<key> charts only that metric.
func (h *Handler) run(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, run, err := h.readableRun(ctx, r.PathValue("run"))
	if err != nil {
		return err
	}
	d := runData{Run: run}
	e, _, err := h.getExperiment(ctx, run.ExperimentID)
	if err != nil {
		return err
	}
	d.Experiment = e
	d.Crumbs = []crumb{{Label: "Experiments", Href: "/ui/experiments"},
		{Label: e.Name, Href: "/ui/experiments/" + strconv.FormatInt(e.ID, 10)}, {Label: run.DisplayName()}}
	if d.Params, d.MoreParams, err = h.runParams(ctx, run.ID); err != nil {
		return err
	}
	tags, _, err := h.runTags(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, t := range tags {
		switch t.Key {
		case mlflowNoteTag:
			d.Description = t.Value
		case "mlflow.source.name":
			d.Source = t.Value
		case "mlflow.source.git.commit":
			d.GitCommit = t.Value
		case "mlflow.parentRunId":
			d.ParentRun = t.Value
		}
		if strings.HasPrefix(t.Key, "mlflow.") {
			d.SystemTags = append(d.SystemTags, t)
		} else {
			d.Tags = append(d.Tags, t)
		}
	}
	metrics, err := h.runMetrics(ctx, []int64{run.ID})
	if err != nil {
		return err
	}
	only := r.URL.Query().Get("metric")
	for i, m := range metrics[run.ID] {
		d.Metrics = append(d.Metrics, runMetricRow{namedMetric: m})
		if only != "" && m.Key != only {
			continue
		}
		if len(d.Charts) == maxRunCharts {
			d.ChartsCut++
			continue
		}
		hist, err := h.metricHistory(ctx, run.ID, m.Key)
		if err != nil {
			return err
		}
		byTime := hist.sameStep()
		id := "chart-" + strconv.Itoa(i)
		c := LineChart{ID: id, Title: m.Key, XLabel: xLabel(byTime), YLabel: m.Key,
			Series: []ChartSeries{hist.series(run.DisplayName(), byTime)}}
		d.Charts = append(d.Charts, metricChart{Key: m.Key, Anchor: id, Points: len(hist.Values), SVG: c.SVG()})
		d.Metrics[i].Anchor = id
	}
	if d.Datasets, err = h.runDatasets(ctx, run.ID); err != nil {
		return err
	}
	if d.LoggedModels, err = h.runLoggedModels(ctx, run); err != nil {
		return err
	}
	if d.Versions, err = h.runVersions(ctx, v, run); err != nil {
		return err
	}
	if d.Artifacts, err = h.listArtifacts(ctx, v, run.ArtifactURI, ""); err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "run", Page{Title: run.DisplayName(), Nav: "experiments", Data: d})
}

// mlflowRunPath answers MLflow's own shape of a run's address,
// experiments/ID/runs/RUN (what the client's "View run at" link and MLflow
// UI bookmarks hold), with the run's page here.
func (h *Handler) mlflowRunPath(w http.ResponseWriter, r *http.Request) error {
	return h.redirect(w, r, "/ui/runs/"+url.PathEscape(r.PathValue("run")), "")
}

// mlflowModelVersionPath answers MLflow's models/NAME/versions/N with the
// registered model's page, which lists its versions.
func (h *Handler) mlflowModelVersionPath(w http.ResponseWriter, r *http.Request) error {
	return h.redirect(w, r, "/ui/models/"+url.PathEscape(r.PathValue("name")), "")
}
