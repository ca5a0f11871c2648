package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// TokenPrefix starts every token secret, so secret scanners and people can
// recognise one.
const TokenPrefix = "arca_"

// TokenUser is the user name clients may send with a token as the password
// in Basic credentials (PyPI's convention), instead of the token's owner.
const TokenUser = "__token__"

// Token describes a token; its secret is shown once at creation and only
// its sha256 is stored.
type Token struct {
	ID        int64  `json:"id"`
	User      string `json:"user"`
	Name      string `json:"name"`
	Prefix    string `json:"prefix"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
	// ManageCredentials: the token may create and revoke tokens and
	// access keys and change passwords (within the limits of
	// credentials.go).
	ManageCredentials bool  `json:"manage_credentials"`
	LastUsedAt        int64 `json:"last_used_at,omitempty"`
	CreatedAt         int64 `json:"created_at"`
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LooksLikeToken reports whether s has the shape of an arca token.
func LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, TokenPrefix) && len(s) > len(TokenPrefix)+20
}

// CreateToken issues a token for the named user or robot, with every
// permission of its owner. ttl 0 means it never expires. The secret is
// returned once and never stored. It is for trusted callers (the command
// line, a password login); requests use IssueToken.
func (s *Service) CreateToken(ctx context.Context, userName, tokenName string, ttl time.Duration) (secret string, t *Token, err error) {
	var expires int64
	if ttl > 0 {
		expires = time.Now().Add(ttl).UnixMilli()
	}
	return s.insertToken(ctx, userName, tokenName, expires, true)
}

func (s *Service) insertToken(ctx context.Context, userName, tokenName string, expires int64, manageCredentials bool) (secret string, t *Token, err error) {
	if tokenName == "" || len(tokenName) > 100 {
		return "", nil, errs.E(errs.Invalid, "token name must be 1-100 characters")
	}
	u, err := s.GetUser(ctx, userName)
	if err != nil {
		return "", nil, err
	}
	secret = TokenPrefix + RandomSecret(30)
	t = &Token{User: u.Name, Name: tokenName, Prefix: secret[:len(TokenPrefix)+6], ExpiresAt: expires,
		ManageCredentials: manageCredentials, CreatedAt: meta.Now()}
	err = s.db.QueryRowContext(ctx,
		`INSERT INTO tokens (user_id, name, hash, prefix, expires_at, manage_credentials, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		u.ID, tokenName, hashToken(secret), t.Prefix, t.ExpiresAt, manageCredentials, t.CreatedAt).Scan(&t.ID)
	if meta.IsUniqueViolation(err) {
		return "", nil, errs.E(errs.Conflict, "user %q already has a token named %q", userName, tokenName)
	}
	if err != nil {
		return "", nil, meta.Err(err)
	}
	return secret, t, nil
}

// ListTokens lists a user's tokens (without secrets).
func (s *Service) ListTokens(ctx context.Context, userName string) ([]*Token, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT t.id, u.name, t.name, t.prefix, t.expires_at, t.manage_credentials, t.last_used_at, t.created_at
		 FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = $1 ORDER BY t.name`, userName)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		var t Token
		if err := rows.Scan(&t.ID, &t.User, &t.Name, &t.Prefix, &t.ExpiresAt, &t.ManageCredentials, &t.LastUsedAt, &t.CreatedAt); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, &t)
	}
	return out, meta.Err(rows.Err())
}

// RevokeToken deletes a user's token by name.
func (s *Service) RevokeToken(ctx context.Context, userName, tokenName string) error {
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM tokens WHERE name = $1 AND user_id = (SELECT id FROM users WHERE name = $2)`, tokenName, userName)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "user %q has no token named %q", userName, tokenName)
	}
	return nil
}

// tokenPrincipal resolves a token secret to its owner. Expired tokens,
// tokens of disabled users and tokens of external accounts not synced
// within their provider's MaxSyncAge are rejected.
func (s *Service) tokenPrincipal(ctx context.Context, secret string) (Principal, error) {
	var p Principal
	var role string
	var expires int64
	var disabled bool
	var source string
	var syncedAt int64
	err := s.db.QueryRowContext(ctx,
		`SELECT t.id, t.expires_at, t.manage_credentials, u.id, u.name, u.kind, u.role, u.disabled, u.source, u.synced_at
		 FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1`,
		hashToken(secret)).Scan(&p.TokenID, &expires, &p.TokenCredentials, &p.UserID, &p.Name, &p.Kind, &role, &disabled, &source, &syncedAt)
	if err != nil {
		if errs.Is(meta.Err(err), errs.NotFound) {
			return Principal{}, errUnauthenticated
		}
		return Principal{}, meta.Err(err)
	}
	if disabled || (expires != 0 && expires < meta.Now()) {
		return Principal{}, errUnauthenticated
	}
	if prov, ok := s.opts.Providers[source]; ok && source != SourceLocal && prov.MaxSyncAge > 0 &&
		meta.Now()-syncedAt > prov.MaxSyncAge.Milliseconds() {
		return Principal{}, errs.E(errs.Unauthenticated, "the tokens of %s work for %s after a sign-in; sign in to arca again (arca login)",
			p.Name, prov.MaxSyncAge)
	}
	p.Role = Role(role)
	p.TokenExpiresAt = expires
	// Recording last use is best effort and throttled to once a minute.
	now := meta.Now()
	s.db.ExecContext(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2 AND last_used_at < $3`, now, p.TokenID, now-60_000)
	return p, nil
}
