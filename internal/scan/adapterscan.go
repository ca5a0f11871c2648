package scan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/vulndb"
)

// StatusFailed is an adapter report whose last scan failed (the adapter
// did not answer, refused the request, or reported an error); Error says
// why. The findings of its last successful scan, if any, are kept.
const StatusFailed = "failed"

// adapterPollLimit bounds how long one attempt waits for a report.
const adapterPollLimit = 30 * time.Minute

// ScanWithAdapter has the adapter called scanner scan an image manifest
// and stores its report beside arca's own. attempt counts from 1; each
// failure is recorded on the report (status failed) and returned so that
// the job runner retries it. ErrNotScanned: the target is not an image
// manifest this adapter consumes (indexes, referrers, packages).
func (s *Scanner) ScanWithAdapter(ctx context.Context, scanner string, t Target, attempt int) (*Report, error) {
	a, err := s.Adapter(ctx, scanner)
	if err != nil {
		return nil, err
	}
	if !a.Enabled {
		return nil, ErrNotScanned
	}
	if t.Kind != KindImage {
		return nil, ErrNotScanned
	}
	rp, err := s.Repos.Get(ctx, t.Repository)
	if err != nil {
		return nil, err
	}
	var digest, mediaType, artifactType, subject string
	err = s.DB.QueryRowContext(ctx, `SELECT digest, media_type, artifact_type, subject FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND (digest = $3 OR pushed_as = $3)`,
		rp.ID, t.Name, t.Ref).Scan(&digest, &mediaType, &artifactType, &subject)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no manifest %s in %s/%s", t.Ref, rp.Name, t.Name)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	if subject != "" || (artifactType != "" && artifactType != "application/vnd.oci.image.config.v1+json" && artifactType != "application/vnd.docker.container.image.v1+json") {
		return nil, ErrNotScanned
	}
	findings, err := s.runAdapter(ctx, a, rp, t, digest, mediaType)
	if errors.Is(err, ErrNotScanned) {
		return nil, err
	}
	if err != nil {
		if ferr := s.adapterFailed(ctx, rp, t, digest, a.Name, attempt, err); ferr != nil {
			return nil, ferr
		}
		return nil, err
	}
	rep, err := s.storeAdapter(ctx, rp, t, digest, a.Name, attempt, findings)
	if err != nil {
		return nil, err
	}
	s.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "scan.completed", Repository: rp.Name, Subject: t.Name + refSep(t) + t.Ref,
		Detail: map[string]any{"kind": t.Kind, "scanner": a.Name, "digest": rep.Digest, "counts": rep.Counts, "worst": rep.Worst, "worst_advisory": rep.WorstAdvisory}})
	return rep, nil
}

// runAdapter is one exchange with the adapter: metadata, scan request,
// report polled until it is ready.
func (s *Scanner) runAdapter(ctx context.Context, a *Adapter, rp *repo.Repository, t Target, digest, mediaType string) ([]vulndb.Finding, error) {
	md, err := s.adapterMetadata(ctx, a)
	if err != nil {
		return nil, err
	}
	accept, v12 := md.reportType(mediaType)
	if accept == "" {
		return nil, ErrNotScanned
	}
	if s.Tokens == nil || s.RegistryURL == "" {
		return nil, errs.E(errs.Unavailable, "no registry URL or token issuer for scanners")
	}
	token, err := s.Tokens.PullToken(ctx, rp.Name, t.Name)
	if err != nil {
		return nil, err
	}
	var req adapterScanRequest
	req.Registry.URL = s.RegistryURL
	req.Registry.Authorization = "Bearer " + token
	req.Artifact.Repository = rp.Name + "/" + t.Name
	req.Artifact.Digest = digest
	req.Artifact.MimeType = mediaType
	if !strings.HasPrefix(t.Ref, "sha256:") {
		req.Artifact.Tag = t.Ref
	}
	if v12 {
		req.Capabilities = []adapterCapability{{Type: "vulnerability", ProducesMimeTypes: []string{accept}}}
	}
	id, err := s.submit(ctx, a, req)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(adapterPollLimit)
	for {
		body, wait, err := s.fetchReport(ctx, a, id, accept)
		if err != nil {
			return nil, err
		}
		if body != nil {
			return ParseAdapterReport(body)
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, errs.E(errs.Unavailable, "scanner %s: no report after %v", a.Name, adapterPollLimit)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// adapterReport is the Harbor vulnerability report as adapters write it
// (v1.0 and v1.1: cvss scores as numbers or strings, preferred_cvss).
type adapterReport struct {
	Vulnerabilities []struct {
		ID          string          `json:"id"`
		Package     string          `json:"package"`
		Version     string          `json:"version"`
		FixVersion  string          `json:"fix_version"`
		Severity    string          `json:"severity"`
		Description string          `json:"description"`
		CVE3Score   json.RawMessage `json:"cve3_score"`
		CVSS        *struct {
			ScoreV3 *float64 `json:"score_v3"`
		} `json:"preferred_cvss"`
		VendorAttributes map[string]any `json:"vendor_attributes"`
	} `json:"vulnerabilities"`
}

// maxAdapterFindings bounds the findings kept from one report.
const maxAdapterFindings = 100_000

// ParseAdapterReport reads an adapter's vulnerability report (untrusted
// input) into findings: severities in Harbor's scale (Negligible is
// Low), entries without an ID or package dropped, text fields bounded.
func ParseAdapterReport(b []byte) ([]vulndb.Finding, error) {
	var r adapterReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "unreadable vulnerability report")
	}
	if len(r.Vulnerabilities) > maxAdapterFindings {
		return nil, errs.E(errs.TooLarge, "a report of %d vulnerabilities (at most %d)", len(r.Vulnerabilities), maxAdapterFindings)
	}
	out := make([]vulndb.Finding, 0, len(r.Vulnerabilities))
	for _, v := range r.Vulnerabilities {
		if v.ID == "" || v.Package == "" {
			continue
		}
		f := vulndb.Finding{Component: vulndb.Component{Name: truncateString(v.Package, 256), Version: truncateString(v.Version, 256)},
			Advisory: truncateString(v.ID, 256), Fixed: truncateString(v.FixVersion, 256), Summary: truncateString(v.Description, 2000)}
		sev, ok := vulndb.ParseSeverity(v.Severity)
		switch {
		case !ok:
			sev = vulndb.Unknown
		case sev == vulndb.None: // Negligible
			sev = vulndb.Low
		}
		f.Severity = sev
		if v.CVSS != nil && v.CVSS.ScoreV3 != nil {
			f.Score = *v.CVSS.ScoreV3
		} else if len(v.CVE3Score) > 0 {
			var n float64
			var str string
			if json.Unmarshal(v.CVE3Score, &n) == nil {
				f.Score = n
			} else if json.Unmarshal(v.CVE3Score, &str) == nil {
				f.Score, _ = strconv.ParseFloat(str, 64)
			}
		}
		if f.Score < 0 || f.Score > 10 || f.Score != f.Score {
			f.Score = 0
		}
		if eco, ok := v.VendorAttributes["ecosystem"].(string); ok {
			f.Component.Ecosystem = truncateString(eco, 64)
		}
		if as, ok := v.VendorAttributes["aliases"].([]any); ok {
			for _, x := range as {
				if s, ok := x.(string); ok && len(f.Aliases) < 20 {
					f.Aliases = append(f.Aliases, truncateString(s, 256))
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// storeAdapter replaces an adapter's report of t.
func (s *Scanner) storeAdapter(ctx context.Context, rp *repo.Repository, t Target, digest, scanner string, attempt int, fs []vulndb.Finding) (*Report, error) {
	r := &Report{Target: t, Digest: digest, Status: StatusOK, Scanner: scanner, ScannedAt: meta.Now(), Counts: map[string]int{}, Findings: fs}
	r.Repository = rp.Name
	for _, f := range fs {
		r.Counts[f.Severity.String()]++
		if f.Severity > r.Worst {
			r.Worst, r.WorstAdvisory = f.Severity, f.Advisory
		}
	}
	countsJSON, _ := json.Marshal(r.Counts)
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM scan_adapter_reports WHERE repository_id = $1 AND kind = $2 AND name = $3 AND ref = $4 AND scanner = $5`,
			rp.ID, t.Kind, t.Name, t.Ref, scanner); err != nil {
			return meta.Err(err)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO scan_adapter_reports (repository_id, kind, name, ref, digest, scanner, status, counts, worst, worst_advisory, attempts, scanned_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			rp.ID, t.Kind, t.Name, t.Ref, digest, scanner, r.Status, string(countsJSON), int(r.Worst), r.WorstAdvisory, attempt, r.ScannedAt).Scan(&r.ID); err != nil {
			return meta.Err(err)
		}
		return insertFindings(ctx, tx, "scan_adapter_findings", r.ID, fs)
	})
	return r, err
}

// adapterFailed records a failed attempt on t's report of scanner,
// keeping the findings of its last successful scan.
func (s *Scanner) adapterFailed(ctx context.Context, rp *repo.Repository, t Target, digest, scanner string, attempt int, cause error) error {
	msg := truncateString(errs.Message(cause), 1000)
	now := meta.Now()
	res, err := s.DB.ExecContext(ctx, `UPDATE scan_adapter_reports SET status = $1, error = $2, attempts = $3, scanned_at = $4
		WHERE repository_id = $5 AND kind = $6 AND name = $7 AND ref = $8 AND scanner = $9`,
		StatusFailed, msg, attempt, now, rp.ID, t.Kind, t.Name, t.Ref, scanner)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = s.DB.ExecContext(ctx, `INSERT INTO scan_adapter_reports (repository_id, kind, name, ref, digest, scanner, status, error, attempts, scanned_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, rp.ID, t.Kind, t.Name, t.Ref, digest, scanner, StatusFailed, msg, attempt, now)
	if meta.IsUniqueViolation(err) {
		return nil // a concurrent attempt recorded it
	}
	return meta.Err(err)
}
