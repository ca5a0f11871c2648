package cleanup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// MLflow: an item is a run in the deleted state (what `mlflow gc` purges)
// whose artifacts arca's artifact proxy stores; its age is counted from
// its deletion. A run deletes as its artifact objects, each through the
// S3 API's DeleteObject on the artifact bucket. The run's metadata stays,
// deleted, as MLflow's own store keeps it until `mlflow gc`. Runs that a
// registered model version still names are left alone: the version's
// files may be the run's artifacts.

// artifactScheme is the scheme of artifact locations arca's proxy serves
// (internal/mlflow locations.go).
const artifactScheme = "mlflow-artifacts:"

// artifactKey is the bucket key prefix of an mlflow-artifacts: URI.
func artifactKey(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, artifactScheme)
	if !ok {
		return "", false
	}
	if h, ok := strings.CutPrefix(rest, "//"); ok {
		_, p, _ := strings.Cut(h, "/")
		rest = p
	}
	rest = strings.Trim(rest, "/")
	return rest, rest != ""
}

func listMLflow(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	var config string
	if err := db.QueryRowContext(ctx, `SELECT config FROM repositories WHERE id = $1`, repoID).Scan(&config); err != nil {
		return nil, meta.Err(err)
	}
	var settings struct {
		ArtifactBucket string `json:"artifact_bucket"`
	}
	json.Unmarshal([]byte(config), &settings)
	bucket := settings.ArtifactBucket
	if bucket == "" {
		bucket = "mlflow-artifacts"
	}
	var bucketID int64
	err := db.QueryRowContext(ctx, `SELECT id FROM repositories WHERE name = $1 AND format = 's3'`, bucket).Scan(&bucketID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, meta.Err(err)
	}
	var versioned int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM s3_bucket_versioning WHERE repository_id = $1 AND status <> ''`, bucketID).Scan(&versioned); err != nil {
		return nil, meta.Err(err)
	}
	if versioned > 0 {
		return nil, nil // deletes there keep the bytes (as with s3 items)
	}
	runs, err := collect(ctx, db, `SELECT r.run_uuid, r.name, COALESCE(r.deleted_time, 0), r.artifact_uri FROM mlflow_runs r
		WHERE r.lifecycle_stage = 'deleted'
		  AND NOT EXISTS (SELECT 1 FROM mlflow_model_versions v WHERE v.run_id = r.run_uuid AND v.deleted = 0)`, nil,
		func(rows *sql.Rows) (*Item, error) {
			it := &Item{Repository: repoName, repoID: repoID}
			var uri string
			if err := rows.Scan(&it.Name, &it.Version, &it.CreatedAt, &uri); err != nil {
				return nil, err
			}
			it.group = it.Name
			it.keys = []string{uri} // the artifact root, as the prefix of its objects
			return it, nil
		})
	if err != nil {
		return nil, err
	}
	var out []*Item
	for _, it := range runs {
		prefix, ok := artifactKey(it.keys[0])
		it.keys = nil
		if !ok {
			continue // artifacts stored elsewhere: not arca's to delete
		}
		prefix += "/"
		objs, err := collect(ctx, db, `SELECT key, digest, size FROM s3_objects WHERE repository_id = $1 AND key >= $2 AND key < $3`,
			[]any{bucketID, prefix, prefix[:len(prefix)-1] + "0"}, func(rows *sql.Rows) (*Item, error) {
				o := &Item{}
				var d string
				if err := rows.Scan(&o.Name, &d, &o.Size); err != nil {
					return nil, err
				}
				o.digests = []string{d}
				return o, nil
			})
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			continue
		}
		var keys []any
		for _, o := range objs {
			it.Size += o.Size
			it.digests = append(it.digests, o.digests...)
			it.dels = append(it.dels, request{"DELETE", "/" + url.PathEscape(bucket) + "/" + escapePath(o.Name), true})
			keys = append(keys, o.Name)
		}
		it.simulate = func(ctx context.Context, tx *sql.Tx) error {
			for _, k := range keys {
				if _, err := tx.ExecContext(ctx, `DELETE FROM s3_objects WHERE repository_id = $1 AND key = $2`, bucketID, k); err != nil {
					return meta.Err(err)
				}
			}
			return nil
		}
		out = append(out, it)
	}
	return out, nil
}
