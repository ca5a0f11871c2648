package repo

import (
	"context"
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Upstream credentials. Every format's proxy keeps its upstream in
// settings.upstream: url, and optionally username and password (or an npm
// token). The store treats those three as credentials, whatever the
// format:
//
//  1. On input, a user:password@ in upstream.url moves into username and
//     password, so a URL never carries a secret (and is safe to show).
//  2. In the database each credential is sealed (AES-256-GCM under a
//     server key, bound to the repository and field), marked by sealedPrefix.
//     Rows written by older releases are sealed by SealStored.
//  3. Get and List return them unsealed for the formats' proxies;
//     Repository.Redacted masks them for every answer to a client, and
//     Update keeps the stored value of a credential sent back masked.

// credentialFields are the keys of settings.upstream that hold credentials.
var credentialFields = []string{"username", "password", "token"}

// Masked is how Redacted shows a secret; Update treats a credential sent
// back with this value as unchanged.
const Masked = "xxxxx"

// sealedPrefix marks a sealed credential in the stored settings.
const sealedPrefix = "sealed:"

// credentialKey names the server key that seals upstream credentials.
const credentialKey = "upstream_credentials_key"

// Sealer seals and unseals values under a named server key
// (internal/keyring.Keyring).
type Sealer interface {
	Seal(ctx context.Context, key string, plaintext, ad []byte) (string, error)
	Unseal(ctx context.Context, key, sealed string, ad []byte) ([]byte, error)
}

// upstreamOf returns settings.upstream when it is an object.
func upstreamOf(settings map[string]any) map[string]any {
	up, _ := settings["upstream"].(map[string]any)
	return up
}

// moveURLCredentials moves a user:password@ of settings.upstream.url into
// its username and password fields. Credentials given both ways must agree.
func moveURLCredentials(settings map[string]any) error {
	up := upstreamOf(settings)
	raw, _ := up["url"].(string)
	if up == nil || !strings.Contains(raw, "@") {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil // the format's check reports a bad URL
	}
	moved := map[string]string{"username": u.User.Username()}
	if pw, ok := u.User.Password(); ok {
		moved["password"] = pw
	}
	for field, v := range moved {
		if old, ok := up[field].(string); ok && old != "" && old != v {
			return errs.E(errs.Invalid, "upstream credentials are given both in upstream.url and in upstream.%s, differently", field)
		}
		if v != "" {
			up[field] = v
		}
	}
	u.User = nil
	up["url"] = u.String()
	return nil
}

// keepMasked replaces credentials sent back as Masked by the stored ones.
func keepMasked(settings, stored map[string]any) {
	up, old := upstreamOf(settings), upstreamOf(stored)
	for _, f := range credentialFields {
		if v, _ := up[f].(string); v == Masked {
			if o, ok := old[f]; ok {
				up[f] = o
			} else {
				delete(up, f)
			}
		}
	}
}

// ad binds a sealed credential to its repository and field.
func ad(repository, field string) []byte {
	return []byte("repository " + repository + " upstream." + field)
}

// sealed returns a copy of settings for storage, credentials sealed.
func (s *Store) sealed(ctx context.Context, repository string, settings map[string]any) (map[string]any, error) {
	up := upstreamOf(settings)
	if up == nil {
		return settings, nil
	}
	out := make(map[string]any, len(settings))
	for k, v := range settings {
		out[k] = v
	}
	sealedUp := make(map[string]any, len(up))
	for k, v := range up {
		sealedUp[k] = v
	}
	for _, f := range credentialFields {
		// In memory credentials are always in the clear (Get unseals), so
		// every one is sealed, even one that happens to look sealed.
		v, ok := up[f].(string)
		if !ok || v == "" {
			continue
		}
		sv, err := s.sealer.Seal(ctx, credentialKey, []byte(v), ad(repository, f))
		if err != nil {
			return nil, err
		}
		sealedUp[f] = sealedPrefix + sv
	}
	out["upstream"] = sealedUp
	return out, nil
}

// unseal opens r's sealed credentials in place.
func (s *Store) unseal(ctx context.Context, r *Repository) error {
	up := upstreamOf(r.Settings)
	for _, f := range credentialFields {
		v, _ := up[f].(string)
		sv, ok := strings.CutPrefix(v, sealedPrefix)
		if !ok {
			continue
		}
		plain, err := s.sealer.Unseal(ctx, credentialKey, sv, ad(r.Name, f))
		if err != nil {
			return errs.Wrap(err, errs.Internal, "upstream.%s of repository %q cannot be unsealed", f, r.Name)
		}
		up[f] = string(plain)
	}
	return nil
}

// needsSealing reports whether r's stored settings hold a credential in
// the clear, in a field or in the URL.
func needsSealing(stored map[string]any) bool {
	up := upstreamOf(stored)
	if raw, _ := up["url"].(string); strings.Contains(raw, "@") {
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			return true
		}
	}
	for _, f := range credentialFields {
		if v, _ := up[f].(string); v != "" && !strings.HasPrefix(v, sealedPrefix) {
			return true
		}
	}
	return false
}

// SealStored seals the upstream credentials that releases before sealing
// stored in the clear (and moves those in URLs into their fields), and
// returns how many repositories it rewrote. It runs at start; running it
// again finds nothing to do.
func (s *Store) SealStored(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, config FROM repositories WHERE config LIKE '%upstream%'`)
	if err != nil {
		return 0, err
	}
	var names []string
	for rows.Next() {
		var name, config string
		if err := rows.Scan(&name, &config); err != nil {
			rows.Close()
			return 0, err
		}
		if stored, err := decodeSettings(config); err == nil && needsSealing(stored) {
			names = append(names, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, name := range names {
		r, err := s.Get(ctx, name) // unseals what is sealed, leaves the rest
		if err != nil {
			return 0, err
		}
		if err := moveURLCredentials(r.Settings); err != nil {
			return 0, err
		}
		if err := s.write(ctx, r); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}
