package replication

import (
	"context"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/arcaproject/arca/internal/ocicopy"
)

// ociRep replicates an OCI repository through the distribution API with
// internal/ocicopy: the token and Basic auth flows of any registry,
// only the blobs a HEAD finds missing at the destination uploaded.
type ociRep struct {
	src, dst *ocicopy.Registry
}

func newOCI(ctx context.Context, src, dst *side) (*ociRep, error) {
	s, err := openOCISide(ctx, src)
	if err != nil {
		return nil, err
	}
	d, err := openOCISide(ctx, dst)
	if err != nil {
		return nil, err
	}
	return &ociRep{src: s, dst: d}, nil
}

func openOCISide(ctx context.Context, sd *side) (*ocicopy.Registry, error) {
	return ocicopy.Open(ctx, ocicopy.Endpoint{URL: sd.base, Username: sd.username, Password: sd.password,
		Transport: sd.client.Transport, Prefix: sd.repository})
}

func (r *ociRep) sync(ctx context.Context, rc *runCtx) error {
	images, err := r.src.Images(ctx)
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, image := range images {
		if !matchAny(f.Names, image) {
			continue
		}
		tags, err := r.src.Tags(image)
		if err != nil {
			rc.item(image, Errored, 0, err)
			continue
		}
		for _, tag := range tags {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if matchAny(f.Versions, tag) {
				r.copy(rc, image, tag)
			}
		}
	}
	if rc.p.Deletes {
		return r.prune(ctx, rc, images)
	}
	return nil
}

// prune deletes from the destination the selected tags the source does
// not have.
func (r *ociRep) prune(ctx context.Context, rc *runCtx, srcImages []string) error {
	images, err := r.dst.Images(ctx)
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, image := range images {
		if !matchAny(f.Names, image) {
			continue
		}
		dstTags, err := r.dst.Tags(image)
		if err != nil {
			rc.item(image, Errored, 0, err)
			continue
		}
		var srcTags []string
		if slices.Contains(srcImages, image) {
			if srcTags, err = r.src.Tags(image); err != nil {
				rc.item(image, Errored, 0, err)
				continue
			}
		}
		for _, tag := range dstTags {
			if matchAny(f.Versions, tag) && !slices.Contains(srcTags, tag) {
				r.delete(rc, image, tag)
			}
		}
	}
	return nil
}

func (r *ociRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	f := rc.p.Filter
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		image, ref, byDigest := splitImageRef(c.Item)
		if image == "" || !matchAny(f.Names, image) || (!byDigest && !matchAny(f.Versions, ref)) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			r.delete(rc, image, ref)
		case !c.Deleted:
			r.copy(rc, image, ref)
		}
	}
	return nil
}

// splitImageRef splits image:tag or image@digest.
func splitImageRef(s string) (image, ref string, byDigest bool) {
	if i := strings.LastIndex(s, "@"); i > 0 {
		return s[:i], s[i+1:], true
	}
	i := strings.LastIndex(s, ":")
	if i <= 0 || strings.Contains(s[i:], "/") {
		return "", "", false
	}
	return s[:i], s[i+1:], false
}

// copy replicates one tag or digest of an image (and, when the policy
// follows referrers, what refers to it).
func (r *ociRep) copy(rc *runCtx, image, ref string) {
	item := image + ":" + ref
	if strings.HasPrefix(ref, "sha256:") {
		item = image + "@" + ref
	}
	var digest v1.Hash
	rc.copyMeasured(item, func() (present bool, err error) {
		desc, present, err := ocicopy.Copy(r.src, r.dst, image, image, ref)
		if desc != nil {
			digest = desc.Digest
		}
		return present, err
	})
	if rc.p.Filter.Referrers && digest.Hex != "" {
		r.copyReferrers(rc, image, digest, 0)
	}
}

// copyReferrers copies the manifests that refer to digest, and theirs
// (a signature of an SBOM), a few levels deep.
func (r *ociRep) copyReferrers(rc *runCtx, image string, digest v1.Hash, depth int) {
	if depth > 3 {
		return
	}
	refs, err := r.src.Referrers(image, digest)
	if err != nil {
		rc.item(image+"@"+digest.String()+" referrers", Errored, 0, err)
		return
	}
	for _, ref := range refs {
		r.copy(&runCtx{s: rc.s, p: noReferrers(rc.p), run: rc.run, moved: rc.moved}, image, ref.Digest.String())
		r.copyReferrers(rc, image, ref.Digest, depth+1)
	}
}

// noReferrers is p without following referrers (copyReferrers recurses
// itself, bounded).
func noReferrers(p *Policy) *Policy {
	c := *p
	c.Filter.Referrers = false
	return &c
}

// delete removes a tag (or a digest) from the destination. Registries that
// refuse to delete by tag (distribution) get the tag's manifest deleted by
// digest.
func (r *ociRep) delete(rc *runCtx, image, ref string) {
	item := image + ":" + ref
	if strings.HasPrefix(ref, "sha256:") {
		item = image + "@" + ref
	}
	gone, err := r.dst.Delete(image, ref)
	if gone {
		rc.item(item, Skipped, 0, nil) // already gone
		return
	}
	rc.item(item, Deleted, 0, err)
}
