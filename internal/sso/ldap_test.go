package sso_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/sso"
	"github.com/arcaproject/arca/internal/sso/ldaptest"
)

// directory starts slapd with alice (group devs), bob (group readers),
// carol (group admins) and a user whose name is an LDAP filter.
func directory(t *testing.T) *ldaptest.Server {
	l := ldaptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol", "mallory"} {
		l.AddUser(u, u+"-pw-12345")
	}
	l.AddGroup("devs", "alice")
	l.AddGroup("readers", "bob", "alice")
	l.AddGroup("admins", "carol")
	return l
}

func ldapConfig(l *ldaptest.Server) sso.LDAPConfig {
	return sso.LDAPConfig{URL: l.URL, BindDN: ldaptest.AdminDN, BindPassword: ldaptest.AdminPassword,
		UserBase: ldaptest.People, GroupBase: ldaptest.Groups, Timeout: 5 * time.Second}
}

var ldapProvider = auth.Provider{
	Admin: []string{"admins"},
	Repositories: map[string]map[string]auth.Role{
		"devs":    {"team-*": auth.Developer},
		"readers": {"*": auth.Reader},
	},
}

func newService(t *testing.T, db *meta.DB, dir auth.Directory, cacheTTL time.Duration) *auth.Service {
	return auth.New(db, keyringtest.New(t, db), auth.Options{CacheTTL: cacheTTL, Directory: dir,
		Providers: map[string]auth.Provider{auth.SourceLDAP: ldapProvider}})
}

func client(addr string) context.Context {
	return auth.WithClient(context.Background(), netip.MustParseAddr(addr))
}

func TestLDAPLoginRolesAndSync(t *testing.T) {
	l := directory(t)
	for _, tc := range []struct {
		name string
		cfg  func(sso.LDAPConfig) sso.LDAPConfig
	}{
		{"plain", func(c sso.LDAPConfig) sso.LDAPConfig { return c }},
		{"starttls", func(c sso.LDAPConfig) sso.LDAPConfig { c.StartTLS = true; c.CAFile = l.CAFile; return c }},
		{"ldaps", func(c sso.LDAPConfig) sso.LDAPConfig { c.URL = l.LDAPSURL; c.CAFile = l.CAFile; return c }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := sso.NewLDAP(tc.cfg(ldapConfig(l)))
			if err != nil {
				t.Fatal(err)
			}
			ctx := client("192.0.2.1")
			id, err := d.Authenticate(ctx, "alice", "alice-pw-12345")
			if err != nil {
				t.Fatal(err)
			}
			if id.Name != "alice" || id.ExternalID != ldaptest.UserDN("alice") || strings.Join(id.Groups, ",") != "devs,readers" || id.Email != "alice@arca.test" {
				t.Fatalf("identity %+v", id)
			}
			if _, err := d.Authenticate(ctx, "alice", "wrong"); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		c := ldapConfig(l)
		c.URL = l.LDAPSURL
		d, err := sso.NewLDAP(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Authenticate(client("192.0.2.1"), "alice", "alice-pw-12345"); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("LDAPS with an unknown CA: %v, want unavailable", err)
		}
	})

	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := client("192.0.2.7")
		l := directory(t) // the test changes it
		d, err := sso.NewLDAP(ldapConfig(l))
		if err != nil {
			t.Fatal(err)
		}
		s := newService(t, db, d, time.Minute)
		repos := repo.NewStore(db, nil, map[string]repo.SettingsCheck{"raw": nil})
		team := &repo.Repository{Name: "team-a", Format: "raw", Kind: "hosted", Visibility: "private"}
		other := &repo.Repository{Name: "other", Format: "raw", Kind: "hosted", Visibility: "private"}
		for _, r := range []*repo.Repository{team, other} {
			if err := repos.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}

		// A local account keeps its name: the directory's alice cannot take
		// it over (and the local one signs in with its own password).
		if _, err := s.CreateUser(ctx, "mallory", "local-pw-12345", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, "mallory", "mallory-pw-12345"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("directory password of a local name: %v", err)
		}
		if p, err := s.Login(ctx, "mallory", "local-pw-12345"); err != nil || p.Name != "mallory" {
			t.Fatalf("local password: %+v %v", p, err)
		}

		alice, err := s.Login(ctx, "alice", "alice-pw-12345")
		if err != nil {
			t.Fatal(err)
		}
		wantRole := func(p auth.Principal, r *repo.Repository, want auth.Role) {
			t.Helper()
			got, err := s.RoleOn(ctx, p, r)
			if err != nil || got != want {
				t.Fatalf("%s on %s: %q %v, want %q", p.Name, r.Name, got, err, want)
			}
		}
		wantRole(alice, team, auth.Developer)
		wantRole(alice, other, auth.Reader)
		carol, err := s.Login(ctx, "carol", "carol-pw-12345")
		if err != nil || !carol.IsAdmin() {
			t.Fatalf("carol: %+v %v", carol, err)
		}
		bob, err := s.Login(ctx, "bob", "bob-pw-12345")
		if err != nil {
			t.Fatal(err)
		}
		wantRole(bob, team, auth.Reader)
		secret, _, err := s.CreateToken(ctx, "bob", "ci", 0)
		if err != nil {
			t.Fatal(err)
		}

		// LDAP injection: a name that is a filter matches nobody.
		for _, name := range []string{"*", "al*", "alice)(uid=*", "*)(|(uid=*"} {
			if _, err := s.Login(client("192.0.2.99"), name, "alice-pw-12345"); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("name %q: %v", name, err)
			}
		}

		// Group change: bob leaves readers. The periodic sync takes his
		// roles (so his token reads nothing private any more); then he
		// leaves the directory, and the sync disables him: the token is
		// refused outright. He comes back: enabled again.
		l.RemoveMember("readers", "bob")
		res, err := d.Sync(ctx, s)
		if err != nil || res.Synced != 3 {
			t.Fatalf("sync: %+v %v", res, err)
		}
		p, err := s.Login(ctx, auth.TokenUser, secret)
		if err != nil {
			t.Fatal(err)
		}
		wantRole(p, team, auth.NoRole)
		l.Modify("dn: " + ldaptest.UserDN("bob") + "\nchangetype: delete\n")
		if res, err := d.Sync(ctx, s); err != nil || res.Removed != 1 {
			t.Fatalf("sync: %+v %v", res, err)
		}
		if _, err := s.Login(ctx, auth.TokenUser, secret); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("token of a removed user: %v", err)
		}
		if _, err := s.Login(ctx, "bob", "bob-pw-12345"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("password of a removed user: %v", err)
		}
		l.AddUser("bob", "bob-pw-12345")
		if res, err := d.Sync(ctx, s); err != nil || res.Synced != 3 {
			t.Fatalf("sync: %+v %v", res, err)
		}
		if _, err := s.Login(ctx, auth.TokenUser, secret); err != nil {
			t.Fatalf("token of a user back in the directory: %v", err)
		}
		// An account an administrator disabled stays disabled.
		if err := s.SetDisabled(ctx, "bob", true); err != nil {
			t.Fatal(err)
		}
		d.Sync(ctx, s)
		if _, err := s.Login(ctx, auth.TokenUser, secret); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("token of a disabled user after a sync: %v", err)
		}

		// Lockout: wrong passwords of a directory name lock the pair as
		// for local accounts, without binding once locked.
		bad := client("192.0.2.66")
		var last error
		for range 7 {
			_, last = s.Login(bad, "alice", "nope-nope-nope")
		}
		if !errs.Is(last, errs.TooMany) {
			t.Fatalf("after 7 failures: %v, want too many", last)
		}
		if _, err := s.Login(bad, "alice", "alice-pw-12345"); !errs.Is(err, errs.TooMany) {
			t.Fatalf("right password while locked: %v", err)
		}
		if _, err := s.Login(ctx, "alice", "alice-pw-12345"); err != nil {
			t.Fatalf("alice from another address: %v", err)
		}
	})
}

// TestLDAPUnknownNamesBounded: anonymous callers sending names the
// directory does not know cause at most password_check_burst binds per
// address; then 429 before any LDAP traffic.
func TestLDAPUnknownNamesBounded(t *testing.T) {
	l := directory(t)
	d, err := sso.NewLDAP(ldapConfig(l))
	if err != nil {
		t.Fatal(err)
	}
	db := metatest.OpenSQLite(t)
	s := auth.New(db, keyringtest.New(t, db), auth.Options{CacheTTL: time.Minute, Directory: d, CheckBurst: 5, CheckRate: 0.001, MaxFailures: 1000,
		Providers: map[string]auth.Provider{auth.SourceLDAP: ldapProvider}})
	ctx := client("198.51.100.5")
	tooMany := 0
	for i := range 20 {
		_, err := s.Login(ctx, "nobody"+string(rune('a'+i)), "whatever-123")
		if errs.Is(err, errs.TooMany) {
			tooMany++
		} else if !errs.Is(err, errs.Unauthenticated) {
			t.Fatal(err)
		}
	}
	if tooMany != 15 {
		t.Fatalf("%d of 20 refused before binding, want 15 (burst 5)", tooMany)
	}
}

// TestLDAPLatency measures Login against slapd: cold (search + bind +
// group search on a new connection, and the group sync in the database)
// and cached (auth.credential_cache_ttl). The figures go to the log.
func TestLDAPLatency(t *testing.T) {
	l := directory(t)
	d, err := sso.NewLDAP(ldapConfig(l))
	if err != nil {
		t.Fatal(err)
	}
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		const n = 100
		measure := func(cacheTTL time.Duration) time.Duration {
			s := auth.New(db, keyringtest.New(t, db), auth.Options{CacheTTL: cacheTTL, Directory: d, CheckBurst: 2 * n,
				Providers: map[string]auth.Provider{auth.SourceLDAP: ldapProvider}})
			ctx := client("203.0.113.9")
			start := time.Now()
			for range n {
				if _, err := s.Login(ctx, "alice", "alice-pw-12345"); err != nil {
					t.Fatal(err)
				}
			}
			return time.Since(start) / n
		}
		cold := measure(0)
		cached := measure(time.Minute)
		t.Logf("LDAP Login latency over %d logins: cold (bind+search+group sync each time) %s, cached %s", n, cold, cached)
		if cached >= cold {
			t.Fatalf("cached logins (%s) are not faster than cold ones (%s)", cached, cold)
		}
	})
}
