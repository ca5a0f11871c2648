package ui

import (
	"context"
	"sync"
	"time"

	"github.com/arcaproject/arca/internal/meta"
)

// Storage is what the blob store holds and what de-duplication saves.
type Storage struct {
	Blobs     int64 // distinct blobs stored
	Used      int64 // their bytes: what the store really holds
	Refs      int64 // references to content from every format's rows
	Logical   int64 // the bytes of every reference, as if each were a copy
	Reachable int64 // distinct bytes those references reach
	Saved     int64 // Logical - Reachable: what storing each blob once saves
}

// SavedPercent is the share of the logical size that de-duplication saves.
func (s Storage) SavedPercent() int64 {
	if s.Logical == 0 {
		return 0
	}
	return s.Saved * 100 / s.Logical
}

// FormatCount is how many repositories and items of one format there are.
type FormatCount struct {
	Format       string
	Repositories int64
	Items        int64
	ItemsLabel   string // "images", "packages", "files", ...
}

// contentRefs is every reference from a format's rows to a blob, with the
// size it stands for: each row is one copy a naive store would keep.
// (Staged multipart parts and upload sessions are not content yet.)
const contentRefs = `
	SELECT digest, size FROM raw_files
	UNION ALL SELECT digest, size FROM s3_objects
	UNION ALL SELECT digest, size FROM pypi_files
	UNION ALL SELECT digest, size FROM pypi_proxy_files
	UNION ALL SELECT digest, size FROM npm_versions
	UNION ALL SELECT t.digest, b.size FROM npm_proxy_tarballs t JOIN blobs b ON b.digest = t.digest
	UNION ALL SELECT digest, size FROM maven_files
	UNION ALL SELECT m.digest, b.size FROM maven_proxy_files m JOIN blobs b ON b.digest = m.digest
	UNION ALL SELECT zip_digest, size FROM go_versions
	UNION ALL SELECT g.digest, b.size FROM go_proxy_files g JOIN blobs b ON b.digest = g.digest
	UNION ALL SELECT digest, size FROM helm_charts
	UNION ALL SELECT c.digest, b.size FROM helm_proxy_files c JOIN blobs b ON b.digest = c.digest
	UNION ALL SELECT o.digest, b.size FROM oci_blobs o JOIN blobs b ON b.digest = o.digest
	UNION ALL SELECT digest, size FROM oci_manifests`

// statsCache keeps the dashboard's totals for a short while: they scan
// whole tables, and a dashboard reloaded by many people need not rescan.
// Losing it costs only time.
type statsCache struct {
	mu      sync.Mutex
	at      time.Time
	storage Storage
	counts  []FormatCount
}

const statsTTL = 15 * time.Second

// stats returns storage totals and per-format counts, at most statsTTL old.
func (h *Handler) stats(ctx context.Context) (Storage, []FormatCount, error) {
	c := &h.statsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < statsTTL {
		return c.storage, c.counts, nil
	}
	st, err := h.storage(ctx)
	if err != nil {
		return Storage{}, nil, err
	}
	counts, err := h.formatCounts(ctx)
	if err != nil {
		return Storage{}, nil, err
	}
	c.at, c.storage, c.counts = time.Now(), st, counts
	return st, counts, nil
}

func (h *Handler) storage(ctx context.Context) (Storage, error) {
	var s Storage
	if err := h.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs`).Scan(&s.Blobs, &s.Used); err != nil {
		return s, meta.Err(err)
	}
	if err := h.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (`+contentRefs+`) r`).Scan(&s.Refs, &s.Logical); err != nil {
		return s, meta.Err(err)
	}
	if err := h.db.QueryRowContext(ctx,
		`SELECT COALESCE(SUM(size), 0) FROM blobs WHERE digest IN (SELECT digest FROM (`+contentRefs+`) r)`).Scan(&s.Reachable); err != nil {
		return s, meta.Err(err)
	}
	s.Saved = max(s.Logical-s.Reachable, 0)
	return s, nil
}

// formatItems counts each format's items, with the word for them.
var formatItems = []struct{ format, label, query string }{
	{"oci", "images", `SELECT COUNT(*) FROM (SELECT DISTINCT repository_id, name FROM oci_manifests) x`},
	{"pypi", "projects", `SELECT COUNT(*) FROM pypi_projects`},
	{"npm", "packages", `SELECT COUNT(*) FROM npm_packages`},
	{"maven", "artifacts", `SELECT COUNT(*) FROM (SELECT DISTINCT repository_id, group_id, artifact_id FROM maven_files) x`},
	{"go", "modules", `SELECT COUNT(*) FROM (SELECT DISTINCT repository_id, module FROM go_versions) x`},
	{"helm", "charts", `SELECT COUNT(*) FROM (SELECT DISTINCT repository_id, name FROM helm_charts) x`},
	{"raw", "files", `SELECT COUNT(*) FROM raw_files`},
	{"s3", "objects", `SELECT COUNT(*) FROM s3_objects`},
	{"mlflow", "runs", `SELECT COUNT(*) FROM mlflow_runs WHERE lifecycle_stage = 'active'`},
}

func (h *Handler) formatCounts(ctx context.Context) ([]FormatCount, error) {
	repos := map[string]int64{}
	rows, err := h.db.QueryContext(ctx, `SELECT format, COUNT(*) FROM repositories GROUP BY format`)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var f string
		var n int64
		if err := rows.Scan(&f, &n); err != nil {
			return nil, meta.Err(err)
		}
		repos[f] = n
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	var out []FormatCount
	for _, fi := range formatItems {
		fc := FormatCount{Format: fi.format, Repositories: repos[fi.format], ItemsLabel: fi.label}
		if err := h.db.QueryRowContext(ctx, fi.query).Scan(&fc.Items); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, fc)
	}
	return out, nil
}
