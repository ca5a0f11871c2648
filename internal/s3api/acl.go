package s3api

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/repo"
)

// Canned ACLs, where they have a meaning in arca's model: a bucket is
// private or public (anonymous reads), and its objects share its
// visibility. Other canned ACLs, grants (x-amz-grant-*) and ACL documents
// answer NotImplemented, so that a client never believes in an access
// rule arca does not enforce.

// cannedVisibility is the bucket visibility a canned ACL means ("" is
// private, S3's default).
func cannedVisibility(acl string) (string, error) {
	switch strings.TrimSpace(acl) {
	case "", "private", "bucket-owner-full-control":
		return repo.Private, nil
	case "public-read":
		return repo.Public, nil
	}
	return "", notImplemented("the canned ACL " + clip(acl))
}

// refuseGrants answers NotImplemented to explicit grants.
func refuseGrants(h http.Header) error {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return notImplemented("ACL grants (" + strings.ToLower(k) + ")")
		}
	}
	return nil
}

// putBucketACL is PutBucketAcl with a canned ACL: private or public-read
// sets the bucket's visibility. It needs the admin role on the bucket.
func (h *Handler) putBucketACL(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Manage)
	if err != nil {
		return err
	}
	if err := refuseGrants(r.Header); err != nil {
		return err
	}
	acl := r.Header.Get("X-Amz-Acl")
	if acl == "" {
		return notImplemented("an ACL document (send a canned ACL in x-amz-acl: private or public-read)")
	}
	vis, err := cannedVisibility(acl)
	if err != nil {
		return err
	}
	if rp.Visibility != vis {
		rp.Visibility = vis
		if err := h.repos.Update(ctx, rp); err != nil {
			return err
		}
		h.record(r, "repository.update", rp.Name, "", map[string]any{"visibility": vis, "via": "s3 acl"})
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// putObjectACL is PutObjectAcl with a canned ACL that agrees with the
// bucket's visibility (an object cannot differ from its bucket in arca):
// private in a private bucket, public-read in a public one, or
// bucket-owner-full-control / bucket-owner-read anywhere. It changes
// nothing; any other ACL is NotImplemented.
func (h *Handler) putObjectACL(w http.ResponseWriter, r *http.Request, q *request) error {
	ctx := r.Context()
	rp, err := h.bucket(ctx, q, auth.Write)
	if err != nil {
		return err
	}
	if _, err := h.lookup(ctx, rp, q.key, q.query.Get("versionId"), nil); err != nil {
		return err
	}
	if err := refuseGrants(r.Header); err != nil {
		return err
	}
	acl := strings.TrimSpace(r.Header.Get("X-Amz-Acl"))
	switch {
	case acl == "":
		return notImplemented("an ACL document (send a canned ACL in x-amz-acl)")
	case acl == "bucket-owner-full-control" || acl == "bucket-owner-read":
	case acl == "private" && !rp.Public(), acl == "public-read" && rp.Public():
	default:
		return notImplemented("the canned ACL " + clip(acl) + " on an object of a " + rp.Visibility + " bucket (objects share their bucket's visibility)")
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
