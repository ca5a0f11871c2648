package maven

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// A proxy repository answers from its cache, which it fills from the
// upstream repository at the same path:
//   - release files (and timestamped snapshot files) never change and are
//     cached forever, verified against the upstream's .sha1 when it has one;
//   - maven-metadata.xml and non-timestamped snapshot files are fetched
//     again once older than metadata_max_age; while the upstream fails,
//     the cached copy is served however old;
//   - an upstream 404 is remembered for negative_cache_ttl;
//   - after an upstream failure (unreachable, timeout, 5xx) the upstream is
//     left alone for unreachable_retry.
//
// Checksums are answered from the cached file's digests, like a hosted
// repository's.

// maxUpstreamFile bounds a file fetched from an upstream.
const maxUpstreamFile = 4 << 30

// mutable reports whether a path's content may change upstream.
func mutable(p Path) bool {
	return p.Kind != KindFile || (p.Snapshot() && p.Timestamp == "")
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

// proxyFile returns the digest of the cached file at p.Key, fetching it
// when it is missing (or stale, for what may change).
func (h *Handler) proxyFile(ctx context.Context, rp *repo.Repository, p Path) (string, time.Time, error) {
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return "", time.Time{}, err
	}
	var digest string
	var fetched int64
	err = h.db.QueryRowContext(ctx, `SELECT digest, fetched_at FROM maven_proxy_files WHERE repository_id = $1 AND path = $2`,
		rp.ID, p.Key).Scan(&digest, &fetched)
	cached := err == nil
	if err != nil && err != sql.ErrNoRows {
		return "", time.Time{}, meta.Err(err)
	}
	at := time.UnixMilli(fetched)
	if cached && (!mutable(p) || time.Since(at) < s.metadataMaxAge()) {
		return digest, at, nil
	}
	if h.knownMissing(rp.ID, p.Key) {
		return "", time.Time{}, notFoundPath(p.Key)
	}
	if down, left := h.paused(rp.ID); down {
		if cached {
			return digest, at, nil
		}
		return "", time.Time{}, errs.E(errs.Unavailable, "the upstream of %s is unavailable; retrying in %s", rp.Name, left.Round(time.Second))
	}
	key := fmt.Sprintf("%d\x00%s", rp.ID, p.Key)
	v, err, _ := h.fetches.Do(key, func() (any, error) {
		// Detached from the first caller: its hang-up must not fail the others.
		return h.fetch(context.WithoutCancel(ctx), rp, s, base, p)
	})
	if err != nil {
		if cached && errs.Is(err, errs.Unavailable) {
			h.log.WarnContext(ctx, "maven upstream unavailable; serving the cached copy", "repository", rp.Name, "path", p.Key, "err", err)
			return digest, at, nil
		}
		return "", time.Time{}, err
	}
	return v.(string), time.Now(), nil
}

// upstreamGet asks the upstream for a path; a nil response is a 404.
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
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
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

// upstreamSHA1 returns the upstream's .sha1 of a path, or "" when it has
// none that reads as one.
func (h *Handler) upstreamSHA1(ctx context.Context, rp *repo.Repository, s UpstreamSettings, url string) string {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	resp, err := h.upstreamGet(ctx, rp, s, url+".sha1")
	if err != nil || resp == nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxChecksumBody))
	f := strings.Fields(string(b))
	if len(f) == 0 || len(f[0]) != 40 {
		return ""
	}
	if _, err := hex.DecodeString(f[0]); err != nil {
		return ""
	}
	return strings.ToLower(f[0])
}

// fetch downloads a path from the upstream into the blob store and the
// proxy's cache.
func (h *Handler) fetch(ctx context.Context, rp *repo.Repository, s UpstreamSettings, base string, p Path) (string, error) {
	url := base + p.Key
	var want blob.Expect
	if !mutable(p) {
		want.SHA1 = h.upstreamSHA1(ctx, rp, s, url)
	}
	reqCtx := ctx
	if mutable(p) {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, s.timeout())
		defer cancel()
	}
	resp, err := h.upstreamGet(reqCtx, rp, s, url)
	if err != nil {
		return "", err
	}
	if resp == nil {
		h.rememberMissing(rp.ID, p.Key, s.negativeTTL())
		return "", notFoundPath(p.Key)
	}
	defer resp.Body.Close()
	info, err := h.blobs.Put(ctx, io.LimitReader(resp.Body, maxUpstreamFile), want, blob.MD5|blob.SHA1|blob.SHA512)
	if err != nil {
		if errs.CodeOf(err) == "DIGEST_INVALID" {
			return "", errs.E(errs.Unavailable, "the upstream's %s does not match its .sha1", p.Key)
		}
		return "", errs.Wrap(err, errs.Unavailable, "downloading %s from the upstream failed", p.Key)
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO maven_proxy_files (repository_id, path, digest, fetched_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (repository_id, path) DO UPDATE SET digest = excluded.digest, fetched_at = excluded.fetched_at`,
			rp.ID, p.Key, string(info.Digest), meta.Now())
		return meta.Err(err)
	})
	return string(info.Digest), err
}

// paused reports whether the upstream of repository id failed recently.
func (h *Handler) paused(id int64) (bool, time.Duration) { return h.upstream.Paused(id) }

// pause leaves the upstream of rp alone for a while after a failure.
func (h *Handler) pause(ctx context.Context, rp *repo.Repository, d time.Duration, err error) {
	if d <= 0 {
		return
	}
	h.upstream.Pause(rp.ID, d)
	h.log.WarnContext(ctx, "maven upstream failed; not calling it for a while", "repository", rp.Name, "for", d, "err", err)
}

// knownMissing reports whether the upstream answered 404 for the path
// within the negative cache's time to live.
func (h *Handler) knownMissing(id int64, key string) bool { return h.upstream.KnownMissing(id, key) }

func (h *Handler) rememberMissing(id int64, key string, ttl time.Duration) {
	h.upstream.RememberMissing(id, key, ttl)
}
