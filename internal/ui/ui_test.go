package ui_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/repo"
)

func TestSignInAndOut(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		b := newBrowser(t, s)
		b.redirectsToLogin("/")
		b.get("/ui/login", http.StatusOK)

		// A wrong password is refused on the page, with no session.
		resp, body := b.post("/ui/login", url.Values{"name": {"admin"}, "password": {"wrong-password"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
			t.Fatalf("wrong password: %d\n%s", resp.StatusCode, excerpt(body))
		}
		for _, c := range resp.Cookies() {
			if c.Name == "arca_session" && c.Value != "" {
				t.Fatalf("a wrong password got a session cookie")
			}
		}
		b.redirectsToLogin("/")
		// An unknown user likewise; a token is not a password here.
		b.postStatus("/ui/login", url.Values{"name": {"nobody"}, "password": {"whatever-it-is"}}, http.StatusUnauthorized)
		secret, _, err := s.Auth.CreateToken(context.Background(), "admin", "t1", 0)
		if err != nil {
			t.Fatal(err)
		}
		b.postStatus("/ui/login", url.Values{"name": {"admin"}, "password": {secret}}, http.StatusUnauthorized)

		// The right password: a session cookie (HttpOnly, SameSite=Lax,
		// not Secure over plain HTTP) and a redirect to where we were going.
		b.get("/ui/login?next=/ui/account", http.StatusOK)
		resp, _ = b.post("/ui/login", url.Values{"name": {"admin"}, "password": {apptest.AdminPassword}, "next": {"/ui/account"}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/account" {
			t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		var token string
		for _, c := range resp.Cookies() {
			if c.Name == "arca_session" {
				token = c.Value
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.MaxAge <= 0 {
					t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over HTTP, with a lifetime", c)
				}
			}
		}
		if len(token) < 40 {
			t.Fatalf("session token %q is too short", token)
		}
		// Only the token's hash is stored.
		var n int
		sum := sha256.Sum256([]byte(token))
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM ui_sessions WHERE hash = $1`, hex.EncodeToString(sum[:])).Scan(&n); err != nil || n != 1 {
			t.Fatalf("sessions with the token's hash: %d, %v", n, err)
		}
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM ui_sessions WHERE hash = $1 OR csrf = $1`, token).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the token itself is stored: %d, %v", n, err)
		}
		body = b.get("/", http.StatusOK)
		if !strings.Contains(body, "Storage used") || !strings.Contains(body, ">admin</a>") {
			t.Fatalf("dashboard:\n%s", excerpt(body))
		}
		// next must stay on this server.
		b.get("/ui/login?next=//evil.example/x", http.StatusSeeOther)

		// Signing out ends the session in the database, not only the cookie.
		resp, _ = b.post("/ui/logout", url.Values{})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", resp.StatusCode)
		}
		if err := s.DB.QueryRow(`SELECT COUNT(*) FROM ui_sessions`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("sessions after signing out: %d, %v", n, err)
		}
		replay := newBrowser(t, s)
		replay.c.Jar.SetCookies(mustURL(t, s.URL), []*http.Cookie{{Name: "arca_session", Value: token}})
		replay.redirectsToLogin("/")
	})
}

func TestLockoutAndExpiry(t *testing.T) {
	eachServer(t, func(c *config.Config) {
		c.Auth.LoginMaxFailures = 3
		c.Auth.LoginLockout = config.Duration(time.Minute)
	}, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if _, err := s.Auth.CreateUser(ctx, "carol", "carol-password-1", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, s)
		b.get("/ui/login", http.StatusOK)
		for i := 0; i < 3; i++ {
			b.postStatus("/ui/login", url.Values{"name": {"carol"}, "password": {"wrong-password"}}, http.StatusUnauthorized)
		}
		// Locked: even the right password is refused, saying so.
		body := b.postStatus("/ui/login", url.Values{"name": {"carol"}, "password": {"carol-password-1"}}, http.StatusTooManyRequests)
		if !strings.Contains(body, "too many failed logins") {
			t.Fatalf("locked sign-in page lacks the reason:\n%s", excerpt(body))
		}
		b.redirectsToLogin("/")

		// A session past its expiry is no session.
		a := newBrowser(t, s)
		a.login("admin", apptest.AdminPassword)
		a.get("/", http.StatusOK)
		if _, err := s.DB.Exec(`UPDATE ui_sessions SET expires_at = $1`, time.Now().Add(-time.Second).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		a.redirectsToLogin("/")

		// Disabling an account ends its sessions at once.
		d := newBrowser(t, s)
		if err := s.Auth.SetPassword(ctx, "carol", "carol-password-2"); err != nil { // also clears the lock
			t.Fatal(err)
		}
		d.login("carol", "carol-password-2")
		d.get("/ui/account", http.StatusOK)
		if err := s.Auth.SetDisabled(ctx, "carol", true); err != nil {
			t.Fatal(err)
		}
		d.redirectsToLogin("/ui/account")

		// Robots cannot sign in, even with their token.
		if _, err := s.Auth.CreateRobot(ctx, "ci", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		tok, _, err := s.Auth.CreateToken(ctx, "ci", "default", 0)
		if err != nil {
			t.Fatal(err)
		}
		b.postStatus("/ui/login", url.Values{"name": {"ci"}, "password": {tok}}, http.StatusUnauthorized)
	})
}

func TestCSRF(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		b := newBrowser(t, s)
		// Sign-in itself needs the pre-session token.
		b.get("/ui/login", http.StatusOK)
		b.postStatus("/ui/login", url.Values{"name": {"admin"}, "password": {apptest.AdminPassword}, "csrf": {""}}, http.StatusForbidden)
		b.postStatus("/ui/login", url.Values{"name": {"admin"}, "password": {apptest.AdminPassword}, "csrf": {"forged-forged-forged-forged-forged-x"}}, http.StatusForbidden)
		b.login("admin", apptest.AdminPassword)
		b.get("/ui/account", http.StatusOK)

		count := func() int {
			toks, err := s.Auth.ListTokens(context.Background(), "admin")
			if err != nil {
				t.Fatal(err)
			}
			return len(toks)
		}
		form := func(csrf ...string) url.Values {
			v := url.Values{"name": {"tok-" + strings.Repeat("x", len(csrf))}, "ttl": {""}}
			if len(csrf) > 0 {
				v["csrf"] = csrf
			}
			return v
		}
		// Missing, empty and wrong tokens: 403, nothing created.
		for _, v := range []url.Values{{"name": {"a"}, "ttl": {""}, "csrf": {""}}, form("wrong-token-wrong-token-wrong-token-00")} {
			b.postStatus("/ui/account/tokens", v, http.StatusForbidden)
		}
		resp, _ := b.do("POST", "/ui/account/tokens", strings.NewReader("name=b&ttl="), "Content-Type", "application/x-www-form-urlencoded")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("POST without the csrf field: %d, want 403", resp.StatusCode)
		}
		// Another session's token does not do either.
		other := newBrowser(t, s)
		other.login("admin", apptest.AdminPassword)
		other.get("/ui/account", http.StatusOK)
		b.postStatus("/ui/account/tokens", form(other.csrf), http.StatusForbidden)
		if n := count(); n != 0 {
			t.Fatalf("%d tokens created by refused posts", n)
		}
		// A cross-site request is refused even with the right token.
		for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "http://evil.example"}} {
			resp, body := b.post("/ui/account/tokens", form(b.csrf), hdr...)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("cross-site post with %s: %d\n%s", hdr[0], resp.StatusCode, excerpt(body))
			}
		}
		// The right token from this site works, and shows the secret once.
		body := b.postStatus("/ui/account/tokens", form(b.csrf), http.StatusOK)
		secret := regexp.MustCompile(`arca_[A-Za-z0-9_-]+`).FindString(body)
		if secret == "" || count() != 1 {
			t.Fatalf("token not shown or not created:\n%s", excerpt(body))
		}
		if strings.Contains(b.get("/ui/account", http.StatusOK), secret) {
			t.Fatalf("the token's secret is shown again")
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/whoami", "", nil, "Authorization", "Bearer "+secret); resp.StatusCode != http.StatusOK {
			t.Fatalf("the new token does not authenticate: %d", resp.StatusCode)
		}
		resp, _ = b.post("/ui/account/tokens", form(b.csrf), "Sec-Fetch-Site", "same-origin", "Origin", s.URL)
		if resp.StatusCode != http.StatusConflict { // same name again: a clean conflict on the page
			t.Fatalf("same-origin post: %d, want 409 (name taken)", resp.StatusCode)
		}
		b.postStatus("/ui/account/tokens/revoke", url.Values{"name": {"tok-x"}}, http.StatusSeeOther)
		if count() != 0 {
			t.Fatalf("token not revoked")
		}
		// Signing out needs the token too.
		b.postStatus("/ui/logout", url.Values{"csrf": {""}}, http.StatusForbidden)
	})
}

func TestRepositoryVisibility(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		for _, r := range []*repo.Repository{
			{Name: "secret-files", Format: "raw", Visibility: repo.Private},
			{Name: "granted-files", Format: "raw", Visibility: repo.Private},
			{Name: "open-files", Format: "raw", Visibility: repo.Public},
		} {
			if err := s.Repos.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		granted, _ := s.Repos.Get(ctx, "granted-files")
		if _, err := s.Auth.CreateUser(ctx, "bob", "bob-password-1", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		if err := s.Auth.Grant(ctx, "bob", granted.ID, auth.Reader); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"secret-files/a/s.txt", "granted-files/g.txt", "open-files/o.txt"} {
			if resp, body := s.Do(t, "PUT", "/raw/"+p, apptest.Admin, strings.NewReader("content of "+p)); resp.StatusCode != http.StatusCreated {
				t.Fatalf("upload %s: %d %s", p, resp.StatusCode, body)
			}
		}

		bob := newBrowser(t, s)
		bob.login("bob", "bob-password-1")
		list := bob.get("/ui/repositories?format=raw", http.StatusOK)
		if !strings.Contains(list, "granted-files") || !strings.Contains(list, "open-files") || strings.Contains(list, "secret-files") {
			t.Fatalf("bob's repository list:\n%s", excerpt(list))
		}
		bob.get("/ui/repositories/secret-files", http.StatusForbidden)
		bob.get("/ui/repositories/secret-files/download?path=a/s.txt", http.StatusForbidden)
		page := bob.get("/ui/repositories/granted-files", http.StatusOK)
		if !strings.Contains(page, "g.txt") || !strings.Contains(page, "dvc remote add -d arca "+s.URL+"/raw/granted-files/dvc") {
			t.Fatalf("granted repository page:\n%s", excerpt(page))
		}
		resp, body := bob.do("GET", "/ui/repositories/granted-files/download?path=g.txt", nil)
		if resp.StatusCode != 200 || body != "content of granted-files/g.txt" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("download: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		bob.get("/ui/repositories/granted-files/download?path=nope.txt", http.StatusNotFound)

		// Anonymous visitors see public repositories only, and are asked to
		// sign in for the others.
		anon := newBrowser(t, s)
		list = anon.get("/ui/repositories", http.StatusOK)
		if !strings.Contains(list, "open-files") || strings.Contains(list, "granted-files") || strings.Contains(list, "secret-files") {
			t.Fatalf("anonymous repository list:\n%s", excerpt(list))
		}
		anon.get("/ui/repositories/open-files", http.StatusOK)
		anon.redirectsToLogin("/ui/repositories/secret-files")

		// The administrator sees everything, browses prefixes.
		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		if list := admin.get("/ui/repositories?format=raw&q=secret", http.StatusOK); !strings.Contains(list, "secret-files") || strings.Contains(list, "open-files") {
			t.Fatalf("admin's filtered list:\n%s", excerpt(list))
		}
		root := admin.get("/ui/repositories/secret-files", http.StatusOK)
		if !strings.Contains(strings.ToLower(root), "?prefix=a%2f") || strings.Contains(root, "s.txt") {
			t.Fatalf("root listing should show directory a/ only:\n%s", excerpt(root))
		}
		if sub := admin.get("/ui/repositories/secret-files?prefix=a/", http.StatusOK); !strings.Contains(sub, "s.txt") {
			t.Fatalf("listing of a/:\n%s", excerpt(sub))
		}
	})
}

func TestAdminPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if _, err := s.Auth.CreateUser(ctx, "dave", "dave-password-1", "", auth.Maintainer); err != nil {
			t.Fatal(err)
		}
		dave := newBrowser(t, s)
		dave.login("dave", "dave-password-1")
		if strings.Contains(dave.get("/", http.StatusOK), "/ui/admin") {
			t.Errorf("a non-administrator's navigation links administration")
		}
		for _, p := range []string{"/ui/admin", "/ui/admin/users", "/ui/admin/repositories/new", "/ui/admin/gc", "/ui/admin/audit", "/ui/admin/repositories/files"} {
			dave.get(p, http.StatusForbidden)
		}
		dave.postStatus("/ui/admin/repositories", url.Values{"name": {"sneaky"}, "format": {"raw"}, "kind": {"hosted"}, "visibility": {"public"}}, http.StatusForbidden)
		dave.postStatus("/ui/admin/users", url.Values{"name": {"eve"}, "password": {"eve-password-1"}, "repeat": {"eve-password-1"}, "role": {"admin"}}, http.StatusForbidden)
		dave.postStatus("/ui/admin/gc", url.Values{"mode": {"run"}}, http.StatusForbidden)
		if _, err := s.Repos.Get(ctx, "sneaky"); err == nil {
			t.Fatalf("a non-administrator created a repository")
		}
		if _, err := s.Auth.GetUser(ctx, "eve"); err == nil {
			t.Fatalf("a non-administrator created a user")
		}
		anon := newBrowser(t, s)
		anon.redirectsToLogin("/ui/admin/users")

		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		for _, p := range []string{"/ui/admin", "/ui/admin/users", "/ui/admin/repositories/new", "/ui/admin/gc", "/ui/admin/audit", "/ui/admin/repositories/files"} {
			admin.get(p, http.StatusOK)
		}
		// Repositories: invalid input is shown on the form; a proxy keeps
		// its upstream password when the field is left empty.
		admin.get("/ui/admin/repositories/new", http.StatusOK)
		body := admin.postStatus("/ui/admin/repositories", url.Values{"name": {"Bad Name"}, "format": {"raw"}, "kind": {"hosted"}, "visibility": {"private"}}, http.StatusBadRequest)
		if !strings.Contains(body, "invalid repository name") {
			t.Fatalf("invalid name not explained:\n%s", excerpt(body))
		}
		admin.postStatus("/ui/admin/repositories", url.Values{"name": {"pypi-up"}, "format": {"pypi"}, "kind": {"proxy"}, "visibility": {"private"},
			"upstream_url": {"http://127.0.0.1:1/simple/"}, "upstream_username": {"u"}, "upstream_password": {"p4ss"}, "settings": {""}}, http.StatusSeeOther)
		edit := admin.get("/ui/admin/repositories/pypi-up", http.StatusOK)
		if strings.Contains(edit, "p4ss") {
			t.Fatalf("the upstream password is shown")
		}
		admin.postStatus("/ui/admin/repositories/pypi-up", url.Values{"visibility": {"public"}, "description": {"cached"},
			"upstream_url": {"http://127.0.0.1:2/simple/"}, "upstream_username": {"u"}, "settings": {`{"upstream": {"metadata_max_age": "5m"}}`}}, http.StatusSeeOther)
		rp, err := s.Repos.Get(ctx, "pypi-up")
		if err != nil {
			t.Fatal(err)
		}
		up, _ := rp.Settings["upstream"].(map[string]any)
		if rp.Visibility != repo.Public || up["url"] != "http://127.0.0.1:2/simple/" || up["password"] != "p4ss" || up["metadata_max_age"] != "5m" {
			t.Fatalf("after edit: %+v", rp)
		}
		// Roles: grant and revoke.
		admin.postStatus("/ui/admin/repositories/pypi-up/roles", url.Values{"user": {"dave"}, "role": {"reader"}}, http.StatusSeeOther)
		if roles, _ := s.Auth.RepositoryRoles(ctx, rp.ID); len(roles) != 1 || roles[0].User != "dave" {
			t.Fatalf("roles: %+v", roles)
		}
		// Deleting needs the name typed again.
		admin.postStatus("/ui/admin/repositories/pypi-up/delete", url.Values{"confirm": {"pypi"}}, http.StatusBadRequest)
		admin.postStatus("/ui/admin/repositories/pypi-up/delete", url.Values{"confirm": {"pypi-up"}}, http.StatusSeeOther)
		if _, err := s.Repos.Get(ctx, "pypi-up"); err == nil {
			t.Fatalf("repository not deleted")
		}

		// Users and robots.
		admin.postStatus("/ui/admin/users", url.Values{"kind": {"user"}, "name": {"erin"}, "password": {"erin-password-1"}, "repeat": {"erin-password-1"}, "role": {"reader"}}, http.StatusSeeOther)
		body = admin.postStatus("/ui/admin/users", url.Values{"kind": {"robot"}, "name": {"builder"}, "role": {"developer"}}, http.StatusOK)
		tok := regexp.MustCompile(`arca_[A-Za-z0-9_-]+`).FindString(body)
		if tok == "" {
			t.Fatalf("robot token not shown:\n%s", excerpt(body))
		}
		if p, err := s.Auth.Login(ctx, "builder", tok); err != nil || p.Role != auth.Developer {
			t.Fatalf("robot token: %+v %v", p, err)
		}
		admin.postStatus("/ui/admin/users/erin", url.Values{"role": {"developer"}, "disabled": {"on"}}, http.StatusSeeOther)
		if u, _ := s.Auth.GetUser(ctx, "erin"); u.Role != auth.Developer || !u.Disabled {
			t.Fatalf("erin after update: %+v", u)
		}
		admin.postStatus("/ui/admin/users/admin", url.Values{"role": {"reader"}}, http.StatusConflict) // not oneself
		admin.postStatus("/ui/admin/users/erin/delete", url.Values{}, http.StatusBadRequest)
		admin.postStatus("/ui/admin/users/erin/delete", url.Values{"confirm": {"on"}}, http.StatusSeeOther)
		if _, err := s.Auth.GetUser(ctx, "erin"); err == nil {
			t.Fatalf("erin not deleted")
		}

		// Garbage collection: a dry run, then a run, both in the list.
		body = admin.postStatus("/ui/admin/gc", url.Values{"mode": {"dry"}}, http.StatusOK)
		if !strings.Contains(body, "Dry run:") {
			t.Fatalf("dry run result missing:\n%s", excerpt(body))
		}
		admin.postStatus("/ui/admin/gc", url.Values{"mode": {"run"}}, http.StatusOK)
		if gc := admin.get("/ui/admin/gc", http.StatusOK); strings.Count(gc, "<td>admin</td>") != 2 {
			t.Fatalf("GC runs not listed:\n%s", excerpt(gc))
		}
		// The audit trail shows and filters all of it.
		audit := admin.get("/ui/admin/audit?action=repository.", http.StatusOK)
		for _, want := range []string{"repository.create", "repository.update", "repository.delete"} {
			if !strings.Contains(audit, want) {
				t.Errorf("audit trail lacks %s", want)
			}
		}
		if strings.Contains(audit, "user.create") {
			t.Errorf("the action filter lets user.create through")
		}
	})
}

func TestErrorPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		b := newBrowser(t, s)
		b.login("admin", apptest.AdminPassword)
		for path, status := range map[string]int{
			"/ui/nothing-here":                         http.StatusNotFound,
			"/ui/repositories/no-such-repo":            http.StatusNotFound,
			"/ui/repositories/library/images/no/image": http.StatusNotFound,
			"/ui/repositories/library/manifests/sha256:" + strings.Repeat("0", 64) + "/x": http.StatusNotFound,
			"/ui/repositories/pypi-hosted/packages/nothing":                               http.StatusNotFound,
		} {
			resp, body := b.do("GET", path, nil)
			if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(body, `<p class="status">`) {
				t.Errorf("GET %s: %d %s, want the HTML error page with %d", path, resp.StatusCode, resp.Header.Get("Content-Type"), status)
			}
		}
		// Every default repository's page renders.
		for _, name := range []string{"files", "library", "pypi-hosted", "npm-hosted", "backups", "mlflow"} {
			b.get("/ui/repositories/"+name, http.StatusOK)
		}
		for _, p := range []string{"/ui/experiments", "/ui/models", "/ui/account", "/favicon.ico"} {
			b.get(p, http.StatusOK)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
