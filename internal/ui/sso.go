package ui

import (
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// SSO is the OpenID Connect sign-in the UI offers (sso.OIDC).
type SSO interface {
	// Name labels the sign-in button.
	Name() string
	// Begin returns the provider's authorization URL and the state the
	// browser must bring back to the callback.
	Begin(ctx context.Context, next string) (authURL, state string, err error)
	// Finish checks the state (issued by Begin, used once), exchanges
	// the code and verifies the ID token; it returns the identity and
	// where to go.
	Finish(ctx context.Context, state, code string) (auth.Identity, string, error)
	// LogoutURL is the provider's end-session URL, or "".
	LogoutURL(ctx context.Context, postLogout string) string
}

// ssoStateCookie binds a sign-in in progress to the browser that began
// it: the callback's state must equal it (no login CSRF: a code obtained
// by someone else cannot be finished in this browser).
const ssoStateCookie = "arca_sso_state"

// ssoLogin starts an OIDC sign-in: a state cookie, then the provider.
// Anonymous visitors may start few per address (auth.AllowAnonymous).
func (h *Handler) ssoLogin(w http.ResponseWriter, r *http.Request) error {
	if h.SSO == nil {
		return errs.E(errs.NotFound, "single sign-on is not configured")
	}
	ctx := r.Context()
	if err := h.auth.AllowAnonymous(ctx); err != nil {
		return err
	}
	to, state, err := h.SSO.Begin(ctx, safeNext(r.URL.Query().Get("next")))
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: ssoStateCookie, Value: state, Path: "/ui/sso/", MaxAge: 600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// ssoCallback finishes an OIDC sign-in: the state must match the
// browser's cookie and a sign-in in progress; the account is synced
// (created on first sign-in, groups and roles replaced) and a session
// starts.
func (h *Handler) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	if h.SSO == nil {
		return errs.E(errs.NotFound, "single sign-on is not configured")
	}
	ctx := r.Context()
	q := r.URL.Query()
	http.SetCookie(w, &http.Cookie{Name: ssoStateCookie, Value: "", Path: "/ui/sso/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	refuse := func(status int, msg string) error {
		browsable, _ := h.anyPublic(ctx)
		return h.render(w, r, status, "login", Page{Title: "Sign in", Data: loginData{Error: msg, Browsable: browsable, SSOName: h.SSO.Name()}})
	}
	if e := q.Get("error"); e != "" {
		return refuse(http.StatusUnauthorized, "The identity provider did not sign you in ("+e+").")
	}
	c, err := r.Cookie(ssoStateCookie)
	state := q.Get("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		return refuse(http.StatusBadRequest, "This sign-in was not started in this browser; start again.")
	}
	id, next, err := h.SSO.Finish(ctx, state, q.Get("code"))
	if err == nil {
		var p auth.Principal
		p, err = h.auth.SyncExternal(ctx, id)
		if err == nil {
			token, _, err := h.createSession(ctx, p, r)
			if err != nil {
				return err
			}
			setCookie(w, r, sessionCookie, token, int(h.sessionTTL.Seconds()))
			setCookie(w, r, preSessionCookie, "", -1)
			h.Audit.Record(auth.WithPrincipal(ctx, p), audit.Event{Action: "ui.login", RemoteAddr: r.RemoteAddr,
				Detail: map[string]any{"source": auth.SourceOIDC, "groups": id.Groups}})
			return h.redirect(w, r, safeNext(next), "")
		}
	}
	switch errs.KindOf(err) {
	case errs.Unauthenticated, errs.Denied, errs.Conflict:
		return refuse(http.StatusUnauthorized, errs.Message(err))
	}
	return err
}
