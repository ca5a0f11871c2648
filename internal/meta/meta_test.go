package meta_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

func TestMigrationsAndErrors(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		v, err := db.SchemaVersion(ctx)
		if err != nil || v < 1 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		insert := `INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3)`
		if _, err := db.ExecContext(ctx, insert, "sha256:aa", 1, meta.Now()); err != nil {
			t.Fatalf("insert: %v", err)
		}
		_, err = db.ExecContext(ctx, insert, "sha256:aa", 1, meta.Now())
		if !errs.Is(meta.Err(err), errs.Conflict) {
			t.Fatalf("duplicate insert maps to %v, want conflict", meta.Err(err))
		}
		var n int
		err = db.QueryRowContext(ctx, `SELECT size FROM blobs WHERE digest = $1`, "sha256:missing").Scan(&n)
		if !errs.Is(meta.Err(err), errs.NotFound) {
			t.Fatalf("missing row maps to %v, want not found", meta.Err(err))
		}
		// Foreign keys are enforced on both engines.
		_, err = db.ExecContext(ctx, `INSERT INTO tokens (user_id, name, hash, prefix, created_at) VALUES (999, 'x', 'h', 'p', 0)`)
		if !errs.Is(meta.Err(err), errs.Invalid) {
			t.Fatalf("dangling foreign key maps to %v, want invalid", meta.Err(err))
		}
		// Reopening applies no migration twice.
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWithTxRollsBack(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.WithTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at) VALUES ($1, 1, 0)`, "sha256:bb"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx = %v, want boom", err)
		}
		var n int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&n)
		if n != 0 {
			t.Fatalf("rolled-back insert left %d rows", n)
		}
		if err := db.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at) VALUES ($1, 1, 0)`, "sha256:bb")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&n)
		if n != 1 {
			t.Fatalf("committed insert left %d rows", n)
		}
	})
}

func TestReopenIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		db, err := meta.Open(context.Background(), "", dir)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		db.Close()
	}
}

func TestWALCheckpointsOffTheRequestPath(t *testing.T) {
	db, err := meta.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var auto int
	db.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&auto)
	if auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d, want 0: requests must not run checkpoints", auto)
	}
	// Close stops the background checkpointer; a second Close is harmless.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// PostgreSQL plans every execution with its arguments: generic plans of
// cached statements made selective searches slow.
func TestPostgresCustomPlans(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		if db.Dialect != meta.Postgres {
			return
		}
		var mode string
		if err := db.QueryRowContext(context.Background(), `SHOW plan_cache_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "force_custom_plan" {
			t.Fatalf("plan_cache_mode = %q, want force_custom_plan", mode)
		}
	})
}

// TestConcurrentOpenMigratesOnce opens one empty PostgreSQL database from
// several goroutines at once: they take turns migrating, and all succeed.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := metatest.PostgresURL(t)
	const n = 8
	errc := make(chan error, n)
	dbs := make(chan *meta.DB, n)
	for range n {
		go func() {
			db, err := meta.Open(context.Background(), url, "")
			errc <- err
			dbs <- db
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
		if db := <-dbs; db != nil {
			defer db.Close()
		}
	}
}

// TestWithLockExcludes checks that WithLock holders on one database never
// overlap.
func TestWithLockExcludes(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		var inside, overlaps atomic.Int32
		done := make(chan error, 4)
		for range 4 {
			go func() {
				done <- db.WithLock(context.Background(), "test", func() error {
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					time.Sleep(20 * time.Millisecond)
					inside.Add(-1)
					return nil
				})
			}()
		}
		for range 4 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if db.Dialect == meta.Postgres && overlaps.Load() > 0 {
			t.Errorf("%d lock holders overlapped", overlaps.Load())
		}
	})
}
