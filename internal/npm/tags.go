package npm

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// listTags answers GET /-/package/<name>/dist-tags.
func (h *Handler) listTags(c *call, name Name) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	var tags map[string]string
	if rp.Kind == repo.Hosted {
		if _, err := h.store.pkg(ctx, h.db, rp.ID, name); err != nil {
			return err
		}
		tags, err = h.store.tags(ctx, h.db, rp.ID, name)
	} else {
		var p *packument
		p, err = h.readPackument(ctx, rp, name, true, h.tarballPrefix(c.r, rp))
		if err == nil {
			var doc struct {
				DistTags map[string]string `json:"dist-tags"`
			}
			json.Unmarshal(p.body, &doc)
			tags = doc.DistTags
		}
	}
	if err != nil {
		return err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	c.w.Header().Set("Cache-Control", "no-cache")
	return httpx.WriteJSON(c.w, http.StatusOK, tags)
}

// setTag answers PUT /-/package/<name>/dist-tags/<tag>, whose body is the
// version as a JSON string.
func (h *Handler) setTag(c *call, name Name, tag string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Write)
	if err != nil {
		return err
	}
	if err := checkTag(tag); err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 1025))
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "reading the request body failed")
	}
	var version string
	if len(b) > 1024 || json.Unmarshal(b, &version) != nil || version == "" {
		return errs.E(errs.Invalid, "the body must be the version as a JSON string, e.g. \"1.2.3\"")
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := h.store.touch(ctx, tx, rp.ID, name, 0); err != nil {
			return err
		}
		return setTag(ctx, tx, rp.ID, name, tag, version)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "npm.dist-tags", Repository: rp.Name, Subject: name.String(), RemoteAddr: c.r.RemoteAddr,
		Detail: map[string]any{"set": map[string]string{tag: version}}})
	return httpx.WriteJSON(c.w, http.StatusCreated, map[string]any{"ok": true})
}

// deleteTag answers DELETE /-/package/<name>/dist-tags/<tag>. The latest
// tag cannot be deleted: every package has one. Deleting a tag needs the
// maintainer role, as deleting an OCI tag does; setting or moving one is a
// developer's.
func (h *Handler) deleteTag(c *call, name Name, tag string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Delete)
	if err != nil {
		return err
	}
	if tag == "latest" {
		return errs.E(errs.Invalid, "the latest tag cannot be removed; point it at another version instead")
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := h.store.touch(ctx, tx, rp.ID, name, 0); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 AND tag = $3`, rp.ID, name.String(), tag)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.NotFound, "%s is not a dist-tag of %s", tag, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "npm.dist-tags", Repository: rp.Name, Subject: name.String(), RemoteAddr: c.r.RemoteAddr,
		Detail: map[string]any{"deleted": []string{tag}}})
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"ok": true})
}
