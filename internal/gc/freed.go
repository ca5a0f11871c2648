package gc

import (
	"context"

	"github.com/arcaproject/arca/internal/meta"
)

// This file is read-only: it answers questions about references for
// cleanup previews and storage accounting with the very referrer list
// the collector marks by, and changes nothing.

// Unreferenced returns which of digests nothing refers to in q (a
// transaction in which a caller has removed rows, to learn what that
// would free), with the sum of their recorded sizes. It asks what the
// collector asks before burying a blob (referenced), so with no grace
// window a collection after those rows really go frees exactly these.
func Unreferenced(ctx context.Context, q meta.Querier, digests []string) (free []string, bytes int64, err error) {
	sql := `SELECT CASE WHEN EXISTS (SELECT 1 FROM oci_manifest_refs WHERE child = $1)`
	for _, r := range referrers() {
		sql += ` OR EXISTS (SELECT 1 FROM ` + r.table + ` WHERE ` + r.column + ` = $1)`
	}
	sql += ` THEN 1 ELSE 0 END, COALESCE((SELECT size FROM blobs WHERE digest = $1), -1)`
	seen := map[string]bool{}
	for _, d := range digests {
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		var used int
		var size int64
		if err := q.QueryRowContext(ctx, sql, d).Scan(&used, &size); err != nil {
			return nil, 0, meta.Err(err)
		}
		if used == 0 && size >= 0 {
			free = append(free, d)
			bytes += size
		}
	}
	return free, bytes, nil
}

// RepositoryRef is a column that refers to blobs from rows that belong
// to one repository (a repository_id column beside it).
type RepositoryRef struct{ Table, Column string }

// RepositoryRefs lists the referrers whose rows belong to a repository:
// every referrer but S3 multipart parts, which belong to an upload in
// progress. Storage accounting sums content by these.
func RepositoryRefs() []RepositoryRef {
	var out []RepositoryRef
	for _, r := range referrers() {
		if r.table == "s3_parts" {
			continue
		}
		out = append(out, RepositoryRef{r.table, r.column})
	}
	return out
}
