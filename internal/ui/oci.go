package ui

import (
	"context"
	"database/sql"
	"io"
	"net/http"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

type imageData struct {
	Repo  *repo.Repository
	Image string
	Ref   string // host/repo/image, what pull commands start with
	Tags  []TagRow
	Pager *Pager
}

// image lists one image's tags with digests, sizes and pull commands.
func (h *Handler) image(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.readable(ctx, r)
	if err != nil {
		return err
	}
	if rp.Format != "oci" {
		return errs.E(errs.NotFound, "%s is not a container registry.", rp.Name)
	}
	name := r.PathValue("image")
	pg := newPager(r, 50)
	tags, err := h.ociTags(ctx, rp.ID, name, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	tags = tags[:pg.Keep(len(tags))]
	if len(tags) == 0 && pg.Page == 1 {
		if _, ok, err := h.ociAnyManifest(ctx, rp.ID, name); err != nil {
			return err
		} else if !ok {
			return errs.E(errs.NotFound, "There is no image %s in %s.", name, rp.Name)
		}
	}
	return h.page(w, r, "image", rp.Name+"/"+name, imageData{Repo: rp, Image: name,
		Ref: h.registryHost(r) + "/" + rp.Name + "/" + name, Tags: tags, Pager: pg})
}

// ociAnyManifest reports whether an image has any manifest, and one.
func (h *Handler) ociAnyManifest(ctx context.Context, repoID int64, image string) (string, bool, error) {
	var d string
	err := h.db.QueryRowContext(ctx, `SELECT digest FROM oci_manifests WHERE repository_id = $1 AND name = $2 LIMIT 1`, repoID, image).Scan(&d)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	return d, err == nil, meta.Err(err)
}

type manifestData struct {
	Repo      *repo.Repository
	Image     string
	Ref       string
	Manifest  ManifestRow
	Kind      string // image, index or artifact
	Doc       *ociDoc
	Config    *ociConfig
	Tags      []string
	Referrers []ManifestRow
	Children  []childRow // an index's manifests
	Total     int64      // an image's size: manifest, config and layers
}

type childRow struct {
	ociDescriptor
	Stored bool // the child is in this repository (a proxy fetches on demand)
}

// maxManifestRead bounds what the manifest page reads of a manifest or a
// configuration.
const maxManifestRead = 4 << 20

// manifest shows one manifest: an index's platforms, an image's config and
// layers, or an artifact's blobs; its tags and its referrers.
func (h *Handler) manifest(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.readable(ctx, r)
	if err != nil {
		return err
	}
	name, digest := r.PathValue("image"), r.PathValue("digest")
	if rp.Format != "oci" {
		return errs.E(errs.NotFound, "%s is not a container registry.", rp.Name)
	}
	m, ok, err := h.ociManifest(ctx, rp.ID, name, digest)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.NotFound, "There is no manifest %s in %s/%s.", digest, rp.Name, name)
	}
	d := manifestData{Repo: rp, Image: name, Ref: h.registryHost(r) + "/" + rp.Name + "/" + name, Manifest: m}
	raw, err := h.readBlob(ctx, m.Digest)
	if err != nil {
		return err
	}
	if d.Doc, err = parseOCIDoc(raw); err != nil {
		return errs.Wrap(err, errs.Internal, "manifest %s does not parse", m.Digest)
	}
	configType := ""
	if d.Doc.Config != nil {
		configType = d.Doc.Config.MediaType
	}
	d.Kind = kindOfManifest(m.MediaType, m.ArtifactType, configType)
	d.Total = m.Size
	for _, l := range d.Doc.Layers {
		d.Total += l.Size
	}
	if d.Doc.Config != nil {
		d.Total += d.Doc.Config.Size
		if d.Kind == "image" {
			if b, err := h.readBlob(ctx, d.Doc.Config.Digest); err == nil {
				d.Config, _ = parseOCIConfig(b)
			} else if !errs.Is(err, errs.NotFound) {
				return err
			}
		}
	}
	for _, c := range d.Doc.Manifests {
		_, stored, err := h.ociManifest(ctx, rp.ID, name, c.Digest)
		if err != nil {
			return err
		}
		d.Children = append(d.Children, childRow{ociDescriptor: c, Stored: stored})
	}
	if d.Tags, err = h.ociTagsOf(ctx, rp.ID, name, m.Digest); err != nil {
		return err
	}
	if d.Referrers, err = h.ociReferrers(ctx, rp.ID, name, m.Digest); err != nil {
		return err
	}
	return h.page(w, r, "manifest", rp.Name+"/"+name+"@"+shortDigest(m.Digest), d)
}

// readBlob reads a small blob (a manifest or a configuration) whole.
func (h *Handler) readBlob(ctx context.Context, digest string) ([]byte, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, err
	}
	rd, err := h.Blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	if rd.Size() > maxManifestRead {
		return nil, errs.E(errs.TooLarge, "%s is too large to show", digest)
	}
	return io.ReadAll(io.LimitReader(rd, maxManifestRead))
}
