package helm

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// A proxy repository answers from its cache, which it fills from the
// upstream chart repository:
//   - index.yaml is fetched again once older than index_max_age; while
//     the upstream fails, the cached copy is served however old. arca
//     serves it with every chart's url pointing below the proxy;
//   - a chart archive is fetched from the url the upstream's index gives
//     for it (verified against the index's digest) and kept forever, as
//     is its provenance file (the url + .prov);
//   - an upstream 404 is remembered for negative_cache_ttl;
//   - after an upstream failure (unreachable, timeout, 5xx) the upstream is
//     left alone for unreachable_retry.

const indexKey = "index.yaml"

func (h *Handler) upstreamOf(rp *repo.Repository) (UpstreamSettings, *url.URL, error) {
	s, err := settingsOf(rp.Settings)
	if err != nil || s.Upstream == nil {
		return UpstreamSettings{}, nil, errs.E(errs.Internal, "proxy repository %s has no upstream", rp.Name)
	}
	base, err := url.Parse(strings.TrimSuffix(s.Upstream.URL, "/") + "/")
	if err != nil {
		return UpstreamSettings{}, nil, errs.E(errs.Internal, "proxy repository %s has a bad upstream URL", rp.Name)
	}
	return *s.Upstream, base, nil
}

// cached reads a proxy's cache row.
func (h *Handler) cached(ctx context.Context, repoID int64, key string) (string, time.Time, bool, error) {
	var digest string
	var fetched int64
	err := h.db.QueryRowContext(ctx, `SELECT digest, fetched_at FROM helm_proxy_files WHERE repository_id = $1 AND path = $2`,
		repoID, key).Scan(&digest, &fetched)
	if err == sql.ErrNoRows {
		return "", time.Time{}, false, nil
	}
	return digest, time.UnixMilli(fetched), err == nil, meta.Err(err)
}

// upstreamIndex returns the upstream's index.yaml as it sent it.
func (h *Handler) upstreamIndex(ctx context.Context, rp *repo.Repository) (*Index, error) {
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return nil, err
	}
	digest, at, ok, err := h.cached(ctx, rp.ID, indexKey)
	if err != nil {
		return nil, err
	}
	if !ok || time.Since(at) >= s.indexMaxAge() {
		d, err := h.fetchShared(ctx, rp, s, base, indexKey, base.JoinPath(indexKey).String(), "")
		switch {
		case err == nil:
			digest = d
		case ok && errs.Is(err, errs.Unavailable):
			h.log.WarnContext(ctx, "helm upstream unavailable; serving the cached index", "repository", rp.Name, "err", err)
		default:
			return nil, err
		}
	}
	b, err := h.readAll(ctx, digest, maxIndex)
	if err != nil {
		return nil, err
	}
	return ParseIndex(b)
}

// proxyFile returns the digest of a cached chart archive or provenance
// file, fetching it when missing.
func (h *Handler) proxyFile(ctx context.Context, rp *repo.Repository, file string) (string, error) {
	key := "charts/" + file
	digest, _, ok, err := h.cached(ctx, rp.ID, key)
	if err != nil || ok {
		return digest, err
	}
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return "", err
	}
	ix, err := h.upstreamIndex(ctx, rp)
	if err != nil {
		return "", err
	}
	tgz, prov := strings.CutSuffix(file, provenanceSuffix)
	var entry Entry
	for _, nv := range splitFile(tgz) {
		for _, e := range ix.Entries[nv[0]] {
			if e.Version() == nv[1] {
				entry = e
			}
		}
	}
	urls := entry.URLs()
	if entry == nil || len(urls) == 0 {
		return "", errs.E(errs.NotFound, "%s is not in the upstream's index", trunc(file))
	}
	ref, err := url.Parse(urls[0])
	if err != nil || (ref.Scheme != "" && ref.Scheme != "http" && ref.Scheme != "https") {
		return "", errs.E(errs.Unavailable, "the upstream's index has a bad url for %s", trunc(tgz))
	}
	target := base.ResolveReference(ref)
	wantDigest := ""
	if prov {
		target.Path += provenanceSuffix
		target.RawPath = ""
	} else {
		wantDigest = entry.str("digest")
	}
	return h.fetchShared(ctx, rp, s, base, key, target.String(), wantDigest)
}

// fetchShared fetches one upstream URL into the cache row key, once for
// all concurrent callers.
func (h *Handler) fetchShared(ctx context.Context, rp *repo.Repository, s UpstreamSettings, base *url.URL, key, target, sha256hex string) (string, error) {
	if h.upstream.KnownMissing(rp.ID, key) {
		return "", errs.E(errs.NotFound, "%s not found upstream", trunc(key))
	}
	if down, left := h.upstream.Paused(rp.ID); down {
		return "", errs.E(errs.Unavailable, "the upstream of %s is unavailable; retrying in %s", rp.Name, left.Round(time.Second))
	}
	v, err, _ := h.fetches.Do(fmt.Sprintf("%d\x00%s", rp.ID, key), func() (any, error) {
		// Detached from the first caller: its hang-up must not fail the others.
		return h.fetch(context.WithoutCancel(ctx), rp, s, base, key, target, sha256hex)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// fetch downloads target into the blob store and the cache row key.
func (h *Handler) fetch(ctx context.Context, rp *repo.Repository, s UpstreamSettings, base *url.URL, key, target, sha256hex string) (string, error) {
	limit := int64(maxChart)
	if key == indexKey {
		limit = maxIndex
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout())
		defer cancel()
	} else if strings.HasSuffix(key, provenanceSuffix) {
		limit = maxProvenance
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", errs.Wrap(err, errs.Internal, "bad upstream URL")
	}
	if u, err := url.Parse(target); err == nil && u.Host == base.Host && s.Username != "" {
		req.SetBasicAuth(s.Username, s.Password) // never to a host the index points elsewhere
	}
	resp, err := h.client.Do(req)
	if err != nil {
		err = errs.Wrap(err, errs.Unavailable, "the upstream of %s is unreachable", rp.Name)
		h.pause(ctx, rp, s, err)
		return "", err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		h.upstream.RememberMissing(rp.ID, key, s.negativeTTL())
		return "", errs.E(errs.NotFound, "%s not found upstream", trunc(key))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", errs.E(errs.Unavailable, "the upstream of %s refused arca's credentials (%s)", rp.Name, resp.Status)
	case resp.StatusCode != http.StatusOK:
		err := errs.E(errs.Unavailable, "the upstream of %s answered %s", rp.Name, resp.Status)
		if resp.StatusCode >= 500 {
			h.pause(ctx, rp, s, err)
		}
		return "", err
	}
	if resp.ContentLength > limit {
		return "", errs.E(errs.Unavailable, "the upstream's %s has %d bytes, more than the limit of %d", trunc(key), resp.ContentLength, limit)
	}
	want := blob.Expect{}
	if sha256hex != "" {
		if d, err := blob.ParseDigest("sha256:" + strings.ToLower(sha256hex)); err == nil {
			want.Digest = d
		}
	}
	info, err := h.blobs.Put(ctx, io.LimitReader(resp.Body, limit+1), want, 0)
	if err != nil {
		if want.Digest != "" && errs.Is(err, errs.Invalid) {
			return "", errs.E(errs.Unavailable, "the upstream's %s does not match the digest its index gives", trunc(key))
		}
		return "", errs.Wrap(err, errs.Unavailable, "downloading %s from the upstream failed", trunc(key))
	}
	if info.Size > limit {
		return "", errs.E(errs.Unavailable, "the upstream's %s is larger than the limit of %d bytes", trunc(key), limit)
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO helm_proxy_files (repository_id, path, digest, fetched_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (repository_id, path) DO UPDATE SET digest = excluded.digest, fetched_at = excluded.fetched_at`,
			rp.ID, key, string(info.Digest), meta.Now())
		return meta.Err(err)
	})
	return string(info.Digest), err
}

func (h *Handler) pause(ctx context.Context, rp *repo.Repository, s UpstreamSettings, err error) {
	d := s.retryAfter()
	if d <= 0 {
		return
	}
	h.upstream.Pause(rp.ID, d)
	h.log.WarnContext(ctx, "helm upstream failed; not calling it for a while", "repository", rp.Name, "for", d, "err", err)
}

// readAll reads a stored blob of at most limit bytes.
func (h *Handler) readAll(ctx context.Context, digest string, limit int64) ([]byte, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := h.blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(rd, limit+1)); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "reading %s", digest)
	}
	if int64(buf.Len()) > limit {
		return nil, errs.E(errs.Unavailable, "a cached index is larger than %d bytes", limit)
	}
	return buf.Bytes(), nil
}
