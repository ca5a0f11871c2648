package goproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// content is what a read found: a stored blob, or bytes arca built.
type content struct {
	digest   string
	body     []byte
	modified time.Time
}

// maxGroupDepth bounds nested groups.
const maxGroupDepth = 8

// get answers GET and HEAD of a GOPROXY path.
func (h *Handler) get(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	p, err := ParsePath(c.path)
	if err != nil {
		// The go command treats 404 and 410 as "not here"; a path it
		// cannot have meant is just that.
		return errs.E(errs.NotFound, "%s", errs.Message(err))
	}
	ct, err := h.read(ctx, rp, p, 0)
	if err != nil {
		return err
	}
	if ct.digest != "" && p.Kind == KindZip {
		if err := repo.AllowDownload(ctx, h.gate, rp, repo.Download{Format: Format, Name: p.Module, Digest: ct.digest}); err != nil {
			return err
		}
	}
	return h.serve(c, p, ct)
}

// read finds what repository rp answers for p.
func (h *Handler) read(ctx context.Context, rp *repo.Repository, p Path, depth int) (content, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.proxyRead(ctx, rp, p)
	case repo.Group:
		if depth >= maxGroupDepth {
			return content{}, errs.E(errs.Invalid, "groups nest deeper than %d", maxGroupDepth)
		}
		return h.groupRead(ctx, rp, p, depth+1)
	}
	return h.hostedRead(ctx, rp.ID, p)
}

// groupRead answers a version's files from the first member that has
// them, @v/list as the union of the members' lists and @latest as the
// highest of the members' answers.
//
// Hosted members are asked first, and when one of them holds the module
// the proxies and nested groups are not asked at all: a public module of
// the same path can then add no version and serve no file (dependency
// confusion). A member the caller may not read is skipped, unless it is
// hosted and holds the module: then the read is refused, so that a later
// member never answers in its place.
func (h *Handler) groupRead(ctx context.Context, g *repo.Repository, p Path, depth int) (content, error) {
	members := repo.HostedFirst(h.repos.Members(ctx, g, h.auth.CanRead))
	var versions []string
	var latest []byte
	found := false
	var unavailable error // a member that could not answer: reported when no other does
	hostedHas := false
	for _, m := range members {
		shadows, err := repo.Shadows(ctx, m, func(ctx context.Context, r *repo.Repository) (bool, error) {
			return h.hasModule(ctx, r.ID, p.Module)
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
		if m.Kind == repo.Hosted {
			has, err := h.hasModule(ctx, m.ID, p.Module)
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
			h.log.WarnContext(ctx, "go group: a member is unavailable", "member", m.Name, "path", p.Key, "err", err)
			if unavailable == nil {
				unavailable = err
			}
			continue
		}
		if err != nil {
			return content{}, err
		}
		switch p.Kind {
		case KindList:
			b, err := h.bytesOf(ctx, ct)
			if err != nil {
				return content{}, err
			}
			found = true
			versions = append(versions, strings.Fields(string(b))...)
		case KindLatest:
			b, err := h.bytesOf(ctx, ct)
			if err != nil {
				return content{}, err
			}
			var in Info
			if json.Unmarshal(b, &in) != nil || !semver.IsValid(in.Version) {
				h.log.WarnContext(ctx, "go group: skipping a member's unreadable @latest", "member", m.Name, "path", p.Key)
				continue
			}
			if latest == nil || semver.Compare(in.Version, latestVersion(latest)) > 0 {
				latest = b
			}
		default:
			return ct, nil
		}
	}
	switch {
	case p.Kind == KindList && found:
		SortVersions(versions)
		versions = slices.Compact(versions)
		if len(versions) == 0 {
			return content{body: []byte{}}, nil
		}
		return content{body: []byte(strings.Join(versions, "\n") + "\n")}, nil
	case p.Kind == KindLatest && latest != nil:
		return content{body: latest}, nil
	case unavailable != nil:
		return content{}, unavailable
	}
	return content{}, notFoundModule(p.Module)
}

func latestVersion(b []byte) string {
	var in Info
	json.Unmarshal(b, &in)
	return in.Version
}

// maxListBody bounds a list or .info read into memory.
const maxListBody = 16 << 20

// bytesOf returns what a read found as bytes (a small stored file).
func (h *Handler) bytesOf(ctx context.Context, ct content) ([]byte, error) {
	if ct.digest == "" {
		return ct.body, nil
	}
	rd, err := h.openBlob(ctx, ct.digest)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(rd, maxListBody)); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "reading %s", ct.digest)
	}
	return buf.Bytes(), nil
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

// serve writes what a read found.
func (h *Handler) serve(c *call, p Path, ct content) error {
	hdr := c.w.Header()
	hdr.Set("Content-Type", contentType(p.Kind))
	if p.Kind == KindList || p.Kind == KindLatest || !p.Canonical() {
		hdr.Set("Cache-Control", "no-cache")
	}
	if ct.digest == "" {
		http.ServeContent(c.w, c.r, "", ct.modified, bytes.NewReader(ct.body))
		return nil
	}
	rd, err := h.openBlob(c.r.Context(), ct.digest)
	if err != nil {
		return err
	}
	defer rd.Close()
	d, _ := blob.ParseDigest(ct.digest)
	hdr.Set("ETag", `"`+d.Hex()+`"`)
	http.ServeContent(c.w, c.r, "", rd.ModTime, rd)
	return nil
}
