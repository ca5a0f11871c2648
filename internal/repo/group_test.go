package repo_test

import (
	"context"
	"github.com/arcaproject/arca/internal/keyring/keyringtest"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

func TestGroupMembers(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		ok := func(string, map[string]any) error { return nil }
		s := repo.NewStore(db, keyringtest.New(t, db), map[string]repo.SettingsCheck{"pkg": ok, "other": ok})
		for _, r := range []*repo.Repository{
			{Name: "proxy", Format: "pkg", Kind: repo.Proxy},
			{Name: "secret", Format: "pkg"},
			{Name: "open", Format: "pkg", Visibility: repo.Public},
			{Name: "elsewhere", Format: "other"},
		} {
			if err := s.Create(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		g := &repo.Repository{Name: "g", Format: "pkg", Kind: repo.Group, Settings: map[string]any{"members": []any{"proxy", "secret", "open"}}}
		if err := s.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		denied := errs.E(errs.Denied, "no")
		canRead := func(_ context.Context, r *repo.Repository) error {
			if r.Public() {
				return nil
			}
			if r.Name == "proxy" {
				return nil
			}
			return denied
		}
		ms := s.Members(ctx, g, canRead)
		var names []string
		for _, m := range repo.HostedFirst(ms) {
			names = append(names, m.Name)
		}
		if strings.Join(names, " ") != "secret open proxy" {
			t.Fatalf("hosted first = %v", names)
		}
		names = nil
		for _, r := range repo.Readable(ms) {
			names = append(names, r.Name)
		}
		if strings.Join(names, " ") != "proxy open" {
			t.Fatalf("readable = %v", names)
		}
		has := func(context.Context, *repo.Repository) (bool, error) { return true, nil }
		for _, m := range ms {
			shadows, err := repo.Shadows(ctx, m, has)
			if err != nil || shadows != (m.Name == "secret") {
				t.Errorf("Shadows(%s) = %v, %v", m.Name, shadows, err)
			}
		}
		// Validation on create and update.
		for _, members := range [][]any{{"elsewhere"}, {"nope"}, {"g"}, {"open", "open"}} {
			bad := &repo.Repository{Name: "g", Format: "pkg", Kind: repo.Group, Settings: map[string]any{"members": members}}
			if err := s.Update(ctx, bad); !errs.Is(err, errs.Invalid) {
				t.Errorf("members %v: %v, want invalid", members, err)
			}
		}
		outer := &repo.Repository{Name: "outer", Format: "pkg", Kind: repo.Group, Settings: map[string]any{"members": []string{"g"}}}
		if err := s.Create(ctx, outer); err != nil {
			t.Fatal(err)
		}
		g.Settings = map[string]any{"members": []any{"open", "outer"}}
		if err := s.Update(ctx, g); !errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), "g → outer → g") {
			t.Fatalf("cycle: %v", err)
		}
		if err := s.Delete(ctx, "g"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("delete of a member: %v", err)
		}
	})
}
