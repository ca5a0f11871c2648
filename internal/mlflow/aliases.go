package mlflow

import (
	"context"
	"database/sql"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Aliases name one version of a registered model each ("champion" → 3).
// Setting one needs EDIT on the model, deleting one MANAGE (as MLflow's
// auth has it). Deleting a version drops its aliases; "latest" always
// means the highest version and cannot be set.

// setAlias answers POST registered-models/alias.
func (h *Handler) setAlias(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name    string `json:"name"`
		Alias   string `json:"alias"`
		Version idText `json:"version"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	if err := validateAliasName(req.Alias); err != nil {
		return err
	}
	if err := validateAliasSettable(req.Alias); err != nil {
		return err
	}
	if req.Version == "" {
		return registryMissing("version")
	}
	version, err := parseVersionNumber(req.Version)
	if err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Edit)
	if err != nil {
		return err
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, m, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mlflow_model_aliases (model_id, alias, version) VALUES ($1, $2, $3)
			ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version`, m.ID, req.Alias, version)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.auditModel(ctx, r, "mlflow.alias.set", versionSubject(req.Name, version), map[string]any{"alias": req.Alias})
	return reply(w, nil)
}

// deleteAlias answers DELETE registered-models/alias; an alias that is not
// there is no error.
func (h *Handler) deleteAlias(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	if err := validateAliasName(req.Alias); err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Manage)
	if err != nil {
		return err
	}
	res, err := h.db.ExecContext(ctx, `DELETE FROM mlflow_model_aliases WHERE model_id = $1 AND alias = $2`, m.ID, req.Alias)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		h.auditModel(ctx, r, "mlflow.alias.delete", req.Name, map[string]any{"alias": req.Alias})
	}
	return reply(w, nil)
}

// getModelVersionByAlias answers GET registered-models/alias.
func (h *Handler) getModelVersionByAlias(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if err := validateModelName(req.Name, "name"); err != nil {
		return err
	}
	if err := validateAliasName(req.Alias); err != nil {
		return err
	}
	m, err := h.registeredModelFor(ctx, req.Name, Read)
	if err != nil {
		return err
	}
	version, err := resolveAlias(ctx, h.db, m, req.Alias)
	if err != nil {
		return err
	}
	mv, err := loadVersion(ctx, h.db, m, version)
	if err != nil {
		return err
	}
	return reply(w, map[string]any{"model_version": mv})
}

// resolveAlias returns the version an alias names; "latest" (in any case)
// is the highest version.
func resolveAlias(ctx context.Context, q meta.Querier, m regModelRow, alias string) (int64, error) {
	if strings.EqualFold(alias, aliasLatest) {
		return latestVersion(ctx, q, m, "")
	}
	var v int64
	err := q.QueryRowContext(ctx, `SELECT version FROM mlflow_model_aliases WHERE model_id = $1 AND alias = $2`, m.ID, alias).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, invalidParam("Registered model alias %s not found.", alias)
	}
	return v, meta.Err(err)
}
