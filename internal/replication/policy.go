// Package replication copies a repository's content to (push) or from
// (pull) another arca, any OCI registry, or any S3 endpoint, each format
// through its own protocol. A policy says what to copy and when: on every
// change (an audit event enqueues a durable job), on a schedule, or by
// hand. Every run and what it did to each item is kept in the database.
//
// Both sides of a run speak the format's wire protocol: the remote one
// over the network with the policy's credentials, the local one in
// process (auth.WithInternal), so that a pull writes through exactly the
// code path a client's upload takes (validation, blob/GC rule, audit).
package replication

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// Directions of a policy.
const (
	Push = "push" // local → remote
	Pull = "pull" // remote → local
)

// Formats this package replicates, and the protocol each speaks.
var formats = map[string]string{
	"oci":    "OCI distribution API",
	"s3":     "S3 API",
	"raw":    "raw HTTP PUT/GET",
	"pypi":   "PyPI upload and JSON API",
	"npm":    "npm publish and packuments",
	"mlflow": "MLflow REST API and artifact proxy",
	"maven":  "Maven deploys (PUT), on events",
	"go":     "GOPROXY protocol, module listing and zip upload",
	"helm":   "index.yaml and the ChartMuseum upload API",
}

// Remote is the other side of a policy.
type Remote struct {
	// URL is the base URL of the other arca (its main listener; for
	// buckets its S3 listener), of an OCI registry, or of an S3 endpoint:
	// http:// or https://. s3://region names AWS itself (buckets only).
	URL string `json:"url"`
	// Repository is the repository there: an arca repository name, an
	// OCI namespace prefix (empty: the registry's root), or a bucket.
	Repository string `json:"repository"`
	// Username and Password authenticate to it (for S3: the access key ID
	// and secret). They are sealed at rest and never shown again.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// Filter selects what a policy copies. Empty lists select everything.
type Filter struct {
	// Names are globs (path.Match) on the item's name: an image below the
	// repository, an object key, a file path, a project or package name.
	Names []string `json:"names,omitempty"`
	// Versions are globs on an image's tags or a package's versions.
	Versions []string `json:"versions,omitempty"`
	// Referrers (OCI) also copies the manifests that refer to each copied
	// one: signatures, SBOMs, attestations.
	Referrers bool `json:"referrers,omitempty"`
}

// Policy is one replication policy.
type Policy struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Repository string `json:"repository"` // the local repository
	Format     string `json:"format"`     // its format (read only)
	Direction  string `json:"direction"`  // push or pull
	Remote     Remote `json:"remote"`
	Filter     Filter `json:"filter"`
	// OnEvent (push only) replicates each change within seconds of it.
	OnEvent bool `json:"on_event"`
	// Schedule is a Go duration: a full run that often (empty: none).
	Schedule string `json:"schedule,omitempty"`
	// Deletes propagates deletions (and, in full runs, removes from the
	// destination what the source no longer has). Off unless asked.
	Deletes bool `json:"deletes"`
	// BandwidthLimit caps the transfer to and from the remote, bytes per
	// second (0: none).
	BandwidthLimit int64 `json:"bandwidth_limit,omitempty"`
	Enabled        bool  `json:"enabled"`
	CreatedAt      int64 `json:"created_at"`
	UpdatedAt      int64 `json:"updated_at"`
}

// config is what the config column holds: the policy minus its columns.
type config struct {
	Remote         Remote `json:"remote"`
	Filter         Filter `json:"filter"`
	Schedule       string `json:"schedule,omitempty"`
	Deletes        bool   `json:"deletes,omitempty"`
	BandwidthLimit int64  `json:"bandwidth_limit,omitempty"`
}

// Masked is how a stored credential is shown; sent back in an update it
// keeps the stored value.
const Masked = "xxxxx"

// Redacted returns p with its credentials masked, for every answer.
func (p *Policy) Redacted() *Policy {
	c := *p
	if c.Remote.Username != "" {
		c.Remote.Username = Masked
	}
	if c.Remote.Password != "" {
		c.Remote.Password = Masked
	}
	return &c
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Limits on what a policy may hold.
const (
	maxPatterns  = 64
	maxPattern   = 256
	maxURL       = 2048
	minSchedule  = time.Minute
	maxRemoteRef = 255
)

// interval is the parsed schedule (0: none).
func (p *Policy) interval() time.Duration {
	d, _ := time.ParseDuration(p.Schedule)
	return d
}

// validate checks what an admin sent (the local repository's existence
// and format are checked by the store).
func (p *Policy) validate() error {
	if !nameRE.MatchString(p.Name) {
		return errs.E(errs.Invalid, "policy name %q: want 1 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", p.Name)
	}
	switch p.Direction {
	case Push, Pull:
	default:
		return errs.E(errs.Invalid, "direction must be push or pull, not %q", p.Direction)
	}
	if p.Format == "maven" && (!p.OnEvent || p.Schedule != "" || p.Direction != Push) {
		return errs.E(errs.Invalid, "a Maven repository has no listing to replicate in full: Maven policies push deploys on events only (on_event, no schedule)")
	}
	if p.OnEvent && p.Format == "mlflow" {
		return errs.E(errs.Invalid, "MLflow policies run on a schedule or by hand, not on events")
	}
	if p.OnEvent && p.Direction != Push {
		return errs.E(errs.Invalid, "on_event needs direction push: a pull cannot hear the remote's changes (give it a schedule, or give the remote a push policy)")
	}
	if err := validateRemoteURL(p.Remote.URL, p.Format); err != nil {
		return err
	}
	if r := p.Remote.Repository; len(r) > maxRemoteRef || strings.ContainsAny(r, "?#\\ \t\r\n") || strings.Contains(r, "..") {
		return errs.E(errs.Invalid, "remote.repository %q is not a repository name", r)
	}
	if p.Remote.Repository == "" && p.Format != "oci" && p.Format != "mlflow" {
		return errs.E(errs.Invalid, "remote.repository is required (the %s repository or bucket on the remote)", p.Format)
	}
	if len(p.Remote.Username) > 1024 || len(p.Remote.Password) > 4096 {
		return errs.E(errs.Invalid, "remote credentials are too long")
	}
	for field, pats := range map[string][]string{"filter.names": p.Filter.Names, "filter.versions": p.Filter.Versions} {
		if err := validatePatterns(field, pats); err != nil {
			return err
		}
	}
	if p.Filter.Referrers && p.Format != "oci" {
		return errs.E(errs.Invalid, "filter.referrers applies to OCI repositories only")
	}
	if p.Schedule != "" {
		d, err := time.ParseDuration(p.Schedule)
		if err != nil || d < minSchedule {
			return errs.E(errs.Invalid, "schedule %q: want a Go duration of at least %s, like 1h", p.Schedule, minSchedule)
		}
	}
	if p.BandwidthLimit < 0 {
		return errs.E(errs.Invalid, "bandwidth_limit must not be negative")
	}
	if p.BandwidthLimit > 0 && p.BandwidthLimit < 1024 {
		return errs.E(errs.Invalid, "bandwidth_limit is in bytes per second; at least 1024")
	}
	return nil
}

// validateRemoteURL accepts an http(s) base URL without credentials,
// query or fragment, or (buckets) s3://<region> for AWS.
func validateRemoteURL(raw, format string) error {
	if raw == "" || len(raw) > maxURL {
		return errs.E(errs.Invalid, "remote.url is required: the http:// or https:// base URL of the remote")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errs.E(errs.Invalid, "remote.url %q is not a URL", raw)
	}
	switch u.Scheme {
	case "http", "https":
	case "s3":
		if format != "s3" {
			return errs.E(errs.Invalid, "remote.url: s3:// is for buckets; a %s remote is http:// or https://", format)
		}
	default:
		return errs.E(errs.Invalid, "remote.url %q: the scheme must be http, https or s3", raw)
	}
	if u.Host == "" {
		return errs.E(errs.Invalid, "remote.url %q has no host", raw)
	}
	if u.User != nil {
		return errs.E(errs.Invalid, "remote.url must not carry credentials: give them in remote.username and remote.password")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errs.E(errs.Invalid, "remote.url must not have a query or fragment")
	}
	return nil
}

func validatePatterns(field string, pats []string) error {
	if len(pats) > maxPatterns {
		return errs.E(errs.Invalid, "%s: at most %d patterns", field, maxPatterns)
	}
	for _, p := range pats {
		if p == "" || len(p) > maxPattern {
			return errs.E(errs.Invalid, "%s: patterns must be 1 to %d characters", field, maxPattern)
		}
		if _, err := path.Match(p, ""); err != nil {
			return errs.E(errs.Invalid, "%s: %q is not a valid glob", field, p)
		}
	}
	return nil
}

// matchAny reports whether s matches one of pats (every s when pats is
// empty). Patterns were validated.
func matchAny(pats []string, s string) bool {
	if len(pats) == 0 {
		return true
	}
	for _, p := range pats {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// decodePolicy parses an admin's policy JSON (create or replace).
func decodePolicy(b []byte) (*Policy, error) {
	var in struct {
		Policy
		Enabled *bool `json:"enabled"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, errs.E(errs.Invalid, "invalid policy JSON: %v", err)
	}
	p := in.Policy
	p.Enabled = in.Enabled == nil || *in.Enabled
	p.ID, p.Format, p.CreatedAt, p.UpdatedAt = 0, "", 0, 0
	return &p, nil
}

func (p *Policy) String() string { return fmt.Sprintf("%s (%s %s)", p.Name, p.Direction, p.Repository) }
