package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// mlflowRep replicates an MLflow space of arca through MLflow's REST API:
// experiments (by name), finished runs with their params, tags, every
// metric's whole history and their artifacts (through the artifact
// proxy), and registered models with their versions. A run on the
// destination is a new run (its own ID) tagged with the ID of the run it
// was copied from, so a run is copied once; runs still running are left
// for a later run of the policy.
type mlflowRep struct {
	src, dst *side
	// runs maps a source run's ID to its copy's, artifacts a source
	// run's artifact key to its copy's: what model versions point at.
	runs, artifacts map[string]string
}

// sourceRunTag marks a replicated run with the ID of its original.
const sourceRunTag = "arca.replication.source_run"

const (
	mlflowAPI       = "/mlflow/api/2.0/mlflow"
	mlflowArtifacts = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
)

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type mlMetric struct {
	Key       string `json:"key"`
	Value     any    `json:"value"` // a number, or "NaN"/"Infinity" as MLflow writes them
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
}

type mlExperiment struct {
	ID   string `json:"experiment_id"`
	Name string `json:"name"`
	Tags []kv   `json:"tags"`
}

type mlRun struct {
	Info struct {
		RunID       string `json:"run_id"`
		RunName     string `json:"run_name"`
		Status      string `json:"status"`
		StartTime   int64  `json:"start_time"`
		EndTime     int64  `json:"end_time"`
		ArtifactURI string `json:"artifact_uri"`
	} `json:"info"`
	Data struct {
		Metrics []mlMetric `json:"metrics"`
		Params  []kv       `json:"params"`
		Tags    []kv       `json:"tags"`
	} `json:"data"`
}

// call sends one MLflow API request: a GET with query, or a POST of body.
func (sd *side) mlflow(ctx context.Context, method, endpoint string, q url.Values, body, out any) error {
	p := mlflowAPI + endpoint
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var rd io.Reader
	var n int64
	hdr := http.Header{"Accept": {"application/json"}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd, n = bytes.NewReader(b), int64(len(b))
		hdr.Set("Content-Type", "application/json")
	}
	resp, err := sd.request(ctx, method, p, rd, n, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: %w", method, endpoint, err)
	}
	return nil
}

func (sd *side) experiments(ctx context.Context) ([]mlExperiment, error) {
	var all []mlExperiment
	token := ""
	for {
		var page struct {
			Experiments []mlExperiment `json:"experiments"`
			Next        string         `json:"next_page_token"`
		}
		if err := sd.mlflow(ctx, http.MethodPost, "/experiments/search", nil,
			map[string]any{"max_results": 1000, "page_token": token}, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Experiments...)
		if page.Next == "" || len(all) > 100_000 {
			return all, nil
		}
		token = page.Next
	}
}

func (sd *side) runs(ctx context.Context, experimentID string) ([]mlRun, error) {
	var all []mlRun
	token := ""
	for {
		var page struct {
			Runs []mlRun `json:"runs"`
			Next string  `json:"next_page_token"`
		}
		if err := sd.mlflow(ctx, http.MethodPost, "/runs/search", nil,
			map[string]any{"experiment_ids": []string{experimentID}, "max_results": 1000, "page_token": token}, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Runs...)
		if page.Next == "" || len(all) > 1_000_000 {
			return all, nil
		}
		token = page.Next
	}
}

// experimentID returns the destination's experiment of that name,
// creating it when missing.
func (sd *side) experimentID(ctx context.Context, e mlExperiment) (string, error) {
	var got struct {
		Experiment mlExperiment `json:"experiment"`
	}
	err := sd.mlflow(ctx, http.MethodGet, "/experiments/get-by-name", url.Values{"experiment_name": {e.Name}}, nil, &got)
	if err == nil {
		return got.Experiment.ID, nil
	} else if statusOf(err) != http.StatusNotFound {
		return "", err
	}
	var created struct {
		ID string `json:"experiment_id"`
	}
	tags := []kv{}
	for _, t := range e.Tags {
		if !strings.HasPrefix(t.Key, "mlflow.") {
			tags = append(tags, t)
		}
	}
	err = sd.mlflow(ctx, http.MethodPost, "/experiments/create", nil, map[string]any{"name": e.Name, "tags": tags}, &created)
	return created.ID, err
}

func finished(status string) bool {
	return status == "FINISHED" || status == "FAILED" || status == "KILLED"
}

func (r *mlflowRep) sync(ctx context.Context, rc *runCtx) error {
	exps, err := r.src.experiments(ctx)
	if err != nil {
		return err
	}
	for _, e := range exps {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(rc.p.Filter.Names, e.Name) {
			continue
		}
		if err := r.experiment(ctx, rc, e); err != nil {
			rc.item("experiment "+e.Name, Errored, 0, err)
		}
	}
	return r.models(ctx, rc)
}

// experiment copies an experiment's finished runs the destination lacks.
func (r *mlflowRep) experiment(ctx context.Context, rc *runCtx, e mlExperiment) error {
	runs, err := r.src.runs(ctx, e.ID)
	if err != nil {
		return err
	}
	dstID, err := r.dst.experimentID(ctx, e)
	if err != nil {
		return err
	}
	dstRuns, err := r.dst.runs(ctx, dstID)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, d := range dstRuns {
		for _, t := range d.Data.Tags {
			if t.Key == sourceRunTag {
				have[t.Value] = true
				r.runs[t.Value] = d.Info.RunID
				for _, s := range runs {
					if s.Info.RunID == t.Value {
						r.artifacts[artifactKey(s.Info.ArtifactURI)] = artifactKey(d.Info.ArtifactURI)
					}
				}
			}
		}
	}
	for _, run := range runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !finished(run.Info.Status) {
			continue // copied once it ends
		}
		item := e.Name + "/" + run.Info.RunID
		if have[run.Info.RunID] || hasTag(run.Data.Tags, sourceRunTag) {
			rc.item(item, Skipped, 0, nil)
			continue
		}
		rc.copyMeasured(item, func() (bool, error) { return false, r.copyRun(ctx, dstID, run) })
	}
	return nil
}

func hasTag(tags []kv, key string) bool {
	for _, t := range tags {
		if t.Key == key {
			return true
		}
	}
	return false
}

// copyRun creates the run at the destination with its params, tags,
// metric histories and artifacts, and ends it as the original ended. The
// source tag goes on last, so a run interrupted halfway is made again.
func (r *mlflowRep) copyRun(ctx context.Context, experimentID string, run mlRun) error {
	var created struct {
		Run mlRun `json:"run"`
	}
	if err := r.dst.mlflow(ctx, http.MethodPost, "/runs/create", nil, map[string]any{
		"experiment_id": experimentID, "start_time": run.Info.StartTime, "run_name": run.Info.RunName,
	}, &created); err != nil {
		return err
	}
	id := created.Run.Info.RunID
	r.runs[run.Info.RunID] = id
	r.artifacts[artifactKey(run.Info.ArtifactURI)] = artifactKey(created.Run.Info.ArtifactURI)
	tags := []kv{}
	for _, t := range run.Data.Tags {
		if t.Key != "mlflow.runName" {
			tags = append(tags, t)
		}
	}
	if err := r.logBatch(ctx, id, nil, run.Data.Params, tags); err != nil {
		return err
	}
	for _, m := range run.Data.Metrics {
		hist, err := r.src.history(ctx, run.Info.RunID, m.Key)
		if err != nil {
			return err
		}
		for len(hist) > 0 {
			n := min(len(hist), 1000)
			if err := r.logBatch(ctx, id, hist[:n], nil, nil); err != nil {
				return err
			}
			hist = hist[n:]
		}
	}
	if err := r.copyArtifacts(ctx, run.Info.ArtifactURI, created.Run.Info.ArtifactURI, ""); err != nil {
		return err
	}
	if err := r.logBatch(ctx, id, nil, nil, []kv{{Key: sourceRunTag, Value: run.Info.RunID}}); err != nil {
		return err
	}
	return r.dst.mlflow(ctx, http.MethodPost, "/runs/update", nil,
		map[string]any{"run_id": id, "status": run.Info.Status, "end_time": run.Info.EndTime}, nil)
}

// logBatch sends params and tags 100 at a time, metrics as given (at most
// 1000).
func (r *mlflowRep) logBatch(ctx context.Context, runID string, metrics []mlMetric, params, tags []kv) error {
	for len(metrics) > 0 || len(params) > 0 || len(tags) > 0 || (metrics == nil && params == nil && tags == nil) {
		np, nt := min(len(params), 100), min(len(tags), 100)
		body := map[string]any{"run_id": runID, "metrics": metrics, "params": params[:np], "tags": tags[:nt]}
		if metrics == nil {
			body["metrics"] = []mlMetric{}
		}
		if err := r.dst.mlflow(ctx, http.MethodPost, "/runs/log-batch", nil, body, nil); err != nil {
			return err
		}
		metrics, params, tags = nil, params[np:], tags[nt:]
		if len(params) == 0 && len(tags) == 0 {
			return nil
		}
	}
	return nil
}

// history is a metric's whole history.
func (sd *side) history(ctx context.Context, runID, key string) ([]mlMetric, error) {
	var all []mlMetric
	token := ""
	for {
		var page struct {
			Metrics []mlMetric `json:"metrics"`
			Next    string     `json:"next_page_token"`
		}
		q := url.Values{"run_id": {runID}, "metric_key": {key}, "max_results": {"25000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		if err := sd.mlflow(ctx, http.MethodGet, "/metrics/get-history", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Metrics...)
		if page.Next == "" || len(all) > 10_000_000 {
			return all, nil
		}
		token = page.Next
	}
}

// artifactKey is the artifact proxy's path of a run's artifact URI, or ""
// when the artifacts live elsewhere.
func artifactKey(uri string) string {
	rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:")
	if !ok {
		return ""
	}
	if h, ok := strings.CutPrefix(rest, "//"); ok {
		_, rest, _ = strings.Cut(h, "/")
	}
	return strings.Trim(rest, "/")
}

// copyArtifacts copies the files below rel of a run's artifacts.
func (r *mlflowRep) copyArtifacts(ctx context.Context, srcURI, dstURI, rel string) error {
	from, to := artifactKey(srcURI), artifactKey(dstURI)
	if from == "" || to == "" {
		return nil // artifacts outside arca's artifact store are not copied
	}
	dir := from
	if rel != "" {
		dir += "/" + rel
	}
	var list struct {
		Files []struct {
			Path  string `json:"path"`
			IsDir bool   `json:"is_dir"`
		} `json:"files"`
	}
	if err := r.src.getJSON(ctx, mlflowArtifacts+"?path="+url.QueryEscape(dir), "application/json", &list); err != nil {
		return err
	}
	for _, f := range list.Files {
		p := f.Path
		if rel != "" && !strings.HasPrefix(p, rel+"/") {
			p = rel + "/" + p
		}
		if f.IsDir {
			if err := r.copyArtifacts(ctx, srcURI, dstURI, p); err != nil {
				return err
			}
			continue
		}
		resp, err := r.src.request(ctx, http.MethodGet, mlflowArtifacts+"/"+escapePath(from+"/"+p), nil, 0, nil)
		if err != nil {
			return err
		}
		put, err := r.dst.request(ctx, http.MethodPut, mlflowArtifacts+"/"+escapePath(to+"/"+p), resp.Body, resp.ContentLength, nil)
		resp.Body.Close()
		if err != nil {
			return err
		}
		put.Body.Close()
	}
	return nil
}

func (r *mlflowRep) apply(ctx context.Context, rc *runCtx, _ []Change) error {
	return r.sync(ctx, rc) // MLflow policies run on schedules and by hand
}

// sourceVersionTag marks a replicated model version with the version it
// was copied from.
const sourceVersionTag = "arca.replication.source_version"

type mlModel struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Tags        []kv   `json:"tags"`
	Aliases     []struct {
		Alias   string `json:"alias"`
		Version string `json:"version"`
	} `json:"aliases"`
}

type mlVersion struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Source       string `json:"source"`
	RunID        string `json:"run_id"`
	Description  string `json:"description"`
	CurrentStage string `json:"current_stage"`
	Tags         []kv   `json:"tags"`
}

func (sd *side) registeredModels(ctx context.Context) ([]mlModel, error) {
	var all []mlModel
	token := ""
	for {
		var page struct {
			Models []mlModel `json:"registered_models"`
			Next   string    `json:"next_page_token"`
		}
		q := url.Values{"max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		if err := sd.mlflow(ctx, http.MethodGet, "/registered-models/search", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Models...)
		if page.Next == "" || len(all) > 100_000 {
			return all, nil
		}
		token = page.Next
	}
}

func (sd *side) modelVersions(ctx context.Context, model string) ([]mlVersion, error) {
	var all []mlVersion
	token := ""
	for {
		var page struct {
			Versions []mlVersion `json:"model_versions"`
			Next     string      `json:"next_page_token"`
		}
		q := url.Values{"filter": {"name='" + strings.ReplaceAll(model, "'", "\\'") + "'"}, "max_results": {"1000"}}
		if token != "" {
			q.Set("page_token", token)
		}
		if err := sd.mlflow(ctx, http.MethodGet, "/model-versions/search", q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Versions...)
		if page.Next == "" || len(all) > 100_000 {
			return all, nil
		}
		token = page.Next
	}
}

// models copies registered models and the versions the destination lacks,
// in version order, pointing them at the copied runs; then the aliases.
func (r *mlflowRep) models(ctx context.Context, rc *runCtx) error {
	models, err := r.src.registeredModels(ctx)
	if err != nil {
		return err
	}
	for _, m := range models {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(rc.p.Filter.Names, m.Name) {
			continue
		}
		if err := r.model(ctx, rc, m); err != nil {
			rc.item("model "+m.Name, Errored, 0, err)
		}
	}
	return nil
}

func (r *mlflowRep) model(ctx context.Context, rc *runCtx, m mlModel) error {
	err := r.dst.mlflow(ctx, http.MethodGet, "/registered-models/get", url.Values{"name": {m.Name}}, nil, nil)
	if statusOf(err) == http.StatusNotFound {
		tags := m.Tags
		if tags == nil {
			tags = []kv{}
		}
		err = r.dst.mlflow(ctx, http.MethodPost, "/registered-models/create", nil,
			map[string]any{"name": m.Name, "description": m.Description, "tags": tags}, nil)
	}
	if err != nil {
		return err
	}
	srcVersions, err := r.src.modelVersions(ctx, m.Name)
	if err != nil {
		return err
	}
	dstVersions, err := r.dst.modelVersions(ctx, m.Name)
	if err != nil {
		return err
	}
	copied := map[string]string{} // source version → destination version
	for _, v := range dstVersions {
		for _, t := range v.Tags {
			if t.Key == sourceVersionTag {
				copied[t.Value] = v.Version
			}
		}
	}
	sortVersions(srcVersions)
	for _, v := range srcVersions {
		item := "model " + m.Name + "/" + v.Version
		if _, ok := copied[v.Version]; ok {
			rc.item(item, Skipped, 0, nil)
			continue
		}
		rc.copyMeasured(item, func() (bool, error) {
			dv, err := r.copyVersion(ctx, v)
			copied[v.Version] = dv
			return false, err
		})
	}
	for _, a := range m.Aliases {
		if dv, ok := copied[a.Version]; ok && dv != "" {
			if err := r.dst.mlflow(ctx, http.MethodPost, "/registered-models/alias", nil,
				map[string]any{"name": m.Name, "alias": a.Alias, "version": dv}, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyVersion creates one model version at the destination and returns
// its number.
func (r *mlflowRep) copyVersion(ctx context.Context, v mlVersion) (string, error) {
	source, runID := v.Source, ""
	if v.RunID != "" {
		runID = r.runs[v.RunID]
		if runID == "" {
			return "", fmt.Errorf("its run %s was not replicated (not finished, or filtered out)", v.RunID)
		}
		if rest, ok := strings.CutPrefix(source, "runs:/"+v.RunID+"/"); ok {
			source = "runs:/" + runID + "/" + rest
		}
	}
	if key := artifactKey(source); key != "" {
		for from, to := range r.artifacts {
			if from != "" && (key == from || strings.HasPrefix(key, from+"/")) {
				source = "mlflow-artifacts:/" + to + strings.TrimPrefix(key, from)
				break
			}
		}
	}
	tags := append(append([]kv{}, v.Tags...), kv{Key: sourceVersionTag, Value: v.Version})
	body := map[string]any{"name": v.Name, "source": source, "description": v.Description, "tags": tags}
	if runID != "" {
		body["run_id"] = runID
	}
	var out struct {
		Version mlVersion `json:"model_version"`
	}
	if err := r.dst.mlflow(ctx, http.MethodPost, "/model-versions/create", nil, body, &out); err != nil {
		return "", err
	}
	if v.CurrentStage != "" && v.CurrentStage != "None" {
		if err := r.dst.mlflow(ctx, http.MethodPost, "/model-versions/transition-stage", nil, map[string]any{
			"name": v.Name, "version": out.Version.Version, "stage": v.CurrentStage, "archive_existing_versions": false}, nil); err != nil {
			return out.Version.Version, err
		}
	}
	return out.Version.Version, nil
}

// sortVersions orders model versions by number.
func sortVersions(vs []mlVersion) {
	num := func(s string) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	slices.SortFunc(vs, func(a, b mlVersion) int { return num(a.Version) - num(b.Version) })
}
