package raw

import "net/http"

// Routes registers the raw format's routes. GET patterns also serve HEAD.
func (h *Handler) Routes(mux *http.ServeMux) {
	s := &h.surface
	mux.Handle("GET /raw/{repo}", s.Handle(h.redirectToRoot))      // → /raw/<repo>/
	mux.Handle("GET /raw/{repo}/{path...}", s.Handle(h.get))       // a file, or a listing when the path ends in /
	mux.Handle("PUT /raw/{repo}/{path...}", s.Handle(h.put))       // upload: create, or replace (maintainer)
	mux.Handle("POST /raw/{repo}/{path...}", s.Handle(h.put))      // upload, as DVC's HTTP remote sends it
	mux.Handle("DELETE /raw/{repo}/{path...}", s.Handle(h.delete)) // delete one file
}
