package mlflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/meta"
)

// Model versions: numbered from 1 per registered model; a deleted
// version's number is never given out again (its row stays, redacted and
// marked deleted). Creating, updating, tagging and moving a version between
// stages need EDIT on its model; deleting it (or one of its tags) MANAGE.

// loggedModelVersionsTag is the logged model tag that lists the registered
// versions made from it (JSON [{"name", "version"}]).
const loggedModelVersionsTag = "mlflow.modelVersions"

// versionRequest names a version.
type versionRequest struct {
	Name    string `json:"name"`
	Version idText `json:"version"`
}

// target validates the name and version and finds the model, checking the
// caller's permission on it.
func (h *Handler) versionTarget(ctx context.Context, req versionRequest, need Permission) (regModelRow, int64, error) {
	if err := validateModelName(req.Name, "name"); err != nil {
		return regModelRow{}, 0, err
	}
	if req.Version == "" {
		return regModelRow{}, 0, registryMissing("version")
	}
	v, err := parseVersionNumber(req.Version)
	if err != nil {
		return regModelRow{}, 0, err
	}
	m, err := h.registeredModelFor(ctx, req.Name, need)
	return m, v, err
}

// createModelVersion answers POST model-versions/create.
func (h *Handler) createModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string     `json:"name"`
		Source      string     `json:"source"`
		RunID       *string    `json:"run_id"`
		Tags        []tagParam `json:"tags"`
		RunLink     string     `json:"run_link"`
		Description string     `json:"description"`
		ModelID     *string    `json:"model_id"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	if req.Source == "" {
		return registryMissing("source")
	}
	tags, err := registryTags(req.Tags)
	if err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Edit)
	if err != nil {
		return err
	}
	var origin versionOrigin
	if isPromptRequest(req.Tags) {
		origin, err = promptOrigin(req.Source, req.RunID)
	} else {
		origin, err = h.resolveVersionSource(ctx, req.Source, req.RunID, req.ModelID)
	}
	if err != nil {
		return err
	}
	now := meta.Now()
	var version int64
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := lockRegisteredModel(ctx, tx, m, now); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM mlflow_model_versions WHERE model_id = $1`, m.ID).Scan(&version); err != nil {
			return meta.Err(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mlflow_model_versions (model_id, version, description, user_id, current_stage, source,
			run_id, run_link, logged_model_id, storage_location, status, creation_timestamp, last_updated_timestamp)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
			m.ID, version, req.Description, creatorName(ctx), stageNone, origin.Source, origin.RunID, req.RunLink,
			origin.LoggedModelID, origin.StorageLocation, versionReady, now)
		if err != nil {
			return meta.Err(err)
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_model_version_tags (model_id, version, key, value) VALUES ($1, $2, $3, $4)
				ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value`, m.ID, version, t.Key, t.Value); err != nil {
				return meta.Err(err)
			}
		}
		if origin.LoggedModelID != "" {
			return noteVersionOnLoggedModel(ctx, tx, origin.LoggedModelID, m.Name, version)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.model_version.create", versionSubject(m.Name, version), map[string]any{"source": origin.Source})
	mv, err := loadVersion(ctx, h.db, m, version)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"model_version": mv})
}

// noteVersionOnLoggedModel adds {"name", "version"} to the logged model's
// mlflow.modelVersions tag, as MLflow does when a logged model is
// registered.
func noteVersionOnLoggedModel(ctx context.Context, tx *sql.Tx, loggedModelID, name string, version int64) error {
	var cur string
	err := tx.QueryRowContext(ctx, `SELECT value FROM mlflow_logged_model_tags WHERE model_id = $1 AND key = $2`,
		loggedModelID, loggedModelVersionsTag).Scan(&cur)
	if err != nil && err != sql.ErrNoRows {
		return meta.Err(err)
	}
	var list []map[string]any
	if cur != "" && json.Unmarshal([]byte(cur), &list) != nil {
		list = nil // an unreadable tag is replaced
	}
	for _, e := range list {
		if e["name"] == name && fmt.Sprint(e["version"]) == strconv.FormatInt(version, 10) {
			return nil
		}
	}
	list = append(list, map[string]any{"name": name, "version": version})
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_logged_model_tags (model_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`, loggedModelID, loggedModelVersionsTag, string(b))
	return meta.Err(err)
}

// getModelVersion answers GET model-versions/get.
func (h *Handler) getModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req versionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	m, v, err := h.versionTarget(r.Context(), req, Read)
	if err != nil {
		return err
	}
	mv, err := loadVersion(r.Context(), h.db, m, v)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"model_version": mv})
}

// updateModelVersion answers PATCH model-versions/update: it sets the
// description (left out, it is cleared, as MLflow does).
func (h *Handler) updateModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name        string `json:"name"`
		Version     idText `json:"version"`
		Description string `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	m, v, err := h.versionTarget(ctx, versionRequest{req.Name, req.Version}, Edit)
	if err != nil {
		return err
	}
	res, err := h.db.ExecContext(ctx, `UPDATE mlflow_model_versions SET description = $1, last_updated_timestamp = $2
		WHERE model_id = $3 AND version = $4 AND deleted = 0`, req.Description, meta.Now(), m.ID, v)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return versionNotFound(m.Name, v)
	}
	h.auditModel(ctx, r, "mlflow.model_version.update", versionSubject(m.Name, v), nil)
	mv, err := loadVersion(ctx, h.db, m, v)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"model_version": mv})
}

// deleteModelVersion answers DELETE model-versions/delete. The row stays,
// redacted, so that its number is not given out again; its tags and
// aliases go.
func (h *Handler) deleteModelVersion(w http.ResponseWriter, r *http.Request) error {
	var req versionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	m, v, err := h.versionTarget(ctx, req, Manage)
	if err != nil {
		return err
	}
	now := meta.Now()
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := lockRegisteredModel(ctx, tx, m, now); err != nil {
			return err
		}
		if err := versionExists(ctx, tx, m, v); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM mlflow_model_aliases WHERE model_id = $1 AND version = $2`,
			`DELETE FROM mlflow_model_version_tags WHERE model_id = $1 AND version = $2`,
		} {
			if _, err := tx.ExecContext(ctx, q, m.ID, v); err != nil {
				return meta.Err(err)
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE mlflow_model_versions SET deleted = 1, description = '', user_id = '',
			source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', status_message = '',
			storage_location = '', logged_model_id = '', last_updated_timestamp = $1 WHERE model_id = $2 AND version = $3`, now, m.ID, v)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.model_version.delete", versionSubject(m.Name, v), nil)
	return reply(w, nil)
}

// setModelVersionTag answers POST model-versions/set-tag.
func (h *Handler) setModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string  `json:"name"`
		Version idText  `json:"version"`
		Key     *string `json:"key"`
		Value   *string `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.Key == nil || *req.Key == "" {
		return registryMissing("key")
	}
	value := ""
	if req.Value != nil {
		value = *req.Value
	}
	if err := validateRegistryTag(*req.Key, value); err != nil {
		return err
	}
	m, v, err := h.versionTarget(ctx, versionRequest{req.Name, req.Version}, Edit)
	if err != nil {
		return err
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, m, v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mlflow_model_version_tags (model_id, version, key, value) VALUES ($1, $2, $3, $4)
			ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value`, m.ID, v, *req.Key, value)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// deleteModelVersionTag answers DELETE model-versions/delete-tag; a tag
// that is not there is no error, a version that is not there is.
func (h *Handler) deleteModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name"`
		Version idText `json:"version"`
		Key     string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.Key == "" {
		return registryMissing("key")
	}
	if err := validateTagKeyOnly(req.Key); err != nil {
		return err
	}
	m, v, err := h.versionTarget(ctx, versionRequest{req.Name, req.Version}, Manage)
	if err != nil {
		return err
	}
	if err := versionExists(ctx, h.db, m, v); err != nil {
		return err
	}
	_, err = h.db.ExecContext(ctx, `DELETE FROM mlflow_model_version_tags WHERE model_id = $1 AND version = $2 AND key = $3`, m.ID, v, req.Key)
	if err != nil {
		return meta.Err(err)
	}
	return reply(w, nil)
}

// transitionStage answers POST model-versions/transition-stage. With
// archive_existing_versions, the other versions in the target stage
// (which must be Staging or Production) move to Archived in the same
// transaction.
func (h *Handler) transitionStage(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name                    string `json:"name"`
		Version                 idText `json:"version"`
		Stage                   string `json:"stage"`
		ArchiveExistingVersions Bool   `json:"archive_existing_versions"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if req.Stage == "" {
		return registryMissing("stage")
	}
	stage, err := canonicalStage(req.Stage)
	if err != nil {
		return err
	}
	if req.ArchiveExistingVersions && stage != stageStaging && stage != stageProduction {
		return invalidParam("Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", req.Stage)
	}
	m, v, err := h.versionTarget(ctx, versionRequest{req.Name, req.Version}, Edit)
	if err != nil {
		return err
	}
	now := meta.Now()
	var archived int64
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := lockRegisteredModel(ctx, tx, m, now); err != nil {
			return err
		}
		if err := versionExists(ctx, tx, m, v); err != nil {
			return err
		}
		if req.ArchiveExistingVersions {
			res, err := tx.ExecContext(ctx, `UPDATE mlflow_model_versions SET current_stage = $1, last_updated_timestamp = $2
				WHERE model_id = $3 AND version <> $4 AND current_stage = $5 AND deleted = 0`, stageArchived, now, m.ID, v, stage)
			if err != nil {
				return meta.Err(err)
			}
			archived, _ = res.RowsAffected()
		}
		_, err := tx.ExecContext(ctx, `UPDATE mlflow_model_versions SET current_stage = $1, last_updated_timestamp = $2
			WHERE model_id = $3 AND version = $4`, stage, now, m.ID, v)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.model_version.transition", versionSubject(m.Name, v),
		map[string]any{"stage": stage, "archived_others": archived})
	mv, err := loadVersion(ctx, h.db, m, v)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"model_version": mv})
}

// getDownloadURI answers GET model-versions/get-download-uri: where the
// version's files are (see registry_sources.go).
func (h *Handler) getDownloadURI(w http.ResponseWriter, r *http.Request) error {
	var req versionRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	m, v, err := h.versionTarget(ctx, req, Read)
	if err != nil {
		return err
	}
	var source, storage string
	err = h.db.QueryRowContext(ctx, `SELECT source, storage_location FROM mlflow_model_versions WHERE model_id = $1 AND version = $2 AND deleted = 0`,
		m.ID, v).Scan(&source, &storage)
	if err == sql.ErrNoRows {
		return versionNotFound(m.Name, v)
	}
	if err != nil {
		return meta.Err(err)
	}
	if storage == "" {
		storage = source
	}
	return reply(w, map[string]any{"artifact_uri": storage})
}
