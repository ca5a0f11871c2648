package s3api

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// validateBucketName applies S3's naming rules (3-63 characters of a-z,
// 0-9, '.' and '-', starting and ending with a letter or digit, not an IP
// address) and arca's repository name rules.
func validateBucketName(name string) error {
	bad := s3Error("InvalidBucketName", "the specified bucket is not valid")
	if len(name) < 3 || len(name) > 63 || net.ParseIP(name) != nil || strings.HasPrefix(name, "xn--") {
		return bad
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return bad
		}
	}
	if repo.ValidateName(name) != nil {
		return bad
	}
	return nil
}

// listBuckets is ListBuckets: as in S3, the buckets the caller owns (see
// owns), and in arca also those it was granted a role on; a global role
// reaches every bucket but lists none it does not own. With max-buckets
// the list comes in pages, continued by the opaque ContinuationToken.
func (h *Handler) listBuckets(w http.ResponseWriter, r *http.Request, q *request) error {
	p := q.principal()
	if p.Anonymous() {
		return s3Error("AccessDenied", "access denied: sign the request to list buckets")
	}
	max := 10000
	if v := q.query.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return s3Error("InvalidArgument", "max-buckets must be an integer between 1 and 10000")
		}
		max = n
	}
	after := ""
	if v := q.query.Get("continuation-token"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return s3Error("InvalidArgument", "the continuation token provided is incorrect")
		}
		after = string(b)
	}
	prefix := q.query.Get("prefix")
	ctx := r.Context()
	all, err := h.repos.List(ctx, Format)
	if err != nil {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	res := listAllMyBucketsResult{NS: s3NS, Owner: owner{ID: p.Name, DisplayName: p.Name}, Buckets: []bucketResult{}, Prefix: prefix}
	for _, rp := range all {
		if rp.Name <= after || !strings.HasPrefix(rp.Name, prefix) || h.auth.Authorize(ctx, p, rp, auth.Read) != nil {
			continue
		}
		listed, err := h.listsBucket(ctx, p, rp)
		if err != nil {
			return err
		}
		if !listed {
			continue
		}
		if len(res.Buckets) == max {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[max-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketResult{Name: rp.Name, CreationDate: s3Time(rp.CreatedAt), BucketRegion: h.region})
	}
	return writeXML(w, res)
}

// listsBucket reports whether ListBuckets shows rp to p: p owns it, or
// was granted a role on it.
func (h *Handler) listsBucket(ctx context.Context, p auth.Principal, rp *repo.Repository) (bool, error) {
	owned, err := h.owns(ctx, p, rp)
	if err != nil || owned {
		return owned, err
	}
	roles, err := h.auth.RepositoryRoles(ctx, rp.ID)
	if err != nil {
		return false, err
	}
	for _, b := range roles {
		if b.User == p.Name {
			return true, nil
		}
	}
	return false, nil
}

// createBucket is CreateBucket: a new hosted repository of format s3.
// Creating buckets needs the global role s3.create_bucket_role (default
// developer); a creator who is not a server admin gets the admin role on
// the bucket, and so administers it. An
// x-amz-acl of public-read makes the bucket public (anonymous reads).
//
// A bucket that exists is answered as S3 answers it, whoever asks: to its
// owner (see owns) 200 in us-east-1 and BucketAlreadyOwnedByYou in other
// regions, else BucketAlreadyExists. Clients such as rclone create the destination
// bucket before an upload or a copy and carry on when it exists; refusing
// them there refused every copy of a non-admin (issue 11).
func (h *Handler) createBucket(w http.ResponseWriter, r *http.Request, q *request) error {
	p := q.principal()
	if existing, err := h.repos.Get(r.Context(), q.bucket); err == nil {
		owned, err := h.owns(r.Context(), p, existing)
		if err != nil {
			return err
		}
		if owned {
			if h.region == "us-east-1" { // S3's legacy region re-creates one's own bucket
				w.Header().Set("Location", "/"+existing.Name)
				w.WriteHeader(http.StatusOK)
				return nil
			}
			return s3Error("BucketAlreadyOwnedByYou", "your previous request to create the named bucket succeeded and you already own it")
		}
		return s3Error("BucketAlreadyExists", "the requested bucket name is not available")
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	if p.Anonymous() || (h.createRole != AnyUser && !p.Role.Includes(h.createRole)) {
		return s3Error("AccessDenied", "access denied: creating buckets needs the global %s role", h.createRole)
	}
	if err := validateBucketName(q.bucket); err != nil {
		return err
	}
	body, err := h.readBody(r, q)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		var cfg createBucketConfiguration
		if err := decodeXML(strings.NewReader(string(body)), &cfg); err != nil {
			return err
		}
	}
	if err := refuseGrants(r.Header); err != nil {
		return err
	}
	vis, err := cannedVisibility(r.Header.Get("X-Amz-Acl"))
	if err != nil {
		return err
	}
	rp := &repo.Repository{Name: q.bucket, Format: Format, Kind: repo.Hosted, Visibility: vis}
	if err := h.repos.Create(r.Context(), rp); err != nil {
		if errs.Is(err, errs.Conflict) {
			if existing, gerr := h.repos.Get(r.Context(), q.bucket); gerr == nil {
				if owned, _ := h.owns(r.Context(), p, existing); owned {
					return s3Error("BucketAlreadyOwnedByYou", "your previous request to create the named bucket succeeded and you already own it")
				}
			}
			return s3Error("BucketAlreadyExists", "the requested bucket name is not available")
		}
		return err
	}
	if !p.IsAdmin() {
		// The creator administers the bucket (deletes it, grants roles).
		if err := h.auth.Grant(r.Context(), p.Name, rp.ID, auth.Admin); err != nil {
			if derr := h.repos.Delete(context.WithoutCancel(r.Context()), rp.Name); derr != nil {
				h.log.ErrorContext(r.Context(), "removing a bucket whose creator could not be granted it", "bucket", rp.Name, "err", derr)
			}
			return err
		}
	}
	h.record(r, "repository.create", rp.Name, "", map[string]any{"format": Format, "via": "s3"})
	w.Header().Set("Location", "/"+rp.Name)
	w.WriteHeader(http.StatusOK)
	return nil
}

// owns reports whether p is, in S3's terms, the owner of bucket rp: p
// administers it, or, when nobody holds the admin role on it alone (a
// bucket made by an admin or configured), p may write to it (so that
// clients that create the bucket they are about to write to carry on).
// A bucket another user created and administers is not p's.
func (h *Handler) owns(ctx context.Context, p auth.Principal, rp *repo.Repository) (bool, error) {
	if rp.Format != Format || p.Anonymous() {
		return false, nil
	}
	if h.auth.Authorize(ctx, p, rp, auth.Manage) == nil {
		return true, nil
	}
	if h.auth.Authorize(ctx, p, rp, auth.Write) != nil {
		return false, nil
	}
	roles, err := h.auth.RepositoryRoles(ctx, rp.ID)
	if err != nil {
		return false, err
	}
	for _, b := range roles {
		if b.Role == auth.Admin && b.User != p.Name {
			return false, nil
		}
	}
	return true, nil
}

// headBucket is HeadBucket.
func (h *Handler) headBucket(w http.ResponseWriter, r *http.Request, q *request) error {
	w.Header().Set("x-amz-bucket-region", h.region)
	if _, err := h.bucket(r.Context(), q, auth.Read); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// deleteBucket is DeleteBucket: only an empty bucket, by whoever
// administers it (a server admin, or the bucket's admin role, which its
// creator has). Multipart uploads in progress go with it.
func (h *Handler) deleteBucket(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	if err := h.auth.Authorize(r.Context(), q.principal(), rp, auth.Manage); err != nil {
		return s3Error("AccessDenied", "access denied: deleting a bucket needs the admin role on it")
	}
	empty, err := h.objects.empty(r.Context(), rp.ID)
	if err != nil {
		return err
	}
	versions, err := h.objects.hasVersions(r.Context(), rp.ID)
	if err != nil {
		return err
	}
	if !empty || versions {
		return s3Error("BucketNotEmpty", "the bucket you tried to delete is not empty")
	}
	if err := h.repos.Delete(r.Context(), rp.Name); err != nil {
		return err
	}
	h.record(r, "repository.delete", rp.Name, "", map[string]any{"via": "s3"})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getBucketLocation is GetBucketLocation (empty for us-east-1, as S3).
func (h *Handler) getBucketLocation(w http.ResponseWriter, r *http.Request, q *request) error {
	if _, err := h.bucket(r.Context(), q, auth.Read); err != nil {
		return err
	}
	loc := h.region
	if loc == "us-east-1" {
		loc = ""
	}
	return writeXML(w, locationConstraint{NS: s3NS, Value: loc})
}

// getACL is GetBucketAcl and GetObjectAcl: arca has roles, not ACLs, so
// this describes the effect: the caller's full control, and public read
// on public buckets.
func (h *Handler) getACL(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	if q.key != "" {
		if _, err := h.lookup(r.Context(), rp, q.key, q.query.Get("versionId"), nil); err != nil {
			return err
		}
	}
	p := q.principal()
	const xsi = "http://www.w3.org/2001/XMLSchema-instance"
	res := accessControlPolicy{NS: s3NS, Owner: owner{ID: p.Name, DisplayName: p.Name},
		Grants: []grant{{Grantee: grantee{XMLNS: xsi, Type: "CanonicalUser", ID: p.Name, DisplayName: p.Name}, Permission: "FULL_CONTROL"}}}
	if rp.Public() {
		res.Grants = append(res.Grants, grant{Grantee: grantee{XMLNS: xsi, Type: "Group", URI: "http://acs.amazonaws.com/groups/global/AllUsers"}, Permission: "READ"})
	}
	return writeXML(w, res)
}

// getNone answers a Get of a bucket configuration arca never has.
func (h *Handler) getNone(code, message string) opFunc {
	return func(w http.ResponseWriter, r *http.Request, q *request) error {
		if _, err := h.bucket(r.Context(), q, auth.Read); err != nil {
			return err
		}
		return s3Error(code, "%s", message)
	}
}
