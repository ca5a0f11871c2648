package pypi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Settings configure a PyPI repository (its settings):
//
//	# hosted
//	allow_redeploy: false         # re-uploading an existing file name replaces it (maintainer role)
//	# proxy
//	upstream:
//	  url: https://pypi.org/simple/  # any PEP 503 / 691 simple index
//	  username: ...                  # optional Basic credentials
//	  password: ...
//	  metadata_max_age: 5m           # project pages are checked again after this
//	  negative_cache_ttl: 1m         # an upstream 404 is remembered this long
//	  offline_retry: 30s             # after the upstream failed, it is not called for this long
//	# group
//	members: [pypi-hosted, pypi-proxy]  # hosted members are consulted first
//	merge: files                      # files: union of every member's files (same file name: first member wins)
//	                                  # first: the first member that has the project answers alone
type Settings struct {
	// ScanPolicy is read by internal/scan (the download gate), which also checks it.
	ScanPolicy    any       `json:"scan_policy,omitempty"`
	AllowRedeploy bool      `json:"allow_redeploy,omitempty"`
	Upstream      *Upstream `json:"upstream,omitempty"`
	Members       []string  `json:"members,omitempty"`
	Merge         string    `json:"merge,omitempty"`
}

// Upstream is the index a proxy repository caches.
type Upstream struct {
	URL              string `json:"url"`
	Username         string `json:"username,omitempty"`
	Password         string `json:"password,omitempty"`
	MetadataMaxAge   string `json:"metadata_max_age,omitempty"`
	NegativeCacheTTL string `json:"negative_cache_ttl,omitempty"`
	OfflineRetry     string `json:"offline_retry,omitempty"`
}

// Group merge modes.
const (
	MergeFiles = "files"
	MergeFirst = "first"
)

func duration(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil && s != "" {
		return d
	}
	return def
}

func (u *Upstream) metadataMaxAge() time.Duration { return duration(u.MetadataMaxAge, 5*time.Minute) }
func (u *Upstream) negativeTTL() time.Duration    { return duration(u.NegativeCacheTTL, time.Minute) }
func (u *Upstream) offlineRetry() time.Duration   { return duration(u.OfflineRetry, 30*time.Second) }

// settingsOf decodes a repository's settings, rejecting unknown keys.
func settingsOf(m map[string]any) (Settings, error) {
	var s Settings
	if len(m) == 0 {
		return s, nil
	}
	b, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, errs.E(errs.Invalid, "%v", err)
	}
	return s, nil
}

// CheckSettings validates a PyPI repository's settings; it is the
// repo.SettingsCheck of the pypi format.
func CheckSettings(kind string, m map[string]any) error {
	s, err := settingsOf(m)
	if err != nil {
		return err
	}
	switch kind {
	case repo.Proxy:
		if s.Upstream == nil {
			return errs.E(errs.Invalid, "a proxy repository needs settings.upstream.url (a simple index URL)")
		}
		u, err := url.Parse(s.Upstream.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errs.E(errs.Invalid, "upstream.url %q: want an http(s) URL of a simple index, e.g. https://pypi.org/simple/", s.Upstream.URL)
		}
		for name, v := range map[string]string{"metadata_max_age": s.Upstream.MetadataMaxAge,
			"negative_cache_ttl": s.Upstream.NegativeCacheTTL, "offline_retry": s.Upstream.OfflineRetry} {
			if v == "" {
				continue
			}
			if d, err := time.ParseDuration(v); err != nil || d < 0 {
				return errs.E(errs.Invalid, "upstream.%s %q: want a duration such as 5m", name, v)
			}
		}
	case repo.Group:
		if len(s.Members) == 0 {
			return errs.E(errs.Invalid, "a group repository needs settings.members")
		}
		if s.Merge != "" && s.Merge != MergeFiles && s.Merge != MergeFirst {
			return errs.E(errs.Invalid, "merge %q: want %q or %q", s.Merge, MergeFiles, MergeFirst)
		}
	}
	if kind != repo.Proxy && s.Upstream != nil {
		return errs.E(errs.Invalid, "only proxy repositories have an upstream")
	}
	if kind != repo.Group && (len(s.Members) > 0 || s.Merge != "") {
		return errs.E(errs.Invalid, "only group repositories have members")
	}
	if kind != repo.Hosted && s.AllowRedeploy {
		return errs.E(errs.Invalid, "allow_redeploy applies to hosted repositories only")
	}
	return nil
}

var _ repo.SettingsCheck = CheckSettings
