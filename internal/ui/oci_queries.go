package ui

import (
	"context"
	"database/sql"

	"github.com/arcaproject/arca/internal/meta"
)

// ImageRow is one image (a name within an OCI repository).
type ImageRow struct {
	Name      string
	Manifests int64
	Tags      int64
	Updated   int64
}

// ociImages lists a repository's images by name.
func (h *Handler) ociImages(ctx context.Context, repoID int64, q string, limit, offset int) ([]ImageRow, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT m.name, COUNT(*), MAX(m.created_at),
		        (SELECT COUNT(*) FROM oci_tags t WHERE t.repository_id = m.repository_id AND t.name = m.name)
		 FROM oci_manifests m WHERE m.repository_id = $1 AND ($2 = '' OR m.name LIKE $3 ESCAPE '\')
		 GROUP BY m.repository_id, m.name ORDER BY m.name LIMIT $4 OFFSET $5`,
		repoID, q, likeContains(q), limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ImageRow
	for rows.Next() {
		var r ImageRow
		if err := rows.Scan(&r.Name, &r.Manifests, &r.Updated, &r.Tags); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// TagRow is one tag with the manifest it points at.
type TagRow struct {
	Tag          string
	Digest       string
	MediaType    string
	ArtifactType string
	Size         int64 // the manifest's and the blobs it references directly
	Updated      int64
}

// Kind is what the tag points at: image, index or artifact.
func (t TagRow) Kind() string { return kindOfManifest(t.MediaType, t.ArtifactType, "") }

// IsIndex reports whether the tag points at an index of manifests.
func (t TagRow) IsIndex() bool { return isIndexType(t.MediaType) }

func isIndexType(mt string) bool {
	return mt == "application/vnd.oci.image.index.v1+json" || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// ociTags lists an image's tags, most recently pushed first.
func (h *Handler) ociTags(ctx context.Context, repoID int64, image string, limit, offset int) ([]TagRow, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT t.tag, t.digest, m.media_type, m.artifact_type, t.updated_at,
		        m.size + (SELECT COALESCE(SUM(b.size), 0) FROM oci_manifest_refs r JOIN blobs b ON b.digest = r.child
		                  WHERE r.repository_id = t.repository_id AND r.name = t.name AND r.digest = t.digest)
		 FROM oci_tags t JOIN oci_manifests m ON m.repository_id = t.repository_id AND m.name = t.name AND m.digest = t.digest
		 WHERE t.repository_id = $1 AND t.name = $2
		 ORDER BY t.updated_at DESC, t.tag LIMIT $3 OFFSET $4`, repoID, image, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []TagRow
	for rows.Next() {
		var r TagRow
		if err := rows.Scan(&r.Tag, &r.Digest, &r.MediaType, &r.ArtifactType, &r.Updated, &r.Size); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// ManifestRow is one stored manifest.
type ManifestRow struct {
	Digest       string
	MediaType    string
	ArtifactType string
	Subject      string
	Size         int64
	Annotations  string
	Created      int64
}

const manifestColumns = `digest, media_type, artifact_type, subject, size, annotations, created_at`

func scanManifest(s interface{ Scan(...any) error }) (ManifestRow, error) {
	var m ManifestRow
	err := s.Scan(&m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &m.Size, &m.Annotations, &m.Created)
	return m, err
}

// ociManifest returns one manifest of an image, or ok false.
func (h *Handler) ociManifest(ctx context.Context, repoID int64, image, digest string) (m ManifestRow, ok bool, err error) {
	m, err = scanManifest(h.db.QueryRowContext(ctx,
		`SELECT `+manifestColumns+` FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND digest = $3`, repoID, image, digest))
	if err == sql.ErrNoRows {
		return m, false, nil
	}
	return m, err == nil, meta.Err(err)
}

// ociReferrers lists the manifests whose subject is digest (signatures,
// SBOMs, attestations), newest first.
func (h *Handler) ociReferrers(ctx context.Context, repoID int64, image, digest string) ([]ManifestRow, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT `+manifestColumns+` FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND subject = $3
		 ORDER BY created_at DESC LIMIT 200`, repoID, image, digest)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ManifestRow
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, m)
	}
	return out, meta.Err(rows.Err())
}

// ociTagsOf lists the tags pointing at one manifest.
func (h *Handler) ociTagsOf(ctx context.Context, repoID int64, image, digest string) ([]string, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT tag FROM oci_tags WHERE repository_id = $1 AND name = $2 AND digest = $3 ORDER BY tag LIMIT 200`, repoID, image, digest)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, t)
	}
	return out, meta.Err(rows.Err())
}
