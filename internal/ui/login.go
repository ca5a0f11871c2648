package ui

import (
	"context"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

type loginData struct {
	Name  string
	Next  string
	Error string
	// Browsable: some repository is public, so the page offers browsing
	// without signing in (a link to an empty list would only puzzle).
	Browsable bool
	// SSOName labels the single sign-on button ("" when there is none).
	SSOName string
	// ProviderLogout, after an OIDC account signed out, is the provider's
	// end-session URL, offered as a link (a form's redirect to another
	// origin is blocked by the page's form-action policy).
	ProviderLogout string
}

func (h *Handler) ssoName() string {
	if h.SSO == nil {
		return ""
	}
	return h.SSO.Name()
}

// anyPublic reports whether an anonymous visitor can see any repository.
func (h *Handler) anyPublic(ctx context.Context) (bool, error) {
	list, err := h.visibleRepositories(ctx, auth.From(ctx), RepoFilter{}, 1, 0)
	return len(list) > 0, err
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if !auth.From(r.Context()).Anonymous() {
		return h.redirect(w, r, next, "")
	}
	browsable, err := h.anyPublic(r.Context())
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "login", Page{Title: "Sign in", Data: loginData{Next: next, Browsable: browsable, SSOName: h.ssoName()}})
}

// login checks the name and password with auth.Service.Login (so failed
// attempts count towards the account's lock) and starts a session. Tokens
// are not accepted here: a browser session is a person's.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	data := loginData{Name: name, Next: safeNext(r.PostFormValue("next")), SSOName: h.ssoName()}
	refuse := func(status int, msg string) error {
		data.Error = msg
		if ok, err := h.anyPublic(ctx); err == nil {
			data.Browsable = ok
		}
		return h.render(w, r, status, "login", Page{Title: "Sign in", Data: data})
	}
	if name == "" || password == "" {
		return refuse(http.StatusBadRequest, "Enter your user name and password.")
	}
	if auth.LooksLikeToken(password) {
		return refuse(http.StatusUnauthorized, "Sign in with your password; tokens are for clients.")
	}
	p, err := h.auth.Login(ctx, name, password)
	switch {
	case errs.Is(err, errs.Unauthenticated):
		return refuse(http.StatusUnauthorized, "Wrong user name or password.")
	case errs.Is(err, errs.TooMany):
		return refuse(http.StatusTooManyRequests, errs.Message(err))
	case err != nil:
		return err
	}
	if p.Kind != auth.KindUser {
		return refuse(http.StatusUnauthorized, "Robot accounts cannot sign in.")
	}
	token, _, err := h.createSession(ctx, p, r)
	if err != nil {
		return err
	}
	setCookie(w, r, sessionCookie, token, int(h.sessionTTL.Seconds()))
	setCookie(w, r, preSessionCookie, "", -1)
	h.Audit.Record(auth.WithPrincipal(ctx, p), audit.Event{Action: "ui.login", RemoteAddr: r.RemoteAddr})
	return h.redirect(w, r, data.Next, "")
}

// logout ends the session; an OIDC account's browser is then sent to the
// provider's end-session endpoint when it has one (RP-initiated logout),
// which sends it back to the sign-in page.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	source := ""
	if s := sessionFrom(ctx); s != nil {
		if err := h.deleteSession(ctx, s); err != nil {
			return err
		}
		if h.SSO != nil {
			source, _ = h.auth.AccountSource(ctx, s.Principal.UserID)
		}
	}
	setCookie(w, r, sessionCookie, "", -1)
	if source == auth.SourceOIDC {
		if to := h.SSO.LogoutURL(ctx, h.baseURL(r)+loginPath); to != "" {
			return h.render(w, r, http.StatusOK, "login", Page{Title: "Signed out", Flash: "You are signed out of arca.",
				Data: loginData{Next: "/", SSOName: h.ssoName(), ProviderLogout: to}})
		}
	}
	return h.redirect(w, r, loginPath, "You are signed out.")
}

// safeNext keeps a post-sign-in destination only when it is a path on this
// server (not "//host" or a URL), so the sign-in page cannot be used to
// send people elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\\") {
		return "/"
	}
	return next
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) error {
	return errs.E(errs.NotFound, "There is no page at %s.", r.URL.Path)
}
