package goproxy

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Routes mounts the Go module surface. Module paths have any number of
// segments, so the surface matches its own paths below /go/<repo>/.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("/go/", h.surface.Handle(h.dispatch))
}

// call is one request's parsed path.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	repo string // repository name
	path string // below the repository, without the leading slash
}

// dispatch routes a request below /go/<repo>/:
//
//	GET, HEAD  /<module>/@v/list                 known versions, one a line
//	GET, HEAD  /<module>/@v/<version>.info        {"Version", "Time"}
//	GET, HEAD  /<module>/@v/<version>.mod         the version's go.mod
//	GET, HEAD  /<module>/@v/<version>.zip         the module zip
//	GET, HEAD  /<module>/@latest                  .info of the latest version
//	GET        /@modules                          (hosted) modules, versions and go.sum hashes, as JSON
//	GET, HEAD  /sumdb/<name>/supported            whether the checksum database is passed through
//	GET, HEAD  /sumdb/<name>/lookup/... /tile/... /latest   the checksum database, through a proxy
//	PUT        /<module>/@v/<version>.zip         publish a version (developer): the zip
//	                                              carries go.mod; arca writes .info
//	DELETE     /<module>/@v/<version>             delete a version (maintainer)
//
// Module paths and versions are case-encoded (!a for A), as the go
// command sends them.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.Path, "/go/")
	name, path, _ := strings.Cut(rest, "/")
	if name == "" {
		return errs.E(errs.NotFound, "no repository in path: use GOPROXY=http://HOST/go/<repository>")
	}
	c := &call{w: w, r: r, repo: name, path: path}
	if sum, ok := strings.CutPrefix(path, "sumdb/"); ok {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errs.E(errs.Unsupported, "method %s is not allowed on the checksum database", r.Method).WithCode(codeMethod)
		}
		return h.sumdb(c, sum)
	}
	if path == modulesPath {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errs.E(errs.Unsupported, "method %s is not allowed on the module listing", r.Method).WithCode(codeMethod)
		}
		return h.listModules(c)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return h.get(c)
	case http.MethodPut:
		return h.publish(c)
	case http.MethodDelete:
		return h.remove(c)
	}
	return errs.E(errs.Unsupported, "method %s is not allowed on %s", r.Method, r.URL.Path).WithCode(codeMethod)
}
