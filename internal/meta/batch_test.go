package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

func openSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE batch_t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func keys(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	ks, err := QueryStrings(context.Background(), db, `SELECT k FROM batch_t`)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		got[k] = true
	}
	return got
}

// Concurrent callers share transactions, and each gets its own outcome: a
// failing caller's writes are rolled back alone, a panicking caller's
// panic reaches its own goroutine, a caller whose function wrecks the
// shared transaction makes the others run again alone, and every
// successful write is committed.
func TestWithBatchTxGroupsCallers(t *testing.T) {
	db := openSQLite(t)
	batchRound(t, db, "a", false)
	if db.batch.shared.Load() == 0 {
		t.Errorf("no transaction was shared by several callers")
	}
	batchRound(t, db, "b", true)
}

// batchRound holds the writer with one caller while 40 others queue, then
// lets them all run; with wreck, one of them ends the shared transaction.
func batchRound(t *testing.T, db *DB, prefix string, wreck bool) {
	ctx := context.Background()
	release := make(chan struct{})
	var first sync.WaitGroup
	first.Add(1)
	go func() {
		defer first.Done()
		db.WithBatchTx(ctx, func(tx *sql.Tx) error {
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO batch_t VALUES ($1)`, prefix+"first")
			return err
		})
	}()
	time.Sleep(50 * time.Millisecond)
	const n = 40
	boom := errors.New("boom")
	errsOut := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errsOut[i] = db.WithBatchTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO batch_t VALUES ($1)`, prefix+fmt.Sprint(i)); err != nil {
					return err
				}
				switch {
				case i%5 == 1:
					return boom
				case i == 7:
					panic("handler bug")
				case i == 13 && wreck:
					// Ends the shared transaction under the writer, as a
					// statement interrupted by a cancelled context does.
					_, err := tx.ExecContext(ctx, `ROLLBACK`)
					return err
				case i == 17:
					// A duplicate key: this caller's error only.
					_, err := tx.ExecContext(ctx, `INSERT INTO batch_t VALUES ($1)`, prefix+"first")
					return Err(err)
				}
				return nil
			})
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	first.Wait()
	got := keys(t, db)
	if !got[prefix+"first"] {
		t.Errorf("the first caller's row is missing")
	}
	for i := 0; i < n; i++ {
		k := prefix + fmt.Sprint(i)
		switch {
		case i%5 == 1:
			if !errors.Is(errsOut[i], boom) || got[k] {
				t.Errorf("caller %s: err %v, row present %v; want boom and no row", k, errsOut[i], got[k])
			}
		case i == 7:
			if panics[i] != "handler bug" || got[k] {
				t.Errorf("caller %s: panic %v, row present %v; want its panic and no row", k, panics[i], got[k])
			}
		case i == 17:
			if !errs.Is(errsOut[i], errs.Conflict) || got[k] {
				t.Errorf("caller %s: err %v, row present %v; want a conflict and no row", k, errsOut[i], got[k])
			}
		case i == 13 && wreck:
			// Run again alone, its ROLLBACK ends its own transaction: what
			// it reports does not matter, but nothing else may be lost.
		default:
			if errsOut[i] != nil || panics[i] != nil || !got[k] {
				t.Errorf("caller %s: err %v, panic %v, row present %v; want its row committed", k, errsOut[i], panics[i], got[k])
			}
		}
	}
}

// A caller whose context ends while it waits gets the context's error and
// writes nothing; CodeRetry errors run the function again.
func TestWithBatchTxCancelAndRetry(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.WithBatchTx(ctx, func(tx *sql.Tx) error { <-release; return nil })
	}()
	time.Sleep(50 * time.Millisecond)
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error, 1)
	go func() {
		cancelled <- db.WithBatchTx(cctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO batch_t VALUES ('cancelled')`)
			return err
		})
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-cancelled; err == nil {
		t.Errorf("a cancelled caller succeeded")
	}
	if keys(t, db)["cancelled"] {
		t.Errorf("a cancelled caller's row was written")
	}
	tries := 0
	err := db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		tries++
		if tries < 3 {
			return errs.E(errs.Unavailable, "again").WithCode(CodeRetry)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO batch_t VALUES ('retried')`)
		return err
	})
	if err != nil || tries != 3 || !keys(t, db)["retried"] {
		t.Errorf("retry: err %v after %d tries", err, tries)
	}
	db.Close()
	if err := db.WithBatchTx(ctx, func(tx *sql.Tx) error { return nil }); err == nil {
		t.Errorf("WithBatchTx on a closed database succeeded")
	}
}

// The statement cache: a query text run again uses its prepared statement,
// the same text run while that statement's rows are open (a query in the
// loop over another's rows) still works, and scripts are not cached.
func TestStatementCache(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	for i := range 20 {
		if _, err := db.ExecContext(ctx, `INSERT INTO batch_t VALUES ($1)`, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const q = `SELECT k FROM batch_t WHERE k >= $1 ORDER BY k`
	outer, err := conn.QueryContext(ctx, q, "0")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for outer.Next() {
		var k string
		outer.Scan(&k)
		var inner []string
		rows, err := conn.QueryContext(ctx, q, k) // the same text, while outer is open
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			rows.Scan(&v)
			inner = append(inner, v)
		}
		rows.Close()
		if len(inner) == 0 || inner[0] != k {
			t.Fatalf("inner query from %s = %v", k, inner)
		}
		n++
	}
	if err := outer.Err(); err != nil || n != 20 {
		t.Fatalf("outer query: %d rows, %v", n, err)
	}
	outer.Close()
	conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			t.Fatalf("the connection is a %T, not a caching one", dc)
		}
		if c.stmts[q] == nil || c.stmts[q].busy {
			t.Errorf("the query's statement is not cached idle: %+v", c.stmts[q])
		}
		return nil
	})
	// A script is run, not cached; column types pass through.
	if _, err := conn.ExecContext(ctx, `INSERT INTO batch_t VALUES ('s1'); INSERT INTO batch_t VALUES ('s2');`); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, db); !got["s1"] || !got["s2"] {
		t.Errorf("the script's rows are missing")
	}
	rows, err := conn.QueryContext(ctx, `SELECT k FROM batch_t LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	rows.Close()
	if err != nil || len(cts) != 1 || cts[0].DatabaseTypeName() != "TEXT" {
		t.Errorf("column types: %v, %v", cts, err)
	}
}

// Transactions of one process take turns on the in-process write lock: a
// second one begins when the first ends, and one whose context ends while
// it waits gives up with the context's error.
func TestTransactionsTakeTurns(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	first, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.ExecContext(ctx, `INSERT INTO batch_t VALUES ('first')`); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := db.BeginTx(cctx, nil); err == nil {
		t.Fatal("a transaction began while another held the write lock")
	}
	began := make(chan time.Time, 1)
	go func() {
		tx, err := db.BeginTx(ctx, nil)
		began <- time.Now()
		if err == nil {
			tx.ExecContext(ctx, `INSERT INTO batch_t VALUES ('second')`)
			tx.Commit()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	ended := time.Now()
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	if at := <-began; at.Before(ended) {
		t.Fatalf("the second transaction began %s before the first ended", ended.Sub(at))
	}
	time.Sleep(20 * time.Millisecond)
	if got := keys(t, db); !got["first"] || !got["second"] {
		t.Errorf("rows %v, want first and second", got)
	}
}
