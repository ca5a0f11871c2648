package npm

import (
	"fmt"
	"time"

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

func (u UpstreamSettings) metadataMaxAge() time.Duration {
	return repo.DurationOr(u.MetadataMaxAge, 5*time.Minute)
}
func (u UpstreamSettings) negativeTTL() time.Duration {
	return repo.DurationOr(u.NegativeCacheTTL, 5*time.Minute)
}
func (u UpstreamSettings) retryAfter() time.Duration {
	return repo.DurationOr(u.UnreachableRetry, time.Minute)
}
func (u UpstreamSettings) timeout() time.Duration { return repo.DurationOr(u.Timeout, 30*time.Second) }

func (u UpstreamSettings) validate() error {
	if u.Token != "" && (u.Username != "" || u.Password != "") {
		return fmt.Errorf("upstream: give a token or a username and password, not both")
	}
	return repo.CheckUpstream(u.URL, "metadata_max_age", u.MetadataMaxAge, "negative_cache_ttl", u.NegativeCacheTTL, "unreachable_retry", u.UnreachableRetry, "timeout", u.Timeout)
}

// settingsOf decodes a repository's settings, refusing unknown keys.
func settingsOf(m map[string]any) (Settings, error) {
	var s Settings
	err := repo.DecodeSettings(m, &s)
	return s, err
}

// CheckSettings validates an npm repository's settings; it is the
// repo.SettingsCheck of the npm format.
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
