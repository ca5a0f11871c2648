package meta

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

// TestSQLiteUsersRebuildKeepsForeignKeys upgrades a SQLite database with
// data from before migration 00012 (which rebuilds users with
// AUTOINCREMENT, foreign keys off): every row that refers to a user
// survives, foreign keys still point at the new table and still cascade,
// foreign key enforcement is back on, and IDs continue past the largest
// ever used (issue 22 item 8).
func TestSQLiteUsersRebuildKeepsForeignKeys(t *testing.T) {
	ctx := context.Background()
	db, err := connect("", t.TempDir(), options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one connection: the one the migration ran on is the one checked
	sub, err := fs.Sub(migrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.DB, sub, goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, name, created_at, updated_at) VALUES (1, 'alice', 1, 1), (2, 'bob', 2, 2), (3, 'carol', 3, 3)`,
		`DELETE FROM users WHERE id = 3`, // the largest ID so far, gone before the upgrade
		`INSERT INTO tokens (user_id, name, hash, prefix, created_at) VALUES (1, 't', 'h1', 'p', 1), (2, 't', 'h2', 'p', 1)`,
		`INSERT INTO repositories (id, name, format, kind, visibility, created_at, updated_at) VALUES (1, 'r', 'raw', 'hosted', 'private', 1, 1)`,
		`INSERT INTO repository_roles (user_id, repository_id, role) VALUES (1, 1, 'reader'), (2, 1, 'admin')`,
		`INSERT INTO access_keys (user_id, access_key_id, secret, created_at) VALUES (2, 'AK', 's', 1)`,
		`INSERT INTO ui_sessions (hash, user_id, csrf, created_at, expires_at) VALUES ('s1', 2, 'c', 1, 2)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	count := func(table string) int {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	children := []string{"tokens", "repository_roles", "access_keys", "ui_sessions"}
	before := map[string]int{}
	for _, c := range children {
		before[c] = count(c)
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("upgrade: %v", err)
	}

	var schema string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'users'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(schema, "AUTOINCREMENT") {
		t.Fatalf("users after 00012: %s", schema)
	}
	for _, c := range children {
		if n := count(c); n != before[c] {
			t.Errorf("%s: %d rows before the upgrade, %d after", c, before[c], n)
		}
	}
	var fkOn int
	if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fkOn); err != nil || fkOn != 1 {
		t.Fatalf("foreign_keys after the migration = %d, %v", fkOn, err)
	}
	rows, err := db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign_key_check reports violations after the upgrade")
	}
	rows.Close()
	// References still point at users: a dangling one is refused...
	if _, err := db.ExecContext(ctx, `INSERT INTO tokens (user_id, name, hash, prefix, created_at) VALUES (99, 'x', 'h9', 'p', 1)`); err == nil {
		t.Error("a token of a user that does not exist was accepted")
	}
	// ...and deleting a user still cascades.
	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	for c, want := range map[string]int{"tokens": 1, "repository_roles": 1, "access_keys": 0, "ui_sessions": 0} {
		if n := count(c); n != want {
			t.Errorf("%s after deleting bob: %d rows, want %d", c, n, want)
		}
	}
	// The next ID is past every ID in use at the upgrade, and never a
	// deleted one again.
	var id int64
	if err := db.QueryRowContext(ctx, `INSERT INTO users (name, created_at, updated_at) VALUES ('dave', 4, 4) RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id <= 2 {
		t.Fatalf("new user after the upgrade got ID %d, reusing a deleted one", id)
	}
}
