package pypi

import "net/http"

// Routes registers the PyPI surface. GET patterns also serve HEAD.
func (h *Handler) Routes(mux *http.ServeMux) {
	s, js, api := &h.surface, &h.jsonSurface, &h.apiSurface
	mux.Handle("POST /pypi/{repo}", s.Handle(h.upload))                                               // twine upload (legacy API), repository URL without the slash
	mux.Handle("POST /pypi/{repo}/{$}", s.Handle(h.upload))                                           // twine upload (legacy API)
	mux.Handle("POST /pypi/{repo}/legacy/{$}", s.Handle(h.upload))                                    // twine upload, at PyPI's path
	mux.Handle("GET /pypi/{repo}", s.Handle(h.redirectToSimple))                                      // → simple/
	mux.Handle("GET /pypi/{repo}/{$}", s.Handle(h.redirectToSimple))                                  // → simple/
	mux.Handle("GET /pypi/{repo}/simple", s.Handle(h.redirectToSimple))                               // → simple/
	mux.Handle("GET /pypi/{repo}/simple/{$}", s.Handle(h.index))                                      // project list (PEP 503 / 691)
	mux.Handle("GET /pypi/{repo}/simple/{project}", s.Handle(h.redirectToProject))                    // → simple/<normalized>/
	mux.Handle("GET /pypi/{repo}/simple/{project}/{$}", s.Handle(h.projectPage))                      // project page (PEP 503 / 691)
	mux.Handle("GET /pypi/{repo}/files/{project}/{filename}", s.Handle(h.file))                       // a file, or <file>.metadata (PEP 658)
	mux.Handle("GET /pypi/{repo}/pypi/{project}/json", js.Handle(h.projectJSON))                      // JSON API: project
	mux.Handle("GET /pypi/{repo}/pypi/{project}/{version}/json", js.Handle(h.releaseJSON))            // JSON API: release
	mux.Handle("POST /api/v1/pypi/{repo}/{project}/{version}/yank", api.Handle(h.yank))               // yank a release (PEP 592)
	mux.Handle("DELETE /api/v1/pypi/{repo}/{project}/{version}/yank", api.Handle(h.unyank))           // un-yank it
	mux.Handle("DELETE /api/v1/pypi/{repo}/{project}/{version}", api.Handle(h.deleteRelease))         // delete a release's files
	mux.Handle("DELETE /api/v1/pypi/{repo}/{project}/{version}/{filename}", api.Handle(h.deleteFile)) // delete one file
}
