package repo

import (
	"context"
	"slices"

	"github.com/arcaproject/arca/internal/errs"
)

// A group repository lists its members by name in settings.members (every
// format with groups uses that key). Two rules keep a group from becoming a
// way around the members' permissions:
//
//  1. Changing a group's members needs the admin role on every member added
//     (checked by the API, which knows the caller); the store checks that
//     members exist, have the group's format, and form no cycle.
//  2. Reading through a group, a caller sees the members they may read
//     themselves; Members reports each member with the caller's refusal, if
//     any. Readers of a name that the first member having it answers (an
//     OCI tag, an npm package, a PyPI project with merge: first) still let a
//     refused hosted member shadow the later ones — see Shadows.

// Member is a member of a group as one caller sees it.
type Member struct {
	*Repository
	// Refused is why the caller may not read the member (an
	// errs.Unauthenticated or errs.Denied error), or nil when they may.
	Refused error
}

// ReadCheck answers whether the caller whose request ctx carries may read
// r: nil, or the refusal (auth.Service.CanRead is one).
type ReadCheck func(ctx context.Context, r *Repository) error

// MemberNames returns the member names of a group's settings.
func MemberNames(settings map[string]any) []string {
	var out []string
	switch ms := settings["members"].(type) {
	case []string:
		out = append(out, ms...)
	case []any:
		for _, m := range ms {
			if s, ok := m.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// Members returns the members of group that exist and have its format, in
// the configured order, each with canRead's answer for it. A member that
// cannot be looked up is left out, as is the group itself.
func (s *Store) Members(ctx context.Context, group *Repository, canRead ReadCheck) []Member {
	var out []Member
	for _, name := range MemberNames(group.Settings) {
		m, err := s.Get(ctx, name)
		if err != nil || m.Format != group.Format || m.ID == group.ID {
			continue
		}
		out = append(out, Member{Repository: m, Refused: canRead(ctx, m)})
	}
	return out
}

// Readable returns the members whose Refused is nil.
func Readable(ms []Member) []*Repository {
	var out []*Repository
	for _, m := range ms {
		if m.Refused == nil {
			out = append(out, m.Repository)
		}
	}
	return out
}

// HostedFirst orders hosted members before the others, keeping the
// configured order within each.
func HostedFirst(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b Member) int {
		ah, bh := a.Kind == Hosted, b.Kind == Hosted
		switch {
		case ah && !bh:
			return -1
		case bh && !ah:
			return 1
		}
		return 0
	})
	return out
}

// Shadows reports whether a member the caller may not read hides a name
// from the members after it: it is hosted and has the name (has answers
// that). Such a member is not served, and not skipped either — the read is
// refused with m.Refused — so that a caller without access to an internal
// package is never answered with a public package of the same name from a
// later member (dependency confusion). Refused proxies and groups are
// skipped: they only relay what others publish.
func Shadows(ctx context.Context, m Member, has func(ctx context.Context, m *Repository) (bool, error)) (bool, error) {
	if m.Refused == nil || m.Kind != Hosted {
		return false, nil
	}
	return has(ctx, m.Repository)
}

// Refusal reports whether err refuses a read (errs.Unauthenticated or
// errs.Denied): a group that gets one from a member passes it on rather
// than asking the next member, so that shadowing holds in nested groups.
func Refusal(err error) bool {
	return errs.Is(err, errs.Unauthenticated) || errs.Is(err, errs.Denied)
}

// checkMembers validates a group's members against the stored
// repositories: each exists, has the group's format and is not the group;
// and no chain of groups leads back to the group.
func (s *Store) checkMembers(ctx context.Context, r *Repository) error {
	if r.Kind != Group {
		return nil
	}
	names := MemberNames(r.Settings)
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			return errs.E(errs.Invalid, "member %q of group %q is listed twice", name, r.Name)
		}
		seen[name] = true
		if name == r.Name {
			return errs.E(errs.Invalid, "group %q cannot be a member of itself", r.Name)
		}
		m, err := s.Get(ctx, name)
		if errs.Is(err, errs.NotFound) {
			return errs.E(errs.Invalid, "member %q of group %q does not exist", name, r.Name)
		} else if err != nil {
			return err
		}
		if m.Format != r.Format {
			return errs.E(errs.Invalid, "member %q of %s group %q is a %s repository", name, r.Format, r.Name, m.Format)
		}
	}
	// Walk the groups reachable from r's members, as stored; reaching r
	// again is a cycle.
	visited := map[string]bool{}
	var walk func(name string, path []string) error
	walk = func(name string, path []string) error {
		path = append(path, name)
		if name == r.Name {
			return errs.E(errs.Invalid, "members of group %q form a cycle: %s", r.Name, joinPath(r.Name, path))
		}
		if visited[name] {
			return nil
		}
		visited[name] = true
		m, err := s.Get(ctx, name)
		if errs.Is(err, errs.NotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if m.Kind != Group {
			return nil
		}
		for _, next := range MemberNames(m.Settings) {
			if err := walk(next, path); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range names {
		if err := walk(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// checkNotMember refuses when a group lists the repository name.
func (s *Store) checkNotMember(ctx context.Context, name string) error {
	all, err := s.List(ctx, "")
	if err != nil {
		return err
	}
	for _, g := range all {
		if g.Kind == Group && slices.Contains(MemberNames(g.Settings), name) {
			return errs.E(errs.Conflict, "repository %q is a member of group %q: remove it from the group first", name, g.Name)
		}
	}
	return nil
}

func joinPath(start string, path []string) string {
	out := start
	for _, p := range path {
		out += " → " + p
	}
	return out
}
