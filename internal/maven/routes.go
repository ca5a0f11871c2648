package maven

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// Routes mounts the Maven surface. A Maven path is a directory tree of
// any depth, so the surface matches its own paths below /maven/<repo>/.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("/maven/", h.surface.Handle(h.dispatch))
}

// call is one request's parsed path.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	repo string // repository name
	path string // below the repository, without the leading slash
}

// dispatch routes a request below /maven/<repo>/:
//
//	GET, HEAD  /<g...>/<a>/<v>/<file>                 a file (jar, pom, sources, javadoc, .asc, ...)
//	GET, HEAD  /<g...>/<a>/maven-metadata.xml         artifact metadata (versions, latest, release)
//	GET, HEAD  /<g...>/<a>/<v>-SNAPSHOT/maven-metadata.xml  snapshot metadata (timestamped builds)
//	GET, HEAD  <any of those>.md5|.sha1|.sha256|.sha512     checksums, from the stored digests
//	PUT        /<g...>/<a>/<v>/<file>                 deploy a file (developer; replacing: maintainer)
//	PUT        <file>.md5|.sha1|.sha256|.sha512        verify the deployed file's checksum
//	PUT        .../maven-metadata.xml[.<checksum>]     accepted and dropped: arca maintains metadata
//	DELETE     /<g...>/<a>/<v>/<file>                 delete a file (maintainer)
//	DELETE     /<g...>/<a>/<v>/                       delete a version (maintainer)
//
// Paths are refused when a segment holds anything but letters, digits and
// . _ - + ~ (so no encoded slash or dot segment names a file twice).
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) error {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/maven/")
	name, path, _ := strings.Cut(rest, "/")
	if name == "" {
		return errs.E(errs.NotFound, "no repository in path: use /maven/<repository>/")
	}
	c := &call{w: w, r: r, repo: name, path: path}
	httpx.SetRepository(r.Context(), c.repo)
	httpx.SetRoute(r.Context(), "/maven/{repo}/{path...}")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if path == "" || strings.HasSuffix(path, "/") {
			return errs.E(errs.NotFound, "arca does not list Maven directories: ask for a file or maven-metadata.xml")
		}
		return h.get(c)
	case http.MethodPut:
		return h.put(c)
	case http.MethodDelete:
		return h.remove(c)
	}
	return errs.E(errs.Unsupported, "method %s is not allowed on %s", r.Method, r.URL.Path).WithCode(codeMethod)
}
