package npm

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// A proxy repository answers from its cache, which it fills from the
// upstream registry:
//   - packuments are cached as the upstream sent them and revalidated
//     (If-None-Match / If-Modified-Since) once older than metadata_max_age;
//   - tarballs are cached forever, verified against the integrity the
//     packument states;
//   - an upstream 404 is remembered for negative_cache_ttl;
//   - after an upstream failure (unreachable, timeout, 5xx) the upstream is
//     left alone for unreachable_retry, and cached packuments are served
//     however old they are;
//   - tarball URLs are rewritten to point at arca.

// Limits of what a proxy accepts from its upstream.
const (
	maxUpstreamDoc     = 128 << 20
	maxUpstreamTarball = 1 << 30
)

// proxyDocRow is a cached upstream packument.
type proxyDocRow struct {
	Digest       string
	ETag         string
	LastModified string
	FetchedAt    int64
}

func formName(abbreviated bool) string {
	if abbreviated {
		return "abbreviated"
	}
	return "full"
}

// upstreamOf returns a proxy repository's upstream settings and base URL
// (ending in "/").
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

// paused reports whether the upstream of repository id failed recently.
func (h *Handler) paused(id int64) (bool, time.Duration) { return h.upstream.Paused(id) }

// pause leaves the upstream of rp alone for a while after a failure.
func (h *Handler) pause(ctx context.Context, rp *repo.Repository, d time.Duration, err error) {
	if d <= 0 {
		return
	}
	h.upstream.Pause(rp.ID, d)
	h.log.WarnContext(ctx, "npm upstream failed; not calling it for a while", "repository", rp.Name, "for", d, "err", err)
}

// knownMissing reports whether the upstream answered 404 for the package
// within the negative cache's time to live.
func (h *Handler) knownMissing(id int64, name Name) bool {
	return h.upstream.KnownMissing(id, name.String())
}

func (h *Handler) rememberMissing(id int64, name Name, ttl time.Duration) {
	h.upstream.RememberMissing(id, name.String(), ttl)
}

// setAuth adds the upstream's credentials to req.
func setAuth(req *http.Request, s UpstreamSettings) {
	switch {
	case s.Token != "":
		req.Header.Set("Authorization", "Bearer "+s.Token)
	case s.Username != "":
		req.SetBasicAuth(s.Username, s.Password)
	}
}

// proxyPackument returns the cached upstream packument of name with its
// tarball URLs rewritten under prefix.
func (h *Handler) proxyPackument(ctx context.Context, rp *repo.Repository, name Name, abbreviated bool, prefix string) (*packument, error) {
	row, err := h.proxyDoc(ctx, rp, name, abbreviated)
	if err != nil {
		return nil, err
	}
	key := "proxy\x00" + row.Digest + "\x00" + name.String() + "\x00" + prefix
	p := &packument{key: key, etag: etagOf(key), modified: row.FetchedAt, abbreviated: abbreviated}
	if body, ok := h.cache.get(key); ok {
		p.body = body
		return p, nil
	}
	raw, err := h.readBlob(ctx, row.Digest)
	if err != nil {
		return nil, err
	}
	if p.body, err = rewritePackument(raw, name, prefix); err != nil {
		return nil, err
	}
	h.cache.put(key, p.body)
	return p, nil
}

// readBlob reads a cached upstream document.
func (h *Handler) readBlob(ctx context.Context, digest string) ([]byte, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := h.blobs.Open(ctx, d)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "cached packument is missing its content")
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxUpstreamDoc+1))
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "reading a cached packument")
	}
	return b, nil
}

// rewritePackument points every version's dist.tarball of an upstream
// packument at arca: prefix + name + "/-/" + the upstream file name.
func rewritePackument(raw []byte, name Name, prefix string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, errs.E(errs.Unavailable, "the upstream sent an invalid packument for %s", name)
	}
	var versions map[string]map[string]json.RawMessage
	if err := json.Unmarshal(doc["versions"], &versions); err != nil {
		return nil, errs.E(errs.Unavailable, "the upstream sent an invalid packument for %s", name)
	}
	for v, fields := range versions {
		var dist map[string]json.RawMessage
		if json.Unmarshal(fields["dist"], &dist) != nil || dist == nil {
			continue
		}
		var tarball string
		json.Unmarshal(dist["tarball"], &tarball)
		file := tarballFile(tarball)
		if file == "" {
			file = name.TarballFile(v)
		}
		dist["tarball"], _ = json.Marshal(prefix + name.String() + "/-/" + file)
		fields["dist"], _ = json.Marshal(dist)
	}
	if versions != nil {
		doc["versions"], _ = json.Marshal(versions)
	}
	return json.Marshal(doc)
}

// tarballFile is the last path segment of a tarball URL, or "".
func tarballFile(tarball string) string {
	u, err := url.Parse(tarball)
	if err != nil {
		return ""
	}
	f := path.Base(u.Path)
	if f == "." || f == "/" || !strings.HasSuffix(f, ".tgz") || strings.ContainsAny(f, "/\\") {
		return ""
	}
	return f
}

// proxyRow reads a cached packument's row.
func (h *Handler) proxyRow(ctx context.Context, repoID int64, name Name, form string) (proxyDocRow, error) {
	var row proxyDocRow
	err := h.db.QueryRowContext(ctx, `SELECT digest, etag, last_modified, fetched_at FROM npm_proxy_packuments WHERE repository_id = $1 AND name = $2 AND form = $3`,
		repoID, name.String(), form).Scan(&row.Digest, &row.ETag, &row.LastModified, &row.FetchedAt)
	if err == sql.ErrNoRows {
		return row, notFoundPackage(name)
	}
	return row, meta.Err(err)
}

// proxyDoc returns the cached upstream packument of name in the asked
// form, fetching or revalidating it when it is missing or older than
// metadata_max_age. While the upstream is failing, a cached document is
// served whatever its age.
func (h *Handler) proxyDoc(ctx context.Context, rp *repo.Repository, name Name, abbreviated bool) (proxyDocRow, error) {
	form := formName(abbreviated)
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return proxyDocRow{}, err
	}
	row, err := h.proxyRow(ctx, rp.ID, name, form)
	cached := err == nil
	if err != nil && !errs.Is(err, errs.NotFound) {
		return row, err
	}
	if cached && time.Since(time.UnixMilli(row.FetchedAt)) < s.metadataMaxAge() {
		return row, nil
	}
	if h.knownMissing(rp.ID, name) {
		return row, notFoundPackage(name)
	}
	if down, left := h.paused(rp.ID); down {
		if cached {
			return row, nil
		}
		return row, errs.E(errs.Unavailable, "the upstream of %s is unavailable; retrying in %s", rp.Name, left.Round(time.Second))
	}
	key := fmt.Sprintf("doc\x00%d\x00%s\x00%s", rp.ID, name, form)
	v, err, _ := h.fetches.Do(key, func() (any, error) {
		// Detached from the first caller: its hang-up must not fail the others.
		var prev *proxyDocRow
		if cached {
			prev = &row
		}
		return h.fetchDoc(context.WithoutCancel(ctx), rp, s, base, name, form, prev)
	})
	if err != nil {
		if cached && errs.Is(err, errs.Unavailable) {
			h.log.WarnContext(ctx, "npm upstream unavailable; serving the cached packument", "repository", rp.Name, "package", name.String(), "err", err)
			return row, nil
		}
		return row, err
	}
	return v.(proxyDocRow), nil
}

// fetchDoc asks the upstream for a packument, conditionally when prev is
// cached, and records the answer.
func (h *Handler) fetchDoc(ctx context.Context, rp *repo.Repository, s UpstreamSettings, base string, name Name, form string, prev *proxyDocRow) (proxyDocRow, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+name.Escaped(), nil)
	if err != nil {
		return proxyDocRow{}, errs.Wrap(err, errs.Internal, "bad upstream URL")
	}
	if form == "abbreviated" {
		req.Header.Set("Accept", mediaAbbreviated+"; q=1.0, application/json; q=0.8, */*")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if prev != nil {
		if prev.ETag != "" {
			req.Header.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			req.Header.Set("If-Modified-Since", prev.LastModified)
		}
	}
	setAuth(req, s)
	resp, err := h.client.Do(req)
	if err != nil {
		err = errs.Wrap(err, errs.Unavailable, "the upstream of %s is unreachable", rp.Name)
		h.pause(ctx, rp, s.retryAfter(), err)
		return proxyDocRow{}, err
	}
	defer resp.Body.Close()
	now := meta.Now()
	switch {
	case resp.StatusCode == http.StatusOK:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamDoc+1))
		if err != nil {
			err = errs.Wrap(err, errs.Unavailable, "reading the upstream packument of %s failed", name)
			h.pause(ctx, rp, s.retryAfter(), err)
			return proxyDocRow{}, err
		}
		if len(body) > maxUpstreamDoc {
			return proxyDocRow{}, errs.E(errs.Unavailable, "the upstream packument of %s exceeds %d bytes", name, maxUpstreamDoc)
		}
		if !json.Valid(body) {
			return proxyDocRow{}, errs.E(errs.Unavailable, "the upstream sent an invalid packument for %s", name)
		}
		info, err := h.blobs.Put(ctx, bytes.NewReader(body), blob.Expect{}, 0)
		if err != nil {
			return proxyDocRow{}, err
		}
		row := proxyDocRow{Digest: string(info.Digest), ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), FetchedAt: now}
		err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
			if err := gc.Record(ctx, tx, h.blobs, gc.Blob{Digest: row.Digest, Size: info.Size}); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO npm_proxy_packuments (repository_id, name, form, digest, etag, last_modified, fetched_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (repository_id, name, form) DO UPDATE SET digest = excluded.digest,
				etag = excluded.etag, last_modified = excluded.last_modified, fetched_at = excluded.fetched_at`,
				rp.ID, name.String(), form, row.Digest, row.ETag, row.LastModified, row.FetchedAt)
			return meta.Err(err)
		})
		return row, err
	case resp.StatusCode == http.StatusNotModified && prev != nil:
		row := *prev
		row.FetchedAt = now
		_, err := h.db.ExecContext(ctx, `UPDATE npm_proxy_packuments SET fetched_at = $4 WHERE repository_id = $1 AND name = $2 AND form = $3`,
			rp.ID, name.String(), form, now)
		return row, meta.Err(err)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		h.rememberMissing(rp.ID, name, s.negativeTTL())
		return proxyDocRow{}, notFoundPackage(name)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return proxyDocRow{}, errs.E(errs.Unavailable, "the upstream of %s refused arca's credentials (%s)", rp.Name, resp.Status)
	}
	err = errs.E(errs.Unavailable, "the upstream of %s answered %s", rp.Name, resp.Status)
	h.pause(ctx, rp, s.retryAfter(), err)
	return proxyDocRow{}, err
}

// tarballSource is where the upstream serves a tarball, and the digests
// its packument states for it.
type tarballSource struct {
	URL   string
	Check Integrity
}

// findTarball looks a tarball file up in the proxy's cached packuments of
// name (either form), and in a revalidated one when they lack it (the
// upstream may have published the version since).
func (h *Handler) findTarball(ctx context.Context, rp *repo.Repository, name Name, file string) (tarballSource, error) {
	var digests []string
	for _, form := range []string{"abbreviated", "full"} {
		if row, err := h.proxyRow(ctx, rp.ID, name, form); err == nil {
			digests = append(digests, row.Digest)
		}
	}
	for attempt := 0; attempt < 2; attempt++ {
		for _, d := range digests {
			src, err := h.tarballIn(ctx, d, name, file)
			if err == nil || !errs.Is(err, errs.NotFound) {
				return src, err
			}
		}
		if attempt == 0 {
			row, err := h.proxyDoc(ctx, rp, name, true)
			if err != nil {
				return tarballSource{}, err
			}
			if slices.Contains(digests, row.Digest) {
				break
			}
			digests = []string{row.Digest}
		}
	}
	return tarballSource{}, errs.E(errs.NotFound, "no tarball %s of package %s", truncate(file, 100), name)
}

// tarballIn finds a tarball file in one cached upstream packument.
func (h *Handler) tarballIn(ctx context.Context, digest string, name Name, file string) (tarballSource, error) {
	raw, err := h.readBlob(ctx, digest)
	if err != nil {
		return tarballSource{}, err
	}
	var doc struct {
		Versions map[string]struct {
			Dist map[string]json.RawMessage `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return tarballSource{}, errs.E(errs.Unavailable, "the upstream sent an invalid packument for %s", name)
	}
	match := func(v string) (tarballSource, bool) {
		dist := doc.Versions[v].Dist
		var tarball string
		json.Unmarshal(dist["tarball"], &tarball)
		if tarball == "" || tarballFile(tarball) != file {
			return tarballSource{}, false
		}
		check, err := ParseIntegrity(dist)
		if err != nil {
			check = Integrity{}
		}
		return tarballSource{URL: tarball, Check: check}, true
	}
	if src, ok := match(name.versionOfFile(file)); ok {
		return src, nil
	}
	for v := range doc.Versions {
		if src, ok := match(v); ok {
			return src, nil
		}
	}
	return tarballSource{}, errs.E(errs.NotFound, "no tarball %s of package %s", truncate(file, 100), name)
}

// proxyTarball returns the digest of a cached tarball, downloading it
// from the upstream the first time. Concurrent requests for one tarball
// share one download.
func (h *Handler) proxyTarball(ctx context.Context, rp *repo.Repository, name Name, file string) (string, error) {
	if d, err := h.cachedTarball(ctx, rp.ID, name, file); err == nil || !errs.Is(err, errs.NotFound) {
		return d, err
	}
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return "", err
	}
	if down, left := h.paused(rp.ID); down {
		return "", errs.E(errs.Unavailable, "the upstream of %s is unavailable; retrying in %s", rp.Name, left.Round(time.Second))
	}
	key := fmt.Sprintf("tgz\x00%d\x00%s\x00%s", rp.ID, name, file)
	v, err, _ := h.fetches.Do(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		if d, err := h.cachedTarball(ctx, rp.ID, name, file); err == nil {
			return d, nil
		}
		src, err := h.findTarball(ctx, rp, name, file)
		if err != nil {
			return "", err
		}
		return h.downloadTarball(ctx, rp, s, base, name, file, src)
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (h *Handler) cachedTarball(ctx context.Context, repoID int64, name Name, file string) (string, error) {
	var d string
	err := h.db.QueryRowContext(ctx, `SELECT digest FROM npm_proxy_tarballs WHERE repository_id = $1 AND name = $2 AND file = $3`,
		repoID, name.String(), file).Scan(&d)
	if err == sql.ErrNoRows {
		return "", errs.E(errs.NotFound, "no tarball %s of package %s", truncate(file, 100), name)
	}
	return d, meta.Err(err)
}

// downloadTarball fetches a tarball into the blob store, verified against
// the packument's digests, and records it. Credentials go only to the
// upstream's own host.
func (h *Handler) downloadTarball(ctx context.Context, rp *repo.Repository, s UpstreamSettings, base string, name Name, file string, src tarballSource) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return "", errs.E(errs.Unavailable, "the upstream packument of %s has an invalid tarball URL", name)
	}
	if b, err := url.Parse(base); err == nil && b.Scheme == req.URL.Scheme && b.Host == req.URL.Host {
		setAuth(req, s)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		err = errs.Wrap(err, errs.Unavailable, "the upstream of %s is unreachable", rp.Name)
		h.pause(ctx, rp, s.retryAfter(), err)
		return "", err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return "", errs.E(errs.NotFound, "no tarball %s of package %s upstream", file, name)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", errs.E(errs.Unavailable, "the upstream of %s refused arca's credentials (%s)", rp.Name, resp.Status)
	case resp.StatusCode != http.StatusOK:
		err := errs.E(errs.Unavailable, "the upstream of %s answered %s for %s", rp.Name, resp.Status, file)
		if resp.StatusCode >= 500 {
			h.pause(ctx, rp, s.retryAfter(), err)
		}
		return "", err
	}
	info, err := h.blobs.Put(ctx, io.LimitReader(resp.Body, maxUpstreamTarball),
		blob.Expect{SHA1: src.Check.SHA1, SHA512: src.Check.SHA512}, blob.SHA1|blob.SHA512)
	if err != nil {
		if errs.CodeOf(err) == "DIGEST_INVALID" {
			return "", errs.E(errs.Unavailable, "the upstream tarball %s does not match the integrity its packument states", file)
		}
		return "", errs.Wrap(err, errs.Unavailable, "downloading %s from the upstream failed", file)
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, h.blobs, gc.Blob{Digest: string(info.Digest), Size: info.Size, SHA1: info.SHA1, SHA512: info.SHA512}); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO npm_proxy_tarballs (repository_id, name, file, digest, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (repository_id, name, file) DO NOTHING`, rp.ID, name.String(), file, string(info.Digest), meta.Now())
		return meta.Err(err)
	})
	return string(info.Digest), err
}
