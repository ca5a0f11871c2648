package app

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"

	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/ops"
	"github.com/arcaproject/arca/internal/telemetry"
)

// tracerProvider is the provider the tracing wrappers take, or nil when
// tracing is off: then none of them is installed.
func tracerProvider(t *telemetry.Tracing) trace.TracerProvider {
	if !t.Enabled() {
		return nil
	}
	return t.Provider
}

// registerStorageMetrics adds the database pool's statistics (go_sql_*,
// db_name="arca") and the blob store's size and, on a filesystem, free
// space to reg.
func registerStorageMetrics(reg prometheus.Registerer, cfg config.Config, db *meta.DB) {
	dir := ""
	if cfg.Blob.Driver != "s3" {
		dir = cfg.BlobDir()
	}
	reg.MustRegister(collectors.NewDBStatsCollector(db.DB, "arca"), ops.NewStorageCollector(db.DB, dir))
}
