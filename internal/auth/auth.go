// Package auth is arca's one identity and permission model: users, robot
// accounts and tokens; roles on repositories; and Authorize, the one
// function every protocol handler calls before it reads or changes a
// repository.
package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Options tune authentication. Zero values take the defaults.
type Options struct {
	// MaxFailures consecutive failed logins of one name from one client
	// address lock that pair; each further failure doubles the lock,
	// starting at Lockout, up to MaxLockout.
	MaxFailures int
	Lockout     time.Duration
	MaxLockout  time.Duration
	// CacheTTL is how long the outcome of a password check is remembered
	// (0: never).
	CacheTTL time.Duration
	// HashSlots is how many password hashes may run at once (default:
	// half the CPUs, at least one); HashWait is how long a check waits for a slot
	// before the request is refused as unavailable (default 2s).
	HashSlots int
	HashWait  time.Duration
	// CheckRate and CheckBurst limit password checks (hashes) per client
	// address (defaults: 1 per second, burst 30).
	CheckRate  float64
	CheckBurst int
	// TokenCredentials is what a request authenticated by token may do
	// with credentials: TokenCredentialsBounded (default) or
	// TokenCredentialsNone. See credentials.go.
	TokenCredentials string
	// Providers are the identity providers whose accounts sign in here
	// (by source: SourceLDAP, SourceOIDC), with how their groups map to
	// roles (external.go).
	Providers map[string]Provider
	// Directory, when set, checks the passwords of names that are not
	// local accounts (LDAP; directory.go).
	Directory Directory
	// LocalPasswords is LocalPasswordsAll (default) or
	// LocalPasswordsBreakGlass: then only the local accounts named in
	// BreakGlass sign in with a password.
	LocalPasswords string
	BreakGlass     []string
}

// Service authenticates requests and authorizes actions.
type Service struct {
	db   *meta.DB
	opts Options

	guard *guard
	// ok and bad remember recent password checks (cache.go).
	ok, bad *credCache
	// objectGuard narrows reads of some buckets' objects (objects.go).
	objectGuard ObjectGuard
	// lastPrune is when old login_failures rows were last deleted (Unix ms).
	lastPrune atomic.Int64
	// keys seals S3 secret access keys at rest (accesskeys.go).
	keys *keyring.Keyring
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
	if opts.HashSlots <= 0 {
		// Half the CPUs: a flood of logins leaves the other half to
		// everything else (tokens, cached passwords, the database).
		opts.HashSlots = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if opts.HashWait <= 0 {
		opts.HashWait = 2 * time.Second
	}
	if opts.CheckRate <= 0 {
		opts.CheckRate = 1
	}
	if opts.CheckBurst <= 0 {
		opts.CheckBurst = 30
	}
	if opts.TokenCredentials == "" {
		opts.TokenCredentials = TokenCredentialsBounded
	}
	s := &Service{
		db:    db,
		keys:  keys,
		opts:  opts,
		guard: newGuard(opts.HashSlots, opts.HashWait, opts.CheckRate, opts.CheckBurst),
		ok:    newCredCache(opts.CacheTTL, 10_000),
		bad:   newCredCache(opts.CacheTTL, 10_000),
	}
	return s
}

var errUnauthenticated = errs.E(errs.Unauthenticated, "invalid credentials")

// Authenticate reads the credentials a request carries — Basic (a password,
// or a token as the password) or Bearer (a token) — and returns the
// principal. A request without credentials is anonymous; wrong credentials
// are an errs.Unauthenticated error; a locked name or a client address
// with too many failures is errs.TooMany; no free password-hashing slot is
// errs.Unavailable.
func (s *Service) Authenticate(ctx context.Context, r *http.Request) (Principal, error) {
	if p, ok := Internal(ctx); ok {
		return p, nil
	}
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
		if !ClientFrom(ctx).IsValid() {
			if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
				ctx = WithClient(ctx, ap.Addr())
			}
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

// CanRead is Authorize of a read by the principal ctx carries: the check
// groups make on their members (a repo.ReadCheck).
func (s *Service) CanRead(ctx context.Context, r *repo.Repository) error {
	return s.Authorize(ctx, From(ctx), r, Read)
}

// RoleOn returns p's effective role on r: the highest of its global role,
// its role granted on r, and the role its provider's groups give on r.
func (s *Service) RoleOn(ctx context.Context, p Principal, r *repo.Repository) (Role, error) {
	if p.Anonymous() {
		return NoRole, nil
	}
	if p.Role == Admin {
		return Admin, nil
	}
	role, err := s.boundRole(ctx, p, r)
	if err != nil {
		return NoRole, err
	}
	return maxRole(p.Role, role), nil
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
