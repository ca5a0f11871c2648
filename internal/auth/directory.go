package auth

import (
	"context"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// Directory checks the passwords of a directory's accounts (LDAP) for
// Login. Implementations bound their own concurrency (a directory that
// cannot take another bind in time is errs.Unavailable).
type Directory interface {
	// Authenticate checks name's password with the directory and
	// describes the account. Wrong passwords and unknown names are
	// errs.Unauthenticated; a directory that cannot be reached or
	// answers in error is errs.Unavailable.
	Authenticate(ctx context.Context, name, password string) (Identity, error)
}

// maxDirectoryName bounds the names sent to the directory.
const maxDirectoryName = 256

// directoryLogin is Login for names the directory answers for: names of
// no account yet, and accounts of source ldap. It keeps every rule of a
// password check — the lock per (name, client address), the positive and
// negative caches, the per-address limit on checks that cost something
// (here a bind and searches instead of a hash) — so anonymous callers
// make the server bind no more often than they could make it hash.
// A successful bind syncs the account's groups (SyncExternal).
func (s *Service) directoryLogin(ctx context.Context, p Principal, disabled bool, name, secret, fname, client string, hadFailures bool, now time.Time) (Principal, error) {
	key := credKey(name, secret, "\x00directory")
	if p.UserID != 0 && !disabled && s.ok.hit(key, p.UserID, now) {
		return p, s.clearFailures(ctx, fname, client, hadFailures)
	}
	if disabled || len(name) > maxDirectoryName || s.bad.hit(key, 0, now) {
		// A disabled account is refused without asking the directory;
		// the periodic sync enables the ones it disabled when the
		// directory allows them again.
		return Principal{}, s.recordFailure(ctx, fname, client, now)
	}
	if err := s.guard.allow(client, now); err != nil {
		return Principal{}, err
	}
	id, err := s.opts.Directory.Authenticate(ctx, name, secret)
	if errs.Is(err, errs.Unauthenticated) {
		s.bad.put(key, 0, now)
		return Principal{}, s.recordFailure(ctx, fname, client, now)
	}
	if err != nil {
		return Principal{}, err
	}
	p, err = s.SyncExternal(ctx, id)
	if err != nil {
		if errs.Is(err, errs.Denied) || errs.Is(err, errs.Conflict) {
			// The password was right but the account may not sign in:
			// answered as a refusal, not cached (a sync may change it).
			return Principal{}, errs.E(errs.Unauthenticated, "%s", errs.Message(err))
		}
		return Principal{}, err
	}
	s.ok.put(key, p.UserID, now)
	return p, s.clearFailures(ctx, fname, client, hadFailures)
}
