package s3api

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
)

// The one-statement delimiter listing of SQLite (listWalk) returns exactly
// what the loop of range scans (listLoop) returns, for random keys,
// prefixes, delimiters (one or more characters, ASCII or not), markers and
// page sizes.
func TestListWalkMatchesLoop(t *testing.T) {
	ctx := context.Background()
	db, err := meta.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO repositories (id, name, format, kind, visibility, created_at, updated_at) VALUES (1, 'b', 's3', 'hosted', 'private', 1, 1)`,
		`INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:x', 1, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "b", "dir", "x/", "/", "é", "ü/", "--", "z", "日本", "", "."}
	randKey := func() string {
		k := ""
		for n := 1 + rnd.IntN(5); n > 0; n-- {
			k += parts[rnd.IntN(len(parts))]
		}
		if k == "" {
			k = "k"
		}
		return k
	}
	keys := map[string]bool{}
	for len(keys) < 400 {
		keys[randKey()] = true
	}
	for k := range keys {
		if _, err := db.Exec(`INSERT INTO s3_objects (repository_id, key, digest, size, etag, modified_at) VALUES (1, $1, 'sha256:x', 1, 'e', 1)`, k); err != nil {
			t.Fatal(err)
		}
	}
	s := store{db: db}
	delims := []string{"/", "x/", "é", "--", "日本", "a"}
	prefixes := []string{"", "a", "dir", "x", "é", "日", "zz"}
	for i := 0; i < 600; i++ {
		prefix, delim := prefixes[rnd.IntN(len(prefixes))], delims[rnd.IntN(len(delims))]
		marker := ""
		if rnd.IntN(2) == 0 {
			marker = randKey()
		}
		max := 1 + rnd.IntN(30)
		walk, err := s.listWalk(ctx, 1, prefix, delim, marker, max)
		if err != nil {
			t.Fatal(err)
		}
		loop, err := s.listLoop(ctx, 1, prefix, delim, marker, max)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(summary(walk), summary(loop)) {
			t.Fatalf("prefix %q delim %q marker %q max %d:\nwalk %v\nloop %v", prefix, delim, marker, max, summary(walk), summary(loop))
		}
	}
}

func summary(p listPage) string {
	var ks []string
	for _, o := range p.Objects {
		ks = append(ks, o.Key)
	}
	return fmt.Sprintf("objects %q prefixes %q truncated %v next %q", ks, p.Prefixes, p.Truncated, p.Next)
}

// BenchmarkDelimiterListing: the top level of 20,000 keys in 100 prefixes,
// one statement (walk) against one per prefix (loop).
func BenchmarkDelimiterListing(b *testing.B) {
	ctx := context.Background()
	db, err := meta.Open(ctx, "", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.Exec(`INSERT INTO repositories (id, name, format, kind, visibility, created_at, updated_at) VALUES (1, 'b', 's3', 'hosted', 'private', 1, 1)`)
	db.Exec(`INSERT INTO blobs (digest, size, created_at) VALUES ('sha256:x', 1, 1)`)
	tx, _ := db.Begin()
	for i := range 20000 {
		tx.Exec(`INSERT INTO s3_objects (repository_id, key, digest, size, etag, modified_at) VALUES (1, $1, 'sha256:x', 1, 'e', 1)`,
			fmt.Sprintf("dir%03d/key%07d", i%100, i))
	}
	tx.Commit()
	s := store{db: db}
	for _, impl := range []struct {
		name string
		list func(context.Context, int64, string, string, string, int) (listPage, error)
	}{{"walk", s.listWalk}, {"loop", s.listLoop}} {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				p, err := impl.list(ctx, 1, "", "/", "", 1000)
				if err != nil || len(p.Prefixes) != 100 {
					b.Fatalf("%d prefixes, %v", len(p.Prefixes), err)
				}
			}
		})
	}
}
