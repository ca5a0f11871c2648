// Package repo is the repository model every format shares: a named space of
// one format (raw, oci, pypi, npm, ...), of one kind (hosted, proxy, group),
// with a visibility that decides whether anonymous clients may read it.
package repo

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Kinds of repository.
const (
	Hosted = "hosted" // arca stores what clients push
	Proxy  = "proxy"  // arca caches an upstream
	Group  = "group"  // arca resolves member repositories in order
)

// Visibilities.
const (
	Private = "private" // only users with a role may read
	Public  = "public"  // anyone may read, including anonymous clients
)

// Repository is one repository's metadata.
type Repository struct {
	ID          int64          `json:"-"`
	Name        string         `json:"name"`
	Format      string         `json:"format"`
	Kind        string         `json:"kind"`
	Visibility  string         `json:"visibility"`
	Description string         `json:"description"`
	Settings    map[string]any `json:"settings,omitempty"`
	// Owner is the person or team the repository's storage is accounted
	// to (GET /api/v1/usage); "" for none.
	Owner string `json:"owner,omitempty"`
	// QuotaBytes caps the bytes of distinct content the repository holds;
	// uploads past it are refused in the protocol's own way. 0: no quota.
	QuotaBytes int64 `json:"quota_bytes,omitempty"`
	CreatedAt  int64 `json:"created_at"`
	UpdatedAt  int64 `json:"updated_at"`
}

// Redacted returns a copy of r whose settings show no secrets: values of
// keys named password, secret or token are masked at any depth, so are the
// upstream's username and any user information in a URL.
func (r *Repository) Redacted() *Repository {
	c := *r
	c.Settings, _ = redact(r.Settings).(map[string]any)
	if up := upstreamOf(c.Settings); up != nil {
		if v, ok := up["username"].(string); ok && v != "" {
			up["username"] = Masked
		}
	}
	return &c
}

func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, val := range t {
			switch strings.ToLower(k) {
			case "password", "secret", "token", "secret_key":
				out[k] = Masked
			default:
				out[k] = redact(val)
			}
		}
		return out
	case string:
		if strings.Contains(t, "@") && strings.Contains(t, "://") {
			if u, err := url.Parse(t); err == nil && u.User != nil {
				u.User = url.User(Masked)
				return u.String()
			}
		}
		return t
	case []any:
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = redact(val)
		}
		return out
	}
	return v
}

// Public reports whether anonymous clients may read r.
func (r *Repository) Public() bool { return r.Visibility == Public }

// namePattern is the OCI path-component grammar, so that every repository
// name is also valid as the first segment of an image name.
var namePattern = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// ValidateName checks a repository name.
func ValidateName(name string) error {
	if len(name) > 64 || !namePattern.MatchString(name) {
		return errs.E(errs.Invalid, "invalid repository name %q: use 1-64 lowercase letters, digits and single . _ - between them", name)
	}
	return nil
}

// SettingsCheck validates a format's repository settings. A nil check
// means the format takes no settings.
type SettingsCheck func(kind string, settings map[string]any) error

// Store keeps repositories in the metadata database.
type Store struct {
	db      *meta.DB
	sealer  Sealer
	formats map[string]SettingsCheck
}

// NewStore returns a Store that accepts repositories of the given formats
// (those arca serves), each with the check of its settings, and seals
// upstream credentials with sealer (see credentials.go).
func NewStore(db *meta.DB, sealer Sealer, formats map[string]SettingsCheck) *Store {
	return &Store{db: db, sealer: sealer, formats: formats}
}

// Formats lists the formats the store accepts.
func (s *Store) Formats() []string {
	out := make([]string, 0, len(s.formats))
	for f := range s.formats {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Validate normalises r (defaults for kind and visibility) and checks it.
func (s *Store) Validate(r *Repository) error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	check, ok := s.formats[r.Format]
	if !ok {
		return errs.E(errs.Invalid, "unsupported format %q: want one of %v", r.Format, s.Formats())
	}
	if r.Kind == "" {
		r.Kind = Hosted
	}
	if r.Visibility == "" {
		r.Visibility = Private
	}
	if r.Kind != Hosted && r.Kind != Proxy && r.Kind != Group {
		return errs.E(errs.Invalid, "invalid kind %q: want hosted, proxy or group", r.Kind)
	}
	if r.Kind != Hosted && r.Format == "raw" {
		return errs.E(errs.Invalid, "raw repositories can only be hosted")
	}
	if r.Visibility != Private && r.Visibility != Public {
		return errs.E(errs.Invalid, "invalid visibility %q: want private or public", r.Visibility)
	}
	if len(r.Description) > 1000 {
		return errs.E(errs.Invalid, "description too long (max 1000 characters)")
	}
	if len(r.Owner) > 100 || strings.ContainsAny(r.Owner, "\x00\r\n") {
		return errs.E(errs.Invalid, "invalid owner: at most 100 characters on one line")
	}
	if r.QuotaBytes < 0 {
		return errs.E(errs.Invalid, "quota_bytes cannot be negative")
	}
	if check != nil {
		if err := check(r.Kind, r.Settings); err != nil {
			return errs.E(errs.Invalid, "invalid settings of %s repository %q: %s", r.Format, r.Name, errs.Message(err))
		}
	} else if len(r.Settings) > 0 {
		return errs.E(errs.Invalid, "%s repositories take no settings", r.Format)
	}
	return nil
}

// Create adds a repository. A group's members must exist already.
// Upstream credentials in a URL move into their fields (r.Settings shows
// where they went); all are stored sealed.
func (s *Store) Create(ctx context.Context, r *Repository) error {
	if err := moveURLCredentials(r.Settings); err != nil {
		return err
	}
	if err := s.Validate(r); err != nil {
		return err
	}
	if err := s.checkMembers(ctx, r); err != nil {
		return err
	}
	settings, err := s.encode(ctx, r)
	if err != nil {
		return err
	}
	now := meta.Now()
	err = s.db.QueryRowContext(ctx,
		`INSERT INTO repositories (name, format, kind, visibility, description, config, owner, quota_bytes, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
		r.Name, r.Format, r.Kind, r.Visibility, r.Description, settings, r.Owner, r.QuotaBytes, now).Scan(&r.ID)
	if err != nil {
		if meta.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "repository %q already exists", r.Name)
		}
		return meta.Err(err)
	}
	r.CreatedAt, r.UpdatedAt = now, now
	return nil
}

const columns = `id, name, format, kind, visibility, description, config, owner, quota_bytes, created_at, updated_at`

func scan(row interface{ Scan(...any) error }) (*Repository, error) {
	var r Repository
	var settings string
	if err := row.Scan(&r.ID, &r.Name, &r.Format, &r.Kind, &r.Visibility, &r.Description, &settings, &r.Owner, &r.QuotaBytes, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	var err error
	r.Settings, err = decodeSettings(settings)
	return &r, err
}

func decodeSettings(stored string) (map[string]any, error) {
	var m map[string]any
	if stored != "" && stored != "null" {
		if err := json.Unmarshal([]byte(stored), &m); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "corrupt repository settings")
		}
	}
	return m, nil
}

// encode is r's settings as stored: JSON, credentials sealed.
func (s *Store) encode(ctx context.Context, r *Repository) (string, error) {
	stored, err := s.sealed(ctx, r.Name, r.Settings)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return "", errs.Wrap(err, errs.Invalid, "invalid settings")
	}
	return string(b), nil
}

// Get returns the repository named name, or errs.NotFound.
func (s *Store) Get(ctx context.Context, name string) (*Repository, error) {
	r, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM repositories WHERE name = $1`, name))
	if err == sql.ErrNoRows {
		return nil, errs.E(errs.NotFound, "repository %q not found", name).WithCode("REPOSITORY_UNKNOWN")
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	return r, s.unseal(ctx, r)
}

// List returns every repository, ordered by name, optionally of one format.
func (s *Store) List(ctx context.Context, format string) ([]*Repository, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM repositories WHERE ($1 = '' OR format = $1) ORDER BY name`, format)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*Repository
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		if err := s.unseal(ctx, r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// Update changes a repository's visibility, description, owner, quota and
// settings.
// Name, format and kind are fixed at creation. Upstream credentials are
// treated as by Create; one sent back as Masked keeps its stored value.
func (s *Store) Update(ctx context.Context, r *Repository) error {
	if err := moveURLCredentials(r.Settings); err != nil {
		return err
	}
	if stored, err := s.Get(ctx, r.Name); err == nil {
		keepMasked(r.Settings, stored.Settings)
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	if err := s.Validate(r); err != nil {
		return err
	}
	if err := s.checkMembers(ctx, r); err != nil {
		return err
	}
	return s.write(ctx, r)
}

// write stores r's visibility, description and settings.
func (s *Store) write(ctx context.Context, r *Repository) error {
	settings, err := s.encode(ctx, r)
	if err != nil {
		return err
	}
	r.UpdatedAt = meta.Now()
	res, err := s.db.ExecContext(ctx,
		`UPDATE repositories SET visibility = $1, description = $2, config = $3, updated_at = $4, owner = $6, quota_bytes = $7 WHERE name = $5`,
		r.Visibility, r.Description, settings, r.UpdatedAt, r.Name, r.Owner, r.QuotaBytes)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "repository %q not found", r.Name)
	}
	return nil
}

// Delete removes a repository and, by cascade, its contents' metadata.
// Blobs are left for garbage collection. A member of a group is not
// deleted (errs.Conflict): the group must let go of it first, so that a
// group never names a repository that is gone (or, later, another one of
// the same name).
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.checkNotMember(ctx, name); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM repositories WHERE name = $1`, name)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "repository %q not found", name)
	}
	return nil
}

// Ensure creates r unless a repository of that name exists. An existing
// repository is left as it is, so edits made through the API survive
// restarts; a format or kind differing from r's is reported as a conflict.
func (s *Store) Ensure(ctx context.Context, r *Repository) (created bool, err error) {
	existing, err := s.Get(ctx, r.Name)
	if err == nil {
		if existing.Format != r.Format || (r.Kind != "" && existing.Kind != r.Kind) {
			return false, errs.E(errs.Conflict, "repository %q exists as %s/%s, configuration says %s/%s",
				r.Name, existing.Format, existing.Kind, r.Format, r.Kind)
		}
		*r = *existing
		return false, nil
	}
	if !errs.Is(err, errs.NotFound) {
		return false, err
	}
	if err := s.Create(ctx, r); err != nil {
		if errs.Is(err, errs.Conflict) { // another process created it first
			return s.Ensure(ctx, r)
		}
		return false, err
	}
	return true, nil
}
