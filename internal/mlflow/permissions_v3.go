package mlflow

import (
	"net/http"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// MLflow 3's user permission endpoints (what mlflow.server.auth.client's
// grant_user_permission, revoke_user_permission and get_user_permission
// call): one call shape for every resource type, naming the resource by
// resource_type and resource_id (an experiment id, or a registered model's
// name). Granting and revoking need MANAGE on the resource, as the
// endpoints of permissions.go do; they share its storage.

// userPermissionRequest is the message of grant, revoke and get.
type userPermissionRequest struct {
	Username     string `json:"username"`
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
	Permission   string `json:"permission"`
}

// userPermissionTarget resolves the resource; the caller must manage it.
func (h *Handler) userPermissionTarget(r *http.Request, req userPermissionRequest) (permissionTarget, error) {
	if auth.From(r.Context()).Anonymous() {
		return permissionTarget{}, errs.E(errs.Unauthenticated, "authentication required").WithCode(codeUnauthenticated)
	}
	legacy := permissionRequest{Username: req.Username, Permission: req.Permission}
	switch req.ResourceType {
	case experimentResource:
		legacy.ExperimentID = idText(req.ResourceID)
		return h.experimentTarget(r.Context(), legacy)
	case registeredModelResource:
		legacy.Name = req.ResourceID
		return h.modelTarget(r.Context(), legacy)
	case "":
		return permissionTarget{}, registryMissing("resource_type")
	}
	return permissionTarget{}, invalidParam("unsupported resource_type %q: arca keeps permissions on %q and %q", req.ResourceType,
		experimentResource, registeredModelResource)
}

// POST /api/3.0/mlflow/users/permissions/grant sets (creates or replaces)
// a user's permission on a resource.
func (h *Handler) grantUserPermission(w http.ResponseWriter, r *http.Request) error {
	var req userPermissionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := h.userPermissionTarget(r, req)
	if err != nil {
		return err
	}
	perm, err := parsePermissionParam(req.Permission)
	if err != nil {
		return err
	}
	userID, err := h.permissionUser(r.Context(), req.Username)
	if err != nil {
		return err
	}
	_, err = h.db.ExecContext(r.Context(), `INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission)
		VALUES ($1, $2, $3, $4) ON CONFLICT (resource_kind, resource_id, user_id) DO UPDATE SET permission = excluded.permission`,
		t.kind, t.id, userID, perm.String())
	if err != nil {
		return meta.Err(err)
	}
	h.auditPermission(r.Context(), r, "mlflow.permission.grant", t, req.Username, perm)
	return reply(w, nil)
}

// POST /api/3.0/mlflow/users/permissions/revoke removes a user's explicit
// permission: the user falls back to the default from their role.
func (h *Handler) revokeUserPermission(w http.ResponseWriter, r *http.Request) error {
	var req userPermissionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := h.userPermissionTarget(r, req)
	if err != nil {
		return err
	}
	return h.deletePermission(w, r, t, permissionRequest{Username: req.Username})
}

// GET /api/3.0/mlflow/users/permissions/get answers a user's effective
// permission on a resource, explicit or from their role, and whether it
// allows use (EDIT or more), as MLflow does.
func (h *Handler) getUserPermission(w http.ResponseWriter, r *http.Request) error {
	var req userPermissionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	t, err := h.userPermissionTarget(r, req)
	if err != nil {
		return err
	}
	if req.Username == "" {
		return registryMissing("username")
	}
	u, err := h.auth.GetUser(r.Context(), req.Username)
	if errs.Is(err, errs.NotFound) {
		return notExist("User with username=%s not found", req.Username)
	}
	if err != nil {
		return err
	}
	p := auth.Principal{UserID: u.ID, Name: u.Name, Kind: u.Kind, Role: u.Role}
	if u.Disabled {
		p = auth.Principal{}
	}
	perm, err := h.permissionOf(r.Context(), p, t.kind, t.id)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"allowed": perm >= Edit, "permission": perm.String()})
}
