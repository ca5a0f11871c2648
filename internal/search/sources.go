package search

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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

// groupRange is a page of consecutive groups of a repository, by the
// values of their columns: what a whole reindex reads at once.
type groupRange struct{ lo, hi []any }

// groupTables are where the groups of each repository format are listed
// from, by the columns that make them up, in index order.
var groupTables = map[string]struct{ table, cols string }{
	"oci":   {"oci_tags", "name"},
	"pypi":  {"pypi_files", "project"},
	"npm":   {"npm_versions", "name"},
	"maven": {"maven_files", "group_id, artifact_id"},
	"go":    {"go_versions", "module"},
	"helm":  {"helm_charts", "name"},
	"raw":   {"raw_files", "path"},
	"s3":    {"s3_objects", "key"},
}

// groupPages calls fn with consecutive pages of up to n groups of rp,
// each read in a statement of its own, so that no read stays open while
// the documents are written (on SQLite a long read keeps the write-ahead
// log from being checkpointed).
func groupPages(ctx context.Context, q meta.Querier, rp *repo.Repository, n int, fn func(groupRange) error) error {
	gt := groupTables[rp.Format]
	ncols := len(strings.Split(gt.cols, ","))
	var after []any
	for {
		args := []any{rp.ID}
		cond := ""
		if after != nil {
			cond = " AND (" + gt.cols + ") > (" + placeholders(2, ncols) + ")"
			args = append(args, after...)
		}
		rows, err := q.QueryContext(ctx, `SELECT DISTINCT `+gt.cols+` FROM `+gt.table+` WHERE repository_id = $1`+cond+
			` ORDER BY `+gt.cols+` LIMIT `+strconv.Itoa(n), args...)
		if err != nil {
			return meta.Err(err)
		}
		var first, last []any
		count := 0
		if err := each(rows, func() error {
			vals := make([]string, ncols)
			ptrs := make([]any, ncols)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			key := make([]any, ncols)
			for i, v := range vals {
				key[i] = v
			}
			if first == nil {
				first = key
			}
			last = key
			count++
			return nil
		}); err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		if err := fn(groupRange{lo: first, hi: last}); err != nil {
			return err
		}
		if count < n {
			return nil
		}
		after = last
	}
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
	var m v1.Manifest
	if !s.readJSON(ctx, manifest, maxManifestRead, &m) || m.Config.Digest == "" {
		return nil
	}
	var img v1.Image
	if !s.readJSON(ctx, string(m.Config.Digest), maxConfigRead, &img) {
		return nil
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
	return out
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

// MLflow groups: "experiment:<id>" (the experiment; expand adds its runs),
// "run:<uuid>" and "model:<name>" (the registered model and its versions).
const (
	groupExperiment = "experiment:"
	groupRun        = "run:"
	groupModel      = "model:"
)

// expand lists the groups a reindex of group refreshes: an experiment's
// runs go with it (deleting or restoring it hides or shows them).
func expand(ctx context.Context, tx meta.Querier, rp *repo.Repository, group string) ([]string, error) {
	out := []string{group}
	if rp.Format != "mlflow" || !strings.HasPrefix(group, groupExperiment) {
		return out, nil
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(group, groupExperiment), 10, 64)
	if err != nil {
		return out, nil
	}
	runs, err := meta.QueryStrings(ctx, tx, `SELECT run_uuid FROM mlflow_runs WHERE experiment_id = $1`, id)
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		out = append(out, groupRun+r)
	}
	return out, nil
}

func mlflowSource(ctx context.Context, c sourceCtx, emit func(Doc) error) error {
	g := c.group
	switch {
	case g == "":
		for _, fn := range []func(context.Context, sourceCtx, string, func(Doc) error) error{mlflowExperiments, mlflowRuns, mlflowModels} {
			if err := fn(ctx, c, "", emit); err != nil {
				return err
			}
		}
		return nil
	case strings.HasPrefix(g, groupExperiment):
		return mlflowExperiments(ctx, c, strings.TrimPrefix(g, groupExperiment), emit)
	case strings.HasPrefix(g, groupRun):
		return mlflowRuns(ctx, c, strings.TrimPrefix(g, groupRun), emit)
	case strings.HasPrefix(g, groupModel):
		return mlflowModels(ctx, c, strings.TrimPrefix(g, groupModel), emit)
	}
	return nil
}

// tagsText is "key value" lines of key/value rows, bounded.
func tagsText(ctx context.Context, tx meta.Querier, q string, arg any) (string, error) {
	rows, err := tx.QueryContext(ctx, q, arg)
	if err != nil {
		return "", meta.Err(err)
	}
	var b strings.Builder
	err = each(rows, func() error {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if b.Len() < maxBody {
			b.WriteString(k + " " + clip(v, 256) + "\n")
		}
		return nil
	})
	return b.String(), err
}

func mlflowExperiments(ctx context.Context, c sourceCtx, id string, emit func(Doc) error) error {
	q := `SELECT id, name, last_update_time FROM mlflow_experiments WHERE lifecycle_stage = 'active'`
	var args []any
	if id != "" {
		q += ` AND id = $1`
		args = append(args, id)
	}
	type exp struct {
		id   int64
		name string
		at   int64
	}
	var exps []exp
	rows, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if err := each(rows, func() error {
		var e exp
		err := rows.Scan(&e.id, &e.name, &e.at)
		exps = append(exps, e)
		return err
	}); err != nil {
		return err
	}
	for _, e := range exps {
		d := c.doc(groupExperiment+strconv.FormatInt(e.id, 10), KindExperiment, e.name, "", e.at)
		d.ScopeKind, d.ScopeID = scopeExperiment, e.id
		if d.Body, err = tagsText(ctx, c.tx, `SELECT key, value FROM mlflow_experiment_tags WHERE experiment_id = $1 ORDER BY key`, e.id); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

func mlflowRuns(ctx context.Context, c sourceCtx, uuid string, emit func(Doc) error) error {
	q := `SELECT r.id, r.run_uuid, r.name, r.experiment_id, e.name, r.status, COALESCE(r.end_time, r.start_time, 0) FROM mlflow_runs r
		JOIN mlflow_experiments e ON e.id = r.experiment_id
		WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active'`
	var args []any
	if uuid != "" {
		q += ` AND r.run_uuid = $1`
		args = append(args, uuid)
	}
	type run struct {
		id, exp           int64
		uuid, name, ename string
		status            string
		at                int64
	}
	var runs []run
	rows, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if err := each(rows, func() error {
		var r run
		err := rows.Scan(&r.id, &r.uuid, &r.name, &r.exp, &r.ename, &r.status, &r.at)
		runs = append(runs, r)
		return err
	}); err != nil {
		return err
	}
	for _, r := range runs {
		name := r.name
		if name == "" {
			name = r.uuid
		}
		d := c.doc(groupRun+r.uuid, KindRun, name, r.uuid, r.at)
		d.ScopeKind, d.ScopeID = scopeExperiment, r.exp
		d.Summary = fmt.Sprintf("run of experiment %s, %s", r.ename, strings.ToLower(r.status))
		if d.Body, err = tagsText(ctx, c.tx, `SELECT key, value FROM mlflow_run_tags WHERE run_id = $1 ORDER BY key`, r.id); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

func mlflowModels(ctx context.Context, c sourceCtx, name string, emit func(Doc) error) error {
	q := `SELECT id, name, description, last_updated_timestamp FROM mlflow_registered_models`
	var args []any
	if name != "" {
		q += ` WHERE name = $1`
		args = append(args, name)
	}
	type model struct {
		id         int64
		name, desc string
		at         int64
	}
	var models []model
	rows, err := c.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return meta.Err(err)
	}
	if err := each(rows, func() error {
		var m model
		err := rows.Scan(&m.id, &m.name, &m.desc, &m.at)
		models = append(models, m)
		return err
	}); err != nil {
		return err
	}
	for _, m := range models {
		group := groupModel + m.name
		d := c.doc(group, KindModel, m.name, "", m.at)
		d.ScopeKind, d.ScopeID, d.Summary = scopeModel, m.id, m.desc
		if d.Body, err = tagsText(ctx, c.tx, `SELECT key, value FROM mlflow_registered_model_tags WHERE model_id = $1 ORDER BY key`, m.id); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
		aliases := map[int64][]string{}
		arows, err := c.tx.QueryContext(ctx, `SELECT alias, version FROM mlflow_model_aliases WHERE model_id = $1`, m.id)
		if err != nil {
			return meta.Err(err)
		}
		if err := each(arows, func() error {
			var a string
			var v int64
			err := arows.Scan(&a, &v)
			aliases[v] = append(aliases[v], a)
			return err
		}); err != nil {
			return err
		}
		vrows, err := c.tx.QueryContext(ctx, `SELECT version, description, current_stage, source, run_id, last_updated_timestamp
			FROM mlflow_model_versions WHERE model_id = $1 AND deleted = 0 ORDER BY version`, m.id)
		if err != nil {
			return meta.Err(err)
		}
		var versions []Doc
		if err := each(vrows, func() error {
			var v, at int64
			var desc, stage, src, runID string
			if err := vrows.Scan(&v, &desc, &stage, &src, &runID, &at); err != nil {
				return err
			}
			vd := c.doc(group, KindModelVersion, m.name, strconv.FormatInt(v, 10), at)
			vd.ScopeKind, vd.ScopeID, vd.Summary = scopeModel, m.id, desc
			vd.Body = strings.Join(append([]string{stage, src, runID}, aliases[v]...), " ")
			versions = append(versions, vd)
			return nil
		}); err != nil {
			return err
		}
		for _, vd := range versions {
			if err := emit(vd); err != nil {
				return err
			}
		}
	}
	return nil
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
