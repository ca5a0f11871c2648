package importer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/arcaproject/arca/internal/mlflow"
)

// MLflowSource is an MLflow tracking server to import from.
type MLflowSource struct {
	// URL is its tracking URI (http://host:5000, or arca's .../mlflow).
	URL string
	// Username and Password authenticate with Basic, Token with Bearer.
	Username, Password, Token string
	// Client reaches it; nil means http.DefaultClient.
	Client *http.Client
	// Workers is how many runs are imported at once (default 4).
	Workers int
}

// Tags that mark what was imported under a new identifier, so that the
// next import finds it again. Only such items carry them.
const (
	SourceRunTag     = "arca.import.source_run"
	SourceVersionTag = "arca.import.source_version"
	sourceModelTag   = "arca.import.source_model"
)

// metricChunk is how many metric points go into arca per transaction.
const metricChunk = 5000

// ImportMLflow imports experiments, runs (params, tags, every metric
// point, dataset and model inputs and outputs, artifacts), MLflow 3
// logged models and the model registry (registered models, versions with
// their numbers and stages, aliases and tags) from src into arca's MLflow
// space through dst.
//
// Identifiers are kept where arca does not use them for something else: an
// experiment of the same name is the same experiment; a run ID or logged
// model ID taken by another experiment's run or model gets a new one
// (reported in the mapping and tagged with the source's). A run is
// complete in arca once it has the source's status and end time (its end
// is the last write); a run still running at the source is brought up to
// date metric by metric (compared by the number of points).
func ImportMLflow(ctx context.Context, src MLflowSource, dst *mlflow.Importer, opts Options, r *Report) error {
	c := &mlflowClient{base: strings.TrimSuffix(src.URL, "/"), user: src.Username, password: src.Password, token: src.Token, http: src.Client}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	im := &mlflowImport{c: c, dst: dst, opts: opts, r: r, workers: src.Workers,
		runs: map[string]string{}, models: map[string]string{}, roots: map[string]string{}}
	if im.workers <= 0 {
		im.workers = 4
	}
	started := time.Now()
	exps, err := c.experiments(ctx)
	if err != nil {
		return fmt.Errorf("listing the source's experiments: %w", err)
	}
	for _, e := range exps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := im.experiment(ctx, e); err != nil {
			r.Fail("experiment", e.Name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := im.registry(ctx); err != nil {
		return err
	}
	took := time.Since(started)
	if opts.Progress != nil && !opts.DryRun {
		secs := max(took.Seconds(), 1e-3)
		fmt.Fprintf(opts.Progress, "mlflow import: %d runs, %d metric points, %d artifact files (%s) in %s: %.1f runs/s, %.0f metric points/s\n",
			im.nRuns.Load(), im.nPoints.Load(), im.nFiles.Load(), humanize.IBytes(uint64(im.nBytes.Load())), took.Round(time.Millisecond),
			float64(im.nRuns.Load())/secs, float64(im.nPoints.Load())/secs)
	}
	return nil
}

// mlflowImport is one import in progress.
type mlflowImport struct {
	c       *mlflowClient
	dst     *mlflow.Importer
	opts    Options
	r       *Report
	workers int

	mu sync.Mutex
	// runs and models map the source's run and logged model IDs to arca's
	// (the same, unless they had to change); roots the source's artifact
	// roots (runs', logged models') to arca's, normalized (rootOf).
	runs, models, roots map[string]string

	nRuns, nPoints, nFiles, nBytes atomic.Int64
}

func (im *mlflowImport) mapRun(from, to string) {
	im.mu.Lock()
	im.runs[from] = to
	im.mu.Unlock()
	if from != to {
		im.r.Map("run", from, to)
	}
}

func (im *mlflowImport) mapRoot(from, to string) {
	if from == "" || to == "" {
		return
	}
	im.mu.Lock()
	im.roots[rootOf(from)] = rootOf(to)
	im.mu.Unlock()
}

// rootOf normalizes an artifact URI: mlflow-artifacts URIs by their key
// (the host part of mlflow-artifacts://host/... names the server, not the
// place), others without a trailing slash.
func rootOf(uri string) string {
	if key, ok := mlflow.ArtifactKey(uri); ok {
		return "mlflow-artifacts:/" + strings.Trim(key, "/")
	}
	return strings.TrimSuffix(uri, "/")
}

// rewriteURI maps a URI below a source artifact root to the same place
// below arca's, and returns it unchanged when it is below none.
func (im *mlflowImport) rewriteURI(uri string) string {
	n := rootOf(uri)
	im.mu.Lock()
	defer im.mu.Unlock()
	best := ""
	for from := range im.roots {
		if (n == from || strings.HasPrefix(n, from+"/")) && len(from) > len(best) {
			best = from
		}
	}
	if best == "" {
		return uri
	}
	return im.roots[best] + strings.TrimPrefix(n, best)
}

// rewriteSource maps a model version's source to arca: runs:/ and
// models:/m- URIs to the imported run and logged model, artifact URIs
// below an imported root to arca's place of it.
func (im *mlflowImport) rewriteSource(source string) string {
	im.mu.Lock()
	runs, models := im.runs, im.models
	im.mu.Unlock()
	if rest, ok := strings.CutPrefix(source, "runs:/"); ok {
		id, path, _ := strings.Cut(rest, "/")
		if to, ok := runs[id]; ok && to != id {
			return "runs:/" + to + "/" + path
		}
		return source
	}
	if rest, ok := strings.CutPrefix(source, "models:/"); ok && strings.HasPrefix(rest, "m-") {
		id, path, _ := strings.Cut(rest, "/")
		if to, ok := models[id]; ok && to != id {
			if path != "" {
				return "models:/" + to + "/" + path
			}
			return "models:/" + to
		}
		return source
	}
	return im.rewriteURI(source)
}

// experiment imports one experiment: the experiment, its logged models,
// its runs (several at once), then the logged models' artifacts.
func (im *mlflowImport) experiment(ctx context.Context, e mlflow.Experiment) error {
	var id int64
	if im.opts.DryRun {
		have, ok, err := im.dst.ExperimentID(ctx, e.Name)
		if err != nil {
			return err
		}
		if ok {
			id = have
			im.r.Skipped("experiment", e.Name, 0)
		} else {
			im.r.Planned("experiment", e.Name, 0)
		}
	} else {
		var created bool
		var err error
		id, created, err = im.dst.Experiment(ctx, mlflow.ImportedExperiment{ID: e.ExperimentID, Name: e.Name,
			LifecycleStage: e.LifecycleStage, CreationTime: int64(e.CreationTime), LastUpdateTime: int64(e.LastUpdateTime), Tags: e.Tags})
		if err != nil {
			return err
		}
		if created {
			im.r.Imported("experiment", e.Name, 0)
		} else {
			im.r.Skipped("experiment", e.Name, 0)
		}
		if strconv.FormatInt(id, 10) != e.ExperimentID {
			im.r.Map("experiment", e.ExperimentID, strconv.FormatInt(id, 10))
		}
	}
	runs, err := im.c.runs(ctx, e.ExperimentID)
	if err != nil {
		return fmt.Errorf("listing runs: %w", err)
	}
	models, err := im.c.loggedModels(ctx, e.ExperimentID)
	if err != nil {
		return fmt.Errorf("listing logged models: %w", err)
	}
	// Run IDs first: logged models name their source runs.
	plans := make([]runPlan, 0, len(runs))
	for _, run := range runs {
		p, err := im.planRun(ctx, id, run)
		if err != nil {
			im.r.Fail("run", run.Info.RunID, err)
			continue
		}
		plans = append(plans, p)
	}
	var modelRoots []modelPlan
	for _, m := range models {
		mp, err := im.loggedModel(ctx, id, m)
		if err != nil {
			im.r.Fail("logged-model", m.Info.ModelID, err)
			continue
		}
		modelRoots = append(modelRoots, mp)
	}
	work := make(chan runPlan)
	var wg sync.WaitGroup
	for range im.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				im.run(ctx, p)
			}
		}()
	}
	for _, p := range plans {
		if ctx.Err() != nil {
			break
		}
		work <- p
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, mp := range modelRoots {
		if mp.location == "" {
			continue
		}
		n, bytes, err := im.artifacts(ctx, mp.srcURI, mp.location, "")
		name := "logged-model " + mp.id + " artifacts"
		switch {
		case err != nil:
			im.r.Fail("artifacts", name, err)
		case im.opts.DryRun:
			im.r.Planned("artifacts", name, bytes)
		case n > 0:
			im.r.Imported("artifacts", name, bytes)
		}
	}
	return nil
}

// runPlan is what will be done with one source run.
type runPlan struct {
	run      mlflow.Run
	id       string // arca's run ID
	exp      int64  // arca's experiment (0 in a dry run of a new experiment)
	complete bool   // arca has it whole
	exists   bool
	uri      string // arca's artifact URI, when the run exists
}

// planRun decides a source run's ID in arca and whether arca has it.
func (im *mlflowImport) planRun(ctx context.Context, exp int64, run mlflow.Run) (runPlan, error) {
	src := run.Info.RunID
	if src == "" {
		src = run.Info.RunUUID
	}
	run.Info.RunID = src
	p := runPlan{run: run, id: src, exp: exp}
	st, err := im.dst.Run(ctx, src)
	if err != nil {
		return p, err
	}
	if st.Exists && st.ExperimentID != exp && !im.opts.DryRun {
		// Another experiment's run has this ID: the run is arca's under
		// a new one, found again by its tag.
		p.id, err = im.dst.RunByTag(ctx, exp, SourceRunTag, src)
		if err != nil {
			return p, err
		}
		st = mlflow.RunState{}
		if p.id == "" {
			p.id = randomID()
		} else if st, err = im.dst.Run(ctx, p.id); err != nil {
			return p, err
		}
	}
	im.mapRun(src, p.id)
	p.exists, p.uri = st.Exists, st.ArtifactURI
	p.complete = st.Exists && st.Status == run.Info.Status && st.EndTime == int64(run.Info.EndTime) && run.Info.EndTime != 0 &&
		st.LifecycleStage == run.Info.LifecycleStage
	if p.exists {
		im.mapRoot(run.Info.ArtifactURI, p.uri)
	}
	return p, nil
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// run imports one run, or reports it present.
func (im *mlflowImport) run(ctx context.Context, p runPlan) {
	name := p.run.Info.RunID
	if p.complete {
		im.r.Skipped("run", name, 0)
		return
	}
	if im.opts.DryRun {
		_, bytes, err := im.artifacts(ctx, p.run.Info.ArtifactURI, "", p.run.Info.RunID)
		if err != nil {
			im.r.Fail("run", name, err)
			return
		}
		im.r.Planned("run", name, bytes)
		return
	}
	moved, bytes, err := im.importRun(ctx, p)
	switch {
	case err != nil:
		im.r.Fail("run", name, err)
	case p.exists && !moved:
		im.r.Skipped("run", name, 0) // a running run with nothing new
	default:
		im.nRuns.Add(1)
		im.r.Imported("run", name, bytes)
	}
}

// importRun writes a run and reports whether it moved any metric point or
// artifact, and the artifact bytes.
func (im *mlflowImport) importRun(ctx context.Context, p runPlan) (bool, int64, error) {
	info := p.run.Info
	uri, err := im.dst.BeginRun(ctx, mlflow.ImportedRun{UUID: p.id, ExperimentID: p.exp, Name: info.RunName, UserID: info.UserID,
		StartTime: int64(info.StartTime)})
	if err != nil {
		return false, 0, err
	}
	im.mapRoot(info.ArtifactURI, uri)
	tags := p.run.Data.Tags
	if p.id != info.RunID {
		tags = append(append([]mlflow.RunTag{}, tags...), mlflow.RunTag{Key: SourceRunTag, Value: info.RunID})
	}
	var modelIn []mlflow.ModelInput
	for _, m := range p.run.Inputs.ModelInputs {
		modelIn = append(modelIn, mlflow.ModelInput{ModelID: im.modelID(m.ModelID)})
	}
	var modelOut []mlflow.ModelOutput
	if p.run.Outputs != nil {
		for _, m := range p.run.Outputs.ModelOutputs {
			modelOut = append(modelOut, mlflow.ModelOutput{ModelID: im.modelID(m.ModelID), Step: m.Step})
		}
	}
	if err := im.dst.RunData(ctx, p.id, p.run.Data.Params, tags, p.run.Inputs.DatasetInputs, modelIn, modelOut); err != nil {
		return false, 0, err
	}
	points, err := im.metrics(ctx, p)
	if err != nil {
		return false, 0, err
	}
	files, bytes, err := im.artifacts(ctx, info.ArtifactURI, uri, info.RunID)
	if err != nil {
		return false, bytes, err
	}
	return points > 0 || files > 0, bytes, im.dst.FinishRun(ctx, p.id, info.Status, int64(info.EndTime), info.LifecycleStage)
}

func (im *mlflowImport) modelID(src string) string {
	im.mu.Lock()
	defer im.mu.Unlock()
	if to, ok := im.models[src]; ok {
		return to
	}
	return src
}

// metrics copies each metric's history that arca does not have whole
// (compared by the number of points), and returns the points written.
func (im *mlflowImport) metrics(ctx context.Context, p runPlan) (int64, error) {
	have := map[string]int64{}
	if p.exists {
		var err error
		if have, err = im.dst.MetricCounts(ctx, p.id); err != nil {
			return 0, err
		}
	}
	var written int64
	keys := map[string]bool{}
	for _, m := range p.run.Data.Metrics {
		keys[m.Key] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, key := range sorted {
		hist, err := im.c.history(ctx, p.run.Info.RunID, key)
		if err != nil {
			return written, fmt.Errorf("metric %s: %w", key, err)
		}
		if int64(len(hist)) == have[key] {
			continue
		}
		for i := range hist {
			hist[i].Key = key
			hist[i].RunID = ""
			if hist[i].ModelID != "" {
				hist[i].ModelID = im.modelID(hist[i].ModelID)
			}
		}
		for len(hist) > 0 {
			n := min(len(hist), metricChunk)
			if err := im.dst.Metrics(ctx, p.id, hist[:n]); err != nil {
				return written, fmt.Errorf("metric %s: %w", key, err)
			}
			im.nPoints.Add(int64(n))
			written += int64(n)
			hist = hist[n:]
		}
	}
	return written, nil
}

// artifacts copies the files below a source artifact root (a run's, when
// runID is set, listed through the tracking API if the source does not
// proxy it; a logged model's through the proxy) to arca's root dstURI,
// skipping files arca has with the same size. In a dry run (dstURI "")
// it only counts. It returns the files and bytes copied (or to copy).
func (im *mlflowImport) artifacts(ctx context.Context, srcURI, dstURI, runID string) (int, int64, error) {
	srcKey, proxied := mlflow.ArtifactKey(srcURI)
	var files []artifactFile
	var err error
	switch {
	case proxied:
		files, err = im.c.proxiedFiles(ctx, strings.Trim(srcKey, "/"))
	case runID != "":
		files, err = im.c.runFiles(ctx, runID)
	default:
		return 0, 0, fmt.Errorf("artifacts at %s are not served by the source's artifact proxy: not imported", srcURI)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("listing artifacts: %w", err)
	}
	var n int
	var total int64
	if im.opts.DryRun || dstURI == "" {
		for _, f := range files {
			total += max(f.Size, 0)
		}
		return len(files), total, nil
	}
	dstKey, ok := mlflow.ArtifactKey(dstURI)
	if !ok {
		return 0, 0, fmt.Errorf("arca's artifact root %s is not in its artifact store", dstURI)
	}
	dstKey = strings.Trim(dstKey, "/")
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return n, total, err
		}
		key := dstKey + "/" + f.Path
		if size, ok, err := im.dst.ArtifactSize(ctx, key); err != nil {
			return n, total, err
		} else if ok && (f.Size < 0 || size == f.Size) {
			continue
		}
		var resp *http.Response
		if proxied {
			resp, err = im.c.openProxied(ctx, strings.Trim(srcKey, "/")+"/"+f.Path)
		} else {
			resp, err = im.c.openRunFile(ctx, runID, f.Path)
		}
		if err != nil {
			return n, total, fmt.Errorf("downloading %s: %w", f.Path, err)
		}
		size := resp.ContentLength
		if f.Size >= 0 {
			size = f.Size // a body of another length is refused
		}
		err = im.dst.PutArtifact(ctx, key, resp.Body, size, "")
		resp.Body.Close()
		if err != nil {
			return n, total, fmt.Errorf("storing %s: %w", f.Path, err)
		}
		n++
		total += max(size, 0)
		im.nFiles.Add(1)
		im.nBytes.Add(max(size, 0))
	}
	return n, total, nil
}

// modelPlan is a logged model whose artifacts follow its runs.
type modelPlan struct {
	id       string // arca's
	srcURI   string
	location string // arca's artifact location ("" in a dry run)
}

// loggedModel imports an MLflow 3 logged model (not its artifacts, which
// follow once the runs are in).
func (im *mlflowImport) loggedModel(ctx context.Context, exp int64, m mlflow.LoggedModel) (modelPlan, error) {
	src := m.Info.ModelID
	mp := modelPlan{id: src, srcURI: m.Info.ArtifactURI}
	if im.opts.DryRun {
		if _, ok, err := im.dst.LoggedModelExperiment(ctx, src); err != nil {
			return mp, err
		} else if ok {
			im.r.Skipped("logged-model", src, 0)
		} else {
			im.r.Planned("logged-model", src, 0)
		}
		return mp, nil
	}
	have, ok, err := im.dst.LoggedModelExperiment(ctx, src)
	if err != nil {
		return mp, err
	}
	tags := m.Info.Tags
	if ok && have != exp {
		mp.id = "m-" + randomID()
		tags = append(append([]mlflow.LoggedModelTag{}, tags...), mlflow.LoggedModelTag{Key: sourceModelTag, Value: src})
		im.r.Map("logged-model", src, mp.id)
	}
	im.mu.Lock()
	im.models[src] = mp.id
	sourceRun := im.runs[m.Info.SourceRunID]
	im.mu.Unlock()
	if sourceRun == "" {
		sourceRun = m.Info.SourceRunID
	}
	loc, created, err := im.dst.LoggedModel(ctx, mlflow.ImportedLoggedModel{ID: mp.id, ExperimentID: exp, Name: m.Info.Name,
		Status: m.Info.Status, StatusMessage: m.Info.StatusMessage, ModelType: m.Info.ModelType, SourceRunID: sourceRun,
		Created: int64(m.Info.CreationTimestampMs), Updated: int64(m.Info.LastUpdatedTimestampMs), Tags: tags, Params: m.Data.Params})
	if err != nil {
		return mp, err
	}
	mp.location = loc
	im.mapRoot(m.Info.ArtifactURI, loc)
	if created {
		im.r.Imported("logged-model", src, 0)
	} else {
		im.r.Skipped("logged-model", src, 0)
	}
	return mp, nil
}
