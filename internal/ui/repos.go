package ui

import (
	"context"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

type reposData struct {
	Repos   []*repo.Repository
	Filter  RepoFilter
	Formats []string
	Pager   *Pager
}

// repositories lists the repositories the viewer may read, filtered by
// format, kind and name.
func (h *Handler) repositories(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	f := RepoFilter{Format: q.Get("format"), Kind: q.Get("kind"), Query: strings.TrimSpace(q.Get("q"))}
	pg := newPager(r, 50)
	list, err := h.visibleRepositories(ctx, auth.From(ctx), f, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	list = list[:pg.Keep(len(list))]
	return h.page(w, r, "repositories", "Repositories", reposData{Repos: list, Filter: f, Formats: h.repos.Formats(), Pager: pg})
}

// readable returns the repository named in the path if the viewer may
// read it: the same Authorize as every protocol.
func (h *Handler) readable(ctx context.Context, r *http.Request) (*repo.Repository, error) {
	rp, err := h.repos.Get(ctx, r.PathValue("repo"))
	if err != nil {
		return nil, errs.E(errs.NotFound, "There is no repository %q.", r.PathValue("repo"))
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read); err != nil {
		return nil, err
	}
	return rp, nil
}

type repoData struct {
	Repo      *repo.Repository // secrets masked
	Usage     []Snippet
	CanManage bool
	// CanManageHooks: the caller administers this repository's webhooks.
	CanManageHooks bool
	Upstream       string   // a proxy's upstream URL
	Members        []string // a group's members
	Contents       any      // the format's listing (see repoContents)
	Pager          *Pager
	Query          string // the name filter of the listing
}

// repository shows one repository: how to use it and what it holds.
func (h *Handler) repository(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.readable(ctx, r)
	if err != nil {
		return err
	}
	d := repoData{Repo: rp.Redacted(), Usage: h.usage(r, rp), Query: strings.TrimSpace(r.URL.Query().Get("q"))}
	d.CanManage = auth.From(ctx).IsAdmin()
	d.CanManageHooks = h.Webhooks != nil && h.Webhooks.CanManage(ctx, rp.Name)
	if up, ok := d.Repo.Settings["upstream"].(map[string]any); ok {
		d.Upstream, _ = up["url"].(string)
	}
	if ms, ok := rp.Settings["members"].([]any); ok {
		for _, m := range ms {
			if s, ok := m.(string); ok {
				d.Members = append(d.Members, s)
			}
		}
	}
	d.Pager = newPager(r, 50)
	if d.Contents, err = h.repoContents(ctx, r, rp, d.Query, d.Pager); err != nil {
		return err
	}
	return h.page(w, r, "repository", rp.Name, d)
}

// repoContents lists what rp holds, by format: images, packages, or the
// entries of a prefix.
func (h *Handler) repoContents(ctx context.Context, r *http.Request, rp *repo.Repository, q string, pg *Pager) (any, error) {
	switch rp.Format {
	case "oci":
		rows, err := h.ociImages(ctx, rp.ID, q, pg.Limit(), pg.Offset())
		return rows[:pg.Keep(len(rows))], err
	case "pypi":
		rows, err := h.pypiProjects(ctx, rp, q, pg.Limit(), pg.Offset())
		return rows[:pg.Keep(len(rows))], err
	case "npm":
		rows, err := h.npmPackages(ctx, rp, q, pg.Limit(), pg.Offset())
		return rows[:pg.Keep(len(rows))], err
	case "maven":
		rows, err := h.mavenArtifacts(ctx, rp, q, pg.Limit(), pg.Offset())
		return rows[:pg.Keep(len(rows))], err
	case "go":
		rows, err := h.goModules(ctx, rp, q, pg.Limit(), pg.Offset())
		return rows[:pg.Keep(len(rows))], err
	case "helm":
		rows, err := h.helmCharts(ctx, rp, q, pg.Limit(), pg.Offset())
		return rows[:pg.Keep(len(rows))], err
	case "raw", "s3":
		return h.browse(ctx, r, rp, pg)
	}
	return nil, nil
}
