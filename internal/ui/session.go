package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Cookie names. The session cookie carries the only copy of the session's
// secret; the pre-session cookie carries the anti-forgery token of forms
// shown before sign-in (the sign-in form itself).
const (
	sessionCookie    = "arca_session"
	preSessionCookie = "arca_csrf"
	flashCookie      = "arca_flash"
)

// DefaultSessionTTL is how long a sign-in lasts when Deps.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// Session is a signed-in browser: who it acts as and its anti-forgery
// token. It lives in the ui_sessions table, so every arca process behind a
// load balancer knows it.
type Session struct {
	Hash      string // sha256 hex of the cookie's token; the row's key
	Principal auth.Principal
	CSRF      string
	ExpiresAt int64 // Unix milliseconds
}

type sessionKey struct{}

// sessionFrom returns the request's session, or nil when it is anonymous.
func sessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// createSession signs p in: it stores a new session (a fresh token, so a
// token planted before sign-in is never promoted) and returns the cookie's
// token. Expired sessions of every user are purged on the way.
func (h *Handler) createSession(ctx context.Context, p auth.Principal, r *http.Request) (token string, s *Session, err error) {
	now := time.Now()
	if _, err := h.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE expires_at < $1`, now.UnixMilli()); err != nil {
		return "", nil, meta.Err(err)
	}
	token = randomToken()
	s = &Session{Hash: hashToken(token), Principal: p, CSRF: randomToken(), ExpiresAt: now.Add(h.sessionTTL).UnixMilli()}
	ua := r.UserAgent()
	if len(ua) > 300 {
		ua = ua[:300]
	}
	_, err = h.db.ExecContext(ctx,
		`INSERT INTO ui_sessions (hash, user_id, csrf, remote_addr, user_agent, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.Hash, p.UserID, s.CSRF, r.RemoteAddr, ua, now.UnixMilli(), s.ExpiresAt)
	if err != nil {
		return "", nil, meta.Err(err)
	}
	return token, s, nil
}

// lookupSession resolves a cookie's token to its session with the user's
// current name, kind and role. An unknown or expired token, or one of a
// disabled account, is no session (nil, nil).
func (h *Handler) lookupSession(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, nil
	}
	s := &Session{Hash: hashToken(token)}
	var role string
	err := h.db.QueryRowContext(ctx,
		`SELECT u.id, u.name, u.kind, u.role, s.csrf, s.expires_at FROM ui_sessions s JOIN users u ON u.id = s.user_id
		 WHERE s.hash = $1 AND s.expires_at > $2 AND u.disabled = $3`, s.Hash, meta.Now(), false).
		Scan(&s.Principal.UserID, &s.Principal.Name, &s.Principal.Kind, &role, &s.CSRF, &s.ExpiresAt)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	s.Principal.Role = auth.Role(role)
	return s, nil
}

// deleteSession signs a session out.
func (h *Handler) deleteSession(ctx context.Context, s *Session) error {
	_, err := h.db.ExecContext(ctx, `DELETE FROM ui_sessions WHERE hash = $1`, s.Hash)
	return meta.Err(err)
}

// setCookie writes an HttpOnly, SameSite=Lax cookie for the whole site,
// Secure when the request came over TLS. maxAge < 0 deletes it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

// errSessionInvalid is what a signed-out form post gets.
var errSessionInvalid = errs.E(errs.Unauthenticated, "your session has ended; sign in again")

func withSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func nowMillis() int64 { return time.Now().UnixMilli() }
