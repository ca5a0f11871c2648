package npm

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// store is the hosted packages' tables: npm_packages, npm_versions and
// npm_dist_tags.
type store struct {
	db    *meta.DB
	blobs gc.Stater
}

// pkgRow is one package.
type pkgRow struct {
	Rev         int64
	ETag        string
	Description string
	CreatedAt   int64
	UpdatedAt   int64
}

// RevString is the package's CouchDB-style revision, which clients echo
// back in /-rev/ paths.
func (p pkgRow) RevString() string { return strconv.FormatInt(p.Rev, 10) + "-" + p.ETag }

func notFoundPackage(name Name) error {
	return errs.E(errs.NotFound, "package %s not found", name)
}

func (s store) pkg(ctx context.Context, q meta.Querier, repoID int64, name Name) (pkgRow, error) {
	var p pkgRow
	err := q.QueryRowContext(ctx, `SELECT rev, etag, description, created_at, updated_at FROM npm_packages WHERE repository_id = $1 AND name = $2`,
		repoID, name.String()).Scan(&p.Rev, &p.ETag, &p.Description, &p.CreatedAt, &p.UpdatedAt)
	if err == sql.ErrNoRows {
		return p, notFoundPackage(name)
	}
	return p, meta.Err(err)
}

// versionRow is one published version.
type versionRow struct {
	Version     string
	Digest      string
	Size        int64
	Head        []byte // manifest or abbreviated head, as asked
	PublishedBy string
	CreatedAt   int64
}

// versions lists a package's versions in publish order, with the full or
// the abbreviated manifest head.
func (s store) versions(ctx context.Context, repoID int64, name Name, abbreviated bool) ([]versionRow, error) {
	col := "manifest"
	if abbreviated {
		col = "abbreviated"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT version, digest, size, `+col+`, published_by, created_at FROM npm_versions
		WHERE repository_id = $1 AND name = $2 ORDER BY created_at, version`, repoID, name.String())
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []versionRow
	for rows.Next() {
		var v versionRow
		var head string
		if err := rows.Scan(&v.Version, &v.Digest, &v.Size, &head, &v.PublishedBy, &v.CreatedAt); err != nil {
			return nil, meta.Err(err)
		}
		v.Head = []byte(head)
		out = append(out, v)
	}
	return out, meta.Err(rows.Err())
}

// version returns one version with its full manifest head.
func (s store) version(ctx context.Context, q meta.Querier, repoID int64, name Name, version string) (versionRow, error) {
	var v versionRow
	var head string
	err := q.QueryRowContext(ctx, `SELECT version, digest, size, manifest, published_by, created_at FROM npm_versions
		WHERE repository_id = $1 AND name = $2 AND version = $3`, repoID, name.String(), version).
		Scan(&v.Version, &v.Digest, &v.Size, &head, &v.PublishedBy, &v.CreatedAt)
	if err == sql.ErrNoRows {
		return v, errs.E(errs.NotFound, "version %s@%s not found", name, version)
	}
	v.Head = []byte(head)
	return v, meta.Err(err)
}

// tags returns a package's dist-tags.
func (s store) tags(ctx context.Context, q meta.Querier, repoID int64, name Name) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT tag, version FROM npm_dist_tags WHERE repository_id = $1 AND name = $2`, repoID, name.String())
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

func newETag() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// parseRev reads the number of a "N-etag" revision; "" is no revision.
func parseRev(rev string) (int64, bool) {
	n, _, _ := strings.Cut(rev, "-")
	v, err := strconv.ParseInt(n, 10, 64)
	return v, err == nil && v > 0
}

// touch marks a package changed: a new revision and etag. With wantRev >
// 0 it fails with Conflict unless the package is at that revision, as
// CouchDB answers a stale _rev.
func (s store) touch(ctx context.Context, tx *sql.Tx, repoID int64, name Name, wantRev int64) error {
	q := `UPDATE npm_packages SET rev = rev + 1, etag = $3, updated_at = $4 WHERE repository_id = $1 AND name = $2`
	args := []any{repoID, name.String(), newETag(), meta.Now()}
	if wantRev > 0 {
		q += ` AND rev = $5`
		args = append(args, wantRev)
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if wantRev > 0 {
			if _, err := s.pkg(ctx, tx, repoID, name); err != nil {
				return err
			}
			return errs.E(errs.Conflict, "package %s changed since revision %d; fetch it again and retry", name, wantRev)
		}
		return notFoundPackage(name)
	}
	return nil
}

// newVersion is what a publish records.
type newVersion struct {
	Version     string
	Blob        blob.Info
	Full, Abbr  []byte
	Tags        map[string]string // tags the document sets
	PublishedBy string
	Description string
	Keywords    string
}

// publish records a new version, its tags and its blob in one
// transaction. A version that exists is a Conflict.
func (s store) publish(ctx context.Context, repoID int64, name Name, nv newVersion) error {
	return s.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: string(nv.Blob.Digest), Size: nv.Blob.Size, SHA1: nv.Blob.SHA1, SHA512: nv.Blob.SHA512}); err != nil {
			return err
		}
		now := meta.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO npm_packages (repository_id, name, rev, etag, created_at, updated_at)
			VALUES ($1, $2, 0, $3, $4, $4) ON CONFLICT (repository_id, name) DO NOTHING`, repoID, name.String(), newETag(), now); err != nil {
			return meta.Err(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO npm_versions (repository_id, name, version, digest, size, manifest, abbreviated, published_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			repoID, name.String(), nv.Version, string(nv.Blob.Digest), nv.Blob.Size, string(nv.Full), string(nv.Abbr), nv.PublishedBy, now)
		if meta.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "cannot publish over the previously published version %s@%s", name, nv.Version)
		} else if err != nil {
			return meta.Err(err)
		}
		tags := nv.Tags
		if _, ok := tags["latest"]; !ok {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 AND tag = 'latest'`,
				repoID, name.String()).Scan(&n); err != nil {
				return meta.Err(err)
			}
			if n == 0 { // a package always has a latest version
				tags = map[string]string{"latest": nv.Version}
				for t, v := range nv.Tags {
					tags[t] = v
				}
			}
		}
		for t, v := range tags {
			if err := setTag(ctx, tx, repoID, name, t, v); err != nil {
				return err
			}
		}
		if tags["latest"] == nv.Version {
			if _, err := tx.ExecContext(ctx, `UPDATE npm_packages SET description = $3, keywords = $4 WHERE repository_id = $1 AND name = $2`,
				repoID, name.String(), nv.Description, nv.Keywords); err != nil {
				return meta.Err(err)
			}
		}
		return s.touch(ctx, tx, repoID, name, 0)
	})
}

// setTag points a dist-tag at a version of the package, which must exist.
func setTag(ctx context.Context, tx *sql.Tx, repoID int64, name Name, tag, version string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO npm_dist_tags (repository_id, name, tag, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (repository_id, name, tag) DO UPDATE SET version = excluded.version`, repoID, name.String(), tag, version)
	if errs.Is(meta.Err(err), errs.Invalid) { // foreign key: no such version
		return errs.E(errs.NotFound, "version %s@%s not found", name, version)
	}
	return meta.Err(err)
}

// ensureLatest points latest at the highest remaining release (or
// prerelease, if there is no release) when it points nowhere, after an
// unpublish.
func (s store) ensureLatest(ctx context.Context, tx *sql.Tx, repoID int64, name Name) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 AND tag = 'latest'`,
		repoID, name.String()).Scan(&n); err != nil {
		return meta.Err(err)
	}
	if n > 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM npm_versions WHERE repository_id = $1 AND name = $2`, repoID, name.String())
	if err != nil {
		return meta.Err(err)
	}
	var best Version
	var bestRaw string
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return meta.Err(err)
		}
		v, err := ParseVersion(raw)
		if err != nil {
			continue
		}
		if bestRaw == "" || (best.Prerelease() && !v.Prerelease()) || (best.Prerelease() == v.Prerelease() && v.Compare(best) > 0) {
			best, bestRaw = v, raw
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return meta.Err(err)
	}
	if bestRaw == "" {
		return nil
	}
	return setTag(ctx, tx, repoID, name, "latest", bestRaw)
}

// deleteVersions removes versions of a package (their tarballs become
// garbage) and deletes the package when none is left. It reports whether
// the package is gone.
func (s store) deleteVersions(ctx context.Context, tx *sql.Tx, repoID int64, name Name, versions []string) (bool, error) {
	for _, v := range versions {
		res, err := tx.ExecContext(ctx, `DELETE FROM npm_versions WHERE repository_id = $1 AND name = $2 AND version = $3`, repoID, name.String(), v)
		if err != nil {
			return false, meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return false, errs.E(errs.NotFound, "version %s@%s not found", name, v)
		}
	}
	var left int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM npm_versions WHERE repository_id = $1 AND name = $2`, repoID, name.String()).Scan(&left); err != nil {
		return false, meta.Err(err)
	}
	if left == 0 {
		_, err := tx.ExecContext(ctx, `DELETE FROM npm_packages WHERE repository_id = $1 AND name = $2`, repoID, name.String())
		return true, meta.Err(err)
	}
	return false, s.ensureLatest(ctx, tx, repoID, name)
}

// updateManifest replaces a version's stored manifest heads.
func updateManifest(ctx context.Context, tx *sql.Tx, repoID int64, name Name, version string, full, abbr []byte) error {
	_, err := tx.ExecContext(ctx, `UPDATE npm_versions SET manifest = $4, abbreviated = $5 WHERE repository_id = $1 AND name = $2 AND version = $3`,
		repoID, name.String(), version, string(full), string(abbr))
	return meta.Err(err)
}
