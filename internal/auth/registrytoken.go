package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Access is one grant of a registry token, as the Docker token
// specification writes it: type "repository", a name, and actions such as
// "pull", "push", "delete" or "*".
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

var scopePattern = regexp.MustCompile(`^([a-z0-9]+)(?:\([a-z0-9]+\))?:(.+):([a-z*]+(?:,[a-z*]+)*)$`)

// ParseScope parses a scope parameter: "repository:library/app:pull,push".
func ParseScope(s string) (Access, error) {
	m := scopePattern.FindStringSubmatch(s)
	if m == nil || len(s) > 512 {
		return Access{}, errs.E(errs.Invalid, "invalid scope %q", s)
	}
	return Access{Type: m[1], Name: m[2], Actions: strings.Split(m[3], ",")}, nil
}

// Allows reports whether the grants include action on the named resource.
func Allows(grants []Access, typ, name, action string) bool {
	for _, g := range grants {
		if g.Type == typ && g.Name == name && (slices.Contains(g.Actions, action) || slices.Contains(g.Actions, "*")) {
			return true
		}
	}
	return false
}

// RegistryTokens issues and verifies the short-lived bearer tokens of the
// Docker token flow. The signing key lives in the database so that a token
// issued by one arca process is accepted by every other.
type RegistryTokens struct {
	key     []byte
	service string
	ttl     time.Duration
	svc     *Service
}

// registryClaims name the user by ID, name (the subject) and the
// account's creation time: an ID alone could name a later account if IDs
// were ever reused (SQLite reused them before migration 00012), so a token
// of a deleted account never authenticates another one.
type registryClaims struct {
	jwt.RegisteredClaims
	UserID int64 `json:"uid,omitempty"`
	// UserCreated is the account's created_at (Unix ms), its generation.
	UserCreated int64    `json:"ugen,omitempty"`
	Access      []Access `json:"access"`
}

// NewRegistryTokens loads the signing key (a server key in
// internal/keyring), creating it on first use.
func NewRegistryTokens(ctx context.Context, svc *Service, service string, ttl time.Duration) (*RegistryTokens, error) {
	k, err := svc.keys.Key(ctx, "registry_token_key")
	if err != nil {
		return nil, fmt.Errorf("registry token key: %w", err)
	}
	return &RegistryTokens{key: k, service: service, ttl: ttl, svc: svc}, nil
}

// Service is the service name tokens are issued for.
func (t *RegistryTokens) Service() string { return t.service }

// TTL is how long an issued token is valid.
func (t *RegistryTokens) TTL() time.Duration { return t.ttl }

// Issue signs a token for p granting exactly grants. It expires after the
// configured TTL, or with the token p authenticated with, if that is sooner.
func (t *RegistryTokens) Issue(ctx context.Context, p Principal, grants []Access) (string, time.Time, error) {
	now := time.Now()
	if grants == nil {
		grants = []Access{}
	}
	expires := now.Add(t.ttl)
	if p.TokenExpiresAt != 0 && time.UnixMilli(p.TokenExpiresAt).Before(expires) {
		expires = time.UnixMilli(p.TokenExpiresAt)
	}
	var generation int64
	if !p.Anonymous() {
		if err := t.svc.db.QueryRowContext(ctx, `SELECT created_at FROM users WHERE id = $1`, p.UserID).Scan(&generation); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return "", now, errUnauthenticated
			}
			return "", now, meta.Err(err)
		}
	}
	claims := registryClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "arca",
			Subject:   p.Name,
			Audience:  jwt.ClaimStrings{t.service},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(expires),
			ID:        RandomSecret(12),
		},
		UserID:      p.UserID,
		UserCreated: generation,
		Access:      grants,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	return s, now, err
}

// LooksLikeJWT reports whether s has a JWT's three dot-separated parts.
func LooksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 && !LooksLikeToken(s) }

// Verify checks a registry token and returns its principal — reloaded from
// the database, so a disabled or deleted account loses access at once — and
// its grants.
func (t *RegistryTokens) Verify(ctx context.Context, token string) (Principal, []Access, error) {
	var claims registryClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience(t.service), jwt.WithIssuer("arca"), jwt.WithExpirationRequired())
	if err != nil {
		return Principal{}, nil, errs.Wrap(err, errs.Unauthenticated, "invalid or expired token")
	}
	p := Principal{}
	if claims.UserID != 0 { // 0: an anonymous token
		if p, err = t.svc.principalByID(ctx, claims.UserID, claims.Subject, claims.UserCreated); err != nil {
			return Principal{}, nil, err
		}
	}
	p.Scoped, p.Grants = true, claims.Access
	return p, claims.Access, nil
}

// principalByID loads an enabled account, which must still have the name
// and creation time the token was issued for.
func (s *Service) principalByID(ctx context.Context, id int64, name string, created int64) (Principal, error) {
	var p Principal
	var role string
	var disabled bool
	var createdAt int64
	err := s.db.QueryRowContext(ctx, `SELECT id, name, kind, role, disabled, created_at FROM users WHERE id = $1`, id).
		Scan(&p.UserID, &p.Name, &p.Kind, &role, &disabled, &createdAt)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (disabled || p.Name != name || createdAt != created)) {
		return Principal{}, errUnauthenticated
	}
	if err != nil {
		return Principal{}, meta.Err(err)
	}
	p.Role = Role(role)
	return p, nil
}
