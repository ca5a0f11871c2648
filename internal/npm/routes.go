package npm

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// Routes mounts the npm surface. npm's paths carry package names that may
// hold an encoded slash (@scope%2fname), so the surface matches its own
// paths below /npm/<repo>/; the table is dispatch, top to bottom.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("/npm/", h.surface.Handle(h.dispatch))
}

// call is one request's parsed path.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	repo string   // repository name
	rest []string // segments after the repository (a scoped name is one segment)
}

// dispatch routes a request below /npm/<repo>/ (GET routes also answer HEAD):
//
//	GET    /                                    registry root (npm ping's fallback)
//	GET    /-/ping                              npm ping
//	GET    /-/whoami                            npm whoami
//	GET    /-/v1/search?text=                   npm search
//	POST   /-/v1/login                          web login: 404, so npm falls back to the legacy login
//	PUT    /-/user/org.couchdb.user:<user>      npm login (legacy): a token for valid credentials
//	GET    /-/user/org.couchdb.user:<user>      the user's document
//	DELETE /-/user/token/<token>                npm logout
//	GET    /-/package/<name>/dist-tags          npm dist-tag ls
//	PUT    /-/package/<name>/dist-tags/<tag>    npm dist-tag add (POST too)
//	DELETE /-/package/<name>/dist-tags/<tag>    npm dist-tag rm
//	GET    /<name>                              packument: full, or abbreviated by Accept
//	PUT    /<name>                              npm publish; npm deprecate (no attachments)
//	PUT    /<name>/-rev/<rev>                   npm unpublish <name>@<version>: the packument without it
//	DELETE /<name>/-rev/<rev>                   npm unpublish <name> (every version)
//	GET    /<name>/<version-or-tag>             one version's document
//	GET    /<name>/-/<file>.tgz                 tarball
//	DELETE /<name>/-/<file>.tgz/-rev/<rev>      npm unpublish's second step: delete the version's tarball
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) error {
	segs, err := splitPath(strings.TrimPrefix(r.URL.EscapedPath(), "/npm/"))
	if err != nil {
		return err
	}
	if len(segs) == 0 || segs[0] == "" {
		return errs.E(errs.NotFound, "no repository in path: use /npm/<repository>/")
	}
	c := &call{w: w, r: r, repo: segs[0], rest: segs[1:]}
	httpx.SetRepository(r.Context(), c.repo)
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	rest := c.rest
	if len(rest) == 0 || (len(rest) == 1 && rest[0] == "") {
		httpx.SetRoute(r.Context(), "/npm/{repo}/")
		return only(method, "GET", func() error { return h.root(c) })
	}
	if rest[0] == "-" {
		httpx.SetRoute(r.Context(), "/npm/{repo}/-/{special...}")
		return h.dispatchSpecial(c, method, rest[1:])
	}
	name, after, err := takeName(rest)
	if err != nil {
		return err
	}
	switch {
	case len(after) == 0:
		httpx.SetRoute(r.Context(), "/npm/{repo}/{package}")
		switch method {
		case "GET":
			return h.getPackument(c, name)
		case "PUT":
			return h.putPackage(c, name, "")
		}
		return methodNotAllowed(r)
	case len(after) == 2 && after[0] == "-rev":
		httpx.SetRoute(r.Context(), "/npm/{repo}/{package}/-rev/{rev}")
		switch method {
		case "PUT":
			return h.putPackage(c, name, after[1])
		case "DELETE":
			return h.unpublishPackage(c, name, after[1])
		}
		return methodNotAllowed(r)
	case len(after) == 2 && after[0] == "-":
		httpx.SetRoute(r.Context(), "/npm/{repo}/{package}/-/{tarball}")
		return only(method, "GET", func() error { return h.getTarball(c, name, after[1]) })
	case len(after) == 4 && after[0] == "-" && after[2] == "-rev":
		httpx.SetRoute(r.Context(), "/npm/{repo}/{package}/-/{tarball}/-rev/{rev}")
		return only(method, "DELETE", func() error { return h.deleteTarball(c, name, after[1], after[3]) })
	case len(after) == 1 && after[0] != "" && after[0] != "-":
		httpx.SetRoute(r.Context(), "/npm/{repo}/{package}/{version}")
		return only(method, "GET", func() error { return h.getVersion(c, name, after[0]) })
	}
	return errs.E(errs.NotFound, "no such npm endpoint: %s", r.URL.Path)
}

func (h *Handler) dispatchSpecial(c *call, method string, rest []string) error {
	path := strings.Join(rest, "/")
	switch {
	case path == "ping":
		return only(method, "GET", func() error { return h.ping(c) })
	case path == "whoami":
		return only(method, "GET", func() error { return h.whoami(c) })
	case path == "v1/search":
		return only(method, "GET", func() error { return h.search(c) })
	case path == "v1/login":
		return errs.E(errs.NotFound, "web login is not supported: npm falls back to the username and password prompt")
	case len(rest) == 2 && rest[0] == "user" && strings.HasPrefix(rest[1], "org.couchdb.user:"):
		user := strings.TrimPrefix(rest[1], "org.couchdb.user:")
		switch method {
		case "PUT":
			return h.login(c, user)
		case "GET":
			return h.userDoc(c, user)
		}
		return methodNotAllowed(c.r)
	case len(rest) == 3 && rest[0] == "user" && rest[1] == "token":
		return only(method, "DELETE", func() error { return h.logout(c, rest[2]) })
	case len(rest) >= 3 && rest[0] == "package":
		name, after, err := takeName(rest[1:])
		if err != nil {
			return err
		}
		switch {
		case len(after) == 1 && after[0] == "dist-tags":
			return only(method, "GET", func() error { return h.listTags(c, name) })
		case len(after) == 2 && after[0] == "dist-tags" && after[1] != "":
			switch method {
			case "PUT", "POST":
				return h.setTag(c, name, after[1])
			case "DELETE":
				return h.deleteTag(c, name, after[1])
			}
			return methodNotAllowed(c.r)
		}
	case len(rest) >= 2 && rest[0] == "npm" && rest[1] == "v1":
		return errs.E(errs.NotFound, "arca does not serve npm's audit and security endpoints")
	}
	return errs.E(errs.NotFound, "no such npm endpoint: %s", c.r.URL.Path)
}

// only runs fn when the request's method is want, and answers 405 otherwise.
func only(method, want string, fn func() error) error {
	if method != want {
		return errs.E(errs.Unsupported, "method %s is not allowed here", method).WithCode(codeMethod)
	}
	return fn()
}

func methodNotAllowed(r *http.Request) error {
	return errs.E(errs.Unsupported, "method %s is not allowed on %s", r.Method, r.URL.Path).WithCode(codeMethod)
}
