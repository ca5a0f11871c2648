package ui

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// access is who may reach a page at all; what a page shows is further
// bounded by auth.Service.Authorize on each repository.
type access int

const (
	anyone   access = iota // anonymous visitors too (they see public repositories)
	signedIn               // anonymous visitors are sent to the sign-in page
	admins                 // server administrators; others get 403
)

// csrfField is the name of the hidden form field holding the anti-forgery
// token; every form that posts carries it ({{template "csrf" $}}).
const csrfField = "csrf"

// handle registers fn at pattern behind the UI's middleware:
//
//  1. security headers (CSP without inline scripts, no framing, nosniff);
//  2. the session from the cookie, its principal put into the context
//     (auth.From), anonymous otherwise;
//  3. for every method but GET and HEAD: the browser's cross-origin checks
//     (Sec-Fetch-Site, Origin) and the anti-forgery token — the session's,
//     or before sign-in the pre-session cookie's — else 403;
//  4. the access level: anonymous visitors of a signed-in page are
//     redirected to sign in, non-administrators of an admin page get 403;
//  5. fn; an error it returns becomes the HTML error page with its status
//     (or, for an anonymous visitor refused with Unauthenticated, the
//     redirect to sign in).
func (h *Handler) handle(mux *http.ServeMux, pattern string, a access, fn httpx.HandlerFunc) {
	mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer httpx.RecoverPanic(w, r, h.log, "ui", func(w http.ResponseWriter, r *http.Request, err error) {
			h.renderError(w, r, http.StatusInternalServerError, errs.Message(err))
		})
		ctx := r.Context()
		httpx.SetSurface(ctx, "ui")
		securityHeaders(w.Header())
		var sess *Session
		if c, err := r.Cookie(sessionCookie); err == nil {
			s, err := h.lookupSession(ctx, c.Value)
			if err != nil {
				h.fail(w, r, err)
				return
			}
			sess = s
		}
		if sess != nil {
			ctx = auth.WithPrincipal(ctx, sess.Principal)
			ctx = withSession(ctx, sess)
			httpx.SetPrincipal(ctx, sess.Principal)
		}
		r = r.WithContext(ctx)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := h.checkForgery(r, sess); err != nil {
				h.fail(w, r, err)
				return
			}
		} else if sess == nil {
			h.ensurePreSession(w, r)
		}
		p := auth.From(ctx)
		switch {
		case a >= signedIn && p.Anonymous():
			h.fail(w, r, errs.E(errs.Unauthenticated, "sign in to see this page"))
			return
		case a == admins && !p.IsAdmin():
			h.fail(w, r, errs.E(errs.Denied, "this page is for administrators"))
			return
		}
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	}))
}

// securityHeaders forbid inline scripts and styles, framing and MIME
// sniffing for every UI response.
func securityHeaders(hd http.Header) {
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
}

// checkForgery refuses a state-changing request that a browser sent from
// another site, or whose form lacks the right anti-forgery token.
func (h *Handler) checkForgery(r *http.Request, sess *Session) error {
	if err := h.origin.Check(r); err != nil {
		return errs.E(errs.Denied, "cross-origin request refused")
	}
	want := ""
	if sess != nil {
		want = sess.CSRF
	} else if c, err := r.Cookie(preSessionCookie); err == nil {
		want = c.Value
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	got := r.PostFormValue(csrfField)
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		if sess == nil && r.URL.Path != loginPath {
			return errSessionInvalid
		}
		return errs.E(errs.Denied, "the form's anti-forgery token is missing or wrong; reload the page and try again")
	}
	return nil
}

// maxFormBytes bounds a posted form.
const maxFormBytes = 1 << 20

// ensurePreSession gives an anonymous browser the cookie whose value its
// forms echo (the sign-in form), unless it has one.
func (h *Handler) ensurePreSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(preSessionCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return
	}
	tok := randomToken()
	setCookie(w, r, preSessionCookie, tok, 0)
	r.AddCookie(&http.Cookie{Name: preSessionCookie, Value: tok}) // this response's forms use it too
}

// csrfToken is the anti-forgery token this request's forms must carry.
func csrfToken(r *http.Request) string {
	if s := sessionFrom(r.Context()); s != nil {
		return s.CSRF
	}
	if c, err := r.Cookie(preSessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// fail renders err: a redirect to the sign-in page for an anonymous visitor
// who must sign in, else the error page with err's status.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, httpx.ErrAborted) {
		return
	}
	if r.Context().Err() != nil {
		w.WriteHeader(httpx.StatusClientClosed)
		return
	}
	status := httpx.Status(err)
	if status == http.StatusUnauthorized && auth.From(r.Context()).Anonymous() && r.Method == http.MethodGet {
		http.Redirect(w, r, loginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	switch errs.KindOf(err) {
	case errs.Internal, errs.Unavailable:
		h.log.ErrorContext(r.Context(), "request failed", "surface", "ui", "err", err)
	default:
		h.log.DebugContext(r.Context(), "request refused", "surface", "ui", "err", err)
	}
	h.renderError(w, r, status, errs.Message(err))
}
