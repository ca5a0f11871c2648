package oci

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// vars are the named parts of a matched path: name, digest, id, reference.
type vars map[string]string

type route struct {
	method  string // GET routes also answer HEAD
	pattern *regexp.Regexp
	handle  func(*Handler, http.ResponseWriter, *http.Request, vars) error
}

// nameRE matches a repository name inside a path; ParseName checks it.
const nameRE = `/v2/(?P<name>.+?)`

// routes is the whole OCI distribution API in the order of the spec's
// endpoint table. http.ServeMux cannot match a multi-segment name followed
// by a fixed suffix, so the OCI surface matches its own paths.
var routes = []route{
	{"GET", re(`/v2/`), (*Handler).base},                                                  // end-1
	{"GET", re(`/v2/_catalog`), (*Handler).catalog},                                       // catalog
	{"GET", re(nameRE + `/blobs/(?P<digest>[^/]+)`), (*Handler).getBlob},                  // end-2
	{"POST", re(nameRE + `/blobs/uploads/`), (*Handler).startUpload},                      // end-4a, end-4b, end-11
	{"PATCH", re(nameRE + `/blobs/uploads/(?P<id>[^/]+)`), (*Handler).patchUpload},        // end-5
	{"PUT", re(nameRE + `/blobs/uploads/(?P<id>[^/]+)`), (*Handler).finishUpload},         // end-6
	{"PUT", re(nameRE + `/manifests/(?P<reference>[^/]+)`), (*Handler).putManifest},       // end-7
	{"GET", re(nameRE + `/manifests/(?P<reference>[^/]+)`), (*Handler).getManifest},       // end-3
	{"GET", re(nameRE + `/tags/list`), (*Handler).listTags},                               // end-8a, end-8b
	{"DELETE", re(nameRE + `/manifests/(?P<reference>[^/]+)`), (*Handler).deleteManifest}, // end-9
	{"DELETE", re(nameRE + `/blobs/(?P<digest>[^/]+)`), (*Handler).deleteBlob},            // end-10
	{"GET", re(nameRE + `/referrers/(?P<digest>[^/]+)`), (*Handler).referrers},            // end-12a, end-12b
	{"GET", re(nameRE + `/blobs/uploads/(?P<id>[^/]+)`), (*Handler).uploadStatus},         // end-13
	{"DELETE", re(nameRE + `/blobs/uploads/(?P<id>[^/]+)`), (*Handler).cancelUpload},      // cancel an upload
}

func re(pattern string) *regexp.Regexp { return regexp.MustCompile("^" + pattern + "$") }

// Routes mounts the OCI surface and the Docker token service.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.Handle("GET /v2/token", h.surface.Handle(h.token))
	mux.Handle("POST /v2/token", h.surface.Handle(h.token))
	mux.Handle("/v2/", h.surface.Handle(h.dispatch))
	mux.Handle("POST /api/v1/repositories/{name}/retention", h.apiSurface.Handle(h.retention))
}

// dispatch runs the route matching the request: 404 when no path matches,
// 405 when the path matches with another method.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	otherMethod := false
	for i, rt := range routes {
		m := rt.pattern.FindStringSubmatch(r.URL.Path)
		if m == nil {
			continue
		}
		if rt.method != method {
			otherMethod = true
			continue
		}
		v := vars{}
		for i, n := range rt.pattern.SubexpNames() {
			if n != "" {
				v[n] = m[i]
			}
		}
		httpx.SetRoute(r.Context(), h.routeNames[i])
		if repo, _, _ := strings.Cut(v["name"], "/"); repo != "" {
			httpx.SetRepository(r.Context(), repo)
		}
		return rt.handle(h, w, r, v)
	}
	if otherMethod {
		return errs.E(errs.Unsupported, "method %s is not allowed on %s", r.Method, r.URL.Path).WithCode(codeUnsupported)
	}
	return errs.E(errs.NotFound, "no such endpoint: %s", r.URL.Path).WithCode(codeNameUnknown)
}

// routeTemplate turns a route's pattern into its template for metrics and
// traces: "^/v2/(?P<name>.+?)/blobs/(?P<digest>[^/]+)$" → "/v2/{name}/blobs/{digest}".
func routeTemplate(pattern string) string {
	var b strings.Builder
	p := strings.TrimSuffix(strings.TrimPrefix(pattern, "^"), "$")
	for i := 0; i < len(p); i++ {
		rest, ok := strings.CutPrefix(p[i:], "(?P<")
		if !ok {
			b.WriteByte(p[i])
			continue
		}
		name, _, _ := strings.Cut(rest, ">")
		b.WriteString("{" + name + "}")
		// Skip to the group's closing parenthesis.
		depth := 0
		for i < len(p) {
			switch p[i] {
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				break
			}
			i++
		}
	}
	return b.String()
}
