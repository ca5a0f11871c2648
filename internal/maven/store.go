package maven

import (
	"context"
	"database/sql"
	"slices"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// fileRow is a stored file of a hosted repository.
type fileRow struct {
	Digest    string
	Size      int64
	CreatedAt int64
}

func notFoundPath(key string) error {
	return errs.E(errs.NotFound, "%s not found", trunc(key))
}

// file reads a hosted file's row.
func (h *Handler) file(ctx context.Context, q meta.Querier, repoID int64, key string) (fileRow, error) {
	var f fileRow
	err := q.QueryRowContext(ctx, `SELECT digest, size, created_at FROM maven_files WHERE repository_id = $1 AND path = $2`,
		repoID, key).Scan(&f.Digest, &f.Size, &f.CreatedAt)
	if err == sql.ErrNoRows {
		return f, notFoundPath(key)
	}
	return f, meta.Err(err)
}

// newestBuild returns the file of p's classifier and extension of the
// newest timestamped build of p's snapshot version.
func (h *Handler) newestBuild(ctx context.Context, repoID int64, p Path) (fileRow, error) {
	var f fileRow
	err := h.db.QueryRowContext(ctx, `SELECT digest, size, created_at FROM maven_files WHERE repository_id = $1 AND group_id = $2
		AND artifact_id = $3 AND version = $4 AND classifier = $5 AND extension = $6 AND build > 0 ORDER BY build DESC LIMIT 1`,
		repoID, p.GroupID, p.ArtifactID, p.Version, p.Classifier, p.Extension).Scan(&f.Digest, &f.Size, &f.CreatedAt)
	if err == sql.ErrNoRows {
		return f, notFoundPath(p.Key)
	}
	return f, meta.Err(err)
}

// hasArtifact reports whether a hosted repository holds any file of
// groupId:artifactId.
func (h *Handler) hasArtifact(ctx context.Context, repoID int64, groupID, artifactID string) (bool, error) {
	var n int
	err := h.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM maven_files WHERE repository_id = $1 AND group_id = $2 AND artifact_id = $3 LIMIT 1) x`,
		repoID, groupID, artifactID).Scan(&n)
	return n > 0, meta.Err(err)
}

// deploy records a deployed file in one transaction with its blob. prev
// is the digest the caller found at the path before ("" for none): when
// the path holds something else by now, the deploy is a Conflict rather
// than an overwrite the caller was not authorized for. With keep > 0, only
// the newest keep timestamped builds of a snapshot version are left; the
// files that removes are returned, for the caller to audit once the
// transaction committed.
func (h *Handler) deploy(ctx context.Context, repoID int64, p Path, info blob.Info, prev, by string, keep int) ([]prunedFile, error) {
	var pruned []prunedFile
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		pruned = nil // a retried transaction starts again
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		changed := errs.E(errs.Conflict, "%s changed while it was deployed; deploy again", p.Key)
		if prev == "" {
			// A plain insert: of two concurrent first deploys, the second
			// fails on the key instead of overwriting the first.
			_, err := tx.ExecContext(ctx, `INSERT INTO maven_files (repository_id, path, group_id, artifact_id, version, classifier, extension,
				snapshot_ts, build, digest, size, deployed_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				repoID, p.Key, p.GroupID, p.ArtifactID, p.Version, p.Classifier, p.Extension, p.Timestamp, p.Build,
				string(info.Digest), info.Size, by, meta.Now())
			if meta.IsUniqueViolation(err) {
				return changed
			}
			if err != nil {
				return meta.Err(err)
			}
		} else {
			// Replace only what the caller was authorized to replace.
			res, err := tx.ExecContext(ctx, `UPDATE maven_files SET digest = $3, size = $4, deployed_by = $5, created_at = $6
				WHERE repository_id = $1 AND path = $2 AND digest = $7`,
				repoID, p.Key, string(info.Digest), info.Size, by, meta.Now(), prev)
			if err != nil {
				return meta.Err(err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return changed
			}
		}
		if keep > 0 && p.Timestamp != "" {
			var err error
			pruned, err = pruneSnapshots(ctx, tx, repoID, p, keep)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pruned, nil
}

// prunedFile is a file snapshot_keep removed.
type prunedFile struct {
	Path, Digest string
	Size         int64
}

// pruneSnapshots deletes the files of all but the newest keep timestamped
// builds of p's snapshot version (their blobs become garbage) and returns
// them.
func pruneSnapshots(ctx context.Context, tx *sql.Tx, repoID int64, p Path, keep int) ([]prunedFile, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT build FROM maven_files WHERE repository_id = $1 AND group_id = $2
		AND artifact_id = $3 AND version = $4 AND build > 0`, repoID, p.GroupID, p.ArtifactID, p.Version)
	if err != nil {
		return nil, meta.Err(err)
	}
	var builds []int
	for rows.Next() {
		var b int
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		builds = append(builds, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	if len(builds) <= keep {
		return nil, nil
	}
	slices.Sort(builds)
	oldest := builds[len(builds)-keep] // the oldest build kept
	rows, err = tx.QueryContext(ctx, `DELETE FROM maven_files WHERE repository_id = $1 AND group_id = $2 AND artifact_id = $3
		AND version = $4 AND build > 0 AND build < $5 RETURNING path, digest, size`, repoID, p.GroupID, p.ArtifactID, p.Version, oldest)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []prunedFile
	for rows.Next() {
		var f prunedFile
		if err := rows.Scan(&f.Path, &f.Digest, &f.Size); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, f)
	}
	return out, meta.Err(rows.Err())
}

// deleteFile deletes a hosted file and returns what it held; its blob
// becomes garbage.
func (h *Handler) deleteFile(ctx context.Context, repoID int64, key string) (fileRow, error) {
	var f fileRow
	err := h.db.QueryRowContext(ctx, `DELETE FROM maven_files WHERE repository_id = $1 AND path = $2 RETURNING digest, size, created_at`,
		repoID, key).Scan(&f.Digest, &f.Size, &f.CreatedAt)
	if err == sql.ErrNoRows {
		return f, notFoundPath(key)
	}
	return f, meta.Err(err)
}

// deleteVersion deletes every file of a version directory.
func (h *Handler) deleteVersion(ctx context.Context, repoID int64, groupID, artifactID, version string) (int64, error) {
	res, err := h.db.ExecContext(ctx, `DELETE FROM maven_files WHERE repository_id = $1 AND group_id = $2 AND artifact_id = $3 AND version = $4`,
		repoID, groupID, artifactID, version)
	if err != nil {
		return 0, meta.Err(err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, errs.E(errs.NotFound, "%s:%s:%s not found", groupID, artifactID, version)
	}
	return n, nil
}

// artifactMetadata builds an artifact's maven-metadata.xml from the
// hosted repository's rows: every version with files, latest, release
// and lastUpdated.
func (h *Handler) artifactMetadata(ctx context.Context, repoID int64, groupID, artifactID string) (*Metadata, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT version, MAX(created_at) FROM maven_files WHERE repository_id = $1 AND group_id = $2
		AND artifact_id = $3 GROUP BY version`, repoID, groupID, artifactID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	m := &Metadata{GroupID: groupID, ArtifactID: artifactID}
	var last int64
	for rows.Next() {
		var v string
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			return nil, meta.Err(err)
		}
		m.Versioning.Versions = append(m.Versioning.Versions, v)
		last = max(last, at)
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	if len(m.Versioning.Versions) == 0 {
		return nil, errs.E(errs.NotFound, "no versions of %s:%s", groupID, artifactID)
	}
	slices.SortStableFunc(m.Versioning.Versions, CompareVersions)
	for _, v := range m.Versioning.Versions {
		m.Versioning.Latest = v
		if !IsSnapshot(v) {
			m.Versioning.Release = v
		}
	}
	m.Versioning.LastUpdated = lastUpdated(last)
	return m, nil
}

// versionMetadata builds a snapshot version's maven-metadata.xml: its
// newest timestamped build and, per classifier and extension, its newest
// file.
func (h *Handler) versionMetadata(ctx context.Context, repoID int64, groupID, artifactID, version string) (*Metadata, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT classifier, extension, snapshot_ts, build, created_at FROM maven_files
		WHERE repository_id = $1 AND group_id = $2 AND artifact_id = $3 AND version = $4 ORDER BY build, created_at`,
		repoID, groupID, artifactID, version)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	m := &Metadata{GroupID: groupID, ArtifactID: artifactID, Version: version}
	v := &m.Versioning
	var last int64
	found := false
	for rows.Next() {
		var p Path
		var at int64
		if err := rows.Scan(&p.Classifier, &p.Extension, &p.Timestamp, &p.Build, &at); err != nil {
			return nil, meta.Err(err)
		}
		found = true
		last = max(last, at)
		if p.Timestamp == "" {
			continue
		}
		p.Version = version
		// Rows come in build order: a later one replaces an earlier one.
		if v.Snapshot == nil || p.Build >= v.Snapshot.BuildNumber {
			v.Snapshot = &Snapshot{Timestamp: p.Timestamp, BuildNumber: p.Build}
		}
		sv := SnapshotVersion{Classifier: p.Classifier, Extension: p.Extension, Value: p.SnapshotValue(), Updated: lastUpdated(at)}
		i := slices.IndexFunc(v.SnapshotVersions, func(x SnapshotVersion) bool {
			return x.Classifier == sv.Classifier && x.Extension == sv.Extension
		})
		if i < 0 {
			v.SnapshotVersions = append(v.SnapshotVersions, sv)
		} else {
			v.SnapshotVersions[i] = sv
		}
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	if !found {
		return nil, errs.E(errs.NotFound, "no files of %s:%s:%s", groupID, artifactID, version)
	}
	v.LastUpdated = lastUpdated(last)
	return m, nil
}

// digests returns a blob's stored md5, sha1 and sha512 ("" when unknown).
func (h *Handler) digests(ctx context.Context, digest string) (md5, sha1, sha512 string, err error) {
	err = h.db.QueryRowContext(ctx, `SELECT md5, sha1, sha512 FROM blobs WHERE digest = $1`, digest).Scan(&md5, &sha1, &sha512)
	if err == sql.ErrNoRows {
		return "", "", "", errs.E(errs.Internal, "blob %s has no row", digest)
	}
	return md5, sha1, sha512, meta.Err(err)
}
