package meta

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Option configures Open.
type Option func(*options)

type options struct {
	tracer trace.TracerProvider
}

// WithTracing makes every statement, transaction and connection of the
// database a span (named sql.conn.query, sql.conn.exec, sql.conn.begin_tx,
// sql.tx.commit, ...) under the span of the context it runs with, by
// wrapping the database/sql driver: one place, so that queries inside
// transactions and those of the job queue on SQLite are traced alike.
// Statements whose context has no span (the job queue's polling, the
// SQLite checkpointer) make none. Without WithTracing, or with a nil
// provider, the driver is not wrapped at all.
func WithTracing(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

func (o options) open(driverName, dsn string, dialect Dialect, turn *writeTurn, guard *txGuard) (*sql.DB, error) {
	var connector driver.Connector // SQLite: connections that cache statements (stmtcache.go)
	if dialect == SQLite {
		connector = newSQLiteConnector(dsn, turn, guard)
	}
	if o.tracer == nil {
		if connector != nil {
			return sql.OpenDB(connector), nil
		}
		return sql.Open(driverName, dsn)
	}
	system := "sqlite"
	if dialect == Postgres {
		system = "postgresql"
	}
	opts := []otelsql.Option{
		otelsql.WithTracerProvider(o.tracer),
		otelsql.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelsql.WithAttributes(attribute.String("db.system.name", system)),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true,
			OmitConnPrepare:      true,
			OmitRows:             true,
			DisableErrSkip:       true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	}
	if connector != nil {
		return otelsql.OpenDB(connector, opts...), nil
	}
	return otelsql.Open(driverName, dsn, opts...)
}
