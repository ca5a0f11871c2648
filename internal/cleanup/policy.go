// Package cleanup deletes content that a policy says is no longer needed,
// for every format: by age, by the time it was last downloaded, keeping
// the newest versions, pre-releases and snapshots only, by name or tag
// pattern, by size. A policy applies to one repository or to every
// repository of a format.
//
// A run deletes through each format's own delete endpoint, in process
// (auth.WithInternal), so that audit events, webhooks and replication
// see a cleanup delete exactly as a user's; garbage collection then frees
// the bytes nothing refers to any more. A preview performs the same
// deletions in a database transaction that it rolls back, and asks
// internal/gc which of the blobs involved nothing would then refer to:
// the bytes a collection after the run frees (once the grace window has
// passed).
package cleanup

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path"
	"regexp"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Criteria say what a policy deletes. An item goes when it matches every
// criterion that is set and is not among the KeepLast newest of its
// package (image, module, directory); at least one of OlderThanDays,
// NotDownloadedDays, KeepLast, Prerelease, Untagged and MinSizeBytes must
// be set.
type Criteria struct {
	// OlderThanDays: created (pushed, uploaded) more than this many days ago.
	OlderThanDays int `json:"older_than_days,omitempty"`
	// NotDownloadedDays: not downloaded for this many days; an item never
	// downloaded counts from its creation.
	NotDownloadedDays int `json:"not_downloaded_days,omitempty"`
	// KeepLast keeps the newest N versions of each package whatever the
	// other criteria say (by creation time).
	KeepLast int `json:"keep_last,omitempty"`
	// Prerelease selects pre-releases only: PEP 440 a/b/rc/dev, SemVer
	// versions with a pre-release part (npm, Go, Helm; pseudo-versions
	// included), Maven -SNAPSHOT versions.
	Prerelease bool `json:"prerelease,omitempty"`
	// Untagged selects OCI manifests that no tag names.
	Untagged bool `json:"untagged,omitempty"`
	// Name is a glob (path.Match) on the package, image, module or path.
	Name string `json:"name,omitempty"`
	// Version is a glob on the version; for OCI, on any of a manifest's tags.
	Version string `json:"version,omitempty"`
	// KeepVersions are globs of versions (OCI: tags) never deleted.
	KeepVersions []string `json:"keep_versions,omitempty"`
	// MinSizeBytes selects items at least this large.
	MinSizeBytes int64 `json:"min_size_bytes,omitempty"`
}

// Policy is a named cleanup policy.
type Policy struct {
	ID   int64  `json:"-"`
	Name string `json:"name"`
	// Format is the format of the repositories it applies to.
	Format string `json:"format"`
	// Repository is the one repository it applies to; "" for every
	// repository of Format.
	Repository string   `json:"repository,omitempty"`
	Criteria   Criteria `json:"criteria"`
	Enabled    bool     `json:"enabled"`
	CreatedBy  string   `json:"created_by,omitempty"`
	CreatedAt  int64    `json:"created_at,omitempty"`
	UpdatedAt  int64    `json:"updated_at,omitempty"`
	// LastRunAt and LastResult describe the last scheduled or manual run.
	LastRunAt  int64           `json:"last_run_at,omitempty"`
	LastResult json.RawMessage `json:"last_result,omitempty"`
}

// Formats are the formats cleanup knows how to clean.
var formats = map[string]bool{"raw": true, "oci": true, "pypi": true, "npm": true, "maven": true, "go": true, "helm": true, "s3": true, "mlflow": true}

// Formats lists the formats policies may name.
func Formats() []string {
	return []string{"go", "helm", "maven", "mlflow", "npm", "oci", "pypi", "raw", "s3"}
}

var policyName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Validate checks a policy as sent by a client.
func (p *Policy) Validate() error {
	if !policyName.MatchString(p.Name) {
		return errs.E(errs.Invalid, "invalid policy name %q: 1-64 lowercase letters, digits, . _ -", p.Name)
	}
	if !formats[p.Format] {
		return errs.E(errs.Invalid, "format %q: want one of %v", p.Format, Formats())
	}
	c := p.Criteria
	if c.OlderThanDays < 0 || c.NotDownloadedDays < 0 || c.KeepLast < 0 || c.MinSizeBytes < 0 {
		return errs.E(errs.Invalid, "criteria cannot be negative")
	}
	if c.OlderThanDays == 0 && c.NotDownloadedDays == 0 && c.KeepLast == 0 && !c.Prerelease && !c.Untagged && c.MinSizeBytes == 0 {
		return errs.E(errs.Invalid, "a policy needs at least one of older_than_days, not_downloaded_days, keep_last, prerelease, untagged, min_size_bytes")
	}
	if c.Untagged && p.Format != "oci" {
		return errs.E(errs.Invalid, "untagged applies to OCI repositories only")
	}
	if len(c.KeepVersions) > 100 {
		return errs.E(errs.Invalid, "at most 100 keep_versions patterns")
	}
	for _, pat := range append([]string{c.Name, c.Version}, c.KeepVersions...) {
		if len(pat) > 256 {
			return errs.E(errs.Invalid, "pattern too long (max 256)")
		}
		if _, err := path.Match(pat, ""); err != nil {
			return errs.E(errs.Invalid, "bad pattern %q", pat)
		}
	}
	return nil
}

// Store keeps policies in the metadata database.
type Store struct{ db *meta.DB }

const policyColumns = `p.id, p.name, p.format, COALESCE(r.name, ''), p.criteria, p.enabled, p.created_by, p.created_at, p.updated_at, p.last_run_at, p.last_result`
const policyFrom = ` FROM cleanup_policies p LEFT JOIN repositories r ON r.id = p.repository_id`

func scanPolicy(row interface{ Scan(...any) error }) (*Policy, error) {
	var p Policy
	var crit, last string
	var enabled int
	if err := row.Scan(&p.ID, &p.Name, &p.Format, &p.Repository, &crit, &enabled, &p.CreatedBy, &p.CreatedAt, &p.UpdatedAt, &p.LastRunAt, &last); err != nil {
		return nil, err
	}
	p.Enabled = enabled != 0
	if err := json.Unmarshal([]byte(crit), &p.Criteria); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt criteria of cleanup policy %s", p.Name)
	}
	if last != "" {
		p.LastResult = json.RawMessage(last)
	}
	return &p, nil
}

// List returns every policy, by name.
func (s Store) List(ctx context.Context) ([]*Policy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+policyColumns+policyFrom+` ORDER BY p.name`)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// Get returns the policy named name.
func (s Store) Get(ctx context.Context, name string) (*Policy, error) {
	p, err := scanPolicy(s.db.QueryRowContext(ctx, `SELECT `+policyColumns+policyFrom+` WHERE p.name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no cleanup policy %q", name)
	}
	return p, meta.Err(err)
}

// repositoryID resolves a policy's repository (nil for a format-wide one)
// and checks its format.
func (s Store) repositoryID(ctx context.Context, p *Policy) (any, error) {
	if p.Repository == "" {
		return nil, nil
	}
	var id int64
	var format string
	err := s.db.QueryRowContext(ctx, `SELECT id, format FROM repositories WHERE name = $1`, p.Repository).Scan(&id, &format)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.Invalid, "repository %q not found", p.Repository)
	} else if err != nil {
		return nil, meta.Err(err)
	}
	if format != p.Format {
		return nil, errs.E(errs.Invalid, "repository %q is of format %s, the policy of %s", p.Repository, format, p.Format)
	}
	return id, nil
}

// Create adds a policy.
func (s Store) Create(ctx context.Context, p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	rid, err := s.repositoryID(ctx, p)
	if err != nil {
		return err
	}
	crit, _ := json.Marshal(p.Criteria)
	p.CreatedAt = meta.Now()
	p.UpdatedAt = p.CreatedAt
	err = s.db.QueryRowContext(ctx, `INSERT INTO cleanup_policies (name, format, repository_id, criteria, enabled, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`, p.Name, p.Format, rid, string(crit), boolInt(p.Enabled), p.CreatedBy, p.CreatedAt).Scan(&p.ID)
	if meta.IsUniqueViolation(err) {
		return errs.E(errs.Conflict, "cleanup policy %q exists", p.Name)
	}
	return meta.Err(err)
}

// Update replaces a policy's format, repository, criteria and state.
func (s Store) Update(ctx context.Context, p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	rid, err := s.repositoryID(ctx, p)
	if err != nil {
		return err
	}
	crit, _ := json.Marshal(p.Criteria)
	p.UpdatedAt = meta.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE cleanup_policies SET format = $2, repository_id = $3, criteria = $4, enabled = $5, updated_at = $6 WHERE name = $1`,
		p.Name, p.Format, rid, string(crit), boolInt(p.Enabled), p.UpdatedAt)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no cleanup policy %q", p.Name)
	}
	return nil
}

// Delete removes a policy.
func (s Store) Delete(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM cleanup_policies WHERE name = $1`, name)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no cleanup policy %q", name)
	}
	return nil
}

// noteRun records a run's outcome on its policy.
func (s Store) noteRun(ctx context.Context, name string, res any) error {
	b, _ := json.Marshal(res)
	_, err := s.db.ExecContext(ctx, `UPDATE cleanup_policies SET last_run_at = $2, last_result = $3 WHERE name = $1`, name, meta.Now(), string(b))
	return meta.Err(err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
