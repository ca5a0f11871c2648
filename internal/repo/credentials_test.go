package repo_test

import (
	"context"
	"encoding/json"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

func storedConfig(t *testing.T, db *meta.DB, name string) string {
	t.Helper()
	var c string
	if err := db.QueryRow(`SELECT config FROM repositories WHERE name = $1`, name).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func upstream(r *repo.Repository) map[string]any {
	up, _ := r.Settings["upstream"].(map[string]any)
	return up
}

// TestUpstreamCredentials: credentials in an upstream URL move into their
// fields, are stored sealed, are read back in the clear by the store, are
// masked for clients, and survive an update that sends them back masked.
func TestUpstreamCredentials(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		s := repo.NewStore(db, keyringtest.New(t, db), map[string]repo.SettingsCheck{"pypi": func(string, map[string]any) error { return nil }})
		r := &repo.Repository{Name: "mirror", Format: "pypi", Kind: repo.Proxy, Settings: map[string]any{
			"upstream": map[string]any{"url": "https://urluser:url-pass-123@pypi.example.com/simple/", "token": "tok-secret-456"}}}
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		if up := upstream(r); up["url"] != "https://pypi.example.com/simple/" || up["username"] != "urluser" || up["password"] != "url-pass-123" {
			t.Fatalf("after Create: %v", up)
		}
		for _, secret := range []string{"urluser", "url-pass-123", "tok-secret-456"} {
			if c := storedConfig(t, db, "mirror"); strings.Contains(c, secret) {
				t.Fatalf("stored settings %s hold %q in the clear", c, secret)
			}
		}
		got, err := s.Get(ctx, "mirror")
		if err != nil {
			t.Fatal(err)
		}
		if up := upstream(got); up["username"] != "urluser" || up["password"] != "url-pass-123" || up["token"] != "tok-secret-456" {
			t.Fatalf("Get: %v", up)
		}
		b, _ := json.Marshal(got.Redacted())
		for _, secret := range []string{"urluser", "url-pass-123", "tok-secret-456"} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("Redacted shows %q: %s", secret, b)
			}
		}
		// A client sends back what it was shown, changing the description.
		var shown repo.Repository
		json.Unmarshal(b, &shown)
		shown.Description = "edited"
		if err := s.Update(ctx, &shown); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx, "mirror")
		if up := upstream(got); got.Description != "edited" || up["username"] != "urluser" || up["password"] != "url-pass-123" || up["token"] != "tok-secret-456" {
			t.Fatalf("after a masked update: %v", up)
		}
		// A password that looks sealed is a password like any other.
		got.Settings["upstream"].(map[string]any)["password"] = "sealed:not-really"
		if err := s.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "mirror"); err != nil || upstream(got)["password"] != "sealed:not-really" {
			t.Fatalf("a password starting with sealed: reads back %v, %v", upstream(got), err)
		}
		// Conflicting credentials in the URL and the fields are refused.
		got.Settings["upstream"] = map[string]any{"url": "https://other:pw@pypi.example.com/simple/", "username": "urluser"}
		if err := s.Update(ctx, got); !errs.Is(err, errs.Invalid) {
			t.Fatalf("conflicting credentials: %v", err)
		}
	})
}

// TestSealStored seals what releases before sealing stored in the clear.
func TestSealStored(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		s := repo.NewStore(db, keyringtest.New(t, db), map[string]repo.SettingsCheck{"npm": func(string, map[string]any) error { return nil }})
		legacy := `{"upstream":{"url":"https://old:old-pass-789@registry.example.com/","token":"old-token-000"}}`
		if _, err := db.Exec(`INSERT INTO repositories (name, format, kind, visibility, description, config, created_at, updated_at)
			VALUES ('legacy', 'npm', 'proxy', 'private', '', $1, 0, 0)`, legacy); err != nil {
			t.Fatal(err)
		}
		if n, err := s.SealStored(ctx); err != nil || n != 1 {
			t.Fatalf("SealStored = %d, %v", n, err)
		}
		c := storedConfig(t, db, "legacy")
		for _, secret := range []string{"old-pass-789", "old-token-000", "old:"} {
			if strings.Contains(c, secret) {
				t.Fatalf("after SealStored the row holds %q: %s", secret, c)
			}
		}
		got, err := s.Get(ctx, "legacy")
		if err != nil {
			t.Fatal(err)
		}
		if up := upstream(got); up["url"] != "https://registry.example.com/" || up["username"] != "old" || up["password"] != "old-pass-789" || up["token"] != "old-token-000" {
			t.Fatalf("after SealStored: %v", up)
		}
		if n, err := s.SealStored(ctx); err != nil || n != 0 {
			t.Fatalf("second SealStored = %d, %v", n, err)
		}
	})
}
