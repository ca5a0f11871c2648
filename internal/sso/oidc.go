package sso

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// OIDCConfig is the OpenID provider and arca's client there.
type OIDCConfig struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is the one callback (…/ui/sso/callback) the provider
	// sends browsers to; fixed by configuration, never taken from a
	// request.
	RedirectURL   string
	Scopes        []string
	GroupsClaim   string // default "groups"
	UsernameClaim string // default "preferred_username"
	// Name labels the sign-in button.
	Name string
	// DeviceClientID and DeviceClientSecret: the client of the device
	// flow (default ClientID and ClientSecret).
	DeviceClientID, DeviceClientSecret string
}

// OIDC signs browsers in with the authorization code flow and PKCE, and
// runs the device flow for `arca login`. Sign-ins in progress live in the
// database (sso_pending), so any arca process may finish what another
// began. The provider's discovery document is fetched on first use (and
// again after a failure), so arca starts while the provider is down.
type OIDC struct {
	cfg OIDCConfig
	db  *meta.DB

	mu       sync.Mutex
	provider *oidc.Provider
	endSess  string
}

// pendingTTL is how long a browser has to come back from the provider.
const pendingTTL = 10 * time.Minute

// maxPending bounds sign-ins in progress (each anonymous visit of the
// sign-in link adds one): past it, new ones are refused as unavailable.
const maxPending = 10_000

// NewOIDC returns the OIDC sign-in; nothing is fetched yet.
func NewOIDC(cfg OIDCConfig, db *meta.DB) *OIDC {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"profile", "email"}
	}
	if cfg.Name == "" {
		cfg.Name = "single sign-on"
	}
	if cfg.DeviceClientID == "" {
		cfg.DeviceClientID, cfg.DeviceClientSecret = cfg.ClientID, cfg.ClientSecret
	}
	return &OIDC{cfg: cfg, db: db}
}

// Name labels the sign-in button.
func (o *OIDC) Name() string { return o.cfg.Name }

func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, o.cfg.Issuer)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "the identity provider cannot be reached")
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	p.Claims(&extra)
	o.provider, o.endSess = p, extra.EndSession
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider, device bool) *oauth2.Config {
	c := &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)}
	if device {
		c.ClientID, c.ClientSecret, c.RedirectURL = o.cfg.DeviceClientID, o.cfg.DeviceClientSecret, ""
	}
	return c
}

func hashID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// putPending stores a sign-in in progress under the hash of secret,
// purging expired ones; it refuses past maxPending.
func (o *OIDC) putPending(ctx context.Context, kind, secret string, data any, ttl time.Duration) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	now := meta.Now()
	if _, err := o.db.ExecContext(ctx, `DELETE FROM sso_pending WHERE expires_at < $1`, now); err != nil {
		return meta.Err(err)
	}
	var n int
	if err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sso_pending`).Scan(&n); err != nil {
		return meta.Err(err)
	}
	if n >= maxPending {
		return errs.E(errs.Unavailable, "too many sign-ins in progress; try again in a few minutes")
	}
	_, err = o.db.ExecContext(ctx, `INSERT INTO sso_pending (id, kind, data, expires_at) VALUES ($1, $2, $3, $4)`,
		hashID(secret), kind, string(b), now+ttl.Milliseconds())
	return meta.Err(err)
}

// takePending reads a sign-in in progress; with consume it is deleted in
// the same statement, so it is used at most once.
func (o *OIDC) takePending(ctx context.Context, kind, secret string, consume bool, into any) error {
	q := `SELECT data, expires_at FROM sso_pending WHERE id = $1 AND kind = $2`
	if consume {
		q = `DELETE FROM sso_pending WHERE id = $1 AND kind = $2 RETURNING data, expires_at`
	}
	var data string
	var expires int64
	err := o.db.QueryRowContext(ctx, q, hashID(secret), kind).Scan(&data, &expires)
	if err == sql.ErrNoRows || (err == nil && expires < meta.Now()) {
		return errs.E(errs.Unauthenticated, "this sign-in has expired or was already used; start again")
	}
	if err != nil {
		return meta.Err(err)
	}
	return json.Unmarshal([]byte(data), into)
}

type webPending struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
}

// Begin starts a browser sign-in: it returns the provider's authorization
// URL and the state the browser must bring back (the UI keeps it in a
// cookie and compares). next is where to go after sign-in.
func (o *OIDC) Begin(ctx context.Context, next string) (authURL, state string, err error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", "", err
	}
	state, nonce, verifier := auth.RandomSecret(32), auth.RandomSecret(32), oauth2.GenerateVerifier()
	if err := o.putPending(ctx, "web", state, webPending{Nonce: nonce, Verifier: verifier, Next: next}, pendingTTL); err != nil {
		return "", "", err
	}
	return o.oauth(p, false).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), state, nil
}

// Finish completes a browser sign-in: the state must be one Begin issued
// (once), the code is exchanged with the PKCE verifier, the ID token
// verified (signature, issuer, audience, expiry) and its nonce compared.
// It returns the identity and where to go.
func (o *OIDC) Finish(ctx context.Context, state, code string) (auth.Identity, string, error) {
	var pend webPending
	if err := o.takePending(ctx, "web", state, true, &pend); err != nil {
		return auth.Identity{}, "", err
	}
	p, err := o.discover(ctx)
	if err != nil {
		return auth.Identity{}, "", err
	}
	tok, err := o.oauth(p, false).Exchange(ctx, code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		return auth.Identity{}, "", errs.Wrap(err, errs.Unauthenticated, "the identity provider refused the sign-in")
	}
	id, err := o.identity(ctx, p, tok, pend.Nonce, o.cfg.ClientID)
	return id, pend.Next, err
}

// identity verifies tok's ID token and reads the account from its claims,
// and from the userinfo endpoint when the ID token lacks the groups or
// name claim. nonce "" skips the nonce check (the device flow has none).
func (o *OIDC) identity(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, nonce, clientID string) (auth.Identity, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return auth.Identity{}, errs.E(errs.Unauthenticated, "the identity provider sent no ID token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, raw)
	if err != nil {
		return auth.Identity{}, errs.Wrap(err, errs.Unauthenticated, "the ID token is not valid")
	}
	if nonce != "" && idt.Nonce != nonce {
		return auth.Identity{}, errs.E(errs.Unauthenticated, "the ID token's nonce does not match this sign-in")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return auth.Identity{}, errs.Wrap(err, errs.Unauthenticated, "the ID token's claims cannot be read")
	}
	if _, ok := claims[o.cfg.GroupsClaim]; !ok || claims[o.cfg.UsernameClaim] == nil {
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return auth.Identity{}, errs.Wrap(err, errs.Unavailable, "the identity provider's userinfo failed")
		}
		more := map[string]any{}
		if err := ui.Claims(&more); err != nil {
			return auth.Identity{}, errs.Wrap(err, errs.Unavailable, "the userinfo cannot be read")
		}
		if ui.Subject != idt.Subject {
			return auth.Identity{}, errs.E(errs.Unauthenticated, "the userinfo is of another subject")
		}
		for k, v := range more {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	name, _ := claims[o.cfg.UsernameClaim].(string)
	if o.cfg.UsernameClaim == "email" {
		if v, ok := claims["email_verified"].(bool); !ok || !v {
			return auth.Identity{}, errs.E(errs.Denied, "your e-mail address is not verified by the identity provider")
		}
	}
	email, _ := claims["email"].(string)
	var groups []string
	switch g := claims[o.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				groups = append(groups, s)
			}
		}
	case string:
		groups = strings.Fields(g)
	}
	return auth.Identity{Source: auth.SourceOIDC, ExternalID: idt.Issuer + "#" + idt.Subject, Name: name, Email: email, Groups: groups}, nil
}

// LogoutURL is where to send a browser after its arca session ended, to
// end its session at the provider too (RP-initiated logout), or "" when
// the provider offers no end_session_endpoint.
func (o *OIDC) LogoutURL(ctx context.Context, postLogout string) string {
	if _, err := o.discover(ctx); err != nil || o.endSess == "" {
		return ""
	}
	u, err := url.Parse(o.endSess)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", o.cfg.ClientID)
	q.Set("post_logout_redirect_uri", postLogout)
	u.RawQuery = q.Encode()
	return u.String()
}

// DeviceStart is what `arca login` shows its user.
type DeviceStart struct {
	// RequestID is the CLI's handle on the flow (the provider's device
	// code stays in arca).
	RequestID               string `json:"request_id"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

type devicePending struct {
	Response *oauth2.DeviceAuthResponse `json:"response"`
}

// StartDevice asks the provider for a device authorization.
func (o *OIDC) StartDevice(ctx context.Context) (DeviceStart, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return DeviceStart{}, err
	}
	var extra struct {
		Device string `json:"device_authorization_endpoint"`
	}
	p.Claims(&extra)
	if extra.Device == "" {
		return DeviceStart{}, errs.E(errs.Unsupported, "the identity provider does not offer the device flow; create a token in the web UI (Account)")
	}
	c := o.oauth(p, true)
	c.Endpoint.DeviceAuthURL = extra.Device
	resp, err := c.DeviceAuth(ctx)
	if err != nil {
		return DeviceStart{}, errs.Wrap(err, errs.Unavailable, "the identity provider refused the device authorization")
	}
	if resp.Interval == 0 {
		resp.Interval = 5
	}
	id := auth.RandomSecret(32)
	ttl := time.Until(resp.Expiry)
	if ttl <= 0 || ttl > 30*time.Minute {
		ttl = 15 * time.Minute
	}
	if err := o.putPending(ctx, "device", id, devicePending{Response: resp}, ttl); err != nil {
		return DeviceStart{}, err
	}
	return DeviceStart{RequestID: id, UserCode: resp.UserCode, VerificationURI: resp.VerificationURI,
		VerificationURIComplete: resp.VerificationURIComplete, ExpiresIn: int64(ttl.Seconds()), Interval: resp.Interval}, nil
}

// PollDevice asks the provider once whether the user approved the device
// flow requestID. It returns done=false while they have not; the flow is
// used up once it returns an identity.
func (o *OIDC) PollDevice(ctx context.Context, requestID string) (id auth.Identity, done bool, err error) {
	var pend devicePending
	if err := o.takePending(ctx, "device", requestID, false, &pend); err != nil {
		return auth.Identity{}, false, err
	}
	p, err := o.discover(ctx)
	if err != nil {
		return auth.Identity{}, false, err
	}
	c := o.oauth(p, true)
	// DeviceAccessToken waits an interval, then polls until approval; one
	// poll per call here: the context ends it shortly after the first.
	resp := *pend.Response
	resp.Interval = 1
	pctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	tok, err := c.DeviceAccessToken(pctx, &resp)
	if err != nil {
		var re *oauth2.RetrieveError
		if pctx.Err() != nil && ctx.Err() == nil {
			return auth.Identity{}, false, nil // authorization_pending
		}
		if ok := asRetrieve(err, &re); ok && re.ErrorCode == "authorization_pending" {
			return auth.Identity{}, false, nil
		}
		o.db.ExecContext(ctx, `DELETE FROM sso_pending WHERE id = $1`, hashID(requestID))
		return auth.Identity{}, false, errs.Wrap(err, errs.Unauthenticated, "the device sign-in was refused or expired")
	}
	if err := o.takePending(ctx, "device", requestID, true, &pend); err != nil {
		return auth.Identity{}, false, err // another poll finished it
	}
	id, err = o.identity(ctx, p, tok, "", o.cfg.DeviceClientID)
	return id, err == nil, err
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	e, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = e
	}
	return ok
}
