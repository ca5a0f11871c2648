// Package oci serves the OCI Distribution API under /v2/ — what docker,
// podman, crane, skopeo, oras and helm push to and pull from — and the Docker
// token service that authenticates them. The first component of an image
// name is the arca repository: HOST/library/app:1 is image "app" in
// repository "library".
package oci

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/usage"
)

// Format is the repository format this package serves.
const Format = "oci"

// maxManifestBytes bounds a manifest body.
const maxManifestBytes = 4 << 20

// Handler serves the OCI surface.
type Handler struct {
	quota      *usage.Quota
	downloads  *usage.Downloads
	gate       repo.DownloadGate
	db         *meta.DB
	repos      *repo.Store
	auth       *auth.Service
	tokens     *auth.RegistryTokens
	blobs      *blob.Store
	store      store
	audit      *audit.Log
	publicURL  string
	log        *slog.Logger
	httpClient *http.Client
	fetches    singleflight.Group // proxy downloads in flight, by repository, image and digest
	upMu       sync.Mutex
	upstreams  map[string]*upstream // proxy clients by repository and settings
	surface    httpx.Surface
	apiSurface httpx.Surface // arca's own API routes of the OCI format
	routeNames []string      // the template of each of routes, for metrics and traces
}

// Deps are what the OCI handler needs.
type Deps struct {
	// Quota checks uploads against the repository quota; Downloads
	// notes downloads for cleanup policies. Either may be nil.
	Quota     *usage.Quota
	Downloads *usage.Downloads
	DB        *meta.DB
	Repos     *repo.Store
	Auth      *auth.Service
	Tokens    *auth.RegistryTokens
	Blobs     *blob.Store
	Audit     *audit.Log
	Log       *slog.Logger
	// PublicURL is the base URL clients reach arca at; "" derives it from
	// each request.
	PublicURL string
	// Gate decides whether content may be downloaded (vulnerability
	// policies); nil allows everything.
	Gate repo.DownloadGate
	// Client fetches from proxies' upstreams; nil means a default client.
	Client *http.Client
}

// New returns the OCI handler.
func New(d Deps) *Handler {
	h := &Handler{db: d.DB, repos: d.Repos, auth: d.Auth, tokens: d.Tokens, blobs: d.Blobs,
		store: store{db: d.DB, blobs: d.Blobs}, audit: d.Audit, publicURL: strings.TrimSuffix(d.PublicURL, "/"), log: d.Log,
		httpClient: d.Client, upstreams: map[string]*upstream{}}
	h.quota, h.downloads = d.Quota, d.Downloads
	if h.httpClient == nil {
		h.httpClient = &http.Client{Timeout: 30 * time.Minute}
	}
	for _, rt := range routes {
		h.routeNames = append(h.routeNames, routeTemplate(rt.pattern.String()))
	}
	h.surface = httpx.Surface{Name: "oci", WriteError: h.writeError, Auth: authenticator{h}, Log: d.Log}
	h.apiSurface = httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: d.Auth, Log: d.Log}
	h.gate = d.Gate
	return h
}

// authenticator accepts registry tokens (Bearer JWTs from /v2/token) besides
// everything auth.Service accepts (Basic passwords and tokens, Bearer arca
// tokens).
type authenticator struct{ h *Handler }

func (a authenticator) Authenticate(ctx context.Context, r *http.Request) (auth.Principal, error) {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "bearer") && auth.LooksLikeJWT(strings.TrimSpace(cred)) {
		p, _, err := a.h.tokens.Verify(ctx, strings.TrimSpace(cred))
		return p, err
	}
	return a.h.auth.Authenticate(ctx, r)
}

// tokenGrants returns the grants of the registry token the request carried,
// and whether it carried one.
func tokenGrants(ctx context.Context) ([]auth.Access, bool) {
	p := auth.From(ctx)
	return p.Grants, p.Scoped
}

// ociAction names an action as registry token scopes do.
func ociAction(a auth.Action) string {
	switch a {
	case auth.Read:
		return "pull"
	case auth.Write:
		return "push"
	default:
		return "delete"
	}
}

// authorize resolves name to its repository and checks that the request may
// perform action on it: within its registry token's grants, if it has one,
// and within the principal's roles.
func (h *Handler) authorize(r *http.Request, n Name, action auth.Action) (*repo.Repository, error) {
	ctx := r.Context()
	rp, err := h.repos.Get(ctx, n.Repo)
	if err != nil || rp.Format != Format {
		return nil, errs.E(errs.NotFound, "repository %q is not known", n).WithCode(codeNameUnknown)
	}
	p := auth.From(ctx)
	if grants, ok := tokenGrants(ctx); ok && !auth.Allows(grants, "repository", n.String(), ociAction(action)) {
		// 401 with a challenge for the needed scope makes the client fetch
		// a token that covers it.
		return nil, errs.E(errs.Unauthenticated, "token does not grant %s on %s", ociAction(action), n)
	}
	if err := h.auth.Authorize(ctx, p, rp, action); err != nil {
		return nil, err
	}
	if action != auth.Read && rp.Kind != repo.Hosted {
		return nil, errs.E(errs.Denied, "%s is a %s repository: push to a hosted repository", rp.Name, rp.Kind).WithCode(codeDenied)
	}
	return rp, nil
}

// parseName validates the name variable of a route.
func parseName(v vars) (Name, error) { return ParseName(v["name"]) }

// target validates the route's name and authorizes action on it.
func (h *Handler) target(r *http.Request, v vars, action auth.Action) (Name, *repo.Repository, error) {
	n, err := parseName(v)
	if err != nil {
		return n, nil, err
	}
	rp, err := h.authorize(r, n, action)
	return n, rp, err
}

// baseURL is the URL clients reach arca at.
func (h *Handler) baseURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// challenge is the WWW-Authenticate value of a 401: a Bearer challenge
// naming the token endpoint and the scope the request needed.
func (h *Handler) challenge(r *http.Request) string {
	c := `Bearer realm="` + h.baseURL(r) + `/v2/token",service="` + h.tokens.Service() + `"`
	if scope := neededScope(r); scope != "" {
		c += `,scope="` + scope + `"`
	}
	return c
}

// neededScope derives the token scope a request needs from its path and method.
func neededScope(r *http.Request) string {
	p := r.URL.Path
	if p == "/v2/_catalog" {
		return "registry:catalog:*"
	}
	for _, marker := range []string{"/blobs/", "/manifests/", "/tags/list", "/referrers/"} {
		if i := strings.LastIndex(p, marker); i > len("/v2/") {
			name := p[len("/v2/"):i]
			if _, err := ParseName(name); err != nil {
				return ""
			}
			uploads := strings.HasPrefix(p[i:], "/blobs/uploads/")
			switch {
			case uploads: // every upload request needs push
			case r.Method == http.MethodGet || r.Method == http.MethodHead:
				return "repository:" + name + ":pull"
			case r.Method == http.MethodDelete:
				return "repository:" + name + ":delete"
			}
			scope := "repository:" + name + ":pull,push"
			if from := r.URL.Query().Get("from"); from != "" {
				scope += " repository:" + from + ":pull"
			}
			return scope
		}
	}
	return ""
}

// base answers GET /v2/: 200 for an authenticated client, 401 with a
// challenge otherwise, so that `docker login` learns where to get tokens.
func (h *Handler) base(w http.ResponseWriter, r *http.Request, _ vars) error {
	if auth.From(r.Context()).Anonymous() {
		if _, ok := tokenGrants(r.Context()); !ok {
			return errs.E(errs.Unauthenticated, "authentication required")
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, struct{}{})
}

// token is the Docker token service: it authenticates Basic credentials
// (or none, for anonymous pulls) and issues a token granting the
// intersection of the requested scopes and what the caller may do.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := auth.From(ctx)
	q := r.URL.Query()
	if r.Method == http.MethodPost { // the OAuth2 password grant some clients use
		if err := r.ParseForm(); err != nil {
			return errs.E(errs.Invalid, "invalid form")
		}
		q = r.PostForm
		if q.Get("grant_type") == "password" {
			var err error
			if p, err = h.auth.Login(ctx, q.Get("username"), q.Get("password")); err != nil {
				return err
			}
		}
	}
	if _, ok := tokenGrants(ctx); ok {
		return errs.E(errs.Unauthenticated, "present credentials, not a registry token, to the token service")
	}
	var grants []auth.Access
	for _, raw := range q["scope"] {
		for _, s := range strings.Fields(raw) {
			a, err := auth.ParseScope(s)
			if err != nil {
				return err
			}
			if g, ok := h.grant(ctx, p, a); ok {
				grants = append(grants, g)
			}
		}
	}
	tok, issued, err := h.tokens.Issue(ctx, p, grants)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "issuing token")
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"token": tok, "access_token": tok, "expires_in": int(h.tokens.TTL() / time.Second),
		"issued_at": issued.UTC().Format(time.RFC3339),
	})
}

// grant intersects one requested scope with what p may do.
func (h *Handler) grant(ctx context.Context, p auth.Principal, a auth.Access) (auth.Access, bool) {
	switch a.Type {
	case "registry":
		if a.Name == "catalog" && !p.Anonymous() {
			return auth.Access{Type: a.Type, Name: a.Name, Actions: []string{"*"}}, true
		}
		return auth.Access{}, false
	case "repository":
	default:
		return auth.Access{}, false
	}
	n, err := ParseName(a.Name)
	if err != nil {
		return auth.Access{}, false
	}
	rp, err := h.repos.Get(ctx, n.Repo)
	if err != nil || rp.Format != Format {
		return auth.Access{}, false
	}
	out := auth.Access{Type: a.Type, Name: a.Name, Actions: []string{}}
	for _, want := range a.Actions {
		for _, c := range []struct {
			name   string
			action auth.Action
		}{{"pull", auth.Read}, {"push", auth.Write}, {"delete", auth.Delete}} {
			if (want == c.name || want == "*") && h.auth.Authorize(ctx, p, rp, c.action) == nil {
				out.Actions = append(out.Actions, c.name)
			}
		}
	}
	return out, true
}

// location builds a Location header value for a path under /v2/.
func location(n Name, kind, ref string) string {
	return "/v2/" + n.String() + "/" + kind + "/" + url.PathEscape(ref)
}
