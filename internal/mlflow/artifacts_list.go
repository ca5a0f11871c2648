package mlflow

import (
	"context"
	"database/sql"
	"errors"
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Listings of one resource's artifacts (a run's, a logged model's): paths
// relative to the resource's artifact root, with the root's URI.

// listRootArtifacts lists dir (relative, "" for the root) below the
// artifact root uri of a resource in experiment experimentID.
func (h *Handler) listRootArtifacts(ctx context.Context, experimentID int64, uri, dir string) (any, error) {
	if err := h.requireExperiment(ctx, experimentID, Read); err != nil {
		return nil, err
	}
	rel, err := cleanListPath(dir)
	if err != nil {
		return nil, err
	}
	root, ok := proxiedKey(uri)
	if !ok {
		return nil, errs.E(errs.Unsupported, "arca lists the artifacts it stores (mlflow-artifacts: locations); these are at %s", uri).WithCode(codeNotImplemented)
	}
	if root != "" {
		if root, err = cleanArtifactPath(root); err != nil {
			return nil, err
		}
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return nil, err
	}
	files, err := h.listArtifactDir(ctx, bucket, joinArtifactPath(root, rel), rel)
	if err != nil {
		return nil, err
	}
	return struct {
		RootURI string     `json:"root_uri"`
		Files   []fileInfo `json:"files,omitempty"`
	}{uri, files}, nil
}

// listRunArtifacts is GET /api/2.0/mlflow/artifacts/list?run_id=&path=.
func (h *Handler) listRunArtifacts(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
		Path    string `json:"path"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := req.RunID
	if id == "" {
		id = req.RunUUID
	}
	if id == "" {
		return invalidParam("missing value for required parameter 'run_id'")
	}
	var experimentID int64
	var uri string
	err := h.db.QueryRowContext(r.Context(), `SELECT experiment_id, artifact_uri FROM mlflow_runs WHERE run_uuid = $1`, id).Scan(&experimentID, &uri)
	if errors.Is(err, sql.ErrNoRows) {
		return notExist("run with id=%s not found", id)
	}
	if err != nil {
		return meta.Err(err)
	}
	res, err := h.listRootArtifacts(r.Context(), experimentID, uri, req.Path)
	if err != nil {
		return err
	}
	return reply(w, res)
}

// listLoggedModelArtifacts is GET
// /api/2.0/mlflow/logged-models/<id>/artifacts/directories?artifact_directory_path=.
func (h *Handler) listLoggedModelArtifacts(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Path string `json:"artifact_directory_path"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("model_id")
	var experimentID int64
	var uri string
	err := h.db.QueryRowContext(r.Context(), `SELECT experiment_id, artifact_location FROM mlflow_logged_models WHERE id = $1`, id).Scan(&experimentID, &uri)
	if errors.Is(err, sql.ErrNoRows) {
		return notExist("logged model with ID '%s' not found", id)
	}
	if err != nil {
		return meta.Err(err)
	}
	res, err := h.listRootArtifacts(r.Context(), experimentID, uri, req.Path)
	if err != nil {
		return err
	}
	return reply(w, res)
}
