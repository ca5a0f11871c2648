package npm

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Media types of the two packument forms.
const (
	mediaFull        = "application/json"
	mediaAbbreviated = "application/vnd.npm.install-v1+json"
)

// wantsAbbreviated reports whether the client accepts the abbreviated
// packument, as npm install does (Accept: application/vnd.npm.install-v1+json; q=1.0, ...).
func wantsAbbreviated(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		media, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(media) != mediaAbbreviated {
			continue
		}
		return qualityOf(params) > 0
	}
	return false
}

// qualityOf reads the q parameter of an Accept-style list item's
// parameters; it is 1 when absent or malformed.
func qualityOf(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.TrimSpace(k) == "q" {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return q
			}
		}
	}
	return 1
}

// packument is a built package document, ready to serve.
type packument struct {
	key         string // names the body in the cache
	body        []byte
	etag        string // a strong validator, quoted
	modified    int64  // Unix milliseconds
	abbreviated bool
}

// maxGroupDepth bounds groups within groups.
const maxGroupDepth = 4

// readPackument returns name's packument from rp, with tarball URLs under
// prefix: a hosted repository's own, a proxy's cache (filled and
// revalidated from the upstream), or a group's first member, hosted ones
// first, that has the package.
func (h *Handler) readPackument(ctx context.Context, rp *repo.Repository, name Name, abbreviated bool, prefix string) (*packument, error) {
	_, p, err := h.resolve(ctx, rp, name, abbreviated, prefix, true, 0)
	return p, err
}

// resolve finds the hosted or proxy repository that answers for package
// name in rp — rp itself, or for a group the first member that has the
// package, hosted members before the others, among those the caller may
// read (a hosted member they may not read that has the package refuses
// the read rather than letting a later member answer) — and, with needDoc, its
// packument. Whole packages shadow each other: versions of one package are
// never merged across members, so an internal package cannot gain
// versions from a public one of the same name (dependency confusion).
func (h *Handler) resolve(ctx context.Context, rp *repo.Repository, name Name, abbreviated bool, prefix string, needDoc bool, depth int) (*repo.Repository, *packument, error) {
	switch rp.Kind {
	case repo.Group:
		var firstErr error
		for _, m := range h.members(ctx, rp, depth) {
			if m.Refused != nil {
				shadows, err := repo.Shadows(ctx, m, func(ctx context.Context, m *repo.Repository) (bool, error) {
					_, err := h.store.pkg(ctx, h.db, m.ID, name)
					if errs.Is(err, errs.NotFound) {
						return false, nil
					}
					return err == nil, err
				})
				if err != nil {
					return nil, nil, err
				}
				if shadows {
					return nil, nil, m.Refused
				}
				continue
			}
			leaf, p, err := h.resolve(ctx, m.Repository, name, abbreviated, prefix, needDoc, depth+1)
			if err == nil || repo.Refusal(err) {
				return leaf, p, err // a nested group's shadowing member ends the search too
			}
			if firstErr == nil || (errs.Is(firstErr, errs.NotFound) && !errs.Is(err, errs.NotFound)) {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = notFoundPackage(name)
		}
		return nil, nil, firstErr
	case repo.Proxy:
		if !needDoc {
			_, err := h.proxyDoc(ctx, rp, name, abbreviated)
			return rp, nil, err
		}
		p, err := h.proxyPackument(ctx, rp, name, abbreviated, prefix)
		return rp, p, err
	}
	if !needDoc {
		_, err := h.store.pkg(ctx, h.db, rp.ID, name)
		return rp, nil, err
	}
	p, err := h.hostedPackument(ctx, rp, name, abbreviated, prefix)
	return rp, p, err
}

// members lists a group's members that serve npm, hosted ones first, then
// the others, each in the configured order, with whether the caller may
// read them.
func (h *Handler) members(ctx context.Context, rp *repo.Repository, depth int) []repo.Member {
	if depth >= maxGroupDepth {
		return nil
	}
	return repo.HostedFirst(h.repos.Members(ctx, rp, h.auth.CanRead))
}

// hostedPackument builds a hosted package's packument from its rows. A
// built document is kept in memory under the package's etag, which every
// change replaces.
func (h *Handler) hostedPackument(ctx context.Context, rp *repo.Repository, name Name, abbreviated bool, prefix string) (*packument, error) {
	row, err := h.store.pkg(ctx, h.db, rp.ID, name)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("hosted\x00%d\x00%s\x00%s\x00%t\x00%s", rp.ID, name, row.ETag, abbreviated, prefix)
	p := &packument{key: key, etag: etagOf(key), modified: row.UpdatedAt, abbreviated: abbreviated}
	if body, ok := h.cache.get(key); ok {
		p.body = body
		return p, nil
	}
	tags, err := h.store.tags(ctx, h.db, rp.ID, name)
	if err != nil {
		return nil, err
	}
	versions, err := h.store.versions(ctx, rp.ID, name, abbreviated)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, notFoundPackage(name)
	}
	var b bytes.Buffer
	b.Grow(len(versions) * (len(versions[0].Head) + len(prefix) + 64))
	nameJSON := jsonString(name.String())
	if abbreviated {
		b.WriteString(`{"name":` + nameJSON + `,"modified":"` + isoTime(row.UpdatedAt) + `","dist-tags":`)
	} else {
		b.WriteString(`{"_id":` + nameJSON + `,"_rev":"` + row.RevString() + `","name":` + nameJSON + `,"dist-tags":`)
	}
	tj, _ := json.Marshal(tags)
	b.Write(tj)
	b.WriteString(`,"versions":{`)
	urlPrefix := jsonEscape(prefix + name.String() + "/-/" + name.Base + "-")
	for i, v := range versions {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(v.Version))
		b.WriteByte(':')
		b.Write(v.Head)
		b.WriteString(urlPrefix)
		b.WriteString(jsonEscape(v.Version))
		b.WriteString(`.tgz"}}`)
	}
	b.WriteByte('}')
	if !abbreviated {
		h.writeFullFields(&b, row, tags, versions)
	}
	b.WriteByte('}')
	p.body = b.Bytes()
	h.cache.put(key, p.body)
	return p, nil
}

// writeFullFields writes the full packument's fields besides versions:
// time, maintainers, and the latest version's description, readme and
// links, as npm view shows them.
func (h *Handler) writeFullFields(b *bytes.Buffer, row pkgRow, tags map[string]string, versions []versionRow) {
	b.WriteString(`,"time":{"created":"` + isoTime(row.CreatedAt) + `","modified":"` + isoTime(row.UpdatedAt) + `"`)
	var maintainers []string
	var latest *versionRow
	for i, v := range versions {
		b.WriteString(`,` + jsonString(v.Version) + `:"` + isoTime(v.CreatedAt) + `"`)
		if v.PublishedBy != "" && !slices.Contains(maintainers, v.PublishedBy) {
			maintainers = append(maintainers, v.PublishedBy)
		}
		if v.Version == tags["latest"] {
			latest = &versions[i]
		}
	}
	b.WriteString(`},"maintainers":[`)
	for i, m := range maintainers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":` + jsonString(m) + `,"email":""}`)
	}
	b.WriteByte(']')
	if latest == nil {
		return
	}
	m, err := headManifest(latest.Head)
	if err != nil {
		return
	}
	for _, f := range []string{"description", "keywords", "license", "homepage", "repository", "author", "bugs", "readme", "readmeFilename", "contributors"} {
		if v, ok := m.Fields[f]; ok {
			b.WriteString(`,` + jsonString(f) + `:`)
			if json.Compact(b, v) != nil {
				b.WriteString("null")
			}
		}
	}
}

// jsonString encodes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// jsonEscape encodes s for use inside a JSON string (without the quotes).
func jsonEscape(s string) string {
	j := jsonString(s)
	return j[1 : len(j)-1]
}

// etagOf derives a quoted strong validator from a cache key.
func etagOf(key string) string {
	sum := sha256.Sum256([]byte(key))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// getPackument answers GET /<name>: the packument in the form the client
// accepts, with a validator for conditional requests.
func (h *Handler) getPackument(c *call, name Name) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	abbreviated := wantsAbbreviated(c.r) && c.r.URL.Query().Get("write") != "true"
	p, err := h.readPackument(ctx, rp, name, abbreviated, h.tarballPrefix(c.r, rp))
	if err != nil {
		return err
	}
	hdr := c.w.Header()
	if p.abbreviated {
		hdr.Set("Content-Type", mediaAbbreviated)
	} else {
		hdr.Set("Content-Type", mediaFull)
	}
	hdr.Set("Vary", "Accept, Accept-Encoding")
	// Clients may keep the document but must ask again before using it:
	// a conditional request costs one row read here.
	hdr.Set("Cache-Control", "no-cache")
	body, etag := p.body, p.etag
	if len(body) >= minGzip && acceptsGzip(c.r) {
		body, etag = h.gzipped(p), strings.TrimSuffix(p.etag, `"`)+`-gz"`
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("ETag", etag)
	hdr.Set("Last-Modified", time.UnixMilli(p.modified).UTC().Format(http.TimeFormat))
	if inm := c.r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		hdr.Del("Content-Encoding")
		c.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		c.w.Write(body)
	}
	return nil
}

// minGzip is the smallest body worth compressing.
const minGzip = 1024

// acceptsGzip reports whether the request accepts a gzip-encoded body, as
// npm's does (Accept-Encoding: gzip,deflate).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return qualityOf(params) > 0
		}
	}
	return false
}

// gzipped returns the packument's body compressed, compressing it once
// per version of the document.
func (h *Handler) gzipped(p *packument) []byte {
	key := p.key + "\x00gzip"
	if b, ok := h.cache.get(key); ok {
		return b
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(p.body)
	zw.Close()
	h.cache.put(key, buf.Bytes())
	return buf.Bytes()
}

// etagMatch reports whether an If-None-Match value names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// getVersion answers GET /<name>/<version-or-tag>: one version's document.
func (h *Handler) getVersion(c *call, name Name, ref string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	p, err := h.readPackument(ctx, rp, name, false, h.tarballPrefix(c.r, rp))
	if err != nil {
		return err
	}
	var doc struct {
		DistTags map[string]string          `json:"dist-tags"`
		Versions map[string]json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(p.body, &doc); err != nil {
		return errs.Wrap(err, errs.Internal, "corrupt packument")
	}
	v, ok := doc.Versions[ref]
	if !ok {
		if tagged, isTag := doc.DistTags[ref]; isTag {
			v, ok = doc.Versions[tagged]
		}
	}
	if !ok {
		return errs.E(errs.NotFound, "version or tag %s@%s not found", name, ref)
	}
	c.w.Header().Set("Content-Type", mediaFull)
	c.w.Header().Set("Cache-Control", "no-cache")
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		c.w.Write(v)
	}
	return nil
}
