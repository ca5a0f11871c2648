package oci

import (
	"context"
	"database/sql"
	"net/http"
	"slices"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// checkImmutable refuses to move or delete an immutable tag. Pushing the
// same digest again is allowed.
func (h *Handler) checkImmutable(ctx context.Context, rp *repo.Repository, image string, tags []string, newDigest blob.Digest) error {
	p, _ := policyOf(rp.Settings)
	for _, tag := range tags {
		if !matchAny(p.ImmutableTags, tag) {
			continue
		}
		m, err := h.store.manifestByTag(ctx, rp.ID, image, tag)
		if errs.Is(err, errs.NotFound) {
			continue
		} else if err != nil {
			return err
		}
		if m.Digest != newDigest {
			return errs.E(errs.Denied, "tag %s:%s is immutable", image, tag).WithCode(codeDenied)
		}
	}
	return nil
}

// checkNoImmutableTag refuses to delete a manifest an immutable tag names.
func (h *Handler) checkNoImmutableTag(ctx context.Context, rp *repo.Repository, image string, d blob.Digest) error {
	p, _ := policyOf(rp.Settings)
	if len(p.ImmutableTags) == 0 {
		return nil
	}
	tags, err := meta.QueryStrings(ctx, h.db, `SELECT tag FROM oci_tags WHERE repository_id = $1 AND name = $2 AND digest = $3`, rp.ID, image, string(d))
	if err != nil {
		return err
	}
	for _, t := range tags {
		if matchAny(p.ImmutableTags, t) {
			return errs.E(errs.Denied, "manifest %s is tagged %s, which is immutable", d, t).WithCode(codeDenied)
		}
	}
	return nil
}

// checkQuota refuses a push that would take the repository over its quota.
// Content the repository already holds costs nothing.
func (h *Handler) checkQuota(ctx context.Context, rp *repo.Repository, d blob.Digest, size int64) error {
	p, _ := policyOf(rp.Settings)
	// The repository's quota_bytes (every format's) and the older
	// settings.quota_bytes both hold; the lower wins.
	if rp.QuotaBytes > 0 && (p.QuotaBytes == 0 || rp.QuotaBytes < p.QuotaBytes) {
		p.QuotaBytes = rp.QuotaBytes
	}
	if p.QuotaBytes == 0 {
		return nil
	}
	used, held, err := h.store.usage(ctx, rp.ID, d)
	if err != nil {
		return err
	}
	if !held && used+size > p.QuotaBytes {
		// Audited, so that webhooks (io.arca.quota.exceeded) hear of it.
		h.audit.Record(ctx, audit.Event{Action: "quota.exceeded", Repository: rp.Name, Subject: d.String(),
			Detail: map[string]any{"used_bytes": used, "quota_bytes": p.QuotaBytes, "needed_bytes": size}})
		return errs.E(errs.Denied, "quota of repository %s exceeded: %d of %d bytes used, push needs %d", rp.Name, used, p.QuotaBytes, size).WithCode(codeDenied)
	}
	return nil
}

// usage is the bytes of distinct content the repository's images hold,
// and whether d is among it.
func (s store) usage(ctx context.Context, repoID int64, d blob.Digest) (used int64, held bool, err error) {
	var n int
	err = s.db.QueryRowContext(ctx,
		`SELECT COALESCE(SUM(b.size), 0), COALESCE(SUM(CASE WHEN b.digest = $2 THEN 1 ELSE 0 END), 0) FROM blobs b WHERE b.digest IN (
		   SELECT digest FROM oci_blobs WHERE repository_id = $1 UNION SELECT digest FROM oci_manifests WHERE repository_id = $1)`,
		repoID, string(d)).Scan(&used, &n)
	return used, n > 0, meta.Err(err)
}

// RetentionResult lists what a retention run deleted (or would delete).
type RetentionResult struct {
	Repository string   `json:"repository"`
	DryRun     bool     `json:"dry_run"`
	Tags       []string `json:"deleted_tags"`      // image:tag
	Manifests  []string `json:"deleted_manifests"` // image@digest
}

type tagRow struct {
	image, tag string
	digest     blob.Digest
	updated    int64
}

// Retain applies the repository's retention policy: per image, it keeps
// the keep_last most recently pushed tags, the tags matching keep_tags or
// the immutable patterns, and deletes the others; with delete_untagged it
// then deletes manifests that no tag, no index and no kept subject needs.
func (h *Handler) Retain(ctx context.Context, rp *repo.Repository, dryRun bool) (RetentionResult, error) {
	res := RetentionResult{Repository: rp.Name, DryRun: dryRun, Tags: []string{}, Manifests: []string{}}
	p, err := policyOf(rp.Settings)
	if err != nil || p.Retention == nil {
		return res, err
	}
	r := p.Retention
	tags, err := h.store.allTags(ctx, rp.ID)
	if err != nil {
		return res, err
	}
	kept := map[string]int{} // per image, tags kept by recency
	var doomed []tagRow
	for _, t := range tags { // newest first
		switch {
		case matchAny(r.KeepTags, t.tag), matchAny(p.ImmutableTags, t.tag):
		case r.KeepLast > 0 && kept[t.image] < r.KeepLast:
			kept[t.image]++
		default:
			doomed = append(doomed, t)
		}
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		for _, t := range doomed {
			if _, err := tx.ExecContext(ctx, `DELETE FROM oci_tags WHERE repository_id = $1 AND name = $2 AND tag = $3`, rp.ID, t.image, t.tag); err != nil {
				return meta.Err(err)
			}
			res.Tags = append(res.Tags, t.image+":"+t.tag)
		}
		if r.DeleteUntagged {
			// Repeat until nothing changes: deleting an index frees its children.
			for {
				rows, err := untagged(ctx, tx, rp.ID)
				if err != nil {
					return err
				}
				if len(rows) == 0 {
					break
				}
				for _, m := range rows {
					if _, err := tx.ExecContext(ctx, `DELETE FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND digest = $3`, rp.ID, m[0], m[1]); err != nil {
						return meta.Err(err)
					}
					res.Manifests = append(res.Manifests, m[0]+"@"+m[1])
				}
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && err != errDryRun {
		return res, err
	}
	slices.Sort(res.Tags)
	slices.Sort(res.Manifests)
	if !dryRun && (len(res.Tags) > 0 || len(res.Manifests) > 0) {
		h.audit.Record(ctx, audit.Event{Actor: "arca", Action: "oci.retention", Repository: rp.Name,
			Detail: map[string]any{"deleted_tags": len(res.Tags), "deleted_manifests": len(res.Manifests)}})
	}
	return res, nil
}

var errDryRun = errs.E(errs.Internal, "dry run")

// untagged lists (image, digest) of manifests with no tag, not a child of
// another manifest, and not referring to a subject that still exists.
func untagged(ctx context.Context, q meta.Querier, repoID int64) ([][2]string, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT m.name, m.digest FROM oci_manifests m
		 WHERE m.repository_id = $1
		   AND NOT EXISTS (SELECT 1 FROM oci_tags t WHERE t.repository_id = m.repository_id AND t.name = m.name AND t.digest = m.digest)
		   AND NOT EXISTS (SELECT 1 FROM oci_manifest_refs r WHERE r.repository_id = m.repository_id AND r.name = m.name AND r.child = m.digest)
		   AND NOT EXISTS (SELECT 1 FROM oci_manifests s WHERE s.repository_id = m.repository_id AND s.name = m.name AND m.subject <> '' AND s.digest = m.subject)
		 ORDER BY m.name, m.digest`, repoID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var m [2]string
		if err := rows.Scan(&m[0], &m[1]); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, m)
	}
	return out, meta.Err(rows.Err())
}

// allTags lists a repository's tags, most recently pushed first.
func (s store) allTags(ctx context.Context, repoID int64) ([]tagRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, tag, digest, updated_at FROM oci_tags WHERE repository_id = $1 ORDER BY updated_at DESC, tag`, repoID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []tagRow
	for rows.Next() {
		var t tagRow
		var d string
		if err := rows.Scan(&t.image, &t.tag, &d, &t.updated); err != nil {
			return nil, meta.Err(err)
		}
		t.digest = blob.Digest(d)
		out = append(out, t)
	}
	return out, meta.Err(rows.Err())
}

// RetainAll applies retention to every OCI repository that has a policy.
func (h *Handler) RetainAll(ctx context.Context) error {
	repos, err := h.repos.List(ctx, Format)
	if err != nil {
		return err
	}
	for _, rp := range repos {
		if _, err := h.Retain(ctx, rp, false); err != nil {
			return err
		}
	}
	return nil
}

// retention answers POST /api/v1/repositories/{name}/retention[?dry_run=true].
func (h *Handler) retention(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repos.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	if rp.Format != Format {
		return errs.E(errs.Invalid, "repository %q is not an OCI repository", rp.Name)
	}
	if err := h.auth.Authorize(r.Context(), auth.From(r.Context()), rp, auth.Manage); err != nil {
		return err
	}
	res, err := h.Retain(r.Context(), rp, r.URL.Query().Get("dry_run") == "true")
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, res)
}
