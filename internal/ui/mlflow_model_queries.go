package ui

import (
	"context"
	"database/sql"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Read-only queries of the model registry.

// registeredModelRow is a registered model as the pages show it.
type registeredModelRow struct {
	ID               int64
	Name             string
	Description      string
	CreatedBy        string
	Created, Updated int64
	Latest           int64 // highest version number; 0 without versions
	Versions         int64
	Stages           []stageVersion // latest version per stage other than None
	Aliases          []aliasVersion
	Tags             []mlflowTag // not mlflow.*
}

type stageVersion struct {
	Stage   string
	Version int64
}

type aliasVersion struct {
	Alias   string
	Version int64
}

// promptTag marks registered models that are MLflow prompts, which the
// models pages leave out as MLflow's UI does.
const promptTag = "mlflow.prompt.is_prompt"

type modelsQuery struct {
	Name          string // substring, case-insensitive
	ByUpdate      bool   // most recently updated first instead of by name
	Limit, Offset int
}

func (h *Handler) listRegisteredModels(ctx context.Context, v *mlflowViewer, q modelsQuery) ([]registeredModelRow, error) {
	var a sqlArgs
	conds := []string{v.visible(&a, mlflowModelKind, "m.id"),
		`NOT EXISTS (SELECT 1 FROM mlflow_registered_model_tags pt WHERE pt.model_id = m.id AND pt.key = ` + a.add(promptTag) + ` AND LOWER(pt.value) = 'true')`}
	if q.Name != "" {
		conds = append(conds, `LOWER(m.name) LIKE `+a.add(likeContains(strings.ToLower(q.Name)))+` ESCAPE '\'`)
	}
	order := "LOWER(m.name), m.id"
	if q.ByUpdate {
		order = "m.last_updated_timestamp DESC, m.id DESC"
	}
	rows, err := h.db.QueryContext(ctx, `SELECT m.id, m.name, m.description, m.created_by, m.creation_timestamp, m.last_updated_timestamp,
			(SELECT COALESCE(MAX(v.version), 0) FROM mlflow_model_versions v WHERE v.model_id = m.id AND v.deleted = 0),
			(SELECT COUNT(*) FROM mlflow_model_versions v WHERE v.model_id = m.id AND v.deleted = 0)
		FROM mlflow_registered_models m WHERE `+strings.Join(conds, " AND ")+` ORDER BY `+order+
		` LIMIT `+a.add(q.Limit)+` OFFSET `+a.add(q.Offset), a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	var out []registeredModelRow
	for rows.Next() {
		var m registeredModelRow
		if err := rows.Scan(&m.ID, &m.Name, &m.Description, &m.CreatedBy, &m.Created, &m.Updated, &m.Latest, &m.Versions); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	return out, h.modelDetails(ctx, out)
}

// getRegisteredModel reads one registered model by name with its stages,
// aliases and tags; ok is false when there is none.
func (h *Handler) getRegisteredModel(ctx context.Context, name string) (m registeredModelRow, ok bool, err error) {
	err = h.db.QueryRowContext(ctx, `SELECT m.id, m.name, m.description, m.created_by, m.creation_timestamp, m.last_updated_timestamp,
			(SELECT COALESCE(MAX(v.version), 0) FROM mlflow_model_versions v WHERE v.model_id = m.id AND v.deleted = 0),
			(SELECT COUNT(*) FROM mlflow_model_versions v WHERE v.model_id = m.id AND v.deleted = 0)
		FROM mlflow_registered_models m WHERE m.name = $1`, name).
		Scan(&m.ID, &m.Name, &m.Description, &m.CreatedBy, &m.Created, &m.Updated, &m.Latest, &m.Versions)
	if err == sql.ErrNoRows {
		return m, false, nil
	}
	if err != nil {
		return m, false, meta.Err(err)
	}
	list := []registeredModelRow{m}
	if err := h.modelDetails(ctx, list); err != nil {
		return m, false, err
	}
	return list[0], true, nil
}

// modelDetails fills the stages, aliases and tags of ms.
func (h *Handler) modelDetails(ctx context.Context, ms []registeredModelRow) error {
	if len(ms) == 0 {
		return nil
	}
	at := make(map[int64]*registeredModelRow, len(ms))
	ids := make([]int64, len(ms))
	for i := range ms {
		at[ms[i].ID] = &ms[i]
		ids[i] = ms[i].ID
	}
	each := func(query string, scan func(*sql.Rows) error) error {
		var a sqlArgs
		rows, err := h.db.QueryContext(ctx, strings.Replace(query, "(?)", sqlList(&a, ids), 1), a.args...)
		if err != nil {
			return meta.Err(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return meta.Err(err)
			}
		}
		return meta.Err(rows.Err())
	}
	err := each(`SELECT model_id, current_stage, MAX(version) FROM mlflow_model_versions
		WHERE model_id IN (?) AND deleted = 0 AND current_stage <> 'None'
		GROUP BY model_id, current_stage ORDER BY model_id, current_stage`, func(rows *sql.Rows) error {
		var id int64
		var s stageVersion
		if err := rows.Scan(&id, &s.Stage, &s.Version); err != nil {
			return err
		}
		at[id].Stages = append(at[id].Stages, s)
		return nil
	})
	if err != nil {
		return err
	}
	err = each(`SELECT model_id, alias, version FROM mlflow_model_aliases WHERE model_id IN (?) ORDER BY model_id, alias`,
		func(rows *sql.Rows) error {
			var id int64
			var al aliasVersion
			if err := rows.Scan(&id, &al.Alias, &al.Version); err != nil {
				return err
			}
			at[id].Aliases = append(at[id].Aliases, al)
			return nil
		})
	if err != nil {
		return err
	}
	return each(`SELECT model_id, key, value FROM mlflow_registered_model_tags WHERE model_id IN (?) ORDER BY model_id, key`,
		func(rows *sql.Rows) error {
			var id int64
			var t mlflowTag
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			if !strings.HasPrefix(t.Key, "mlflow.") {
				at[id].Tags = append(at[id].Tags, t)
			}
			return nil
		})
}

// modelVersionRow is a version of a registered model.
type modelVersionRow struct {
	Version          int64
	Stage            string
	Description      string
	User             string
	Source           string
	RunID            string
	RunName          string // "" when the run is not in this server
	RunLink          string
	LoggedModelID    string
	Status           string
	StatusMessage    string
	Created, Updated int64
	Aliases          []string
	Tags             []mlflowTag
}

// modelVersions reads one page of a registered model's versions, newest
// first, with their aliases and tags.
func (h *Handler) modelVersions(ctx context.Context, m registeredModelRow, limit, offset int) ([]modelVersionRow, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT mv.version, mv.current_stage, mv.description, mv.user_id, mv.source, mv.run_id,
			COALESCE(r.name, ''), mv.run_link, mv.logged_model_id, mv.status, mv.status_message,
			mv.creation_timestamp, mv.last_updated_timestamp
		FROM mlflow_model_versions mv LEFT JOIN mlflow_runs r ON r.run_uuid = mv.run_id AND mv.run_id <> ''
		WHERE mv.model_id = $1 AND mv.deleted = 0 ORDER BY mv.version DESC LIMIT $2 OFFSET $3`,
		m.ID, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	var out []modelVersionRow
	at := map[int64]int{}
	for rows.Next() {
		var v modelVersionRow
		if err := rows.Scan(&v.Version, &v.Stage, &v.Description, &v.User, &v.Source, &v.RunID, &v.RunName, &v.RunLink,
			&v.LoggedModelID, &v.Status, &v.StatusMessage, &v.Created, &v.Updated); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		at[v.Version] = len(out)
		out = append(out, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, meta.Err(err)
	}
	for _, al := range m.Aliases {
		if i, ok := at[al.Version]; ok {
			out[i].Aliases = append(out[i].Aliases, al.Alias)
		}
	}
	versions := make([]int64, len(out))
	for i, v := range out {
		versions[i] = v.Version
	}
	var a sqlArgs
	trows, err := h.db.QueryContext(ctx, `SELECT version, key, value FROM mlflow_model_version_tags
		WHERE model_id = `+a.add(m.ID)+` AND version IN `+sqlList(&a, versions)+` ORDER BY version, key`, a.args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer trows.Close()
	for trows.Next() {
		var ver int64
		var t mlflowTag
		if err := trows.Scan(&ver, &t.Key, &t.Value); err != nil {
			return nil, meta.Err(err)
		}
		if i, ok := at[ver]; ok && !strings.HasPrefix(t.Key, "mlflow.") {
			out[i].Tags = append(out[i].Tags, t)
		}
	}
	return out, meta.Err(trows.Err())
}
