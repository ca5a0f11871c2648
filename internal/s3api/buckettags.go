package s3api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"sort"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
)

// Bucket tags (Put/Get/DeleteBucketTagging): up to 50 tags with the
// rules of object tags, kept in s3_bucket_tags. Reading them needs read
// on the bucket; changing them needs its admin role, as other bucket
// configuration does. Tools such as Terraform read them on every plan.

const maxBucketTags = 50

// parseBucketTagging reads PutBucketTagging's body.
func parseBucketTagging(body []byte) ([]tag, error) {
	var doc tagging
	if err := decodeXML(bytes.NewReader(body), &doc); err != nil {
		return nil, err
	}
	if len(doc.TagSet.Tags) > maxBucketTags {
		return nil, s3Error("InvalidTag", "bucket tags cannot be more than %d", maxBucketTags)
	}
	if err := validateTagText(doc.TagSet.Tags); err != nil {
		return nil, err
	}
	tags := doc.TagSet.Tags
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags, nil
}

// bucketTags returns a bucket's tags; nil when it has none.
func (s store) bucketTags(ctx context.Context, repoID int64) ([]tag, error) {
	var doc string
	err := s.db.QueryRowContext(ctx, `SELECT tags FROM s3_bucket_tags WHERE repository_id = $1`, repoID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	var tags []tag
	if err := json.Unmarshal([]byte(doc), &tags); err != nil {
		return nil, meta.Err(err)
	}
	return tags, nil
}

// setBucketTags replaces a bucket's tags (none: deletes them).
func (s store) setBucketTags(ctx context.Context, repoID int64, tags []tag) error {
	if len(tags) == 0 {
		_, err := s.db.ExecContext(ctx, `DELETE FROM s3_bucket_tags WHERE repository_id = $1`, repoID)
		return meta.Err(err)
	}
	doc, _ := json.Marshal(tags)
	_, err := s.db.ExecContext(ctx, `INSERT INTO s3_bucket_tags (repository_id, tags) VALUES ($1, $2)
		ON CONFLICT (repository_id) DO UPDATE SET tags = excluded.tags`, repoID, string(doc))
	return meta.Err(err)
}

// putBucketTagging is PutBucketTagging: it replaces the bucket's tags.
func (h *Handler) putBucketTagging(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Manage)
	if err != nil {
		return err
	}
	body, err := h.readBody(r, q)
	if err != nil {
		return err
	}
	tags, err := parseBucketTagging(body)
	if err != nil {
		return err
	}
	if err := h.objects.setBucketTags(r.Context(), rp.ID, tags); err != nil {
		return err
	}
	h.record(r, "s3.bucket_tag", rp.Name, "", map[string]any{"tags": len(tags)})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getBucketTagging is GetBucketTagging: NoSuchTagSet when there are none.
func (h *Handler) getBucketTagging(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	tags, err := h.objects.bucketTags(r.Context(), rp.ID)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return s3Error("NoSuchTagSet", "the TagSet does not exist")
	}
	doc := tagging{NS: s3NS}
	doc.TagSet.Tags = tags
	return writeXML(w, doc)
}

// deleteBucketTagging is DeleteBucketTagging: 204, also when there were
// none.
func (h *Handler) deleteBucketTagging(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Manage)
	if err != nil {
		return err
	}
	if err := h.objects.setBucketTags(r.Context(), rp.ID, nil); err != nil {
		return err
	}
	h.record(r, "s3.bucket_untag", rp.Name, "", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
