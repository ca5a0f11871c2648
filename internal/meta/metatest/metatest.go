// Package metatest opens fresh metadata databases for tests: SQLite always,
// and PostgreSQL when ARCA_TEST_POSTGRES_URL names a server. Under CI
// (CI=true) a missing PostgreSQL URL fails the test instead of skipping it,
// so the suite can never pass on one engine only by accident.
package metatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
)

// EnvPostgresURL names the variable holding the test server's URL.
const EnvPostgresURL = "ARCA_TEST_POSTGRES_URL"

// Each runs fn as a subtest once per engine, each with an empty, migrated
// database.
func Each(t *testing.T, fn func(t *testing.T, db *meta.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, OpenPostgres(t)) })
}

// OpenSQLite returns a migrated SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *meta.DB {
	t.Helper()
	db, err := meta.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// PostgresURL returns a URL of an empty schema on the test server, dropped
// when the test ends, or skips (fails under CI) when there is no server.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set under CI: scripts/test.sh starts PostgreSQL and sets it", EnvPostgresURL)
		}
		t.Skipf("%s not set; run ./scripts/test.sh to test against PostgreSQL", EnvPostgresURL)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := meta.Open(context.Background(), base, "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres returns a migrated database in a fresh schema.
func OpenPostgres(t testing.TB) *meta.DB {
	t.Helper()
	db, err := meta.Open(context.Background(), PostgresURL(t), "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
