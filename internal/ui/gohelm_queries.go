package ui

import (
	"context"
	"encoding/json"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// goModules lists a Go repository's modules: published ones for a hosted
// repository, with their version count; a proxy's cached module zips by
// their (case-encoded) paths.
func (h *Handler) goModules(ctx context.Context, rp *repo.Repository, q string, limit, offset int) ([]PackageRow, error) {
	query := `SELECT module, MAX(created_at), COUNT(*), MAX(version) FROM go_versions
	          WHERE repository_id = $1 AND ($2 = '' OR module LIKE $3 ESCAPE '\')
	          GROUP BY module ORDER BY module LIMIT $4 OFFSET $5`
	if rp.Kind == repo.Proxy {
		query = `SELECT path, fetched_at, 1, '' FROM go_proxy_files
		         WHERE repository_id = $1 AND path LIKE '%.zip' AND ($2 = '' OR path LIKE $3 ESCAPE '\')
		         ORDER BY path LIMIT $4 OFFSET $5`
	}
	return h.packageRows(ctx, query, rp.ID, q, limit, offset)
}

// helmCharts lists a Helm repository's charts: uploaded ones for a hosted
// repository; a proxy's cached archives by their names.
func (h *Handler) helmCharts(ctx context.Context, rp *repo.Repository, q string, limit, offset int) ([]PackageRow, error) {
	query := `SELECT name, MAX(created_at), COUNT(*), '' FROM helm_charts
	          WHERE repository_id = $1 AND ($2 = '' OR name LIKE $3 ESCAPE '\')
	          GROUP BY name ORDER BY name LIMIT $4 OFFSET $5`
	if rp.Kind == repo.Proxy {
		query = `SELECT path, fetched_at, 1, '' FROM helm_proxy_files
		         WHERE repository_id = $1 AND path LIKE 'charts/%' AND ($2 = '' OR path LIKE $3 ESCAPE '\')
		         ORDER BY path LIMIT $4 OFFSET $5`
	}
	return h.packageRows(ctx, query, rp.ID, q, limit, offset)
}

func (h *Handler) packageRows(ctx context.Context, query string, repoID int64, q string, limit, offset int) ([]PackageRow, error) {
	rows, err := h.db.QueryContext(ctx, query, repoID, q, likeContains(q), limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []PackageRow
	for rows.Next() {
		var p PackageRow
		if err := rows.Scan(&p.Name, &p.Updated, &p.Versions, &p.Latest); err != nil {
			return nil, meta.Err(err)
		}
		p.Display = p.Name
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// GoVersion is one published version of a module.
type GoVersion struct {
	Version     string
	H1          string // the go.sum hash
	Size        int64
	Digest      string
	PublishedBy string
	Created     int64
}

// goVersions lists a hosted module's versions, newest first.
func (h *Handler) goVersions(ctx context.Context, repoID int64, module string, limit, offset int) ([]GoVersion, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT version, h1, size, zip_digest, published_by, created_at FROM go_versions
		WHERE repository_id = $1 AND module = $2 ORDER BY created_at DESC, version DESC LIMIT $3 OFFSET $4`, repoID, module, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []GoVersion
	for rows.Next() {
		var v GoVersion
		if err := rows.Scan(&v.Version, &v.H1, &v.Size, &v.Digest, &v.PublishedBy, &v.Created); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, v)
	}
	return out, meta.Err(rows.Err())
}

// HelmVersion is one uploaded version of a chart.
type HelmVersion struct {
	Version     string
	AppVersion  string
	Description string
	Size        int64
	Digest      string
	Provenance  bool
	UploadedBy  string
	Created     int64
}

// helmVersions lists a hosted chart's versions, newest first.
func (h *Handler) helmVersions(ctx context.Context, repoID int64, name string, limit, offset int) ([]HelmVersion, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT version, meta, size, digest, prov_digest IS NOT NULL, uploaded_by, created_at FROM helm_charts
		WHERE repository_id = $1 AND name = $2 ORDER BY created_at DESC, version DESC LIMIT $3 OFFSET $4`, repoID, name, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []HelmVersion
	for rows.Next() {
		var v HelmVersion
		var m string
		if err := rows.Scan(&v.Version, &m, &v.Size, &v.Digest, &v.Provenance, &v.UploadedBy, &v.Created); err != nil {
			return nil, meta.Err(err)
		}
		var fields map[string]any
		json.Unmarshal([]byte(m), &fields)
		v.AppVersion, _ = fields["appVersion"].(string)
		v.Description, _ = fields["description"].(string)
		out = append(out, v)
	}
	return out, meta.Err(rows.Err())
}
