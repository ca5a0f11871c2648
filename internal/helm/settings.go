package helm

import (
	"time"

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

func (u UpstreamSettings) indexMaxAge() time.Duration {
	return repo.DurationOr(u.IndexMaxAge, 5*time.Minute)
}
func (u UpstreamSettings) negativeTTL() time.Duration {
	return repo.DurationOr(u.NegativeCacheTTL, 5*time.Minute)
}
func (u UpstreamSettings) retryAfter() time.Duration {
	return repo.DurationOr(u.UnreachableRetry, time.Minute)
}
func (u UpstreamSettings) timeout() time.Duration { return repo.DurationOr(u.Timeout, 30*time.Second) }

func (u UpstreamSettings) validate() error {
	return repo.CheckUpstream(u.URL, "index_max_age", u.IndexMaxAge, "negative_cache_ttl", u.NegativeCacheTTL, "unreachable_retry", u.UnreachableRetry, "timeout", u.Timeout)
}

// settingsOf decodes a repository's settings, refusing unknown keys.
func settingsOf(m map[string]any) (Settings, error) {
	var s Settings
	err := repo.DecodeSettings(m, &s)
	return s, err
}

// CheckSettings validates a Helm repository's settings; it is the
// repo.SettingsCheck of the helm format.
func CheckSettings(kind string, settings map[string]any) error {
	s, err := settingsOf(settings)
	if err != nil {
		return err
	}
	if err := repo.CheckKindSettings(kind, s.Upstream != nil, len(s.Members), func() error { return s.Upstream.validate() }); err != nil {
		return err
	}
	return nil
}

var _ repo.SettingsCheck = CheckSettings
