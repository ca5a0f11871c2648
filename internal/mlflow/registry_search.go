package mlflow

import (
	"context"
	"net/http"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// Searching registered models and model versions. The filter, order and
// page token grammar is package search's; this file pages through its
// results, leaving out models the caller may not read, as MLflow's auth
// does: a page is refilled from the following rows until it is full, and
// the page token points after the last row looked at.

// searchRegisteredModels answers GET registered-models/search.
func (h *Handler) searchRegisteredModels(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Filter     string   `json:"filter"`
		MaxResults *Int64   `json:"max_results"`
		OrderBy    []string `json:"order_by"`
		PageToken  string   `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	limit, err := registryPageSize(req.MaxResults, defaultRegisteredModelPage, maxRegisteredModelPage)
	if err != nil {
		return err
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	fetch := func(offset, limit int) ([]int64, error) {
		q, err := search.RegisteredModels(search.RegisteredModelsRequest{Filter: req.Filter, OrderBy: req.OrderBy, Offset: offset, Limit: limit})
		if err != nil {
			return nil, err
		}
		var ids []int64
		err = regEach(ctx, h.db, q.SQL, q.Args, func(sc regScanner) error {
			var id int64
			if err := sc.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		})
		return ids, err
	}
	readable, err := h.modelReadability(ctx)
	if err != nil {
		return err
	}
	ids, end, more, err := readablePage(offset, limit, fetch, func(ids []int64) ([]bool, error) { return readable(ids) })
	if err != nil {
		return err
	}
	models, err := loadRegisteredModels(ctx, h.db, ids)
	if err != nil {
		return err
	}
	return reply(w, struct {
		RegisteredModels []*RegisteredModel `json:"registered_models,omitempty"`
		NextPageToken    string             `json:"next_page_token,omitempty"`
	}{models, nextPageToken(end, more)})
}

// searchModelVersions answers GET model-versions/search.
func (h *Handler) searchModelVersions(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Filter     string   `json:"filter"`
		MaxResults *Int64   `json:"max_results"`
		OrderBy    []string `json:"order_by"`
		PageToken  string   `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	limit, err := registryPageSize(req.MaxResults, defaultModelVersionPage, maxModelVersionPage)
	if err != nil {
		return err
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	query := func(offset, limit int) (search.Query, error) {
		return search.ModelVersions(search.ModelVersionsRequest{Filter: req.Filter, OrderBy: req.OrderBy, Offset: offset, Limit: limit})
	}
	fetch := func(offset, limit int) ([]versionKey, error) {
		q, err := query(offset, limit)
		if err != nil {
			return nil, err
		}
		var keys []versionKey
		err = regEach(ctx, h.db, q.SQL, q.Args, func(sc regScanner) error {
			var k versionKey
			if err := sc.Scan(&k.Model, &k.Version); err != nil {
				return err
			}
			keys = append(keys, k)
			return nil
		})
		return keys, err
	}
	readable, err := h.modelReadability(ctx)
	if err != nil {
		return err
	}
	keys, end, more, err := readablePage(offset, limit, fetch, func(keys []versionKey) ([]bool, error) {
		ids := make([]int64, len(keys))
		for i, k := range keys {
			ids[i] = k.Model
		}
		return readable(ids)
	})
	if err != nil {
		return err
	}
	out := make([]*ModelVersion, 0, len(keys))
	if len(keys) > 0 {
		// The rows looked at, loaded whole by the search's own query: a
		// page of any size is a few statements.
		q, err := query(offset, end-offset)
		if err != nil {
			return err
		}
		found, err := loadVersionSet(ctx, h.db, versionSelection{q.SQL, q.Args})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if v := found[k]; v != nil { // nil: deleted or moved since the search
				out = append(out, v)
			}
		}
	}
	return reply(w, struct {
		ModelVersions []*ModelVersion `json:"model_versions,omitempty"`
		NextPageToken string          `json:"next_page_token,omitempty"`
	}{out, nextPageToken(end, more)})
}

// registryPageSize reads max_results: def when left out, else 1 to max.
func registryPageSize(n *Int64, def, max int) (int, error) {
	if n == nil {
		return def, nil
	}
	switch {
	case *n < 1:
		return 0, invalidParam("Invalid value for max_results. It must be a positive integer, but got %d", *n)
	case *n > Int64(max):
		return 0, invalidParam("Invalid value for request parameter max_results. It must be at most %d, but got value %d", max, *n)
	}
	return int(*n), nil
}

// readablePage collects up to limit rows the caller may read, starting at
// offset: fetch returns rows of the search from an offset, readable says
// which of them the caller may see. It returns the rows, the offset after
// the last row looked at, and whether rows remain after it.
func readablePage[T any](offset, limit int, fetch func(offset, limit int) ([]T, error), readable func([]T) ([]bool, error)) ([]T, int, bool, error) {
	var out []T
	pos := offset
	for len(out) < limit {
		want := limit - len(out)
		rows, err := fetch(pos, want+1)
		if err != nil {
			return nil, 0, false, err
		}
		more := len(rows) > want
		if more {
			rows = rows[:want]
		}
		ok, err := readable(rows)
		if err != nil {
			return nil, 0, false, err
		}
		for i, row := range rows {
			if ok[i] {
				out = append(out, row)
			}
		}
		pos += len(rows)
		if !more {
			return out, pos, false, nil
		}
	}
	return out, pos, true, nil
}

// nextPageToken is the token of the page at end, or "" when no rows
// remain.
func nextPageToken(end int, more bool) string {
	if !more {
		return ""
	}
	return search.EncodePageToken(end)
}

// modelReadability returns a function that says which registered models
// (by internal id) the caller may read: an explicit MLflow permission on
// the model where there is one, else the caller's default on the space.
func (h *Handler) modelReadability(ctx context.Context) (func(ids []int64) ([]bool, error), error) {
	p := auth.From(ctx)
	def, err := h.permission(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	all := func(ids []int64) ([]bool, error) {
		ok := make([]bool, len(ids))
		for i := range ok {
			ok[i] = def >= Read
		}
		return ok, nil
	}
	if p.Anonymous() && def < Read {
		return nil, errs.E(errs.Unauthenticated, "authentication required").WithCode(codeUnauthenticated)
	}
	if p.IsAdmin() || p.Anonymous() {
		return all, nil
	}
	return func(ids []int64) ([]bool, error) {
		explicit := map[int64]Permission{}
		uniq := uniqueIDs(ids)
		for start := 0; start < len(uniq); start += idChunk {
			chunk := uniq[start:min(start+idChunk, len(uniq))]
			args := append([]any{registeredModelResource, p.UserID}, regIDArgs(chunk)...)
			err := regEach(ctx, h.db, `SELECT resource_id, permission FROM mlflow_permissions
				WHERE resource_kind = $1 AND user_id = $2 AND resource_id IN (`+regInList(3, len(chunk))+`)`, args, func(sc regScanner) error {
				var id int64
				var s string
				if err := sc.Scan(&id, &s); err != nil {
					return err
				}
				perm, err := ParsePermission(s)
				if err != nil {
					return err
				}
				explicit[id] = perm
				return nil
			})
			if err != nil {
				return nil, meta.Err(err)
			}
		}
		ok := make([]bool, len(ids))
		for i, id := range ids {
			perm, found := explicit[id]
			if !found {
				perm = def
			}
			ok[i] = perm >= Read
		}
		return ok, nil
	}, nil
}

func uniqueIDs(ids []int64) []int64 {
	seen := make(map[int64]bool, len(ids))
	var out []int64
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
