package npm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Settings are an npm repository's settings:
//
//	# proxy
//	settings:
//	  upstream:
//	    url: https://registry.example.com/    # any npm registry, e.g. another arca's /npm/<repo>/
//	    token: ...                            # or username + password; optional
//	    metadata_max_age: 5m                  # packuments are revalidated after this
//	    negative_cache_ttl: 5m                # an upstream 404 is remembered this long
//	    unreachable_retry: 1m                 # after a failure, the upstream is left alone this long
//	# group
//	settings:
//	  members: [npm-hosted, npm-public]       # hosted members are asked first
type Settings struct {
	// ScanPolicy is read by internal/scan (the download gate), which also checks it.
	ScanPolicy any               `json:"scan_policy,omitempty"`
	Upstream   *UpstreamSettings `json:"upstream,omitempty"`
	Members    []string          `json:"members,omitempty"`
}

// UpstreamSettings configure a proxy repository's upstream registry.
type UpstreamSettings struct {
	// URL is the registry's base URL; package documents are at URL/<name>.
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// MetadataMaxAge is how long a cached packument is served before it is
	// revalidated with the upstream (Go duration; default 5m). Tarballs
	// never change and are cached forever.
	MetadataMaxAge string `json:"metadata_max_age,omitempty"`
	// NegativeCacheTTL is how long an upstream 404 is remembered (default 5m).
	NegativeCacheTTL string `json:"negative_cache_ttl,omitempty"`
	// UnreachableRetry is how long arca stops calling an upstream that
	// failed (connection error, timeout, 5xx), serving what it has cached
	// meanwhile (default 1m).
	UnreachableRetry string `json:"unreachable_retry,omitempty"`
	// Timeout bounds one metadata request to the upstream (default 30s).
	Timeout string `json:"timeout,omitempty"`
}

func durationOr(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return def
	}
	return d
}

func (u UpstreamSettings) metadataMaxAge() time.Duration {
	return durationOr(u.MetadataMaxAge, 5*time.Minute)
}
func (u UpstreamSettings) negativeTTL() time.Duration {
	return durationOr(u.NegativeCacheTTL, 5*time.Minute)
}
func (u UpstreamSettings) retryAfter() time.Duration {
	return durationOr(u.UnreachableRetry, time.Minute)
}
func (u UpstreamSettings) timeout() time.Duration { return durationOr(u.Timeout, 30*time.Second) }

func (u UpstreamSettings) validate() error {
	p, err := url.Parse(u.URL)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("upstream.url %q: want an http(s) URL", u.URL)
	}
	if p.RawQuery != "" || p.Fragment != "" {
		return fmt.Errorf("upstream.url %q: no query or fragment", u.URL)
	}
	if u.Token != "" && (u.Username != "" || u.Password != "") {
		return fmt.Errorf("upstream: give a token or a username and password, not both")
	}
	for _, d := range []struct{ name, v string }{
		{"metadata_max_age", u.MetadataMaxAge}, {"negative_cache_ttl", u.NegativeCacheTTL},
		{"unreachable_retry", u.UnreachableRetry}, {"timeout", u.Timeout},
	} {
		if d.v == "" {
			continue
		}
		if v, err := time.ParseDuration(d.v); err != nil || v < 0 {
			return fmt.Errorf("upstream.%s %q: want a non-negative Go duration such as 5m", d.name, d.v)
		}
	}
	return nil
}

// settingsOf decodes a repository's settings, refusing unknown keys.
func settingsOf(m map[string]any) (Settings, error) {
	var s Settings
	if len(m) == 0 {
		return s, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return s, errs.Wrap(err, errs.Invalid, "invalid settings")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, errs.E(errs.Invalid, "%v", err)
	}
	return s, nil
}

// CheckSettings validates an npm repository's settings; it is the
// repo.SettingsCheck of the npm format.
func CheckSettings(kind string, settings map[string]any) error {
	s, err := settingsOf(settings)
	if err != nil {
		return err
	}
	switch kind {
	case repo.Proxy:
		if s.Upstream == nil {
			return errs.E(errs.Invalid, "a proxy repository needs settings.upstream.url")
		}
		if err := s.Upstream.validate(); err != nil {
			return errs.E(errs.Invalid, "%v", err)
		}
	case repo.Group:
		if len(s.Members) == 0 {
			return errs.E(errs.Invalid, "a group repository needs settings.members")
		}
	}
	if kind != repo.Proxy && s.Upstream != nil {
		return errs.E(errs.Invalid, "only proxy repositories have an upstream")
	}
	if kind != repo.Group && len(s.Members) > 0 {
		return errs.E(errs.Invalid, "only group repositories have members")
	}
	return nil
}

var _ repo.SettingsCheck = CheckSettings
