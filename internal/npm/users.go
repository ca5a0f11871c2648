package npm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/repo"
)

// npmRepository resolves a repository of this format without checking a
// role: logging in and asking who one is need none.
func (h *Handler) npmRepository(ctx context.Context, name string) (*repo.Repository, error) {
	rp, err := h.repos.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if rp.Format != Format {
		return nil, errs.E(errs.NotFound, "repository %q is a %s repository, not npm", rp.Name, rp.Format)
	}
	return rp, nil
}

// root answers GET /npm/<repo>/, which some tools probe.
func (h *Handler) root(c *call) error {
	rp, err := h.repository(c.r.Context(), c.repo, auth.Read)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"db_name": rp.Name, "kind": rp.Kind})
}

// ping answers GET /-/ping (npm ping).
func (h *Handler) ping(c *call) error {
	if _, err := h.repository(c.r.Context(), c.repo, auth.Read); err != nil {
		return err
	}
	return httpx.WriteJSON(c.w, http.StatusOK, struct{}{})
}

// whoami answers GET /-/whoami (npm whoami) with the user the request's
// credentials name.
func (h *Handler) whoami(c *call) error {
	if _, err := h.npmRepository(c.r.Context(), c.repo); err != nil {
		return err
	}
	p := auth.From(c.r.Context())
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "not logged in: run npm login, or set _authToken for this registry in .npmrc")
	}
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]string{"username": p.Name})
}

// login answers PUT /-/user/org.couchdb.user:<name>, npm's legacy login
// (npm login --auth-type=legacy, and npm login's fallback when the web
// login is not offered): for a valid name and password it issues an arca
// token, which npm stores as the registry's _authToken.
func (h *Handler) login(c *call, user string) error {
	ctx := c.r.Context()
	rp, err := h.npmRepository(ctx, c.repo)
	if err != nil {
		return err
	}
	var body struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 64<<10))
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "reading the request body failed")
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return errs.E(errs.Invalid, "invalid login document: %s", jsonError(err))
	}
	if body.Name == "" {
		body.Name = user
	}
	if body.Name != user {
		return errs.E(errs.Invalid, "the document names user %q, the URL %q", truncate(body.Name, 100), truncate(user, 100))
	}
	if body.Password == "" {
		return errs.E(errs.Invalid, "a password is required")
	}
	p, err := h.auth.Login(ctx, body.Name, body.Password)
	if err != nil {
		return err
	}
	tokenName := "npm login " + time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + " " + auth.RandomSecret(4)
	// The password may itself be a token: then what it may create is
	// bounded by it (no token that outlives it).
	secret, tok, err := h.auth.IssueToken(ctx, p, p.Name, tokenName, auth.TokenSpec{})
	if err != nil {
		return err
	}
	h.audit.Record(auth.WithPrincipal(ctx, p), audit.Event{Actor: p.Name, Action: "token.create", Repository: rp.Name,
		Subject: p.Name, RemoteAddr: c.r.RemoteAddr, Detail: map[string]any{"token": tok.Name, "via": "npm login"}})
	return httpx.WriteJSON(c.w, http.StatusCreated, map[string]any{
		"ok": true, "id": "org.couchdb.user:" + p.Name, "rev": "1-" + newETag(), "token": secret,
	})
}

// userDoc answers GET /-/user/org.couchdb.user:<name> for the user
// themselves.
func (h *Handler) userDoc(c *call, user string) error {
	if _, err := h.npmRepository(c.r.Context(), c.repo); err != nil {
		return err
	}
	p := auth.From(c.r.Context())
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	if p.Name != user && !p.IsAdmin() {
		return errs.E(errs.NotFound, "user %q not found", truncate(user, 100))
	}
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{
		"_id": "org.couchdb.user:" + user, "name": user, "type": "user", "roles": []string{},
	})
}

// logout answers DELETE /-/user/token/<token> (npm logout): it revokes the
// token the request authenticated with.
func (h *Handler) logout(c *call, token string) error {
	ctx := c.r.Context()
	if _, err := h.npmRepository(ctx, c.repo); err != nil {
		return err
	}
	p := auth.From(ctx)
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	scheme, cred, _ := strings.Cut(c.r.Header.Get("Authorization"), " ")
	if p.TokenID == 0 || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(cred) != token {
		return errs.E(errs.Denied, "log out with the token being revoked")
	}
	tokens, err := h.auth.ListTokens(ctx, p.Name)
	if err != nil {
		return err
	}
	for _, t := range tokens {
		if t.ID == p.TokenID {
			if err := h.auth.RevokeToken(ctx, p.Name, t.Name); err != nil {
				return err
			}
			h.audit.Record(ctx, audit.Event{Action: "token.revoke", Subject: p.Name, RemoteAddr: c.r.RemoteAddr,
				Detail: map[string]any{"token": t.Name, "via": "npm logout"}})
			return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"ok": true})
		}
	}
	return errs.E(errs.NotFound, "token not found")
}
