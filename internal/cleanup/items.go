package cleanup

import (
	"context"
	"database/sql"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/arcaproject/arca/internal/meta"
)

// Item is one thing a policy may delete: a file, an image manifest, a
// package version, an object.
type Item struct {
	Repository string `json:"repository"`
	// Name is the package, image, module or file path; Version the
	// version, or the manifest digest of an image.
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	// Size is the bytes its rows refer to (shared content included).
	Size           int64 `json:"size"`
	CreatedAt      int64 `json:"created_at"`
	LastDownloadAt int64 `json:"last_download_at,omitempty"`
	Prerelease     bool  `json:"prerelease,omitempty"`

	repoID  int64
	tagged  bool     // versions are Tags (OCI), not Version
	group   string   // keep_last counts per group
	keys    []string // cleanup_downloads keys
	digests []string // blobs its rows refer to
	// dels are the format's own delete requests (method, path on the
	// main handler, or on the S3 handler when s3 is set); simulate
	// removes the same rows in a transaction.
	dels     []request
	simulate func(ctx context.Context, tx *sql.Tx) error
	// children are an OCI manifest's references, whose image links a run
	// removes once no remaining manifest of the image refers to them.
	children []string
}

type request struct {
	method, path string
	s3           bool
}

// lister lists a repository's items, newest first within each group.
type lister func(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error)

var listers = map[string]lister{
	"raw": listRaw, "oci": listOCI, "pypi": listPyPI, "npm": listNPM,
	"maven": listMaven, "go": listGo, "helm": listHelm, "s3": listS3,
	"mlflow": listMLflow,
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func exec(q string, args ...any) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return meta.Err(err)
	}
}

// collect runs q and builds an item of each row with scan.
func collect(ctx context.Context, db *meta.DB, q string, args []any, scan func(rows *sql.Rows) (*Item, error)) ([]*Item, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*Item
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, it)
	}
	return out, meta.Err(rows.Err())
}

// grouped merges rows of the same (group, version) into one item: the
// files of one release.
func grouped(items []*Item) []*Item {
	idx := map[[2]string]*Item{}
	var out []*Item
	for _, it := range items {
		k := [2]string{it.group, it.Version}
		if m, ok := idx[k]; ok {
			m.Size += it.Size
			m.CreatedAt = max(m.CreatedAt, it.CreatedAt)
			m.keys = append(m.keys, it.keys...)
			m.digests = append(m.digests, it.digests...)
			continue
		}
		idx[k] = it
		out = append(out, it)
	}
	return out
}

func listRaw(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	return collect(ctx, db, `SELECT path, digest, size, updated_at FROM raw_files WHERE repository_id = $1`, []any{repoID}, func(rows *sql.Rows) (*Item, error) {
		it := &Item{Repository: repoName, repoID: repoID}
		var d string
		if err := rows.Scan(&it.Name, &d, &it.Size, &it.CreatedAt); err != nil {
			return nil, err
		}
		it.group, it.keys, it.digests = path.Dir(it.Name), []string{it.Name}, []string{d}
		it.dels = []request{{"DELETE", "/raw/" + url.PathEscape(repoName) + "/" + escapePath(it.Name), false}}
		it.simulate = exec(`DELETE FROM raw_files WHERE repository_id = $1 AND path = $2`, repoID, it.Name)
		return it, nil
	})
}

func listS3(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	// A versioned bucket keeps what a delete removes as a noncurrent
	// version: cleaning it frees nothing, so it is left alone.
	var versioned int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM s3_bucket_versioning WHERE repository_id = $1 AND status <> ''`, repoID).Scan(&versioned); err != nil {
		return nil, meta.Err(err)
	}
	if versioned > 0 {
		return nil, nil
	}
	return collect(ctx, db, `SELECT key, digest, size, modified_at FROM s3_objects WHERE repository_id = $1`, []any{repoID}, func(rows *sql.Rows) (*Item, error) {
		it := &Item{Repository: repoName, repoID: repoID}
		var d string
		if err := rows.Scan(&it.Name, &d, &it.Size, &it.CreatedAt); err != nil {
			return nil, err
		}
		it.group, it.keys, it.digests = path.Dir(it.Name), []string{it.Name}, []string{d}
		it.dels = []request{{"DELETE", "/" + url.PathEscape(repoName) + "/" + escapePath(it.Name), true}}
		it.simulate = exec(`DELETE FROM s3_objects WHERE repository_id = $1 AND key = $2`, repoID, it.Name)
		return it, nil
	})
}

// pep440Pre matches a normalized PEP 440 pre-release or development
// release (the local part removed).
var pep440Pre = regexp.MustCompile(`\d(a|b|rc)\d+|\.dev\d+$`)

func listPyPI(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	items, err := collect(ctx, db, `SELECT project, version, filename, digest, COALESCE(metadata_digest, ''), size, created_at FROM pypi_files WHERE repository_id = $1 ORDER BY project, version`,
		[]any{repoID}, func(rows *sql.Rows) (*Item, error) {
			it := &Item{Repository: repoName, repoID: repoID}
			var fn, d, md string
			if err := rows.Scan(&it.Name, &it.Version, &fn, &d, &md, &it.Size, &it.CreatedAt); err != nil {
				return nil, err
			}
			public, _, _ := strings.Cut(it.Version, "+")
			it.Prerelease = pep440Pre.MatchString(public)
			it.group, it.keys, it.digests = it.Name, []string{fn}, []string{d, md}
			it.dels = []request{{"DELETE", "/api/v1/pypi/" + url.PathEscape(repoName) + "/" + url.PathEscape(it.Name) + "/" + url.PathEscape(it.Version), false}}
			it.simulate = exec(`DELETE FROM pypi_files WHERE repository_id = $1 AND project = $2 AND version = $3`, repoID, it.Name, it.Version)
			return it, nil
		})
	return grouped(items), err
}

// semverPre reports whether a SemVer version (v prefix optional) has a
// pre-release part.
func semverPre(v string) bool {
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return semver.Prerelease(v) != ""
}

func listNPM(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	return collect(ctx, db, `SELECT name, version, digest, size, created_at FROM npm_versions WHERE repository_id = $1`, []any{repoID}, func(rows *sql.Rows) (*Item, error) {
		it := &Item{Repository: repoName, repoID: repoID}
		var d string
		if err := rows.Scan(&it.Name, &it.Version, &d, &it.Size, &it.CreatedAt); err != nil {
			return nil, err
		}
		it.Prerelease = semverPre(it.Version)
		it.group, it.keys, it.digests = it.Name, []string{it.Name + "@" + it.Version}, []string{d}
		base := it.Name[strings.LastIndex(it.Name, "/")+1:]
		// npm unpublish's tarball delete; revision 0 skips the revision check.
		it.dels = []request{{"DELETE", "/npm/" + url.PathEscape(repoName) + "/" + url.PathEscape(it.Name) + "/-/" + url.PathEscape(base+"-"+it.Version+".tgz") + "/-rev/0", false}}
		it.simulate = exec(`DELETE FROM npm_versions WHERE repository_id = $1 AND name = $2 AND version = $3`, repoID, it.Name, it.Version)
		return it, nil
	})
}

func listMaven(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	items, err := collect(ctx, db, `SELECT group_id, artifact_id, version, path, digest, size, created_at FROM maven_files WHERE repository_id = $1 AND version <> '' ORDER BY group_id, artifact_id, version`,
		[]any{repoID}, func(rows *sql.Rows) (*Item, error) {
			it := &Item{Repository: repoName, repoID: repoID}
			var g, a, p, d string
			if err := rows.Scan(&g, &a, &it.Version, &p, &d, &it.Size, &it.CreatedAt); err != nil {
				return nil, err
			}
			it.Name = g + ":" + a
			it.Prerelease = strings.HasSuffix(it.Version, "-SNAPSHOT")
			it.group, it.keys, it.digests = it.Name, []string{p}, []string{d}
			it.dels = []request{{"DELETE", "/maven/" + url.PathEscape(repoName) + "/" + escapePath(strings.ReplaceAll(g, ".", "/")+"/"+a+"/"+it.Version) + "/", false}}
			it.simulate = exec(`DELETE FROM maven_files WHERE repository_id = $1 AND group_id = $2 AND artifact_id = $3 AND version = $4`, repoID, g, a, it.Version)
			return it, nil
		})
	return grouped(items), err
}

func listGo(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	return collect(ctx, db, `SELECT module, version, zip_digest, mod_digest, size, created_at FROM go_versions WHERE repository_id = $1`, []any{repoID}, func(rows *sql.Rows) (*Item, error) {
		it := &Item{Repository: repoName, repoID: repoID}
		var zd, md string
		if err := rows.Scan(&it.Name, &it.Version, &zd, &md, &it.Size, &it.CreatedAt); err != nil {
			return nil, err
		}
		it.Prerelease = semver.Prerelease(it.Version) != ""
		it.group, it.keys, it.digests = it.Name, []string{it.Name + "@" + it.Version}, []string{zd, md}
		mod, err := module.EscapePath(it.Name)
		if err != nil {
			mod = it.Name
		}
		ver, err := module.EscapeVersion(it.Version)
		if err != nil {
			ver = it.Version
		}
		it.dels = []request{{"DELETE", "/go/" + url.PathEscape(repoName) + "/" + escapePath(mod) + "/@v/" + url.PathEscape(ver), false}}
		it.simulate = exec(`DELETE FROM go_versions WHERE repository_id = $1 AND module = $2 AND version = $3`, repoID, it.Name, it.Version)
		return it, nil
	})
}

func listHelm(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	return collect(ctx, db, `SELECT name, version, digest, COALESCE(prov_digest, ''), size, created_at FROM helm_charts WHERE repository_id = $1`, []any{repoID}, func(rows *sql.Rows) (*Item, error) {
		it := &Item{Repository: repoName, repoID: repoID}
		var d, pd string
		if err := rows.Scan(&it.Name, &it.Version, &d, &pd, &it.Size, &it.CreatedAt); err != nil {
			return nil, err
		}
		it.Prerelease = semverPre(it.Version)
		it.group, it.keys, it.digests = it.Name, []string{it.Name + "-" + it.Version + ".tgz"}, []string{d, pd}
		it.dels = []request{{"DELETE", "/helm/" + url.PathEscape(repoName) + "/api/charts/" + url.PathEscape(it.Name) + "/" + url.PathEscape(it.Version), false}}
		it.simulate = exec(`DELETE FROM helm_charts WHERE repository_id = $1 AND name = $2 AND version = $3`, repoID, it.Name, it.Version)
		return it, nil
	})
}

// listOCI lists an image's top-level manifests: those no index of the
// image lists (an index goes with its children's fate decided by their
// own links). Manifests that refer to a subject (signatures, SBOMs) are
// left to the subject's owner.
func listOCI(ctx context.Context, db *meta.DB, repoName string, repoID int64) ([]*Item, error) {
	items, err := collect(ctx, db, `SELECT m.name, m.digest, m.created_at FROM oci_manifests m
		WHERE m.repository_id = $1 AND m.subject = ''
		  AND NOT EXISTS (SELECT 1 FROM oci_manifest_refs r WHERE r.repository_id = m.repository_id AND r.name = m.name AND r.child = m.digest AND r.digest <> m.digest)`,
		[]any{repoID}, func(rows *sql.Rows) (*Item, error) {
			it := &Item{Repository: repoName, repoID: repoID}
			if err := rows.Scan(&it.Name, &it.Version, &it.CreatedAt); err != nil {
				return nil, err
			}
			it.tagged = true
			it.group, it.keys = it.Name, []string{it.Name + "@" + it.Version}
			it.dels = []request{{"DELETE", "/v2/" + repoName + "/" + it.Name + "/manifests/" + it.Version, false}}
			it.simulate = exec(`DELETE FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND digest = $3`, repoID, it.Name, it.Version)
			return it, nil
		})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Tags, err = meta.QueryStrings(ctx, db, `SELECT tag FROM oci_tags WHERE repository_id = $1 AND name = $2 AND digest = $3 ORDER BY tag`, repoID, it.Name, it.Version); err != nil {
			return nil, err
		}
		if it.children, err = meta.QueryStrings(ctx, db, `SELECT child FROM oci_manifest_refs WHERE repository_id = $1 AND name = $2 AND digest = $3 ORDER BY child`, repoID, it.Name, it.Version); err != nil {
			return nil, err
		}
		it.digests = append([]string{it.Version}, it.children...)
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.digest = $1 OR b.digest IN (
			SELECT child FROM oci_manifest_refs WHERE repository_id = $2 AND name = $3 AND digest = $1)`, it.Version, repoID, it.Name).Scan(&it.Size); err != nil {
			return nil, meta.Err(err)
		}
	}
	return items, nil
}

// danglingLinks are the image's blob links among children that no
// manifest of the image refers to any more.
func danglingLinks(ctx context.Context, q meta.Querier, repoID int64, image string, children []string) ([]string, error) {
	var out []string
	for _, c := range children {
		var n int
		err := q.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM oci_blobs WHERE repository_id = $1 AND name = $2 AND digest = $3) -
			(SELECT CASE WHEN EXISTS (SELECT 1 FROM oci_manifest_refs WHERE repository_id = $1 AND name = $2 AND child = $3) THEN 1 ELSE 0 END)`,
			repoID, image, c).Scan(&n)
		if err != nil {
			return nil, meta.Err(err)
		}
		if n > 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// newestFirst orders items by group, then newest first.
func newestFirst(items []*Item) {
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].group != items[j].group {
			return items[i].group < items[j].group
		}
		if items[i].CreatedAt != items[j].CreatedAt {
			return items[i].CreatedAt > items[j].CreatedAt
		}
		return items[i].Version > items[j].Version
	})
}
