package auth_test

import (
	"context"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

// fakeGuard refuses keys and prefixes under "secret/" (and the whole
// bucket), fails to decide "boom", and counts its calls.
type fakeGuard struct{ calls int }

func (g *fakeGuard) GuardRead(_ context.Context, p auth.Principal, _ *repo.Repository, scope auth.ObjectScope) error {
	g.calls++
	what := scope.Key
	if what == "" {
		what = scope.Prefix
	}
	switch {
	case what == "boom":
		return errs.E(errs.Internal, "cannot decide")
	case what != "" && !strings.HasPrefix(what, "secret/"):
		return nil
	case p.Anonymous():
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	return errs.E(errs.Denied, "secret")
}

// allowed stands for "no error" where check wants an error kind.
const allowed = errs.Kind(-1)

func TestAuthorizeObjects(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		keys := keyringtest.New(t, db)
		s := auth.New(db, keys, auth.Options{})
		repos := repo.NewStore(db, keys, map[string]repo.SettingsCheck{"s3": nil})
		bucket := &repo.Repository{Name: "bucket", Format: "s3"}
		if err := repos.Create(ctx, bucket); err != nil {
			t.Fatal(err)
		}
		login := func(name string, global auth.Role) auth.Principal {
			t.Helper()
			if _, err := s.CreateUser(ctx, name, name+"-password", "", global); err != nil {
				t.Fatal(err)
			}
			p, err := s.Login(ctx, name, name+"-password")
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		admin := login("admin", auth.Admin)
		reader := login("greader", auth.Reader) // reads every repository
		bound := login("bound", auth.NoRole)
		if err := s.Grant(ctx, "bound", bucket.ID, auth.Reader); err != nil {
			t.Fatal(err)
		}
		none := login("none", auth.NoRole)
		secret := auth.ObjectScope{Key: "secret/x"}
		open := auth.ObjectScope{Key: "open/x"}

		// Without a guard, AuthorizeObjects is Authorize.
		if err := s.AuthorizeObjects(ctx, reader, bucket, auth.Read, secret); err != nil {
			t.Fatalf("no guard: %v", err)
		}
		g := &fakeGuard{}
		s.SetObjectGuard(g)
		check := func(who string, p auth.Principal, action auth.Action, scope auth.ObjectScope, want errs.Kind, guarded bool) {
			t.Helper()
			before := g.calls
			err := s.AuthorizeObjects(ctx, p, bucket, action, scope)
			if want == allowed && err != nil || want != allowed && !errs.Is(err, want) {
				t.Fatalf("%s %v %+v: %v, want kind %v", who, action, scope, err, want)
			}
			if asked := g.calls > before; asked != guarded {
				t.Fatalf("%s %v %+v: guard asked %v, want %v", who, action, scope, asked, guarded)
			}
		}
		check("global reader", reader, auth.Read, secret, errs.Denied, true)
		check("global reader", reader, auth.Read, open, allowed, true)
		check("global reader", reader, auth.Read, auth.ObjectScope{}, errs.Denied, true)
		check("global reader", reader, auth.Read, auth.ObjectScope{Prefix: "secret/"}, errs.Denied, true)
		check("global reader", reader, auth.Read, auth.ObjectScope{Key: "boom"}, errs.Internal, true)
		// A role bound on the bucket wins over a refusal, not over a
		// failure to decide.
		check("bound reader", bound, auth.Read, secret, allowed, true)
		check("bound reader", bound, auth.Read, auth.ObjectScope{}, allowed, true)
		check("bound reader", bound, auth.Read, auth.ObjectScope{Key: "boom"}, errs.Internal, true)
		// Administrators and writes are not the guard's business; the
		// bucket's own rule comes first.
		check("admin", admin, auth.Read, secret, allowed, false)
		check("global reader", reader, auth.Write, secret, errs.Denied, false)
		check("no role", none, auth.Read, open, errs.Denied, false)
		check("anonymous", auth.Principal{}, auth.Read, open, errs.Unauthenticated, false)
		bucket.Visibility = repo.Public
		check("anonymous", auth.Principal{}, auth.Read, open, allowed, true)
		check("anonymous", auth.Principal{}, auth.Read, secret, errs.Unauthenticated, true)
		check("no role", none, auth.Read, secret, errs.Denied, true)

		if r, err := s.BoundRole(ctx, bound, bucket); err != nil || r != auth.Reader {
			t.Fatalf("BoundRole(bound) = %q, %v", r, err)
		}
		if r, err := s.BoundRole(ctx, reader, bucket); err != nil || r != auth.NoRole {
			t.Fatalf("BoundRole(global reader) = %q, %v", r, err)
		}
	})
}
