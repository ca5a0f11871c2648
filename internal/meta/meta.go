// Package meta is arca's metadata database: SQLite (embedded default) or
// PostgreSQL (scale-out), with embedded, versioned migrations applied at
// start. Queries are written once with $N placeholders, which both engines
// accept; where their DDL differs, each engine has its own migration files.
package meta

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/arcaproject/arca/internal/errs"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Args returns the placeholders of n arguments numbered from first,
// comma-separated, for a long generated list (a multi-row VALUES, an IN
// list): "$first, ..." on PostgreSQL, bare "?" on SQLite. SQLite keeps
// numbered arguments in a list it searches linearly for each one, so a
// statement of thousands of "$N" costs quadratic time (a search reindex of
// 1,000 documents spent 60% of its CPU there); a bare "?" is numbered one
// past the largest number so far, so the list must come in argument order,
// after every "$N" of the statement. internal/mlflow's dbq does the same.
func (d Dialect) Args(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if d == SQLite {
			b.WriteByte('?')
		} else {
			b.WriteString("$" + strconv.Itoa(first+i))
		}
	}
	return b.String()
}

// DB is the metadata database.
type DB struct {
	*sql.DB
	Dialect Dialect

	stopCheckpoints func()   // SQLite: stops the background checkpointer
	guard           *txGuard // SQLite: no pool use inside a transaction (txguard.go)
	batch           *batcher // SQLite: the group-commit writer (batch.go)
	turn            *writeTurn
	reads           *sql.DB // SQLite: read-only connections of their own (Reads)
}

// Reads is the pool for reads that may be made from inside a transaction's
// function by code that reaches the database through an interface that
// carries no tx: the blob store's reads of blobs kept in the database
// (gc.InlineBlobs), which the search indexer, for one, makes inside its
// transactions. On SQLite it is a pool of its own whose connections are
// read-only: they never wait for the write lock, so they cannot stall
// behind the writer that uses them, which the pool guard (txguard.go)
// exists to prevent. On PostgreSQL it is the shared pool.
func (db *DB) Reads() *sql.DB {
	if db.reads != nil {
		return db.reads
	}
	return db.DB
}

// Querier is what *sql.DB and *sql.Tx share; store code takes a Querier so it
// runs inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Open connects to databaseURL — a postgres:// or postgresql:// URL selects
// PostgreSQL; "" or sqlite://PATH selects SQLite (default
// <dataDir>/arca.db) — and applies pending migrations.
func Open(ctx context.Context, databaseURL, dataDir string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	db, err := connect(databaseURL, dataDir, o)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the %s database: %w", db.Dialect, err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.Dialect == SQLite {
		db.stopCheckpoints = db.checkpoints(time.Second)
		db.startBatcher()
	}
	return db, nil
}

// checkpoints copies the SQLite write-ahead log into the database every
// interval, off the request path. PASSIVE never waits for readers or
// writers; what it cannot copy now it copies next time.
func (db *DB) checkpoints(interval time.Duration) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// Close stops background work and closes the database.
func (db *DB) Close() error {
	if db.batch != nil {
		db.batch.stop()
		db.batch = nil
	}
	if db.stopCheckpoints != nil {
		db.stopCheckpoints()
		db.stopCheckpoints = nil
	}
	err := db.DB.Close()
	if db.reads != nil {
		db.reads.Close()
	}
	if db.turn != nil && db.turn.procs != nil {
		db.turn.procs.close()
	}
	return err
}

// withCustomPlans asks PostgreSQL to plan every execution of a prepared
// statement with its arguments (plan_cache_mode=force_custom_plan), unless
// the URL sets plan_cache_mode itself. pgx prepares and caches statements;
// after five executions PostgreSQL may switch to a generic plan, which for
// searches whose selectivity depends on the values (an MLflow param equal
// to a rare value, say) took seconds instead of milliseconds.
func withCustomPlans(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Query().Has("plan_cache_mode") {
		return databaseURL
	}
	q := u.Query()
	q.Set("plan_cache_mode", "force_custom_plan")
	u.RawQuery = q.Encode()
	return u.String()
}

func connect(databaseURL, dataDir string, o options) (*DB, error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		sqlDB, err := o.open("pgx", withCustomPlans(databaseURL), Postgres, nil, nil)
		if err != nil {
			return nil, err
		}
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{DB: sqlDB, Dialect: Postgres, guard: newTxGuard(Postgres)}, nil
	case databaseURL == "", strings.HasPrefix(databaseURL, "sqlite://"), strings.HasPrefix(databaseURL, "file:"):
		path := filepath.Join(dataDir, "arca.db")
		if rest, ok := strings.CutPrefix(databaseURL, "sqlite://"); ok && rest != "" {
			path = rest
		} else if rest, ok := strings.CutPrefix(databaseURL, "file:"); ok && rest != "" {
			path = rest
		}
		q := url.Values{}
		// wal_autocheckpoint(0): the WAL is checkpointed by a background
		// goroutine (see checkpoints), not inside whichever request happens
		// to cross the threshold. synchronous(FULL): the WAL is synced at
		// every commit, so an acknowledged write survives a power loss, not
		// only a killed process; group commit (batch.go) shares that sync
		// between concurrent writers. See docs/architecture.md, "SQLite
		// durability".
		for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)", "wal_autocheckpoint(0)"} {
			q.Add("_pragma", p)
		}
		// Write transactions take the write lock up front, so two of them
		// never deadlock upgrading read locks; busy_timeout makes them queue.
		q.Set("_txlock", "immediate")
		turn, guard := newWriteTurn(path), newTxGuard(SQLite)
		sqlDB, err := o.open("sqlite", "file:"+path+"?"+q.Encode(), SQLite, turn, guard)
		if err != nil {
			return nil, err
		}
		// Writers wait for their turn holding a connection (writeturn.go):
		// enough connections that a queue of them leaves readers some.
		sqlDB.SetMaxOpenConns(32)
		sqlDB.SetMaxIdleConns(16)
		ro := url.Values{}
		ro.Add("_pragma", "busy_timeout(10000)")
		ro.Add("_pragma", "query_only(1)")
		reads, err := o.open("sqlite", "file:"+path+"?"+ro.Encode(), SQLite, nil, nil)
		if err != nil {
			sqlDB.Close()
			return nil, err
		}
		reads.SetMaxOpenConns(8)
		reads.SetMaxIdleConns(2)
		return &DB{DB: sqlDB, Dialect: SQLite, guard: guard, turn: turn, reads: reads}, nil
	default:
		scheme, _, _ := strings.Cut(databaseURL, ":")
		return nil, fmt.Errorf("unsupported database URL scheme %q: want postgres://, sqlite:// or empty for the embedded default", scheme)
	}
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect))
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	// Out-of-order migrations are applied too: formats developed side by
	// side number their migrations independently, and a database that
	// already has a later one must still receive an earlier one.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if db.Dialect == Postgres {
		// Several processes starting at once on an empty database would
		// each create goose's table and the schema (and crash on each
		// other's duplicate types); they take turns under an advisory lock,
		// held by the one connection that migrates. SQLite serializes
		// writers itself.
		id, err := db.lockID(ctx, "migrations")
		if err != nil {
			return err
		}
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 600))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("loading migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("applying migrations: %w", err)
	}
	return nil
}

// WithLock runs fn while holding the database-wide lock called name, so
// that processes sharing a PostgreSQL database take turns (first-start
// bootstrap, say). On SQLite, whose writers queue on the file, fn just runs.
// The lock is a session advisory lock held by one connection for the
// duration of fn; PostgreSQL releases it if the process dies.
func (db *DB) WithLock(ctx context.Context, name string, fn func() error) error {
	if db.Dialect != Postgres {
		return fn()
	}
	id, err := db.lockID(ctx, name)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return Err(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, id); err != nil {
		return Err(err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, id); err != nil {
			// Drop the session rather than pool it still holding the lock.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn()
}

// lockID names an advisory lock of the schema this connection works in:
// processes on one database share it, while databases with one schema per
// tenant (or per test) do not wait for each other.
func (db *DB) lockID(ctx context.Context, name string) (int64, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, fmt.Errorf("reading the current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("arca:" + schema.String + ":" + name))
	return int64(h.Sum64()), nil
}

// SchemaVersion returns the newest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

// WithTx runs fn in a transaction, committing if fn returns nil and rolling
// back otherwise.
//
// When fn fails with an error whose code is CodeRetry, the transaction is
// rolled back and fn runs again in a new one, after a pause that grows
// from 10 ms to 500 ms, for up to RetryFor; fn must therefore be safe to
// run more than once.
func (db *DB) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retrying(ctx, func() error { return db.tryTx(ctx, fn) })
}

// retrying runs attempt until it fails with an error not coded CodeRetry,
// or for RetryFor, pausing 10 ms, then twice as long each time up to 500
// ms, in between.
func retrying(ctx context.Context, attempt func() error) error {
	pause := 10 * time.Millisecond
	deadline := time.Now().Add(RetryFor)
	for {
		err := attempt()
		if errs.CodeOf(err) != CodeRetry || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return Err(ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// CodeRetry marks an error after which WithTx runs its function again: the
// transaction met a state that another one is about to end (see
// gc.Record).
const CodeRetry = "RETRY_TRANSACTION"

// RetryFor bounds how long WithTx retries.
const RetryFor = 30 * time.Second

func (db *DB) tryTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Err(err)
	}
	if err := db.guard.run(fn, tx); err != nil {
		tx.Rollback()
		return err
	}
	return Err(tx.Commit())
}

// Now is the timestamp format arca stores: Unix milliseconds.
func Now() int64 { return time.Now().UnixMilli() }

// Err maps database errors to arca's taxonomy: a unique violation becomes
// Conflict, no rows becomes NotFound, a foreign key violation Invalid, and
// anything else Unavailable (the database failed, not the request).
func Err(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errs.Wrap(err, errs.NotFound, "not found")
	case IsUniqueViolation(err):
		return errs.Wrap(err, errs.Conflict, "already exists")
	case isForeignKeyViolation(err):
		return errs.Wrap(err, errs.Invalid, "refers to something that does not exist")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errs.Wrap(err, errs.Unavailable, "request cancelled")
	}
	return errs.Wrap(err, errs.Unavailable, "metadata database unavailable")
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// QueryStrings runs a query of one text column and returns its values.
func QueryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, Err(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, Err(err)
		}
		out = append(out, v)
	}
	return out, Err(rows.Err())
}
