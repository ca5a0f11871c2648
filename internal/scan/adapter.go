package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// External scanners: adapters that speak Harbor's Pluggable Scanner API
// (spec v1.0/v1.1), registered by admins. arca is their client, as Harbor
// is: it reads an adapter's metadata, asks it to scan an image (giving it
// a short-lived pull-only token for exactly that repository), polls for
// the report and keeps it beside its own (adapterscan.go).

// Media types of the Pluggable Scanner API.
const (
	adapterMetadataType = "application/vnd.scanner.adapter.metadata+json; version=1.0"
	adapterRequestType  = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
	adapterResponseType = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
)

// Adapter authentication schemes, named as Harbor's registration names
// them.
const (
	AdapterAuthNone   = "none"
	AdapterAuthBasic  = "Basic"
	AdapterAuthBearer = "Bearer"
	AdapterAuthAPIKey = "X-ScannerAdapter-API-Key"
)

// credentialKey is the server key adapters' credentials are sealed under.
const credentialKey = "scanner_credentials_key"

// Sealer seals adapters' credentials under a server key (the keyring).
type Sealer interface {
	Seal(ctx context.Context, name string, plaintext, ad []byte) (string, error)
	Unseal(ctx context.Context, name, sealed string, ad []byte) ([]byte, error)
}

// PullTokens mints the registry credential an adapter pulls with: a
// short-lived token that may only pull repository/name (auth's registry
// tokens), never an account's own credential.
type PullTokens interface {
	PullToken(ctx context.Context, repository, name string) (string, error)
}

// Adapter is a registered external scanner.
type Adapter struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// URL is the adapter's base; the API is under <url>/api/v1.
	URL  string `json:"url"`
	Auth string `json:"auth"` // none, Basic, Bearer, X-ScannerAdapter-API-Key
	// Credential is write-only: "user:password" for Basic, the token or
	// key otherwise. Reads say only whether one is set.
	Credential    string           `json:"credential,omitempty"`
	HasCredential bool             `json:"has_credential"`
	SkipTLSVerify bool             `json:"skip_tls_verify"`
	Enabled       bool             `json:"enabled"`
	Metadata      *AdapterMetadata `json:"metadata,omitempty"`
	CreatedAt     int64            `json:"created_at"`
	UpdatedAt     int64            `json:"updated_at"`

	sealed string
}

// AdapterMetadata is an adapter's answer to GET /api/v1/metadata.
type AdapterMetadata struct {
	Scanner struct {
		Name    string `json:"name"`
		Vendor  string `json:"vendor"`
		Version string `json:"version"`
	} `json:"scanner"`
	Capabilities []struct {
		Type              string   `json:"type,omitempty"` // v1.2: vulnerability, sbom
		ConsumesMimeTypes []string `json:"consumes_mime_types"`
		ProducesMimeTypes []string `json:"produces_mime_types"`
	} `json:"capabilities"`
	Properties map[string]string `json:"properties,omitempty"`
}

// reportType is the report media type to ask the adapter for when it
// scans an artifact of mediaType: Harbor's own name
// (application/vnd.security.vulnerability.report; version=1.1) when the
// adapter lists it, else the spec's harbor+json name it lists; "" when no
// capability of the adapter consumes mediaType into a vulnerability
// report. v12 says the capability has a type (spec v1.2), and so expects
// enabled_capabilities in the scan request.
func (m *AdapterMetadata) reportType(mediaType string) (accept string, v12 bool) {
	for _, c := range m.Capabilities {
		if c.Type != "" && c.Type != "vulnerability" {
			continue
		}
		in := false
		for _, t := range c.ConsumesMimeTypes {
			in = in || t == mediaType
		}
		if !in {
			continue
		}
		for _, t := range c.ProducesMimeTypes {
			base, _, _ := strings.Cut(t, ";")
			switch strings.TrimSpace(base) {
			case "application/vnd.security.vulnerability.report":
				return t, c.Type != ""
			case "application/vnd.scanner.adapter.vuln.report.harbor+json":
				accept, v12 = t, c.Type != ""
			}
		}
		if accept != "" {
			return accept, v12
		}
	}
	return "", false
}

var adapterNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// normalize validates a registration and puts its auth scheme in
// Harbor's spelling.
func (a *Adapter) normalize() error {
	if !adapterNamePattern.MatchString(a.Name) || strings.EqualFold(a.Name, "arca") {
		return errs.E(errs.Invalid, "invalid scanner name %q: 1-64 letters, digits and . _ -, and not arca", a.Name)
	}
	u, err := url.Parse(a.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errs.E(errs.Invalid, "url: want an http:// or https:// base URL of the adapter, without credentials")
	}
	a.URL = strings.TrimSuffix(a.URL, "/")
	switch strings.ToLower(a.Auth) {
	case "", "none":
		a.Auth = AdapterAuthNone
	case "basic":
		a.Auth = AdapterAuthBasic
		if a.Credential != "" && !strings.Contains(a.Credential, ":") {
			return errs.E(errs.Invalid, "credential: Basic wants user:password")
		}
	case "bearer":
		a.Auth = AdapterAuthBearer
	case "x-scanneradapter-api-key", "apikey", "api_key":
		a.Auth = AdapterAuthAPIKey
	default:
		return errs.E(errs.Invalid, "auth: want none, Basic, Bearer or X-ScannerAdapter-API-Key")
	}
	if len(a.Credential) > 4096 {
		return errs.E(errs.Invalid, "credential is too long")
	}
	return nil
}

const adapterColumns = `id, name, url, auth, credential, skip_tls_verify, enabled, metadata, created_at, updated_at`

func scanAdapter(row interface{ Scan(...any) error }) (*Adapter, error) {
	a := &Adapter{}
	var skip, enabled int
	var md string
	if err := row.Scan(&a.ID, &a.Name, &a.URL, &a.Auth, &a.sealed, &skip, &enabled, &md, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.SkipTLSVerify, a.Enabled, a.HasCredential = skip != 0, enabled != 0, a.sealed != ""
	if md != "" && md != "{}" {
		a.Metadata = &AdapterMetadata{}
		if json.Unmarshal([]byte(md), a.Metadata) != nil {
			a.Metadata = nil
		}
	}
	return a, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Adapters lists the registered adapters (enabledOnly: those that scan).
func (s *Scanner) Adapters(ctx context.Context, enabledOnly bool) ([]*Adapter, error) {
	return adapters(ctx, s.DB, enabledOnly)
}

func adapters(ctx context.Context, db meta.Querier, enabledOnly bool) ([]*Adapter, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+adapterColumns+` FROM scanner_adapters WHERE ($1 = 0 OR enabled <> 0) ORDER BY name`, boolInt(enabledOnly))
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*Adapter{}
	for rows.Next() {
		a, err := scanAdapter(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, a)
	}
	return out, meta.Err(rows.Err())
}

// Adapter returns a registration by name.
func (s *Scanner) Adapter(ctx context.Context, name string) (*Adapter, error) {
	a, err := scanAdapter(s.DB.QueryRowContext(ctx, `SELECT `+adapterColumns+` FROM scanner_adapters WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no scanner %q", name)
	}
	return a, meta.Err(err)
}

func credentialAD(name string) []byte { return []byte("scanner_adapter:" + name) }

// SaveAdapter registers a (create) or replaces the registration of
// a.Name (update, when it exists and create is false), and audits it.
// The adapter's metadata is read first: an enabled adapter that does not
// answer is refused. An empty Credential on update keeps the stored one.
// The caller checks that ctx's principal is a server admin.
func (s *Scanner) SaveAdapter(ctx context.Context, a *Adapter, create bool, remoteAddr string) (*Adapter, error) {
	if err := a.normalize(); err != nil {
		return nil, err
	}
	var old *Adapter
	if !create {
		var err error
		if old, err = s.Adapter(ctx, a.Name); err != nil {
			return nil, err
		}
	}
	sealed := ""
	switch {
	case a.Auth == AdapterAuthNone:
	case a.Credential != "":
		if s.Keys == nil {
			return nil, errs.E(errs.Unavailable, "no keyring to keep scanner credentials")
		}
		var err error
		if sealed, err = s.Keys.Seal(ctx, credentialKey, []byte(a.Credential), credentialAD(a.Name)); err != nil {
			return nil, err
		}
	case old != nil && old.Auth == a.Auth:
		sealed = old.sealed
	default:
		return nil, errs.E(errs.Invalid, "credential: %s wants one", a.Auth)
	}
	a.sealed = sealed
	md := "{}"
	if a.Enabled {
		m, err := s.adapterMetadata(ctx, a)
		if err != nil {
			return nil, errs.E(errs.Invalid, "the adapter's metadata: %s", errs.Message(err))
		}
		a.Metadata = m
		b, _ := json.Marshal(m)
		md = string(b)
	} else if old != nil && old.Metadata != nil {
		b, _ := json.Marshal(old.Metadata)
		md, a.Metadata = string(b), old.Metadata
	}
	now := meta.Now()
	a.UpdatedAt = now
	if create {
		a.CreatedAt = now
		err := s.DB.QueryRowContext(ctx, `INSERT INTO scanner_adapters (name, url, auth, credential, skip_tls_verify, enabled, metadata, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			a.Name, a.URL, a.Auth, sealed, boolInt(a.SkipTLSVerify), boolInt(a.Enabled), md, now).Scan(&a.ID)
		if meta.IsUniqueViolation(err) {
			return nil, errs.E(errs.Conflict, "scanner %q already exists", a.Name)
		}
		if err != nil {
			return nil, meta.Err(err)
		}
	} else {
		a.ID, a.CreatedAt = old.ID, old.CreatedAt
		if _, err := s.DB.ExecContext(ctx, `UPDATE scanner_adapters SET url = $1, auth = $2, credential = $3, skip_tls_verify = $4, enabled = $5, metadata = $6, updated_at = $7 WHERE id = $8`,
			a.URL, a.Auth, sealed, boolInt(a.SkipTLSVerify), boolInt(a.Enabled), md, now, a.ID); err != nil {
			return nil, meta.Err(err)
		}
	}
	a.Credential, a.HasCredential = "", sealed != ""
	action := "scanner.create"
	if !create {
		action = "scanner.update"
	}
	s.Audit.Record(ctx, audit.Event{Action: action, Subject: a.Name, RemoteAddr: remoteAddr,
		Detail: map[string]any{"url": a.URL, "auth": a.Auth, "enabled": a.Enabled, "skip_tls_verify": a.SkipTLSVerify}})
	return a, nil
}

// DeleteAdapter removes a registration and its reports, and audits it.
func (s *Scanner) DeleteAdapter(ctx context.Context, name, remoteAddr string) error {
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM scanner_adapters WHERE name = $1`, name)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "no scanner %q", name)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM scan_adapter_reports WHERE scanner = $1`, name)
		return meta.Err(err)
	})
	if err == nil {
		s.Audit.Record(ctx, audit.Event{Action: "scanner.delete", Subject: name, RemoteAddr: remoteAddr})
	}
	return err
}

// adapterClient is an HTTP client for one adapter: bounded, and without
// certificate checks only when the registration says so.
func adapterClient(a *Adapter) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// A client per request: no idle connections left behind.
	tr.DisableKeepAlives = true
	if a.SkipTLSVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the admin's choice, per adapter
	}
	return &http.Client{Transport: tr, Timeout: time.Minute,
		// A 302 of the report endpoint means "not yet", not "go there".
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// adapterRequest sends one request to an adapter with its credential.
func (s *Scanner) adapterRequest(ctx context.Context, a *Adapter, method, path, accept, contentType string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL+"/api/v1"+path, rd)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "adapter URL")
	}
	req.Header.Set("Accept", accept)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.Auth != AdapterAuthNone && a.sealed != "" {
		cred := []byte(a.Credential)
		if a.Credential == "" {
			if s.Keys == nil {
				return nil, errs.E(errs.Unavailable, "no keyring to open scanner credentials")
			}
			if cred, err = s.Keys.Unseal(ctx, credentialKey, a.sealed, credentialAD(a.Name)); err != nil {
				return nil, err
			}
		}
		switch a.Auth {
		case AdapterAuthBasic:
			req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(cred))
		case AdapterAuthBearer:
			req.Header.Set("Authorization", "Bearer "+string(cred))
		case AdapterAuthAPIKey:
			req.Header.Set(AdapterAuthAPIKey, string(cred))
		}
	}
	resp, err := adapterClient(a).Do(req)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "scanner %s does not answer: %v", a.Name, err)
	}
	return resp, nil
}

// adapterError reads an adapter's error answer ({"error":{"message"}}).
func adapterError(a *Adapter, op string, resp *http.Response) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	b := readLimited(resp, 64<<10)
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	kind := errs.Unavailable
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		kind = errs.Invalid
	}
	return errs.E(kind, "scanner %s: %s: %d %s", a.Name, op, resp.StatusCode, truncateString(msg, 300))
}

func readLimited(resp *http.Response, n int64) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, n))
	return b
}

// adapterMetadata reads GET /api/v1/metadata.
func (s *Scanner) adapterMetadata(ctx context.Context, a *Adapter) (*AdapterMetadata, error) {
	resp, err := s.adapterRequest(ctx, a, http.MethodGet, "/metadata", adapterMetadataType, "", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, adapterError(a, "metadata", resp)
	}
	var m AdapterMetadata
	if err := json.Unmarshal(readLimited(resp, 1<<20), &m); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "scanner %s: unreadable metadata", a.Name)
	}
	if m.Scanner.Name == "" || len(m.Capabilities) == 0 {
		return nil, errs.E(errs.Invalid, "scanner %s: metadata without a scanner name or capabilities", a.Name)
	}
	return &m, nil
}

// adapterScanRequest is the spec's ScanRequest.
type adapterScanRequest struct {
	Registry struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization,omitempty"`
	} `json:"registry"`
	Artifact struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag,omitempty"`
		MimeType   string `json:"mime_type"`
	} `json:"artifact"`
	// Capabilities (spec v1.2) asks for the vulnerability report only.
	Capabilities []adapterCapability `json:"enabled_capabilities,omitempty"`
}

type adapterCapability struct {
	Type              string   `json:"type"`
	ProducesMimeTypes []string `json:"produces_mime_types"`
}

// submit sends POST /api/v1/scan and returns the scan request's ID.
func (s *Scanner) submit(ctx context.Context, a *Adapter, req adapterScanRequest) (string, error) {
	body, _ := json.Marshal(req)
	resp, err := s.adapterRequest(ctx, a, http.MethodPost, "/scan", adapterResponseType, adapterRequestType, body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", adapterError(a, "scan request", resp)
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(readLimited(resp, 64<<10), &r); err != nil || r.ID == "" || len(r.ID) > 256 {
		return "", errs.E(errs.Invalid, "scanner %s: scan request answered without an id", a.Name)
	}
	return r.ID, nil
}

// maxAdapterReport bounds the report read from an adapter.
const maxAdapterReport = 64 << 20

// fetchReport sends GET /api/v1/scan/{id}/report once: the report when
// done, or how long to wait (302 with Refresh-After) when not.
func (s *Scanner) fetchReport(ctx context.Context, a *Adapter, id, accept string) ([]byte, time.Duration, error) {
	resp, err := s.adapterRequest(ctx, a, http.MethodGet, "/scan/"+url.PathEscape(id)+"/report", accept, "", nil)
	if err != nil {
		return nil, 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if resp.ContentLength > maxAdapterReport {
			resp.Body.Close()
			return nil, 0, errs.E(errs.TooLarge, "scanner %s: a report of %d bytes", a.Name, resp.ContentLength)
		}
		b := readLimited(resp, maxAdapterReport+1)
		if len(b) > maxAdapterReport {
			return nil, 0, errs.E(errs.TooLarge, "scanner %s: a report larger than %d bytes", a.Name, maxAdapterReport)
		}
		return b, 0, nil
	case http.StatusFound, http.StatusAccepted:
		resp.Body.Close()
		return nil, refreshAfter(resp.Header.Get("Refresh-After")), nil
	}
	return nil, 0, adapterError(a, "report", resp)
}

// refreshAfter reads a Refresh-After header (seconds), within 1s..60s;
// absent or unreadable is 5s.
func refreshAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 5 * time.Second
	}
	return time.Duration(min(max(n, 1), 60)) * time.Second
}
