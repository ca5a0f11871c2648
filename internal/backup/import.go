package backup

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// importBatch bounds the arguments of one multi-row INSERT.
const importBatch = 2000

// Import inserts the rows of the snapshot r into db, which must hold the
// schema the snapshot was taken with (see meta.OpenEmpty) and no rows, in
// one transaction: tables in the snapshot's foreign-key order, values
// converted to the target's column types, so a snapshot of either
// database imports into either. On PostgreSQL it then moves every
// identity sequence past the largest imported value. It returns the rows
// imported per table.
func Import(ctx context.Context, db *meta.DB, r io.Reader) (map[string]int64, error) {
	sr, err := newSnapshotReader(r)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer tx.Rollback()
	err = func() error {
		if db.Dialect == meta.SQLite {
			// Checked at commit instead: the order is right, but a table
			// may refer to itself.
			if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
				return err
			}
		}
		cat := catalog{q: tx, dialect: db.Dialect}
		var ins *inserter
		err := sr.each(func(h tableHeader) error {
			if ins != nil {
				if err := ins.flush(ctx); err != nil {
					return err
				}
			}
			var err error
			ins, err = newInserter(ctx, tx, cat, h)
			return err
		}, func(h tableHeader, row []any) error {
			counts[h.Table]++
			return ins.add(ctx, row)
		})
		if err == nil && ins != nil {
			err = ins.flush(ctx)
		}
		if err != nil {
			return err
		}
		if db.Dialect == meta.Postgres {
			return resetSequences(ctx, tx, cat)
		}
		return nil
	}()
	if err != nil {
		return counts, err
	}
	return counts, tx.Commit()
}

// inserter writes the rows of one table in multi-row INSERTs.
type inserter struct {
	tx      *sql.Tx
	dialect meta.Dialect
	table   string
	cols    []string
	types   []string // the target's column types
	perStmt int
	rows    [][]any
}

func newInserter(ctx context.Context, tx *sql.Tx, cat catalog, h tableHeader) (*inserter, error) {
	target, err := cat.columns(ctx, h.Table)
	if err != nil {
		return nil, fmt.Errorf("the backup's table %s: %w", h.Table, err)
	}
	types := map[string]string{}
	for _, c := range target {
		types[c.Name] = c.Type
	}
	ins := &inserter{tx: tx, dialect: cat.dialect, table: h.Table, cols: h.Columns, perStmt: max(1, importBatch/len(h.Columns))}
	for _, c := range h.Columns {
		t, ok := types[c]
		if !ok {
			return nil, fmt.Errorf("the backup's column %s.%s is not in this database's schema", h.Table, c)
		}
		ins.types = append(ins.types, t)
	}
	return ins, nil
}

func (ins *inserter) add(ctx context.Context, row []any) error {
	vals := make([]any, len(row))
	for i, v := range row {
		var err error
		if vals[i], err = decodeValue(v, ins.types[i]); err != nil {
			return fmt.Errorf("%s.%s: %w", ins.table, ins.cols[i], err)
		}
	}
	ins.rows = append(ins.rows, vals)
	if len(ins.rows) >= ins.perStmt {
		return ins.flush(ctx)
	}
	return nil
}

func (ins *inserter) flush(ctx context.Context) error {
	if len(ins.rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO "` + ins.table + `" (`)
	for i, c := range ins.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + c + `"`)
	}
	b.WriteString(") VALUES ")
	args := make([]any, 0, len(ins.rows)*len(ins.cols))
	for i, row := range ins.rows {
		if i > 0 {
			b.WriteString(", ")
		}
		// Bare ? on SQLite (meta.Dialect.Args, docs/architecture.md).
		b.WriteString("(" + ins.dialect.Args(len(args)+1, len(row)) + ")")
		args = append(args, row...)
	}
	ins.rows = ins.rows[:0]
	if _, err := ins.tx.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("importing %s: %w", ins.table, err)
	}
	return nil
}

// resetSequences sets each identity column's sequence so that the next
// value is past the largest imported one.
func resetSequences(ctx context.Context, tx *sql.Tx, cat catalog) error {
	tables, err := cat.tables(ctx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		cols, err := cat.columns(ctx, t)
		if err != nil {
			return err
		}
		for _, c := range cols {
			if !c.Identity {
				continue
			}
			q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE(MAX("%s"), 0) + 1, false) FROM "%s"`, t, c.Name, c.Name, t)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("resetting the sequence of %s.%s: %w", t, c.Name, err)
			}
		}
	}
	return nil
}
