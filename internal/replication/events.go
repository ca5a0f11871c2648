package replication

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
)

// changesOf maps an audited action to the items it changed, for the
// formats replicated on events; nil when the action changes no content.
func changesOf(e audit.Event) []Change {
	switch e.Action {
	case "oci.manifest.push":
		image, _, ok := strings.Cut(e.Subject, "@")
		if !ok {
			return nil
		}
		tags := stringsOf(e.Detail["tags"])
		if len(tags) == 0 {
			return []Change{{Item: e.Subject}} // pushed by digest: a referrer, an index's child
		}
		var out []Change
		for _, t := range tags {
			out = append(out, Change{Item: image + ":" + t})
		}
		return out
	case "oci.tag.delete", "oci.manifest.delete":
		return []Change{{Item: e.Subject, Deleted: true}}
	case "s3.put", "s3.copy", "raw.upload", "raw.replace":
		return []Change{{Item: e.Subject}}
	case "s3.delete":
		if e.Detail["version"] != nil {
			return nil // a version's deletion leaves the current object as it was
		}
		return []Change{{Item: e.Subject, Deleted: true}}
	case "maven.deploy", "maven.redeploy":
		return []Change{{Item: e.Subject}}
	case "raw.delete", "pypi.delete", "npm.unpublish", "maven.delete":
		return []Change{{Item: e.Subject, Deleted: true}}
	case "pypi.upload", "pypi.replace", "npm.publish", "go.publish":
		return []Change{{Item: e.Subject}}
	case "go.delete":
		return []Change{{Item: e.Subject, Deleted: true}}
	case "helm.upload", "helm.replace", "helm.provenance":
		if item := helmItem(e); item != "" {
			return []Change{{Item: item}}
		}
	case "helm.delete":
		if item := helmItem(e); item != "" {
			return []Change{{Item: item, Deleted: true}}
		}
	}
	return nil
}

var chartVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]*)?$`)

// helmItem is a Helm event's chart version as name@version: from its
// detail, or else from its subject <name>-<version>, split at the first
// '-' that a semantic version follows (chart names may hold '-').
func helmItem(e audit.Event) string {
	name, _ := e.Detail["chart"].(string)
	version, _ := e.Detail["version"].(string)
	if name != "" && version != "" {
		return name + "@" + version
	}
	s := e.Subject
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && i > 0 && chartVersionRE.MatchString(s[i+1:]) {
			return s[:i] + "@" + s[i+1:]
		}
	}
	return ""
}

// stringsOf reads a detail that is a list of strings (in process it is
// []string; decoded from JSON, []any).
func stringsOf(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		var out []string
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// OnEvent is the audit subscriber (audit.Log.Subscribe): for a change in
// a repository with on-event push policies, it enqueues one durable job
// per policy with the changed items. It does no replication itself.
// Deletions are enqueued only for policies that propagate them.
func (s *Service) OnEvent(ctx context.Context, e audit.Event) {
	if e.Repository == "" {
		return
	}
	changes := changesOf(e)
	if len(changes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	policies, err := s.store.list(ctx, e.Repository)
	if err != nil {
		s.d.Log.Warn("replication: reading policies for an event", "repository", e.Repository, "action", e.Action, "err", err)
		return
	}
	for _, p := range policies {
		if !p.OnEvent || !p.Enabled || p.Direction != Push {
			continue
		}
		if changes[0].Deleted && !p.Deletes {
			continue
		}
		if _, err := s.d.Enqueue(ctx, Job{PolicyID: p.ID, Cause: CauseEvent, Changes: changes}); err != nil {
			s.d.Log.Error("replication: enqueueing a run for an event", "policy", p.Name, "action", e.Action, "err", err)
		}
	}
}

// DueSchedules returns the policies whose schedule says a run is due now
// (none of cause schedule started within its interval). The periodic
// scheduling job calls it, once per cluster.
func (s *Service) DueSchedules(ctx context.Context, now time.Time) ([]int64, error) {
	policies, err := s.store.list(ctx, "")
	if err != nil {
		return nil, err
	}
	var due []int64
	for _, p := range policies {
		every := p.interval()
		if !p.Enabled || every <= 0 {
			continue
		}
		last, err := s.store.lastStart(ctx, p.ID, CauseSchedule)
		if err != nil {
			return nil, err
		}
		if last == 0 || now.Sub(time.UnixMilli(last)) >= every {
			due = append(due, p.ID)
		}
	}
	return due, nil
}
