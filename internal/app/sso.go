package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/sso"
	"github.com/arcaproject/arca/internal/ui"
)

// provider turns a provider's group mapping into auth's.
func provider(g config.GroupRoles, maxSyncAge time.Duration) auth.Provider {
	p := auth.Provider{Admin: g.AdminGroups, Allowed: g.AllowedGroups, DefaultRole: auth.Role(g.DefaultRole),
		MaxSyncAge: maxSyncAge, Repositories: map[string]map[string]auth.Role{}}
	for group, m := range g.GroupRoles {
		p.Repositories[group] = map[string]auth.Role{}
		for pattern, role := range m {
			p.Repositories[group][pattern] = auth.Role(role)
		}
	}
	return p
}

// ssoOptions adds the configured identity providers (auth.ldap,
// auth.oidc) and the local password policy to o, and returns the LDAP
// directory (nil when none is configured).
func ssoOptions(cfg config.Config, o *auth.Options) (*sso.LDAP, error) {
	o.LocalPasswords = cfg.Auth.LocalPasswords
	o.BreakGlass = cfg.Auth.BreakGlassUsers
	o.Providers = map[string]auth.Provider{}
	var dir *sso.LDAP
	if l := cfg.Auth.LDAP; l.URL != "" {
		var err error
		dir, err = sso.NewLDAP(sso.LDAPConfig{URL: l.URL, StartTLS: l.StartTLS, CAFile: l.CAFile, InsecureSkipVerify: l.InsecureSkipVerify,
			BindDN: l.BindDN, BindPassword: l.BindPassword, UserBase: l.UserBase, UserFilter: l.UserFilter,
			UserAttribute: l.UserAttribute, EmailAttribute: l.EmailAttribute, GroupBase: l.GroupBase, GroupFilter: l.GroupFilter,
			GroupAttribute: l.GroupAttribute, MaxConnections: l.MaxConnections, Timeout: time.Duration(l.Timeout)})
		if err != nil {
			return nil, err
		}
		o.Directory = dir
		o.Providers[auth.SourceLDAP] = provider(l.GroupRoles, 0)
	}
	if oc := cfg.Auth.OIDC; oc.Issuer != "" {
		o.Providers[auth.SourceOIDC] = provider(oc.GroupRoles, time.Duration(oc.MaxSyncAge))
	}
	return dir, nil
}

// openOIDC builds the OIDC sign-in when auth.oidc is configured.
func (a *App) openOIDC() {
	oc := a.Config.Auth.OIDC
	if oc.Issuer == "" {
		return
	}
	a.OIDC = sso.NewOIDC(sso.OIDCConfig{Issuer: oc.Issuer, ClientID: oc.ClientID, ClientSecret: oc.ClientSecret,
		RedirectURL: oc.RedirectURL, Scopes: oc.Scopes, GroupsClaim: oc.GroupsClaim, UsernameClaim: oc.UsernameClaim,
		Name: oc.Name, DeviceClientID: oc.DeviceClientID, DeviceClientSecret: oc.DeviceClientSecret}, a.DB)
}

// ssoRoutes registers the device flow of `arca login` and returns the
// UI's single sign-on (nil when OIDC is not configured).
func (a *App) ssoRoutes(mux *http.ServeMux) ui.SSO {
	if a.OIDC == nil {
		return nil
	}
	(&sso.DeviceLogin{OIDC: a.OIDC, Auth: a.Auth, Audit: a.Audit, Log: a.Log,
		TokenTTL: time.Duration(a.Config.Auth.OIDC.CLITokenTTL)}).Routes(mux)
	return a.OIDC
}

// ldapSyncArgs re-reads the groups of every LDAP account (sso.LDAP.Sync).
type ldapSyncArgs struct{}

func (ldapSyncArgs) Kind() string { return "ldap_sync" }

type ldapSyncWorker struct {
	river.WorkerDefaults[ldapSyncArgs]
	app *App
}

func (w *ldapSyncWorker) Work(ctx context.Context, j *river.Job[ldapSyncArgs]) error {
	if w.app.LDAP == nil {
		return nil
	}
	res, err := w.app.LDAP.Sync(ctx, w.app.Auth)
	if err != nil {
		return fmt.Errorf("ldap sync: %w", err)
	}
	w.app.Log.Info("ldap sync", "job_id", j.ID, "accounts", res.Accounts, "synced", res.Synced, "removed", res.Removed, "refused", res.Refused)
	return river.RecordOutput(ctx, res)
}

// ssoJobs registers the SSO workers and periodic jobs.
func (a *App) ssoJobs(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &ldapSyncWorker{app: a})
	if every := time.Duration(a.Config.Auth.LDAP.SyncInterval); a.LDAP != nil && every > 0 {
		return []*river.PeriodicJob{periodic("ldap_sync", every, true, ldapSyncArgs{})}
	}
	return nil
}
