package npm

import (
	"context"
	"net/http"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// getTarball answers GET /<name>/-/<file>: from the hosted repository, the
// proxy's cache (downloading it once from the upstream), or the group
// member that answers for the package.
func (h *Handler) getTarball(c *call, name Name, file string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	leaf, _, err := h.resolve(ctx, rp, name, true, "", false, 0)
	if err != nil {
		return err
	}
	var digest string
	if leaf.Kind == repo.Proxy {
		digest, err = h.proxyTarball(ctx, leaf, name, file)
	} else {
		digest, err = h.hostedTarball(ctx, leaf, name, file)
	}
	if err != nil {
		return err
	}
	if err := repo.AllowDownload(ctx, h.gate, rp, repo.Download{Format: Format, Name: name.String(), Digest: digest}); err != nil {
		return err
	}
	return h.serveBlob(c, digest)
}

func (h *Handler) hostedTarball(ctx context.Context, rp *repo.Repository, name Name, file string) (string, error) {
	version := name.versionOfFile(file)
	if version == "" {
		return "", errs.E(errs.NotFound, "no tarball %s of package %s", truncate(file, 100), name)
	}
	v, err := h.store.version(ctx, h.db, rp.ID, name, version)
	if err != nil {
		return "", err
	}
	h.downloads.Touch(rp.ID, name.String()+"@"+version)
	return v.Digest, nil
}

// serveBlob writes a tarball, with ranges and conditional requests.
func (h *Handler) serveBlob(c *call, digest string) error {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := h.blobs.Open(c.r.Context(), d)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.Wrap(err, errs.Internal, "stored tarball is missing its content")
		}
		return err
	}
	defer rd.Close()
	hdr := c.w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", `"`+d.Hex()+`"`)
	hdr.Set("Accept-Ranges", "bytes")
	http.ServeContent(c.w, c.r, "", rd.ModTime, rd)
	return nil
}
