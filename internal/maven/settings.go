package maven

import (
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

func (u UpstreamSettings) metadataMaxAge() time.Duration {
	return repo.DurationOr(u.MetadataMaxAge, 30*time.Minute)
}
func (u UpstreamSettings) negativeTTL() time.Duration {
	return repo.DurationOr(u.NegativeCacheTTL, 5*time.Minute)
}
func (u UpstreamSettings) retryAfter() time.Duration {
	return repo.DurationOr(u.UnreachableRetry, time.Minute)
}
func (u UpstreamSettings) timeout() time.Duration { return repo.DurationOr(u.Timeout, 30*time.Second) }

func (u UpstreamSettings) validate() error {
	return repo.CheckUpstream(u.URL, "metadata_max_age", u.MetadataMaxAge, "negative_cache_ttl", u.NegativeCacheTTL, "unreachable_retry", u.UnreachableRetry, "timeout", u.Timeout)
}

// settingsOf decodes a repository's settings, refusing unknown keys.
func settingsOf(m map[string]any) (Settings, error) {
	var s Settings
	err := repo.DecodeSettings(m, &s)
	return s, err
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
	switch s.Merge {
	case "", MergeHostedFirst, MergeAll:
	default:
		return errs.E(errs.Invalid, "merge %q: want hosted-first or all", s.Merge)
	}
	if kind != repo.Group && s.Merge != "" {
		return errs.E(errs.Invalid, "only group repositories have merge")
	}
	if err := repo.CheckKindSettings(kind, s.Upstream != nil, len(s.Members), func() error { return s.Upstream.validate() }); err != nil {
		return err
	}
	return nil
}

var _ repo.SettingsCheck = CheckSettings
