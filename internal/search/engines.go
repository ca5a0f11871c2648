package search

import (
	"context"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Engine answers text queries over search_docs. SQLite's is FTS5 (table
// search_fts), PostgreSQL's the generated tsvector column tsv with its GIN
// index. Both rank an exact name first, then by relevance (name over
// version over description), then newest first.
type Engine interface {
	// Search returns up to limit documents matching q that f admits, from
	// offset on, best first.
	Search(ctx context.Context, q Query, f filter, offset, limit int) ([]Result, error)
}

// resultColumns are read by scanResults, in this order.
const resultColumns = `d.format, d.repository, d.kind, d.name, d.version, d.digests, d.summary, d.updated_at, d.scope_id`

// narrow adds the filters of q after the arguments in args.
func narrow(q Query, args []any) (string, []any) {
	var where strings.Builder
	for _, c := range []struct{ col, v string }{{"d.format", q.Format}, {"d.repository", q.Repository}, {"d.kind", q.Kind}} {
		if c.v != "" {
			args = append(args, c.v)
			where.WriteString(" AND " + c.col + " = $" + strconv.Itoa(len(args)))
		}
	}
	return where.String(), args
}

type sqliteEngine struct{ db *meta.DB }

// prefixed reports whether a term's last token matches as a prefix: from
// two characters on (a one-letter prefix would match nearly everything,
// and cost as much, for anyone who can reach the endpoint).
func prefixed(term []string) bool { return len([]rune(term[len(term)-1])) >= 2 }

// ftsMatch is q as an FTS5 expression: each term a phrase of its tokens,
// the last one a prefix, all terms required. Tokens are letters and
// digits only, so quoting them is enough.
func ftsMatch(q Query) string {
	var b strings.Builder
	for i, term := range q.Terms {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(`"` + strings.Join(term, " ") + `"`)
		if prefixed(term) {
			b.WriteString("*")
		}
	}
	return b.String()
}

func (e sqliteEngine) Search(ctx context.Context, q Query, f filter, offset, limit int) ([]Result, error) {
	where, args := narrow(q, []any{ftsMatch(q), q.Text, limit, offset})
	rows, err := e.db.QueryContext(ctx, `SELECT `+resultColumns+`
		FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid
		WHERE search_fts MATCH $1 AND `+f.sql()+where+`
		ORDER BY d.name_lc = $2 DESC, bm25(search_fts, 10.0, 3.0, 1.0), d.updated_at DESC, d.id
		LIMIT $3 OFFSET $4`, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	return scanResults(rows)
}

type postgresEngine struct{ db *meta.DB }

// tsQuery is q as a to_tsquery('simple', ...) expression: each term its
// tokens in sequence (<->), the last one a prefix (:*), all terms
// required (&). Tokens are letters and digits only.
func tsQuery(q Query) string {
	var b strings.Builder
	for i, term := range q.Terms {
		if i > 0 {
			b.WriteString(" & ")
		}
		b.WriteString("(" + strings.Join(term, " <-> "))
		if prefixed(term) {
			b.WriteString(":*")
		}
		b.WriteString(")")
	}
	return b.String()
}

func (e postgresEngine) Search(ctx context.Context, q Query, f filter, offset, limit int) ([]Result, error) {
	where, args := narrow(q, []any{tsQuery(q), q.Text, limit, offset})
	rows, err := e.db.QueryContext(ctx, `SELECT `+resultColumns+`
		FROM search_docs d, to_tsquery('simple', $1) query
		WHERE d.tsv @@ query AND `+f.sql()+where+`
		ORDER BY d.name_lc = $2 DESC, ts_rank(d.tsv, query) DESC, d.updated_at DESC, d.id
		LIMIT $3 OFFSET $4`, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	return scanResults(rows)
}

type rowScanner interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}

func scanResults(rows rowScanner) ([]Result, error) {
	defer rows.Close()
	var out []Result
	for rows.Next() {
		var r Result
		var digests string
		if err := rows.Scan(&r.Format, &r.Repository, &r.Kind, &r.Name, &r.Version, &digests, &r.Summary, &r.UpdatedAt, &r.scopeID); err != nil {
			return nil, meta.Err(err)
		}
		r.Digests = strings.Fields(digests)
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

var (
	_ Engine = sqliteEngine{}
	_ Engine = postgresEngine{}
)
