package meta

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// Inside a transaction's function on SQLite, the pool is off limits: a
// query, a statement or a nested transaction through the *DB panics, the
// transaction's own tx works, and other goroutines use the pool as ever.
func TestTxGuard(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE g (k TEXT)`); err != nil {
		t.Fatal(err)
	}
	for name, misuse := range map[string]func(){
		"query":     func() { db.QueryRowContext(ctx, `SELECT count(*) FROM g`).Scan(new(int)) },
		"statement": func() { db.ExecContext(ctx, `INSERT INTO g VALUES ('x')`) },
		"nested":    func() { db.WithTx(ctx, func(*sql.Tx) error { return nil }) },
		"querier":   func() { QueryStrings(ctx, db, `SELECT k FROM g`) },
	} {
		var got any
		err := db.WithTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO g VALUES ('in-tx')`); err != nil {
				return err
			}
			func() {
				defer func() { got = recover() }()
				misuse()
			}()
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if msg, _ := got.(string); !strings.Contains(msg, "inside a transaction's function") {
			t.Errorf("%s: pool use inside WithTx did not panic (recovered %v)", name, got)
		}
	}
	// Outside a transaction, and from another goroutine during one, the
	// pool is fine.
	err = db.WithTx(ctx, func(tx *sql.Tx) error {
		done := make(chan error)
		go func() {
			_, err := QueryStrings(ctx, db, `SELECT k FROM g`)
			done <- err
		}()
		return <-done
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM g WHERE k = 'in-tx'`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("rows written through the tx: %d (%v), want 4", n, err)
	}
}

func TestMayWrite(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT 1":                                false,
		"  select * from t":                       false,
		"(SELECT 1)":                              false,
		"PRAGMA wal_checkpoint(PASSIVE)":          false,
		"WITH x AS (SELECT 1) SELECT * FROM x":    false,
		"WITH x AS (SELECT 1) UPDATE t SET a = 1": true,
		"UPDATE river_leader SET expires_at = ?":  true,
		"INSERT INTO t VALUES (1) RETURNING id":   true,
		"\n\tDELETE FROM t":                       true,
		"CREATE TABLE t (a)":                      true,
		"REPLACE INTO t VALUES (1)":               true,
	} {
		if got := mayWrite(q); got != want {
			t.Errorf("mayWrite(%q) = %v, want %v", q, got, want)
		}
	}
}
