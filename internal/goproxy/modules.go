package goproxy

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/mod/module"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// modulesPath is the listing of a hosted repository's modules, below the
// repository. No module path starts with '@' (module.CheckPath), so it
// names no GOPROXY file.
const modulesPath = "@modules"

// Bounds of one page of the listing.
const (
	defaultModulesPage = 100
	maxModulesPage     = 1000
)

// ModuleList is the answer of GET /go/<repo>/@modules: a page of modules
// in path order, each with every version and its go.sum hash. Next, when
// set, is the after= of the next page.
type ModuleList struct {
	Modules []ModuleVersions `json:"modules"`
	Next    string           `json:"next,omitempty"`
}

// ModuleVersions is one module of the listing.
type ModuleVersions struct {
	Path     string          `json:"path"`
	Versions []VersionDigest `json:"versions"`
}

// VersionDigest is one published version: its go.sum hash (h1:...) and
// the size of its zip.
type VersionDigest struct {
	Version string    `json:"version"`
	H1      string    `json:"h1"`
	Size    int64     `json:"size"`
	Time    time.Time `json:"time"`
}

// listModules answers GET /go/<repo>/@modules (reader), what replication
// and scripts walk: ?module=<path> lists that module only (an empty list
// when the repository lacks it), ?after=<path>&limit=<n> pages through
// the modules (at most 1000 a page, 100 by default). Only hosted
// repositories have a listing.
func (h *Handler) listModules(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	if rp.Kind != repo.Hosted {
		return errs.E(errs.NotFound, "%s is a %s repository: only hosted Go repositories list their modules", rp.Name, rp.Kind)
	}
	q := c.r.URL.Query()
	limit := defaultModulesPage
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return errs.E(errs.Invalid, "limit %q: want a positive number", trunc(s))
		}
		limit = min(n, maxModulesPage)
	}
	var out ModuleList
	if mod := q.Get("module"); mod != "" {
		if err := module.CheckPath(mod); err != nil {
			return errs.E(errs.Invalid, "module %q: %v", trunc(mod), err)
		}
		out.Modules, err = h.moduleVersions(ctx, rp.ID, []string{mod})
	} else {
		var mods []string
		mods, err = meta.QueryStrings(ctx, h.db, `SELECT DISTINCT module FROM go_versions WHERE repository_id = $1 AND module > $2
			ORDER BY module LIMIT $3`, rp.ID, q.Get("after"), limit+1)
		if err == nil {
			if len(mods) > limit {
				mods = mods[:limit]
				out.Next = mods[limit-1]
			}
			out.Modules, err = h.moduleVersions(ctx, rp.ID, mods)
		}
	}
	if err != nil {
		return err
	}
	if out.Modules == nil {
		out.Modules = []ModuleVersions{}
	}
	return httpx.WriteJSON(c.w, http.StatusOK, out)
}

// moduleVersions returns the versions of mods (sorted paths) that the
// repository holds, each module's versions in semver order.
func (h *Handler) moduleVersions(ctx context.Context, repoID int64, mods []string) ([]ModuleVersions, error) {
	if len(mods) == 0 {
		return nil, nil
	}
	rows, err := h.db.QueryContext(ctx, `SELECT module, version, h1, size, created_at FROM go_versions
		WHERE repository_id = $1 AND module >= $2 AND module <= $3 ORDER BY module`, repoID, mods[0], mods[len(mods)-1])
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	byModule := map[string][]VersionDigest{}
	for rows.Next() {
		var mod string
		var v VersionDigest
		var at int64
		if err := rows.Scan(&mod, &v.Version, &v.H1, &v.Size, &at); err != nil {
			return nil, meta.Err(err)
		}
		v.Time = time.UnixMilli(at).UTC()
		byModule[mod] = append(byModule[mod], v)
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	var out []ModuleVersions
	for _, mod := range mods {
		vs := byModule[mod]
		if len(vs) == 0 {
			continue
		}
		names := make([]string, len(vs))
		byName := map[string]VersionDigest{}
		for i, v := range vs {
			names[i], byName[v.Version] = v.Version, v
		}
		SortVersions(names)
		for i, n := range names {
			vs[i] = byName[n]
		}
		out = append(out, ModuleVersions{Path: mod, Versions: vs})
	}
	return out, nil
}
