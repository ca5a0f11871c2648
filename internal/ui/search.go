package ui

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/search"
)

type searchData struct {
	Query   string
	Format  string
	Formats []string
	Page    search.Page
	// Problem explains a query that was refused (shown, not an error page).
	Problem string
}

// searchPage is the results of the search box every page carries: what
// the visitor may read, best first; a digest shows where that content is
// used.
func (h *Handler) searchPage(w http.ResponseWriter, r *http.Request) error {
	if h.Search == nil {
		return errs.E(errs.NotFound, "search is not available")
	}
	q := r.URL.Query()
	d := searchData{Query: strings.TrimSpace(q.Get("q")), Format: q.Get("format"),
		Formats: []string{"oci", "pypi", "npm", "maven", "go", "helm", "raw", "s3", "mlflow"}}
	if d.Query != "" {
		page, err := h.Search.Search(r.Context(), auth.From(r.Context()), search.Request{Q: d.Query, Format: d.Format, Cursor: q.Get("cursor")})
		switch {
		case errs.Is(err, errs.Invalid):
			d.Problem = errs.Message(err)
		case err != nil:
			return err
		default:
			d.Page = page
		}
	}
	return h.render(w, r, http.StatusOK, "search", Page{Title: "Search", Nav: "search", Data: d})
}
