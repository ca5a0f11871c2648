package maven

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Settings configure a Maven repository (its settings):
//
//	# hosted
//	version_policy: mixed      # release, snapshot or mixed: which versions may be deployed
//	redeploy: deny             # allow: a maintainer may replace a release's file; deny: nobody may
//	snapshot_keep: 0           # >0: keep only the newest N timestamped builds of each snapshot version
//	# proxy
//	upstream:
//	  url: https://repo.example.com/maven2/  # any Maven repository, e.g. another arca's /maven/<repo>/
//	  username: ...                          # optional Basic credentials
//	  password: ...
//	  metadata_max_age: 30m    # maven-metadata.xml and non-timestamped snapshot files are fetched again after this
//	  negative_cache_ttl: 5m   # an upstream 404 is remembered this long
//	  unreachable_retry: 1m    # after a failure the upstream is left alone this long
//	  timeout: 30s             # one metadata request
//	# group
//	members: [maven-hosted, maven-central]  # asked in order, hosted ones first; metadata merged
//	merge: hosted-first        # hosted-first (default): an artifact a hosted member holds is not
//	                           # asked of the others; all: every member is asked in the given order
type Settings struct {
	VersionPolicy string            `json:"version_policy,omitempty"`
	Redeploy      string            `json:"redeploy,omitempty"`
	SnapshotKeep  int               `json:"snapshot_keep,omitempty"`
	Upstream      *UpstreamSettings `json:"upstream,omitempty"`
	Members       []string          `json:"members,omitempty"`
	Merge         string            `json:"merge,omitempty"`
}

// Group merge modes.
const (
	MergeHostedFirst = "hosted-first"
	MergeAll         = "all"
)

// Version policies.
const (
	PolicyRelease  = "release"
	PolicySnapshot = "snapshot"
	PolicyMixed    = "mixed"
)

// UpstreamSettings configure a proxy repository's upstream.
type UpstreamSettings struct {
	URL              string `json:"url"`
	Username         string `json:"username,omitempty"`
	Password         string `json:"password,omitempty"`
	MetadataMaxAge   string `json:"metadata_max_age,omitempty"`
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

func (u UpstreamSettings) metadataMaxAge() time.Duration {
	return durationOr(u.MetadataMaxAge, 30*time.Minute)
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

// policy is the version policy, mixed by default.
func (s Settings) policy() string {
	if s.VersionPolicy == "" {
		return PolicyMixed
	}
	return s.VersionPolicy
}

// redeployAllowed reports whether a release's file may be replaced.
func (s Settings) redeployAllowed() bool { return s.Redeploy == "allow" }

// CheckSettings validates a Maven repository's settings; it is the
// repo.SettingsCheck of the maven format.
func CheckSettings(kind string, settings map[string]any) error {
	s, err := settingsOf(settings)
	if err != nil {
		return err
	}
	switch s.VersionPolicy {
	case "", PolicyRelease, PolicySnapshot, PolicyMixed:
	default:
		return errs.E(errs.Invalid, "version_policy %q: want release, snapshot or mixed", s.VersionPolicy)
	}
	switch s.Redeploy {
	case "", "allow", "deny":
	default:
		return errs.E(errs.Invalid, "redeploy %q: want allow or deny", s.Redeploy)
	}
	if s.SnapshotKeep < 0 {
		return errs.E(errs.Invalid, "snapshot_keep must not be negative")
	}
	if kind != repo.Hosted && (s.VersionPolicy != "" || s.Redeploy != "" || s.SnapshotKeep != 0) {
		return errs.E(errs.Invalid, "version_policy, redeploy and snapshot_keep are settings of hosted repositories")
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
	switch s.Merge {
	case "", MergeHostedFirst, MergeAll:
	default:
		return errs.E(errs.Invalid, "merge %q: want hosted-first or all", s.Merge)
	}
	if kind != repo.Group && s.Merge != "" {
		return errs.E(errs.Invalid, "only group repositories have merge")
	}
	if kind != repo.Group && len(s.Members) > 0 {
		return errs.E(errs.Invalid, "only group repositories have members")
	}
	return nil
}

var _ repo.SettingsCheck = CheckSettings
