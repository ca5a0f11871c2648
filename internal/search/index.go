package search

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Doc is one searchable item.
type Doc struct {
	Format       string
	RepositoryID int64
	Repository   string
	// Group is the unit the indexer refreshes at once: an image, a
	// package, a path, a key, "experiment:<id>", "run:<uuid>",
	// "model:<name>".
	Group   string
	Kind    string
	Name    string
	Version string
	Digests []string
	Summary string
	Body    string
	// ScopeKind and ScopeID name the MLflow resource whose permission
	// reading the document takes ("" for the repository's).
	ScopeKind string
	ScopeID   int64
	UpdatedAt int64
}

// Bounds of what one document stores.
const (
	maxSummary = 512
	maxBody    = 4096
)

func (d Doc) key() string {
	h := sha256.New()
	for _, s := range []string{strconv.FormatInt(d.RepositoryID, 10), d.Format, d.Group, d.Kind, d.Name, d.Version} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Target is what a search_index job refreshes: one group of a repository,
// a whole repository (Group ""), or everything (All).
type Target struct {
	Repository string `json:"repository,omitempty"`
	Group      string `json:"group,omitempty"`
	All        bool   `json:"all,omitempty"`
}

// Stats count what a reindex did.
type Stats struct {
	Repositories int `json:"repositories"`
	Documents    int `json:"documents"`
}

// Reindex rebuilds the documents of t from the format tables: a group in
// one transaction, a whole repository in several (reindexWhole). What is
// gone is deleted, what changed is written again.
func (s *Service) Reindex(ctx context.Context, t Target) (Stats, error) {
	var st Stats
	if !t.All {
		rp, err := s.Repos.Get(ctx, t.Repository)
		if errs.Is(err, errs.NotFound) {
			return st, nil // deleted: its documents went with it (ON DELETE CASCADE)
		}
		if err != nil {
			return st, err
		}
		n, err := s.reindexRepo(ctx, rp, t.Group)
		return Stats{Repositories: 1, Documents: n}, err
	}
	all, err := s.Repos.List(ctx, "")
	if err != nil {
		return st, err
	}
	for _, rp := range all {
		n, err := s.reindexRepo(ctx, rp, "")
		if err != nil {
			return st, err
		}
		st.Repositories++
		st.Documents += n
	}
	return st, nil
}

// ReindexGroups rebuilds several groups of one repository in one
// transaction (the changes of a window, drained together). A repository
// that no longer exists has nothing to rebuild.
func (s *Service) ReindexGroups(ctx context.Context, repository string, groups []string) (Stats, error) {
	rp, err := s.Repos.Get(ctx, repository)
	if errs.Is(err, errs.NotFound) {
		return Stats{}, nil
	}
	if err != nil {
		return Stats{}, err
	}
	n, err := s.reindexRepoGroups(ctx, rp, groups)
	return Stats{Repositories: 1, Documents: n}, err
}

func (s *Service) reindexRepo(ctx context.Context, rp *repo.Repository, group string) (int, error) {
	if group == "" {
		return s.reindexRepoGroups(ctx, rp, nil)
	}
	return s.reindexRepoGroups(ctx, rp, []string{group})
}

// reindexRepoGroups rebuilds the given groups of rp in one transaction, or
// the whole repository when groups is empty.
func (s *Service) reindexRepoGroups(ctx context.Context, rp *repo.Repository, groups []string) (int, error) {
	src := sources[rp.Format]
	if src == nil || rp.Kind != "hosted" && rp.Format != "mlflow" {
		return 0, nil // proxies and groups hold no content of their own to name
	}
	if rp.Format == "s3" {
		// The MLflow artifact bucket's objects are found as artifacts of
		// runs, and by digest; not by key.
		if s.MLflow != nil {
			if b, err := s.MLflow.ArtifactBucket(ctx); err == nil && b == rp.Name {
				return 0, nil
			}
		}
	}
	// One repository is reindexed by one job at a time: on PostgreSQL
	// under a lock every process shares (SQLite queues writers on its
	// file), so that a job that read older rows never writes after one
	// that read newer.
	n := 0
	err := s.DB.WithLock(ctx, "search index "+strconv.FormatInt(rp.ID, 10), func() error {
		var err error
		if len(groups) == 0 {
			n, err = s.reindexWhole(ctx, rp, src)
		} else {
			n, err = s.reindexGroups(ctx, rp, src, groups)
		}
		return err
	})
	return n, err
}

// reindexGroups rebuilds groups (and the groups expand adds) in one
// transaction. The format tables are read on the pool: on PostgreSQL a
// connection reading a result cannot write the documents emitted
// meanwhile.
func (s *Service) reindexGroups(ctx context.Context, rp *repo.Repository, src source, wanted []string) (int, error) {
	n := 0
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		w := &writer{ctx: ctx, tx: tx, dialect: s.DB.Dialect, at: meta.Now()}
		// The format tables are read through the transaction on SQLite:
		// this goroutine holds the write lock, and waiting for a pool
		// connection meanwhile deadlocks once every connection is held
		// by a writer waiting for that lock (each then waits out
		// busy_timeout and fails). On PostgreSQL through the pool: a
		// connection reading a result cannot write the documents emitted
		// meanwhile.
		var read meta.Querier = s.DB
		if s.DB.Dialect == meta.SQLite {
			read = tx
		}
		var groups []string
		seen := make(map[string]bool, len(wanted))
		for _, group := range wanted {
			more, err := expand(ctx, read, rp, group)
			if err != nil {
				return err
			}
			for _, g := range more {
				if !seen[g] {
					seen[g] = true
					groups = append(groups, g)
				}
			}
		}
		// Groups in chunks: one delete and one query of the format's
		// tables per chunk (a drain after a burst of S3 PUTs rebuilds
		// thousands of one-key groups). MLflow's source reads a group at
		// a time.
		chunk := groupChunk
		if rp.Format == "mlflow" {
			chunk = 1
		}
		for len(groups) > 0 {
			some := groups[:min(chunk, len(groups))]
			groups = groups[len(some):]
			if err := w.flush(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM search_docs WHERE repository_id = $1 AND format = $2 AND grp IN (`+s.DB.Dialect.Args(3, len(some))+`)`,
				append([]any{rp.ID, rp.Format}, anys(some)...)...); err != nil {
				return meta.Err(err)
			}
			c := sourceCtx{s: s, tx: read, rp: rp, groups: some}
			if len(some) == 1 {
				c.group, c.groups = some[0], nil
			}
			if err := src(ctx, c, w.add); err != nil {
				return err
			}
		}
		err := w.flush()
		n = w.n
		return err
	})
	return n, err
}

// groupChunk is how many groups reindexGroups rebuilds with one delete and
// one query.
const groupChunk = 200

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// reindexWhole rebuilds a whole repository in transactions of wholeBatch
// documents, each written again with the time the reindex started; what
// was not written again is then deleted. A repository of a million items
// is never one transaction (SQLite's write-ahead log would hold every
// page the full-text index rewrote), and searches keep answering while
// it runs.
func (s *Service) reindexWhole(ctx context.Context, rp *repo.Repository, src source) (int, error) {
	start := meta.Now()
	w := &writer{ctx: ctx, at: start, commit: func(docs []Doc) error {
		if err := s.DB.WithTx(ctx, func(tx *sql.Tx) error { return insertDocs(ctx, tx, s.DB.Dialect, docs, start) }); err != nil {
			return err
		}
		if s.DB.Dialect == meta.SQLite {
			// Copy what this batch wrote into the database between
			// batches. PASSIVE, never RESTART: a RESTART checkpoint holds
			// the write lock while it waits for readers, so every writer
			// of the server waited up to busy_timeout and failed with
			// SQLITE_BUSY (TestGCRaces, where a fresh server reindexes).
			s.DB.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		}
		return nil
	}}
	var err error
	if _, paged := groupTables[rp.Format]; paged {
		err = groupPages(ctx, s.DB, rp, s.pageSize, func(page groupRange) error {
			// A page is read whole before any of it is written: on SQLite
			// a read still open when a write begins keeps the
			// write-ahead log from starting over, and it grows by all
			// the reindex writes.
			var docs []Doc
			if err := src(ctx, sourceCtx{s: s, tx: s.DB, rp: rp, page: &page}, func(d Doc) error {
				docs = append(docs, d)
				return nil
			}); err != nil {
				return err
			}
			for _, d := range docs {
				if err := w.add(d); err != nil {
					return err
				}
			}
			return nil
		})
	} else { // MLflow: its sources read each kind whole before emitting
		err = src(ctx, sourceCtx{s: s, tx: s.DB, rp: rp}, w.add)
	}
	if err != nil {
		return w.n, err
	}
	if err := w.flush(); err != nil {
		return w.n, err
	}
	_, err = s.DB.ExecContext(ctx, `DELETE FROM search_docs WHERE repository_id = $1 AND format = $2 AND indexed_at < $3`, rp.ID, rp.Format, start)
	return w.n, meta.Err(err)
}

// writer batches inserts: into tx, or each batch through commit.
type writer struct {
	ctx     context.Context
	tx      *sql.Tx
	dialect meta.Dialect
	commit  func([]Doc) error
	at      int64 // indexed_at of what it writes
	batch   []Doc
	n       int
}

// Documents per insert statement, and per transaction of a whole
// reindex.
const (
	batchSize  = 200
	wholeBatch = 10000
	groupPage  = 1000 // groups read at once by a whole reindex
)

func (w *writer) add(d Doc) error {
	w.batch = append(w.batch, d)
	if w.commit != nil && len(w.batch) >= wholeBatch || w.commit == nil && len(w.batch) >= batchSize {
		return w.flush()
	}
	return nil
}

func (w *writer) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	var err error
	if w.commit != nil {
		err = w.commit(w.batch)
	} else {
		err = insertDocs(w.ctx, w.tx, w.dialect, w.batch, w.at)
	}
	w.n += len(w.batch)
	w.batch = w.batch[:0]
	return err
}

// insertDocs writes docs (in statements of batchSize), indexed at at; a
// document already there (same repository, group, kind, name and version)
// is replaced.
func insertDocs(ctx context.Context, tx *sql.Tx, dialect meta.Dialect, docs []Doc, at int64) error {
	for len(docs) > batchSize {
		if err := insertDocs(ctx, tx, dialect, docs[:batchSize], at); err != nil {
			return err
		}
		docs = docs[batchSize:]
	}
	const cols = 16
	var b strings.Builder
	b.WriteString(`INSERT INTO search_docs (doc_key, format, repository_id, repository, grp, kind, name, name_lc, version, digests, summary, body, scope_kind, scope_id, updated_at, indexed_at) VALUES `)
	args := make([]any, 0, len(docs)*cols)
	seen := map[string]bool{}
	for _, d := range docs {
		k := d.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		if len(args) > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(" + dialect.Args(len(args)+1, cols) + ")")
		args = append(args, k, d.Format, d.RepositoryID, d.Repository, d.Group, d.Kind, d.Name, strings.ToLower(d.Name), d.Version,
			strings.Join(d.Digests, " "), clip(d.Summary, maxSummary), clip(d.Body, maxBody), d.ScopeKind, d.ScopeID, d.UpdatedAt, at)
	}
	b.WriteString(` ON CONFLICT (doc_key) DO UPDATE SET digests = excluded.digests, summary = excluded.summary, body = excluded.body,
		scope_kind = excluded.scope_kind, scope_id = excluded.scope_id, updated_at = excluded.updated_at, repository = excluded.repository,
		indexed_at = excluded.indexed_at`)
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return meta.Err(err)
}

// clip cuts s to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Empty reports whether the index has no documents.
func (s *Service) Empty(ctx context.Context) (bool, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM search_docs LIMIT 1) x`).Scan(&n)
	return n == 0, meta.Err(err)
}

// InsertForBenchmark writes docs directly, for bench/ and tests that
// need a large index quickly.
func (s *Service) InsertForBenchmark(ctx context.Context, docs []Doc) error {
	return s.DB.WithTx(ctx, func(tx *sql.Tx) error { return insertDocs(ctx, tx, s.DB.Dialect, docs, meta.Now()) })
}
