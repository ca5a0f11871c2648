package oci

import (
	"encoding/json"
	"path"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Policy is an OCI repository's governance, kept in its settings:
//
//	settings:
//	  immutable_tags: ["v*", "release-*"]   # glob patterns (path.Match)
//	  quota_bytes: 10737418240              # 0: no quota
//	  retention:
//	    keep_last: 10                       # per image, the most recently pushed tags
//	    keep_tags: ["latest", "v*"]         # tags kept whatever their age
//	    delete_untagged: true               # manifests no tag and no index refers to
//	  allow_sparse: false                   # accept image manifests whose layers are absent
type Policy struct {
	// ScanPolicy is read by internal/scan (the download gate), which also checks it.
	ScanPolicy any `json:"scan_policy,omitempty"`
	// Upstream is the registry a proxy repository caches.
	Upstream *ProxySettings `json:"upstream,omitempty"`
	// Members are the repositories a group resolves, in order.
	Members []string `json:"members,omitempty"`

	// AllowSparse accepts image manifests that reference layers the
	// image does not have (sparse copies, as the conformance suite pushes).
	// By default such a push fails with MANIFEST_BLOB_UNKNOWN.
	AllowSparse   bool       `json:"allow_sparse,omitempty"`
	ImmutableTags []string   `json:"immutable_tags,omitempty"`
	QuotaBytes    int64      `json:"quota_bytes,omitempty"`
	Retention     *Retention `json:"retention,omitempty"`
}

// Retention says which tags and manifests a retention run keeps.
type Retention struct {
	KeepLast       int      `json:"keep_last,omitempty"`
	KeepTags       []string `json:"keep_tags,omitempty"`
	DeleteUntagged bool     `json:"delete_untagged,omitempty"`
}

// policyOf decodes a repository's settings.
func policyOf(settings map[string]any) (Policy, error) {
	var p Policy
	if len(settings) == 0 {
		return p, nil
	}
	b, _ := json.Marshal(settings)
	if err := strictUnmarshal(b, &p); err != nil {
		return p, errs.E(errs.Invalid, "%v", err)
	}
	for _, pats := range [][]string{p.ImmutableTags, retentionTags(p.Retention)} {
		for _, pat := range pats {
			if _, err := path.Match(pat, ""); err != nil {
				return p, errs.E(errs.Invalid, "bad tag pattern %q", pat)
			}
		}
	}
	if p.QuotaBytes < 0 || (p.Retention != nil && p.Retention.KeepLast < 0) {
		return p, errs.E(errs.Invalid, "quota_bytes and retention.keep_last cannot be negative")
	}
	return p, nil
}

func retentionTags(r *Retention) []string {
	if r == nil {
		return nil
	}
	return r.KeepTags
}

// CheckSettings validates an OCI repository's settings; it is the
// repo.SettingsCheck of the oci format.
func CheckSettings(kind string, settings map[string]any) error {
	p, err := policyOf(settings)
	if err != nil {
		return err
	}
	switch kind {
	case repo.Proxy:
		if p.Upstream == nil {
			return errs.E(errs.Invalid, "a proxy repository needs settings.upstream.url")
		}
		if err := p.Upstream.validate(); err != nil {
			return errs.E(errs.Invalid, "%v", err)
		}
	case repo.Group:
		if len(p.Members) == 0 {
			return errs.E(errs.Invalid, "a group repository needs settings.members")
		}
	}
	if kind != repo.Proxy && p.Upstream != nil {
		return errs.E(errs.Invalid, "only proxy repositories have an upstream")
	}
	if kind != repo.Group && len(p.Members) > 0 {
		return errs.E(errs.Invalid, "only group repositories have members")
	}
	return nil
}

var _ repo.SettingsCheck = CheckSettings

// matchAny reports whether tag matches one of the glob patterns.
func matchAny(patterns []string, tag string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, tag); ok {
			return true
		}
	}
	return false
}
