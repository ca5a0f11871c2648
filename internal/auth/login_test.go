package auth_test

import (
	"context"
	"fmt"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

func from(addr string) context.Context {
	return auth.WithClient(context.Background(), netip.MustParseAddr(addr))
}

// outcome names a login's answer for comparing sequences.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return errs.KindOf(err).String()
}

// TestUnknownNamesLockLikeKnown (issue 22 item 12, issue 11): a name that
// does not exist answers exactly as one that does, 429 included, and a
// lock holds for one client address only.
func TestUnknownNamesLockLikeKnown(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		s := auth.New(db, keyringtest.New(t, db), auth.Options{MaxFailures: 3, Lockout: time.Minute, CacheTTL: time.Minute})
		ctx := context.Background()
		if _, err := s.CreateUser(ctx, "carol", "carol-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, "dave", "dave-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDisabled(ctx, "dave", true); err != nil {
			t.Fatal(err)
		}
		attacker := from("192.0.2.1")
		seqs := map[string]string{}
		for _, name := range []string{"carol", "nobody", "dave"} {
			var seq string
			for i := 0; i < 5; i++ {
				_, err := s.Login(attacker, name, fmt.Sprint("guess-", i))
				seq += outcome(err) + ","
			}
			seqs[name] = seq
		}
		want := "unauthenticated,unauthenticated,unauthenticated,too many requests,too many requests,"
		for name, seq := range seqs {
			if seq != want {
				t.Errorf("%s answered %s, want %s", name, seq, want)
			}
		}
		// The locked attacker cannot lock carol out from everywhere.
		if _, err := s.Login(attacker, "carol", "carol-password"); !errs.Is(err, errs.TooMany) {
			t.Fatalf("right password from the locked address = %v, want too many", err)
		}
		if p, err := s.Login(from("198.51.100.7"), "carol", "carol-password"); err != nil || p.Name != "carol" {
			t.Fatalf("carol from her own address = %+v, %v", p, err)
		}
		// A password reset clears every lock of the account.
		if err := s.SetPassword(ctx, "carol", "carol-password-2"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(attacker, "carol", "carol-password-2"); err != nil {
			t.Fatalf("after reset = %v", err)
		}
	})
}

// TestCheckLimiterPerAddress (issue 22 item 2): each client address may
// cause only CheckBurst password hashes before it gets 429 without
// hashing, whatever names it tries; answers from the caches (a right pair
// verified before, a wrong pair refused before) cost nothing.
func TestCheckLimiterPerAddress(t *testing.T) {
	db := metatest.OpenSQLite(t)
	s := auth.New(db, keyringtest.New(t, db), auth.Options{MaxFailures: 100, CacheTTL: time.Minute, CheckRate: 0.001, CheckBurst: 5})
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "carol", "carol-password", "", auth.NoRole); err != nil {
		t.Fatal(err)
	}
	a := from("192.0.2.1")
	// One hash, then cached.
	for i := 0; i < 8; i++ {
		if _, err := s.Login(a, "carol", "carol-password"); err != nil {
			t.Fatalf("success %d = %v", i, err)
		}
	}
	// The same refused pair again and again: one hash, then cached (each
	// still a failure towards the lock, which MaxFailures puts far away).
	for i := 0; i < 10; i++ {
		if _, err := s.Login(a, "carol", "same-wrong-pw"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("repeat %d of one wrong pair = %v", i, err)
		}
	}
	for i := 0; i < 3; i++ { // 2 spent above, 3 left
		if _, err := s.Login(a, fmt.Sprint("user", i), "pw"); !errs.Is(err, errs.Unauthenticated) {
			t.Fatalf("failure %d = %v", i, err)
		}
	}
	for _, name := range []string{"someone-else", "carol"} {
		if _, err := s.Login(a, name, "another-guess"); !errs.Is(err, errs.TooMany) {
			t.Fatalf("%s past the budget = %v, want too many", name, err)
		}
	}
	// A right password already verified is still accepted from the cache.
	if _, err := s.Login(a, "carol", "carol-password"); err != nil {
		t.Fatalf("cached success past the budget = %v", err)
	}
	// Another address has its own budget; IPv6 addresses count per /64.
	if _, err := s.Login(from("2001:db8::1"), "x", "pw-1"); !errs.Is(err, errs.Unauthenticated) {
		t.Fatalf("other address = %v", err)
	}
	for i := 0; i < 4; i++ {
		s.Login(from(fmt.Sprintf("2001:db8::%x", i+2)), "x", fmt.Sprint("pw", i))
	}
	if _, err := s.Login(from("2001:db8::ffff"), "x", "pw-last"); !errs.Is(err, errs.TooMany) {
		t.Fatalf("sixth check from one /64 = %v, want too many", err)
	}
}

// TestHashingSlots (issue 22 item 2): at most HashSlots password hashes
// run at once; the others wait HashWait and are refused as unavailable.
func TestHashingSlots(t *testing.T) {
	db := metatest.OpenSQLite(t)
	s := auth.New(db, keyringtest.New(t, db), auth.Options{MaxFailures: 100, CheckRate: 1000, CheckBurst: 1000, HashSlots: 1, HashWait: 10 * time.Millisecond})
	var wg sync.WaitGroup
	results := make([]error, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = s.Login(from(fmt.Sprintf("192.0.2.%d", i+1)), fmt.Sprint("user", i), "password")
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, err := range results {
		counts[outcome(err)]++
	}
	if counts["unavailable"] == 0 || counts["unauthenticated"] == 0 || counts["unavailable"]+counts["unauthenticated"] != len(results) {
		t.Fatalf("outcomes = %v: want some hashed (unauthenticated) and some refused for want of a slot (unavailable)", counts)
	}

	// The queue's bound: TestGuardQueueBound (the slot held, so that no
	// hash ends while the requests arrive).
}

// TestUserIDsNotReused (issue 22 item 8): a deleted user's ID is never
// given to a new user (SQLite reused the largest before migration 00012).
func TestUserIDsNotReused(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		s := auth.New(db, keyringtest.New(t, db), auth.Options{})
		ctx := context.Background()
		if _, err := s.CreateUser(ctx, "first", "first-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		gone, err := s.CreateRobot(ctx, "gone", auth.NoRole)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		next, err := s.CreateRobot(ctx, "next", auth.NoRole)
		if err != nil {
			t.Fatal(err)
		}
		if next.ID <= gone.ID {
			t.Fatalf("new user got ID %d after deleted user %d", next.ID, gone.ID)
		}
	})
}

// TestRegistryTokenOfDeletedUser (issue 22 item 8): a registry token of a
// deleted account does not authenticate an account that later has its ID,
// even one of the same name.
func TestRegistryTokenOfDeletedUser(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		s := auth.New(db, keyringtest.New(t, db), auth.Options{})
		tokens, err := auth.NewRegistryTokens(ctx, s, "arca", 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		alice, err := s.CreateUser(ctx, "alice", "alice-password", "", auth.Admin)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Login(ctx, "alice", "alice-password")
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := tokens.Issue(ctx, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := tokens.Verify(ctx, tok); err != nil || got.Name != "alice" {
			t.Fatalf("live token = %+v, %v", got, err)
		}
		// Reuse the ID outright (what SQLite did before 00012, and what a
		// restored backup may do): another name, then the same name.
		for _, name := range []string{"mallory", "alice"} {
			if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, alice.ID); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // a later creation time
			if _, err := db.ExecContext(ctx, `INSERT INTO users (id, name, kind, role, created_at, updated_at) VALUES ($1, $2, 'user', 'admin', $3, $3)`,
				alice.ID, name, meta.Now()); err != nil {
				t.Fatal(err)
			}
			if got, _, err := tokens.Verify(ctx, tok); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("deleted alice's token authenticated %q as %+v, %v", name, got, err)
			}
		}
	})
}

// TestRegistryTokenBoundedByToken (issue 22 item 6): a registry token got
// with an expiring token expires no later than that token.
func TestRegistryTokenBoundedByToken(t *testing.T) {
	db := metatest.OpenSQLite(t)
	ctx := context.Background()
	s := auth.New(db, keyringtest.New(t, db), auth.Options{})
	tokens, err := auth.NewRegistryTokens(ctx, s, "arca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "alice", "alice-password", "", auth.NoRole); err != nil {
		t.Fatal(err)
	}
	secret, _, err := s.CreateToken(ctx, "alice", "short", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Login(ctx, auth.TokenUser, secret)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tokens.Issue(ctx, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &claims); err != nil {
		t.Fatal(err)
	}
	if limit := time.UnixMilli(p.TokenExpiresAt); claims.ExpiresAt.After(limit) {
		t.Fatalf("registry token expires %v, after its token (%v)", claims.ExpiresAt.Time, limit)
	}
}
