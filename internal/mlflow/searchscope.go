package mlflow

import (
	"context"
	"slices"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// SearchScope says which experiments (kind "experiment") or registered
// models (kind "registered_model") p may read, for arca's search: every
// one except ids (all true: p reads the space, minus explicit
// NO_PERMISSIONS), or only ids (all false: explicit READ or more). It is
// permissionOf's rule over every resource at once. Without an MLflow
// space nothing is readable.
func (h *Handler) SearchScope(ctx context.Context, p auth.Principal, kind string) (all bool, ids []int64, err error) {
	if kind != experimentResource && kind != registeredModelResource {
		return false, nil, errs.E(errs.Internal, "unknown MLflow resource kind %q", kind)
	}
	space, err := h.permissionOf(ctx, p, "", 0)
	if errs.Is(err, errs.Unavailable) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	all = space >= Read
	if p.Anonymous() || p.IsAdmin() {
		return all, nil, nil
	}
	rows, err := h.db.QueryContext(ctx, `SELECT resource_id, permission FROM mlflow_permissions
		WHERE resource_kind = $1 AND user_id = $2`, kind, p.UserID)
	if err != nil {
		return false, nil, meta.Err(err)
	}
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return false, nil, meta.Err(err)
		}
		perm, err := ParsePermission(s)
		if err != nil {
			continue // as visibilityOf: an unknown permission is no exception
		}
		if (perm >= Read) != all { // an exception to the default
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return all, ids, closeRows(rows)
}

// ArtifactBucket names the bucket of MLflow's artifacts; an
// errs.Unavailable error when there is no MLflow space.
func (h *Handler) ArtifactBucket(ctx context.Context) (string, error) {
	return h.artifactBucket(ctx)
}
