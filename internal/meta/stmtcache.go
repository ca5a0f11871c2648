package meta

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"reflect"
	"strings"
)

// The SQLite statement cache.
//
// database/sql prepares a statement for every QueryContext and ExecContext
// that is not run through a *sql.Stmt, and the SQLite driver parses it
// again each time: in a profile of OCI manifest GETs a quarter of the CPU
// was SQLite's parser (sqlite3Prepare) and one prepared statement per query
// text would have done. So each SQLite connection keeps its prepared
// statements by query text (up to stmtCacheSize) and runs a query text it
// has seen through the statement it prepared for it. A statement whose
// rows are still open is busy: the same text meanwhile (a query inside the
// loop over another's rows) is prepared anew, uncached, as before. Only
// single statements are cached (no ';' but at the end), and only texts of
// a bounded length, so that generated multi-row statements do not churn
// the cache. PostgreSQL needs none of this: pgx caches its statements.

// stmtCacheSize bounds the statements each connection keeps.
const stmtCacheSize = 256

// maxCachedQuery bounds the length of a query text that is cached.
const maxCachedQuery = 4096

// sqliteConnector opens SQLite connections that cache their statements
// and take the write turn (writeturn.go) for transactions.
type sqliteConnector struct {
	dsn   string
	drv   driver.Driver
	turn  *writeTurn
	guard *txGuard
}

// newSQLiteConnector opens connections with the driver the SQLite package
// registered (and so with whatever was registered on it).
func newSQLiteConnector(dsn string, turn *writeTurn, guard *txGuard) driver.Connector {
	db, _ := sql.Open("sqlite", "") // opens no connection
	defer db.Close()
	return sqliteConnector{dsn: dsn, drv: db.Driver(), turn: turn, guard: guard}
}

func (c sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteConn)
	if !ok {
		return conn, nil // a driver without the expected methods: no cache
	}
	return &cachingConn{sqliteConn: inner, stmts: map[string]*cachedStmt{}, turn: c.turn, guard: c.guard}, nil
}

func (c sqliteConnector) Driver() driver.Driver { return c.drv }

// Begin is BeginTx without a context (database/sql uses BeginTx).
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// sqliteConn is what the SQLite driver's connections implement, and so
// what the caching connection passes on.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type stmtQueryExec interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type cachedStmt struct {
	stmt stmtQueryExec
	busy bool // rows of it are open
}

// cachingConn is a SQLite connection with a statement cache. database/sql
// uses a connection from one goroutine at a time, so the cache needs no
// lock.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
	turn  *writeTurn
	guard *txGuard
	tx    *lockedTx // the transaction in progress
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	// Not from inside another transaction's function; after the queue
	// of writers (writeturn.go).
	c.guard.check("a nested transaction")
	held, err := c.turn.take(ctx, false)
	if err != nil {
		return nil, err
	}
	tx, err := c.sqliteConn.BeginTx(ctx, opts)
	if err != nil {
		if held {
			c.turn.give()
		}
		return nil, err
	}
	lt := &lockedTx{Tx: tx, c: c, held: held}
	c.tx = lt
	return lt, nil
}

// autocommitTurn takes the write turn for a statement run outside a
// transaction that may write (river's leader election and job fetches are
// single UPDATE statements on the pool): a writer that skipped the queue
// would wait in SQLite's busy handler, polling, while the queue hands the
// lock from one writer to the next, and starve. Leader election goes
// ahead of the queue (writeturn.go). It returns the function
// that gives the turn back (nil when none was taken).
func (c *cachingConn) autocommitTurn(ctx context.Context, query string) (func(), error) {
	if c.tx != nil || !mayWrite(query) {
		return nil, nil
	}
	c.guard.check("a statement")
	held, err := c.turn.take(ctx, goesFirst(query))
	if err != nil || !held {
		return nil, err
	}
	return c.turn.give, nil
}

// mayWrite says whether a statement may write: anything but a SELECT, a
// PRAGMA, an EXPLAIN, or a WITH whose text names no write.
func mayWrite(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	word := q
	if i := strings.IndexAny(q, " \t\r\n("); i >= 0 {
		word = q[:i]
	}
	switch strings.ToUpper(word) {
	case "SELECT", "PRAGMA", "EXPLAIN", "VALUES":
		return false
	case "WITH":
		up := strings.ToUpper(q)
		for _, w := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
			if strings.Contains(up, w) {
				return true
			}
		}
		return false
	}
	return true
}

// lockedTx gives the write lock back when it ends.
type lockedTx struct {
	driver.Tx
	c    *cachingConn
	held bool
}

func (t *lockedTx) release() {
	if t.held {
		t.held = false
		t.c.turn.give()
	}
	if t.c.tx == t {
		t.c.tx = nil
	}
}

func (t *lockedTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

func (t *lockedTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}

func cacheable(query string) bool {
	if len(query) > maxCachedQuery {
		return false
	}
	i := strings.IndexByte(query, ';')
	return i < 0 || strings.TrimSpace(query[i+1:]) == ""
}

// stmt returns the cached statement for query, preparing it on first use,
// or nil when query is not to be cached or its statement is busy.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if !cacheable(query) {
		return nil, nil
	}
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	ds, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(stmtQueryExec)
	if !ok {
		ds.Close()
		return nil, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		c.evict()
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

// evict closes about a quarter of the idle statements (map order: at
// random).
func (c *cachingConn) evict() {
	n := 0
	for q, s := range c.stmts {
		if s.busy {
			continue
		}
		s.stmt.Close()
		delete(c.stmts, q)
		if n++; n >= stmtCacheSize/4 {
			return
		}
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	give, err := c.autocommitTurn(ctx, query)
	if err != nil {
		return nil, err
	}
	if give != nil {
		defer give()
	}
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return s.stmt.ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	give, err := c.autocommitTurn(ctx, query)
	if err != nil {
		return nil, err
	}
	s, err := c.stmt(ctx, query)
	var rows driver.Rows
	if err == nil {
		if s == nil {
			rows, err = c.sqliteConn.QueryContext(ctx, query, args)
		} else {
			rows, err = s.stmt.QueryContext(ctx, args)
		}
	}
	if err != nil {
		if give != nil {
			give()
		}
		return nil, err
	}
	if s != nil {
		s.busy = true
	}
	if s == nil && give == nil {
		return rows, nil
	}
	return &cachedRows{rows: rows, s: s, give: give}, nil
}

func (c *cachingConn) Close() error {
	if c.tx != nil {
		c.tx.release() // a connection dropped in a transaction
	}
	for q, s := range c.stmts {
		s.stmt.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// cachedRows frees its statement (if cached) for the next query, and
// gives back the write turn (if taken), when closed.
type cachedRows struct {
	rows driver.Rows
	s    *cachedStmt
	give func()
}

func (r *cachedRows) Columns() []string              { return r.rows.Columns() }
func (r *cachedRows) Next(dest []driver.Value) error { return r.rows.Next(dest) }

func (r *cachedRows) Close() error {
	err := r.rows.Close()
	if r.s != nil {
		r.s.busy = false
	}
	if r.give != nil {
		r.give()
		r.give = nil
	}
	return err
}

// The column type methods database/sql's ColumnTypes asks for.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
