package ui

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Browse is a listing of one prefix of a raw repository or a bucket.
type Browse struct {
	Prefix  string
	Crumbs  []crumb // the prefix's parts, each a link
	Entries []Entry
	Next    string // the URL of the next page, or ""
	Base    string // the repository page's URL
	RawURL  string // a raw repository's client URL prefix (/raw/<repo>/)
}

// browse lists the entries under ?prefix= (a directory of a raw
// repository, a common prefix of a bucket), after ?after=.
func (h *Handler) browse(ctx context.Context, r *http.Request, rp *repo.Repository, pg *Pager) (*Browse, error) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if rp.Format == "s3" {
		if err := h.auth.AuthorizeObjects(ctx, auth.From(ctx), rp, auth.Read, auth.ObjectScope{Prefix: prefix}); err != nil {
			return nil, err
		}
	}
	b := &Browse{Prefix: prefix, Base: "/ui/repositories/" + url.PathEscape(rp.Name)}
	if rp.Format == "raw" {
		b.RawURL = h.baseURL(r) + "/raw/" + rp.Name + "/"
	}
	entries, more, err := h.listEntries(ctx, tableOf(rp.Format), rp.ID, prefix, q.Get("after"), pg.Size)
	if err != nil {
		return nil, err
	}
	b.Entries = entries
	if more {
		v := url.Values{"after": {entries[len(entries)-1].Path}}
		if prefix != "" {
			v.Set("prefix", prefix)
		}
		b.Next = b.Base + "?" + v.Encode()
	}
	b.Crumbs = append(b.Crumbs, crumb{Label: rp.Name, Href: b.Base})
	acc := ""
	parts := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	for i, p := range parts {
		if p == "" && i == 0 {
			break
		}
		acc += p + "/"
		c := crumb{Label: p}
		if i < len(parts)-1 {
			c.Href = b.Base + "?prefix=" + url.QueryEscape(acc)
		}
		b.Crumbs = append(b.Crumbs, c)
	}
	if prefix == "" {
		b.Crumbs[0].Href = ""
	}
	return b, nil
}

// download serves a raw file or an S3 object (?path=) from the blob store
// to a viewer who may read the repository. It is always an attachment and
// sandboxed, so content uploaded by someone cannot run as this site.
func (h *Handler) download(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.readable(ctx, r)
	if err != nil {
		return err
	}
	p := r.URL.Query().Get("path")
	if rp.Format == "maven" {
		f, ok, err := h.mavenFile(ctx, rp, p)
		if err != nil {
			return err
		}
		if !ok {
			return errs.E(errs.NotFound, "There is no file %q in %s.", p, rp.Name)
		}
		return h.serveAttachment(w, r, f.Digest, f.ContentType, path.Base(p), f.Modified)
	}
	if rp.Format != "raw" && rp.Format != "s3" {
		return errs.E(errs.NotFound, "%s holds no files to download here.", rp.Name)
	}
	if rp.Format == "s3" {
		if err := h.auth.AuthorizeObjects(ctx, auth.From(ctx), rp, auth.Read, auth.ObjectScope{Key: p}); err != nil {
			return err
		}
	}
	f, ok, err := h.fileInfo(ctx, tableOf(rp.Format), rp.ID, p)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "There is no file %q in %s.", p, rp.Name)
	}
	return h.serveAttachment(w, r, f.Digest, f.ContentType, path.Base(p), f.Modified)
}

// serveAttachment sends a blob as a download: an attachment named name,
// sandboxed so that a stored HTML or SVG file cannot run as the UI's
// origin, with ranges and conditional requests.
func (h *Handler) serveAttachment(w http.ResponseWriter, r *http.Request, digest, contentType, name string, modified int64) error {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return err
	}
	rd, err := h.Blobs.Open(r.Context(), d)
	if errs.Is(err, errs.NotFound) {
		return errs.Wrap(err, errs.Internal, "stored file is missing its content")
	}
	if err != nil {
		return err
	}
	defer rd.Close()
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("ETag", `"`+d.Hex()+`"`)
	hd.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", time.UnixMilli(modified), rd)
	return nil
}
