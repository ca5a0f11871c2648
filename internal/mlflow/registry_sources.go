package mlflow

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/arcaproject/arca/internal/meta"
)

// Where a new model version comes from. MLflow checks that a source lies
// inside the run or logged model the request names, so that registering
// a version cannot be used to reach artifacts the caller could not read,
// and records where the version's files are (storage_location, what
// get-download-uri answers):
//
//   - models:/m-<id>: the logged model's artifact location (model_id must
//     name the same model); run_id defaults to the model's source run;
//   - models:/<name>/<version|stage|latest> and models:/<name>@<alias>: a
//     copy of that version, recorded as models:/<name>/<version>, with its
//     run and logged model;
//   - runs:/<run_id>/<path>: the run's artifact URI joined with path
//     (run_id must name the same run);
//   - mlflow-artifacts: URIs: as they are, but they must lie below the
//     artifact root of the run (or logged model) the request names;
//   - local paths: refused (arca's runs have no local artifact roots);
//   - anything else (s3://, gs://, ...): as it is.
//
// Sources with ".." segments, relative or "."-containing paths are refused.

// versionOrigin is a new version's source and lineage after resolution.
type versionOrigin struct {
	Source          string
	StorageLocation string
	RunID           string
	LoggedModelID   string
}

// runRef is what the registry needs of a run.
type runRef struct {
	ExperimentID int64
	ArtifactURI  string
}

// loggedModelRef is what the registry needs of a logged model.
type loggedModelRef struct {
	ExperimentID     int64
	ArtifactLocation string
	SourceRunID      string
}

func invalidSource(source, field string) error {
	return invalidParam("Invalid model version source: '%s'. The %s request parameter must identify the resource that contains the source.", source, field)
}

// resolveVersionSource validates a create-version request's source, run_id
// and model_id (each nil when left out), checks that the caller may read
// the run, logged model or model version it refers to, and returns the
// version's origin.
func (h *Handler) resolveVersionSource(ctx context.Context, source string, runID, modelID *string) (versionOrigin, error) {
	o := versionOrigin{Source: source, StorageLocation: source}
	if runID != nil {
		o.RunID = *runID
	}
	if modelID != nil {
		o.LoggedModelID = *modelID
	}
	scheme, authority, _ := splitURI(source)
	if scheme == "models" {
		if authority != "" {
			return o, invalidParam("Invalid model version source: '%s'. Registered model sources must use the active model registry.", source)
		}
		u, ok := parseModelsURI(source)
		if !ok {
			return o, invalidSource(source, "model_id")
		}
		if u.LoggedModelID == "" {
			src, err := h.sourceVersion(ctx, u)
			if err != nil {
				return o, err
			}
			if runID != nil && o.RunID != src.RunID || modelID != nil && o.LoggedModelID != src.LoggedModelID {
				return o, invalidParam("Invalid model version source: '%s'. The run_id and model_id request parameters must match the referenced model version.", source)
			}
			o.Source = src.Source
			o.StorageLocation = src.StorageLocation
			if runID == nil {
				o.RunID = src.RunID
			}
			if modelID == nil {
				o.LoggedModelID = src.LoggedModelID
			}
		}
	}
	if o.LoggedModelID != "" {
		if err := h.checkSourceInModel(ctx, &o); err != nil {
			return o, err
		}
	} else if err := h.checkSourceInRun(ctx, &o); err != nil {
		return o, err
	}
	// A run the version names must be readable by the caller, whatever the
	// source; an unknown run id on a foreign source is kept as given, as
	// MLflow does.
	if o.RunID != "" {
		run, ok, err := h.findRun(ctx, o.RunID)
		if err != nil {
			return o, err
		}
		if ok {
			if err := h.requireExperiment(ctx, run.ExperimentID, Read); err != nil {
				return o, err
			}
		}
	}
	return o, nil
}

// checkSourceInRun checks a source against the run the request names (or
// none), and resolves runs:/ sources.
func (h *Handler) checkSourceInRun(ctx context.Context, o *versionOrigin) error {
	source := o.Source
	if isLocalSource(source) {
		return invalidParam("Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", source)
	}
	if sourceEscapesRoot(source) {
		return relativeSource(source)
	}
	scheme, authority, _ := splitURI(source)
	switch scheme {
	case "runs":
		rid, path, ok := parseRunsURI(source)
		if authority != "" || !ok || o.RunID == "" || rid != o.RunID {
			return invalidSource(source, "run_id")
		}
		run, found, err := h.findRun(ctx, rid)
		if err != nil {
			return err
		}
		if !found {
			return invalidSource(source, "run_id")
		}
		o.StorageLocation = appendArtifactPath(run.ArtifactURI, path)
		return nil
	case "models":
		u, ok := parseModelsURI(source)
		if authority != "" || !ok || u.LoggedModelID != "" {
			return invalidSource(source, "model_id")
		}
		return nil
	}
	if isProxiedArtifactSource(source) {
		if o.RunID == "" {
			return invalidSource(source, "run_id")
		}
		run, found, err := h.findRun(ctx, o.RunID)
		if err != nil {
			return err
		}
		if !found || !uriWithin(source, run.ArtifactURI) {
			return invalidSource(source, "run_id")
		}
	}
	return nil
}

// checkSourceInModel checks a source against the logged model the request
// names, checks that the caller may read it, and resolves models:/m-<id>
// sources.
func (h *Handler) checkSourceInModel(ctx context.Context, o *versionOrigin) error {
	source := o.Source
	if isLocalSource(source) {
		return invalidParam("Invalid model version source: '%s'. To use a local path as a model version source, the model_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the model_id.", source)
	}
	if sourceEscapesRoot(source) {
		return relativeSource(source)
	}
	model, found, err := h.findLoggedModel(ctx, o.LoggedModelID)
	if err != nil {
		return err
	}
	scheme, authority, _ := splitURI(source)
	switch scheme {
	case "runs":
		return invalidSource(source, "model_id")
	case "models":
		u, ok := parseModelsURI(source)
		if authority != "" || !ok {
			return invalidSource(source, "model_id")
		}
		if u.LoggedModelID == "" {
			// A copy of a version the caller may read (checked while
			// resolving it), carrying that version's lineage.
			return nil
		}
		if u.LoggedModelID != o.LoggedModelID || !found {
			return invalidSource(source, "model_id")
		}
		o.StorageLocation = model.ArtifactLocation
	default:
		if !found || isProxiedArtifactSource(source) && !uriWithin(source, model.ArtifactLocation) {
			return invalidSource(source, "model_id")
		}
	}
	if !found {
		return invalidSource(source, "model_id")
	}
	if o.RunID == "" {
		o.RunID = model.SourceRunID
	}
	return h.requireExperiment(ctx, model.ExperimentID, Read)
}

func relativeSource(source string) error {
	return invalidParam("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", source)
}

// sourceVersion resolves a models:/<name>/... URI to the version it names,
// which the caller must be able to read.
func (h *Handler) sourceVersion(ctx context.Context, u modelsURI) (versionOrigin, error) {
	m, err := h.registeredModelFor(ctx, u.Name, Read)
	if err != nil {
		return versionOrigin{}, err
	}
	if prompt, err := isPromptModel(ctx, h.db, m.ID); err != nil || prompt {
		if err == nil {
			err = invalidParam("Invalid model version source: 'models:/%s/...'. Prompt versions cannot be used as model version sources.", u.Name)
		}
		return versionOrigin{}, err
	}
	var version int64
	switch {
	case u.Version != "":
		version, err = strconv.ParseInt(u.Version, 10, 64)
		if err != nil {
			return versionOrigin{}, invalidParam("Parameter 'version' must be an integer, got '%s'.", u.Version)
		}
	case u.Alias != "":
		version, err = resolveAlias(ctx, h.db, m, u.Alias)
	default:
		version, err = latestVersion(ctx, h.db, m, u.Stage)
	}
	if err != nil {
		return versionOrigin{}, err
	}
	var o versionOrigin
	err = h.db.QueryRowContext(ctx, `SELECT source, storage_location, run_id, logged_model_id FROM mlflow_model_versions
		WHERE model_id = $1 AND version = $2 AND deleted = 0`, m.ID, version).Scan(&o.Source, &o.StorageLocation, &o.RunID, &o.LoggedModelID)
	if err == sql.ErrNoRows {
		return o, versionNotFound(m.Name, version)
	}
	if err != nil {
		return o, meta.Err(err)
	}
	if o.StorageLocation == "" {
		o.StorageLocation = o.Source
	}
	o.Source = "models:/" + m.Name + "/" + strconv.FormatInt(version, 10)
	return o, nil
}

// latestVersion is the highest version of a model, in stage when it is
// not "".
func latestVersion(ctx context.Context, q meta.Querier, m regModelRow, stage string) (int64, error) {
	query, args := `SELECT MAX(version) FROM mlflow_model_versions WHERE model_id = $1 AND deleted = 0`, []any{m.ID}
	if stage != "" {
		c, err := canonicalStage(stage)
		if err != nil {
			return 0, err
		}
		query, args = query+` AND current_stage = $2`, append(args, c)
	}
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return 0, meta.Err(err)
	}
	if !v.Valid {
		if stage != "" {
			return 0, notExist("No versions of model with name '%s' and stage '%s' found", m.Name, stage)
		}
		return 0, notExist("Latest version not found for model %s.", m.Name)
	}
	return v.Int64, nil
}

// findRun looks a run up by its run_id.
func (h *Handler) findRun(ctx context.Context, runID string) (runRef, bool, error) {
	var r runRef
	err := h.db.QueryRowContext(ctx, `SELECT experiment_id, artifact_uri FROM mlflow_runs WHERE run_uuid = $1`, runID).Scan(&r.ExperimentID, &r.ArtifactURI)
	if err == sql.ErrNoRows {
		return r, false, nil
	}
	return r, err == nil, meta.Err(err)
}

// findLoggedModel looks a (not deleted) logged model up by its id.
func (h *Handler) findLoggedModel(ctx context.Context, id string) (loggedModelRef, bool, error) {
	var m loggedModelRef
	err := h.db.QueryRowContext(ctx, `SELECT experiment_id, artifact_location, source_run_id FROM mlflow_logged_models
		WHERE id = $1 AND lifecycle_stage <> 'deleted'`, id).Scan(&m.ExperimentID, &m.ArtifactLocation, &m.SourceRunID)
	if err == sql.ErrNoRows {
		return m, false, nil
	}
	return m, err == nil, meta.Err(err)
}
