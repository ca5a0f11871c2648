package search

import (
	"context"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// filter is what a caller may read of the index, as an SQL condition on
// search_docs d: documents of readable repositories (scope_kind ”), and
// MLflow documents by MLflow's permission on their experiment or
// registered model.
type filter struct {
	all         bool // an administrator: everything
	repos       []int64
	experiments scope
	models      scope
}

// scope is the readable resources of one kind: all except ids, or only ids.
type scope struct {
	all bool
	ids []int64
}

// Scope kinds of documents.
const (
	scopeExperiment = "experiment"
	scopeModel      = "registered_model"
)

// filterFor computes what p may read. The repository check is
// auth.Service.Authorize, as on every other surface.
func (s *Service) filterFor(ctx context.Context, p auth.Principal) (filter, error) {
	if p.IsAdmin() {
		return filter{all: true}, nil
	}
	var f filter
	all, err := s.Repos.List(ctx, "")
	if err != nil {
		return f, err
	}
	for _, rp := range all {
		if rp.Format == "mlflow" {
			continue // by MLflow's permissions below
		}
		err := s.Auth.Authorize(ctx, p, rp, auth.Read)
		switch {
		case err == nil:
			f.repos = append(f.repos, rp.ID)
		case errs.Is(err, errs.Denied), errs.Is(err, errs.Unauthenticated):
		default:
			return f, err
		}
	}
	if s.MLflow != nil {
		for _, k := range []struct {
			kind string
			dst  *scope
		}{{scopeExperiment, &f.experiments}, {scopeModel, &f.models}} {
			all, ids, err := s.MLflow.SearchScope(ctx, p, k.kind)
			if err != nil {
				return f, err
			}
			*k.dst = scope{all: all, ids: ids}
		}
	}
	return f, nil
}

// sql is the condition; ids are integers, written inline.
func (f filter) sql() string {
	if f.all {
		return "1=1"
	}
	var or []string
	if len(f.repos) > 0 {
		or = append(or, "(d.scope_kind = '' AND d.repository_id IN ("+ints(f.repos)+"))")
	}
	for _, k := range []struct {
		kind string
		s    scope
	}{{scopeExperiment, f.experiments}, {scopeModel, f.models}} {
		switch {
		case k.s.all && len(k.s.ids) == 0:
			or = append(or, "d.scope_kind = '"+k.kind+"'")
		case k.s.all:
			or = append(or, "(d.scope_kind = '"+k.kind+"' AND d.scope_id NOT IN ("+ints(k.s.ids)+"))")
		case len(k.s.ids) > 0:
			or = append(or, "(d.scope_kind = '"+k.kind+"' AND d.scope_id IN ("+ints(k.s.ids)+"))")
		}
	}
	if len(or) == 0 {
		return "1=0"
	}
	return "(" + strings.Join(or, " OR ") + ")"
}

// readsRepo reports whether f admits the documents of repository id that
// have no scope of their own.
func (f filter) readsRepo(id int64) bool {
	if f.all {
		return true
	}
	for _, r := range f.repos {
		if r == id {
			return true
		}
	}
	return false
}

func ints(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}
