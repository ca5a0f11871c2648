package ui

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Artifacts of runs and logged models are objects of the MLflow space's
// artifact bucket (its artifact_bucket setting, by default
// "mlflow-artifacts"): a root URI "mlflow-artifacts:/<key prefix>" names
// the objects under <key prefix>/. The UI lists and downloads them with the
// permission to read the run's experiment, as MLflow's artifact proxy does;
// no role on the bucket is needed.

// defaultArtifactBucket is the bucket of a space whose settings name none.
const defaultArtifactBucket = "mlflow-artifacts"

// artifactEntry is a file or folder of an artifact listing.
type artifactEntry struct {
	Name     string
	Path     string // relative to the artifact root
	Dir      bool
	Size     int64
	Modified int64
}

// artifactListing is one folder of a run's or logged model's artifacts.
type artifactListing struct {
	Root      string // the artifact root URI
	Path      string // the folder, relative to the root; "" is the root
	Model     string // the logged model's id, "" for the run's own artifacts
	Entries   []artifactEntry
	Truncated bool
	// External is set when the root is not in arca's bucket (an s3:// or
	// file: location the client wrote to itself).
	External bool
	// Missing is set when the space's artifact bucket does not exist.
	Missing bool
}

// Link is the page of a folder of this listing's root.
func (l *artifactListing) Link(run, p string) string {
	q := url.Values{}
	if l.Model != "" {
		q.Set("model", l.Model)
	}
	if p != "" {
		q.Set("path", p)
	}
	u := "/ui/runs/" + url.PathEscape(run) + "/artifacts"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// FileLink is the download URL of a file of this listing's root.
func (l *artifactListing) FileLink(run, p string) string {
	q := url.Values{"path": {p}}
	if l.Model != "" {
		q.Set("model", l.Model)
	}
	return "/ui/runs/" + url.PathEscape(run) + "/artifacts/file?" + q.Encode()
}

// artifactKeyPrefix returns the bucket key prefix of an artifact root URI
// ("mlflow-artifacts:/1/<run>/artifacts" → "1/<run>/artifacts/"), and
// false when the root is stored elsewhere.
func artifactKeyPrefix(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:")
	if !ok {
		return "", false
	}
	if hostPath, ok := strings.CutPrefix(rest, "//"); ok { // mlflow-artifacts://host:port/path
		_, rest, _ = strings.Cut(hostPath, "/")
	}
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return "", true
	}
	return rest + "/", true
}

// cleanArtifactPath checks a relative artifact path from a URL: no empty,
// "." or ".." segments, no leading or trailing slash (a folder path may be
// "").
func cleanArtifactPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", errs.E(errs.Invalid, "invalid artifact path %q", p)
		}
	}
	return p, nil
}

// artifactBucket returns the id of the space's artifact bucket, and false
// when it does not exist.
func (h *Handler) artifactBucket(ctx context.Context, v *mlflowViewer) (int64, bool, error) {
	name := defaultArtifactBucket
	if s, ok := v.space.Settings["artifact_bucket"].(string); ok && s != "" {
		name = s
	}
	b, err := h.repos.Get(ctx, name)
	if errs.Is(err, errs.NotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return b.ID, true, nil
}

// maxArtifactEntries bounds the entries of one folder listing.
const maxArtifactEntries = 1000

// listArtifacts lists the folder rel of the artifact root uri: its files
// and sub-folders, in key order (listEntries, which seeks past each
// sub-folder's contents).
func (h *Handler) listArtifacts(ctx context.Context, v *mlflowViewer, uri, rel string) (*artifactListing, error) {
	l := &artifactListing{Root: uri, Path: rel}
	root, ok := artifactKeyPrefix(uri)
	if !ok {
		l.External = true
		return l, nil
	}
	bucket, ok, err := h.artifactBucket(ctx, v)
	if err != nil || !ok {
		l.Missing = !ok
		return l, err
	}
	prefix := root
	if rel != "" {
		prefix += rel + "/"
	}
	entries, more, err := h.listEntries(ctx, s3Objects, bucket, prefix, "", maxArtifactEntries)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name, "/")
		l.Entries = append(l.Entries, artifactEntry{Name: name, Path: path.Join(rel, name), Dir: e.Dir,
			Size: e.Size, Modified: e.Modified})
	}
	l.Truncated = more
	return l, nil
}

// artifactRoot resolves the run of a request ({run}) and the artifact root
// it asks for: the run's own, or one of its logged models' (?model=).
func (h *Handler) artifactRoot(r *http.Request) (*mlflowViewer, runRow, string, string, error) {
	ctx := r.Context()
	v, run, err := h.readableRun(ctx, r.PathValue("run"))
	if err != nil {
		return nil, run, "", "", err
	}
	model := r.URL.Query().Get("model")
	if model == "" {
		return v, run, run.ArtifactURI, "", nil
	}
	m, ok, err := h.runLoggedModel(ctx, run, model)
	if err != nil {
		return nil, run, "", "", err
	}
	if !ok {
		return nil, run, "", "", errs.E(errs.NotFound, "Run %s has no logged model %q.", run.UUID, model)
	}
	return v, run, m.ArtifactLocation, m.ID, nil
}

type runArtifactsData struct {
	Crumbs    []crumb
	Run       runRow
	Artifacts *artifactListing
}

// runArtifacts shows one folder of a run's or logged model's artifacts.
func (h *Handler) runArtifacts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, run, root, model, err := h.artifactRoot(r)
	if err != nil {
		return err
	}
	rel, err := cleanArtifactPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	l, err := h.listArtifacts(ctx, v, root, rel)
	if err != nil {
		return err
	}
	l.Model = model
	e, _, err := h.getExperiment(ctx, run.ExperimentID)
	if err != nil {
		return err
	}
	d := runArtifactsData{Run: run, Artifacts: l, Crumbs: []crumb{
		{Label: "Experiments", Href: "/ui/experiments"},
		{Label: e.Name, Href: "/ui/experiments/" + strconv.FormatInt(e.ID, 10)},
		{Label: run.DisplayName(), Href: "/ui/runs/" + url.PathEscape(run.UUID)},
	}}
	top := "Artifacts"
	if model != "" {
		top = "Model " + model
	}
	if rel == "" {
		d.Crumbs = append(d.Crumbs, crumb{Label: top})
	} else {
		d.Crumbs = append(d.Crumbs, crumb{Label: top, Href: l.Link(run.UUID, "")})
		segs := strings.Split(rel, "/")
		for i, s := range segs {
			c := crumb{Label: s}
			if i < len(segs)-1 {
				c.Href = l.Link(run.UUID, strings.Join(segs[:i+1], "/"))
			}
			d.Crumbs = append(d.Crumbs, c)
		}
	}
	return h.render(w, r, http.StatusOK, "run_artifacts", Page{Title: top + " of " + run.DisplayName(), Nav: "experiments", Data: d})
}

// runArtifact downloads one artifact (?path=) of a run or of one of its
// logged models. It is always an attachment, sandboxed, so that content a
// client uploaded cannot run as this site.
func (h *Handler) runArtifact(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, run, root, _, err := h.artifactRoot(r)
	if err != nil {
		return err
	}
	rel, err := cleanArtifactPath(r.URL.Query().Get("path"))
	if err != nil || rel == "" {
		return errs.E(errs.Invalid, "name an artifact with ?path=")
	}
	prefix, ok := artifactKeyPrefix(root)
	if !ok {
		return errs.E(errs.NotFound, "The artifacts of run %s are stored outside arca, at %s.", run.UUID, root)
	}
	bucket, ok, err := h.artifactBucket(ctx, v)
	if err != nil {
		return err
	}
	var o FileInfo
	if ok {
		o, ok, err = h.fileInfo(ctx, s3Objects, bucket, prefix+rel)
		if err != nil {
			return err
		}
	}
	if !ok {
		return errs.E(errs.NotFound, "Run %s has no artifact %q.", run.UUID, rel)
	}
	return h.serveAttachment(w, r, o.Digest, o.ContentType, path.Base(rel), o.Modified)
}
