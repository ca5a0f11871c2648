package ui

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

type modelsData struct {
	Query      string
	Sort       string // name | updated
	Models     []registeredModelRow
	Pager      *Pager
	Restricted bool // the viewer sees only models shared explicitly
}

// models lists the registered models the viewer may read (not prompts),
// searchable by name.
func (h *Handler) models(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := h.mlflowView(ctx)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := modelsData{Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Restricted: !v.byRole && !v.all}
	if d.Sort != "updated" {
		d.Sort = "name"
	}
	d.Pager = newPager(r, 50)
	rows, err := h.listRegisteredModels(ctx, v, modelsQuery{Name: d.Query, ByUpdate: d.Sort == "updated",
		Limit: d.Pager.Limit(), Offset: d.Pager.Offset()})
	if err != nil {
		return err
	}
	d.Models = rows[:d.Pager.Keep(len(rows))]
	return h.page(w, r, "models", "Models", d)
}

type modelData struct {
	Crumbs   []crumb
	Model    registeredModelRow
	Versions []modelVersionRow
	Pager    *Pager
}

// model shows a registered model: description, tags, aliases and its
// versions (newest first, paginated) linked to the runs they came from.
func (h *Handler) model(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := h.mlflowView(ctx)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	m, ok, err := h.getRegisteredModel(ctx, name)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "There is no registered model %q.", name)
	}
	if err := h.mlflowRequire(ctx, v, mlflowModelKind, m.ID, "this model"); err != nil {
		return err
	}
	d := modelData{Model: m, Pager: newPager(r, 50),
		Crumbs: []crumb{{Label: "Models", Href: "/ui/models"}, {Label: m.Name}}}
	rows, err := h.modelVersions(ctx, m, d.Pager.Limit(), d.Pager.Offset())
	if err != nil {
		return err
	}
	d.Versions = rows[:d.Pager.Keep(len(rows))]
	return h.page(w, r, "model", m.Name, d)
}
