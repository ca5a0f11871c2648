package sso_test

import (
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestBreakGlass: with local_passwords break_glass only the listed local
// accounts sign in with a password; tokens of the others still work
// (robots, CI), and directory accounts are unaffected.
func TestBreakGlass(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := client("192.0.2.44")
		s := auth.New(db, keyringtest.New(t, db), auth.Options{CacheTTL: time.Minute,
			LocalPasswords: auth.LocalPasswordsBreakGlass, BreakGlass: []string{"root"}})
		for _, n := range []string{"root", "dev"} {
			if _, err := s.CreateUser(ctx, n, n+"-password-1", "", auth.NoRole); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Login(ctx, "root", "root-password-1"); err != nil {
			t.Fatalf("break-glass account: %v", err)
		}
		if _, err := s.Login(ctx, "dev", "dev-password-1"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("local password outside break-glass: %v", err)
		}
		secret, _, err := s.CreateToken(ctx, "dev", "ci", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, auth.TokenUser, secret); err != nil {
			t.Fatalf("token of a local account: %v", err)
		}
	})
}
