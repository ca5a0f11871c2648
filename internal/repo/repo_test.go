package repo_test

import (
	"context"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"files", "a", "my-repo", "team.data_v2", "0x"} {
		if err := repo.ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Files", "-a", "a-", "a..b", "a/b", "..", "a b", "ä", string(make([]byte, 65))} {
		if err := repo.ValidateName(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("ValidateName(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestStore(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		s := repo.NewStore(db, keyringtest.New(t, db), map[string]repo.SettingsCheck{
			"raw":   func(string, map[string]any) error { return nil },
			"oci":   func(string, map[string]any) error { return errs.E(errs.Invalid, "no") },
			"plain": nil,
		})
		r := &repo.Repository{Name: "files", Format: "raw", Settings: map[string]any{"k": "v"}}
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Kind != repo.Hosted || r.Visibility != repo.Private || r.ID == 0 {
			t.Fatalf("defaults not applied: %+v", r)
		}
		if err := s.Create(ctx, &repo.Repository{Name: "files", Format: "raw"}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate Create = %v, want conflict", err)
		}
		for _, bad := range []*repo.Repository{
			{Name: "x", Format: "cobol"},
			{Name: "x", Format: "raw", Kind: "proxy"},
			{Name: "x", Format: "plain", Kind: "mirror"},
			{Name: "x", Format: "plain", Visibility: "secret"},
			{Name: "X", Format: "raw"},
			{Name: "x", Format: "oci", Settings: map[string]any{"a": 1}},   // its check refuses
			{Name: "x", Format: "plain", Settings: map[string]any{"a": 1}}, // takes no settings
		} {
			if err := s.Create(ctx, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("Create(%+v) = %v, want invalid", bad, err)
			}
		}
		got, err := s.Get(ctx, "files")
		if err != nil || got.Format != "raw" || got.Settings["k"] != "v" {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, "nope"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Get(missing) = %v", err)
		}
		got.Visibility, got.Description = repo.Public, "hello"
		if err := s.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "files"); !got.Public() || got.Description != "hello" {
			t.Fatalf("after Update: %+v", got)
		}
		if err := s.Create(ctx, &repo.Repository{Name: "images", Format: "plain"}); err != nil {
			t.Fatal(err)
		}
		all, _ := s.List(ctx, "")
		raw, _ := s.List(ctx, "raw")
		if len(all) != 2 || len(raw) != 1 || all[0].Name != "files" {
			t.Fatalf("List = %d all, %d raw", len(all), len(raw))
		}
		// Ensure keeps an existing repository and refuses a changed format.
		created, err := s.Ensure(ctx, &repo.Repository{Name: "files", Format: "raw", Kind: "hosted"})
		if err != nil || created {
			t.Fatalf("Ensure(existing) = %v, %v", created, err)
		}
		if _, err := s.Ensure(ctx, &repo.Repository{Name: "files", Format: "plain"}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("Ensure with another format = %v, want conflict", err)
		}
		if created, err := s.Ensure(ctx, &repo.Repository{Name: "new", Format: "raw"}); err != nil || !created {
			t.Fatalf("Ensure(new) = %v, %v", created, err)
		}
		if err := s.Delete(ctx, "files"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "files"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second Delete = %v", err)
		}
	})
}
