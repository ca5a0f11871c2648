package ui

import (
	"context"
	"database/sql"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// mavenArtifacts lists a Maven repository's artifacts (groupId:artifactId):
// deployed ones for a hosted repository, with their version count; a
// proxy's cached files by their paths.
func (h *Handler) mavenArtifacts(ctx context.Context, rp *repo.Repository, q string, limit, offset int) ([]PackageRow, error) {
	query := `SELECT group_id || ':' || artifact_id, MAX(created_at), COUNT(DISTINCT version), '' FROM maven_files
	          WHERE repository_id = $1 AND ($2 = '' OR group_id || ':' || artifact_id LIKE $3 ESCAPE '\')
	          GROUP BY group_id, artifact_id ORDER BY group_id, artifact_id LIMIT $4 OFFSET $5`
	if rp.Kind == repo.Proxy {
		query = `SELECT path, fetched_at, 1, '' FROM maven_proxy_files
		         WHERE repository_id = $1 AND ($2 = '' OR path LIKE $3 ESCAPE '\')
		         ORDER BY path LIMIT $4 OFFSET $5`
	}
	rows, err := h.db.QueryContext(ctx, query, rp.ID, q, likeContains(q), limit, offset)
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

// MavenFile is one stored file of an artifact.
type MavenFile struct {
	Version    string
	Path       string
	File       string
	Size       int64
	Digest     string
	SHA1       string
	DeployedBy string
	Created    int64
}

// mavenFiles lists an artifact's files in a hosted repository, newest first.
func (h *Handler) mavenFiles(ctx context.Context, repoID int64, groupID, artifactID string, limit, offset int) ([]MavenFile, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT f.version, f.path, f.size, f.digest, b.sha1, f.deployed_by, f.created_at
		FROM maven_files f JOIN blobs b ON b.digest = f.digest
		WHERE f.repository_id = $1 AND f.group_id = $2 AND f.artifact_id = $3
		ORDER BY f.created_at DESC, f.path LIMIT $4 OFFSET $5`, repoID, groupID, artifactID, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []MavenFile
	for rows.Next() {
		var f MavenFile
		if err := rows.Scan(&f.Version, &f.Path, &f.Size, &f.Digest, &f.SHA1, &f.DeployedBy, &f.Created); err != nil {
			return nil, meta.Err(err)
		}
		f.File = f.Path[strings.LastIndexByte(f.Path, '/')+1:]
		out = append(out, f)
	}
	return out, meta.Err(rows.Err())
}

// mavenFile returns a stored file of a Maven repository: deployed to a
// hosted one, or cached by a proxy.
func (h *Handler) mavenFile(ctx context.Context, rp *repo.Repository, path string) (FileInfo, bool, error) {
	q := `SELECT digest, size, created_at FROM maven_files WHERE repository_id = $1 AND path = $2`
	if rp.Kind == repo.Proxy {
		q = `SELECT m.digest, b.size, m.fetched_at FROM maven_proxy_files m JOIN blobs b ON b.digest = m.digest WHERE m.repository_id = $1 AND m.path = $2`
	}
	var f FileInfo
	err := h.db.QueryRowContext(ctx, q, rp.ID, path).Scan(&f.Digest, &f.Size, &f.Modified)
	if err == sql.ErrNoRows {
		return f, false, nil
	}
	f.ContentType = "application/octet-stream"
	return f, err == nil, meta.Err(err)
}
