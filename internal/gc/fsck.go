package gc

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/meta"
)

// FsckReport is what a consistency check of metadata against the blob
// store found.
type FsckReport struct {
	Rows  int `json:"rows"`  // blob rows checked
	Blobs int `json:"blobs"` // blobs in the store
	// Missing lists blob rows whose bytes are not in the store (or differ
	// in size), with the artifacts that refer to them.
	Missing []MissingBlob `json:"missing"`
	// Orphans counts stored blobs no row names and older than the grace
	// window: garbage that the next collection removes.
	Orphans     int   `json:"orphans"`
	OrphanBytes int64 `json:"orphan_bytes"`
	// Deleting counts stored blobs without a row that a collector's
	// tombstone stands for: a deletion in progress, or one whose collector
	// died, which a collection finishes once the tombstone is stale.
	Deleting int `json:"deleting"`
	// Repaired is set when the rows of missing blobs were removed.
	Repaired bool `json:"repaired"`
}

// MissingBlob is a blob row without its bytes.
type MissingBlob struct {
	Digest string `json:"digest"`
	// Problem says what is wrong: "missing" or "size differs".
	Problem string `json:"problem"`
	// UsedBy names what refers to the blob, e.g. "raw files/models/a.bin".
	UsedBy []string `json:"used_by"`
}

// referrer is a column that refers to blobs, with the query that names
// the artifacts a digest is used by.
type referrer struct {
	table, column string
	describe      string // one text column; $1 is the digest
}

// referrers lists every column that refers to blobs(digest). A test checks
// it against the database's foreign keys, so a new format cannot be left
// out.
func referrers() []referrer {
	return []referrer{
		{"raw_files", "digest", `SELECT 'raw ' || r.name || '/' || x.path FROM raw_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"oci_blobs", "digest", `SELECT 'oci blob ' || r.name || '/' || x.name FROM oci_blobs x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"oci_manifests", "digest", `SELECT 'oci manifest ' || r.name || '/' || x.name || '@' || x.digest FROM oci_manifests x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"pypi_files", "digest", `SELECT 'pypi ' || r.name || '/' || x.filename FROM pypi_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"pypi_files", "metadata_digest", `SELECT 'pypi metadata ' || r.name || '/' || x.filename FROM pypi_files x JOIN repositories r ON r.id = x.repository_id WHERE x.metadata_digest = $1`},
		{"pypi_proxy_files", "digest", `SELECT 'pypi cache ' || r.name || '/' || x.filename FROM pypi_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"npm_versions", "digest", `SELECT 'npm ' || r.name || '/' || x.name || '@' || x.version FROM npm_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"npm_proxy_packuments", "digest", `SELECT 'npm cache ' || r.name || '/' || x.name FROM npm_proxy_packuments x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"npm_proxy_tarballs", "digest", `SELECT 'npm cache ' || r.name || '/' || x.file FROM npm_proxy_tarballs x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"maven_files", "digest", `SELECT 'maven ' || r.name || '/' || x.path FROM maven_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"maven_proxy_files", "digest", `SELECT 'maven cache ' || r.name || '/' || x.path FROM maven_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"go_versions", "zip_digest", `SELECT 'go ' || r.name || '/' || x.module || '@' || x.version FROM go_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.zip_digest = $1`},
		{"go_versions", "mod_digest", `SELECT 'go.mod ' || r.name || '/' || x.module || '@' || x.version FROM go_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.mod_digest = $1`},
		{"go_proxy_files", "digest", `SELECT 'go cache ' || r.name || '/' || x.path FROM go_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"helm_charts", "digest", `SELECT 'helm ' || r.name || '/' || x.name || '-' || x.version || '.tgz' FROM helm_charts x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"helm_charts", "prov_digest", `SELECT 'helm ' || r.name || '/' || x.name || '-' || x.version || '.tgz.prov' FROM helm_charts x JOIN repositories r ON r.id = x.repository_id WHERE x.prov_digest = $1`},
		{"helm_proxy_files", "digest", `SELECT 'helm cache ' || r.name || '/' || x.path FROM helm_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"s3_objects", "digest", `SELECT 's3 ' || r.name || '/' || x.key FROM s3_objects x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"s3_object_versions", "digest", `SELECT 's3 ' || r.name || '/' || x.key || '?versionId=' || x.version_id FROM s3_object_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
		{"s3_parts", "digest", `SELECT 's3 multipart upload ' || x.upload_id FROM s3_parts x WHERE x.digest = $1`},
	}
}

// Fsck checks every blob row against the blob store: a row whose bytes are
// missing (or of another size) is reported with the artifacts that refer
// to it, and stored blobs that no row names are counted as orphans. With
// repair, the rows of missing blobs and everything that refers to them are
// deleted, so that the artifacts are gone rather than broken; orphans are
// left to garbage collection.
func (c *Collector) Fsck(ctx context.Context, repair bool) (FsckReport, error) {
	var rep FsckReport
	stored := map[string]int64{}
	cutoff := time.Now().Add(-c.Grace)
	old := map[string]bool{}
	if err := c.Blobs.Walk(ctx, func(st blob.Stat) error {
		stored[string(st.Digest)] = st.Size
		old[string(st.Digest)] = st.ModTime.Before(cutoff)
		return nil
	}); err != nil {
		return rep, err
	}
	rep.Blobs = len(stored)
	rows, err := c.DB.QueryContext(ctx, `SELECT digest, size, data, data IS NOT NULL FROM blobs`)
	if err != nil {
		return rep, meta.Err(err)
	}
	var missing []MissingBlob
	for rows.Next() {
		var d string
		var size int64
		var data []byte
		var inline bool
		if err := rows.Scan(&d, &size, &data, &inline); err != nil {
			rows.Close()
			return rep, meta.Err(err)
		}
		rep.Rows++
		got, ok := stored[d]
		delete(stored, d)
		if inline {
			// Kept in the row (inline.go): checked against the digest.
			if p := checkInline(d, size, data); p != "" {
				missing = append(missing, MissingBlob{Digest: d, Problem: p})
			}
			continue
		}
		switch {
		case !ok:
			missing = append(missing, MissingBlob{Digest: d, Problem: "missing"})
		case got != size:
			missing = append(missing, MissingBlob{Digest: d, Problem: fmt.Sprintf("size differs: %d bytes stored, %d recorded", got, size)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, meta.Err(err)
	}
	tombstones, err := meta.QueryStrings(ctx, c.DB, `SELECT digest FROM blob_tombstones`)
	if err != nil {
		return rep, err
	}
	for _, d := range tombstones {
		if _, ok := stored[d]; ok {
			delete(stored, d)
			rep.Deleting++
		}
	}
	for d, size := range stored {
		if old[d] {
			rep.Orphans++
			rep.OrphanBytes += size
		}
	}
	for i := range missing {
		users, err := c.usedBy(ctx, missing[i].Digest)
		if err != nil {
			return rep, err
		}
		missing[i].UsedBy = users
	}
	rep.Missing = missing
	if repair && len(missing) > 0 {
		for _, m := range missing {
			if err := c.forget(ctx, m.Digest); err != nil {
				return rep, err
			}
			c.Log.Warn("fsck removed the metadata of a missing blob", "digest", m.Digest, "used_by", m.UsedBy)
		}
		rep.Repaired = true
	}
	return rep, nil
}

func (c *Collector) usedBy(ctx context.Context, d string) ([]string, error) {
	var out []string
	for _, r := range referrers() {
		names, err := meta.QueryStrings(ctx, c.DB, r.describe, d)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", r.table, r.column, err)
		}
		out = append(out, names...)
	}
	return out, nil
}

// forget deletes blob d's row and every row that refers to it, in one
// transaction.
func (c *Collector) forget(ctx context.Context, d string) error {
	return c.DB.WithTx(ctx, func(tx *sql.Tx) error {
		for _, r := range referrers() {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+r.table+` WHERE `+r.column+` = $1`, d); err != nil {
				return meta.Err(err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = $1`, d)
		return meta.Err(err)
	})
}
