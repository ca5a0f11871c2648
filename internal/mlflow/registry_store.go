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

// idChunk bounds the parameters of one IN list.
const idChunk = 500

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
		latest, err := loadVersionSet(ctx, q, versionSelection{`SELECT model_id, MAX(version) FROM mlflow_model_versions
			WHERE model_id IN (` + in + `) AND deleted = 0 GROUP BY model_id, current_stage`, args})
		if err != nil {
			return nil, err
		}
		keys := make([]versionKey, 0, len(latest))
		for k := range latest {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].Version < keys[j].Version })
		for _, k := range keys {
			if m := byID[k.Model]; m != nil {
				m.LatestVersions = append(m.LatestVersions, latest[k])
			}
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

// versionSelection is a query that selects (model_id, version) pairs: the
// versions a loader reads. Loaders join it as a common table expression,
// so that a page of any size costs the same few statements, with no
// argument lists.
type versionSelection struct {
	SQL  string
	Args []any
}

// loadVersionSet returns the versions a selection names that exist and
// are not deleted, with their tags and aliases.
func loadVersionSet(ctx context.Context, q meta.Querier, sel versionSelection) (map[versionKey]*ModelVersion, error) {
	with := `WITH sel(mid, ver) AS (` + sel.SQL + `) `
	found := map[versionKey]*ModelVersion{}
	err := regEach(ctx, q, with+`SELECT `+versionColumns+` FROM sel
		JOIN mlflow_model_versions v ON v.model_id = sel.mid AND v.version = sel.ver
		JOIN mlflow_registered_models m ON m.id = v.model_id WHERE v.deleted = 0`, sel.Args, func(sc regScanner) error {
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
		return nil
	})
	if err != nil || len(found) == 0 {
		return found, err
	}
	err = regEach(ctx, q, with+`SELECT t.model_id, t.version, t.key, t.value FROM sel
		JOIN mlflow_model_version_tags t ON t.model_id = sel.mid AND t.version = sel.ver ORDER BY t.key`, sel.Args, func(sc regScanner) error {
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
	err = regEach(ctx, q, with+`SELECT a.model_id, a.version, a.alias FROM mlflow_model_aliases a
		WHERE a.model_id IN (SELECT mid FROM sel) ORDER BY a.alias`, sel.Args, func(sc regScanner) error {
		var k versionKey
		var alias string
		if err := sc.Scan(&k.Model, &k.Version, &alias); err != nil {
			return err
		}
		if mv := found[k]; mv != nil {
			mv.Aliases = append(mv.Aliases, alias)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return found, nil
}

// loadVersion returns one version of a model, or RESOURCE_DOES_NOT_EXIST
// naming it as the client did.
func loadVersion(ctx context.Context, q meta.Querier, m regModelRow, version int64) (*ModelVersion, error) {
	vs, err := loadVersionSet(ctx, q, versionSelection{`SELECT model_id, version FROM mlflow_model_versions
		WHERE model_id = $1 AND version = $2`, []any{m.ID, version}})
	if err != nil {
		return nil, err
	}
	mv := vs[versionKey{m.ID, version}]
	if mv == nil {
		return nil, versionNotFound(m.Name, version)
	}
	return mv, nil
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
