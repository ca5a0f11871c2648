package helm

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// maxGroupDepth bounds nested groups.
const maxGroupDepth = 8

// getIndex answers GET index.yaml.
func (h *Handler) getIndex(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repository(ctx, r.PathValue("repo"), auth.Read)
	if err != nil {
		return err
	}
	ix, err := h.index(ctx, rp, 0)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-yaml")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(ix.Render()))
	return nil
}

// listCharts answers ChartMuseum's GET api/charts: the index's entries as
// JSON, by chart name.
func (h *Handler) listCharts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repository(ctx, r.PathValue("repo"), auth.Read)
	if err != nil {
		return err
	}
	ix, err := h.index(ctx, rp, 0)
	if err != nil {
		return err
	}
	ix.Render() // sorts
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(ix.Entries)
}

// index returns what repository rp's index.yaml lists, every entry's url
// relative to rp (charts/<file>).
func (h *Handler) index(ctx context.Context, rp *repo.Repository, depth int) (*Index, error) {
	switch rp.Kind {
	case repo.Proxy:
		up, err := h.upstreamIndex(ctx, rp)
		if err != nil {
			return nil, err
		}
		return relinked(up), nil
	case repo.Group:
		if depth >= maxGroupDepth {
			return nil, errs.E(errs.Invalid, "groups nest deeper than %d", maxGroupDepth)
		}
		return h.groupIndex(ctx, rp, depth+1)
	}
	return h.hostedIndex(ctx, rp.ID)
}

// relinked is a copy of an upstream's index whose entries point below
// the proxy.
func relinked(up *Index) *Index {
	ix := newIndex()
	for name, es := range up.Entries {
		for _, e := range es {
			file := name + "-" + e.Version() + chartFileSuffix
			if checkFile(file) != nil {
				continue
			}
			c := Entry{}
			for k, v := range e {
				c[k] = v
			}
			c["urls"] = []any{"charts/" + file}
			ix.add(c)
		}
	}
	return ix
}

// groupIndex merges the members' indexes. Hosted members are asked first;
// a chart a hosted member holds is taken from hosted members only, so
// that a public chart of the same name adds no version (dependency
// confusion). A member the caller may not read is skipped.
func (h *Handler) groupIndex(ctx context.Context, g *repo.Repository, depth int) (*Index, error) {
	members := repo.Readable(repo.HostedFirst(h.repos.Members(ctx, g, h.auth.CanRead)))
	ix := newIndex()
	hostedNames := map[string]bool{}
	var unavailable error
	answered := false
	for _, m := range members {
		mix, err := h.index(ctx, m, depth)
		if errs.Is(err, errs.Unavailable) || errs.Is(err, errs.NotFound) {
			h.log.WarnContext(ctx, "helm group: a member's index is unavailable", "member", m.Name, "err", err)
			if unavailable == nil {
				unavailable = err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		answered = true
		for name, es := range mix.Entries {
			if m.Kind != repo.Hosted && hostedNames[name] {
				continue
			}
			for _, e := range es {
				ix.add(e)
			}
		}
		if m.Kind == repo.Hosted {
			for name := range mix.Entries {
				hostedNames[name] = true
			}
		}
	}
	if !answered && unavailable != nil {
		return nil, unavailable
	}
	return ix, nil
}

// getFile answers GET charts/<file>: a chart archive or its provenance.
func (h *Handler) getFile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repository(ctx, r.PathValue("repo"), auth.Read)
	if err != nil {
		return err
	}
	file := r.PathValue("file")
	if err := checkFile(file); err != nil {
		return err
	}
	digest, err := h.file(ctx, rp, file, 0)
	if err != nil {
		return err
	}
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := h.blobs.Open(ctx, d)
	if errs.Is(err, errs.NotFound) {
		return errs.Wrap(err, errs.Internal, "stored file is missing its content")
	}
	if err != nil {
		return err
	}
	defer rd.Close()
	ct := "application/gzip"
	if strings.HasSuffix(file, provenanceSuffix) {
		ct = "application/pgp-signature"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"`+d.Hex()+`"`)
	http.ServeContent(w, r, "", rd.ModTime, rd)
	return nil
}

// file returns the digest of what repository rp holds at charts/<file>.
func (h *Handler) file(ctx context.Context, rp *repo.Repository, file string, depth int) (string, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.proxyFile(ctx, rp, file)
	case repo.Group:
		if depth >= maxGroupDepth {
			return "", errs.E(errs.Invalid, "groups nest deeper than %d", maxGroupDepth)
		}
		return h.groupFile(ctx, rp, file, depth+1)
	}
	c, err := h.chartByFile(ctx, rp.ID, file)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(file, provenanceSuffix) {
		h.downloads.Touch(rp.ID, file)
	}
	if strings.HasSuffix(file, provenanceSuffix) {
		if c.Prov == "" {
			return "", errs.E(errs.NotFound, "%s has no provenance file", trunc(strings.TrimSuffix(file, provenanceSuffix)))
		}
		return c.Prov, nil
	}
	return c.Digest, nil
}

// groupFile answers a file from the first member that has it, hosted
// members first; when a hosted member holds the chart, the others are not
// asked. A hosted member the caller may not read that holds the chart
// refuses the read, so that a later member never answers in its place.
func (h *Handler) groupFile(ctx context.Context, g *repo.Repository, file string, depth int) (string, error) {
	var names []string
	for _, nv := range splitFile(file) {
		names = append(names, nv[0])
	}
	members := repo.HostedFirst(h.repos.Members(ctx, g, h.auth.CanRead))
	hostedHas := false
	var unavailable error
	for _, m := range members {
		shadows, err := repo.Shadows(ctx, m, func(ctx context.Context, r *repo.Repository) (bool, error) {
			return h.hasChart(ctx, r.ID, names...)
		})
		if err != nil {
			return "", err
		}
		if shadows {
			return "", m.Refused
		}
		if m.Refused != nil {
			continue
		}
		if hostedHas && m.Kind != repo.Hosted {
			break
		}
		if m.Kind == repo.Hosted {
			has, err := h.hasChart(ctx, m.ID, names...)
			if err != nil {
				return "", err
			}
			hostedHas = hostedHas || has
		}
		d, err := h.file(ctx, m.Repository, file, depth)
		if repo.Refusal(err) {
			return "", err
		}
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if errs.Is(err, errs.Unavailable) {
			if unavailable == nil {
				unavailable = err
			}
			continue
		}
		return d, err
	}
	if unavailable != nil {
		return "", unavailable
	}
	return "", errs.E(errs.NotFound, "%s not found", trunc(file))
}
