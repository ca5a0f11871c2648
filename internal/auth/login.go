package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// failureWindow is how long a failed login is remembered: a failure
// after a quiet window this long starts the count afresh.
const failureWindow = 24 * time.Hour

// Login checks a name and a secret, which may be the user's password or one
// of the user's tokens (with name TokenUser, any token). The client address
// in ctx (WithClient) keys the limits and the lockout.
//
// A password check goes through these steps, and answers the same way for
// names that exist and names that do not (so that answers do not reveal
// which accounts exist):
//
//  1. If the pair (name, client address) is locked — MaxFailures failed
//     checks in a row — the answer is errs.TooMany.
//  2. A pair verified recently is accepted from the positive cache; a
//     pair refused recently is refused from the negative cache, without
//     hashing (but counted as a failure).
//  3. The client address's limiter must have a token
//     (errs.TooMany otherwise), and a hashing slot must free up in time
//     (errs.Unavailable otherwise).
//  4. The secret is hashed against the stored hash — or, for unknown,
//     disabled and password-less accounts, against a dummy hash of the
//     same cost — and a failure is counted for the pair.
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
	client, fname := clientName(ClientFrom(ctx)), failureName(name)
	var (
		id                 sql.NullInt64
		uname, kind, role  sql.NullString
		hash, source       sql.NullString
		disabled           sql.NullBool
		lockedUntil, fails sql.NullInt64
	)
	// One query whether the name exists or not.
	err := s.db.QueryRowContext(ctx,
		`SELECT u.id, u.name, u.kind, u.role, u.password_hash, u.source, u.disabled, f.locked_until, f.failures
		 FROM (SELECT CAST($1 AS TEXT) AS name, CAST($2 AS TEXT) AS fname, CAST($3 AS TEXT) AS client) q
		 LEFT JOIN users u ON u.name = q.name
		 LEFT JOIN login_failures f ON f.name = q.fname AND f.client = q.client`, name, fname, client).
		Scan(&id, &uname, &kind, &role, &hash, &source, &disabled, &lockedUntil, &fails)
	if err != nil {
		return Principal{}, meta.Err(err)
	}
	now := time.Now()
	if lockedUntil.Int64 > now.UnixMilli() {
		return Principal{}, errs.E(errs.TooMany, "too many failed logins; try again in %s",
			time.UnixMilli(lockedUntil.Int64).Sub(now).Round(time.Second)+time.Second)
	}
	exists := id.Valid
	p := Principal{UserID: id.Int64, Name: uname.String, Kind: kind.String, Role: Role(role.String)}
	if s.opts.Directory != nil && (!exists || source.String == SourceLDAP) {
		return s.directoryLogin(ctx, p, exists && disabled.Bool, name, secret, fname, client, fails.Valid, now)
	}
	// Only local accounts have passwords here, and only those the local
	// password policy lets sign in (break-glass).
	usable := exists && !disabled.Bool && hash.String != "" && source.String == SourceLocal && s.localPasswordAllowed(uname.String)
	stored := ""
	if usable {
		stored = hash.String
	}
	key := credKey(name, secret, stored)
	if usable && s.ok.hit(key, p.UserID, now) {
		return p, s.clearFailures(ctx, fname, client, fails.Valid)
	}
	// Only outcomes that depend on the secret alone are cached as refused;
	// a disabled account's may change without its hash changing.
	cacheRefusal := !exists || usable
	if cacheRefusal && s.bad.hit(key, 0, now) {
		// No hashing, but still a failure: a client repeating a wrong
		// password locks its pair as it always did.
		return Principal{}, s.recordFailure(ctx, fname, client, now)
	}
	if err := s.guard.allow(client, now); err != nil {
		return Principal{}, err
	}
	check := dummyHash
	if usable {
		check = stored
	}
	ok, err := s.guard.hash(ctx, func() bool { return CheckPassword(check, secret) })
	if err != nil {
		return Principal{}, err
	}
	if !usable || !ok {
		if cacheRefusal {
			s.bad.put(key, 0, now)
		}
		return Principal{}, s.recordFailure(ctx, fname, client, now)
	}
	s.ok.put(key, p.UserID, now)
	return p, s.clearFailures(ctx, fname, client, fails.Valid)
}

// failureName is the lockout key of a user name as sent: the name itself,
// or a hash of an implausibly long one (the table must not store
// arbitrary client input).
func failureName(name string) string {
	if len(name) <= 128 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// recordFailure counts a failed login of (name, client) and locks the pair
// once it has failed MaxFailures times in a row. It returns the error the
// failed login answers.
func (s *Service) recordFailure(ctx context.Context, fname, client string, now time.Time) error {
	var failures int
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO login_failures (name, client, failures, locked_until, updated_at) VALUES ($1, $2, 1, 0, $3)
		 ON CONFLICT (name, client) DO UPDATE SET
		   failures = CASE WHEN login_failures.updated_at < $4 THEN 1 ELSE login_failures.failures + 1 END,
		   updated_at = excluded.updated_at
		 RETURNING failures`, fname, client, now.UnixMilli(), now.Add(-failureWindow).UnixMilli()).Scan(&failures)
	if err != nil {
		return meta.Err(err)
	}
	if failures >= s.opts.MaxFailures {
		lock := s.opts.Lockout << min(failures-s.opts.MaxFailures, 20)
		lock = min(lock, s.opts.MaxLockout)
		if _, err := s.db.ExecContext(ctx, `UPDATE login_failures SET locked_until = $1 WHERE name = $2 AND client = $3`,
			now.Add(lock).UnixMilli(), fname, client); err != nil {
			return meta.Err(err)
		}
	}
	s.pruneFailures(ctx, now)
	return errUnauthenticated
}

// clearFailures forgets the failures of a pair after a successful login.
func (s *Service) clearFailures(ctx context.Context, fname, client string, hadFailures bool) error {
	if !hadFailures {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE name = $1 AND client = $2`, fname, client)
	return meta.Err(err)
}

// pruneFailures deletes rows of pairs that are neither locked nor recent,
// at most once a minute per process; failing is harmless.
func (s *Service) pruneFailures(ctx context.Context, now time.Time) {
	last := s.lastPrune.Load()
	if now.UnixMilli()-last < 60_000 || !s.lastPrune.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE updated_at < $1 AND locked_until < $2`,
		now.Add(-failureWindow).UnixMilli(), now.UnixMilli())
}
