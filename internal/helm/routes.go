package helm

import (
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
)

// Routes mounts the Helm surface: a chart repository at /helm/<repo>/
// (what helm reads) and ChartMuseum's upload API below it.
func (h *Handler) Routes(mux *http.ServeMux) {
	s := h.surface.Handle
	mux.Handle("GET /helm/{repo}/index.yaml", s(h.getIndex))                        // the index helm repo add/update reads
	mux.Handle("GET /helm/{repo}/charts/{file}", s(h.getFile))                      // a chart archive (.tgz) or its provenance (.tgz.prov)
	mux.Handle("PUT /helm/{repo}/charts/{file}", s(h.putFile))                      // upload a chart or its provenance (developer)
	mux.Handle("GET /helm/{repo}/api/charts", s(h.listCharts))                      // ChartMuseum: every chart's versions, as JSON
	mux.Handle("POST /helm/{repo}/api/charts", s(h.postChart))                      // ChartMuseum: upload a chart (the body, or multipart chart and prov)
	mux.Handle("POST /helm/{repo}/api/prov", s(h.postProv))                         // ChartMuseum: upload a provenance file
	mux.Handle("DELETE /helm/{repo}/api/charts/{name}/{version}", s(h.deleteChart)) // ChartMuseum: delete a version (maintainer)
	mux.Handle("/helm/", s(func(w http.ResponseWriter, r *http.Request) error {
		return errs.E(errs.NotFound, "nothing at %s %s: a chart repository has index.yaml, charts/<file> and api/charts", r.Method, r.URL.Path)
	}))
}
