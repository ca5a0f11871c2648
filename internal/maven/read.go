package maven

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// content is what a read found: a stored blob, or metadata arca built.
type content struct {
	digest   string
	meta     *Metadata
	modified time.Time
}

// maxGroupDepth bounds nested groups.
const maxGroupDepth = 8

// get answers GET and HEAD of a file, metadata or checksum.
func (h *Handler) get(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	p, err := ParsePath(c.path)
	if err != nil {
		return errs.E(errs.NotFound, "%s", errs.Message(err))
	}
	ct, err := h.read(ctx, rp, p, 0)
	if err != nil {
		return err
	}
	if ct.digest != "" && ct.meta == nil && p.Checksum == "" {
		if err := repo.AllowDownload(ctx, h.gate, rp, repo.Download{Format: Format, Name: p.GroupID + ":" + p.ArtifactID, Digest: ct.digest}); err != nil {
			return err
		}
	}
	return h.serve(c, p, ct)
}

// read finds what repository rp answers for p (the checksum suffix aside).
func (h *Handler) read(ctx context.Context, rp *repo.Repository, p Path, depth int) (content, error) {
	switch rp.Kind {
	case repo.Proxy:
		d, at, err := h.proxyFile(ctx, rp, p)
		return content{digest: d, modified: at}, err
	case repo.Group:
		if depth >= maxGroupDepth {
			return content{}, errs.E(errs.Invalid, "groups nest deeper than %d", maxGroupDepth)
		}
		return h.groupRead(ctx, rp, p, depth+1)
	}
	switch p.Kind {
	case KindArtifactMeta:
		m, err := h.artifactMetadata(ctx, rp.ID, p.GroupID, p.ArtifactID)
		return content{meta: m}, err
	case KindVersionMeta:
		m, err := h.versionMetadata(ctx, rp.ID, p.GroupID, p.ArtifactID, p.Version)
		return content{meta: m}, err
	}
	f, err := h.file(ctx, h.db, rp.ID, p.Key)
	if errs.Is(err, errs.NotFound) && p.Snapshot() && p.Timestamp == "" {
		// lib-1.0-SNAPSHOT.jar names the newest build, as in a local repository.
		f, err = h.newestBuild(ctx, rp.ID, p)
	}
	if err == nil {
		h.downloads.Touch(rp.ID, p.Key)
	}
	return content{digest: f.Digest, modified: time.UnixMilli(f.CreatedAt)}, err
}

// groupRead answers a file from the first member that has it, and
// metadata merged from every member that has some.
//
// Unless the group merges all members (merge: all), hosted members are
// asked first, and when one of them holds the artifact (groupId and
// artifactId) the proxies and nested groups are not asked at all: a public
// artifact of the same name can then add no version to the metadata and
// serve no file (dependency confusion), while hosted members (releases and
// snapshots) still merge. A member the caller may not read is skipped,
// unless it is hosted and holds the artifact: then the read is refused, so
// that a later member never answers in its place.
func (h *Handler) groupRead(ctx context.Context, g *repo.Repository, p Path, depth int) (content, error) {
	s, err := settingsOf(g.Settings)
	if err != nil {
		return content{}, err
	}
	members := h.repos.Members(ctx, g, h.auth.CanRead)
	if s.Merge != MergeAll {
		members = repo.HostedFirst(members)
	}
	var merged *Metadata
	var unavailable error // a member that could not answer: reported when no other does
	hostedHas := false    // a readable hosted member holds the artifact
	for _, m := range members {
		shadows, err := repo.Shadows(ctx, m, func(ctx context.Context, r *repo.Repository) (bool, error) {
			return h.hasArtifact(ctx, r.ID, p.GroupID, p.ArtifactID)
		})
		if err != nil {
			return content{}, err
		}
		if shadows {
			return content{}, m.Refused
		}
		if m.Refused != nil {
			continue
		}
		if hostedHas && m.Kind != repo.Hosted {
			break
		}
		if s.Merge != MergeAll && m.Kind == repo.Hosted {
			has, err := h.hasArtifact(ctx, m.ID, p.GroupID, p.ArtifactID)
			if err != nil {
				return content{}, err
			}
			hostedHas = hostedHas || has
		}
		ct, err := h.read(ctx, m.Repository, p, depth)
		if repo.Refusal(err) {
			return content{}, err
		}
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if errs.Is(err, errs.Unavailable) {
			h.log.WarnContext(ctx, "maven group: a member is unavailable", "member", m.Name, "path", p.Key, "err", err)
			if unavailable == nil {
				unavailable = err
			}
			continue
		}
		if err != nil {
			return content{}, err
		}
		if p.Kind == KindFile {
			return ct, nil
		}
		md := ct.meta
		if md == nil { // a proxy's metadata, as its upstream sent it
			if md, err = h.readMetadata(ctx, ct.digest); err != nil {
				h.log.WarnContext(ctx, "maven group: skipping a member's unreadable metadata", "member", m.Name, "path", p.Key, "err", err)
				continue
			}
		}
		if merged == nil {
			merged = &Metadata{}
		}
		merged.Merge(md)
	}
	if merged == nil {
		if unavailable != nil {
			return content{}, unavailable
		}
		return content{}, notFoundPath(p.Key)
	}
	return content{meta: merged}, nil
}

// readMetadata parses stored metadata.
func (h *Handler) readMetadata(ctx context.Context, digest string) (*Metadata, error) {
	rd, err := h.openBlob(ctx, digest)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return ParseMetadata(rd)
}

func (h *Handler) openBlob(ctx context.Context, digest string) (*blob.Reader, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := h.blobs.Open(ctx, d)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.Wrap(err, errs.Internal, "stored file is missing its content")
	}
	return rd, err
}

// serve writes what a read found, or its checksum.
func (h *Handler) serve(c *call, p Path, ct content) error {
	ctx := c.r.Context()
	hdr := c.w.Header()
	hdr.Set("Content-Type", contentType(p))
	var body []byte
	if ct.meta != nil {
		body = ct.meta.Render()
		hdr.Set("Cache-Control", "no-cache")
	}
	if p.Checksum != "" {
		var sum string
		var err error
		if body != nil {
			sum = hashOf(p.Checksum, body)
		} else if sum, err = h.checksum(ctx, ct.digest, p.Checksum); err != nil {
			return err
		}
		http.ServeContent(c.w, c.r, "", ct.modified, bytes.NewReader([]byte(sum)))
		return nil
	}
	if body != nil {
		hdr.Set("ETag", `"`+hashOf("sha256", body)+`"`)
		http.ServeContent(c.w, c.r, "", time.Time{}, bytes.NewReader(body))
		return nil
	}
	rd, err := h.openBlob(ctx, ct.digest)
	if err != nil {
		return err
	}
	defer rd.Close()
	d, _ := blob.ParseDigest(ct.digest)
	hdr.Set("ETag", `"`+d.Hex()+`"`)
	hdr.Set("Accept-Ranges", "bytes")
	if sha1, err := h.checksum(ctx, ct.digest, "sha1"); err == nil {
		hdr.Set("X-Checksum-Sha1", sha1) // what Maven resolvers read instead of fetching .sha1
	}
	http.ServeContent(c.w, c.r, "", rd.ModTime, rd)
	return nil
}

// checksum returns a stored blob's checksum of the named algorithm, from
// the digests kept beside it (computed from the bytes when a row of an
// older write lacks it).
func (h *Handler) checksum(ctx context.Context, digest, algo string) (string, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return "", errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	if algo == "sha256" {
		return d.Hex(), nil
	}
	md5sum, sha1sum, sha512sum, err := h.digests(ctx, digest)
	if err != nil {
		return "", err
	}
	stored := map[string]string{"md5": md5sum, "sha1": sha1sum, "sha512": sha512sum}[algo]
	if stored != "" {
		return stored, nil
	}
	rd, err := h.openBlob(ctx, digest)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	hs := newHash(algo)
	if _, err := io.Copy(hs, rd); err != nil {
		return "", errs.Wrap(err, errs.Unavailable, "reading %s", digest)
	}
	return hex.EncodeToString(hs.Sum(nil)), nil
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "md5":
		return md5.New()
	case "sha1":
		return sha1.New()
	case "sha512":
		return sha512.New()
	}
	return sha256.New()
}

func hashOf(algo string, b []byte) string {
	hs := newHash(algo)
	hs.Write(b)
	return hex.EncodeToString(hs.Sum(nil))
}
