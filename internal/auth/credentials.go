package auth

import (
	"context"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// What a request authenticated by a token may do with credentials (tokens,
// S3 access keys, passwords), server-wide (Options.TokenCredentials):
const (
	// TokenCredentialsBounded: a token whose scope allows it may manage
	// credentials, but never create one that outlives itself — tokens
	// that expire later than it or never, access keys (they do not
	// expire), passwords — and changing one's own password needs the
	// current password.
	TokenCredentialsBounded = "bounded"
	// TokenCredentialsNone: tokens never manage credentials; a password
	// (or a web session) is needed.
	TokenCredentialsNone = "none"
)

// TokenSpec describes a token to issue.
type TokenSpec struct {
	// TTL is the token's lifetime; 0 means it never expires.
	TTL time.Duration
	// NoCredentials scopes the token out of credential management: with
	// it, the token cannot create or revoke tokens or access keys, nor
	// set passwords.
	NoCredentials bool
}

// CheckCredentials reports whether by may manage credentials at all.
// Principals that did not authenticate with a token (a password, a web
// session) may; tokens only when the server allows it and their scope
// does.
func (s *Service) CheckCredentials(by Principal) error {
	if by.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	if by.TokenID == 0 {
		return nil
	}
	if s.opts.TokenCredentials == TokenCredentialsNone {
		return errs.E(errs.Denied, "tokens may not manage credentials on this server; authenticate with a password")
	}
	if !by.TokenCredentials {
		return errs.E(errs.Denied, "this token may not manage credentials (it was created without manage_credentials)")
	}
	return nil
}

// checkLifetime refuses a credential that would outlive the token by
// authenticated with. expires is Unix milliseconds, 0 for never.
func checkLifetime(by Principal, expires int64, what string) error {
	if by.TokenID == 0 || by.TokenExpiresAt == 0 {
		return nil
	}
	if expires == 0 || expires > by.TokenExpiresAt {
		return errs.E(errs.Denied, "a token that expires (at %s) cannot create %s that outlive it",
			time.UnixMilli(by.TokenExpiresAt).UTC().Format(time.RFC3339), what)
	}
	return nil
}

// IssueToken creates a token for userName on behalf of by (see
// CheckCredentials and TokenCredentialsBounded). The secret is returned
// once.
func (s *Service) IssueToken(ctx context.Context, by Principal, userName, tokenName string, spec TokenSpec) (string, *Token, error) {
	if err := s.CheckCredentials(by); err != nil {
		return "", nil, err
	}
	var expires int64
	if spec.TTL > 0 {
		expires = time.Now().Add(spec.TTL).UnixMilli()
	}
	if err := checkLifetime(by, expires, "tokens"); err != nil {
		return "", nil, err
	}
	return s.insertToken(ctx, userName, tokenName, expires, !spec.NoCredentials)
}

// IssueAccessKey creates an S3 access key for userName on behalf of by.
// Access keys do not expire, so an expiring token cannot create one.
func (s *Service) IssueAccessKey(ctx context.Context, by Principal, userName, id, secret, description string) (*AccessKey, string, error) {
	if err := s.CheckCredentials(by); err != nil {
		return nil, "", err
	}
	if err := checkLifetime(by, 0, "access keys (they do not expire)"); err != nil {
		return nil, "", err
	}
	return s.CreateAccessKey(ctx, userName, id, secret, description)
}

// CheckNewAccount reports whether by may create an account that comes
// with a credential that never expires (a password, or a robot's token).
func (s *Service) CheckNewAccount(by Principal) error {
	if err := s.CheckCredentials(by); err != nil {
		return err
	}
	return checkLifetime(by, 0, "accounts with passwords or tokens")
}

// ChangePassword sets userName's password on behalf of by: an
// administrator may set anyone's; everyone else only their own, and only
// with the current password (so that a stolen token or session cannot take
// the account over). A token that expires cannot set passwords at all,
// since a password would outlive it — except one's own, with the current
// one, which grants nothing new.
func (s *Service) ChangePassword(ctx context.Context, by Principal, userName, current, next string) error {
	if err := s.CheckCredentials(by); err != nil {
		return err
	}
	self := by.Name == userName && !by.Scoped
	switch {
	case self && current != "":
		if LooksLikeToken(current) {
			return errs.E(errs.Denied, "the current password is wrong")
		}
		if _, err := s.Login(ctx, userName, current); err != nil {
			if errs.Is(err, errs.Unauthenticated) {
				return errs.E(errs.Denied, "the current password is wrong")
			}
			return err
		}
	case by.IsAdmin():
		if err := checkLifetime(by, 0, "passwords"); err != nil {
			return err
		}
	case self:
		return errs.E(errs.Denied, "changing your password needs your current password (current_password)")
	default:
		return errs.E(errs.Denied, "only %s or an administrator may change this password", userName)
	}
	return s.SetPassword(ctx, userName, next)
}
