package ui

import (
	"context"

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
