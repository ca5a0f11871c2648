package ui

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// MLflow resource kinds of mlflow_permissions.
const (
	mlflowExperimentKind = "experiment"
	mlflowModelKind      = "registered_model"
)

// mlflowViewer is what the viewer of an MLflow page may read, by the same
// rules as the MLflow API: administrators read everything; otherwise an
// explicit permission on an experiment or registered model
// (mlflow_permissions) decides — NO_PERMISSIONS hides it, READ or more
// shows it — and where there is none, reading the space repository
// (auth.Service.Authorize with auth.Read: a role on it, or a public space)
// does.
type mlflowViewer struct {
	p      auth.Principal
	space  *repo.Repository
	all    bool // an administrator
	byRole bool // may read the space, so everything not explicitly hidden
}

// mlflowView resolves the viewer. An anonymous visitor of a private space
// is asked to sign in; a signed-in user without a role still sees what
// explicit permissions grant.
func (h *Handler) mlflowView(ctx context.Context) (*mlflowViewer, error) {
	space, err := h.repos.Get(ctx, h.MLflowSpace)
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.NotFound, "There is no MLflow space: create a repository %q of format mlflow.", h.MLflowSpace)
	}
	if err != nil {
		return nil, err
	}
	p := auth.From(ctx)
	v := &mlflowViewer{p: p, space: space, all: p.IsAdmin()}
	err = h.auth.Authorize(ctx, p, space, auth.Read)
	switch {
	case err == nil:
		v.byRole = true
	case p.Anonymous():
		return nil, err // sign in first
	case !errs.Is(err, errs.Denied):
		return nil, err
	}
	return v, nil
}

// visible is a SQL condition true for the resources of kind whose id
// column is idCol that the viewer may read; it binds its arguments with a.
func (v *mlflowViewer) visible(a *sqlArgs, kind, idCol string) string {
	if v.all {
		return "TRUE"
	}
	perm := "SELECT 1 FROM mlflow_permissions mp WHERE mp.resource_kind = " + a.add(kind) +
		" AND mp.resource_id = " + idCol + " AND mp.user_id = " + a.add(v.p.UserID)
	if v.byRole {
		return "NOT EXISTS (" + perm + " AND mp.permission = 'NO_PERMISSIONS')"
	}
	return "EXISTS (" + perm + " AND mp.permission <> 'NO_PERMISSIONS')"
}

// mlflowCanRead reports whether the viewer may read one resource.
func (h *Handler) mlflowCanRead(ctx context.Context, v *mlflowViewer, kind string, id int64) (bool, error) {
	if v.all {
		return true, nil
	}
	var perm string
	err := h.db.QueryRowContext(ctx, `SELECT permission FROM mlflow_permissions
		WHERE resource_kind = $1 AND resource_id = $2 AND user_id = $3`, kind, id, v.p.UserID).Scan(&perm)
	switch {
	case err == sql.ErrNoRows:
		return v.byRole, nil
	case err != nil:
		return false, meta.Err(err)
	}
	return perm != "NO_PERMISSIONS", nil
}

// mlflowRequire refuses a resource the viewer may not read: anonymous
// visitors are asked to sign in, others are told they lack access.
func (h *Handler) mlflowRequire(ctx context.Context, v *mlflowViewer, kind string, id int64, what string) error {
	ok, err := h.mlflowCanRead(ctx, v, kind, id)
	if err != nil || ok {
		return err
	}
	if v.p.Anonymous() {
		return errs.E(errs.Unauthenticated, "sign in to see %s", what)
	}
	return errs.E(errs.Denied, "You have no permission to see %s.", what)
}

// sqlArgs collects the arguments of a query and names their $N
// placeholders, so that conditions can be assembled in any order.
type sqlArgs struct {
	args []any
}

// add binds v and returns its placeholder.
func (a *sqlArgs) add(v any) string {
	a.args = append(a.args, v)
	return "$" + strconv.Itoa(len(a.args))
}

// sqlList binds each of vs and returns "($i, $j, ...)"; vs must not be empty.
func sqlList[T any](a *sqlArgs, vs []T) string {
	s := "("
	for i, v := range vs {
		if i > 0 {
			s += ", "
		}
		s += a.add(v)
	}
	return s + ")"
}
