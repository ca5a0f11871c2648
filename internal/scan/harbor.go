package scan

import (
	"context"
	"time"

	"github.com/arcaproject/arca/internal/version"
)

// The Harbor vulnerability report (Pluggable Scanner API v1.1's
// application/vnd.security.vulnerability.report; version=1.1), for tools
// that read Harbor's reports.
type harborDoc struct {
	GeneratedAt     string          `json:"generated_at"`
	Artifact        harborArtifact  `json:"artifact"`
	Scanner         harborScanner   `json:"scanner"`
	Severity        string          `json:"severity"`
	Vulnerabilities []harborVulnItm `json:"vulnerabilities"`
}

type harborArtifact struct {
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Tag        string `json:"tag,omitempty"`
	MimeType   string `json:"mime_type,omitempty"`
}

type harborScanner struct {
	Name    string `json:"name"`
	Vendor  string `json:"vendor"`
	Version string `json:"version"`
}

type harborVulnItm struct {
	ID               string         `json:"id"`
	Package          string         `json:"package"`
	Version          string         `json:"version"`
	FixVersion       string         `json:"fix_version,omitempty"`
	Severity         string         `json:"severity"`
	Description      string         `json:"description,omitempty"`
	Links            []string       `json:"links,omitempty"`
	CVSS             map[string]any `json:"preferred_cvss,omitempty"`
	VendorAttributes map[string]any `json:"vendor_attributes,omitempty"`
}

// harborReport writes a report in Harbor's format; sc names the scanner
// that made it (arca, or an adapter as its metadata names itself).
func harborReport(r *Report, sc harborScanner) harborDoc {
	d := harborDoc{
		GeneratedAt: time.UnixMilli(r.ScannedAt).UTC().Format(time.RFC3339),
		Artifact:    harborArtifact{Repository: r.Repository + "/" + r.Name, Digest: r.Digest},
		Scanner:     sc,
		Severity:    r.Worst.String(),
	}
	arca := r.Scanner == "" || r.Scanner == "arca"
	if r.Kind != KindImage {
		d.Artifact.Tag = r.Ref
	}
	d.Vulnerabilities = []harborVulnItm{}
	for _, f := range r.Findings {
		v := harborVulnItm{ID: f.Advisory, Package: f.Component.Name, Version: f.Component.Version, FixVersion: f.Fixed,
			Severity: f.Severity.String(), Description: f.Summary,
			VendorAttributes: map[string]any{"aliases": f.Aliases, "ecosystem": f.Component.Ecosystem}}
		if arca {
			v.Links = []string{"https://osv.dev/vulnerability/" + f.Advisory}
		}
		if f.Score > 0 {
			v.CVSS = map[string]any{"score_v3": f.Score}
		}
		d.Vulnerabilities = append(d.Vulnerabilities, v)
	}
	return d
}

// harborReport is a report in Harbor's format, with its scanner named as
// it names itself.
func (h *API) harborReport(ctx context.Context, r *Report) harborDoc {
	sc := harborScanner{Name: "arca", Vendor: "arca", Version: version.String()}
	if r.Scanner != "" && r.Scanner != "arca" {
		sc = harborScanner{Name: r.Scanner}
		if a, err := h.scanner.Adapter(ctx, r.Scanner); err == nil && a.Metadata != nil {
			sc = harborScanner{Name: a.Metadata.Scanner.Name, Vendor: a.Metadata.Scanner.Vendor, Version: a.Metadata.Scanner.Version}
		}
	}
	return harborReport(r, sc)
}
