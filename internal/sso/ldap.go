// Package sso connects arca's identity model (internal/auth) to company
// identity providers: an LDAP directory (LDAP, an auth.Directory that
// checks Basic and UI passwords, and a periodic group sync) and an OpenID
// Connect provider (OIDC: the browser sign-in and the device flow behind
// `arca login`). Accounts they describe become auth accounts of source
// ldap or oidc through auth.Service.SyncExternal; their groups give
// roles by configuration. See docs/sso.md.
package sso

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/sync/semaphore"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// LDAPConfig is how to reach and read the directory.
type LDAPConfig struct {
	// URL is ldap://host[:389] or ldaps://host[:636].
	URL string
	// StartTLS upgrades an ldap:// connection before anything is sent.
	StartTLS bool
	// CAFile holds the PEM certificates that verify the server (default:
	// the system's); InsecureSkipVerify turns verification off (tests).
	CAFile             string
	InsecureSkipVerify bool
	// BindDN and BindPassword are the service account that searches for
	// users and groups ("" binds anonymously).
	BindDN, BindPassword string
	// UserBase, UserFilter and UserAttribute find a user: the entry
	// under UserBase matching (&UserFilter(UserAttribute=name)).
	// UserAttribute's value is the arca user name; EmailAttribute the
	// e-mail.
	UserBase, UserFilter, UserAttribute, EmailAttribute string
	// GroupBase and GroupFilter find a user's groups; in GroupFilter
	// {dn} stands for the user's DN and {name} for the user name (both
	// escaped). GroupAttribute's value names the group.
	GroupBase, GroupFilter, GroupAttribute string
	// MaxConnections bounds the connections (binds) open at once;
	// Timeout bounds each connection's dial and each operation.
	MaxConnections int
	Timeout        time.Duration
}

// LDAP is a directory that authenticates users by binding as them and
// reads their groups with the service account.
type LDAP struct {
	cfg   LDAPConfig
	tls   *tls.Config
	slots *semaphore.Weighted
}

// NewLDAP checks cfg and returns the directory. Nothing is dialled yet.
func NewLDAP(cfg LDAPConfig) (*LDAP, error) {
	if !strings.HasPrefix(cfg.URL, "ldap://") && !strings.HasPrefix(cfg.URL, "ldaps://") {
		return nil, fmt.Errorf("auth.ldap.url %q: want ldap:// or ldaps://", cfg.URL)
	}
	if cfg.UserBase == "" {
		return nil, errors.New("auth.ldap.user_base must be set")
	}
	if cfg.UserFilter == "" {
		cfg.UserFilter = "(objectClass=person)"
	}
	if cfg.UserAttribute == "" {
		cfg.UserAttribute = "uid"
	}
	if cfg.EmailAttribute == "" {
		cfg.EmailAttribute = "mail"
	}
	if cfg.GroupBase == "" {
		cfg.GroupBase = cfg.UserBase
	}
	if cfg.GroupFilter == "" {
		cfg.GroupFilter = "(|(&(objectClass=groupOfNames)(member={dn}))(&(objectClass=groupOfUniqueNames)(uniqueMember={dn}))(&(objectClass=posixGroup)(memberUid={name})))"
	}
	if cfg.GroupAttribute == "" {
		cfg.GroupAttribute = "cn"
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 8
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	for _, f := range []string{cfg.UserFilter, strings.NewReplacer("{dn}", "x", "{name}", "x").Replace(cfg.GroupFilter)} {
		if _, err := ldap.CompileFilter(f); err != nil {
			return nil, fmt.Errorf("auth.ldap filter %q: %w", f, err)
		}
	}
	d := &LDAP{cfg: cfg, slots: semaphore.NewWeighted(int64(cfg.MaxConnections))}
	d.tls = &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if host, _, err := net.SplitHostPort(strings.SplitN(strings.SplitN(cfg.URL, "://", 2)[1], "/", 2)[0]); err == nil {
		d.tls.ServerName = host
	} else {
		d.tls.ServerName = strings.SplitN(strings.SplitN(cfg.URL, "://", 2)[1], "/", 2)[0]
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("auth.ldap.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("auth.ldap.ca_file %s: no PEM certificates", cfg.CAFile)
		}
		d.tls.RootCAs = pool
	}
	return d, nil
}

var errUnavailable = errs.E(errs.Unavailable, "the LDAP directory is busy; retry shortly")

// conn dials the directory in a connection slot, upgrades it with
// StartTLS when configured, and binds the service account. release
// closes it and frees the slot.
func (d *LDAP) conn(ctx context.Context) (c *ldap.Conn, release func(), err error) {
	wctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	if err := d.slots.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, errUnavailable
	}
	c, err = ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: d.cfg.Timeout}), ldap.DialWithTLSConfig(d.tls))
	if err != nil {
		d.slots.Release(1)
		return nil, nil, errs.Wrap(err, errs.Unavailable, "the LDAP directory cannot be reached")
	}
	release = func() { c.Close(); d.slots.Release(1) }
	c.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		if err := c.StartTLS(d.tls); err != nil {
			release()
			return nil, nil, errs.Wrap(err, errs.Unavailable, "LDAP StartTLS failed")
		}
	}
	if err := d.bindService(c); err != nil {
		release()
		return nil, nil, err
	}
	return c, release, nil
}

func (d *LDAP) bindService(c *ldap.Conn) error {
	var err error
	if d.cfg.BindDN == "" {
		err = c.UnauthenticatedBind("")
	} else {
		err = c.Bind(d.cfg.BindDN, d.cfg.BindPassword)
	}
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "the LDAP service account cannot bind")
	}
	return nil
}

// findUser returns the one entry of the user named name (nil if there is
// none, or more than one).
func (d *LDAP) findUser(c *ldap.Conn, name string) (*ldap.Entry, error) {
	filter := fmt.Sprintf("(&%s(%s=%s))", d.cfg.UserFilter, d.cfg.UserAttribute, ldap.EscapeFilter(name))
	res, err := c.Search(ldap.NewSearchRequest(d.cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		int(d.cfg.Timeout/time.Second), false, filter, []string{d.cfg.UserAttribute, d.cfg.EmailAttribute}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, errs.Wrap(err, errs.Unavailable, "LDAP user search failed")
	}
	if res == nil || len(res.Entries) != 1 {
		return nil, nil
	}
	return res.Entries[0], nil
}

// identity reads the groups of entry and describes the account.
func (d *LDAP) identity(c *ldap.Conn, e *ldap.Entry) (auth.Identity, error) {
	name := e.GetAttributeValue(d.cfg.UserAttribute)
	filter := strings.NewReplacer("{dn}", ldap.EscapeFilter(e.DN), "{name}", ldap.EscapeFilter(name)).Replace(d.cfg.GroupFilter)
	res, err := c.Search(ldap.NewSearchRequest(d.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1000,
		int(d.cfg.Timeout/time.Second), false, filter, []string{d.cfg.GroupAttribute}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return auth.Identity{}, errs.Wrap(err, errs.Unavailable, "LDAP group search failed")
	}
	id := auth.Identity{Source: auth.SourceLDAP, ExternalID: e.DN, Name: name, Email: e.GetAttributeValue(d.cfg.EmailAttribute)}
	if res != nil {
		for _, g := range res.Entries {
			if v := g.GetAttributeValue(d.cfg.GroupAttribute); v != "" {
				id.Groups = append(id.Groups, v)
			}
		}
	}
	return id, nil
}

// Authenticate implements auth.Directory: find the user with the service
// account, bind as the user with the password, bind back and read the
// groups. One connection, at most MaxConnections at once.
func (d *LDAP) Authenticate(ctx context.Context, name, password string) (auth.Identity, error) {
	bad := errs.E(errs.Unauthenticated, "invalid credentials")
	if name == "" || password == "" {
		return auth.Identity{}, bad
	}
	c, release, err := d.conn(ctx)
	if err != nil {
		return auth.Identity{}, err
	}
	defer release()
	e, err := d.findUser(c, name)
	if err != nil {
		return auth.Identity{}, err
	}
	if e == nil {
		return auth.Identity{}, bad
	}
	if err := c.Bind(e.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || ldap.IsErrorWithCode(err, ldap.LDAPResultInappropriateAuthentication) {
			return auth.Identity{}, bad
		}
		return auth.Identity{}, errs.Wrap(err, errs.Unavailable, "LDAP bind failed")
	}
	if err := d.bindService(c); err != nil {
		return auth.Identity{}, err
	}
	return d.identity(c, e)
}

// SyncResult counts what a Sync did.
type SyncResult struct {
	Synced   int `json:"synced"`
	Removed  int `json:"removed"`
	Refused  int `json:"refused"`
	Accounts int `json:"accounts"`
}

// Sync re-reads every LDAP account arca knows from the directory with the
// service account: accounts found get their groups (and so their roles)
// replaced, accounts no longer found are disabled (their tokens stop
// working), accounts the sync disabled and the directory knows again
// are enabled. It is the periodic job ldap_sync.
func (d *LDAP) Sync(ctx context.Context, a *auth.Service) (SyncResult, error) {
	var res SyncResult
	accounts, err := a.ExternalAccounts(ctx, auth.SourceLDAP)
	if err != nil {
		return res, err
	}
	res.Accounts = len(accounts)
	if len(accounts) == 0 {
		return res, nil
	}
	c, release, err := d.conn(ctx)
	if err != nil {
		return res, err
	}
	defer release()
	for _, acc := range accounts {
		e, err := d.findUser(c, acc.Name)
		if err != nil {
			return res, err
		}
		if e == nil || e.DN != acc.ExternalID {
			if err := a.RemoveExternal(ctx, auth.SourceLDAP, acc.ExternalID); err != nil {
				return res, err
			}
			res.Removed++
			continue
		}
		id, err := d.identity(c, e)
		if err != nil {
			return res, err
		}
		if _, err := a.SyncExternal(ctx, id); err != nil {
			if errs.Is(err, errs.Denied) || errs.Is(err, errs.Conflict) {
				res.Refused++
				continue
			}
			return res, err
		}
		res.Synced++
	}
	return res, nil
}

var _ auth.Directory = (*LDAP)(nil)
