package config

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"
)

// GroupRoles maps an identity provider's groups to arca roles.
type GroupRoles struct {
	// GroupRoles maps a group to repository name patterns ("team-a-*",
	// "*") and the role its members get on matching repositories.
	GroupRoles map[string]map[string]string `yaml:"group_roles"`
	// AdminGroups: members administer the server.
	AdminGroups []string `yaml:"admin_groups"`
	// AllowedGroups: when set, only their members may sign in, and an
	// account that leaves them all is disabled at its next sync.
	AllowedGroups []string `yaml:"allowed_groups"`
	// DefaultRole is the global role of every account of the provider
	// outside the admin groups ("" for none).
	DefaultRole string `yaml:"default_role"`
}

// LDAP is an LDAP directory that checks the passwords of Basic
// authentication and UI sign-in. Enabled when URL is set.
type LDAP struct {
	URL                string `yaml:"url"` // ldap://host:389 or ldaps://host:636
	StartTLS           bool   `yaml:"start_tls"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// BindDN and BindPassword (ARCA_LDAP_BIND_PASSWORD) are the service
	// account that searches users and groups.
	BindDN         string `yaml:"bind_dn"`
	BindPassword   string `yaml:"bind_password"`
	UserBase       string `yaml:"user_base"`
	UserFilter     string `yaml:"user_filter"`     // default (objectClass=person)
	UserAttribute  string `yaml:"user_attribute"`  // default uid; its value is the arca user name
	EmailAttribute string `yaml:"email_attribute"` // default mail
	GroupBase      string `yaml:"group_base"`      // default user_base
	// GroupFilter finds a user's groups; {dn} and {name} stand for the
	// user's DN and name (escaped). The default matches groupOfNames,
	// groupOfUniqueNames and posixGroup.
	GroupFilter    string `yaml:"group_filter"`
	GroupAttribute string `yaml:"group_attribute"` // default cn
	// MaxConnections bounds binds in flight (default 8); Timeout bounds
	// each dial and operation.
	MaxConnections int      `yaml:"max_connections"`
	Timeout        Duration `yaml:"timeout"`
	// SyncInterval is how often every LDAP account's groups are re-read
	// (the job ldap_sync); 0 turns the periodic sync off.
	SyncInterval Duration `yaml:"sync_interval"`
	GroupRoles   `yaml:",inline"`
}

// OIDC is an OpenID Connect provider for the UI sign-in and `arca login`.
// Enabled when Issuer is set.
type OIDC struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"` // or ARCA_OIDC_CLIENT_SECRET
	// RedirectURL is the one callback the provider may send browsers to:
	// <public URL>/ui/sso/callback, registered with the provider.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes requested besides openid (default profile, email).
	Scopes []string `yaml:"scopes"`
	// GroupsClaim names the claim listing the user's groups (default
	// groups); UsernameClaim the one that becomes the arca user name
	// (default preferred_username).
	GroupsClaim   string `yaml:"groups_claim"`
	UsernameClaim string `yaml:"username_claim"`
	// Name is shown on the sign-in button ("Sign in with <name>").
	Name string `yaml:"name"`
	// DeviceClientID and DeviceClientSecret are the client `arca login`'s
	// device flow uses when the provider wants a separate one (default:
	// ClientID and ClientSecret).
	DeviceClientID     string `yaml:"device_client_id"`
	DeviceClientSecret string `yaml:"device_client_secret"`
	// CLITokenTTL is the lifetime of the token `arca login` mints.
	CLITokenTTL Duration `yaml:"cli_token_ttl"`
	// MaxSyncAge: tokens of OIDC accounts stop working this long after
	// the account's last sign-in (groups are only seen at sign-in);
	// 0 for no limit.
	MaxSyncAge Duration `yaml:"max_sync_age"`
	GroupRoles `yaml:",inline"`
}

func (g GroupRoles) validate(where string) []string {
	var problems []string
	okRole := func(r string) bool {
		switch r {
		case "reader", "developer", "maintainer", "admin":
			return true
		}
		return false
	}
	for group, m := range g.GroupRoles {
		for pattern, role := range m {
			if !okRole(role) {
				problems = append(problems, fmt.Sprintf("%s.group_roles[%q][%q]: role %q: want reader, developer, maintainer or admin", where, group, pattern, role))
			}
			if _, err := path.Match(pattern, ""); err != nil {
				problems = append(problems, fmt.Sprintf("%s.group_roles[%q]: bad pattern %q", where, group, pattern))
			}
		}
	}
	if g.DefaultRole != "" && !okRole(g.DefaultRole) {
		problems = append(problems, fmt.Sprintf("%s.default_role %q: want reader, developer, maintainer, admin or empty", where, g.DefaultRole))
	}
	return problems
}

func (c *Config) validateSSO() []string {
	var problems []string
	switch c.Auth.LocalPasswords {
	case "all":
	case "break_glass":
		if len(c.Auth.BreakGlassUsers) == 0 {
			problems = append(problems, "auth.local_passwords break_glass needs at least one auth.break_glass_users entry")
		}
	default:
		problems = append(problems, fmt.Sprintf("auth.local_passwords %q: want all or break_glass", c.Auth.LocalPasswords))
	}
	if l := c.Auth.LDAP; l.URL != "" {
		if !strings.HasPrefix(l.URL, "ldap://") && !strings.HasPrefix(l.URL, "ldaps://") {
			problems = append(problems, fmt.Sprintf("auth.ldap.url %q: want ldap:// or ldaps://", l.URL))
		}
		if l.UserBase == "" {
			problems = append(problems, "auth.ldap.user_base must be set")
		}
		if l.Timeout < Duration(100*time.Millisecond) || l.SyncInterval < 0 {
			problems = append(problems, "auth.ldap.timeout must be at least 100ms and auth.ldap.sync_interval not negative")
		}
		problems = append(problems, l.GroupRoles.validate("auth.ldap")...)
	}
	if o := c.Auth.OIDC; o.Issuer != "" {
		if err := checkURL(o.Issuer); err != nil {
			problems = append(problems, "auth.oidc.issuer: "+err.Error())
		}
		if err := checkURL(o.RedirectURL); err != nil {
			problems = append(problems, "auth.oidc.redirect_url: "+err.Error())
		} else if !strings.HasSuffix(o.RedirectURL, "/ui/sso/callback") {
			problems = append(problems, "auth.oidc.redirect_url must end in /ui/sso/callback")
		}
		if o.ClientID == "" {
			problems = append(problems, "auth.oidc.client_id must be set")
		}
		if o.CLITokenTTL < Duration(time.Minute) || o.MaxSyncAge < 0 {
			problems = append(problems, "auth.oidc.cli_token_ttl must be at least 1m and auth.oidc.max_sync_age not negative")
		}
		problems = append(problems, o.GroupRoles.validate("auth.oidc")...)
	}
	return problems
}

// checkURL accepts https URLs, and http ones only on loopback hosts
// (a provider on the same machine, as in tests).
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
	default:
		return fmt.Errorf("%q: want https (http only on localhost)", s)
	}
	return nil
}
