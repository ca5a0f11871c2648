// Package usage accounts for storage: the bytes each repository, owner
// and format holds, split into bytes unique to it and bytes it shares
// with others (content is stored once, whoever refers to it), sampled
// daily into a history, priced per GB-month, and checked against
// repository quotas on upload.
//
// It sums blob sizes over internal/gc's list of the columns that refer to
// blobs (gc.RepositoryRefs), so a format added there is accounted for.
package usage

import (
	"context"
	"strings"

	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// refsQuery selects (repository_id, digest) pairs, distinct, of every row
// that belongs to a repository and refers to a blob.
func refsQuery() string {
	var parts []string
	for _, r := range gc.RepositoryRefs() {
		parts = append(parts, `SELECT repository_id, `+r.Column+` AS digest FROM `+r.Table+` WHERE `+r.Column+` IS NOT NULL`)
	}
	return strings.Join(parts, " UNION ")
}

// repoRefsQuery selects the digests repository $1 refers to.
func repoRefsQuery() string {
	var parts []string
	for _, r := range gc.RepositoryRefs() {
		parts = append(parts, `SELECT `+r.Column+` FROM `+r.Table+` WHERE repository_id = $1 AND `+r.Column+` IS NOT NULL`)
	}
	return strings.Join(parts, " UNION ")
}

// Scopes of accounting.
const (
	ScopeRepository = "repository"
	ScopeOwner      = "owner"
	ScopeFormat     = "format"
	ScopeTotal      = "total"
)

// Line is the storage of one repository, owner or format. Bytes is the
// distinct content it refers to; UniqueBytes the part no other
// repository (owner, format) refers to; SharedBytes the rest.
type Line struct {
	Scope       string  `json:"scope"`
	Name        string  `json:"name"`
	Format      string  `json:"format,omitempty"` // of a repository
	Owner       string  `json:"owner,omitempty"`  // of a repository
	Bytes       int64   `json:"bytes"`
	UniqueBytes int64   `json:"unique_bytes"`
	SharedBytes int64   `json:"shared_bytes"`
	Cost        float64 `json:"cost_per_month,omitempty"`
}

// keyOf is the SQL expression over repositories r that a scope groups by.
var keyOf = map[string]string{ScopeRepository: "r.name", ScopeOwner: "r.owner", ScopeFormat: "r.format"}

// Measure computes the lines of a scope (repository, owner or format).
func Measure(ctx context.Context, db meta.Querier, scope string) ([]Line, error) {
	key := keyOf[scope]
	q := `WITH refs AS (` + refsQuery() + `),
		g AS (SELECT DISTINCT ` + key + ` AS k, refs.digest FROM refs JOIN repositories r ON r.id = refs.repository_id),
		n AS (SELECT digest, COUNT(*) AS c FROM g GROUP BY digest)
		SELECT g.k, COALESCE(SUM(b.size), 0), COALESCE(SUM(CASE WHEN n.c = 1 THEN b.size ELSE 0 END), 0)
		FROM g JOIN blobs b ON b.digest = g.digest JOIN n ON n.digest = g.digest GROUP BY g.k ORDER BY g.k`
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []Line
	for rows.Next() {
		l := Line{Scope: scope}
		if err := rows.Scan(&l.Name, &l.Bytes, &l.UniqueBytes); err != nil {
			return nil, meta.Err(err)
		}
		l.SharedBytes = l.Bytes - l.UniqueBytes
		out = append(out, l)
	}
	return out, meta.Err(rows.Err())
}

// Total is the distinct content every repository refers to together
// (what the blob store holds for them), and every blob recorded
// (garbage awaiting collection included).
func Total(ctx context.Context, db meta.Querier) (referenced, recorded int64, err error) {
	err = db.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT SUM(size) FROM blobs WHERE digest IN (SELECT digest FROM (`+refsQuery()+`) refs)), 0),
		COALESCE((SELECT SUM(size) FROM blobs), 0)`).Scan(&referenced, &recorded)
	return referenced, recorded, meta.Err(err)
}

// Used is the bytes of distinct content repository repoID refers to, and
// whether digest d is among it.
func Used(ctx context.Context, db meta.Querier, repoID int64, d string) (used int64, held bool, err error) {
	var n int
	err = db.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0), COALESCE(SUM(CASE WHEN digest = $2 THEN 1 ELSE 0 END), 0)
		FROM blobs WHERE digest IN (`+repoRefsQuery()+`)`, repoID, d).Scan(&used, &n)
	return used, n > 0, meta.Err(err)
}
