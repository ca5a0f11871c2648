package backup

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// column is one column of a table, with its type reduced to what both
// databases share: "int", "float", "bool", "text" or "bytes".
type column struct {
	Name     string
	Type     string
	Identity bool // PostgreSQL: an identity column, whose sequence a restore resets
}

// skipTable reports the tables left out of a snapshot: goose's version table (the
// snapshot records the version instead), GC's tombstones (transient: a
// restored one would block uploads of its content until the next
// collection) and OCI upload sessions (their staged bytes are not part of
// a backup; a client whose session is gone starts its upload again), and
// the job queue's tables (river_*: river creates them at start, and a
// restored instance must not rerun another instance's jobs), and the
// search index (search_docs, and SQLite's FTS5 table search_fts with its
// shadow tables, and search_pending: derived data, rebuilt from the
// restored tables when a server starts on an empty index).
func skipTable(name string) bool {
	switch name {
	case "goose_db_version", "blob_tombstones", "oci_uploads", "search_docs", "search_pending":
		return true
	}
	return strings.HasPrefix(name, "river_") || strings.HasPrefix(name, "search_fts")
}

// catalog reads table structure from one database through q, which may be
// a transaction (a PostgreSQL export reads it in its snapshot).
type catalog struct {
	q       meta.Querier
	dialect meta.Dialect
}

func (c catalog) tables(ctx context.Context) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
	if c.dialect == meta.Postgres {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	return meta.QueryStrings(ctx, c.q, query)
}

func (c catalog) columns(ctx context.Context, table string) ([]column, error) {
	query := `SELECT name, type, 'NO' FROM pragma_table_info($1) ORDER BY cid`
	if c.dialect == meta.Postgres {
		query = `SELECT column_name, data_type, is_identity FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rows, err := c.q.QueryContext(ctx, query, table)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var name, decl, identity string
		if err := rows.Scan(&name, &decl, &identity); err != nil {
			return nil, err
		}
		cols = append(cols, column{Name: name, Type: neutralType(decl), Identity: identity == "YES"})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s has no columns", table)
	}
	return cols, nil
}

// neutralType maps a declared column type of either database to the type
// a snapshot records.
func neutralType(decl string) string {
	d := strings.ToLower(decl)
	switch {
	case strings.Contains(d, "bool"):
		return "bool"
	case strings.Contains(d, "int"):
		return "int"
	case strings.Contains(d, "double"), strings.Contains(d, "real"), strings.Contains(d, "float"), strings.Contains(d, "numeric"):
		return "float"
	case strings.Contains(d, "blob"), strings.Contains(d, "bytea"):
		return "bytes"
	default:
		return "text"
	}
}

// references lists the other tables table's foreign keys point at.
func (c catalog) references(ctx context.Context, table string) ([]string, error) {
	query := `SELECT DISTINCT "table" FROM pragma_foreign_key_list($1)`
	if c.dialect == meta.Postgres {
		query = `SELECT DISTINCT r.relname FROM pg_constraint k
			JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid
			WHERE k.contype = 'f' AND t.relname = $1 AND t.relnamespace = current_schema()::regnamespace`
	}
	return meta.QueryStrings(ctx, c.q, query, table)
}

// ordered returns the tables to snapshot in foreign-key order: every table
// after the tables it refers to (ties by name), so that an import inserts
// referenced rows first. A reference of a table to itself is ignored; a
// cycle between tables is an error.
func (c catalog) ordered(ctx context.Context) ([]string, error) {
	all, err := c.tables(ctx)
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{}
	var names []string
	for _, t := range all {
		if skipTable(t) {
			continue
		}
		names = append(names, t)
		refs, err := c.references(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("reading the foreign keys of %s: %w", t, err)
		}
		deps[t] = slices.DeleteFunc(refs, func(r string) bool { return r == t || skipTable(r) })
	}
	var out []string
	done := map[string]bool{}
	for len(out) < len(names) {
		progress := false
		for _, t := range names {
			if done[t] || slices.ContainsFunc(deps[t], func(r string) bool { return !done[r] }) {
				continue
			}
			done[t], progress = true, true
			out = append(out, t)
		}
		if !progress {
			return nil, fmt.Errorf("the foreign keys between tables form a cycle")
		}
	}
	return out, nil
}
