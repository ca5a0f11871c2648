package ui

import (
	"context"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// RepoFilter narrows the repository list; empty fields match everything.
type RepoFilter struct {
	Format string
	Kind   string
	Query  string // a substring of the name
}

// likeContains escapes s for a LIKE pattern matching it anywhere.
func likeContains(s string) string { return "%" + likePrefix(s) }

// visibleRepositories lists, by name, the repositories p may read. The SQL
// preselects what auth.Service.Authorize allows (public repositories, all
// of them for a global role, those with a role of p's), and every row is
// then checked with Authorize itself, so the list never shows more than
// the protocols would serve.
func (h *Handler) visibleRepositories(ctx context.Context, p auth.Principal, f RepoFilter, limit, offset int) ([]*repo.Repository, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT id, name, format, kind, visibility, description, created_at, updated_at FROM repositories r
		 WHERE ($1 = '' OR format = $1) AND ($2 = '' OR kind = $2) AND ($3 = '' OR name LIKE $4 ESCAPE '\')
		   AND ($5 = 1 OR visibility = 'public'
		        OR EXISTS (SELECT 1 FROM repository_roles rr WHERE rr.user_id = $6 AND rr.repository_id = r.id))
		 ORDER BY name LIMIT $7 OFFSET $8`,
		f.Format, f.Kind, f.Query, likeContains(f.Query),
		// Roles from an identity provider's groups are not rows: such
		// principals get every repository, filtered by Authorize below.
		boolInt((p.Role != auth.NoRole || h.auth.HasGroupRoles(ctx, p)) && !p.Anonymous()), p.UserID, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var all []*repo.Repository
	for rows.Next() {
		var r repo.Repository
		if err := rows.Scan(&r.ID, &r.Name, &r.Format, &r.Kind, &r.Visibility, &r.Description, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, meta.Err(err)
		}
		all = append(all, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	out := all[:0]
	for _, r := range all {
		if h.auth.Authorize(ctx, p, r, auth.Read) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
