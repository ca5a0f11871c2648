// Package s3api serves arca's S3-compatible API on its own listener, so that
// the tools teams point at MinIO (awscli, boto3, rclone, s3cmd, DVC's S3
// remote, MLflow artifact stores) work against arca unchanged.
//
// Buckets are arca repositories of format "s3", with the same roles as
// every other repository. Requests are authenticated with SigV4 (header or
// presigned URL) against access keys of arca users and robots. Object
// bytes live in the shared blob store; keys, ETags, content headers and
// checksums in the s3_objects table.
package s3api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/usage"
)

// Format is the repository format of buckets.
const Format = "s3"

// CheckSettings validates an s3 repository's settings: buckets take none,
// and are hosted only.
func CheckSettings(kind string, settings map[string]any) error {
	if kind != repo.Hosted {
		return errs.E(errs.Invalid, "s3 repositories can only be hosted")
	}
	if len(settings) > 0 {
		return errs.E(errs.Invalid, "s3 repositories take no settings")
	}
	return nil
}

// Deps are what the S3 handler needs.
type Deps struct {
	// Quota checks uploads against the repository quota; Downloads
	// notes downloads for cleanup policies. Either may be nil.
	Quota     *usage.Quota
	Downloads *usage.Downloads
	DB        *meta.DB
	Repos     *repo.Store
	Auth      *auth.Service
	Blobs     *blob.Store
	Audit     *audit.Log
	Log       *slog.Logger
	Region    string // reported by HeadBucket and GetBucketLocation
	// Domain enables virtual-host addressing: a request to
	// <bucket>.<Domain> names the bucket in its Host.
	Domain    string
	MaxUpload int64 // bytes per object or part; 0 = S3's 5 GiB
	// CreateBucketRole is the least global role that may create buckets
	// (NoRole: admin only; AnyUser: every signed-in user); the creator
	// administers the bucket.
	CreateBucketRole auth.Role
}

// Handler serves the S3 API.
type Handler struct {
	quota     *usage.Quota
	downloads *usage.Downloads
	repos     *repo.Store
	auth      *auth.Service
	blobs     *blob.Store
	audit     *audit.Log
	log       *slog.Logger
	objects   store
	region    string
	domain    string
	maxUpload int64
	// createRole is the least global role that may create buckets.
	createRole auth.Role
	surface    httpx.Surface
	now        func() time.Time
}

// AnyUser as CreateBucketRole lets every signed-in user or robot create
// buckets, also one without a global role: each then works in its own
// buckets, as an S3 account does.
const AnyUser auth.Role = "any"

// maxObjectSize is S3's limit for one PUT or one part.
const maxObjectSize = 5 << 30

// New returns the S3 handler.
func New(d Deps) *Handler {
	h := &Handler{repos: d.Repos, auth: d.Auth, blobs: d.Blobs, audit: d.Audit, log: d.Log, objects: store{d.DB, d.Blobs},
		region: d.Region, domain: strings.ToLower(d.Domain), maxUpload: d.MaxUpload, createRole: d.CreateBucketRole, now: time.Now}
	h.quota, h.downloads = d.Quota, d.Downloads
	if h.createRole == auth.NoRole {
		h.createRole = auth.Admin
	}
	if h.region == "" {
		h.region = "us-east-1"
	}
	if h.maxUpload <= 0 || h.maxUpload > maxObjectSize {
		h.maxUpload = maxObjectSize
	}
	h.surface = httpx.Surface{Name: "s3", WriteError: writeError, Log: d.Log}
	return h
}

// Handler returns the http.Handler of the S3 listener (without the
// process-wide instrumentation, which the caller adds).
func (h *Handler) Handler() http.Handler { return h.surface.Handle(h.dispatch) }

// target is what a request addresses: the service, a bucket, or an object.
type target struct {
	bucket, key string
}

type targetKey struct{}

// request is a dispatched request's parsed context.
type request struct {
	target
	sig   *signature // nil for anonymous requests
	query url.Values
	// internal is who an unsigned in-process request acts as
	// (auth.WithInternal); anonymous otherwise.
	internal auth.Principal
}

// principal is who the request acts as.
func (q *request) principal() auth.Principal {
	if q.sig == nil {
		return q.internal
	}
	return q.sig.principal
}

// parseTarget extracts bucket and key from the path (path style) or from
// the Host (virtual-host style, when a domain is configured).
func (h *Handler) parseTarget(r *http.Request) (target, error) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if h.domain != "" {
		host := strings.ToLower(r.Host)
		if hn, _, err := net.SplitHostPort(host); err == nil {
			host = hn
		}
		if b, ok := strings.CutSuffix(host, "."+h.domain); ok && b != "" {
			return target{bucket: b, key: p}, nil
		}
	}
	bucket, key, _ := strings.Cut(p, "/")
	if bucket == "" && key != "" {
		return target{}, s3Error("InvalidURI", "couldn't parse the specified URI")
	}
	return target{bucket: bucket, key: key}, nil
}

// dispatch authenticates the request, finds its operation and runs it.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) error {
	reqID := httpx.RequestID(r.Context())
	w.Header().Set("x-amz-request-id", reqID)
	w.Header().Set("x-amz-id-2", reqID)
	w.Header().Set("Server", "arca")
	t, err := h.parseTarget(r)
	if err != nil {
		return err
	}
	r = r.WithContext(context.WithValue(r.Context(), targetKey{}, &t))
	if r.Method == http.MethodOptions {
		// A CORS preflight: arca configures no CORS rules.
		if r.Header.Get("Origin") == "" {
			return s3Error("BadRequest", "insufficient information: the Origin request header is needed")
		}
		return s3Error("AccessDenied", "CORSResponse: CORS is not enabled for this bucket")
	}
	httpx.SetRepository(r.Context(), t.bucket)
	sig, err := verify(r, h.now(), h.auth.AccessKeySecret)
	if err != nil {
		return err
	}
	q := &request{target: t, sig: sig, query: r.URL.Query()}
	if p, ok := auth.Internal(r.Context()); ok && sig == nil {
		q.internal = p // arca's own request, in process (replication)
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		httpx.SetUser(r.Context(), p.String())
	}
	if sig != nil {
		r = r.WithContext(auth.WithPrincipal(r.Context(), sig.principal))
		httpx.SetPrincipal(r.Context(), sig.principal)
	}
	if t.key != "" {
		if err := validateKey(t.key); err != nil {
			return err
		}
	}
	op, err := h.route(r, q)
	if err != nil {
		return err
	}
	return op(w, r, q)
}

// validateKey checks an object key: 1-1024 bytes of UTF-8 without NUL.
func validateKey(k string) error {
	if len(k) > 1024 {
		return s3Error("KeyTooLongError", "your key is too long (at most 1024 bytes)")
	}
	if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
		return s3Error("InvalidArgument", "object keys must be UTF-8 without NUL characters")
	}
	return nil
}

// bucket resolves the request's bucket and checks that the principal may
// perform action on it (and, for reads, on the request's key or listing
// prefix: auth.Service.AuthorizeObjects).
func (h *Handler) bucket(ctx context.Context, q *request, action auth.Action) (*repo.Repository, error) {
	rp, err := h.repos.Get(ctx, q.bucket)
	if errs.Is(err, errs.NotFound) || (err == nil && rp.Format != Format) {
		return nil, s3Error("NoSuchBucket", "the specified bucket does not exist")
	}
	if err != nil {
		return nil, err
	}
	scope := auth.ObjectScope{Key: q.key, Prefix: q.query.Get("prefix")}
	if err := h.auth.AuthorizeObjects(ctx, q.principal(), rp, action, scope); err != nil {
		if k := errs.KindOf(err); k == errs.Denied || k == errs.Unauthenticated {
			return nil, s3Error("AccessDenied", "access denied: %s", errs.Message(err))
		}
		return nil, err
	}
	return rp, nil
}

// record adds an audit event of a change.
func (h *Handler) record(r *http.Request, action, bucket, key string, detail map[string]any) {
	h.audit.Record(r.Context(), h.event(r, action, bucket, key, detail))
}

// event is the audit event of a request's action.
func (h *Handler) event(r *http.Request, action, bucket, key string, detail map[string]any) audit.Event {
	return audit.Event{Action: action, Repository: bucket, Subject: key, RemoteAddr: r.RemoteAddr, Detail: detail}
}
