package auth

import (
	"context"
	"database/sql"
	"path"
	"slices"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Sources of accounts (users.source). An external account has no password
// in arca; who it is and which groups it is in come from its provider.
const (
	SourceLocal = ""
	SourceLDAP  = "ldap"
	SourceOIDC  = "oidc"
)

// Provider is how arca treats the accounts of one identity provider.
type Provider struct {
	// Admin lists the groups whose members administer the server (the
	// global admin role).
	Admin []string
	// Repositories maps a group to repository name patterns (path.Match
	// syntax: "team-a-*", "*") and the role each grants its members.
	Repositories map[string]map[string]Role
	// Allowed, when set, lists the groups an account must be in to sign
	// in at all; an account in none of them is disabled at its next sync.
	Allowed []string
	// DefaultRole is the global role of members of no admin group.
	DefaultRole Role
	// MaxSyncAge: tokens of the provider's accounts are refused once the
	// account was last synced longer ago than this (0: no limit). It
	// bounds how long a token outlives a group change the provider cannot
	// be asked about (OIDC groups are only seen at sign-in).
	MaxSyncAge time.Duration
}

// Identity is an account as its provider describes it at sign-in or sync.
type Identity struct {
	Source     string // SourceLDAP or SourceOIDC
	ExternalID string // the LDAP entry's DN; the OIDC issuer and subject
	Name       string // the arca user name
	Email      string
	Groups     []string
}

// globalRole is the global role groups give.
func (p Provider) globalRole(groups []string) Role {
	for _, g := range p.Admin {
		if slices.Contains(groups, g) {
			return Admin
		}
	}
	return p.DefaultRole
}

// roleOn is the role groups give on the repository named name.
func (p Provider) roleOn(groups []string, name string) Role {
	best := NoRole
	for _, g := range groups {
		for pattern, role := range p.Repositories[g] {
			if ok, _ := path.Match(pattern, name); ok {
				best = maxRole(best, role)
			}
		}
	}
	return best
}

func (p Provider) allowed(groups []string) bool {
	if len(p.Allowed) == 0 {
		return true
	}
	for _, g := range p.Allowed {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// maxGroups bounds the groups kept of one account (a provider listing
// more is truncated; group names longer than maxGroupName are dropped).
const (
	maxGroups    = 1000
	maxGroupName = 256
)

// SyncExternal signs in or refreshes the account of id: it finds the
// account by (source, external ID), or creates it on first sign-in, and
// replaces its groups, global role and e-mail with what the provider says.
//
// Names never merge accounts: a first sign-in whose name belongs to any
// other account — a local one, or one of another provider or subject — is
// refused (errs.Conflict), and an administrator decides. An account an
// administrator disabled stays disabled (errs.Denied). An account outside
// the provider's allowed groups is disabled (sync_state 'removed', so a
// later sync that finds it allowed enables it again) and refused.
func (s *Service) SyncExternal(ctx context.Context, id Identity) (Principal, error) {
	prov, ok := s.opts.Providers[id.Source]
	if !ok {
		return Principal{}, errs.E(errs.Internal, "identity provider %q is not configured", id.Source)
	}
	if err := ValidateUserName(id.Name); err != nil {
		return Principal{}, errs.E(errs.Denied, "the identity provider names you %q, which is not a valid arca user name", id.Name)
	}
	if id.ExternalID == "" {
		return Principal{}, errs.E(errs.Internal, "identity without an external ID")
	}
	groups := cleanGroups(id.Groups)
	allowed := prov.allowed(groups)
	role := prov.globalRole(groups)
	now := meta.Now()
	p := Principal{Name: id.Name, Kind: KindUser, Role: role}
	var refused error
	err := s.db.WithTx(ctx, func(tx *sql.Tx) error {
		refused = nil
		var (
			name, state string
			disabled    bool
		)
		err := tx.QueryRowContext(ctx, `SELECT id, name, disabled, sync_state FROM users WHERE source = $1 AND external_id = $2`,
			id.Source, id.ExternalID).Scan(&p.UserID, &name, &disabled, &state)
		switch {
		case err == sql.ErrNoRows:
			if !allowed {
				refused = errs.E(errs.Denied, "you are in none of the groups allowed to use arca")
				return nil
			}
			err = tx.QueryRowContext(ctx,
				`INSERT INTO users (name, kind, email, password_hash, role, source, external_id, synced_at, created_at, updated_at)
				 VALUES ($1, $2, $3, '', $4, $5, $6, $7, $7, $7) RETURNING id`,
				id.Name, KindUser, id.Email, string(role), id.Source, id.ExternalID, now).Scan(&p.UserID)
			if meta.IsUniqueViolation(err) {
				refused = errs.E(errs.Conflict, "the user name %q belongs to another arca account; an administrator must rename or remove it before you can sign in", id.Name)
				return nil
			}
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			p.Name = name // the account keeps the name it was created with
			if disabled && state != "removed" {
				refused = errs.E(errs.Denied, "your arca account is disabled")
				return nil
			}
			if !allowed {
				refused = errs.E(errs.Denied, "you are in none of the groups allowed to use arca")
				_, err := tx.ExecContext(ctx, `UPDATE users SET disabled = $1, sync_state = 'removed', synced_at = $2, updated_at = $2 WHERE id = $3`,
					true, now, p.UserID)
				if err != nil {
					return err
				}
				groups = nil
			} else if _, err := tx.ExecContext(ctx,
				`UPDATE users SET email = $1, role = $2, disabled = $3, sync_state = '', synced_at = $4, updated_at = $4 WHERE id = $5`,
				id.Email, string(role), false, now, p.UserID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = $1`, p.UserID); err != nil {
			return err
		}
		for _, g := range groups {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, name) VALUES ($1, $2)`, p.UserID, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Principal{}, meta.Err(err)
	}
	if refused != nil {
		return Principal{}, refused
	}
	return p, nil
}

// RemoveExternal disables the account of a provider's identity that the
// provider no longer knows (a periodic sync found no such entry): its
// tokens, sessions and keys stop working. A later sync that finds it
// enables it again.
func (s *Service) RemoveExternal(ctx context.Context, source, externalID string) error {
	now := meta.Now()
	return s.db.WithTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE source = $1 AND external_id = $2`, source, externalID).Scan(&id)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return meta.Err(err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE users SET disabled = $1, sync_state = 'removed', synced_at = $2, updated_at = $2 WHERE id = $3 AND (disabled = $4 OR sync_state = 'removed')`,
			true, now, id, false); err != nil {
			return meta.Err(err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = $1`, id)
		return meta.Err(err)
	})
}

// ExternalAccount is an external account as the periodic sync sees it.
type ExternalAccount struct {
	Name       string
	ExternalID string
}

// ExternalAccounts lists the accounts of one provider (disabled ones
// too: a sync may enable those it disabled).
func (s *Service) ExternalAccounts(ctx context.Context, source string) ([]ExternalAccount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, external_id FROM users WHERE source = $1 AND (disabled = $2 OR sync_state = 'removed') ORDER BY name`, source, false)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ExternalAccount
	for rows.Next() {
		var a ExternalAccount
		if err := rows.Scan(&a.Name, &a.ExternalID); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, a)
	}
	return out, meta.Err(rows.Err())
}

func cleanGroups(groups []string) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if g != "" && len(g) <= maxGroupName && !slices.Contains(out, g) {
			out = append(out, g)
		}
		if len(out) == maxGroups {
			break
		}
	}
	slices.Sort(out)
	return out
}

// boundRole is the role p holds on r itself: granted on r, or given by
// the groups of p's provider (not its global role).
func (s *Service) boundRole(ctx context.Context, p Principal, r *repo.Repository) (Role, error) {
	if p.Anonymous() {
		return NoRole, nil
	}
	var role, source string
	err := s.db.QueryRowContext(ctx,
		`SELECT COALESCE((SELECT role FROM repository_roles WHERE user_id = u.id AND repository_id = $2), ''), u.source
		 FROM users u WHERE u.id = $1`, p.UserID, r.ID).Scan(&role, &source)
	if err == sql.ErrNoRows {
		return NoRole, nil
	}
	if err != nil {
		return NoRole, meta.Err(err)
	}
	prov, ok := s.opts.Providers[source]
	if source == SourceLocal || !ok || len(prov.Repositories) == 0 {
		return Role(role), nil
	}
	groups, err := meta.QueryStrings(ctx, s.db, `SELECT name FROM user_groups WHERE user_id = $1`, p.UserID)
	if err != nil {
		return NoRole, err
	}
	return maxRole(Role(role), prov.roleOn(groups, r.Name)), nil
}

// HasGroupRoles reports whether p's provider may give it roles on
// repositories by groups (lists that preselect repositories in SQL by
// repository_roles must then check each one with Authorize).
func (s *Service) HasGroupRoles(ctx context.Context, p Principal) bool {
	if p.Anonymous() {
		return false
	}
	for src, prov := range s.opts.Providers {
		if src != SourceLocal && len(prov.Repositories) > 0 {
			return true
		}
	}
	return false
}

// localPasswordAllowed reports whether a local account may sign in with
// its password (auth.local_passwords: "all", or "break_glass": only the
// accounts listed in auth.break_glass_users).
func (s *Service) localPasswordAllowed(name string) bool {
	return s.opts.LocalPasswords != LocalPasswordsBreakGlass || slices.Contains(s.opts.BreakGlass, name)
}

// Local password policies (Options.LocalPasswords).
const (
	LocalPasswordsAll        = "all"
	LocalPasswordsBreakGlass = "break_glass"
)

// AccountSource returns the source of the account userID (SourceLocal,
// SourceLDAP, SourceOIDC).
func (s *Service) AccountSource(ctx context.Context, userID int64) (string, error) {
	var src string
	err := s.db.QueryRowContext(ctx, `SELECT source FROM users WHERE id = $1`, userID).Scan(&src)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return src, meta.Err(err)
}

// AllowAnonymous spends one of the client address's tokens of the limit
// on password checks (auth.password_check_rate and _burst) for other work
// anonymous callers may cause at an identity provider (starting an OIDC
// sign-in or a device flow), or refuses with errs.TooMany.
func (s *Service) AllowAnonymous(ctx context.Context) error {
	return s.guard.allow(clientName(ClientFrom(ctx)), time.Now())
}
