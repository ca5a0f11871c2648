package repo

import "context"

// Download is content a surface is about to serve from a repository.
type Download struct {
	Format string // oci, pypi, npm
	// Name is the image, project or package.
	Name string
	// Digest is the content's sha256 digest ("sha256:..."): a manifest, a
	// layer or config blob, a distribution file, a tarball.
	Digest string
	// Blob is set for an OCI blob (a layer or config), which policies
	// judge by the manifests of the image that list it.
	Blob bool
}

// DownloadGate decides whether content may be downloaded (vulnerability
// policies, internal/scan). Surfaces call it after authorizing a read
// and before serving; its error is answered in the surface's own format.
// A nil gate allows everything.
type DownloadGate interface {
	AllowDownload(ctx context.Context, r *Repository, d Download) error
}

// AllowDownload asks g, allowing everything when g is nil.
func AllowDownload(ctx context.Context, g DownloadGate, r *Repository, d Download) error {
	if g == nil {
		return nil
	}
	return g.AllowDownload(ctx, r, d)
}
