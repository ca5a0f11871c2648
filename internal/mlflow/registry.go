package mlflow

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
)

// Registered models: create, get, rename, update, delete, tags and the
// latest version per stage. Creating needs EDIT on the space and makes
// the creator the model's manager; reading needs READ on the model,
// changing it EDIT, deleting it MANAGE.

// createRegisteredModel answers POST registered-models/create.
func (h *Handler) createRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string     `json:"name"`
		Tags        []tagParam `json:"tags"`
		Description string     `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.require(ctx, "", 0, Edit); err != nil {
		return err
	}
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	tags, err := registryTags(req.Tags)
	if err != nil {
		return err
	}
	now := meta.Now()
	var id int64
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO mlflow_registered_models (name, description, created_by, creation_timestamp, last_updated_timestamp)
			VALUES ($1, $2, $3, $4, $4) RETURNING id`, req.Name, req.Description, creatorName(ctx), now).Scan(&id)
		if meta.IsUniqueViolation(err) {
			return alreadyExists("Registered Model (name=%s) already exists.", req.Name)
		}
		if err != nil {
			return meta.Err(err)
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_registered_model_tags (model_id, key, value) VALUES ($1, $2, $3)
				ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`, id, t.Key, t.Value); err != nil {
				return meta.Err(err)
			}
		}
		return grantCreator(ctx, tx, registeredModelResource, id)
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.registered_model.create", req.Name, nil)
	m, err := loadRegisteredModel(ctx, h.db, id)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"registered_model": m})
}

// getRegisteredModel answers GET registered-models/get.
func (h *Handler) getRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	m, err := h.registeredModelFor(r.Context(), req.Name, Read)
	if err != nil {
		return err
	}
	rm, err := loadRegisteredModel(r.Context(), h.db, m.ID)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"registered_model": rm})
}

// renameRegisteredModel answers POST registered-models/rename. The model
// keeps its internal id, so its versions, tags, aliases and permissions
// follow it.
func (h *Handler) renameRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name"`
		NewName string `json:"new_name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.Name == "" {
		return registryMissing("name")
	}
	if err := validateModelName(req.NewName, "new_name"); err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Edit)
	if err != nil {
		return err
	}
	now := meta.Now()
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mlflow_registered_models SET name = $1, last_updated_timestamp = $2 WHERE id = $3`, req.NewName, now, m.ID)
		if meta.IsUniqueViolation(err) {
			return alreadyExists("Registered Model (name=%s) already exists.", req.NewName)
		}
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notExist("Registered Model with name=%s not found", req.Name)
		}
		_, err = tx.ExecContext(ctx, `UPDATE mlflow_model_versions SET last_updated_timestamp = $1 WHERE model_id = $2 AND deleted = 0`, now, m.ID)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.registered_model.rename", req.NewName, map[string]any{"from": req.Name})
	h.auditModel(ctx, r, "mlflow.registered_model.update", m.Name, nil)
	rm, err := loadRegisteredModel(ctx, h.db, m.ID)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"registered_model": rm})
}

// updateRegisteredModel answers PATCH registered-models/update: it sets
// the description (left out, it is cleared, as MLflow does).
func (h *Handler) updateRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	m, err := h.registeredModelFor(ctx, req.Name, Edit)
	if err != nil {
		return err
	}
	if _, err := h.db.ExecContext(ctx, `UPDATE mlflow_registered_models SET description = $1, last_updated_timestamp = $2 WHERE id = $3`,
		req.Description, meta.Now(), m.ID); err != nil {
		return meta.Err(err)
	}
	rm, err := loadRegisteredModel(ctx, h.db, m.ID)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"registered_model": rm})
}

// deleteRegisteredModel answers DELETE registered-models/delete: the model
// goes with its versions, tags, aliases and permissions.
func (h *Handler) deleteRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	m, err := h.registeredModelFor(ctx, req.Name, Manage)
	if err != nil {
		return err
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mlflow_permissions WHERE resource_kind = $1 AND resource_id = $2`, registeredModelResource, m.ID); err != nil {
			return meta.Err(err)
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM mlflow_registered_models WHERE id = $1`, m.ID)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.registered_model.delete", req.Name, nil)
	return reply(w, nil)
}

// setRegisteredModelTag answers POST registered-models/set-tag.
func (h *Handler) setRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name  string  `json:"name"`
		Key   *string `json:"key"`
		Value string  `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	if req.Key == nil || *req.Key == "" {
		return registryMissing("key")
	}
	if err := validateRegistryTag(*req.Key, req.Value); err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Edit)
	if err != nil {
		return err
	}
	_, err = h.db.ExecContext(ctx, `INSERT INTO mlflow_registered_model_tags (model_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`, m.ID, *req.Key, req.Value)
	if err != nil {
		return meta.Err(err)
	}
	return reply(w, nil)
}

// deleteRegisteredModelTag answers DELETE registered-models/delete-tag; a
// tag that is not there is no error.
func (h *Handler) deleteRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	if req.Key == "" {
		return registryMissing("key")
	}
	if err := validateTagKeyOnly(req.Key); err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Edit)
	if err != nil {
		return err
	}
	_, err = h.db.ExecContext(ctx, `DELETE FROM mlflow_registered_model_tags WHERE model_id = $1 AND key = $2`, m.ID, req.Key)
	if err != nil {
		return meta.Err(err)
	}
	return reply(w, nil)
}

// getLatestVersions answers registered-models/get-latest-versions: the
// highest version in each of the given stages (every stage when none is
// given).
func (h *Handler) getLatestVersions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name   string   `json:"name"`
		Stages []string `json:"stages"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	want := map[string]bool{}
	for _, s := range req.Stages {
		c, err := canonicalStage(s)
		if err != nil {
			return err
		}
		want[c] = true
	}
	m, err := h.registeredModelFor(ctx, req.Name, Read)
	if err != nil {
		return err
	}
	rm, err := loadRegisteredModel(ctx, h.db, m.ID)
	if err != nil {
		return err
	}
	out := []*ModelVersion{}
	for _, v := range rm.LatestVersions {
		if len(want) == 0 || want[v.CurrentStage] {
			out = append(out, v)
		}
	}
	return reply(w, struct {
		ModelVersions []*ModelVersion `json:"model_versions,omitempty"`
	}{out})
}

// registeredModelFor finds a registered model by name and checks the caller's
// permission on it.
func (h *Handler) registeredModelFor(ctx context.Context, name string, need Permission) (regModelRow, error) {
	if name == "" {
		return regModelRow{}, registryMissing("name")
	}
	if auth.From(ctx).Anonymous() {
		// Anonymous callers have one permission on everything: settle it
		// before saying whether the model exists.
		if err := h.require(ctx, "", 0, need); err != nil {
			return regModelRow{}, err
		}
	}
	m, err := lookupRegisteredModel(ctx, h.db, name)
	if err != nil {
		return m, err
	}
	return m, h.requireRegisteredModel(ctx, m.ID, need)
}

// registryTags validates the tags of a create request; a key given twice
// keeps its last value.
func registryTags(in []tagParam) ([]RegisteredModelTag, error) {
	out := make([]RegisteredModelTag, 0, len(in))
	for _, t := range in {
		if t.Key == nil {
			return nil, registryMissing("key")
		}
		v := ""
		if t.Value != nil {
			v = *t.Value
		}
		if err := validateRegistryTag(*t.Key, v); err != nil {
			return nil, err
		}
		out = append(out, RegisteredModelTag{Key: *t.Key, Value: v})
	}
	return out, nil
}

// creatorName is what user_id and created_by record: the caller's name,
// or "" for anonymous callers.
func creatorName(ctx context.Context) string {
	p := auth.From(ctx)
	if p.Anonymous() {
		return ""
	}
	return p.Name
}

// auditModel records a change to the registry.
func (h *Handler) auditModel(ctx context.Context, r *http.Request, action, subject string, detail map[string]any) {
	h.audit.Record(ctx, audit.Event{Action: action, Repository: h.space, Subject: subject, RemoteAddr: r.RemoteAddr, Detail: detail})
}

// versionSubject names a model version in audit events.
func versionSubject(name string, version int64) string {
	return name + "/" + strconv.FormatInt(version, 10)
}
