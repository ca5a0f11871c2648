package pypi

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// fileRow is a hosted distribution file (a pypi_files row).
type fileRow struct {
	Project        string
	Filename       string
	Name           string
	Version        string
	Type           string
	PythonVersion  string
	RequiresPython string
	Digest         string
	Size           int64
	MD5            string // from blobs
	MetadataDigest string // "" for none
	Metadata       string // JSON of the core metadata fields (only when asked for)
	Yanked         bool
	YankedReason   string
	UploadedBy     string
	CreatedAt      int64
}

// file converts a row to a page entry with arca's URL.
func (r *fileRow) file() File {
	f := File{Filename: r.Filename, URL: fileURL(r.Project, r.Filename), Version: r.Version,
		SHA256: strings.TrimPrefix(r.Digest, "sha256:"), RequiresPython: r.RequiresPython,
		Yanked: r.Yanked, YankedReason: r.YankedReason, Size: r.Size, UploadTime: r.CreatedAt}
	if r.MetadataDigest != "" {
		f.Metadata, f.MetadataSHA256 = true, strings.TrimPrefix(r.MetadataDigest, "sha256:")
	}
	return f
}

// store is the PyPI tables.
type store struct {
	db    *meta.DB
	blobs gc.Stater
}

const fileColumns = `f.project, f.filename, f.name, f.version, f.filetype, f.python_version, f.requires_python,
	f.digest, f.size, b.md5, COALESCE(f.metadata_digest, ''), f.yanked, f.yanked_reason, f.uploaded_by, f.created_at`

func scanFile(row interface{ Scan(...any) error }, withMeta bool) (fileRow, error) {
	var r fileRow
	dest := []any{&r.Project, &r.Filename, &r.Name, &r.Version, &r.Type, &r.PythonVersion, &r.RequiresPython,
		&r.Digest, &r.Size, &r.MD5, &r.MetadataDigest, &r.Yanked, &r.YankedReason, &r.UploadedBy, &r.CreatedAt}
	if withMeta {
		dest = append(dest, &r.Metadata)
	}
	return r, row.Scan(dest...)
}

// projectFiles lists a project's files in file name order, with their
// metadata JSON when withMeta is set.
func (s store) projectFiles(ctx context.Context, repoID int64, project string, withMeta bool) ([]fileRow, error) {
	cols := fileColumns
	if withMeta {
		cols += `, f.metadata`
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+cols+` FROM pypi_files f JOIN blobs b ON b.digest = f.digest
		WHERE f.repository_id = $1 AND f.project = $2 ORDER BY f.filename`, repoID, project)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []fileRow
	for rows.Next() {
		r, err := scanFile(rows, withMeta)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// file returns one file of a project.
func (s store) file(ctx context.Context, repoID int64, project, filename string) (fileRow, error) {
	r, err := scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM pypi_files f JOIN blobs b ON b.digest = f.digest
		WHERE f.repository_id = $1 AND f.project = $2 AND f.filename = $3`, repoID, project, filename), false)
	if err == sql.ErrNoRows {
		return r, errs.E(errs.NotFound, "file %s not found", filename)
	}
	return r, meta.Err(err)
}

// fileExists reports whether the repository has a file of that name, in
// any project.
func (s store) fileExists(ctx context.Context, repoID int64, filename string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pypi_files WHERE repository_id = $1 AND filename = $2`, repoID, filename).Scan(&n)
	return n > 0, meta.Err(err)
}

// projects lists a hosted repository's projects by normalized name.
func (s store) projects(ctx context.Context, repoID int64) ([]ProjectName, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.project, p.name FROM pypi_projects p WHERE p.repository_id = $1
		AND EXISTS (SELECT 1 FROM pypi_files f WHERE f.repository_id = p.repository_id AND f.project = p.project) ORDER BY p.project`, repoID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ProjectName
	for rows.Next() {
		var p ProjectName
		if err := rows.Scan(&p.Project, &p.Name); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// upload is a file to record: its row and the digests of its blobs.
type upload struct {
	row         fileRow
	md5         string
	metaSize    int64
	replaceable bool // an existing file of the same name may be replaced
}

// putFile records an uploaded file and its blobs in one transaction. An
// existing file of the same name is a Conflict unless u.replaceable; it
// reports whether one was replaced.
func (s store) putFile(ctx context.Context, repoID int64, u upload) (replaced bool, err error) {
	r := u.row
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: r.Digest, Size: r.Size, MD5: u.md5}); err != nil {
			return err
		}
		var metaDigest any
		if r.MetadataDigest != "" {
			if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: r.MetadataDigest, Size: u.metaSize}); err != nil {
				return err
			}
			metaDigest = r.MetadataDigest
		}
		if u.replaceable {
			res, err := tx.ExecContext(ctx, `DELETE FROM pypi_files WHERE repository_id = $1 AND filename = $2`, repoID, r.Filename)
			if err != nil {
				return meta.Err(err)
			}
			n, _ := res.RowsAffected()
			replaced = n > 0
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pypi_files (repository_id, project, filename, name, version, filetype,
			python_version, requires_python, digest, size, metadata_digest, metadata, yanked, yanked_reason, uploaded_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			repoID, r.Project, r.Filename, r.Name, r.Version, r.Type, r.PythonVersion, r.RequiresPython,
			r.Digest, r.Size, metaDigest, r.Metadata, r.Yanked, r.YankedReason, r.UploadedBy, r.CreatedAt)
		if meta.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "File already exists: %s is in the repository", r.Filename)
		}
		if err != nil {
			return meta.Err(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pypi_projects (repository_id, project, name, generation, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (repository_id, project) DO UPDATE SET name = excluded.name, generation = excluded.generation, updated_at = excluded.updated_at`,
			repoID, r.Project, r.Name, newGeneration(), r.CreatedAt)
		return meta.Err(err)
	})
	return replaced, err
}

// newGeneration returns a fresh value for pypi_projects.generation.
func newGeneration() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bumpGeneration marks a project changed, in the transaction of the change.
func bumpGeneration(ctx context.Context, tx *sql.Tx, repoID int64, project string) error {
	_, err := tx.ExecContext(ctx, `UPDATE pypi_projects SET generation = $1, updated_at = $2 WHERE repository_id = $3 AND project = $4`,
		newGeneration(), meta.Now(), repoID, project)
	return meta.Err(err)
}

// generation returns a hosted project's generation, or NotFound.
func (s store) generation(ctx context.Context, repoID int64, project string) (string, error) {
	var g string
	err := s.db.QueryRowContext(ctx, `SELECT generation FROM pypi_projects WHERE repository_id = $1 AND project = $2`, repoID, project).Scan(&g)
	if err == sql.ErrNoRows {
		return "", errs.E(errs.NotFound, "project %q not found", project)
	}
	return g, meta.Err(err)
}

// setYanked yanks (or un-yanks) the files of a release, or one file of it
// when filename is not "". It returns how many files changed.
func (s store) setYanked(ctx context.Context, repoID int64, project, version, filename string, yanked bool, reason string) (n int64, err error) {
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE pypi_files SET yanked = $1, yanked_reason = $2
			WHERE repository_id = $3 AND project = $4 AND version = $5 AND ($6 = '' OR filename = $6)`,
			yanked, reason, repoID, project, version, filename)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ = res.RowsAffected(); n == 0 {
			return nil
		}
		return bumpGeneration(ctx, tx, repoID, project)
	})
	return n, err
}

// deleteFiles deletes a release's files, or one of them when filename is
// not "", returning the file names deleted. The blobs stay for garbage
// collection.
func (s store) deleteFiles(ctx context.Context, repoID int64, project, version, filename string) (deleted []string, err error) {
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM pypi_files
			WHERE repository_id = $1 AND project = $2 AND version = $3 AND ($4 = '' OR filename = $4) RETURNING filename`,
			repoID, project, version, filename)
		if err != nil {
			return meta.Err(err)
		}
		for rows.Next() {
			var fn string
			if err := rows.Scan(&fn); err != nil {
				rows.Close()
				return meta.Err(err)
			}
			deleted = append(deleted, fn)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return meta.Err(err)
		}
		if len(deleted) == 0 {
			return nil
		}
		return bumpGeneration(ctx, tx, repoID, project)
	})
	return deleted, err
}

// pageRow is a proxy's cached project page.
type pageRow struct {
	Name      string
	Status    int
	ETag      string
	Page      string // JSON of []File with upstream URLs
	CheckedAt int64
}

func (s store) page(ctx context.Context, repoID int64, project string) (pageRow, bool, error) {
	var p pageRow
	err := s.db.QueryRowContext(ctx, `SELECT name, status, etag, page, checked_at FROM pypi_proxy_pages WHERE repository_id = $1 AND project = $2`,
		repoID, project).Scan(&p.Name, &p.Status, &p.ETag, &p.Page, &p.CheckedAt)
	if err == sql.ErrNoRows {
		return p, false, nil
	}
	return p, err == nil, meta.Err(err)
}

func (s store) putPage(ctx context.Context, repoID int64, project string, p pageRow) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO pypi_proxy_pages (repository_id, project, name, status, etag, page, checked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (repository_id, project) DO UPDATE SET name = excluded.name, status = excluded.status,
		  etag = excluded.etag, page = excluded.page, checked_at = excluded.checked_at`,
		repoID, project, p.Name, p.Status, p.ETag, p.Page, p.CheckedAt)
	return meta.Err(err)
}

func (s store) touchPage(ctx context.Context, repoID int64, project string, checkedAt int64) error {
	_, err := s.db.ExecContext(ctx, `UPDATE pypi_proxy_pages SET checked_at = $1 WHERE repository_id = $2 AND project = $3`,
		checkedAt, repoID, project)
	return meta.Err(err)
}

// cachedProjects lists the projects a proxy has a page of.
func (s store) cachedProjects(ctx context.Context, repoID int64) ([]ProjectName, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT project, name FROM pypi_proxy_pages WHERE repository_id = $1 AND status = 200 ORDER BY project`, repoID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ProjectName
	for rows.Next() {
		var p ProjectName
		if err := rows.Scan(&p.Project, &p.Name); err != nil {
			return nil, meta.Err(err)
		}
		if p.Name == "" {
			p.Name = p.Project
		}
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// cachedFile is a file a proxy holds.
type cachedFile struct {
	Digest    string
	Size      int64
	CreatedAt int64
}

func (s store) cachedFile(ctx context.Context, repoID int64, project, filename string) (cachedFile, error) {
	var c cachedFile
	err := s.db.QueryRowContext(ctx, `SELECT digest, size, created_at FROM pypi_proxy_files WHERE repository_id = $1 AND project = $2 AND filename = $3`,
		repoID, project, filename).Scan(&c.Digest, &c.Size, &c.CreatedAt)
	if err == sql.ErrNoRows {
		return c, errs.E(errs.NotFound, "%s is not cached", filename)
	}
	return c, meta.Err(err)
}

// cachedDigests maps the file names a proxy holds of a project to their
// digests.
func (s store) cachedDigests(ctx context.Context, repoID int64, project string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT filename, digest FROM pypi_proxy_files WHERE repository_id = $1 AND project = $2`, repoID, project)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var fn, d string
		if err := rows.Scan(&fn, &d); err != nil {
			return nil, meta.Err(err)
		}
		out[fn] = d
	}
	return out, meta.Err(rows.Err())
}

func (s store) putCachedFile(ctx context.Context, repoID int64, project, filename string, digest string, size int64, md5 string) error {
	return s.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, s.blobs, gc.Blob{Digest: digest, Size: size, MD5: md5}); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO pypi_proxy_files (repository_id, project, filename, digest, size, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (repository_id, project, filename) DO UPDATE SET digest = excluded.digest, size = excluded.size`,
			repoID, project, filename, digest, size, meta.Now())
		return meta.Err(err)
	})
}

// releaseMetadata returns the metadata JSON of a release's files,
// preferring a wheel's, or "" when the release has no file.
func (s store) releaseMetadata(ctx context.Context, repoID int64, project, version string) (string, error) {
	var m string
	err := s.db.QueryRowContext(ctx, `SELECT metadata FROM pypi_files WHERE repository_id = $1 AND project = $2 AND version = $3
		ORDER BY CASE WHEN filetype = 'bdist_wheel' THEN 0 ELSE 1 END, filename LIMIT 1`, repoID, project, version).Scan(&m)
	if err == sql.ErrNoRows {
		return "", nil
	}
	return m, meta.Err(err)
}

// versions lists a project's distinct versions.
func (s store) versions(ctx context.Context, repoID int64, project string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT version FROM pypi_files WHERE repository_id = $1 AND project = $2`, repoID, project)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, v)
	}
	return out, meta.Err(rows.Err())
}
