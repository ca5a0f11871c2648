package ui

import (
	"fmt"
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// goModuleData is the page of one module of a hosted Go repository.
type goModuleData struct {
	Repo     *repo.Repository
	Name     string
	Versions []GoVersion
	Pager    *Pager
	Get      string // go get of the newest version
	Env      string // the environment that reaches it
}

// goModule shows one module's versions, newest first.
func (h *Handler) goModule(w http.ResponseWriter, r *http.Request, rp *repo.Repository) error {
	ctx := r.Context()
	name := r.PathValue("pkg")
	if rp.Kind != repo.Hosted {
		return errs.E(errs.NotFound, "There is no module %s in %s.", name, rp.Name)
	}
	pg := newPager(r, 50)
	vs, err := h.goVersions(ctx, rp.ID, name, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	vs = vs[:pg.Keep(len(vs))]
	if len(vs) == 0 {
		return errs.E(errs.NotFound, "There is no module %s in %s.", name, rp.Name)
	}
	d := goModuleData{Repo: rp, Name: name, Versions: vs, Pager: pg,
		Get: fmt.Sprintf("go get %s@%s", name, vs[0].Version),
		Env: fmt.Sprintf("go env -w GOPROXY=%s/go/%s GONOSUMDB=%s", h.baseURL(r), rp.Name, name)}
	return h.page(w, r, "go_module", name, d)
}

// helmChartData is the page of one chart of a hosted Helm repository.
type helmChartData struct {
	Repo     *repo.Repository
	Name     string
	Versions []HelmVersion
	Pager    *Pager
	Pull     string
}

// helmChart shows one chart's versions, newest first.
func (h *Handler) helmChart(w http.ResponseWriter, r *http.Request, rp *repo.Repository) error {
	ctx := r.Context()
	name := r.PathValue("pkg")
	if rp.Kind != repo.Hosted {
		return errs.E(errs.NotFound, "There is no chart %s in %s.", name, rp.Name)
	}
	pg := newPager(r, 50)
	vs, err := h.helmVersions(ctx, rp.ID, name, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	vs = vs[:pg.Keep(len(vs))]
	if len(vs) == 0 {
		return errs.E(errs.NotFound, "There is no chart %s in %s.", name, rp.Name)
	}
	d := helmChartData{Repo: rp, Name: name, Versions: vs, Pager: pg,
		Pull: fmt.Sprintf("helm repo add %s %s/helm/%s --username <user> --password <token>\nhelm pull %s/%s --version %s", rp.Name, h.baseURL(r), rp.Name, rp.Name, name, vs[0].Version)}
	return h.page(w, r, "helm_chart", name, d)
}
