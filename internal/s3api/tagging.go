package s3api

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/auth"
)

// S3's limits on object tags.
const (
	maxTags        = 10
	maxTagKeyLen   = 128 // characters
	maxTagValueLen = 256 // characters
)

// tag is one object tag. An object's tags are a []tag in the order the
// client gave them; keys are unique.
type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// tagging is the Tagging document of PutObjectTagging and
// GetObjectTagging.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  struct {
		Tags []tag `xml:"Tag"`
	} `xml:"TagSet"`
}

// validateTags checks S3's rules: at most 10 tags, unique non-empty keys
// of at most 128 characters, values of at most 256, the characters S3
// allows (letters, digits, spaces, + - = . _ : / @), no "aws:" prefix.
func validateTags(tags []tag) error {
	if len(tags) > maxTags {
		return s3Error("BadRequest", "object tags cannot be greater than %d", maxTags)
	}
	return validateTagText(tags)
}

// validateTagText checks the rules of validateTags but the number.
func validateTagText(tags []tag) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		switch {
		case t.Key == "" || !validTagText(t.Key):
			return s3Error("InvalidTag", "the TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return s3Error("InvalidTag", "the TagKey you have provided is too long, max %d", maxTagKeyLen)
		case !validTagText(t.Value):
			return s3Error("InvalidTag", "the TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return s3Error("InvalidTag", "the TagValue you have provided is too long, max %d", maxTagValueLen)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return s3Error("InvalidTag", "your TagKey cannot be prefixed with aws:")
		case seen[t.Key]:
			return s3Error("InvalidTag", "cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	return nil
}

func validTagText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsSpace(c) || strings.ContainsRune("+-=._:/@", c) {
			continue
		}
		return false
	}
	return true
}

// parseTaggingHeader parses x-amz-tagging (PutObject, CopyObject with
// REPLACE, CreateMultipartUpload): URL query encoding, "k1=v1&k2=v2"; a
// key without "=" has the empty value.
func parseTaggingHeader(v string) ([]tag, error) {
	if v == "" {
		return nil, nil
	}
	var tags []tag
	for _, pair := range strings.Split(v, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			return nil, s3Error("InvalidArgument", "the header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates")
		}
		tags = append(tags, tag{Key: dk, Value: dv})
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	return tags, nil
}

// encodeTaggingHeader is parseTaggingHeader's inverse (kept in an
// upload's row until it completes).
func encodeTaggingHeader(tags []tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = url.QueryEscape(t.Key) + "=" + url.QueryEscape(t.Value)
	}
	return strings.Join(parts, "&")
}

// parseTaggingXML parses and validates PutObjectTagging's body.
func parseTaggingXML(body []byte) ([]tag, error) {
	var doc tagging
	if err := decodeXML(bytes.NewReader(body), &doc); err != nil {
		return nil, err
	}
	// Too many tags in a Tagging document is InvalidTag on S3 (in the
	// x-amz-tagging header, BadRequest).
	if len(doc.TagSet.Tags) > maxTags {
		return nil, s3Error("InvalidTag", "object tags cannot be greater than %d", maxTags)
	}
	if err := validateTags(doc.TagSet.Tags); err != nil {
		return nil, err
	}
	return doc.TagSet.Tags, nil
}

// mayChangeTags authorizes a change of an object's tags: adding tags to
// an untagged object is a write; replacing or removing tags destroys them,
// which needs the maintainer role, as replacing content does.
func (h *Handler) mayChangeTags(r *http.Request, q *request) (rpID int64, err error) {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Write)
	if err != nil {
		return 0, err
	}
	if err := h.currentVersionOnly(ctx, rp.ID, q.key, q.query.Get("versionId")); err != nil {
		return 0, err
	}
	old, err := h.objects.tags(ctx, rp.ID, q.key)
	if err != nil {
		return 0, err
	}
	if len(old) > 0 {
		if err := h.auth.Authorize(ctx, q.principal(), rp, auth.Delete); err != nil {
			return 0, s3Error("AccessDenied", "the object has tags; replacing or deleting them needs the maintainer role")
		}
	}
	return rp.ID, nil
}

// putObjectTagging is PutObjectTagging: it replaces the object's tag set.
func (h *Handler) putObjectTagging(w http.ResponseWriter, r *http.Request, q *request) error {
	repoID, err := h.mayChangeTags(r, q)
	if err != nil {
		return err
	}
	body, err := h.readBody(r, q)
	if err != nil {
		return err
	}
	tags, err := parseTaggingXML(body)
	if err != nil {
		return err
	}
	if err := h.objects.setTags(r.Context(), repoID, q.key, tags); err != nil {
		return err
	}
	h.record(r, "s3.tag", q.bucket, q.key, map[string]any{"tags": len(tags)})
	w.WriteHeader(http.StatusOK)
	return nil
}

// getObjectTagging is GetObjectTagging.
func (h *Handler) getObjectTagging(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Read)
	if err != nil {
		return err
	}
	if err := h.currentVersionOnly(ctx, rp.ID, q.key, q.query.Get("versionId")); err != nil {
		return err
	}
	if _, err := h.objects.get(ctx, rp.ID, q.key); err != nil {
		return err
	}
	tags, err := h.objects.tags(ctx, rp.ID, q.key)
	if err != nil {
		return err
	}
	doc := tagging{NS: s3NS}
	doc.TagSet.Tags = tags
	return writeXML(w, doc)
}

// deleteObjectTagging is DeleteObjectTagging: 204, also when there were
// no tags.
func (h *Handler) deleteObjectTagging(w http.ResponseWriter, r *http.Request, q *request) error {
	repoID, err := h.mayChangeTags(r, q)
	if err != nil {
		return err
	}
	if err := h.objects.setTags(r.Context(), repoID, q.key, nil); err != nil {
		return err
	}
	h.record(r, "s3.untag", q.bucket, q.key, nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setTaggingCount writes x-amz-tagging-count on GET and HEAD of a tagged
// object.
func setTaggingCount(hdr http.Header, n int) {
	if n > 0 {
		hdr.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
}

// requestTags are the tags a write gives its object: x-amz-tagging.
func requestTags(r *http.Request) ([]tag, error) {
	return parseTaggingHeader(r.Header.Get("X-Amz-Tagging"))
}

// currentVersionOnly lets a tagging request name a version only when it
// is the current one: tags belong to the current object, and the tags of
// noncurrent versions are not kept.
func (h *Handler) currentVersionOnly(ctx context.Context, repoID int64, key, vid string) error {
	if vid == "" {
		return nil
	}
	v, err := h.objects.getVersion(ctx, repoID, key, vid)
	if err != nil {
		return err
	}
	if v.Seq != currentSeq {
		return notImplemented("tags of noncurrent versions")
	}
	return nil
}
