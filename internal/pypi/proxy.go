package pypi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// maxPageBytes bounds an upstream project page.
const maxPageBytes = 64 << 20

// pageTimeout bounds fetching one upstream project page.
const pageTimeout = time.Minute

// upstreamAccept is what a proxy asks its upstream for: the JSON form,
// else HTML (as pip asks).
const upstreamAccept = typeJSON + ", " + typeHTMLv1 + ";q=0.2, " + typeHTML + ";q=0.1"

// upstreamConf is a proxy's upstream, ready to call.
type upstreamConf struct {
	*Upstream
	base *url.URL // the simple index URL, ending in "/", without credentials
	key  string   // names the upstream in the offline table
}

func (h *Handler) upstreamOf(rp *repo.Repository) (upstreamConf, error) {
	s, err := settingsOf(rp.Settings)
	if err != nil || s.Upstream == nil {
		return upstreamConf{}, errs.E(errs.Internal, "proxy repository %s has no upstream", rp.Name)
	}
	u, err := url.Parse(s.Upstream.URL)
	if err != nil {
		return upstreamConf{}, errs.Wrap(err, errs.Internal, "proxy repository %s has a bad upstream URL", rp.Name)
	}
	up := *s.Upstream
	if u.User != nil {
		if up.Username == "" {
			up.Username = u.User.Username()
			up.Password, _ = u.User.Password()
		}
		u.User = nil
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return upstreamConf{Upstream: &up, base: u, key: fmt.Sprintf("%d %s", rp.ID, u)}, nil
}

// offline reports until when an upstream is not called, after it failed.
func (h *Handler) offline(key string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.down[key]
	if ok && time.Now().After(until) {
		delete(h.down, key)
		return time.Time{}, false
	}
	return until, ok
}

func (h *Handler) setOffline(up upstreamConf, err error) {
	h.mu.Lock()
	h.down[up.key] = time.Now().Add(up.offlineRetry())
	h.mu.Unlock()
	h.log.Warn("upstream index failed; not calling it for a while", "upstream", up.base.Redacted(), "retry_after", up.offlineRetry(), "err", err)
}

// get fetches target from the upstream. Credentials go only to the
// upstream's own host. A transport failure or a 5xx answer is an
// Unavailable error and takes the upstream offline; 404 and 410 are
// NotFound.
func (h *Handler) get(ctx context.Context, up upstreamConf, target *url.URL, header http.Header) (*http.Response, error) {
	if until, down := h.offline(up.key); down {
		return nil, errs.E(errs.Unavailable, "upstream %s is unavailable; arca retries it after %s", up.base.Host, until.UTC().Format(time.TimeOnly))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "bad upstream URL")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "arca")
	if up.Username != "" && target.Host == up.base.Host {
		req.SetBasicAuth(up.Username, up.Password)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			h.setOffline(up, err)
		}
		return nil, errs.Wrap(err, errs.Unavailable, "upstream %s is unreachable", up.base.Host)
	}
	switch {
	case resp.StatusCode < 300 || resp.StatusCode == http.StatusNotModified:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		resp.Body.Close()
		return nil, errs.E(errs.NotFound, "upstream has no %s", target.Path)
	}
	resp.Body.Close()
	err = errs.E(errs.Unavailable, "upstream %s answered %s for %s", up.base.Host, resp.Status, target.Path)
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		h.setOffline(up, err)
	}
	return nil, err
}

// proxyProject serves a proxy's page of project: from its cache while
// fresh, else revalidated with the upstream; stale while the upstream is
// down.
func (h *Handler) proxyProject(ctx context.Context, rp *repo.Repository, project string) (*Project, error) {
	row, err := h.proxyPage(ctx, rp, project)
	if err != nil {
		return nil, err
	}
	return h.pageProject(ctx, rp, project, row)
}

// proxyPage returns the cached page row of project, fetching or
// revalidating it as its age requires.
func (h *Handler) proxyPage(ctx context.Context, rp *repo.Repository, project string) (pageRow, error) {
	up, err := h.upstreamOf(rp)
	if err != nil {
		return pageRow{}, err
	}
	row, found, err := h.store.page(ctx, rp.ID, project)
	if err != nil {
		return pageRow{}, err
	}
	if found {
		age := time.Since(time.UnixMilli(row.CheckedAt))
		switch {
		case row.Status == http.StatusNotFound && age < up.negativeTTL():
			return pageRow{}, notFoundProject(rp, project)
		case row.Status == http.StatusOK && age < up.metadataMaxAge():
			return row, nil
		}
	}
	v, err, _ := h.fetches.Do(fmt.Sprintf("page %d %s", rp.ID, project), func() (any, error) {
		// Detached from the first caller: its hang-up must not fail the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pageTimeout)
		defer cancel()
		return h.refreshPage(ctx, rp, up, project, row, found && row.Status == http.StatusOK)
	})
	if err != nil {
		return pageRow{}, err
	}
	return v.(pageRow), nil
}

// refreshPage asks the upstream for project's page (conditionally, when a
// copy is cached) and records the answer.
func (h *Handler) refreshPage(ctx context.Context, rp *repo.Repository, up upstreamConf, project string, cached pageRow, haveCached bool) (pageRow, error) {
	target := up.base.JoinPath(project + "/")
	target.Path = strings.TrimSuffix(target.Path, "/") + "/"
	hdr := http.Header{"Accept": {upstreamAccept}}
	if haveCached && cached.ETag != "" {
		hdr.Set("If-None-Match", cached.ETag)
	}
	resp, err := h.get(ctx, up, target, hdr)
	now := meta.Now()
	if errs.Is(err, errs.NotFound) {
		if err := h.store.putPage(ctx, rp.ID, project, pageRow{Status: http.StatusNotFound, CheckedAt: now}); err != nil {
			return pageRow{}, err
		}
		return pageRow{}, notFoundProject(rp, project)
	}
	if err != nil {
		if haveCached && errs.Is(err, errs.Unavailable) {
			h.log.WarnContext(ctx, "upstream unavailable; serving the cached page", "repository", rp.Name, "project", project, "err", err)
			return cached, nil
		}
		return pageRow{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && haveCached {
		cached.CheckedAt = now
		return cached, h.store.touchPage(ctx, rp.ID, project, now)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		if haveCached {
			return cached, nil
		}
		return pageRow{}, errs.Wrap(err, errs.Unavailable, "reading the upstream page of %s failed", project)
	}
	if len(body) > maxPageBytes {
		return pageRow{}, errs.E(errs.Unavailable, "the upstream page of %s is larger than %d bytes", project, maxPageBytes)
	}
	name, files, err := parseUpstreamPage(body, resp.Header.Get("Content-Type"), resp.Request.URL)
	if err != nil {
		return pageRow{}, errs.Wrap(err, errs.Unavailable, "the upstream page of %s is invalid", project)
	}
	kept := files[:0]
	for _, f := range files {
		if checkFilename(f.Filename) != nil {
			continue // arca could not serve it under its name
		}
		if fn, err := ParseFilename(f.Filename, project); err == nil {
			f.Version = fn.Version.String()
		}
		kept = append(kept, f)
	}
	page, _ := json.Marshal(kept)
	if name == "" || Normalize(name) != project {
		name = project
	}
	row := pageRow{Name: name, Status: http.StatusOK, ETag: resp.Header.Get("ETag"), Page: string(page), CheckedAt: now}
	if err := h.store.putPage(ctx, rp.ID, project, row); err != nil {
		return pageRow{}, err
	}
	return row, nil
}

// parseUpstreamPage reads a project page in the form the upstream chose.
func parseUpstreamPage(body []byte, contentType string, base *url.URL) (string, []File, error) {
	ct, _, _ := mime.ParseMediaType(contentType)
	if strings.HasSuffix(ct, "json") {
		return ParseSimpleJSON(body, base)
	}
	files, err := ParseSimpleHTML(body, base)
	return "", files, err
}

// pageProject turns a cached page into the proxy's page: arca's URLs, and
// the sha256 of files arca holds where the upstream gave none.
func (h *Handler) pageProject(ctx context.Context, rp *repo.Repository, project string, row pageRow) (*Project, error) {
	var files []File
	if err := json.Unmarshal([]byte(row.Page), &files); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt cached page of %s", project)
	}
	var held map[string]string
	for i := range files {
		f := &files[i]
		if f.SHA256 == "" {
			if held == nil {
				var err error
				if held, err = h.store.cachedDigests(ctx, rp.ID, project); err != nil {
					return nil, err
				}
			}
			if d, ok := held[f.Filename]; ok {
				f.SHA256, f.MD5 = blob.Digest(d).Hex(), ""
			}
		}
		f.URL = fileURL(project, f.Filename)
	}
	return &Project{Name: row.Name, Files: files}, nil
}

// proxyFile serves a file of a proxy (or its .metadata file): from the
// cache, else fetched from the upstream once, verified against the hash
// the upstream's page gave, and kept.
func (h *Handler) proxyFile(ctx context.Context, rp *repo.Repository, project, filename string, metadata bool) (fileRef, error) {
	cacheName := filename
	if metadata {
		cacheName += ".metadata"
	}
	if c, err := h.store.cachedFile(ctx, rp.ID, project, cacheName); err == nil {
		return fileRef{Digest: blob.Digest(c.Digest), Modified: time.UnixMilli(c.CreatedAt)}, nil
	} else if !errs.Is(err, errs.NotFound) {
		return fileRef{}, err
	}
	row, err := h.proxyPage(ctx, rp, project)
	if err != nil {
		return fileRef{}, err
	}
	var files []File
	if err := json.Unmarshal([]byte(row.Page), &files); err != nil {
		return fileRef{}, errs.Wrap(err, errs.Internal, "corrupt cached page of %s", project)
	}
	var link *File
	for i := range files {
		if files[i].Filename == filename {
			link = &files[i]
			break
		}
	}
	if link == nil {
		return fileRef{}, errs.E(errs.NotFound, "file %s not found in project %s of repository %s", filename, project, rp.Name)
	}
	if metadata && !link.Metadata {
		return fileRef{}, errs.E(errs.NotFound, "the upstream offers no metadata file for %s (the file itself is served)", filename)
	}
	up, err := h.upstreamOf(rp)
	if err != nil {
		return fileRef{}, err
	}
	v, err, _ := h.fetches.Do(fmt.Sprintf("file %d %s %s", rp.ID, project, cacheName), func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		if c, err := h.store.cachedFile(ctx, rp.ID, project, cacheName); err == nil {
			return fileRef{Digest: blob.Digest(c.Digest), Modified: time.UnixMilli(c.CreatedAt)}, nil
		}
		return h.fetchFile(ctx, rp, up, project, cacheName, *link, metadata)
	})
	if err != nil {
		return fileRef{}, err
	}
	return v.(fileRef), nil
}

// fetchFile downloads a file from the upstream into the blob store and
// the proxy's cache.
func (h *Handler) fetchFile(ctx context.Context, rp *repo.Repository, up upstreamConf, project, cacheName string, link File, metadata bool) (fileRef, error) {
	src := link.URL
	want := blob.Expect{}
	if metadata {
		src += ".metadata"
		if link.MetadataSHA256 != "" {
			want.Digest = blob.Digest("sha256:" + link.MetadataSHA256)
		}
	} else {
		if link.SHA256 != "" {
			want.Digest = blob.Digest("sha256:" + link.SHA256)
		}
		want.MD5 = link.MD5
	}
	target, err := url.Parse(src)
	if err != nil {
		return fileRef{}, errs.Wrap(err, errs.Internal, "bad cached URL")
	}
	resp, err := h.get(ctx, up, target, nil)
	if err != nil {
		switch {
		case errs.Is(err, errs.NotFound) && metadata:
			return fileRef{}, errs.E(errs.NotFound, "the upstream has no metadata file for %s, although its index announces one", link.Filename)
		case errs.Is(err, errs.NotFound):
			return fileRef{}, errs.E(errs.NotFound, "the upstream no longer has %s", cacheName)
		}
		return fileRef{}, err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if metadata {
		body = &limitReader{r: body, left: maxMetadataBytes}
	} else if h.maxUpload > 0 {
		body = &limitReader{r: body, left: h.maxUpload}
	}
	info, err := h.blobs.Put(ctx, body, want, blob.MD5)
	if err != nil {
		if errs.CodeOf(err) == "DIGEST_INVALID" {
			return fileRef{}, errs.E(errs.Unavailable, "the upstream's %s does not match the hash its index gives; not cached", cacheName)
		}
		return fileRef{}, errs.Wrap(err, errs.Unavailable, "fetching %s from the upstream failed", cacheName)
	}
	if err := h.store.putCachedFile(ctx, rp.ID, project, cacheName, string(info.Digest), info.Size, info.MD5); err != nil {
		return fileRef{}, err
	}
	return fileRef{Digest: info.Digest, Modified: time.Now()}, nil
}
