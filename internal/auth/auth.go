// Package auth is arca's one identity and permission model: users, robot
// accounts and tokens; roles on repositories; and Authorize, the one
// function every protocol handler calls before it reads or changes a
// repository.
package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Options tune authentication.
type Options struct {
	// MaxFailures consecutive failed logins lock an account; each further
	// failure doubles the lock, starting at Lockout, up to MaxLockout.
	MaxFailures int
	Lockout     time.Duration
	MaxLockout  time.Duration
	// CacheTTL is how long a verified password is remembered (0: never).
	CacheTTL time.Duration
}

// Service authenticates requests and authorizes actions.
type Service struct {
	db   *meta.DB
	opts Options

	// cache remembers recently verified passwords so that clients sending
	// Basic credentials on every request are not slowed by argon2. It is
	// keyed by a hash of name and password; it holds no secret, and losing
	// it costs only time.
	mu    sync.Mutex
	cache map[[32]byte]cached
	// dummyHash equalizes the time of a login for an unknown user.
	dummyHash string
	// keys seals S3 secret access keys at rest (accesskeys.go).
	keys *keyring.Keyring
}

type cached struct {
	userID  int64
	expires time.Time
}

// New returns a Service; keys holds the server keys that seal secrets.
func New(db *meta.DB, keys *keyring.Keyring, opts Options) *Service {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.Lockout <= 0 {
		opts.Lockout = time.Second
	}
	if opts.MaxLockout <= 0 {
		opts.MaxLockout = 15 * time.Minute
	}
	return &Service{db: db, keys: keys, opts: opts, cache: map[[32]byte]cached{}, dummyHash: HashPassword(RandomSecret(16))}
}

var errUnauthenticated = errs.E(errs.Unauthenticated, "invalid credentials")

// Authenticate reads the credentials a request carries — Basic (a password,
// or a token as the password) or Bearer (a token) — and returns the
// principal. A request without credentials is anonymous; wrong credentials
// are an errs.Unauthenticated error; a locked account is errs.TooMany.
func (s *Service) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		name, secret, ok := ParseBasic(cred)
		if !ok {
			return Principal{}, errs.E(errs.Unauthenticated, "malformed Basic credentials")
		}
		return s.Login(ctx, name, secret)
	case "bearer", "token":
		if !LooksLikeToken(cred) {
			return Principal{}, errUnauthenticated
		}
		return s.tokenPrincipal(ctx, cred)
	}
	return Principal{}, errs.E(errs.Unauthenticated, "unsupported authorization scheme")
}

// ParseBasic decodes the credentials of a Basic Authorization header.
func ParseBasic(cred string) (name, secret string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(cred)
	if err != nil {
		return "", "", false
	}
	name, secret, ok = strings.Cut(string(b), ":")
	if !ok || name == "" || secret == "" {
		return "", "", false
	}
	return name, secret, true
}

// Login checks a name and a secret, which may be the user's password or one
// of the user's tokens (with name TokenUser, any token). Failed attempts
// count towards the account's lock.
func (s *Service) Login(ctx context.Context, name, secret string) (Principal, error) {
	if LooksLikeToken(secret) {
		p, err := s.tokenPrincipal(ctx, secret)
		if err != nil {
			return Principal{}, err
		}
		if name != TokenUser && name != p.Name {
			return Principal{}, errUnauthenticated
		}
		return p, nil
	}
	var (
		p        Principal
		role     string
		hash     string
		disabled bool
		locked   int64
	)
	err := s.db.QueryRowContext(ctx,
		`SELECT id, name, kind, role, password_hash, disabled, locked_until FROM users WHERE name = $1`, name).
		Scan(&p.UserID, &p.Name, &p.Kind, &role, &hash, &disabled, &locked)
	if err == sql.ErrNoRows {
		CheckPassword(s.dummyHash, secret) // same cost as a real check
		return Principal{}, errUnauthenticated
	}
	if err != nil {
		return Principal{}, meta.Err(err)
	}
	p.Role = Role(role)
	now := time.Now()
	if locked > now.UnixMilli() {
		return Principal{}, errs.E(errs.TooMany, "too many failed logins; try again in %s",
			time.Until(time.UnixMilli(locked)).Round(time.Second)+time.Second)
	}
	if disabled || hash == "" {
		return Principal{}, errUnauthenticated
	}
	key := sha256.Sum256([]byte(name + "\x00" + secret + "\x00" + hash))
	if s.cacheHit(key, p.UserID, now) {
		return p, nil
	}
	if !CheckPassword(hash, secret) {
		return Principal{}, s.recordFailure(ctx, p.UserID)
	}
	s.cachePut(key, p.UserID, now)
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = $1 AND failed_logins > 0`, p.UserID); err != nil {
		return Principal{}, meta.Err(err)
	}
	return p, nil
}

// recordFailure counts a failed login and locks the account once it has
// failed MaxFailures times in a row.
func (s *Service) recordFailure(ctx context.Context, userID int64) error {
	var failures int
	if err := s.db.QueryRowContext(ctx,
		`UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins`, userID).Scan(&failures); err != nil {
		return meta.Err(err)
	}
	if failures >= s.opts.MaxFailures {
		lock := s.opts.Lockout << min(failures-s.opts.MaxFailures, 20)
		lock = min(lock, s.opts.MaxLockout)
		if _, err := s.db.ExecContext(ctx, `UPDATE users SET locked_until = $1 WHERE id = $2`, time.Now().Add(lock).UnixMilli(), userID); err != nil {
			return meta.Err(err)
		}
	}
	return errUnauthenticated
}

func (s *Service) cacheHit(key [32]byte, userID int64, now time.Time) bool {
	if s.opts.CacheTTL <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cache[key]
	return ok && c.userID == userID && now.Before(c.expires)
}

func (s *Service) cachePut(key [32]byte, userID int64, now time.Time) {
	if s.opts.CacheTTL <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 10000 {
		for k, c := range s.cache {
			if now.After(c.expires) {
				delete(s.cache, k)
			}
		}
		if len(s.cache) > 10000 {
			clear(s.cache)
		}
	}
	s.cache[key] = cached{userID: userID, expires: now.Add(s.opts.CacheTTL)}
}

// Authorize decides whether p may perform action on r. It is the one
// permission check of every surface. Anonymous principals may read public
// repositories; everyone else needs a role, global or on r, that includes
// the action. A refused anonymous request is errs.Unauthenticated (so that
// clients ask for credentials); a refused authenticated one is errs.Denied.
func (s *Service) Authorize(ctx context.Context, p Principal, r *repo.Repository, action Action) error {
	if action == Read && r.Public() {
		return nil
	}
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	role, err := s.RoleOn(ctx, p, r)
	if err != nil {
		return err
	}
	if role.Includes(action.required()) {
		return nil
	}
	if role == NoRole && !r.Public() {
		return errs.E(errs.Denied, "%s has no access to repository %q", p.Name, r.Name)
	}
	return errs.E(errs.Denied, "%s may not %s in repository %q", p.Name, action, r.Name)
}

// RoleOn returns p's effective role on r: the higher of its global role and
// its role on r.
func (s *Service) RoleOn(ctx context.Context, p Principal, r *repo.Repository) (Role, error) {
	if p.Anonymous() {
		return NoRole, nil
	}
	if p.Role == Admin {
		return Admin, nil
	}
	var role string
	err := s.db.QueryRowContext(ctx, `SELECT role FROM repository_roles WHERE user_id = $1 AND repository_id = $2`, p.UserID, r.ID).Scan(&role)
	if err != nil && err != sql.ErrNoRows {
		return NoRole, meta.Err(err)
	}
	return maxRole(p.Role, Role(role)), nil
}

// RequireAdmin allows only server administrators.
func RequireAdmin(p Principal) error {
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	if !p.IsAdmin() {
		return errs.E(errs.Denied, "administrator role required")
	}
	return nil
}
