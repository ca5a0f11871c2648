package importer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/arcaproject/arca/internal/ocicopy"
	"github.com/arcaproject/arca/internal/repo"
)

// OCISource is a registry to import from: Harbor, distribution, or any
// registry with the distribution API.
type OCISource struct {
	URL                string // https://registry.example or http://host:port
	Username, Password string
	// Repositories are the source's repositories to import (project/repo
	// in Harbor); none means every one its /v2/_catalog lists.
	Repositories []string
	// Prefix, when set, is where below arca the images go: image
	// project/repo becomes <prefix>/project/repo. Without it the first
	// segment of each name is the arca repository (a Harbor project
	// becomes an arca repository of the same name), and a name of one
	// segment goes into the arca repository library.
	Prefix string
}

// ociReferrerDepth bounds how deep referrers of referrers are followed
// (a signature of an SBOM of an image).
const ociReferrerDepth = 3

// OCI imports every tag of the source's repositories, with what they
// refer to (the children of an index) and what refers to them (the
// Referrers API, or the sha256-<hex> tag schema), into arca's OCI
// repositories, through internal/ocicopy: manifests keep their bytes and
// digests, and blobs arca has already are not transferred again. A tag
// whose manifest arca has under the same tag is skipped.
func OCI(ctx context.Context, t Target, src OCISource, opts Options, r *Report) error {
	u, err := registryURL(src.URL)
	if err != nil {
		return err
	}
	prefix := strings.Trim(src.Prefix, "/")
	if prefix != "" {
		if err := repo.ValidateName(strings.SplitN(prefix, "/", 2)[0]); err != nil {
			return fmt.Errorf("--prefix: %w", err)
		}
	}
	sreg, err := ocicopy.Open(ctx, ocicopy.Endpoint{URL: u, Username: src.Username, Password: src.Password, Transport: t.fetch().Transport})
	if err != nil {
		return err
	}
	moved := new(atomic.Int64)
	local := t.local("oci", moved)
	dreg, err := ocicopy.Open(ctx, ocicopy.Endpoint{URL: localURL, Transport: local.Transport})
	if err != nil {
		return err
	}
	images := src.Repositories
	if len(images) == 0 {
		if images, err = sreg.Images(ctx); err != nil {
			return fmt.Errorf("listing the registry's repositories (/v2/_catalog; name them with --repos where it is not offered): %w", err)
		}
	}
	o := &ociImport{src: sreg, dst: dreg, local: local, moved: moved, opts: opts, r: r, repos: map[string]error{}}
	for _, image := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		o.image(ctx, strings.Trim(image, "/"), prefix)
	}
	return ctx.Err()
}

// registryURL parses a registry address; one without a scheme is https.
func registryURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("--url is required")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q: want http(s)://host[:port]", s)
	}
	return u, nil
}

// OCIDestination maps a source repository name to the arca repository
// and the image name below arca's /v2/ it is imported as.
func OCIDestination(image, prefix string) (arcaRepo, dstImage string) {
	switch {
	case prefix != "":
		dstImage = prefix + "/" + image
	case !strings.Contains(image, "/"):
		dstImage = "library/" + image
	default:
		dstImage = image
	}
	arcaRepo, _, _ = strings.Cut(dstImage, "/")
	return arcaRepo, dstImage
}

type ociImport struct {
	src, dst *ocicopy.Registry
	local    *http.Client
	moved    *atomic.Int64
	opts     Options
	r        *Report
	repos    map[string]error // arca repositories checked (nil) or refused
}

// image imports one source repository's tags.
func (o *ociImport) image(ctx context.Context, image, prefix string) {
	arcaRepo, dst := OCIDestination(image, prefix)
	if dst != image {
		o.r.Map("image", image, dst)
	}
	err, seen := o.repos[arcaRepo]
	if !seen {
		if err = repo.ValidateName(arcaRepo); err == nil {
			err = ensureRepository(ctx, o.local, arcaRepo, "oci", o.opts, o.r)
		}
		o.repos[arcaRepo] = err
	}
	if err != nil {
		o.r.Fail("image", image, err)
		return
	}
	tags, err := o.src.Tags(image)
	if err != nil {
		o.r.Fail("image", image, err)
		return
	}
	done := map[v1.Hash]bool{} // referrers imported for this image
	for _, tag := range tags {
		if ctx.Err() != nil {
			return
		}
		if ocicopy.IsReferrersTag(tag) {
			continue // the index of a registry without the Referrers API: its referrers come with their subject
		}
		if desc := o.manifest(image, dst, tag, "manifest"); desc != nil {
			o.referrers(ctx, image, dst, desc, done, 0)
		}
	}
}

// manifest imports image:ref (a tag or digest) as dst:ref and returns the
// source's manifest, nil when it failed.
func (o *ociImport) manifest(image, dst, ref, kind string) *remote.Descriptor {
	item := dst + ":" + ref
	if strings.HasPrefix(ref, "sha256:") {
		item = dst + "@" + ref
	}
	if o.opts.DryRun {
		return o.plan(image, dst, ref, kind, item)
	}
	before := o.moved.Load()
	desc, present, err := ocicopy.Copy(o.src, o.dst, image, dst, ref)
	switch {
	case err != nil:
		o.r.Fail(kind, item, err)
		return nil
	case present:
		o.r.Skipped(kind, item, 0)
	default:
		o.r.Imported(kind, item, o.moved.Load()-before)
	}
	return desc
}

// plan reports what importing image:ref would move: its manifests and
// the blobs arca lacks.
func (o *ociImport) plan(image, dst, ref, kind, item string) *remote.Descriptor {
	desc, err := o.src.Get(image, ref)
	if err != nil {
		o.r.Fail(kind, item, err)
		return nil
	}
	if have, err := o.dst.Head(dst, ref); err == nil && have.Digest == desc.Digest {
		o.r.Skipped(kind, item, 0)
		return desc
	}
	n, err := o.missingBytes(dst, desc)
	if err != nil {
		o.r.Fail(kind, item, err)
		return nil
	}
	o.r.Planned(kind, item, n)
	return desc
}

// missingBytes adds up a manifest's size and the sizes of the blobs (of
// every child, for an index) that arca lacks.
func (o *ociImport) missingBytes(dst string, desc *remote.Descriptor) (int64, error) {
	n := int64(len(desc.Manifest))
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return 0, err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return 0, err
		}
		for _, c := range m.Manifests {
			if c.MediaType.IsIndex() { // a nested index: its manifest only
				n += c.Size
				continue
			}
			img, err := idx.Image(c.Digest)
			if err != nil {
				return 0, err
			}
			k, err := o.imageBytes(dst, img)
			if err != nil {
				return 0, err
			}
			n += k
		}
		return n, nil
	}
	img, err := desc.Image()
	if err != nil {
		return 0, err
	}
	k, err := o.imageBytes(dst, img)
	return n + k - int64(len(desc.Manifest)), err
}

// imageBytes is an image's manifest size and the sizes of its config and
// layers arca lacks.
func (o *ociImport) imageBytes(dst string, img v1.Image) (int64, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw))
	for _, b := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if have, err := o.dst.HasBlob(dst, b.Digest); err != nil {
			return 0, err
		} else if !have {
			n += b.Size
		}
	}
	return n, nil
}

// referrers imports what refers to desc (and, for an index, to its
// children), and what refers to those, a few levels deep.
func (o *ociImport) referrers(ctx context.Context, image, dst string, desc *remote.Descriptor, done map[v1.Hash]bool, depth int) {
	if depth >= ociReferrerDepth || ctx.Err() != nil {
		return
	}
	subjects := []v1.Hash{desc.Digest}
	if depth == 0 {
		subjects = append(subjects, children(desc)...)
	}
	for _, s := range subjects {
		refs, err := o.src.Referrers(image, s)
		if err != nil {
			o.r.Fail("referrers", image+"@"+s.String(), err)
			continue
		}
		for _, ref := range refs {
			if done[ref.Digest] {
				continue
			}
			done[ref.Digest] = true
			if d := o.manifest(image, dst, ref.Digest.String(), "referrer"); d != nil {
				o.referrers(ctx, image, dst, d, done, depth+1)
			}
		}
	}
}

// children lists the manifests of an index (none for an image).
func children(desc *remote.Descriptor) []v1.Hash {
	if !desc.MediaType.IsIndex() {
		return nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil
	}
	var out []v1.Hash
	for _, c := range m.Manifests {
		out = append(out, c.Digest)
	}
	return out
}
