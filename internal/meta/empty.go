package meta

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

// OpenEmpty connects to databaseURL like Open, but only when its schema
// holds no table at all (a new SQLite file, or an empty PostgreSQL
// database or schema), and applies no migration: a restore calls
// MigrateTo to recreate the schema a backup was taken with, and the next
// Open applies the newer migrations.
func OpenEmpty(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	db, err := connect(databaseURL, dataDir, options{})
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the %s database: %w", db.Dialect, err)
	}
	tables, err := db.Tables(ctx, db)
	if err == nil && len(tables) > 0 {
		err = fmt.Errorf("the %s database is not empty: it has %d tables (%s, ...)", db.Dialect, len(tables), tables[0])
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Tables lists the tables of the database's current schema, in name order,
// including goose's own.
func (db *DB) Tables(ctx context.Context, q Querier) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
	if db.Dialect == Postgres {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	return QueryStrings(ctx, q, query)
}

// MigrateTo applies the migrations up to version (0: all) to a database
// from OpenEmpty, without the advisory lock of Open: the database was
// empty and the caller is its only user.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect))
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.DB, sub, goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	if version == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		return fmt.Errorf("applying migrations: %w", err)
	}
	if db.Dialect == SQLite && db.stopCheckpoints == nil {
		db.stopCheckpoints = db.checkpoints(time.Second)
	}
	if db.Dialect == SQLite && db.batch == nil {
		db.startBatcher()
	}
	return nil
}
