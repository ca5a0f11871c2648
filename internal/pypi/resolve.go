package pypi

import (
	"context"
	"slices"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Reads go through the resolvers below, so that hosted, proxy and group
// repositories answer the same handlers:
//   - hosted: the repository's own rows;
//   - proxy: its cached project pages, checked with the upstream again
//     after metadata_max_age and served stale while the upstream is
//     down; files are fetched on first request and kept;
//   - group: its members the caller may read, hosted ones first. Project
//     pages merge the members' files (the first member listing a file
//     name wins), or, with merge: first, come from the first member that
//     has the project (a hosted member the caller may not read that has
//     it refuses the read rather than letting a later member answer).

const maxGroupDepth = 4

func notFoundProject(rp *repo.Repository, project string) error {
	return errs.E(errs.NotFound, "project %q not found in repository %s", project, rp.Name)
}

// readIndex lists the projects of rp.
func (h *Handler) readIndex(ctx context.Context, rp *repo.Repository, depth int) ([]ProjectName, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.store.cachedProjects(ctx, rp.ID)
	case repo.Group:
		seen := map[string]bool{}
		var out []ProjectName
		for _, m := range repo.Readable(h.members(ctx, rp, depth)) {
			names, err := h.readIndex(ctx, m, depth+1)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				if !seen[n.Project] {
					seen[n.Project] = true
					out = append(out, n)
				}
			}
		}
		slices.SortFunc(out, func(a, b ProjectName) int {
			if a.Project < b.Project {
				return -1
			}
			if a.Project > b.Project {
				return 1
			}
			return 0
		})
		return out, nil
	}
	return h.store.projects(ctx, rp.ID)
}

// readProject returns the page of project (normalized) in rp, with arca's
// relative file URLs.
func (h *Handler) readProject(ctx context.Context, rp *repo.Repository, project string, depth int) (*Project, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.proxyProject(ctx, rp, project)
	case repo.Group:
		return h.groupProject(ctx, rp, project, depth)
	}
	rows, err := h.store.projectFiles(ctx, rp.ID, project, false)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, notFoundProject(rp, project)
	}
	p := &Project{Name: rows[0].Name, Files: make([]File, len(rows))}
	for i := range rows {
		p.Files[i] = rows[i].file()
		p.Files[i].MD5 = rows[i].MD5
	}
	return p, nil
}

// groupProject merges the members' pages of project.
func (h *Handler) groupProject(ctx context.Context, rp *repo.Repository, project string, depth int) (*Project, error) {
	s, _ := settingsOf(rp.Settings)
	var out *Project
	seen := map[string]bool{}
	var skipped error
	ms, shadowed, err := h.sources(ctx, rp, project, depth)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		p, err := h.readProject(ctx, m, project, depth+1)
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			// A proxy that cannot answer leaves the others to answer,
			// unless members shadow each other by project.
			if errs.Is(err, errs.Unavailable) && s.Merge != MergeFirst {
				h.log.WarnContext(ctx, "group member unavailable; merging the others", "group", rp.Name, "member", m.Name, "project", project, "err", err)
				skipped = err
				continue
			}
			return nil, err
		}
		if out == nil {
			out = &Project{Name: p.Name}
		}
		for _, f := range p.Files {
			if !seen[f.Filename] {
				seen[f.Filename] = true
				out.Files = append(out.Files, f)
			}
		}
		if s.Merge == MergeFirst {
			break
		}
	}
	if out == nil {
		if shadowed != nil {
			return nil, shadowed
		}
		if skipped != nil {
			return nil, skipped
		}
		return nil, notFoundProject(rp, project)
	}
	return out, nil
}

// sources lists the members a group reads project from: those the caller
// may read, hosted ones first. With merge: first, a hosted member the
// caller may not read that has the project ends the list, and shadowed is
// its refusal, the answer when no member before it has the project.
func (h *Handler) sources(ctx context.Context, rp *repo.Repository, project string, depth int) (ms []*repo.Repository, shadowed error, err error) {
	s, _ := settingsOf(rp.Settings)
	for _, m := range h.members(ctx, rp, depth) {
		if m.Refused == nil {
			ms = append(ms, m.Repository)
			continue
		}
		if s.Merge != MergeFirst {
			continue
		}
		shadows, err := repo.Shadows(ctx, m, func(ctx context.Context, m *repo.Repository) (bool, error) {
			rows, err := h.store.projectFiles(ctx, m.ID, project, false)
			return len(rows) > 0, err
		})
		if err != nil {
			return nil, nil, err
		}
		if shadows {
			return ms, m.Refused, nil
		}
	}
	return ms, nil, nil
}

// members lists a group's member repositories that serve PyPI, hosted ones
// first, then the others, each in configured order, with whether the
// caller may read them.
func (h *Handler) members(ctx context.Context, rp *repo.Repository, depth int) []repo.Member {
	if depth >= maxGroupDepth {
		return nil
	}
	return repo.HostedFirst(h.repos.Members(ctx, rp, h.auth.CanRead))
}

// groupMembersFor lists the members that may serve project's files: all
// those the caller may read, or with merge: first, only the first that has
// the project (or the refusal of a member the caller may not read that
// shadows the rest).
func (h *Handler) groupMembersFor(ctx context.Context, rp *repo.Repository, project string, depth int) ([]*repo.Repository, error) {
	ms, shadowed, err := h.sources(ctx, rp, project, depth)
	if err != nil {
		return nil, err
	}
	s, _ := settingsOf(rp.Settings)
	if s.Merge != MergeFirst {
		return ms, nil
	}
	for _, m := range ms {
		_, err := h.readProject(ctx, m, project, depth+1)
		if errs.Is(err, errs.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return []*repo.Repository{m}, nil
	}
	return nil, shadowed
}

// openFile finds a distribution file's content.
func (h *Handler) openFile(ctx context.Context, rp *repo.Repository, project, filename string, depth int) (fileRef, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.proxyFile(ctx, rp, project, filename, false)
	case repo.Group:
		return h.groupFile(ctx, rp, project, filename, depth, h.openFile)
	}
	row, err := h.store.file(ctx, rp.ID, project, filename)
	if err != nil {
		return fileRef{}, err
	}
	h.downloads.Touch(rp.ID, filename)
	return fileRef{Digest: blob.Digest(row.Digest), Modified: time.UnixMilli(row.CreatedAt)}, nil
}

// openMetadata finds the core metadata file of a wheel (PEP 658).
func (h *Handler) openMetadata(ctx context.Context, rp *repo.Repository, project, filename string, depth int) (fileRef, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.proxyFile(ctx, rp, project, filename, true)
	case repo.Group:
		ref, err := h.groupFile(ctx, rp, project, filename, depth, h.openMetadata)
		if errs.Is(err, errs.NotFound) {
			// Not "file not found": the file itself may well be served.
			return ref, errs.E(errs.NotFound, "no member of repository %s has a metadata file for %s", rp.Name, filename)
		}
		return ref, err
	}
	row, err := h.store.file(ctx, rp.ID, project, filename)
	if err != nil {
		return fileRef{}, err
	}
	if row.MetadataDigest == "" {
		return fileRef{}, errs.E(errs.NotFound, "%s has no metadata file", filename)
	}
	return fileRef{Digest: blob.Digest(row.MetadataDigest), Modified: time.UnixMilli(row.CreatedAt)}, nil
}

// groupFile asks the group's members for a file, in order.
func (h *Handler) groupFile(ctx context.Context, rp *repo.Repository, project, filename string, depth int,
	open func(context.Context, *repo.Repository, string, string, int) (fileRef, error)) (fileRef, error) {
	ms, err := h.groupMembersFor(ctx, rp, project, depth)
	if err != nil {
		return fileRef{}, err
	}
	var firstErr error
	for _, m := range ms {
		ref, err := open(ctx, m, project, filename, depth+1)
		if err == nil {
			return ref, nil
		}
		if !errs.Is(err, errs.NotFound) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return fileRef{}, firstErr
	}
	return fileRef{}, errs.E(errs.NotFound, "file %s not found in repository %s", filename, rp.Name)
}

// releaseMetadata returns the core metadata (JSON of its fields) of a
// release of project, from the first member that has it (a proxy reads
// it from the upstream's PEP 658 metadata file), or "" when none does.
func (h *Handler) releaseMetadata(ctx context.Context, rp *repo.Repository, project, version string, depth int) (string, error) {
	switch rp.Kind {
	case repo.Proxy:
		return h.proxyReleaseMetadata(ctx, rp, project, version)
	case repo.Group:
		ms, err := h.groupMembersFor(ctx, rp, project, depth)
		if err != nil {
			return "", err
		}
		for _, m := range ms {
			if md, err := h.releaseMetadata(ctx, m, project, version, depth+1); err != nil || md != "" {
				return md, err
			}
		}
		return "", nil
	}
	return h.store.releaseMetadata(ctx, rp.ID, project, version)
}
