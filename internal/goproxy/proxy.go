package goproxy

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// A proxy repository answers from its cache, which it fills from the
// upstream GOPROXY at the same path:
//   - .info, .mod and .zip of a canonical version never change and are
//     cached forever;
//   - @v/list, @latest and queries ($branch.info) are fetched again once
//     older than list_max_age; while the upstream fails, the cached copy
//     is served however old;
//   - an upstream 404 or 410 is remembered for negative_cache_ttl;
//   - after an upstream failure (unreachable, timeout, 5xx) the upstream is
//     left alone for unreachable_retry.
//
// The go command checks what it downloads against go.sum and the checksum
// database, which the proxy passes through (sumdb.go).

// maxUpstreamSmall bounds a list, .info or .mod fetched from an upstream.
const maxUpstreamSmall = 16 << 20

// immutable reports whether what p names never changes upstream.
func immutable(p Path) bool {
	return (p.Kind == KindInfo || p.Kind == KindMod || p.Kind == KindZip) && p.Canonical()
}

func (h *Handler) upstreamOf(rp *repo.Repository) (UpstreamSettings, string, error) {
	s, err := settingsOf(rp.Settings)
	if err != nil || s.Upstream == nil {
		return UpstreamSettings{}, "", errs.E(errs.Internal, "proxy repository %s has no upstream", rp.Name)
	}
	base := s.Upstream.URL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return *s.Upstream, base, nil
}

// proxyRead answers p from the cache, fetching it when it is missing (or
// stale, for what may change).
func (h *Handler) proxyRead(ctx context.Context, rp *repo.Repository, p Path) (content, error) {
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return content{}, err
	}
	var digest string
	var fetched int64
	err = h.db.QueryRowContext(ctx, `SELECT digest, fetched_at FROM go_proxy_files WHERE repository_id = $1 AND path = $2`,
		rp.ID, p.Key).Scan(&digest, &fetched)
	cached := err == nil
	if err != nil && err != sql.ErrNoRows {
		return content{}, meta.Err(err)
	}
	at := time.UnixMilli(fetched)
	hit := content{digest: digest, modified: at}
	if cached && (immutable(p) || time.Since(at) < s.listMaxAge()) {
		return hit, nil
	}
	if h.upstream.KnownMissing(rp.ID, p.Key) {
		return content{}, errs.E(errs.NotFound, "not found: %s (the upstream of %s has not got it)", trunc(p.Key), rp.Name)
	}
	if down, left := h.upstream.Paused(rp.ID); down {
		if cached {
			return hit, nil
		}
		return content{}, errs.E(errs.Unavailable, "the upstream of %s is unavailable; retrying in %s", rp.Name, left.Round(time.Second))
	}
	key := fmt.Sprintf("%d\x00%s", rp.ID, p.Key)
	v, err, _ := h.fetches.Do(key, func() (any, error) {
		// Detached from the first caller: its hang-up must not fail the others.
		return h.fetch(context.WithoutCancel(ctx), rp, s, base, p)
	})
	if err != nil {
		if cached && errs.Is(err, errs.Unavailable) {
			h.log.WarnContext(ctx, "go upstream unavailable; serving the cached copy", "repository", rp.Name, "path", p.Key, "err", err)
			return hit, nil
		}
		return content{}, err
	}
	return content{digest: v.(string), modified: time.Now()}, nil
}

// upstreamGet asks the upstream for a path; a nil response is a 404, 410
// or 400.
func (h *Handler) upstreamGet(ctx context.Context, rp *repo.Repository, s UpstreamSettings, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "bad upstream URL")
	}
	if s.Username != "" {
		req.SetBasicAuth(s.Username, s.Password)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		err = errs.Wrap(err, errs.Unavailable, "the upstream of %s is unreachable", rp.Name)
		h.pause(ctx, rp, s.retryAfter(), err)
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone || resp.StatusCode == http.StatusBadRequest:
		// A GOPROXY answers 400 for a path it will never serve (the go
		// command asks for every prefix of a module path): not here.
		resp.Body.Close()
		return nil, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, errs.E(errs.Unavailable, "the upstream of %s refused arca's credentials (%s)", rp.Name, resp.Status)
	}
	resp.Body.Close()
	err = errs.E(errs.Unavailable, "the upstream of %s answered %s", rp.Name, resp.Status)
	if resp.StatusCode >= 500 {
		h.pause(ctx, rp, s.retryAfter(), err)
	}
	return nil, err
}

// fetch downloads a path from the upstream into the blob store and the
// proxy's cache.
func (h *Handler) fetch(ctx context.Context, rp *repo.Repository, s UpstreamSettings, base string, p Path) (string, error) {
	limit := int64(maxUpstreamSmall)
	if p.Kind == KindZip {
		limit = modzip.MaxZipFile
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout())
		defer cancel()
	}
	resp, err := h.upstreamGet(ctx, rp, s, base+p.Key)
	if err != nil {
		return "", err
	}
	if resp == nil {
		h.upstream.RememberMissing(rp.ID, p.Key, s.negativeTTL())
		return "", errs.E(errs.NotFound, "not found: %s (the upstream of %s has not got it)", trunc(p.Key), rp.Name)
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return "", errs.E(errs.Unavailable, "the upstream's %s has %d bytes, more than the limit of %d", trunc(p.Key), resp.ContentLength, limit)
	}
	info, err := h.blobs.Put(ctx, io.LimitReader(resp.Body, limit+1), blob.Expect{}, 0)
	if err != nil {
		return "", errs.Wrap(err, errs.Unavailable, "downloading %s from the upstream failed", trunc(p.Key))
	}
	if info.Size > limit {
		return "", errs.E(errs.Unavailable, "the upstream's %s is larger than the limit of %d bytes", trunc(p.Key), limit)
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO go_proxy_files (repository_id, path, digest, fetched_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (repository_id, path) DO UPDATE SET digest = excluded.digest, fetched_at = excluded.fetched_at`,
			rp.ID, p.Key, string(info.Digest), meta.Now())
		return meta.Err(err)
	})
	return string(info.Digest), err
}

// pause leaves the upstream of rp alone for a while after a failure.
func (h *Handler) pause(ctx context.Context, rp *repo.Repository, d time.Duration, err error) {
	if d <= 0 {
		return
	}
	h.upstream.Pause(rp.ID, d)
	h.log.WarnContext(ctx, "go upstream failed; not calling it for a while", "repository", rp.Name, "for", d, "err", err)
}
