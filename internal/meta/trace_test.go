package meta_test

import (
	"context"
	"database/sql"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// With WithTracing, statements and transactions under a span are its
// children (in a transaction too), statements without one make no span,
// and errors keep their kinds through the wrapped driver.
func TestWithTracing(t *testing.T) {
	run := func(t *testing.T, url string) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		db, err := meta.Open(context.Background(), url, t.TempDir(), meta.WithTracing(tp))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), `SELECT 1`); err != nil {
			t.Fatal(err)
		}
		if n := len(exp.GetSpans()); n != 0 {
			t.Fatalf("%d spans of statements without a parent span, want none", n)
		}
		ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM blobs`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		err = db.WithTx(ctx, func(q *sql.Tx) error {
			_, err := q.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at) VALUES ($1, 1, 1)`, "sha256:x")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// A duplicate is still a conflict through the wrapped driver.
		_, err = db.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at) VALUES ($1, 1, 1)`, "sha256:x")
		if !errs.Is(meta.Err(err), errs.Conflict) {
			t.Errorf("duplicate insert = %v, want a conflict", meta.Err(err))
		}
		parent.End()
		names := map[string]bool{}
		for _, sp := range exp.GetSpans().Snapshots() {
			names[sp.Name()] = true
			if sp.Name() != "request" && sp.Parent().TraceID() != parent.SpanContext().TraceID() {
				t.Errorf("span %s is outside the request's trace", sp.Name())
			}
		}
		for _, want := range []string{"sql.conn.query", "sql.conn.begin_tx", "sql.conn.exec", "sql.tx.commit"} {
			if !names[want] {
				t.Errorf("no %s span; have %v", want, names)
			}
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "") })
	t.Run("postgres", func(t *testing.T) { run(t, metatest.PostgresURL(t)) })
}
