package auth_test

import (
	"context"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

func request(authz string) *http.Request {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return r
}

func basic(name, pw string) string {
	r := request("")
	r.SetBasicAuth(name, pw)
	return r.Header.Get("Authorization")
}

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword("correct horse")
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	if !auth.CheckPassword(h, "correct horse") || auth.CheckPassword(h, "correct horsf") {
		t.Fatal("CheckPassword accepts a wrong password or rejects the right one")
	}
	if h == auth.HashPassword("correct horse") {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", strings.Replace(h, "m=19456", "m=0", 1), strings.Replace(h, "t=2", "t=99", 1)} {
		if auth.CheckPassword(bad, "correct horse") {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
}

func FuzzParseBasic(f *testing.F) {
	f.Add("YWRtaW46c2VjcmV0")
	f.Add("!!!")
	f.Add("Og==")
	f.Fuzz(func(t *testing.T, cred string) {
		name, secret, ok := auth.ParseBasic(cred)
		if ok && (name == "" || secret == "" || strings.Contains(name, ":")) {
			t.Fatalf("ParseBasic(%q) = %q, %q", cred, name, secret)
		}
	})
}

func FuzzCheckPassword(f *testing.F) {
	f.Add("$argon2id$v=19$m=16,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "pw")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		auth.CheckPassword(hash, pw) // must not panic or hang on any stored value
	})
}

func TestAuthenticateAndAuthorize(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		s := auth.New(db, keyringtest.New(t, db), auth.Options{MaxFailures: 3, Lockout: 200 * time.Millisecond, CacheTTL: time.Minute})
		repos := repo.NewStore(db, keyringtest.New(t, db), map[string]repo.SettingsCheck{"raw": nil})
		private := &repo.Repository{Name: "private", Format: "raw"}
		public := &repo.Repository{Name: "public", Format: "raw", Visibility: repo.Public}
		for _, r := range []*repo.Repository{private, public} {
			if err := repos.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		admin, err := s.CreateUser(ctx, "admin", "admin-password", "", auth.Admin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "alice", "alice-password", "a@example.com", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "alice", "other-password", "", auth.NoRole); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate user = %v", err)
		}
		if _, err := s.CreateUser(ctx, "bob", "short", "", auth.NoRole); !errs.Is(err, errs.Invalid) {
			t.Fatalf("short password = %v", err)
		}
		if _, err := s.CreateUser(ctx, "a:b", "long-enough", "", auth.NoRole); !errs.Is(err, errs.Invalid) {
			t.Fatalf("name with colon = %v", err)
		}

		// No credentials: anonymous.
		p, err := s.Authenticate(ctx, request(""))
		if err != nil || !p.Anonymous() {
			t.Fatalf("anonymous = %+v, %v", p, err)
		}
		if err := s.Authorize(ctx, p, public, auth.Read); err != nil {
			t.Fatalf("anonymous read of public = %v", err)
		}
		if err := s.Authorize(ctx, p, public, auth.Write); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("anonymous write of public = %v", err)
		}
		if err := s.Authorize(ctx, p, private, auth.Read); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("anonymous read of private = %v", err)
		}

		// Passwords.
		p, err = s.Authenticate(ctx, request(basic("admin", "admin-password")))
		if err != nil || p.UserID != admin.ID || !p.IsAdmin() {
			t.Fatalf("admin login = %+v, %v", p, err)
		}
		if err := s.Authorize(ctx, p, private, auth.Manage); err != nil {
			t.Fatalf("admin manage = %v", err)
		}
		alice, err := s.Authenticate(ctx, request(basic("alice", "alice-password")))
		if err != nil || alice.Name != "alice" {
			t.Fatalf("alice login = %+v, %v", alice, err)
		}
		if err := s.Authorize(ctx, alice, private, auth.Read); !errs.Is(err, errs.Denied) {
			t.Fatalf("alice read of private without a role = %v", err)
		}
		if err := s.Authorize(ctx, alice, public, auth.Read); err != nil {
			t.Fatalf("alice read of public = %v", err)
		}
		// Roles on one repository.
		if err := s.Grant(ctx, "alice", private.ID, auth.Developer); err != nil {
			t.Fatal(err)
		}
		for action, want := range map[auth.Action]bool{auth.Read: true, auth.Write: true, auth.Delete: false, auth.Manage: false} {
			err := s.Authorize(ctx, alice, private, action)
			if (err == nil) != want {
				t.Errorf("developer %s = %v, want allowed=%v", action, err, want)
			}
			if err != nil && !errs.Is(err, errs.Denied) {
				t.Errorf("developer %s refused with %v, want denied", action, err)
			}
		}
		if err := s.Authorize(ctx, alice, public, auth.Write); !errs.Is(err, errs.Denied) {
			t.Fatalf("role on one repository leaked to another: %v", err)
		}
		if b, _ := s.RepositoryRoles(ctx, private.ID); len(b) != 1 || b[0].User != "alice" || b[0].Role != auth.Developer {
			t.Fatalf("RepositoryRoles = %+v", b)
		}
		// A global role applies everywhere.
		if err := s.SetRole(ctx, "alice", auth.Maintainer); err != nil {
			t.Fatal(err)
		}
		alice, _ = s.Authenticate(ctx, request(basic("alice", "alice-password")))
		if err := s.Authorize(ctx, alice, public, auth.Delete); err != nil {
			t.Fatalf("global maintainer delete = %v", err)
		}

		// Tokens: as Bearer, as a Basic password with the owner's name or __token__.
		secret, tok, err := s.CreateToken(ctx, "alice", "ci", 0)
		if err != nil || !strings.HasPrefix(secret, auth.TokenPrefix) || !strings.HasPrefix(secret, tok.Prefix) {
			t.Fatalf("CreateToken = %q, %+v, %v", secret, tok, err)
		}
		for _, h := range []string{"Bearer " + secret, basic("alice", secret), basic(auth.TokenUser, secret)} {
			p, err := s.Authenticate(ctx, request(h))
			if err != nil || p.Name != "alice" || p.TokenID != tok.ID {
				t.Fatalf("token auth via %q = %+v, %v", h[:6], p, err)
			}
		}
		if _, err := s.Authenticate(ctx, request(basic("admin", secret))); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("alice's token with admin's name = %v", err)
		}
		if _, _, err := s.CreateToken(ctx, "alice", "ci", 0); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate token name = %v", err)
		}
		expired, _, err := s.CreateToken(ctx, "alice", "short", time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		if _, err := s.Authenticate(ctx, request("Bearer "+expired)); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("expired token = %v", err)
		}
		if toks, _ := s.ListTokens(ctx, "alice"); len(toks) != 2 {
			t.Fatalf("ListTokens = %d", len(toks))
		}
		if err := s.RevokeToken(ctx, "alice", "ci"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, request("Bearer "+secret)); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("revoked token = %v", err)
		}
		if _, err := s.Authenticate(ctx, request("Bearer arca_not-a-real-token-at-all-xxxxxxxx")); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("unknown token = %v", err)
		}
		for _, h := range []string{"Basic !!!", "Basic " + "Og==", "Digest x", "Bearer short"} {
			if _, err := s.Authenticate(ctx, request(h)); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("Authorization %q = %v, want unauthenticated", h, err)
			}
		}

		// Robots authenticate with tokens only.
		if _, err := s.CreateRobot(ctx, "ci-bot", auth.Reader); err != nil {
			t.Fatal(err)
		}
		robotSecret, _, err := s.CreateToken(ctx, "ci-bot", "default", 0)
		if err != nil {
			t.Fatal(err)
		}
		rp, err := s.Authenticate(ctx, request(basic("ci-bot", robotSecret)))
		if err != nil || rp.Kind != auth.KindRobot {
			t.Fatalf("robot login = %+v, %v", rp, err)
		}
		if err := s.Authorize(ctx, rp, private, auth.Read); err != nil {
			t.Fatalf("robot reader read = %v", err)
		}
		if err := s.Authorize(ctx, rp, private, auth.Write); !errs.Is(err, errs.Denied) {
			t.Fatalf("robot reader write = %v", err)
		}
		if _, err := s.Authenticate(ctx, request(basic("ci-bot", "any-password"))); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("robot password login = %v", err)
		}

		// Disabled accounts cannot authenticate, by password or token.
		bobSecret := ""
		if _, err := s.CreateUser(ctx, "bob", "bob-password", "", auth.Reader); err != nil {
			t.Fatal(err)
		}
		bobSecret, _, _ = s.CreateToken(ctx, "bob", "t", 0)
		if err := s.SetDisabled(ctx, "bob", true); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, request(basic("bob", "bob-password"))); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("disabled password login = %v", err)
		}
		if _, err := s.Authenticate(ctx, request("Bearer "+bobSecret)); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("disabled token login = %v", err)
		}

		// Users list, delete.
		if us, _ := s.ListUsers(ctx); len(us) != 4 {
			t.Fatalf("ListUsers = %d", len(us))
		}
		if err := s.DeleteUser(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetUser(ctx, "bob"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("deleted user = %v", err)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		s := auth.New(db, keyringtest.New(t, db), auth.Options{MaxFailures: 3, Lockout: 300 * time.Millisecond, CacheTTL: time.Minute})
		if _, err := s.CreateUser(ctx, "carol", "carol-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := s.Login(ctx, "carol", "wrong-password"); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("failure %d = %v", i, err)
			}
		}
		// Locked: even the right password is refused, with 429's kind.
		if _, err := s.Login(ctx, "carol", "carol-password"); !errs.Is(err, errs.TooMany) {
			t.Fatalf("login while locked = %v, want too many", err)
		}
		time.Sleep(350 * time.Millisecond)
		if _, err := s.Login(ctx, "carol", "carol-password"); err != nil {
			t.Fatalf("login after lock expired = %v", err)
		}
		// Success reset the count: one more failure does not lock.
		s.Login(ctx, "carol", "wrong-password")
		if _, err := s.Login(ctx, "carol", "carol-password"); err != nil {
			t.Fatalf("login after one failure = %v", err)
		}
		// A reset password clears the lock and takes effect at once, even
		// with the old password cached.
		for i := 0; i < 3; i++ {
			s.Login(ctx, "carol", "wrong-password")
		}
		if err := s.SetPassword(ctx, "carol", "new-password"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, "carol", "carol-password"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("old password after reset = %v", err)
		}
		if _, err := s.Login(ctx, "carol", "new-password"); err != nil {
			t.Fatalf("new password = %v", err)
		}
		// Unknown users fail the same way as wrong passwords.
		if _, err := s.Login(ctx, "nobody", "whatever-pw"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("unknown user = %v", err)
		}
	})
}
