// Command searchbench measures arca's search at scale (bench/search.sh):
// it fills a fresh database with N raw files (blob rows and raw_files
// rows, as uploads leave them), builds the search index from them with the
// indexer itself (search.Service.Reindex of the repository), and times
// queries through search.Service.Search: a selective name, a common word,
// a whole digest and a 12-character digest prefix. It prints p50 and p99
// of each, per database.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/search"
)

func main() {
	n := flag.Int("n", 1_000_000, "items to index")
	queries := flag.Int("queries", 200, "queries of each kind")
	pg := flag.String("postgres", "", "PostgreSQL server URL (a database is created on it and dropped after); empty: SQLite only")
	lite := flag.Bool("sqlite", true, "measure SQLite (after PostgreSQL, when -postgres is given)")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("| database | items | fill | reindex | query | p50 ms | p99 ms | results (last) |\n|---|---:|---:|---:|---|---:|---:|---:|\n")
	if *pg != "" {
		dbURL, drop, err := freshDatabase(ctx, *pg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "postgres:", err)
			os.Exit(1)
		}
		err = run(ctx, "postgres", dbURL, *n, *queries)
		drop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "postgres:", err)
			os.Exit(1)
		}
	}
	if *lite {
		if err := run(ctx, "sqlite", "", *n, *queries); err != nil {
			fmt.Fprintln(os.Stderr, "sqlite:", err)
			os.Exit(1)
		}
	}
}

// freshDatabase creates a database on the server at serverURL.
func freshDatabase(ctx context.Context, serverURL string) (string, func(), error) {
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("searchbench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		admin.Close()
	}, nil
}

// word is one of 1000 made-up words: every item's path holds two.
func word(i int) string {
	syl := []string{"ka", "to", "mi", "ru", "se", "no", "ha", "li", "vo", "ze"}
	return syl[i%10] + syl[i/10%10] + syl[i/100%10] + "n"
}

func digestOf(i int) string {
	s := sha256.Sum256([]byte("searchbench item " + strconv.Itoa(i)))
	return "sha256:" + hex.EncodeToString(s[:])
}

func path(i int) string {
	return fmt.Sprintf("data/%s/%s-%d.csv", word(i%1000), word(i/1000%1000), i)
}

func run(ctx context.Context, engine, dbURL string, n, queries int) error {
	dir, err := os.MkdirTemp("", "searchbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir, cfg.DatabaseURL, cfg.AdminPassword = dir, dbURL, "searchbench-admin-password"
	a, err := app.Open(ctx, cfg, app.NewLogger(config.Log{Level: "error", Format: "text"}, io.Discard))
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Bootstrap(ctx); err != nil {
		return err
	}
	rp, err := a.Repos.Get(ctx, "files")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := fill(ctx, a.DB, rp.ID, n); err != nil {
		return fmt.Errorf("filling: %w", err)
	}
	filled := time.Since(start)
	start = time.Now()
	walPeak, stopWatch := watchWAL(dir)
	st, err := a.Search.Reindex(ctx, search.Target{Repository: rp.Name})
	stopWatch()
	if err != nil {
		return fmt.Errorf("indexing: %w", err)
	}
	reindexed := time.Since(start)
	if engine == "sqlite" {
		fmt.Fprintf(os.Stderr, "sqlite: the write-ahead log peaked at %.0f MB during the reindex\n", float64(*walPeak)/1e6)
	}
	if st.Documents != n {
		return fmt.Errorf("indexed %d documents, want %d", st.Documents, n)
	}
	if engine == "postgres" {
		if _, err := a.DB.ExecContext(ctx, "ANALYZE"); err != nil {
			return err
		}
	}
	p := auth.Principal{UserID: 1, Name: "admin", Role: auth.Admin}
	kinds := []struct {
		name string
		q    func(i int) string
	}{
		{"name, selective (`<word>-<i>`)", func(i int) string { return fmt.Sprintf("%s-%d", word(i/1000%1000), i) }},
		{"name, common word (1 in 1000 items)", func(i int) string { return word(i % 1000) }},
		{"name prefix (`<3 letters>`)", func(i int) string { return word(i % 1000)[:3] }},
		{"digest, whole", digestOf},
		{"digest, 12-hex prefix", func(i int) string { return strings.TrimPrefix(digestOf(i), "sha256:")[:12] }},
	}
	for k, kind := range kinds {
		var took []time.Duration
		last := 0
		for range queries {
			i := randInt(n)
			q := kind.q(i)
			t0 := time.Now()
			page, err := a.Search.Search(ctx, p, search.Request{Q: q, Limit: 20})
			took = append(took, time.Since(t0))
			if err != nil {
				return fmt.Errorf("%q: %w", q, err)
			}
			last = len(page.Results)
			if (k == 0 || k >= 3) && last == 0 {
				return fmt.Errorf("%q found nothing", q)
			}
		}
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		fill, reidx := "", ""
		if k == 0 {
			fill, reidx = filled.Round(time.Second).String(), reindexed.Round(time.Second).String()
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %.1f | %.1f | %d |\n", engine, n, fill, reidx, kind.name,
			ms(took[len(took)/2]), ms(took[len(took)*99/100]), last)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func randInt(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}

// fill writes n blob rows and n raw_files rows naming them, in
// transactions of 10,000. These are rows without bytes in a throwaway
// database: the benchmark measures metadata, not the blob store.
func fill(ctx context.Context, db *meta.DB, repoID int64, n int) error {
	const tx, batch = 10_000, 500
	now := meta.Now()
	for start := 0; start < n; start += tx {
		err := db.WithTx(ctx, func(t *sql.Tx) error {
			for b := start; b < min(start+tx, n); b += batch {
				end := min(b+batch, start+tx, n)
				var bq, fq strings.Builder
				var bargs, fargs []any
				bq.WriteString(`INSERT INTO blobs (digest, size, created_at) VALUES `)
				fq.WriteString(`INSERT INTO raw_files (repository_id, path, digest, size, created_at, updated_at) VALUES `)
				for i := b; i < end; i++ {
					if i > b {
						bq.WriteByte(',')
						fq.WriteByte(',')
					}
					k := len(bargs)
					fmt.Fprintf(&bq, "($%d,$%d,$%d)", k+1, k+2, k+3)
					bargs = append(bargs, digestOf(i), 100+i%1000, now)
					k = len(fargs)
					fmt.Fprintf(&fq, "($%d,$%d,$%d,$%d,$%d,$%d)", k+1, k+2, k+3, k+4, k+5, k+6)
					fargs = append(fargs, repoID, path(i), digestOf(i), 100+i%1000, now, now+int64(i))
				}
				if _, err := t.ExecContext(ctx, bq.String(), bargs...); err != nil {
					return err
				}
				if _, err := t.ExecContext(ctx, fq.String(), fargs...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if db.Dialect == meta.SQLite { // nothing else runs here: keep the WAL from growing without end
			db.ExecContext(ctx, `PRAGMA wal_checkpoint(RESTART)`)
		}
	}
	return nil
}

// watchWAL samples the size of the SQLite write-ahead logs under dir every
// 100 ms until stopped; the peak is the figure a reindex must keep bounded.
// A measurement of this benchmark process's own files, not server work,
// so a local ticker and not a job.
func watchWAL(dir string) (*int64, func()) {
	var peak int64
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			files, _ := filepath.Glob(filepath.Join(dir, "*-wal"))
			for _, f := range files {
				if fi, err := os.Stat(f); err == nil && fi.Size() > peak {
					peak = fi.Size()
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return &peak, func() { close(done); <-stopped }
}
