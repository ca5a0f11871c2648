package meta

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// The pool guard.
//
// On SQLite every transaction arca begins holds the one write lock, and a
// writer that finds the lock taken waits for it (busy_timeout) holding a
// pool connection. A goroutine inside WithTx that asks the pool for a
// connection (db.QueryContext instead of tx.QueryContext, or a nested
// WithTx) can therefore wait for a connection that only frees once it
// commits: with every connection held by a waiting writer, all of them
// stall for busy_timeout and fail with SQLITE_BUSY. That took a whole S3
// PUT load down for minutes (search's group reindex read through the pool;
// CI, December 2026).
//
// So the rule is: inside a transaction's function, touch the database
// only through its tx. The guard checks it wherever it is cheap to: in
// tests, and in a server started with ARCA_DEBUG_TX_GUARD=1 (the e2e and
// fault harnesses set it), the goroutine running a transaction's function
// is recorded, and a pool call on the same *DB from that goroutine panics
// with the offending stack. Off, the cost is one boolean test per call.

// guardEnv turns the guard on in a server.
const guardEnv = "ARCA_DEBUG_TX_GUARD"

type txGuard struct {
	on      bool
	holders sync.Map // goroutine id → struct{}: running a transaction's function
}

func newTxGuard(dialect Dialect) *txGuard {
	return &txGuard{on: dialect == SQLite && (testing.Testing() || os.Getenv(guardEnv) != "")}
}

// goid is the calling goroutine's id, read from its stack header
// ("goroutine 123 [running]:"); only the guard uses it.
func goid() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseInt(string(b), 10, 64)
	return id
}

// run runs a transaction's function, the calling goroutine marked as
// running it meanwhile.
func (g *txGuard) run(fn func(tx *sql.Tx) error, tx *sql.Tx) error {
	if g == nil || !g.on {
		return fn(tx)
	}
	id := goid()
	g.holders.Store(id, struct{}{})
	defer g.holders.Delete(id)
	return fn(tx)
}

// check panics when the calling goroutine runs a transaction's function.
func (g *txGuard) check(what string) {
	if g == nil || !g.on {
		return
	}
	if _, held := g.holders.Load(goid()); held {
		panic(fmt.Sprintf("meta: %s on the pool inside a transaction's function: on SQLite this waits for a connection while holding the write lock (use the tx)", what))
	}
}

// The pool methods of *sql.DB, guarded. *DB embeds *sql.DB; these shadow
// its methods so that every caller holding a *DB (or a Querier made of
// one) passes the guard.

func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db.guard.check("a query")
	return db.DB.QueryContext(ctx, query, args...)
}

func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	db.guard.check("a query")
	return db.DB.QueryRowContext(ctx, query, args...)
}

func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	db.guard.check("a statement")
	return db.DB.ExecContext(ctx, query, args...)
}

func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	db.guard.check("a nested transaction")
	return db.DB.BeginTx(ctx, opts)
}

func (db *DB) Conn(ctx context.Context) (*sql.Conn, error) {
	db.guard.check("a dedicated connection")
	return db.DB.Conn(ctx)
}

func (db *DB) Query(query string, args ...any) (*sql.Rows, error) {
	return db.QueryContext(context.Background(), query, args...)
}

func (db *DB) QueryRow(query string, args ...any) *sql.Row {
	return db.QueryRowContext(context.Background(), query, args...)
}

func (db *DB) Exec(query string, args ...any) (sql.Result, error) {
	return db.ExecContext(context.Background(), query, args...)
}
