package mlflow

import (
	"context"
	"database/sql"
	"sort"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Reading registered models and model versions from the database into
// their messages, a page at a time: a fixed number of queries per page,
// whatever its size.

// regModelRow is a registered model's own row.
type regModelRow struct {
	ID          int64
	Name        string
	Description string
	CreatedBy   string
	Created     int64
	Updated     int64
}

// versionKey names a model version by its model's internal id.
type versionKey struct {
	Model   int64
	Version int64
}

// idChunk bounds the parameters of one IN list; pairChunk the (model,
// version) pairs of one OR list.
const (
	idChunk   = 500
	pairChunk = 200
)

const regModelColumns = `id, name, description, created_by, creation_timestamp, last_updated_timestamp`

func scanRegisteredModel(sc regScanner) (regModelRow, error) {
	var m regModelRow
	err := sc.Scan(&m.ID, &m.Name, &m.Description, &m.CreatedBy, &m.Created, &m.Updated)
	return m, err
}

// lookupRegisteredModel finds a registered model by name.
func lookupRegisteredModel(ctx context.Context, q meta.Querier, name string) (regModelRow, error) {
	m, err := scanRegisteredModel(q.QueryRowContext(ctx, `SELECT `+regModelColumns+` FROM mlflow_registered_models WHERE name = $1`, name))
	if err == sql.ErrNoRows {
		return m, notExist("Registered Model with name=%s not found", name)
	}
	return m, meta.Err(err)
}

// lockRegisteredModel marks a registered model updated at now. Being the first
// write of a transaction, it also serialises concurrent changes to one
// model (the row lock on PostgreSQL, the write lock on SQLite), which is
// what keeps version numbers unique. A model deleted meanwhile is
// RESOURCE_DOES_NOT_EXIST.
func lockRegisteredModel(ctx context.Context, tx *sql.Tx, m regModelRow, now int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE mlflow_registered_models SET last_updated_timestamp = $1 WHERE id = $2`, now, m.ID)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notExist("Registered Model with name=%s not found", m.Name)
	}
	return nil
}

// regInList returns "$start, $start+1, ..." for n parameters.
func regInList(start, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(start+i))
	}
	return b.String()
}

// regPairList returns "(model_id = $a AND version = $b) OR ..." for the keys,
// with prefix naming the table, and their arguments.
func regPairList(prefix string, keys []versionKey) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(" + prefix + "model_id = $" + strconv.Itoa(2*i+1) + " AND " + prefix + "version = $" + strconv.Itoa(2*i+2) + ")")
		args = append(args, k.Model, k.Version)
	}
	return b.String(), args
}

func regIDArgs(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// loadRegisteredModels returns the registered models with these ids, in this
// order, with tags, aliases and latest versions. Ids that do not exist
// are left out.
func loadRegisteredModels(ctx context.Context, q meta.Querier, ids []int64) ([]*RegisteredModel, error) {
	byID := make(map[int64]*RegisteredModel, len(ids))
	var latest []versionKey
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		args := regIDArgs(chunk)
		in := regInList(1, len(chunk))
		rows, err := q.QueryContext(ctx, `SELECT `+regModelColumns+` FROM mlflow_registered_models WHERE id IN (`+in+`)`, args...)
		if err != nil {
			return nil, meta.Err(err)
		}
		for rows.Next() {
			m, err := scanRegisteredModel(rows)
			if err != nil {
				rows.Close()
				return nil, meta.Err(err)
			}
			byID[m.ID] = &RegisteredModel{Name: m.Name, CreationTimestamp: Int64(m.Created),
				LastUpdatedTimestamp: Int64(m.Updated), UserID: m.CreatedBy, Description: m.Description}
		}
		if err := regCloseRows(rows); err != nil {
			return nil, err
		}
		err = regEach(ctx, q, `SELECT model_id, key, value FROM mlflow_registered_model_tags WHERE model_id IN (`+in+`) ORDER BY model_id, key`, args, func(sc regScanner) error {
			var id int64
			var t RegisteredModelTag
			if err := sc.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			if m := byID[id]; m != nil {
				m.Tags = append(m.Tags, t)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		err = regEach(ctx, q, `SELECT model_id, alias, version FROM mlflow_model_aliases WHERE model_id IN (`+in+`) ORDER BY model_id, alias`, args, func(sc regScanner) error {
			var id, v int64
			var a string
			if err := sc.Scan(&id, &a, &v); err != nil {
				return err
			}
			if m := byID[id]; m != nil {
				m.Aliases = append(m.Aliases, RegisteredModelAlias{Alias: a, Version: strconv.FormatInt(v, 10)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		err = regEach(ctx, q, `SELECT model_id, MAX(version) FROM mlflow_model_versions
			WHERE model_id IN (`+in+`) AND deleted = 0 GROUP BY model_id, current_stage`, args, func(sc regScanner) error {
			var k versionKey
			if err := sc.Scan(&k.Model, &k.Version); err != nil {
				return err
			}
			latest = append(latest, k)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(latest, func(i, j int) bool {
		if latest[i].Model != latest[j].Model {
			return latest[i].Model < latest[j].Model
		}
		return latest[i].Version < latest[j].Version
	})
	versions, err := loadVersions(ctx, q, latest)
	if err != nil {
		return nil, err
	}
	for i, v := range versions {
		if m := byID[latest[i].Model]; m != nil && v != nil {
			m.LatestVersions = append(m.LatestVersions, v)
		}
	}
	out := make([]*RegisteredModel, 0, len(ids))
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// loadRegisteredModel returns one registered model message.
func loadRegisteredModel(ctx context.Context, q meta.Querier, id int64) (*RegisteredModel, error) {
	ms, err := loadRegisteredModels(ctx, q, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, notExist("Registered Model not found")
	}
	return ms[0], nil
}

const versionColumns = `m.name, v.model_id, v.version, v.description, v.user_id, v.current_stage, v.source, v.run_id,
	v.run_link, v.logged_model_id, v.status, v.status_message, v.creation_timestamp, v.last_updated_timestamp`

// loadVersions returns the (not deleted) versions with these keys, at the
// same positions; a version that does not exist is nil.
func loadVersions(ctx context.Context, q meta.Querier, keys []versionKey) ([]*ModelVersion, error) {
	found := make(map[versionKey]*ModelVersion, len(keys))
	models := map[int64]bool{}
	for start := 0; start < len(keys); start += pairChunk {
		chunk := keys[start:min(start+pairChunk, len(keys))]
		cond, args := regPairList("v.", chunk)
		err := regEach(ctx, q, `SELECT `+versionColumns+` FROM mlflow_model_versions v
			JOIN mlflow_registered_models m ON m.id = v.model_id WHERE v.deleted = 0 AND (`+cond+`)`, args, func(sc regScanner) error {
			var mv ModelVersion
			var k versionKey
			var created, updated int64
			if err := sc.Scan(&mv.Name, &k.Model, &k.Version, &mv.Description, &mv.UserID, &mv.CurrentStage, &mv.Source,
				&mv.RunID, &mv.RunLink, &mv.ModelID, &mv.Status, &mv.StatusMessage, &created, &updated); err != nil {
				return err
			}
			mv.Version = strconv.FormatInt(k.Version, 10)
			mv.CreationTimestamp, mv.LastUpdatedTimestamp = Int64(created), Int64(updated)
			found[k] = &mv
			models[k.Model] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		cond, args = regPairList("", chunk)
		err = regEach(ctx, q, `SELECT model_id, version, key, value FROM mlflow_model_version_tags WHERE `+cond+` ORDER BY model_id, version, key`, args, func(sc regScanner) error {
			var k versionKey
			var t ModelVersionTag
			if err := sc.Scan(&k.Model, &k.Version, &t.Key, &t.Value); err != nil {
				return err
			}
			if mv := found[k]; mv != nil {
				mv.Tags = append(mv.Tags, t)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	ids := make([]int64, 0, len(models))
	for id := range models {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		err := regEach(ctx, q, `SELECT model_id, version, alias FROM mlflow_model_aliases WHERE model_id IN (`+regInList(1, len(chunk))+`) ORDER BY alias`,
			regIDArgs(chunk), func(sc regScanner) error {
				var k versionKey
				var a string
				if err := sc.Scan(&k.Model, &k.Version, &a); err != nil {
					return err
				}
				if mv := found[k]; mv != nil {
					mv.Aliases = append(mv.Aliases, a)
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	out := make([]*ModelVersion, len(keys))
	for i, k := range keys {
		out[i] = found[k]
	}
	return out, nil
}

// loadVersion returns one version of a model, or RESOURCE_DOES_NOT_EXIST
// naming it as the client did.
func loadVersion(ctx context.Context, q meta.Querier, m regModelRow, version int64) (*ModelVersion, error) {
	vs, err := loadVersions(ctx, q, []versionKey{{m.ID, version}})
	if err != nil {
		return nil, err
	}
	if vs[0] == nil {
		return nil, versionNotFound(m.Name, version)
	}
	return vs[0], nil
}

// versionExists checks that a version exists and is not deleted.
func versionExists(ctx context.Context, q meta.Querier, m regModelRow, version int64) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM mlflow_model_versions WHERE model_id = $1 AND version = $2 AND deleted = 0`,
		m.ID, version).Scan(&one)
	if err == sql.ErrNoRows {
		return versionNotFound(m.Name, version)
	}
	return meta.Err(err)
}

func versionNotFound(name string, version int64) error {
	return notExist("Model Version (name=%s, version=%d) not found", name, version)
}

type regScanner interface{ Scan(...any) error }

// regEach runs a query and calls fn for each row.
func regEach(ctx context.Context, q meta.Querier, query string, args []any, fn func(regScanner) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return meta.Err(err)
	}
	for rows.Next() {
		if err := fn(rows); err != nil {
			rows.Close()
			return meta.Err(err)
		}
	}
	return regCloseRows(rows)
}

func regCloseRows(rows *sql.Rows) error {
	err := rows.Err()
	rows.Close()
	return meta.Err(err)
}
