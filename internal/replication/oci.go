package replication

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ociRep replicates an OCI repository through the distribution API, with
// go-containerregistry as the client of both sides: it speaks the token
// and Basic auth flows of any registry, and uploads only the blobs a HEAD
// finds missing at the destination.
type ociRep struct {
	src, dst *ociSide
}

// ociSide is one registry and the namespace of the policy in it.
type ociSide struct {
	reg    name.Registry
	prefix string // "" or the namespace of the images, without a trailing /
	opts   []remote.Option
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

func openOCISide(ctx context.Context, sd *side) (*ociSide, error) {
	var nopts []name.Option
	if sd.base.Scheme == "http" {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(sd.base.Host, nopts...)
	if err != nil {
		return nil, err
	}
	var a authn.Authenticator = authn.Anonymous
	if sd.username != "" || sd.password != "" {
		a = &authn.Basic{Username: sd.username, Password: sd.password}
	}
	return &ociSide{reg: reg, prefix: strings.Trim(sd.repository, "/"),
		opts: []remote.Option{remote.WithContext(ctx), remote.WithTransport(sd.client.Transport), remote.WithAuth(a)}}, nil
}

func (o *ociSide) repo(image string) name.Repository {
	if o.prefix == "" {
		return o.reg.Repo(image)
	}
	return o.reg.Repo(o.prefix + "/" + image)
}

// images lists the images below the side's namespace, as names relative
// to it.
func (o *ociSide) images(ctx context.Context) ([]string, error) {
	all, err := remote.Catalog(ctx, o.reg, o.opts...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if o.prefix == "" {
			out = append(out, n)
		} else if rel, ok := strings.CutPrefix(n, o.prefix+"/"); ok {
			out = append(out, rel)
		}
	}
	return out, nil
}

// tags lists an image's tags; an image that does not exist has none.
func (o *ociSide) tags(image string) ([]string, error) {
	tags, err := remote.List(o.repo(image), o.opts...)
	if isNotFound(err) {
		return nil, nil
	}
	return tags, err
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

func (r *ociRep) sync(ctx context.Context, rc *runCtx) error {
	images, err := r.src.images(ctx)
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, image := range images {
		if !matchAny(f.Names, image) {
			continue
		}
		tags, err := r.src.tags(image)
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
	images, err := r.dst.images(ctx)
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, image := range images {
		if !matchAny(f.Names, image) {
			continue
		}
		dstTags, err := r.dst.tags(image)
		if err != nil {
			rc.item(image, Errored, 0, err)
			continue
		}
		var srcTags []string
		if slices.Contains(srcImages, image) {
			if srcTags, err = r.src.tags(image); err != nil {
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

func (o *ociSide) ref(image, ref string) (name.Reference, error) {
	if strings.HasPrefix(ref, "sha256:") {
		return name.NewDigest(o.repo(image).Name()+"@"+ref, o.nameOpts()...)
	}
	return name.NewTag(o.repo(image).Name()+":"+ref, o.nameOpts()...)
}

func (o *ociSide) nameOpts() []name.Option {
	if o.reg.Scheme() == "http" {
		return []name.Option{name.WeakValidation, name.Insecure}
	}
	return []name.Option{name.WeakValidation}
}

// copy replicates one tag or digest of an image (and, when the policy
// follows referrers, what refers to it).
func (r *ociRep) copy(rc *runCtx, image, ref string) {
	item := image + ":" + ref
	if strings.HasPrefix(ref, "sha256:") {
		item = image + "@" + ref
	}
	var digest v1.Hash
	rc.copyMeasured(item, func() (bool, error) {
		src, err := r.src.ref(image, ref)
		if err != nil {
			return false, err
		}
		dst, err := r.dst.ref(image, ref)
		if err != nil {
			return false, err
		}
		desc, err := remote.Get(src, r.src.opts...)
		if err != nil {
			return false, err
		}
		digest = desc.Digest
		if have, err := remote.Head(dst, r.dst.opts...); err == nil && have.Digest == desc.Digest {
			return true, nil
		}
		return false, remote.Push(dst, desc, r.dst.opts...)
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
	d, err := name.NewDigest(r.src.repo(image).Name()+"@"+digest.String(), r.src.nameOpts()...)
	if err != nil {
		return
	}
	idx, err := remote.Referrers(d, r.src.opts...)
	if err != nil {
		rc.item(image+"@"+digest.String()+" referrers", Errored, 0, err)
		return
	}
	m, err := idx.IndexManifest()
	if err != nil {
		rc.item(image+"@"+digest.String()+" referrers", Errored, 0, err)
		return
	}
	for _, ref := range m.Manifests {
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
	dst, err := r.dst.ref(image, ref)
	if err != nil {
		rc.item(item, Errored, 0, err)
		return
	}
	have, err := remote.Head(dst, r.dst.opts...)
	if isNotFound(err) {
		rc.item(item, Skipped, 0, nil) // already gone
		return
	} else if err != nil {
		rc.item(item, Errored, 0, err)
		return
	}
	err = remote.Delete(dst, r.dst.opts...)
	if err != nil && !strings.HasPrefix(ref, "sha256:") {
		var byDigest name.Reference
		if byDigest, err = r.dst.ref(image, have.Digest.String()); err == nil {
			err = remote.Delete(byDigest, r.dst.opts...)
		}
	}
	if isNotFound(err) {
		err = nil
	}
	rc.item(item, Deleted, 0, err)
}
