package search

import (
	"context"
	"fmt"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

// TestGroupPages: a whole reindex reads a repository in pages of groups,
// by one column (raw paths) or two (Maven's group and artifact ids), and
// finds every item once.
func TestGroupPages(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		repos := repo.NewStore(db, nil, map[string]repo.SettingsCheck{"raw": nil, "maven": nil})
		raw := &repo.Repository{Name: "r", Format: "raw", Kind: "hosted", Visibility: "private"}
		mvn := &repo.Repository{Name: "m", Format: "maven", Kind: "hosted", Visibility: "private"}
		for _, rp := range []*repo.Repository{raw, mvn} {
			if err := repos.Create(ctx, rp); err != nil {
				t.Fatal(err)
			}
		}
		now := meta.Now()
		// Rows without bytes: this test reads metadata only.
		for i := range 10 {
			d := fmt.Sprintf("sha256:%064d", i)
			for _, q := range []string{`INSERT INTO blobs (digest, size, created_at) VALUES ($1, 1, $2)`,
				`INSERT INTO raw_files (repository_id, path, digest, size, created_at, updated_at) VALUES (` + fmt.Sprint(raw.ID) + `, 'p/` + fmt.Sprint(i) + `', $1, 1, $2, $2)`,
				`INSERT INTO maven_files (repository_id, path, group_id, artifact_id, version, extension, digest, size, created_at)
					VALUES (` + fmt.Sprint(mvn.ID) + `, 'x/` + fmt.Sprint(i) + `', 'g` + fmt.Sprint(i%3) + `', 'a` + fmt.Sprint(i%2) + `', '1.0', 'jar', $1, 1, $2)`} {
				if _, err := db.ExecContext(ctx, q, d, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		s := New(Deps{DB: db, Repos: repos})
		s.pageSize = 3
		for _, c := range []struct {
			rp          *repo.Repository
			pages, docs int
		}{{raw, 4, 10}, {mvn, 2, 6}} { // 10 paths in pages of 3; 6 group:artifact pairs
			pages := 0
			if err := groupPages(ctx, db, c.rp, 3, func(groupRange) error { pages++; return nil }); err != nil {
				t.Fatal(err)
			}
			if pages != c.pages {
				t.Errorf("%s: %d pages, want %d", c.rp.Name, pages, c.pages)
			}
			n, err := s.reindexWhole(ctx, c.rp, sources[c.rp.Format])
			if err != nil || n != c.docs {
				t.Errorf("%s: reindexed %d documents (%v), want %d", c.rp.Name, n, err, c.docs)
			}
		}
	})
}
