package ui

import (
	"context"
	"encoding/json"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// PackageRow is one package of a PyPI or npm repository.
type PackageRow struct {
	Name        string // the key in URLs (PEP 503 normalized for PyPI)
	Display     string // as its metadata spells it
	Description string
	Versions    int64 // versions (hosted) or cached files (proxy)
	Latest      string
	Updated     int64
}

// pypiProjects lists a PyPI repository's projects: uploaded ones for a
// hosted repository, cached ones for a proxy.
func (h *Handler) pypiProjects(ctx context.Context, rp *repo.Repository, q string, limit, offset int) ([]PackageRow, error) {
	query := `SELECT p.project, p.name, p.updated_at,
	                 (SELECT COUNT(DISTINCT f.version) FROM pypi_files f WHERE f.repository_id = p.repository_id AND f.project = p.project)
	          FROM pypi_projects p WHERE p.repository_id = $1 AND ($2 = '' OR p.project LIKE $3 ESCAPE '\')
	          ORDER BY p.project LIMIT $4 OFFSET $5`
	if rp.Kind == repo.Proxy {
		query = `SELECT project, project, MAX(created_at), COUNT(*) FROM pypi_proxy_files
		         WHERE repository_id = $1 AND ($2 = '' OR project LIKE $3 ESCAPE '\')
		         GROUP BY project ORDER BY project LIMIT $4 OFFSET $5`
	}
	rows, err := h.db.QueryContext(ctx, query, rp.ID, q, likeContains(q), limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []PackageRow
	for rows.Next() {
		var p PackageRow
		if err := rows.Scan(&p.Name, &p.Display, &p.Updated, &p.Versions); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// PyPIFile is one distribution file.
type PyPIFile struct {
	Filename       string
	Version        string
	Filetype       string
	PythonVersion  string
	RequiresPython string
	Digest         string
	Size           int64
	Metadata       map[string]any
	Yanked         bool
	YankedReason   string
	UploadedBy     string
	Created        int64
}

// pypiFiles lists a project's files, newest first: uploaded files of a
// hosted repository, cached ones of a proxy (which know less).
func (h *Handler) pypiFiles(ctx context.Context, rp *repo.Repository, project string, limit, offset int) ([]PyPIFile, error) {
	query := `SELECT filename, version, filetype, python_version, requires_python, digest, size, metadata, yanked, yanked_reason, uploaded_by, created_at
	          FROM pypi_files WHERE repository_id = $1 AND project = $2 ORDER BY created_at DESC, filename LIMIT $3 OFFSET $4`
	if rp.Kind == repo.Proxy {
		query = `SELECT filename, '', '', '', '', digest, size, '{}', FALSE, '', '', created_at
		         FROM pypi_proxy_files WHERE repository_id = $1 AND project = $2 ORDER BY created_at DESC, filename LIMIT $3 OFFSET $4`
	}
	rows, err := h.db.QueryContext(ctx, query, rp.ID, project, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []PyPIFile
	for rows.Next() {
		var f PyPIFile
		var md string
		if err := rows.Scan(&f.Filename, &f.Version, &f.Filetype, &f.PythonVersion, &f.RequiresPython, &f.Digest, &f.Size,
			&md, &f.Yanked, &f.YankedReason, &f.UploadedBy, &f.Created); err != nil {
			return nil, meta.Err(err)
		}
		json.Unmarshal([]byte(md), &f.Metadata) // best effort: shown, not relied on
		out = append(out, f)
	}
	return out, meta.Err(rows.Err())
}
