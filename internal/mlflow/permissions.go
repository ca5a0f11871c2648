package mlflow

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// The permission endpoints of MLflow's basic-auth app, for experiments
// (by experiment_id) and registered models (by name): create, get, update
// and delete one user's permission (READ, EDIT, MANAGE or NO_PERMISSIONS)
// on one resource. Only a caller who manages the resource or administers
// the space may see or change its permissions (requirePermissionManager). Permissions are rows of
// mlflow_permissions keyed by experiment id or registered model internal
// id, so renaming a model keeps them; an explicit permission overrides
// the user's default from their role on the space (see access.go).

// permissionTarget is the resource a permission request is about.
type permissionTarget struct {
	kind  string // experimentResource | registeredModelResource
	id    int64
	field string // experiment_id | name
	key   string // the experiment id or model name as the client gave it
}

// label names the target in messages the way MLflow does.
func (t permissionTarget) label() string {
	if t.kind == experimentResource {
		return "Experiment"
	}
	return "Registered model"
}

// permissionRequest is every permission call's message.
type permissionRequest struct {
	ExperimentID idText `json:"experiment_id"`
	Name         string `json:"name"`
	Username     string `json:"username"`
	Permission   string `json:"permission"`
}

// experimentTarget resolves experiment_id; the caller must manage the
// experiment.
func (h *Handler) experimentTarget(ctx context.Context, req permissionRequest) (permissionTarget, error) {
	key := string(req.ExperimentID)
	if key == "" {
		return permissionTarget{}, registryMissing("experiment_id")
	}
	t := permissionTarget{kind: experimentResource, field: "experiment_id", key: key}
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return t, notExist("Could not find experiment with ID %s", key)
	}
	var one int
	err = h.db.QueryRowContext(ctx, `SELECT 1 FROM mlflow_experiments WHERE id = $1`, id).Scan(&one)
	if err == sql.ErrNoRows {
		return t, notExist("Could not find experiment with ID %s", key)
	}
	if err != nil {
		return t, meta.Err(err)
	}
	t.id = id
	return t, h.requirePermissionManager(ctx, experimentResource, id)
}

// modelTarget resolves a registered model's name; the caller must manage
// the model.
func (h *Handler) modelTarget(ctx context.Context, req permissionRequest) (permissionTarget, error) {
	t := permissionTarget{kind: registeredModelResource, field: "name", key: req.Name}
	if req.Name == "" {
		return t, registryMissing("name")
	}
	m, err := lookupRegisteredModel(ctx, h.db, req.Name)
	if err != nil {
		return t, err
	}
	t.id = m.ID
	return t, h.requirePermissionManager(ctx, registeredModelResource, m.ID)
}

// requirePermissionManager checks that the caller may see and change the
// permissions of a resource, by the rule of MLflow's basic-auth app
// (MANAGE on the resource, or an administrator): MANAGE on the resource
// (the default of maintainers and admins of the space, of the resource's
// creator, or an explicit grant), or administering the space — the admin
// role on the mlflow repository or the global admin role, which an
// explicit permission on the resource does not take away, so that the
// space's admins can always repair its permissions. Callers are
// authenticated (permissionHandler refuses anonymous ones first).
func (h *Handler) requirePermissionManager(ctx context.Context, kind string, id int64) error {
	space, err := h.spaceRepo(ctx)
	if err != nil {
		return err
	}
	role, err := h.auth.RoleOn(ctx, auth.From(ctx), space)
	if err != nil {
		return err
	}
	if role == auth.Admin {
		return nil
	}
	return h.require(ctx, kind, id, Manage)
}

// permissionUser finds the user a permission is for.
func (h *Handler) permissionUser(ctx context.Context, username string) (int64, error) {
	if username == "" {
		return 0, registryMissing("username")
	}
	var id int64
	err := h.db.QueryRowContext(ctx, `SELECT id FROM users WHERE name = $1`, username).Scan(&id)
	if err == sql.ErrNoRows {
		return 0, notExist("User with username=%s not found", username)
	}
	return id, meta.Err(err)
}

func parsePermissionParam(s string) (Permission, error) {
	if s == "" {
		return NoPermissions, registryMissing("permission")
	}
	return ParsePermission(s)
}

// permissionJSON is the permission message MLflow's auth app answers with.
func (t permissionTarget) permissionJSON(userID int64, perm Permission) map[string]any {
	body := map[string]any{t.field: t.key, "user_id": userID, "permission": perm.String()}
	if t.kind == experimentResource {
		return map[string]any{"experiment_permission": body}
	}
	return map[string]any{"registered_model_permission": body}
}

func (t permissionTarget) notFound(username string) error {
	return notExist("%s permission with %s=%s and username=%s not found", t.label(), t.field, t.key, username)
}

// createPermission stores a new permission; one already there is
// RESOURCE_ALREADY_EXISTS.
func (h *Handler) createPermission(w http.ResponseWriter, r *http.Request, t permissionTarget, req permissionRequest) error {
	ctx := r.Context()
	perm, err := parsePermissionParam(req.Permission)
	if err != nil {
		return err
	}
	userID, err := h.permissionUser(ctx, req.Username)
	if err != nil {
		return err
	}
	_, err = h.db.ExecContext(ctx, `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission) VALUES ($1, $2, $3, $4)`,
		t.kind, t.id, userID, perm.String())
	if meta.IsUniqueViolation(err) {
		return alreadyExists("%s permission (%s=%s, username=%s) already exists.", t.label(), t.field, t.key, req.Username)
	}
	if err != nil {
		return meta.Err(err)
	}
	h.auditPermission(ctx, r, "mlflow.permission.create", t, req.Username, perm)
	return reply(w, t.permissionJSON(userID, perm))
}

// getPermission answers one user's explicit permission.
func (h *Handler) getPermission(w http.ResponseWriter, r *http.Request, t permissionTarget, req permissionRequest) error {
	ctx := r.Context()
	userID, err := h.permissionUser(ctx, req.Username)
	if err != nil {
		return err
	}
	var s string
	err = h.db.QueryRowContext(ctx, `SELECT permission FROM mlflow_permissions WHERE resource_kind = $1 AND resource_id = $2 AND user_id = $3`,
		t.kind, t.id, userID).Scan(&s)
	if err == sql.ErrNoRows {
		return t.notFound(req.Username)
	}
	if err != nil {
		return meta.Err(err)
	}
	perm, err := ParsePermission(s)
	if err != nil {
		return err
	}
	return reply(w, t.permissionJSON(userID, perm))
}

// updatePermission changes an existing permission.
func (h *Handler) updatePermission(w http.ResponseWriter, r *http.Request, t permissionTarget, req permissionRequest) error {
	ctx := r.Context()
	perm, err := parsePermissionParam(req.Permission)
	if err != nil {
		return err
	}
	userID, err := h.permissionUser(ctx, req.Username)
	if err != nil {
		return err
	}
	res, err := h.db.ExecContext(ctx, `UPDATE mlflow_permissions SET permission = $1 WHERE resource_kind = $2 AND resource_id = $3 AND user_id = $4`,
		perm.String(), t.kind, t.id, userID)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t.notFound(req.Username)
	}
	h.auditPermission(ctx, r, "mlflow.permission.update", t, req.Username, perm)
	return reply(w, nil)
}

// deletePermission removes an explicit permission: the user falls back to
// their default from the space.
func (h *Handler) deletePermission(w http.ResponseWriter, r *http.Request, t permissionTarget, req permissionRequest) error {
	ctx := r.Context()
	userID, err := h.permissionUser(ctx, req.Username)
	if err != nil {
		return err
	}
	res, err := h.db.ExecContext(ctx, `DELETE FROM mlflow_permissions WHERE resource_kind = $1 AND resource_id = $2 AND user_id = $3`,
		t.kind, t.id, userID)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t.notFound(req.Username)
	}
	h.auditPermission(ctx, r, "mlflow.permission.delete", t, req.Username, NoPermissions)
	return reply(w, nil)
}

func (h *Handler) auditPermission(ctx context.Context, r *http.Request, action string, t permissionTarget, username string, perm Permission) {
	detail := map[string]any{"user": username, t.field: t.key}
	if action != "mlflow.permission.delete" {
		detail["permission"] = perm.String()
	}
	h.auditModel(ctx, r, action, t.kind+"/"+strconv.FormatInt(t.id, 10), detail)
}

// permissionHandler adapts one of the operations above to an endpoint on
// experiments or registered models.
func (h *Handler) permissionHandler(w http.ResponseWriter, r *http.Request, onModel bool,
	op func(http.ResponseWriter, *http.Request, permissionTarget, permissionRequest) error) error {
	var req permissionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if auth.From(r.Context()).Anonymous() {
		// Anonymous callers read at most; they never manage.
		return errs.E(errs.Unauthenticated, "authentication required").WithCode(codeUnauthenticated)
	}
	resolve := h.experimentTarget
	if onModel {
		resolve = h.modelTarget
	}
	t, err := resolve(r.Context(), req)
	if err != nil {
		return err
	}
	return op(w, r, t, req)
}

// POST experiments/permissions/create
func (h *Handler) createExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, false, h.createPermission)
}

// GET experiments/permissions/get
func (h *Handler) getExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, false, h.getPermission)
}

// PATCH experiments/permissions/update
func (h *Handler) updateExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, false, h.updatePermission)
}

// DELETE experiments/permissions/delete
func (h *Handler) deleteExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, false, h.deletePermission)
}

// POST registered-models/permissions/create
func (h *Handler) createRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, true, h.createPermission)
}

// GET registered-models/permissions/get
func (h *Handler) getRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, true, h.getPermission)
}

// PATCH registered-models/permissions/update
func (h *Handler) updateRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, true, h.updatePermission)
}

// DELETE registered-models/permissions/delete
func (h *Handler) deleteRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return h.permissionHandler(w, r, true, h.deletePermission)
}
