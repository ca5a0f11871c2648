package scan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/vulndb"
)

// Report statuses.
const (
	StatusOK    = "ok"
	StatusError = "error" // the artifact could not be catalogued; Error says why
)

// Report is the last scan of an artifact.
type Report struct {
	ID            int64              `json:"id"`
	Target                           // kind, repository, name, ref
	Digest        string             `json:"digest"`
	Status        string             `json:"status"`
	Error         string             `json:"error,omitempty"`
	Scanner       string             `json:"scanner"`
	ScannedAt     int64              `json:"scanned_at"`
	Counts        map[string]int     `json:"counts"` // findings per severity name
	Worst         vulndb.Severity    `json:"worst"`
	WorstAdvisory string             `json:"worst_advisory,omitempty"`
	Components    []vulndb.Component `json:"components,omitempty"`
	Findings      []vulndb.Finding   `json:"findings,omitempty"`
}

// store replaces t's report: its components and findings, or the error
// that stopped it.
func (s *Scanner) store(ctx context.Context, rp *repo.Repository, t Target, digest string, comps []vulndb.Component, fs []vulndb.Finding, scanErr error) (*Report, error) {
	r := &Report{Target: t, Digest: digest, Status: StatusOK, Scanner: "arca", ScannedAt: meta.Now(), Counts: map[string]int{},
		Components: comps, Findings: fs}
	r.Repository = rp.Name
	if scanErr != nil {
		r.Status, r.Error = StatusError, truncateString(errs.Message(scanErr), 1000)
	}
	for _, f := range fs {
		r.Counts[f.Severity.String()]++
		if f.Severity > r.Worst {
			r.Worst, r.WorstAdvisory = f.Severity, f.Advisory
		}
	}
	if r.Components == nil {
		r.Components = []vulndb.Component{}
	}
	compsJSON, _ := json.Marshal(r.Components)
	countsJSON, _ := json.Marshal(r.Counts)
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM scan_reports WHERE repository_id = $1 AND kind = $2 AND name = $3 AND ref = $4`,
			rp.ID, t.Kind, t.Name, t.Ref); err != nil {
			return meta.Err(err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO scan_reports (repository_id, kind, name, ref, digest, status, error, components, counts, worst, worst_advisory, scanner, scanned_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			rp.ID, t.Kind, t.Name, t.Ref, digest, r.Status, r.Error, string(compsJSON), string(countsJSON), int(r.Worst), r.WorstAdvisory, r.Scanner, r.ScannedAt).Scan(&r.ID); err != nil {
			return meta.Err(err)
		}
		return insertFindings(ctx, tx, "scan_findings", r.ID, fs)
	})
	return r, err
}

// insertFindings writes a report's findings into table (scan_findings
// or scan_adapter_findings), once per component, version and advisory.
func insertFindings(ctx context.Context, tx *sql.Tx, table string, id int64, fs []vulndb.Finding) error {
	seen := map[[3]string]bool{}
	for _, f := range fs {
		key := [3]string{f.Component.Name, f.Component.Version, f.Advisory}
		if seen[key] {
			continue
		}
		seen[key] = true
		aliases, _ := json.Marshal(f.Aliases)
		if aliases == nil || string(aliases) == "null" {
			aliases = []byte("[]")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (report_id, component, version, ecosystem, advisory_id, aliases, summary, severity, score, fixed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			id, f.Component.Name, f.Component.Version, f.Component.Ecosystem, f.Advisory, string(aliases), f.Summary, int(f.Severity), f.Score, f.Fixed); err != nil {
			return meta.Err(err)
		}
	}
	return nil
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

const reportColumns = `s.id, r.name, s.kind, s.name, s.ref, s.digest, s.status, s.error, s.scanner, s.scanned_at, s.counts, s.worst, s.worst_advisory`

func scanReport(row interface{ Scan(...any) error }) (*Report, error) {
	r := &Report{}
	var counts string
	var worst int
	if err := row.Scan(&r.ID, &r.Repository, &r.Kind, &r.Name, &r.Ref, &r.Digest, &r.Status, &r.Error, &r.Scanner, &r.ScannedAt, &counts, &worst, &r.WorstAdvisory); err != nil {
		return nil, err
	}
	r.Worst = vulndb.Severity(worst)
	json.Unmarshal([]byte(counts), &r.Counts)
	return r, nil
}

// tables are where one scanner's reports live: arca's own, or the
// adapters' (adapterscan.go).
type tables struct{ reports, findings string }

var (
	arcaTables    = tables{"scan_reports", "scan_findings"}
	adapterTables = tables{"scan_adapter_reports", "scan_adapter_findings"}
)

func tablesOf(scanner string) tables {
	if scanner == "" || scanner == "arca" {
		return arcaTables
	}
	return adapterTables
}

// Get returns a report of arca's own by ID with its components and
// findings.
func (s *Scanner) Get(ctx context.Context, id int64) (*Report, error) {
	return s.getIn(ctx, arcaTables, id)
}

func (s *Scanner) getIn(ctx context.Context, tb tables, id int64) (*Report, error) {
	r, err := scanReport(s.DB.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM `+tb.reports+` s JOIN repositories r ON r.id = s.repository_id WHERE s.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no scan report %d", id)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	return r, s.fill(ctx, tb, r)
}

// Find returns arca's report of a target, with its components and
// findings.
func (s *Scanner) Find(ctx context.Context, t Target) (*Report, error) { return s.FindBy(ctx, t, "") }

// FindBy returns the report of a target by scanner: "" or "arca" for
// arca's own, else the registered adapter's of that name.
func (s *Scanner) FindBy(ctx context.Context, t Target, scanner string) (*Report, error) {
	tb := tablesOf(scanner)
	for attempt := 1; ; attempt++ {
		var id int64
		err := s.DB.QueryRowContext(ctx, `SELECT s.id FROM `+tb.reports+` s JOIN repositories r ON r.id = s.repository_id
			WHERE r.name = $1 AND s.kind = $2 AND s.name = $3 AND (s.ref = $4 OR s.digest = $4) AND ($5 = '' OR s.scanner = $5) ORDER BY s.id LIMIT 1`,
			t.Repository, t.Kind, t.Name, t.Ref, adapterName(scanner)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			if tb == adapterTables {
				return nil, errs.E(errs.NotFound, "%s has no report of scanner %q", t, scanner)
			}
			return nil, errs.E(errs.NotFound, "%s has not been scanned", t)
		}
		if err != nil {
			return nil, meta.Err(err)
		}
		rep, err := s.getIn(ctx, tb, id)
		if errs.Is(err, errs.NotFound) && attempt < 5 {
			// A rescan replaced the report (and its id) between the two
			// reads: the artifact has a report, the new one.
			continue
		}
		return rep, err
	}
}

// adapterName is the scanner column's filter: "" for arca's own table,
// which has one report per artifact.
func adapterName(scanner string) string {
	if scanner == "arca" {
		return ""
	}
	return scanner
}

// AdapterReports returns the external scanners' reports of a target,
// by scanner name, with their findings.
func (s *Scanner) AdapterReports(ctx context.Context, t Target) ([]*Report, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+reportColumns+` FROM scan_adapter_reports s JOIN repositories r ON r.id = s.repository_id
		WHERE r.name = $1 AND s.kind = $2 AND s.name = $3 AND (s.ref = $4 OR s.digest = $4) ORDER BY s.scanner LIMIT 100`, t.Repository, t.Kind, t.Name, t.Ref)
	if err != nil {
		return nil, meta.Err(err)
	}
	var out []*Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	for _, r := range out {
		if err := s.fill(ctx, adapterTables, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Scanner) fill(ctx context.Context, tb tables, r *Report) error {
	if tb == arcaTables {
		var comps string
		if err := s.DB.QueryRowContext(ctx, `SELECT components FROM scan_reports WHERE id = $1`, r.ID).Scan(&comps); err != nil {
			return meta.Err(err)
		}
		json.Unmarshal([]byte(comps), &r.Components)
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT component, version, ecosystem, advisory_id, aliases, summary, severity, score, fixed
		FROM `+tb.findings+` WHERE report_id = $1 ORDER BY severity DESC, score DESC, component, advisory_id`, r.ID)
	if err != nil {
		return meta.Err(err)
	}
	defer rows.Close()
	r.Findings = []vulndb.Finding{}
	for rows.Next() {
		var f vulndb.Finding
		var aliases string
		var sev int
		if err := rows.Scan(&f.Component.Name, &f.Component.Version, &f.Component.Ecosystem, &f.Advisory, &aliases, &f.Summary, &sev, &f.Score, &f.Fixed); err != nil {
			return meta.Err(err)
		}
		f.Severity = vulndb.Severity(sev)
		json.Unmarshal([]byte(aliases), &f.Aliases)
		r.Findings = append(r.Findings, f)
	}
	return meta.Err(rows.Err())
}

// List returns arca's reports of a repository (all repositories when
// repository is ""), worst first, without components and findings.
func (s *Scanner) List(ctx context.Context, repository string, minSeverity vulndb.Severity, limit int) ([]*Report, error) {
	return s.ListBy(ctx, "", repository, minSeverity, limit)
}

// ListBy is List of one scanner's reports ("" or "arca": arca's own).
func (s *Scanner) ListBy(ctx context.Context, scanner, repository string, minSeverity vulndb.Severity, limit int) ([]*Report, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	tb := tablesOf(scanner)
	rows, err := s.DB.QueryContext(ctx, `SELECT `+reportColumns+` FROM `+tb.reports+` s JOIN repositories r ON r.id = s.repository_id
		WHERE ($1 = '' OR r.name = $1) AND s.worst >= $2 AND ($4 = '' OR s.scanner = $4) ORDER BY s.worst DESC, s.scanned_at DESC, s.id LIMIT $3`,
		repository, int(minSeverity), limit, adapterName(scanner))
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*Report{}
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// Counts are the findings of all reports per severity name.
func (s *Scanner) Counts(ctx context.Context) (map[string]int, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT severity, COUNT(*) FROM scan_findings GROUP BY severity`)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for _, sev := range []vulndb.Severity{vulndb.Unknown, vulndb.Low, vulndb.Medium, vulndb.High, vulndb.Critical} {
		out[sev.String()] = 0
	}
	for rows.Next() {
		var sev, n int
		if err := rows.Scan(&sev, &n); err != nil {
			return nil, meta.Err(err)
		}
		out[vulndb.Severity(sev).String()] += n
	}
	return out, meta.Err(rows.Err())
}

// Reported lists every target with a report, for rescans.
func (s *Scanner) Reported(ctx context.Context) ([]Target, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT r.name, s.kind, s.name, s.ref FROM scan_reports s JOIN repositories r ON r.id = s.repository_id ORDER BY s.id`)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		var t Target
		if err := rows.Scan(&t.Repository, &t.Kind, &t.Name, &t.Ref); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, t)
	}
	return out, meta.Err(rows.Err())
}

// Artifacts lists what a repository holds that can be scanned: its image
// manifests that are not referrers, PyPI files or npm versions (at most
// limit).
func (s *Scanner) Artifacts(ctx context.Context, rp *repo.Repository, limit int) ([]Target, error) {
	var q string
	switch rp.Format {
	case "oci":
		q = `SELECT 'oci', name, digest FROM oci_manifests WHERE repository_id = $1 AND subject = '' AND artifact_type IN ('', 'application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json') ORDER BY name, digest LIMIT $2`
	case "pypi":
		q = `SELECT 'pypi', project, filename FROM pypi_files WHERE repository_id = $1 ORDER BY project, filename LIMIT $2`
	case "npm":
		q = `SELECT 'npm', name, version FROM npm_versions WHERE repository_id = $1 ORDER BY name, version LIMIT $2`
	case "maven":
		q = `SELECT 'maven', group_id || ':' || artifact_id, path FROM maven_files WHERE repository_id = $1 AND classifier = ''
			AND extension IN ('jar', 'war', 'ear', 'aar', 'pom') ORDER BY path LIMIT $2`
	case "go":
		q = `SELECT 'go', module, version FROM go_versions WHERE repository_id = $1 ORDER BY module, version LIMIT $2`
	default:
		return nil, errs.E(errs.Invalid, "%s repositories are not scanned", rp.Format)
	}
	rows, err := s.DB.QueryContext(ctx, q, rp.ID, limit)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		t := Target{Repository: rp.Name}
		if err := rows.Scan(&t.Kind, &t.Name, &t.Ref); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, t)
	}
	return out, meta.Err(rows.Err())
}

// Forget deletes the reports of artifacts that no longer exist (a
// rescan's clean-up): the report of a deleted artifact must not block or
// be shown.
func (s *Scanner) Forget(ctx context.Context, t Target) error {
	for _, table := range []string{"scan_reports", "scan_adapter_reports"} {
		if _, err := s.DB.ExecContext(ctx, `DELETE FROM `+table+` WHERE kind = $1 AND name = $2 AND ref = $3
		AND repository_id = (SELECT id FROM repositories WHERE name = $4)`, t.Kind, t.Name, t.Ref, t.Repository); err != nil {
			return meta.Err(err)
		}
	}
	return nil
}
