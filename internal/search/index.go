package search

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"hash/fnv"
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

// Reindex rebuilds the documents of t from the format tables, each
// repository in one transaction: what is gone is deleted, what changed
// is written again.
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

func (s *Service) reindexRepo(ctx context.Context, rp *repo.Repository, group string) (int, error) {
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
	n := 0
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		n = 0
		if err := s.lockRepo(ctx, tx, rp.ID); err != nil {
			return err
		}
		w := &writer{ctx: ctx, tx: tx, db: s.DB}
		var read meta.Querier = tx
		if s.DB.Dialect == meta.Postgres {
			read = s.DB
		}
		groups := []string{group}
		if group != "" {
			var err error
			if groups, err = expand(ctx, read, rp, group); err != nil {
				return err
			}
		}
		for _, g := range groups {
			if err := w.deleteGroup(rp.ID, rp.Format, g); err != nil {
				return err
			}
			if err := src(ctx, sourceCtx{s: s, tx: read, rp: rp, group: g}, w.add); err != nil {
				return err
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		n = w.n
		return nil
	})
	return n, err
}

// lockRepo serializes reindexing of one repository across processes on
// PostgreSQL (SQLite serializes every writer anyway), so that a job that
// read older rows never commits after one that read newer.
func (s *Service) lockRepo(ctx context.Context, tx *sql.Tx, id int64) error {
	if s.DB.Dialect != meta.Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("arca search " + strconv.FormatInt(id, 10)))
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()))
	return meta.Err(err)
}

// writer batches inserts.
type writer struct {
	ctx   context.Context
	tx    *sql.Tx
	db    *meta.DB
	batch []Doc
	n     int
}

const batchSize = 200

func (w *writer) deleteGroup(repoID int64, format, group string) error {
	if err := w.flush(); err != nil {
		return err
	}
	var err error
	if group == "" {
		_, err = w.tx.ExecContext(w.ctx, `DELETE FROM search_docs WHERE repository_id = $1 AND format = $2`, repoID, format)
	} else {
		_, err = w.tx.ExecContext(w.ctx, `DELETE FROM search_docs WHERE repository_id = $1 AND format = $2 AND grp = $3`, repoID, format, group)
	}
	return meta.Err(err)
}

func (w *writer) add(d Doc) error {
	w.batch = append(w.batch, d)
	if len(w.batch) >= batchSize {
		return w.flush()
	}
	return nil
}

func (w *writer) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	err := insertDocs(w.ctx, w.tx, w.batch)
	w.n += len(w.batch)
	w.batch = w.batch[:0]
	return err
}

// insertDocs writes docs; a document already there (same repository,
// group, kind, name and version) is replaced.
func insertDocs(ctx context.Context, tx *sql.Tx, docs []Doc) error {
	const cols = 15
	var b strings.Builder
	b.WriteString(`INSERT INTO search_docs (doc_key, format, repository_id, repository, grp, kind, name, name_lc, version, digests, summary, body, scope_kind, scope_id, updated_at) VALUES `)
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
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("$" + strconv.Itoa(len(args)+i+1))
		}
		b.WriteByte(')')
		args = append(args, k, d.Format, d.RepositoryID, d.Repository, d.Group, d.Kind, d.Name, strings.ToLower(d.Name), d.Version,
			strings.Join(d.Digests, " "), clip(d.Summary, maxSummary), clip(d.Body, maxBody), d.ScopeKind, d.ScopeID, d.UpdatedAt)
	}
	b.WriteString(` ON CONFLICT (doc_key) DO UPDATE SET digests = excluded.digests, summary = excluded.summary, body = excluded.body,
		scope_kind = excluded.scope_kind, scope_id = excluded.scope_id, updated_at = excluded.updated_at, repository = excluded.repository`)
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
	return s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(docs); start += batchSize {
			if err := insertDocs(ctx, tx, docs[start:min(start+batchSize, len(docs))]); err != nil {
				return err
			}
		}
		return nil
	})
}
