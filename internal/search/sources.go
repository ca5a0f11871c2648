package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// A source emits the documents of one format's repository from its
// tables: those of one group, or of the whole repository when the group is
// "". Each is one query (plus small ones per item where a format keeps
// tags apart), run in the reindexing transaction.
type source func(ctx context.Context, c sourceCtx, emit func(Doc) error) error

type sourceCtx struct {
	s *Service
	// page, when set, narrows a whole reindex to a range of groups.
	page *groupRange
	// tx reads the format tables: the reindexing transaction on SQLite;
	// on PostgreSQL the pool, because a connection reading a result
	// cannot write the documents emitted meanwhile (the lock taken by the
	// transaction still orders reindexing jobs).
	tx    meta.Querier
	rp    *repo.Repository
	group string
	// groups, when set, narrows the query to several groups at once (a
	// drain of many changed S3 keys: one query, not one per key).
	groups []string
}

// doc starts a document of c's repository.
func (c sourceCtx) doc(group, kind, name, version string, at int64) Doc {
	return Doc{Format: c.rp.Format, RepositoryID: c.rp.ID, Repository: c.rp.Name, Group: group, Kind: kind, Name: name, Version: version, UpdatedAt: at}
}

// query runs q with the repository's id as $1, narrowed to c's group or
// page of groups: cols is the group's column (or columns, for Maven's
// group and artifact ids) as q names them.
func (c sourceCtx) query(ctx context.Context, q, cols string) (*sql.Rows, error) {
	args := []any{c.rp.ID}
	switch {
	case c.page != nil:
		q += " AND (" + cols + ") >= (" + placeholders(2, len(c.page.lo)) + ") AND (" + cols + ") <= (" + placeholders(2+len(c.page.lo), len(c.page.hi)) + ")"
		args = append(append(args, c.page.lo...), c.page.hi...)
	case c.group != "":
		key := groupKey(c.rp.Format, c.group)
		q += " AND (" + cols + ") = (" + placeholders(2, len(key)) + ")"
		args = append(args, key...)
	case len(c.groups) > 0:
		var in []string
		for _, g := range c.groups {
			key := groupKey(c.rp.Format, g)
			in = append(in, "("+c.s.DB.Dialect.Args(len(args)+1, len(key))+")")
			args = append(args, key...)
		}
		q += " AND (" + cols + ") IN (" + strings.Join(in, ", ") + ")"
	}
	rows, err := c.tx.QueryContext(ctx, q, args...)
	return rows, meta.Err(err)
}

// groupKey is a group as the values of its columns.
func groupKey(format, group string) []any {
	if format == "maven" {
		g, a, _ := strings.Cut(group, ":")
		return []any{g, a}
	}
	return []any{group}
}

func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

var sources = map[string]source{
	"oci":    ociSource,
	"pypi":   pypiSource,
	"npm":    npmSource,
	"maven":  mavenSource,
	"go":     goSource,
	"helm":   helmSource,
	"raw":    rawSource,
	"s3":     s3Source,
	"mlflow": mlflowSource,
}

// each scans every row of rows with fn.
func each(rows *sql.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return meta.Err(rows.Err())
}

// ociSource: one document per tag (image, tag, manifest digest), with the
// image config's labels and the manifest's annotations.
func ociSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT t.name, t.tag, t.digest, m.annotations, t.updated_at FROM oci_tags t
		JOIN oci_manifests m ON m.repository_id = t.repository_id AND m.name = t.name AND m.digest = t.digest
		WHERE t.repository_id = $1`, `t.name`)
	if err != nil {
		return err
	}
	type tag struct {
		image, tag, digest, annotations string
		at                              int64
	}
	var tags []tag
	if err := each(rows, func() error {
		var t tag
		tags = append(tags, t)
		p := &tags[len(tags)-1]
		return rows.Scan(&p.image, &p.tag, &p.digest, &p.annotations, &p.at)
	}); err != nil {
		return err
	}
	labels := map[string]map[string]string{} // by manifest digest
	for _, t := range tags {
		l, ok := labels[t.digest]
		if !ok {
			l = c.s.imageLabels(ctx, t.digest)
			labels[t.digest] = l
		}
		d := c.doc(t.image, KindTag, t.image, t.tag, t.at)
		d.Digests = []string{t.digest}
		d.Summary = firstOf(l, "org.opencontainers.image.description", "org.opencontainers.image.title", "description")
		var body []string
		for _, k := range sortedKeys(l) {
			body = append(body, k+" "+l[k])
		}
		if t.annotations != "" {
			var a map[string]string
			if json.Unmarshal([]byte(t.annotations), &a) == nil {
				for _, k := range sortedKeys(a) {
					body = append(body, k+" "+a[k])
				}
			}
		}
		d.Body = strings.Join(body, "\n")
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

// Bounds of what is read of an image to find its labels.
const (
	maxManifestRead = 4 << 20
	maxConfigRead   = 4 << 20
)

// imageLabels reads the labels of the image a manifest describes (none
// for indexes and artifacts, or when the blobs cannot be read).
func (s *Service) imageLabels(ctx context.Context, manifest string) map[string]string {
	if s.Blobs == nil {
		return nil
	}
	s.labelsMu.Lock()
	l, ok := s.labels[manifest]
	s.labelsMu.Unlock()
	if ok {
		return l
	}
	l, ok = s.readLabels(ctx, manifest)
	if ok {
		s.labelsMu.Lock()
		if s.labels == nil || len(s.labels) >= maxCachedLabels {
			s.labels = map[string]map[string]string{}
		}
		s.labels[manifest] = l
		s.labelsMu.Unlock()
	}
	return l
}

// readLabels reads a manifest's labels (its config's, and its own
// annotations); ok is false when a blob could not be read, which is not
// cached.
func (s *Service) readLabels(ctx context.Context, manifest string) (map[string]string, bool) {
	var m v1.Manifest
	if !s.readJSON(ctx, manifest, maxManifestRead, &m) {
		return nil, false
	}
	if m.Config.Digest == "" {
		return nil, true
	}
	var img v1.Image
	if !s.readJSON(ctx, string(m.Config.Digest), maxConfigRead, &img) {
		return nil, false
	}
	out := img.Config.Labels
	for k, v := range m.Annotations {
		if out == nil {
			out = map[string]string{}
		}
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out, true
}

func (s *Service) readJSON(ctx context.Context, digest string, limit int64, v any) bool {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return false
	}
	r, err := s.Blobs.Open(ctx, d)
	if err != nil {
		return false
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil || int64(len(b)) > limit {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// pypiSource: one document per release (project and version), with the
// summary and keywords of its metadata and the digests of its files.
func pypiSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT project, name, version, filename, digest, metadata, created_at FROM pypi_files
		WHERE repository_id = $1`, `project`)
	if err != nil {
		return err
	}
	type release struct {
		d     Doc
		files []string
	}
	byKey := map[string]*release{}
	var order []string
	if err := each(rows, func() error {
		var project, name, version, filename, digest, md string
		var at int64
		if err := rows.Scan(&project, &name, &version, &filename, &digest, &md, &at); err != nil {
			return err
		}
		k := project + "\x00" + version
		r := byKey[k]
		if r == nil {
			r = &release{d: c.doc(project, KindPackage, name, version, at)}
			var fields map[string][]string
			if json.Unmarshal([]byte(md), &fields) == nil {
				r.d.Summary = strings.Join(fields["summary"], " ")
				r.d.Body = strings.Join(fields["keywords"], " ")
			}
			byKey[k] = r
			order = append(order, k)
		}
		r.d.Digests = append(r.d.Digests, digest)
		r.d.UpdatedAt = max(r.d.UpdatedAt, at)
		r.files = append(r.files, filename)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range order {
		r := byKey[k]
		r.d.Body = strings.TrimSpace(r.d.Body + "\n" + strings.Join(r.files, " "))
		if err := emit(r.d); err != nil {
			return err
		}
	}
	return nil
}

// npmSource: one document per version, with the package's description,
// keywords and dist-tags.
func npmSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	tags := map[string][]string{}
	trows, err := c.query(ctx, `SELECT name, tag, version FROM npm_dist_tags WHERE repository_id = $1`, `name`)
	if err != nil {
		return err
	}
	if err := each(trows, func() error {
		var name, tag, version string
		if err := trows.Scan(&name, &tag, &version); err != nil {
			return err
		}
		tags[name+"@"+version] = append(tags[name+"@"+version], tag)
		return nil
	}); err != nil {
		return err
	}
	rows, err := c.query(ctx, `SELECT v.name, v.version, v.digest, v.created_at, p.description, p.keywords FROM npm_versions v
		JOIN npm_packages p ON p.repository_id = v.repository_id AND p.name = v.name
		WHERE v.repository_id = $1`, `v.name`)
	if err != nil {
		return err
	}
	return each(rows, func() error {
		var name, version, digest, desc, kw string
		var at int64
		if err := rows.Scan(&name, &version, &digest, &at, &desc, &kw); err != nil {
			return err
		}
		d := c.doc(name, KindPackage, name, version, at)
		d.Digests, d.Summary = []string{digest}, desc
		d.Body = strings.TrimSpace(kw + " " + strings.Join(tags[name+"@"+version], " "))
		return emit(d)
	})
}

// mavenSource: one document per version of an artifact (group "g:a").
func mavenSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT group_id, artifact_id, version, path, digest, created_at FROM maven_files
		WHERE repository_id = $1`, `group_id, artifact_id`)
	if err != nil {
		return err
	}
	byKey := map[string]*Doc{}
	var order []string
	if err := each(rows, func() error {
		var gid, aid, version, path, digest string
		var at int64
		if err := rows.Scan(&gid, &aid, &version, &path, &digest, &at); err != nil {
			return err
		}
		k := gid + ":" + aid + ":" + version
		d := byKey[k]
		if d == nil {
			nd := c.doc(gid+":"+aid, KindPackage, gid+":"+aid, version, at)
			d = &nd
			byKey[k] = d
			order = append(order, k)
		}
		d.Digests = append(d.Digests, digest)
		d.UpdatedAt = max(d.UpdatedAt, at)
		if i := strings.LastIndexByte(path, '/'); i >= 0 && len(d.Body) < maxBody {
			d.Body += path[i+1:] + " "
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range order {
		if err := emit(*byKey[k]); err != nil {
			return err
		}
	}
	return nil
}

// goSource: one document per module version.
func goSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT module, version, zip_digest, mod_digest, created_at FROM go_versions
		WHERE repository_id = $1`, `module`)
	if err != nil {
		return err
	}
	return each(rows, func() error {
		var module, version, zip, mod string
		var at int64
		if err := rows.Scan(&module, &version, &zip, &mod, &at); err != nil {
			return err
		}
		d := c.doc(module, KindPackage, module, version, at)
		d.Digests = []string{zip, mod}
		return emit(d)
	})
}

// helmSource: one document per chart version, with its description,
// keywords and app version.
func helmSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT name, version, digest, COALESCE(prov_digest, ''), meta, created_at FROM helm_charts
		WHERE repository_id = $1`, `name`)
	if err != nil {
		return err
	}
	return each(rows, func() error {
		var name, version, digest, prov, metaJSON string
		var at int64
		if err := rows.Scan(&name, &version, &digest, &prov, &metaJSON, &at); err != nil {
			return err
		}
		d := c.doc(name, KindPackage, name, version, at)
		d.Digests = []string{digest}
		if prov != "" {
			d.Digests = append(d.Digests, prov)
		}
		var m struct {
			Description string   `json:"description"`
			Keywords    []string `json:"keywords"`
			AppVersion  string   `json:"appVersion"`
		}
		if json.Unmarshal([]byte(metaJSON), &m) == nil {
			d.Summary = m.Description
			d.Body = strings.TrimSpace(strings.Join(m.Keywords, " ") + " " + m.AppVersion)
		}
		return emit(d)
	})
}

// rawSource: one document per file.
func rawSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT path, digest, content_type, updated_at FROM raw_files WHERE repository_id = $1`, `path`)
	if err != nil {
		return err
	}
	return each(rows, func() error {
		var path, digest, ct string
		var at int64
		if err := rows.Scan(&path, &digest, &ct, &at); err != nil {
			return err
		}
		d := c.doc(path, KindFile, path, "", at)
		d.Digests, d.Body = []string{digest}, ct
		return emit(d)
	})
}

// s3Source: one document per current object: its key (not its metadata
// or tags — kept small).
func s3Source(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	rows, err := c.query(ctx, `SELECT key, digest, modified_at FROM s3_objects WHERE repository_id = $1`, `key`)
	if err != nil {
		return err
	}
	return each(rows, func() error {
		var key, digest string
		var at int64
		if err := rows.Scan(&key, &digest, &at); err != nil {
			return err
		}
		d := c.doc(key, KindObject, key, "", at)
		d.Digests = []string{digest}
		return emit(d)
	})
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
