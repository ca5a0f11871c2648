package goproxy

import (
	"time"

	"github.com/arcaproject/arca/internal/repo"
)

// Settings configure a Go repository (its settings):
//
//	# proxy
//	upstream:
//	  url: https://goproxy.example.com/   # any GOPROXY, e.g. another arca's /go/<repo>/
//	  username: ...                       # optional Basic credentials
//	  password: ...
//	  list_max_age: 10m        # @v/list, @latest and queries are fetched again after this
//	  negative_cache_ttl: 5m   # an upstream 404 or 410 is remembered this long
//	  unreachable_retry: 1m    # after a failure the upstream is left alone this long
//	  timeout: 30s             # one list, info, mod or checksum database request
//	# group
//	members: [go-hosted, go-proxy]  # asked in order, hosted ones first; version lists merged
//
// Hosted repositories take no settings. .info, .mod and .zip of a
// canonical version never change and are cached forever.
type Settings struct {
	Upstream *UpstreamSettings `json:"upstream,omitempty"`
	Members  []string          `json:"members,omitempty"`
}

// UpstreamSettings configure a proxy repository's upstream.
type UpstreamSettings struct {
	URL              string `json:"url"`
	Username         string `json:"username,omitempty"`
	Password         string `json:"password,omitempty"`
	ListMaxAge       string `json:"list_max_age,omitempty"`
	NegativeCacheTTL string `json:"negative_cache_ttl,omitempty"`
	UnreachableRetry string `json:"unreachable_retry,omitempty"`
	Timeout          string `json:"timeout,omitempty"`
}

func (u UpstreamSettings) listMaxAge() time.Duration {
	return repo.DurationOr(u.ListMaxAge, 10*time.Minute)
}
func (u UpstreamSettings) negativeTTL() time.Duration {
	return repo.DurationOr(u.NegativeCacheTTL, 5*time.Minute)
}
func (u UpstreamSettings) retryAfter() time.Duration {
	return repo.DurationOr(u.UnreachableRetry, time.Minute)
}
func (u UpstreamSettings) timeout() time.Duration { return repo.DurationOr(u.Timeout, 30*time.Second) }

func (u UpstreamSettings) validate() error {
	return repo.CheckUpstream(u.URL, "list_max_age", u.ListMaxAge, "negative_cache_ttl", u.NegativeCacheTTL, "unreachable_retry", u.UnreachableRetry, "timeout", u.Timeout)
}

// settingsOf decodes a repository's settings, refusing unknown keys.
func settingsOf(m map[string]any) (Settings, error) {
	var s Settings
	err := repo.DecodeSettings(m, &s)
	return s, err
}

// CheckSettings validates a Go repository's settings; it is the
// repo.SettingsCheck of the go format.
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
