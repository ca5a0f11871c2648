package mlflow

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// LineageAccess implements lineage.MLflow: whether p may read (or, with
// write, edit) the MLflow entity a lineage node names, by the same
// permissions as MLflow's API. kind is "run" (key: run id), "logged-model"
// (m-...), "model-version" ("<name>/<version>") or "dataset" (a digest:
// allowed when p may so access some experiment holding a dataset of it,
// at most 50 looked at). What does not exist is refused.
func (h *Handler) LineageAccess(ctx context.Context, p auth.Principal, kind, key string, write bool) (bool, error) {
	need := Read
	if write {
		need = Edit
	}
	var resource string
	var ids []int64
	var err error
	switch kind {
	case "run":
		resource = experimentResource
		ids, err = lineageIDs(ctx, h.db, `SELECT experiment_id FROM mlflow_runs WHERE run_uuid = $1`, key)
	case "logged-model":
		resource = experimentResource
		ids, err = lineageIDs(ctx, h.db, `SELECT experiment_id FROM mlflow_logged_models WHERE id = $1`, key)
	case "dataset":
		resource = experimentResource
		ids, err = lineageIDs(ctx, h.db, `SELECT DISTINCT experiment_id FROM mlflow_datasets WHERE digest = $1 ORDER BY experiment_id LIMIT 50`, key)
	case "model-version":
		resource = registeredModelResource
		i := strings.LastIndex(key, "/")
		if i < 0 {
			return false, nil
		}
		v, perr := strconv.ParseInt(key[i+1:], 10, 64)
		if perr != nil {
			return false, nil
		}
		ids, err = lineageIDs(ctx, h.db, `SELECT m.id FROM mlflow_registered_models m JOIN mlflow_model_versions v ON v.model_id = m.id
			WHERE m.name = $1 AND v.version = $2 AND v.deleted = 0`, key[:i], v)
	default:
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		perm, err := h.permissionOf(ctx, p, resource, id)
		if errs.Is(err, errs.Unavailable) { // no MLflow space
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if perm >= need {
			return true, nil
		}
	}
	return false, nil
}

func lineageIDs(ctx context.Context, db *meta.DB, query string, args ...any) ([]int64, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, meta.Err(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, meta.Err(err)
	}
	return ids, nil
}
