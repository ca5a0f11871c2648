package scan

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/vulndb"
)

// SettingsKey is the repository setting that holds a Policy, beside each
// format's own settings.
const SettingsKey = "scan_policy"

// Policy is a repository's download policy:
//
//	scan_policy:
//	  block_severity: high          # block findings at or above: low, medium, high, critical
//	  allowlist:
//	    - id: GHSA-x84v-xcm2-53pg   # an advisory ID or one of its aliases (CVE-...)
//	      expires: 2026-12-31       # optional; RFC 3339 or a date
type Policy struct {
	BlockSeverity vulndb.Severity `json:"block_severity"`
	Allowlist     []Allowed       `json:"allowlist,omitempty"`
}

// Allowed exempts an advisory until it expires.
type Allowed struct {
	ID      string `json:"id"`
	Expires string `json:"expires,omitempty"`
}

func (a Allowed) expiry() (time.Time, error) {
	if a.Expires == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, a.Expires); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, a.Expires)
	if err != nil {
		return t, fmt.Errorf("allowlist expiry %q: want RFC 3339 or YYYY-MM-DD", a.Expires)
	}
	return t.Add(24 * time.Hour), nil // through the whole day
}

func (a Allowed) active(now time.Time) bool {
	t, err := a.expiry()
	return err == nil && (t.IsZero() || now.Before(t))
}

// PolicyOf reads a repository's policy from its settings; ok is false
// when it has none.
func PolicyOf(settings map[string]any) (p Policy, ok bool, err error) {
	v, present := settings[SettingsKey]
	if !present || v == nil {
		return p, false, nil
	}
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, false, errs.E(errs.Invalid, "%s: %v", SettingsKey, err)
	}
	if p.BlockSeverity < vulndb.Low {
		return p, false, errs.E(errs.Invalid, "%s.block_severity: want low, medium, high or critical", SettingsKey)
	}
	for _, a := range p.Allowlist {
		if a.ID == "" {
			return p, false, errs.E(errs.Invalid, "%s.allowlist: an entry without an id", SettingsKey)
		}
		if _, err := a.expiry(); err != nil {
			return p, false, errs.E(errs.Invalid, "%s.allowlist: %v", SettingsKey, err)
		}
	}
	return p, true, nil
}

// WithPolicy wraps a format's settings check so that its repositories
// also take a scan_policy: the policy is checked here and the rest of the
// settings by the format.
func WithPolicy(check repo.SettingsCheck) repo.SettingsCheck {
	return func(kind string, settings map[string]any) error {
		if _, present := settings[SettingsKey]; !present {
			if check == nil && len(settings) > 0 {
				return errs.E(errs.Invalid, "this format takes no settings but %s", SettingsKey)
			}
			if check == nil {
				return nil
			}
			return check(kind, settings)
		}
		if _, _, err := PolicyOf(settings); err != nil {
			return err
		}
		rest := make(map[string]any, len(settings))
		for k, v := range settings {
			if k != SettingsKey {
				rest[k] = v
			}
		}
		if check == nil {
			if len(rest) > 0 {
				return errs.E(errs.Invalid, "this format takes no settings but %s", SettingsKey)
			}
			return nil
		}
		return check(kind, rest)
	}
}

// Gate enforces repositories' policies on downloads (repo.DownloadGate).
// Admins are exempt (they must be able to fetch what they investigate),
// and so is the scanner, which reads content from the blob store, not
// through a surface. Content without a report is not blocked.
type Gate struct {
	DB  *meta.DB
	Now func() time.Time
	// OnBlock, when set, hears each refusal (webhooks' "policy blocked a
	// download"). Refusals are reachable without credentials on public
	// repositories, so whatever it does must be bounded by the caller.
	OnBlock func(ctx context.Context, r *repo.Repository, d repo.Download, detail map[string]any)
}

var _ repo.DownloadGate = (*Gate)(nil)

// AllowDownload refuses content whose report has a finding at or above
// the repository's block_severity that its allowlist does not exempt,
// with an errs.Denied naming the worst such advisory.
func (g *Gate) AllowDownload(ctx context.Context, r *repo.Repository, d repo.Download) error {
	p, ok, err := PolicyOf(r.Settings)
	if err != nil || !ok {
		return nil // an invalid stored policy was refused when saved
	}
	if auth.From(ctx).Role == auth.Admin {
		return nil
	}
	// A rescan replaces a report (and its findings) in one transaction,
	// but the reports and their findings are read here in several
	// statements: a report judged clean that is gone by then was replaced
	// meanwhile, and the content is judged again from its new report.
	for attempt := 0; attempt < 3; attempt++ {
		replaced, err := g.judge(ctx, r, d, p)
		if !replaced {
			return err
		}
	}
	return errs.E(errs.Unavailable, "the vulnerability report of %s is being replaced; try again", d.Digest)
}

// judge is AllowDownload's decision from the reports as they are now;
// replaced is set when a report it read was replaced while it judged.
func (g *Gate) judge(ctx context.Context, r *repo.Repository, d repo.Download, p Policy) (replaced bool, err error) {
	refs, err := g.reports(ctx, d, p.BlockSeverity)
	if err != nil || len(refs) == 0 {
		return false, err
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	// A manifest (or file) is blocked when any scanner's report of it
	// blocks; a layer passes when one manifest listing it is not blocked.
	clean := map[string]bool{}
	var worst *blocking
	for _, ref := range refs {
		b, err := g.worstBlocking(ctx, ref, p, now)
		if err != nil {
			return false, err
		}
		if b == nil {
			if gone, err := g.reportGone(ctx, ref); err != nil || gone {
				return gone, err
			}
			if _, seen := clean[ref.digest]; !seen {
				clean[ref.digest] = true
			}
			continue
		}
		clean[ref.digest] = false
		if worst == nil || b.severity > worst.severity {
			worst = b
		}
	}
	if d.Blob {
		for _, ok := range clean {
			if ok {
				// A layer that a clean manifest of the image lists too is
				// served: it is that manifest's layer as well.
				return false, nil
			}
		}
	}
	if worst == nil {
		return false, nil
	}
	if g.OnBlock != nil {
		g.OnBlock(ctx, r, d, map[string]any{"advisory": worst.advisory, "severity": worst.severity.String(),
			"component": worst.component, "version": worst.version, "fixed": worst.fixed, "digest": d.Digest})
	}
	return false, errs.E(errs.Denied, "download blocked by the vulnerability policy of %s: %s (%s) in %s %s; fixed in %s",
		r.Name, worst.advisory, worst.severity, worst.component, worst.version, orNone(worst.fixed))
}

// reportGone reports whether ref's report no longer exists.
func (g *Gate) reportGone(ctx context.Context, ref reportRef) (bool, error) {
	table := "scan_reports"
	if ref.findings == "scan_adapter_findings" {
		table = "scan_adapter_reports"
	}
	var one int
	err := g.DB.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`, ref.id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return false, meta.Err(err)
}

func orNone(s string) string {
	if s == "" {
		return "no release yet"
	}
	return s
}

// reportRef is one scanner's report of a digest: arca's own (in
// scan_findings) or an external scanner's (scan_adapter_findings).
type reportRef struct {
	findings string
	id       int64
	digest   string
}

// reports finds the reports that judge the content, of every scanner:
// the content's own (same digest, in any repository: the same bytes have
// the same findings), or for an OCI blob those of the image's manifests
// that list it. Only reports with findings at or above min are returned,
// except for blobs, where every listing manifest's reports are returned
// (so that a clean one lets the layer pass).
func (g *Gate) reports(ctx context.Context, d repo.Download, min vulndb.Severity) ([]reportRef, error) {
	var rows *sql.Rows
	var err error
	if d.Blob {
		rows, err = g.DB.QueryContext(ctx, `SELECT 'scan_findings', s.id, s.digest FROM oci_manifest_refs f JOIN scan_reports s ON s.digest = f.digest AND s.kind = 'oci'
			WHERE f.child = $1 AND f.name = $2
			UNION ALL
			SELECT 'scan_adapter_findings', s.id, s.digest FROM oci_manifest_refs f JOIN scan_adapter_reports s ON s.digest = f.digest AND s.kind = 'oci'
			WHERE f.child = $1 AND f.name = $2 LIMIT 200`, d.Digest, d.Name)
	} else {
		rows, err = g.DB.QueryContext(ctx, `SELECT 'scan_findings', id, digest FROM scan_reports WHERE digest = $1 AND worst >= $2
			UNION ALL
			SELECT 'scan_adapter_findings', id, digest FROM scan_adapter_reports WHERE digest = $1 AND worst >= $2 LIMIT 200`, d.Digest, int(min))
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var refs []reportRef
	for rows.Next() {
		var r reportRef
		if err := rows.Scan(&r.findings, &r.id, &r.digest); err != nil {
			return nil, meta.Err(err)
		}
		if r.findings != "scan_findings" && r.findings != "scan_adapter_findings" {
			return nil, errs.E(errs.Internal, "unexpected findings table %q", r.findings)
		}
		refs = append(refs, r)
	}
	return refs, meta.Err(rows.Err())
}

type blocking struct {
	advisory, component, version, fixed string
	severity                            vulndb.Severity
}

// worstBlocking is the worst finding of a report that the policy blocks,
// or nil.
func (g *Gate) worstBlocking(ctx context.Context, ref reportRef, p Policy, now time.Time) (*blocking, error) {
	rows, err := g.DB.QueryContext(ctx, `SELECT advisory_id, aliases, component, version, fixed, severity FROM `+ref.findings+`
		WHERE report_id = $1 AND severity >= $2 ORDER BY severity DESC, score DESC, advisory_id LIMIT 1000`, ref.id, int(p.BlockSeverity))
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b blocking
		var aliases string
		var sev int
		if err := rows.Scan(&b.advisory, &aliases, &b.component, &b.version, &b.fixed, &sev); err != nil {
			return nil, meta.Err(err)
		}
		b.severity = vulndb.Severity(sev)
		var as []string
		json.Unmarshal([]byte(aliases), &as)
		if !allowed(p.Allowlist, append(as, b.advisory), now) {
			return &b, nil
		}
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, meta.Err(err)
	}
	return nil, nil
}

func allowed(list []Allowed, ids []string, now time.Time) bool {
	for _, a := range list {
		if !a.active(now) {
			continue
		}
		for _, id := range ids {
			if strings.EqualFold(a.ID, id) {
				return true
			}
		}
	}
	return false
}
