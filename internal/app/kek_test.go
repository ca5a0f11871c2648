package app_test

import (
	"context"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestUpgradeWrapsServerKeys starts arca on a database whose server keys an
// older arca stored in the clear, without a KEK: the first start creates
// <data_dir>/kek and wraps the keys, and what they protect (S3 secrets,
// registry tokens) still works. Afterwards the database alone holds no key.
func TestUpgradeWrapsServerKeys(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.AdminPassword = "admin-test-password"
			if engine == "postgres" {
				cfg.DatabaseURL = metatest.PostgresURL(t)
			}
			open := func() *app.App {
				a, err := app.Open(ctx, cfg, app.NewLogger(cfg.Log, io.Discard))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := a.Bootstrap(ctx); err != nil {
					t.Fatal(err)
				}
				return a
			}
			a := open()
			k, secret, err := a.Auth.CreateAccessKey(ctx, "admin", "", "", "before the upgrade")
			if err != nil {
				t.Fatal(err)
			}
			admin, err := a.Auth.GetUser(ctx, "admin")
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := a.Tokens.Issue(ctx, auth.Principal{UserID: admin.ID, Name: "admin"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Turn the database into an old arca's: keys in the clear, no KEK.
			rows, err := a.DB.Query(`SELECT name FROM server_secrets`)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for rows.Next() {
				var n string
				rows.Scan(&n)
				names = append(names, n)
			}
			rows.Close()
			if len(names) < 2 {
				t.Fatalf("server keys %v: want at least the S3 sealing and registry token keys", names)
			}
			plain := map[string]string{}
			for _, n := range names {
				key, err := a.Keys.Key(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				plain[n] = hex.EncodeToString(key)
				if _, err := a.DB.Exec(`UPDATE server_secrets SET value = $1, kek_id = '' WHERE name = $2`, plain[n], n); err != nil {
					t.Fatal(err)
				}
			}
			a.Close()
			if err := os.Remove(filepath.Join(cfg.DataDir, "kek")); err != nil {
				t.Fatal(err)
			}

			b := open()
			defer b.Close()
			if fi, err := os.Stat(filepath.Join(cfg.DataDir, "kek")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("KEK file after the upgrade: %v %v", fi, err)
			}
			if _, got, err := b.Auth.AccessKeySecret(ctx, k.ID); err != nil || got != secret {
				t.Fatalf("S3 secret after the upgrade: %v", err)
			}
			if p, _, err := b.Tokens.Verify(ctx, token); err != nil || p.Name != "admin" {
				t.Fatalf("registry token after the upgrade: %v", err)
			}
			for n, hexKey := range plain {
				var value, kekID string
				b.DB.QueryRow(`SELECT value, kek_id FROM server_secrets WHERE name = $1`, n).Scan(&value, &kekID)
				if kekID == "" || strings.Contains(value, hexKey) {
					t.Errorf("server key %s is still stored in the clear", n)
				}
			}
			// Another process with another KEK is refused, naming the problem.
			other := cfg
			other.DataDir = t.TempDir()
			other.DatabaseURL = cfg.DatabaseURL
			if engine == "sqlite" {
				other.DatabaseURL = "sqlite://" + filepath.Join(cfg.DataDir, "arca.db")
			}
			if c, err := app.Open(ctx, other, app.NewLogger(cfg.Log, io.Discard)); err == nil {
				c.Close()
				t.Fatal("a process with another KEK opened the database")
			} else if !strings.Contains(err.Error(), "key-encryption key") {
				t.Fatalf("another KEK: %v", err)
			}
		})
	}
}
