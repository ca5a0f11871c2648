package mlflow

import (
	"context"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
)

// visibility is the set of experiments a caller may read, for searches:
// either every experiment except those where the caller's explicit
// permission is NO_PERMISSIONS (the caller reads the space), or only those
// where it is READ or more.
type visibility struct {
	all    bool
	except map[int64]bool
	only   map[int64]bool
}

// visibility computes what the caller may read (see permission in
// access.go: an explicit permission on an experiment overrides the role on
// the space). Anonymous callers of a private space are asked to
// authenticate.
func (h *Handler) visibility(ctx context.Context) (*visibility, error) {
	if err := h.knownCaller(ctx); err != nil {
		return nil, err
	}
	return h.visibilityOf(ctx, auth.From(ctx))
}

// visibilityOf is what principal p may read.
func (h *Handler) visibilityOf(ctx context.Context, p auth.Principal) (*visibility, error) {
	space, err := h.permissionOf(ctx, p, "", 0)
	if err != nil {
		return nil, err
	}
	v := &visibility{all: space >= Read, except: map[int64]bool{}, only: map[int64]bool{}}
	if p.Anonymous() || p.IsAdmin() {
		return v, nil
	}
	rows, err := h.db.QueryContext(ctx, `SELECT resource_id, permission FROM mlflow_permissions
		WHERE resource_kind = $1 AND user_id = $2`, experimentResource, p.UserID)
	if err != nil {
		return nil, meta.Err(err)
	}
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		perm, err := ParsePermission(s)
		if err != nil {
			continue
		}
		if perm >= Read {
			v.only[id] = true
		} else {
			v.except[id] = true
		}
	}
	return v, closeRows(rows)
}

// can reports whether the caller may read experiment id.
func (v *visibility) can(id int64) bool {
	if v.all {
		return !v.except[id]
	}
	return v.only[id]
}

// unrestricted reports whether the caller reads every experiment.
func (v *visibility) unrestricted() bool { return v.all && len(v.except) == 0 }

// filter keeps the ids the caller may read, in order.
func (v *visibility) filter(ids []int64) []int64 {
	out := ids[:0:0]
	for _, id := range ids {
		if v.can(id) {
			out = append(out, id)
		}
	}
	return out
}

// knownCaller refuses anonymous callers of a private space before
// anything is looked up, so that they are asked to authenticate rather
// than told what exists.
func (h *Handler) knownCaller(ctx context.Context) error {
	if !auth.From(ctx).Anonymous() {
		return nil
	}
	return h.require(ctx, "", 0, Read)
}

// readableRootEntries keeps, of a listing of the artifact root, the
// entries the caller may read: an experiment's directory only when the
// caller may read the experiment (as searches do, see visibility.go).
func (h *Handler) readableRootEntries(ctx context.Context, files []fileInfo) ([]fileInfo, error) {
	v, err := h.visibility(ctx)
	if err != nil {
		return nil, err
	}
	if v.unrestricted() {
		return files, nil
	}
	out := files[:0]
	for _, f := range files {
		if id, ok := artifactExperiment(f.Path); !ok || v.can(id) {
			out = append(out, f)
		}
	}
	return out, nil
}
