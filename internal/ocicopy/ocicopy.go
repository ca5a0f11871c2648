// Package ocicopy copies OCI content between registries through the
// distribution API, with go-containerregistry as the client of both
// sides: it speaks the token and Basic auth flows of any registry,
// uploads only the blobs a HEAD finds missing at the destination, and
// keeps manifests byte for byte (so digests are preserved). Replication
// and `arca import oci` share it; arca's own side is reached in process
// (internal/inproc) through its OCI handlers.
package ocicopy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Endpoint is how to reach one registry.
type Endpoint struct {
	URL                *url.URL // scheme and host; http means a plain-HTTP registry
	Username, Password string   // Basic credentials, also used for the token flow; none for anonymous
	Transport          http.RoundTripper
	// Prefix is the namespace of the images in the registry ("" or a
	// path without a trailing /): image names are relative to it.
	Prefix string
}

// Registry is one open registry.
type Registry struct {
	reg    name.Registry
	prefix string
	opts   []remote.Option
}

// Open prepares a registry's client; it sends nothing yet.
func Open(ctx context.Context, e Endpoint) (*Registry, error) {
	var nopts []name.Option
	if e.URL.Scheme == "http" {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(e.URL.Host, nopts...)
	if err != nil {
		return nil, err
	}
	var a authn.Authenticator = authn.Anonymous
	if e.Username != "" || e.Password != "" {
		a = &authn.Basic{Username: e.Username, Password: e.Password}
	}
	t := e.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return &Registry{reg: reg, prefix: strings.Trim(e.Prefix, "/"),
		opts: []remote.Option{remote.WithContext(ctx), remote.WithTransport(t), remote.WithAuth(a)}}, nil
}

// Repo is an image's repository in the registry.
func (r *Registry) Repo(image string) name.Repository {
	if r.prefix == "" {
		return r.reg.Repo(image)
	}
	return r.reg.Repo(r.prefix + "/" + image)
}

// Images lists the images below the registry's namespace (its
// /v2/_catalog, every page), as names relative to it.
func (r *Registry) Images(ctx context.Context) ([]string, error) {
	all, err := remote.Catalog(ctx, r.reg, r.opts...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if r.prefix == "" {
			out = append(out, n)
		} else if rel, ok := strings.CutPrefix(n, r.prefix+"/"); ok {
			out = append(out, rel)
		}
	}
	return out, nil
}

// Tags lists an image's tags; an image that does not exist has none.
func (r *Registry) Tags(image string) ([]string, error) {
	tags, err := remote.List(r.Repo(image), r.opts...)
	if IsNotFound(err) {
		return nil, nil
	}
	return tags, err
}

// IsNotFound reports whether err is a registry's 404.
func IsNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Ref is image:tag, or image@digest when ref is a digest.
func (r *Registry) Ref(image, ref string) (name.Reference, error) {
	if strings.HasPrefix(ref, "sha256:") {
		return name.NewDigest(r.Repo(image).Name()+"@"+ref, r.nameOpts()...)
	}
	return name.NewTag(r.Repo(image).Name()+":"+ref, r.nameOpts()...)
}

func (r *Registry) nameOpts() []name.Option {
	if r.reg.Scheme() == "http" {
		return []name.Option{name.WeakValidation, name.Insecure}
	}
	return []name.Option{name.WeakValidation}
}

// Get fetches the manifest ref points at (kept byte for byte).
func (r *Registry) Get(image, ref string) (*remote.Descriptor, error) {
	src, err := r.Ref(image, ref)
	if err != nil {
		return nil, err
	}
	return remote.Get(src, r.opts...)
}

// Head returns the descriptor of what ref points at, without its body.
func (r *Registry) Head(image, ref string) (*v1.Descriptor, error) {
	dst, err := r.Ref(image, ref)
	if err != nil {
		return nil, err
	}
	return remote.Head(dst, r.opts...)
}

// HasBlob reports whether the registry has the blob in image's repository.
func (r *Registry) HasBlob(image string, d v1.Hash) (bool, error) {
	l, err := remote.Layer(r.Repo(image).Digest(d.String()), r.opts...)
	if err != nil {
		return false, err
	}
	_, err = l.Size() // a HEAD of the blob
	if IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Copy copies what srcImage:ref (or @digest) points at in src to
// dstImage in dst under the same tag or digest: an index with every
// child manifest, an image with its config and layers; blobs dst already
// has are not sent. present reports that dst had the same manifest
// already, so nothing moved. desc is the source's manifest (nil when it
// could not be read).
func Copy(src, dst *Registry, srcImage, dstImage, ref string) (desc *remote.Descriptor, present bool, err error) {
	desc, err = src.Get(srcImage, ref)
	if err != nil {
		return nil, false, err
	}
	if have, err := dst.Head(dstImage, ref); err == nil && have.Digest == desc.Digest {
		return desc, true, nil
	}
	to, err := dst.Ref(dstImage, ref)
	if err != nil {
		return desc, false, err
	}
	return desc, false, remote.Push(to, desc, dst.opts...)
}

// Referrers lists the manifests that refer to digest in image: the
// Referrers API where the registry has it, the tag schema
// (sha256-<hex>) where it does not.
func (r *Registry) Referrers(image string, digest v1.Hash) ([]v1.Descriptor, error) {
	d, err := name.NewDigest(r.Repo(image).Name()+"@"+digest.String(), r.nameOpts()...)
	if err != nil {
		return nil, err
	}
	idx, err := remote.Referrers(d, r.opts...)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	return m.Manifests, nil
}

// Delete removes a tag (or a digest). Registries that refuse to delete by
// tag (distribution) get the tag's manifest deleted by digest. gone
// reports that there was nothing to delete.
func (r *Registry) Delete(image, ref string) (gone bool, err error) {
	dst, err := r.Ref(image, ref)
	if err != nil {
		return false, err
	}
	have, err := remote.Head(dst, r.opts...)
	if IsNotFound(err) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	err = remote.Delete(dst, r.opts...)
	if err != nil && !strings.HasPrefix(ref, "sha256:") {
		var byDigest name.Reference
		if byDigest, err = r.Ref(image, have.Digest.String()); err == nil {
			err = remote.Delete(byDigest, r.opts...)
		}
	}
	if IsNotFound(err) {
		err = nil
	}
	return false, err
}

// IsReferrersTag reports whether tag is the referrers tag schema's
// (sha256-<64 hex>): an index of referrers a registry without the
// Referrers API keeps, not a tag anyone pushed.
func IsReferrersTag(tag string) bool {
	hex, ok := strings.CutPrefix(tag, "sha256-")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
