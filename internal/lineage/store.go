package lineage

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Link relations. A link goes from what was used (upstream) to what was
// made of it (downstream).
const (
	RelInput      = "input"      // dataset → run, logged model → run: the run used it
	RelOutput     = "output"     // run → logged model: the run produced it
	RelRegistered = "registered" // run or logged model → model version
	RelSource     = "source"     // s3/raw object → dataset: the dataset's source
	RelPackaged   = "packaged"   // model, run, dataset, data → image: the image carries it
	RelStoredAt   = "stored_at"  // dvc-md5 → s3/raw object: where a DVC remote keeps the content
	RelDeclares   = "declares"   // .dvc file or dvc.lock → dvc-md5: the file names that content
	RelDVCStage   = "dvc_stage"  // dvc-md5 → dvc-md5: a dvc.lock stage read one and wrote the other
	RelDerived    = "derived"    // the default of links added by the API
)

// Link origins.
const (
	OriginAuto = "auto" // extracted from what arrived
	OriginAPI  = "api"  // added with POST /api/v1/lineage/links
)

// Link is one edge of the graph.
type Link struct {
	From      Ref
	To        Ref
	Relation  string
	Origin    string
	CreatedBy string
}

// store is lineage_links.
type store struct{ db *meta.DB }

// add records links (those already recorded stay as they were) in one
// transaction, and returns how many were new.
func (s store) add(ctx context.Context, links []Link) (int, error) {
	if len(links) == 0 {
		return 0, nil
	}
	n := 0
	now := meta.Now()
	err := s.db.WithTx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, l := range links {
			res, err := tx.ExecContext(ctx, `INSERT INTO lineage_links (from_ref, to_ref, relation, origin, created_by, created_at)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (from_ref, to_ref, relation) DO NOTHING`,
				l.From.String(), l.To.String(), l.Relation, l.Origin, l.CreatedBy, now)
			if err != nil {
				return meta.Err(err)
			}
			if k, _ := res.RowsAffected(); k > 0 {
				n++
			}
		}
		return nil
	})
	return n, err
}

// edge is a stored link as the walk reads it.
type edge struct{ from, to, relation string }

// neighbours returns up to limit links that end at (upstream) or start
// from (downstream) one of refs, oldest first.
func (s store) neighbours(ctx context.Context, refs []string, upstream bool, limit int) ([]edge, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	col := "from_ref"
	if upstream {
		col = "to_ref"
	}
	args := make([]any, 0, len(refs)+1)
	marks := make([]string, 0, len(refs))
	for _, r := range refs {
		args = append(args, r)
		marks = append(marks, "$"+strconv.Itoa(len(args)))
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, `SELECT from_ref, to_ref, relation FROM lineage_links WHERE `+col+
		` IN (`+strings.Join(marks, ", ")+`) ORDER BY id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []edge
	for rows.Next() {
		var e edge
		if err := rows.Scan(&e.from, &e.to, &e.relation); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, e)
	}
	return out, meta.Err(rows.Err())
}

// locations returns up to 20 refs linked to a DVC md5 as where it is
// stored or which file declares it: what decides who may read it.
func (s store) locations(ctx context.Context, md5 string) ([]string, error) {
	return meta.QueryStrings(ctx, s.db, `SELECT to_ref FROM lineage_links WHERE from_ref = $1 AND relation = $2
		UNION SELECT from_ref FROM lineage_links WHERE to_ref = $1 AND relation = $3 LIMIT 20`,
		md5, RelStoredAt, RelDeclares)
}
