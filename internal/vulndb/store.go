package vulndb

import (
	"archive/zip"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Limits of an import: OSV's largest export (Debian's, all releases) has
// around 60,000 records in about 500 MB uncompressed.
const (
	maxZipEntries  = 500_000
	maxZipBytes    = 4 << 30
	importBatch    = 500
	maxExportBytes = 2 << 30 // one downloaded export
)

// DefaultURL is OSV's public export bucket: <url>/<ecosystem>/all.zip.
const DefaultURL = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the exports `arca vulndb update` downloads unless
// configured otherwise: those of the formats arca serves and the
// distributions images are built on.
var DefaultEcosystems = []string{"PyPI", "npm", "Maven", "Go", "Debian", "Alpine", "Ubuntu"}

// DB is the vulnerability data in the metadata database.
type DB struct {
	db *meta.DB
}

// New returns the vulnerability data kept in db.
func New(db *meta.DB) *DB { return &DB{db: db} }

// ImportResult says what an import changed.
type ImportResult struct {
	Source     string `json:"source"`
	Advisories int    `json:"advisories"` // read
	Changed    int    `json:"changed"`    // new or modified since the last import
	Skipped    int    `json:"skipped"`    // not OSV records
}

// ImportPath imports an OSV export zip, a directory of them (and of loose
// .json records), or one .json record.
func (d *DB) ImportPath(ctx context.Context, path string) ([]ImportResult, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files []string
	if st.IsDir() {
		err = filepath.WalkDir(path, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && (strings.HasSuffix(p, ".zip") || strings.HasSuffix(p, ".json")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		files = []string{path}
	}
	var out []ImportResult
	var loose []*Advisory
	for _, f := range files {
		if strings.HasSuffix(f, ".json") {
			b, err := readFileLimit(f, maxAdvisoryBytes)
			if err != nil {
				return out, err
			}
			if a, err := ParseAdvisory(b); err == nil {
				loose = append(loose, a)
			}
			continue
		}
		zf, err := os.Open(f)
		if err != nil {
			return out, err
		}
		st, err := zf.Stat()
		if err != nil {
			zf.Close()
			return out, err
		}
		res, err := d.ImportZip(ctx, sourceName(f), zf, st.Size())
		zf.Close()
		if err != nil {
			return out, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, res)
	}
	if len(loose) > 0 {
		res := ImportResult{Source: "records:" + filepath.Base(path), Advisories: len(loose)}
		n, err := d.store(ctx, loose)
		if err != nil {
			return out, err
		}
		res.Changed = n
		if err := d.recordSource(ctx, res); err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// sourceName names an export by its ecosystem when it is laid out as OSV
// publishes it (<ecosystem>/all.zip), else by its file name.
func sourceName(path string) string {
	if filepath.Base(path) == "all.zip" {
		return filepath.Base(filepath.Dir(path))
	}
	return filepath.Base(path)
}

func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimit(f, limit)
}

func readLimit(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// ImportZip imports an OSV export zip (one JSON record per entry).
// Entries that are not OSV records are skipped and counted; a record
// already stored with the same modified time is left as it is.
func (d *DB) ImportZip(ctx context.Context, source string, r io.ReaderAt, size int64) (ImportResult, error) {
	res := ImportResult{Source: source}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return res, errs.Wrap(err, errs.Invalid, "not a zip file")
	}
	if len(zr.File) > maxZipEntries {
		return res, errs.E(errs.TooLarge, "zip has %d entries, more than %d", len(zr.File), maxZipEntries)
	}
	var total int64
	batch := make([]*Advisory, 0, importBatch)
	flush := func() error {
		n, err := d.store(ctx, batch)
		res.Changed += n
		batch = batch[:0]
		return err
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			res.Skipped++
			continue
		}
		b, err := readLimit(rc, maxAdvisoryBytes)
		rc.Close()
		total += int64(len(b))
		if total > maxZipBytes {
			return res, errs.E(errs.TooLarge, "zip holds more than %d bytes of records", int64(maxZipBytes))
		}
		if err != nil {
			res.Skipped++
			continue
		}
		a, err := ParseAdvisory(b)
		if err != nil {
			res.Skipped++
			continue
		}
		res.Advisories++
		batch = append(batch, a)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	return res, d.recordSource(ctx, res)
}

func (d *DB) recordSource(ctx context.Context, res ImportResult) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO vuln_sources (name, advisories, imported_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET advisories = excluded.advisories, imported_at = excluded.imported_at`,
		res.Source, res.Advisories, meta.Now())
	return meta.Err(err)
}

// store upserts advisories in one transaction and returns how many were
// new or modified.
func (d *DB) store(ctx context.Context, batch []*Advisory) (int, error) {
	if len(batch) == 0 {
		return 0, nil
	}
	changed := 0
	now := meta.Now()
	err := d.db.WithTx(ctx, func(tx *sql.Tx) error {
		changed = 0
		for _, a := range batch {
			var modified string
			err := tx.QueryRowContext(ctx, `SELECT modified FROM vuln_advisories WHERE id = $1`, a.ID).Scan(&modified)
			if err == nil && modified == a.Modified {
				continue
			}
			if err != nil && err != sql.ErrNoRows {
				return meta.Err(err)
			}
			changed++
			doc, _ := json.Marshal(a)
			aliases, _ := json.Marshal(nonNil(a.Aliases))
			sev, score := a.Rate()
			if _, err := tx.ExecContext(ctx, `INSERT INTO vuln_advisories (id, modified, aliases, summary, severity, score, doc, imported_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, aliases = excluded.aliases, summary = excluded.summary,
				  severity = excluded.severity, score = excluded.score, doc = excluded.doc, imported_at = excluded.imported_at`,
				a.ID, a.Modified, string(aliases), truncate(a.Summary, 500), int(sev), score, string(doc), now); err != nil {
				return meta.Err(err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM vuln_affected WHERE advisory_id = $1`, a.ID); err != nil {
				return meta.Err(err)
			}
			seen := map[[3]string]bool{}
			for _, af := range a.Affected {
				eco := af.Package.Ecosystem
				base, _, _ := strings.Cut(eco, ":")
				key := [3]string{base, NormalizeName(base, af.Package.Name), eco}
				if eco == "" || af.Package.Name == "" || seen[key] {
					continue
				}
				seen[key] = true
				if _, err := tx.ExecContext(ctx, `INSERT INTO vuln_affected (ecosystem, base, package, advisory_id) VALUES ($1, $2, $3, $4)`,
					eco, key[0], key[1], a.ID); err != nil {
					return meta.Err(err)
				}
			}
		}
		return nil
	})
	return changed, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Update downloads each ecosystem's export (<baseURL>/<ecosystem>/all.zip)
// to a temporary file and imports it. A failed ecosystem does not stop the
// others; the error names every one that failed.
func (d *DB) Update(ctx context.Context, client *http.Client, baseURL string, ecosystems []string) ([]ImportResult, error) {
	var out []ImportResult
	var failed []string
	for _, eco := range ecosystems {
		res, err := d.updateOne(ctx, client, baseURL, eco)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", eco, err))
			continue
		}
		out = append(out, res)
	}
	if len(failed) > 0 {
		return out, errs.E(errs.Unavailable, "updating vulnerability data: %s", strings.Join(failed, "; "))
	}
	return out, nil
}

func (d *DB) updateOne(ctx context.Context, client *http.Client, baseURL, eco string) (ImportResult, error) {
	u := strings.TrimRight(baseURL, "/") + "/" + url.PathEscape(eco) + "/all.zip"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ImportResult{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return ImportResult{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ImportResult{}, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.CreateTemp("", "arca-osv-*.zip")
	if err != nil {
		return ImportResult{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxExportBytes+1))
	if err != nil {
		return ImportResult{}, fmt.Errorf("GET %s: %w", u, err)
	}
	if n > maxExportBytes {
		return ImportResult{}, fmt.Errorf("GET %s: larger than %d bytes", u, int64(maxExportBytes))
	}
	return d.ImportZip(ctx, eco, f, n)
}

// Source is one imported export.
type Source struct {
	Name       string `json:"name"`
	Advisories int    `json:"advisories"`
	ImportedAt int64  `json:"imported_at"`
}

// Status lists the imported sources and counts the advisories stored.
func (d *DB) Status(ctx context.Context) (total int, sources []Source, err error) {
	if err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM vuln_advisories`).Scan(&total); err != nil {
		return 0, nil, meta.Err(err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT name, advisories, imported_at FROM vuln_sources ORDER BY name`)
	if err != nil {
		return 0, nil, meta.Err(err)
	}
	defer rows.Close()
	sources = []Source{}
	for rows.Next() {
		var s Source
		if err := rows.Scan(&s.Name, &s.Advisories, &s.ImportedAt); err != nil {
			return 0, nil, meta.Err(err)
		}
		sources = append(sources, s)
	}
	return total, sources, meta.Err(rows.Err())
}

// Finding is an advisory that affects a component.
type Finding struct {
	Component Component `json:"component"`
	Advisory  string    `json:"advisory"`
	Aliases   []string  `json:"aliases"`
	Summary   string    `json:"summary,omitempty"`
	Severity  Severity  `json:"severity"`
	Score     float64   `json:"score,omitempty"`
	Fixed     string    `json:"fixed,omitempty"`
}

// Match finds the advisories that affect each component, worst first.
func (d *DB) Match(ctx context.Context, comps []Component) ([]Finding, error) {
	docs := map[string]*Advisory{}
	var out []Finding
	for _, c := range comps {
		ids, err := d.candidates(ctx, c)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			a, ok := docs[id]
			if !ok {
				if a, err = d.load(ctx, id); err != nil {
					return nil, err
				}
				docs[id] = a
			}
			hit, fixed := a.Affects(c)
			if !hit {
				continue
			}
			sev, score := a.Rate()
			out = append(out, Finding{Component: c, Advisory: a.ID, Aliases: nonNil(a.Aliases), Summary: truncate(a.Summary, 500),
				Severity: sev, Score: score, Fixed: fixed})
		}
	}
	slices.SortStableFunc(out, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(y.Severity, x.Severity), cmp.Compare(y.Score, x.Score),
			cmp.Compare(x.Component.Name, y.Component.Name), cmp.Compare(x.Advisory, y.Advisory))
	})
	return out, nil
}

func (d *DB) candidates(ctx context.Context, c Component) ([]string, error) {
	var ids []string
	for _, name := range c.lookupNames() {
		rows, err := d.db.QueryContext(ctx, `SELECT ecosystem, advisory_id FROM vuln_affected WHERE base = $1 AND package = $2`,
			c.Base(), name)
		if err != nil {
			return nil, meta.Err(err)
		}
		for rows.Next() {
			var eco, id string
			if err := rows.Scan(&eco, &id); err != nil {
				rows.Close()
				return nil, meta.Err(err)
			}
			if releaseMatches(eco, c.Ecosystem) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, meta.Err(err)
		}
	}
	return ids, nil
}

func (d *DB) load(ctx context.Context, id string) (*Advisory, error) {
	var doc string
	if err := d.db.QueryRowContext(ctx, `SELECT doc FROM vuln_advisories WHERE id = $1`, id).Scan(&doc); err != nil {
		return nil, meta.Err(err)
	}
	a, err := ParseAdvisory([]byte(doc))
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "stored advisory %s", id)
	}
	return a, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
