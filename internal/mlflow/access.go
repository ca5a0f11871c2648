package mlflow

import (
	"context"
	"database/sql"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Permission is MLflow's permission on an experiment or registered model.
// Each includes the ones before it.
type Permission int

const (
	NoPermissions Permission = iota // NO_PERMISSIONS
	Read                            // READ: view
	Edit                            // EDIT: log, update
	Manage                          // MANAGE: delete, change permissions
)

var permissionNames = [...]string{"NO_PERMISSIONS", "READ", "EDIT", "MANAGE"}

func (p Permission) String() string { return permissionNames[p] }

// ParsePermission reads MLflow's permission names (USE is EDIT's alias in
// newer MLflow).
func ParsePermission(s string) (Permission, error) {
	for i, n := range permissionNames {
		if n == s {
			return Permission(i), nil
		}
	}
	if s == "USE" {
		return Edit, nil
	}
	return NoPermissions, invalidParam("invalid permission %q: want READ, EDIT, MANAGE or NO_PERMISSIONS", s)
}

// Resource kinds of mlflow_permissions.
const (
	experimentResource      = "experiment"
	registeredModelResource = "registered_model"
)

// fromRole is a role's default permission on everything in the space.
func fromRole(r auth.Role) Permission {
	switch r {
	case auth.Reader:
		return Read
	case auth.Developer:
		return Edit
	case auth.Maintainer, auth.Admin:
		return Manage
	}
	return NoPermissions
}

// spaceRepo returns the mlflow repository.
func (h *Handler) spaceRepo(ctx context.Context) (*repo.Repository, error) {
	r, err := h.repos.Get(ctx, h.space)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.Unavailable, "the MLflow repository %q does not exist; create it (format mlflow)", h.space)
	}
	return r, err
}

// permission returns the caller's permission on one resource (kind and
// id), or on the whole space when kind is "": an explicit MLflow
// permission if there is one, else the default from the caller's role on
// the space. Administrators always manage. Anonymous callers read public
// spaces.
func (h *Handler) permission(ctx context.Context, kind string, id int64) (Permission, error) {
	return h.permissionOf(ctx, auth.From(ctx), kind, id)
}

// permissionOf is permission for principal p.
func (h *Handler) permissionOf(ctx context.Context, p auth.Principal, kind string, id int64) (Permission, error) {
	space, err := h.spaceRepo(ctx)
	if err != nil {
		return NoPermissions, err
	}
	if p.Anonymous() {
		if space.Public() {
			return Read, nil
		}
		return NoPermissions, nil
	}
	if p.IsAdmin() {
		return Manage, nil
	}
	if kind != "" {
		var s string
		err := h.db.QueryRowContext(ctx, `SELECT permission FROM mlflow_permissions
			WHERE resource_kind = $1 AND resource_id = $2 AND user_id = $3`, kind, id, p.UserID).Scan(&s)
		if err == nil {
			return ParsePermission(s)
		}
		if err != sql.ErrNoRows {
			return NoPermissions, meta.Err(err)
		}
	}
	role, err := h.auth.RoleOn(ctx, p, space)
	if err != nil {
		return NoPermissions, err
	}
	perm := fromRole(role)
	if perm == NoPermissions && space.Public() {
		perm = Read
	}
	return perm, nil
}

// require checks that the caller has at least need on a resource (or on
// the space when kind is ""). A refused anonymous caller is asked to
// authenticate; a refused user gets PERMISSION_DENIED.
func (h *Handler) require(ctx context.Context, kind string, id int64, need Permission) error {
	have, err := h.permission(ctx, kind, id)
	if err != nil {
		return err
	}
	if have >= need {
		return nil
	}
	if auth.From(ctx).Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required").WithCode(codeUnauthenticated)
	}
	what := "the MLflow space"
	switch kind {
	case experimentResource:
		what = "this experiment"
	case registeredModelResource:
		what = "this registered model"
	}
	return errs.E(errs.Denied, "permission denied: %s needs %s on %s", auth.From(ctx).Name, need, what).WithCode(codePermissionDenied)
}

// requireExperiment checks the caller's permission on an experiment.
func (h *Handler) requireExperiment(ctx context.Context, experimentID int64, need Permission) error {
	return h.require(ctx, experimentResource, experimentID, need)
}

// requireRegisteredModel checks the caller's permission on a registered
// model (by its internal id).
func (h *Handler) requireRegisteredModel(ctx context.Context, modelID int64, need Permission) error {
	return h.require(ctx, registeredModelResource, modelID, need)
}

// grantCreator gives the creator of a resource MANAGE on it, as MLflow's
// auth does, in the transaction that creates it. Anonymous creators (in a
// public space with anonymous writes) get nothing.
func grantCreator(ctx context.Context, tx *sql.Tx, kind string, id int64) error {
	p := auth.From(ctx)
	if p.Anonymous() {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
		VALUES ($1, $2, $3, 'MANAGE') ON CONFLICT DO NOTHING`, kind, id, p.UserID)
	return meta.Err(err)
}
