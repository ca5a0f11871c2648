package ui

import (
	"context"
	"database/sql"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// npmPackages lists an npm repository's packages: published ones for a
// hosted repository, those with cached tarballs for a proxy.
func (h *Handler) npmPackages(ctx context.Context, rp *repo.Repository, q string, limit, offset int) ([]PackageRow, error) {
	query := `SELECT p.name, p.description, p.updated_at,
	                 (SELECT COUNT(*) FROM npm_versions v WHERE v.repository_id = p.repository_id AND v.name = p.name),
	                 COALESCE((SELECT t.version FROM npm_dist_tags t WHERE t.repository_id = p.repository_id AND t.name = p.name AND t.tag = 'latest'), '')
	          FROM npm_packages p WHERE p.repository_id = $1 AND ($2 = '' OR p.name LIKE $3 ESCAPE '\')
	          ORDER BY p.name LIMIT $4 OFFSET $5`
	if rp.Kind == repo.Proxy {
		query = `SELECT name, '', MAX(created_at), COUNT(*), '' FROM npm_proxy_tarballs
		         WHERE repository_id = $1 AND ($2 = '' OR name LIKE $3 ESCAPE '\')
		         GROUP BY name ORDER BY name LIMIT $4 OFFSET $5`
	}
	rows, err := h.db.QueryContext(ctx, query, rp.ID, q, likeContains(q), limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []PackageRow
	for rows.Next() {
		var p PackageRow
		if err := rows.Scan(&p.Name, &p.Description, &p.Updated, &p.Versions, &p.Latest); err != nil {
			return nil, meta.Err(err)
		}
		p.Display = p.Name
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// NPMVersion is one published version (or, in a proxy, a cached tarball).
type NPMVersion struct {
	Version     string
	File        string // a proxy's cached tarball name
	Digest      string
	SHA512      string // hex; npm's integrity is its base64
	Size        int64
	PublishedBy string
	Created     int64
	Tags        []string
}

// npmVersions lists a package's versions, newest first.
func (h *Handler) npmVersions(ctx context.Context, rp *repo.Repository, name string, limit, offset int) ([]NPMVersion, error) {
	query := `SELECT v.version, '', v.digest, b.sha512, v.size, v.published_by, v.created_at
	          FROM npm_versions v JOIN blobs b ON b.digest = v.digest
	          WHERE v.repository_id = $1 AND v.name = $2 ORDER BY v.created_at DESC, v.version LIMIT $3 OFFSET $4`
	if rp.Kind == repo.Proxy {
		query = `SELECT '', t.file, t.digest, b.sha512, b.size, '', t.created_at
		         FROM npm_proxy_tarballs t JOIN blobs b ON b.digest = t.digest
		         WHERE t.repository_id = $1 AND t.name = $2 ORDER BY t.created_at DESC, t.file LIMIT $3 OFFSET $4`
	}
	rows, err := h.db.QueryContext(ctx, query, rp.ID, name, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []NPMVersion
	for rows.Next() {
		var v NPMVersion
		if err := rows.Scan(&v.Version, &v.File, &v.Digest, &v.SHA512, &v.Size, &v.PublishedBy, &v.Created); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, v)
	}
	return out, meta.Err(rows.Err())
}

// npmDistTags maps a hosted package's dist-tags to versions.
func (h *Handler) npmDistTags(ctx context.Context, repoID int64, name string) (map[string]string, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT tag, version FROM npm_dist_tags WHERE repository_id = $1 AND name = $2`, repoID, name)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var t, v string
		if err := rows.Scan(&t, &v); err != nil {
			return nil, meta.Err(err)
		}
		out[t] = v
	}
	return out, meta.Err(rows.Err())
}

// npmManifestHead returns a version's stored document head (see
// npm.Manifest.Render), or "" when there is none.
func (h *Handler) npmManifestHead(ctx context.Context, repoID int64, name, version string) (string, error) {
	var head string
	err := h.db.QueryRowContext(ctx, `SELECT manifest FROM npm_versions WHERE repository_id = $1 AND name = $2 AND version = $3`,
		repoID, name, version).Scan(&head)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return head, meta.Err(err)
}
