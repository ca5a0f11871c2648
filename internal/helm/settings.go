package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Settings configure a Helm repository (its settings):
//
//	# proxy
//	upstream:
//	  url: https://charts.example.com/    # any chart repository, e.g. another arca's /helm/<repo>/
//	  username: ...                       # optional Basic credentials
//	  password: ...
//	  index_max_age: 5m        # index.yaml is fetched again after this
//	  negative_cache_ttl: 5m   # an upstream 404 or 410 is remembered this long
//	  unreachable_retry: 1m    # after a failure the upstream is left alone this long
//	  timeout: 30s             # one index.yaml request
//	# group
//	members: [helm-hosted, helm-proxy]  # asked in order, hosted ones first; indexes merged
//
// Hosted repositories take no settings. Chart archives never change and
// are cached forever. Credentials are sent to the upstream's host only,
// not to other hosts its index.yaml points at.
type Settings struct {
	Upstream *UpstreamSettings `json:"upstream,omitempty"`
	Members  []string          `json:"members,omitempty"`
}

// UpstreamSettings configure a proxy repository's upstream.
type UpstreamSettings struct {
	URL              string `json:"url"`
	Username         string `json:"username,omitempty"`
	Password         string `json:"password,omitempty"`
	IndexMaxAge      string `json:"index_max_age,omitempty"`
	NegativeCacheTTL string `json:"negative_cache_ttl,omitempty"`
	UnreachableRetry string `json:"unreachable_retry,omitempty"`
	Timeout          string `json:"timeout,omitempty"`
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

func (u UpstreamSettings) indexMaxAge() time.Duration {
	return durationOr(u.IndexMaxAge, 5*time.Minute)
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
	if p.RawQuery != "" || p.Fragment != "" || p.User != nil {
		return fmt.Errorf("upstream.url %q: no query, fragment or credentials (use username and password)", u.URL)
	}
	for _, d := range []struct{ name, v string }{
		{"index_max_age", u.IndexMaxAge}, {"negative_cache_ttl", u.NegativeCacheTTL},
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

// CheckSettings validates a Helm repository's settings; it is the
// repo.SettingsCheck of the helm format.
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
