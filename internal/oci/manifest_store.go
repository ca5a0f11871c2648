package oci

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// manifestRow is a stored manifest's metadata.
type manifestRow struct {
	Digest       blob.Digest // sha256 of the bytes
	PushedAs     string      // the digest the client pushed it by, if not sha256
	MediaType    string
	ArtifactType string
	Subject      string
	Size         int64
	Annotations  map[string]string
}

const manifestColumns = `m.digest, m.pushed_as, m.media_type, m.artifact_type, m.subject, m.size, m.annotations`

func scanManifest(row interface{ Scan(...any) error }) (manifestRow, error) {
	var m manifestRow
	var dg, ann string
	if err := row.Scan(&dg, &m.PushedAs, &m.MediaType, &m.ArtifactType, &m.Subject, &m.Size, &ann); err != nil {
		return m, err
	}
	m.Digest = blob.Digest(dg)
	if ann != "" {
		if err := json.Unmarshal([]byte(ann), &m.Annotations); err != nil {
			return m, errs.Wrap(err, errs.Internal, "corrupt manifest annotations")
		}
	}
	return m, nil
}

func manifestUnknown(err error, ref string) error {
	if errors.Is(err, sql.ErrNoRows) || errs.Is(err, errs.NotFound) {
		return errs.E(errs.NotFound, "manifest %s unknown", truncate(ref)).WithCode(codeManifestUnknown)
	}
	return meta.Err(err)
}

func (s store) manifestByDigest(ctx context.Context, repoID int64, image string, d Digest) (manifestRow, error) {
	b, err := s.resolve(ctx, s.db, d)
	if err != nil {
		return manifestRow{}, manifestUnknown(err, d.String())
	}
	m, err := scanManifest(s.db.QueryRowContext(ctx,
		`SELECT `+manifestColumns+` FROM oci_manifests m WHERE m.repository_id = $1 AND m.name = $2 AND m.digest = $3`,
		repoID, image, string(b.Digest)))
	if err != nil {
		return m, manifestUnknown(err, d.String())
	}
	return m, nil
}

func (s store) manifestByTag(ctx context.Context, repoID int64, image, tag string) (manifestRow, error) {
	m, err := scanManifest(s.db.QueryRowContext(ctx,
		`SELECT `+manifestColumns+` FROM oci_tags t JOIN oci_manifests m
		   ON m.repository_id = t.repository_id AND m.name = t.name AND m.digest = t.digest
		 WHERE t.repository_id = $1 AND t.name = $2 AND t.tag = $3`, repoID, image, tag))
	if err != nil {
		return m, manifestUnknown(err, tag)
	}
	return m, nil
}

// putManifest records a manifest whose bytes are already in the blob
// store (or in info.Inline, which its blob's row keeps: blob.PutInline),
// what it references, and its tags, in one transaction, at the end
// of which also runs (when not nil: the push's audit event, recorded with
// it).
func (s store) putManifest(ctx context.Context, repoID int64, image string, info blob.Info, m manifestRow, refs []blob.Digest, tags []string,
	also func(tx *sql.Tx)) error {
	ann := ""
	if len(m.Annotations) > 0 {
		b, _ := json.Marshal(m.Annotations)
		ann = string(b)
	}
	now := meta.Now()
	return s.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, s.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO oci_manifests (repository_id, name, digest, pushed_as, media_type, artifact_type, subject, size, annotations, created_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
			repoID, image, string(m.Digest), m.PushedAs, m.MediaType, m.ArtifactType, m.Subject, m.Size, ann, now); err != nil {
			return meta.Err(err)
		}
		for _, ref := range refs {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO oci_manifest_refs (repository_id, name, digest, child) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				repoID, image, string(m.Digest), string(ref)); err != nil {
				return meta.Err(err)
			}
		}
		for _, tag := range tags {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO oci_tags (repository_id, name, tag, digest, updated_at) VALUES ($1, $2, $3, $4, $5)
				 ON CONFLICT (repository_id, name, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
				repoID, image, tag, string(m.Digest), now); err != nil {
				return meta.Err(err)
			}
		}
		if also != nil {
			also(tx)
		}
		return nil
	})
}

// deleteManifest deletes a manifest (and, by cascade, its tags and
// references). A manifest that an index of the same image still lists is
// refused (Conflict, code DENIED): deleting it would leave the index
// pointing at nothing; the index must go first.
func (s store) deleteManifest(ctx context.Context, repoID int64, image string, d blob.Digest) error {
	return s.db.WithTx(ctx, func(tx *sql.Tx) error {
		var parent string
		err := tx.QueryRowContext(ctx,
			`SELECT r.digest FROM oci_manifest_refs r JOIN oci_manifests m
			   ON m.repository_id = r.repository_id AND m.name = r.name AND m.digest = r.digest
			 WHERE r.repository_id = $1 AND r.name = $2 AND r.child = $3 AND r.digest <> $3
			 ORDER BY r.digest LIMIT 1`, repoID, image, string(d)).Scan(&parent)
		switch {
		case err == nil:
			return errs.E(errs.Conflict, "manifest %s is referenced by index %s of %s; delete the index first", d, parent, image).WithCode(codeDenied)
		case !errors.Is(err, sql.ErrNoRows):
			return meta.Err(err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND digest = $3`, repoID, image, string(d))
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return manifestUnknown(sql.ErrNoRows, string(d))
		}
		return nil
	})
}

func (s store) deleteTag(ctx context.Context, repoID int64, image, tag string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oci_tags WHERE repository_id = $1 AND name = $2 AND tag = $3`, repoID, image, tag)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return manifestUnknown(sql.ErrNoRows, tag)
	}
	return nil
}

// tags lists up to limit tags of an image after last, in byte order.
func (s store) tags(ctx context.Context, repoID int64, image, last string, limit int) ([]string, error) {
	return meta.QueryStrings(ctx, s.db,
		`SELECT tag FROM oci_tags WHERE repository_id = $1 AND name = $2 AND tag > $3 ORDER BY tag LIMIT $4`, repoID, image, last, limit)
}

// imageExists reports whether an image has any manifest or blob.
func (s store) imageExists(ctx context.Context, repoID int64, image string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx,
		`SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM oci_manifests WHERE repository_id = $1 AND name = $2 LIMIT 1) a)
		      + (SELECT COUNT(*) FROM (SELECT 1 FROM oci_blobs WHERE repository_id = $1 AND name = $2 LIMIT 1) b)`,
		repoID, image).Scan(&n)
	return n > 0, meta.Err(err)
}

// images lists "repository/image" names that have manifests, after last,
// in byte order.
func (s store) images(ctx context.Context, last string) ([]string, error) {
	return meta.QueryStrings(ctx, s.db,
		`SELECT full_name FROM (SELECT DISTINCT r.name || '/' || m.name AS full_name FROM oci_manifests m JOIN repositories r ON r.id = m.repository_id) t
		 WHERE full_name > $1 ORDER BY full_name`, last)
}

// referrers lists the manifests of an image whose subject is digest.
func (s store) referrers(ctx context.Context, repoID int64, image, digest string) ([]manifestRow, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+manifestColumns+` FROM oci_manifests m WHERE m.repository_id = $1 AND m.name = $2 AND m.subject = $3`, repoID, image, digest)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []manifestRow
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, m)
	}
	return out, meta.Err(rows.Err())
}
