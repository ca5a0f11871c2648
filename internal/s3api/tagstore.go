package s3api

import (
	"context"
	"database/sql"
	"sort"

	"github.com/arcaproject/arca/internal/meta"
)

// tags returns an object's tags sorted by key (byte order), as S3 lists
// them; a missing object has none.
func (s store) tags(ctx context.Context, repoID int64, key string) ([]tag, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT tag_key, tag_value FROM s3_object_tags WHERE repository_id = $1 AND key = $2 ORDER BY position`, repoID, key)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	tags := []tag{}
	for rows.Next() {
		var t tag
		if err := rows.Scan(&t.Key, &t.Value); err != nil {
			return nil, meta.Err(err)
		}
		tags = append(tags, t)
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags, meta.Err(rows.Err())
}

// setTags replaces the tags of an existing object (NoSuchKey otherwise).
func (s store) setTags(ctx context.Context, repoID int64, key string, tags []tag) error {
	return s.db.WithTx(ctx, func(tx *sql.Tx) error {
		// Touching the row first locks it on PostgreSQL, so that a
		// concurrent overwrite and this change do not interleave.
		res, err := tx.ExecContext(ctx, `UPDATE s3_objects SET key = key WHERE repository_id = $1 AND key = $2`, repoID, key)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return s3Error("NoSuchKey", "the specified key does not exist")
		}
		return writeTags(ctx, tx, repoID, key, tags)
	})
}

// writeTags replaces an object's tags inside tx; the object row exists.
func writeTags(ctx context.Context, tx *sql.Tx, repoID int64, key string, tags []tag) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM s3_object_tags WHERE repository_id = $1 AND key = $2`, repoID, key); err != nil {
		return meta.Err(err)
	}
	for i, t := range tags {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO s3_object_tags (repository_id, key, position, tag_key, tag_value) VALUES ($1, $2, $3, $4, $5)`,
			repoID, key, i, t.Key, t.Value); err != nil {
			return meta.Err(err)
		}
	}
	return nil
}
