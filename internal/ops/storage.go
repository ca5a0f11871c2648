package ops

import (
	"context"
	"database/sql"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GCMetrics count garbage collections (arca_gc_*). Dry runs count as
// runs but free nothing.
type GCMetrics struct {
	runs        *prometheus.CounterVec
	deleted     prometheus.Counter
	freed       prometheus.Counter
	lastSuccess prometheus.Gauge
	duration    prometheus.Histogram
}

// NewGCMetrics creates the GC metrics and registers them on reg.
func NewGCMetrics(reg prometheus.Registerer) *GCMetrics {
	m := &GCMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arca_gc_runs_total", Help: "Garbage collections by result (ok, error).",
		}, []string{"result"}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arca_gc_deleted_blobs_total", Help: "Blobs deleted by garbage collection.",
		}),
		freed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "arca_gc_freed_bytes_total", Help: "Bytes freed by garbage collection.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "arca_gc_last_success_timestamp_seconds", Help: "When a garbage collection last succeeded in this process (Unix seconds).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "arca_gc_duration_seconds", Help: "Duration of garbage collections.",
			Buckets: []float64{.1, 1, 5, 15, 60, 300, 900, 3600},
		}),
	}
	reg.MustRegister(m.runs, m.deleted, m.freed, m.lastSuccess, m.duration)
	return m
}

// Observe records one collection.
func (m *GCMetrics) Observe(deleted int, bytesFreed int64, took time.Duration, err error) {
	if err != nil {
		m.runs.WithLabelValues("error").Inc()
		return
	}
	m.runs.WithLabelValues("ok").Inc()
	m.deleted.Add(float64(deleted))
	m.freed.Add(float64(bytesFreed))
	m.duration.Observe(took.Seconds())
	m.lastSuccess.SetToCurrentTime()
}

// StorageCollector reports, at each scrape, the content the metadata
// database knows (arca_blobs and arca_blob_stored_bytes: distinct blobs,
// each stored once however many repositories refer to it), the sign-ins
// locked out now (arca_login_lockouts: pairs of user name and client
// address past auth.login_max_failures), and, for a blob store on a local
// filesystem, that filesystem's size and free space
// (arca_blob_filesystem_size_bytes, arca_blob_filesystem_free_bytes;
// what the "disk almost full" alert reads). The queries are two
// aggregates; on a very large blobs table a scrape costs a scan of it.
type StorageCollector struct {
	DB *sql.DB
	// Dir is the filesystem blob store's directory; "" for object storage.
	Dir string

	blobs, bytes, locked, fsSize, fsFree *prometheus.Desc
}

// NewStorageCollector returns the collector; register it on a registry.
func NewStorageCollector(db *sql.DB, dir string) *StorageCollector {
	return &StorageCollector{DB: db, Dir: dir,
		blobs:  prometheus.NewDesc("arca_blobs", "Distinct blobs in the blob store, by the metadata database.", nil, nil),
		bytes:  prometheus.NewDesc("arca_blob_stored_bytes", "Bytes of the distinct blobs in the blob store (each stored once).", nil, nil),
		locked: prometheus.NewDesc("arca_login_lockouts", "Pairs of user name and client address locked out of signing in now.", nil, nil),
		fsSize: prometheus.NewDesc("arca_blob_filesystem_size_bytes", "Size of the filesystem holding the blob store.", nil, nil),
		fsFree: prometheus.NewDesc("arca_blob_filesystem_free_bytes", "Space available to arca on the filesystem holding the blob store.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StorageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.blobs
	ch <- c.bytes
	ch <- c.locked
	if c.Dir != "" {
		ch <- c.fsSize
		ch <- c.fsFree
	}
}

// Collect implements prometheus.Collector.
func (c *StorageCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n, size int64
	if err := c.DB.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM blobs`).Scan(&n, &size); err != nil {
		ch <- prometheus.NewInvalidMetric(c.blobs, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.blobs, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(size))
	}
	if err := c.DB.QueryRowContext(ctx, `SELECT count(*) FROM login_failures WHERE locked_until > $1`, time.Now().UnixMilli()).Scan(&n); err != nil {
		ch <- prometheus.NewInvalidMetric(c.locked, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.locked, prometheus.GaugeValue, float64(n))
	}
	if c.Dir == "" {
		return
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.Dir, &st); err != nil {
		ch <- prometheus.NewInvalidMetric(c.fsSize, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.fsSize, prometheus.GaugeValue, float64(st.Blocks)*float64(st.Bsize))
	ch <- prometheus.MustNewConstMetric(c.fsFree, prometheus.GaugeValue, float64(st.Bavail)*float64(st.Bsize))
}
