package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Reads go through the resolvers below, so that hosted, proxy and group
// repositories answer the same handlers:
//   - hosted: the repository's own rows;
//   - proxy: its cache, filled from the upstream on a miss; tags are
//     checked again after tag_max_age, and served stale while the upstream
//     is down; content by digest is cached forever;
//   - group: the first member, in order, that has the content, among the
//     members the caller may read (a tag in a hosted member they may not
//     read is refused rather than answered by a later member).

const maxGroupDepth = 4

// readManifest resolves a tag or digest in rp.
func (h *Handler) readManifest(ctx context.Context, rp *repo.Repository, image, ref string, depth int) (*repo.Repository, manifestRow, Digest, error) {
	switch rp.Kind {
	case repo.Group:
		var firstErr error
		for _, member := range h.members(ctx, rp, depth) {
			if member.Refused != nil {
				// Content by digest is the same in every member; a tag
				// of a hosted member the caller may not read shadows
				// the later members' tags of the same name.
				if IsDigest(ref) {
					continue
				}
				shadows, err := repo.Shadows(ctx, member, func(ctx context.Context, m *repo.Repository) (bool, error) {
					_, _, err := h.findManifest(ctx, m.ID, image, ref)
					if errs.Is(err, errs.NotFound) {
						return false, nil
					}
					return err == nil, err
				})
				if err != nil {
					return nil, manifestRow{}, Digest{}, err
				}
				if shadows {
					return nil, manifestRow{}, Digest{}, member.Refused
				}
				continue
			}
			src, m, d, err := h.readManifest(ctx, member.Repository, image, ref, depth+1)
			if err == nil || repo.Refusal(err) {
				return src, m, d, err // a nested group's shadowing member ends the search too
			}
			if firstErr == nil || !errs.Is(err, errs.NotFound) {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = manifestUnknown(errs.E(errs.NotFound, ""), ref)
		}
		return nil, manifestRow{}, Digest{}, firstErr
	case repo.Proxy:
		m, d, err := h.proxyManifest(ctx, rp, image, ref)
		return rp, m, d, err
	}
	m, d, err := h.findManifest(ctx, rp.ID, image, ref)
	return rp, m, d, err
}

// readBlob resolves a blob in rp.
func (h *Handler) readBlob(ctx context.Context, rp *repo.Repository, image string, d Digest, depth int) (blobInfo, error) {
	switch rp.Kind {
	case repo.Group:
		var firstErr error
		for _, member := range h.readableMembers(ctx, rp, depth) {
			b, err := h.readBlob(ctx, member, image, d, depth+1)
			if err == nil {
				return b, nil
			}
			if firstErr == nil || !errs.Is(err, errs.NotFound) {
				firstErr = err
			}
		}
		if firstErr == nil {
			firstErr = errs.E(errs.NotFound, "blob %s unknown", d).WithCode(codeBlobUnknown)
		}
		return blobInfo{}, firstErr
	case repo.Proxy:
		b, err := h.store.linkedBlob(ctx, rp.ID, image, d)
		if !errs.Is(err, errs.NotFound) {
			return b, err
		}
		return h.proxyBlob(ctx, rp, image, d)
	}
	return h.store.linkedBlob(ctx, rp.ID, image, d)
}

// members lists a group's member repositories that serve OCI, in order,
// each with whether the caller may read it.
func (h *Handler) members(ctx context.Context, rp *repo.Repository, depth int) []repo.Member {
	if depth >= maxGroupDepth {
		return nil
	}
	return h.repos.Members(ctx, rp, h.auth.CanRead)
}

// readableMembers lists the members of a group the caller may read.
func (h *Handler) readableMembers(ctx context.Context, rp *repo.Repository, depth int) []*repo.Repository {
	return repo.Readable(h.members(ctx, rp, depth))
}

// upstreamOf returns the client of a proxy repository's upstream.
func (h *Handler) upstreamOf(rp *repo.Repository) (*upstream, ProxySettings, error) {
	p, err := policyOf(rp.Settings)
	if err != nil || p.Upstream == nil {
		return nil, ProxySettings{}, errs.E(errs.Internal, "proxy repository %s has no upstream", rp.Name)
	}
	key := fmt.Sprintf("%d|%s|%s|%s|%s", rp.ID, p.Upstream.URL, p.Upstream.Prefix, p.Upstream.Username, p.Upstream.Password)
	h.upMu.Lock()
	defer h.upMu.Unlock()
	u, ok := h.upstreams[key]
	if !ok {
		u = newUpstream(*p.Upstream, h.httpClient)
		h.upstreams[key] = u
	}
	return u, *p.Upstream, nil
}

// proxyManifest serves a manifest from a proxy's cache, filling or
// revalidating it from the upstream.
func (h *Handler) proxyManifest(ctx context.Context, rp *repo.Repository, image, ref string) (manifestRow, Digest, error) {
	cached, d, cacheErr := h.findManifest(ctx, rp.ID, image, ref)
	if cacheErr != nil && !errs.Is(cacheErr, errs.NotFound) {
		return cached, d, cacheErr
	}
	up, settings, err := h.upstreamOf(rp)
	if err != nil {
		return cached, d, err
	}
	if cacheErr == nil {
		if IsDigest(ref) {
			return cached, d, nil // content by digest never changes
		}
		fresh, err := h.store.tagFresh(ctx, rp.ID, image, ref, settings.tagMaxAge())
		if err != nil || fresh {
			return cached, d, err
		}
	}
	m, d2, err := h.fetchManifest(ctx, rp, up, image, ref)
	if err != nil {
		if cacheErr == nil && errs.Is(err, errs.Unavailable) {
			h.log.WarnContext(ctx, "upstream unavailable; serving cached manifest", "repository", rp.Name, "image", image, "ref", ref, "err", err)
			return cached, d, nil
		}
		if errs.Is(err, errs.NotFound) {
			return m, d2, manifestUnknown(err, ref)
		}
		return m, d2, err
	}
	return m, d2, nil
}

// fetchManifest downloads a manifest from the upstream into the cache.
func (h *Handler) fetchManifest(ctx context.Context, rp *repo.Repository, up *upstream, image, ref string) (manifestRow, Digest, error) {
	resp, err := up.get(ctx, image, "manifests/"+ref, manifestAccept)
	if err != nil {
		return manifestRow{}, Digest{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes+1))
	if err != nil {
		return manifestRow{}, Digest{}, errs.Wrap(err, errs.Unavailable, "reading upstream manifest")
	}
	if len(body) > maxManifestBytes {
		return manifestRow{}, Digest{}, errs.E(errs.Unavailable, "upstream manifest too large")
	}
	m, mediaType, err := ParseManifest(body, resp.Header.Get("Content-Type"))
	if err != nil {
		return manifestRow{}, Digest{}, errs.Wrap(err, errs.Unavailable, "upstream sent an invalid manifest")
	}
	info, err := h.blobs.PutInline(ctx, bytes.NewReader(body), blob.Expect{}, blob.SHA512) // putManifest records Info.Inline
	if err != nil {
		return manifestRow{}, Digest{}, err
	}
	digest := Digest{Algorithm: "sha256", Hex: info.Digest.Hex()}
	if IsDigest(ref) {
		want, err := ParseDigest(ref)
		if err != nil {
			return manifestRow{}, Digest{}, err
		}
		if (want.Algorithm == "sha256" && want.Hex != info.Digest.Hex()) || (want.Algorithm == "sha512" && want.Hex != info.SHA512) {
			return manifestRow{}, Digest{}, errs.E(errs.Unavailable, "upstream manifest does not match %s", ref)
		}
		digest = want
	}
	var refs []blob.Digest
	for _, desc := range m.descriptors() {
		if strings.HasPrefix(string(desc.Digest), "sha256:") {
			refs = append(refs, blob.Digest(desc.Digest))
		}
	}
	row := manifestRow{Digest: info.Digest, PushedAs: pushedAs(digest), MediaType: mediaType, ArtifactType: m.artifactType(), Size: info.Size, Annotations: m.Annotations}
	if m.Subject != nil {
		row.Subject = string(m.Subject.Digest)
	}
	var tags []string
	if !IsDigest(ref) {
		tags = []string{ref}
	}
	if err := h.store.putManifest(ctx, rp.ID, image, info, row, refs, tags, nil); err != nil {
		return manifestRow{}, Digest{}, err
	}
	return row, digest, nil
}

// proxyBlob fetches a blob from the upstream into the cache. Concurrent
// requests for one blob share one download.
func (h *Handler) proxyBlob(ctx context.Context, rp *repo.Repository, image string, d Digest) (blobInfo, error) {
	key := fmt.Sprintf("%d/%s/%s", rp.ID, image, d)
	v, err, _ := h.fetches.Do(key, func() (any, error) {
		// Detached from the first caller: its hang-up must not fail the others.
		ctx := context.WithoutCancel(ctx)
		if b, err := h.store.linkedBlob(ctx, rp.ID, image, d); err == nil {
			return b, nil
		}
		up, _, err := h.upstreamOf(rp)
		if err != nil {
			return nil, err
		}
		resp, err := up.get(ctx, image, "blobs/"+d.String(), "")
		if err != nil {
			if errs.Is(err, errs.NotFound) {
				return nil, errs.E(errs.NotFound, "blob %s unknown", d).WithCode(codeBlobUnknown)
			}
			return nil, err
		}
		defer resp.Body.Close()
		want := blob.Expect{}
		var extra blob.Hashes
		if d.Algorithm == "sha256" {
			want.Digest = blob.Digest(d.String())
		} else {
			extra = blob.SHA512
		}
		info, err := h.blobs.Put(ctx, resp.Body, want, extra)
		if err != nil {
			return nil, errs.Wrap(err, errs.Unavailable, "fetching %s from upstream", d)
		}
		if d.Algorithm == "sha512" && info.SHA512 != d.Hex {
			return nil, errs.E(errs.Unavailable, "upstream blob does not match %s", d)
		}
		if err := h.store.recordAndLink(ctx, rp.ID, image, info); err != nil {
			return nil, err
		}
		return blobInfo{Digest: info.Digest, Size: info.Size}, nil
	})
	if err != nil {
		return blobInfo{}, err
	}
	return v.(blobInfo), nil
}

// tagFresh reports whether a cached tag was checked within maxAge.
func (s store) tagFresh(ctx context.Context, repoID int64, image, tag string, maxAge time.Duration) (bool, error) {
	var updated int64
	err := s.db.QueryRowContext(ctx, `SELECT updated_at FROM oci_tags WHERE repository_id = $1 AND name = $2 AND tag = $3`, repoID, image, tag).Scan(&updated)
	if err != nil {
		return false, meta.Err(err)
	}
	return time.Since(time.UnixMilli(updated)) < maxAge, nil
}

// readTags lists up to limit tags after last: a hosted repository's own,
// a proxy's upstream list (its cached tags while the upstream is down), a
// group's union of its members'.
func (h *Handler) readTags(ctx context.Context, rp *repo.Repository, image, last string, limit, depth int) ([]string, error) {
	var all []string
	switch rp.Kind {
	case repo.Group:
		seen := map[string]bool{}
		found := false
		for _, member := range h.readableMembers(ctx, rp, depth) {
			tags, err := h.readTags(ctx, member, image, last, limit, depth+1)
			if errs.Is(err, errs.NotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
			found = true
			for _, t := range tags {
				if !seen[t] {
					seen[t] = true
					all = append(all, t)
				}
			}
		}
		if !found {
			return nil, errs.E(errs.NotFound, "repository %s/%s not known", rp.Name, image).WithCode(codeNameUnknown)
		}
		slices.Sort(all)
	case repo.Proxy:
		tags, err := h.upstreamTags(ctx, rp, image)
		if errs.Is(err, errs.Unavailable) {
			tags, err = h.store.tags(ctx, rp.ID, image, "", 100000)
		}
		if err != nil {
			return nil, err
		}
		slices.Sort(tags)
		for _, t := range tags {
			if t > last {
				all = append(all, t)
			}
		}
	default:
		tags, err := h.store.tags(ctx, rp.ID, image, last, limit)
		if err != nil {
			return nil, err
		}
		if len(tags) == 0 && last == "" {
			if ok, err := h.store.imageExists(ctx, rp.ID, image); err != nil {
				return nil, err
			} else if !ok {
				return nil, errs.E(errs.NotFound, "repository %s/%s not known", rp.Name, image).WithCode(codeNameUnknown)
			}
		}
		return tags, nil
	}
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// upstreamTags asks a proxy's upstream for an image's tags.
func (h *Handler) upstreamTags(ctx context.Context, rp *repo.Repository, image string) ([]string, error) {
	up, _, err := h.upstreamOf(rp)
	if err != nil {
		return nil, err
	}
	resp, err := up.get(ctx, image, "tags/list", "application/json")
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errs.E(errs.NotFound, "repository %s/%s not known", rp.Name, image).WithCode(codeNameUnknown)
		}
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "bad upstream tag list")
	}
	return body.Tags, nil
}
