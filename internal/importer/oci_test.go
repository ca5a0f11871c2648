package importer_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/importer"
)

// registry reaches an arca's OCI surface with go-containerregistry.
type registry struct {
	host string
	opts []remote.Option
}

func arcaRegistry(s *apptest.Server) registry {
	u, _ := url.Parse(s.URL)
	return registry{host: u.Host, opts: []remote.Option{remote.WithAuth(&authn.Basic{Username: "admin", Password: apptest.AdminPassword})}}
}

func (r registry) ref(t testing.TB, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r registry) digest(t testing.TB, s string) (v1.Hash, error) {
	d, err := remote.Head(r.ref(t, s), r.opts...)
	if err != nil {
		return v1.Hash{}, err
	}
	return d.Digest, nil
}

// ociFixture is what the source registry holds.
type ociFixture struct {
	app, index, sig v1.Hash
	children        []v1.Hash
	appImage        v1.Image
}

// pushFixture pushes to src: an image (one segment name), a two-platform
// index (Harbor-like project/repo), and a signature-like referrer of the
// index.
func pushFixture(t *testing.T, s *apptest.Server) ociFixture {
	t.Helper()
	if resp, body := s.Do(t, "POST", "/api/v1/repositories", "admin:"+apptest.AdminPassword,
		strings.NewReader(`{"name":"team","format":"oci"}`)); resp.StatusCode != 201 {
		t.Fatalf("creating repository team: %d %s", resp.StatusCode, body)
	}
	src := arcaRegistry(s)
	var f ociFixture
	img, err := random.Image(8192, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(src.ref(t, "library/app:1.0"), img, src.opts...); err != nil {
		t.Fatal(err)
	}
	f.app, _ = img.Digest()
	f.appImage = img
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		im, err := random.Image(2048, 1)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: im, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		d, _ := im.Digest()
		f.children = append(f.children, d)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if err := remote.WriteIndex(src.ref(t, "team/multi:1"), idx, src.opts...); err != nil {
		t.Fatal(err)
	}
	f.index, _ = idx.Digest()
	raw, _ := idx.RawManifest()
	sig := mutate.Subject(mutate.MediaType(mutate.ConfigMediaType(empty.Image, "application/vnd.example.signature"), types.OCIManifestSchema1),
		v1.Descriptor{MediaType: types.OCIImageIndex, Digest: f.index, Size: int64(len(raw))}).(v1.Image)
	f.sig, _ = sig.Digest()
	if err := remote.Write(src.ref(t, "team/multi@"+f.sig.String()), sig, src.opts...); err != nil {
		t.Fatal(err)
	}
	return f
}

func noScanOnPush(c *config.Config) { c.Scan.OnPush = false }

func ociSource(s *apptest.Server) importer.OCISource {
	return importer.OCISource{URL: s.URL, Username: "admin", Password: apptest.AdminPassword}
}

// TestOCIImport: a dry run plans and writes nothing; the import brings
// every tag, the index's children and the referrer with their digests;
// a second run skips everything.
func TestOCIImport(t *testing.T) {
	apptest.EachWith(t, noScanOnPush, func(t *testing.T, dst *apptest.Server) {
		src := apptest.Start(t, "", nil)
		f := pushFixture(t, src)
		d := arcaRegistry(dst)
		target := importer.Target{Handler: dst.Handler()}
		ctx := context.Background()

		r := importer.NewReport("oci", importer.Options{DryRun: true})
		if err := importer.OCI(ctx, target, ociSource(src), importer.Options{DryRun: true}, r); err != nil {
			t.Fatal(err)
		}
		// library exists by default; team is planned.
		if got := r.Totals[importer.Planned].Items; got != 4 { // repository team, two tags, one referrer
			t.Fatalf("dry run planned %d items: %+v", got, r.Items)
		}
		if r.Totals[importer.Planned].Bytes < 8192*2 || r.Totals[importer.Imported].Items != 0 {
			t.Fatalf("dry run totals = %+v", r.Totals)
		}
		if resp, _ := dst.Do(t, "GET", "/api/v1/repositories/team", "admin:"+apptest.AdminPassword, nil); resp.StatusCode != 404 {
			t.Fatalf("the dry run created repository team: %d", resp.StatusCode)
		}
		if _, err := d.digest(t, "library/app:1.0"); err == nil {
			t.Fatal("the dry run imported library/app:1.0")
		}

		r = importer.NewReport("oci", importer.Options{})
		if err := importer.OCI(ctx, target, ociSource(src), importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Failures() != 0 || r.Totals[importer.Imported].Items != 4 {
			t.Fatalf("import: %+v", r.Items)
		}
		for ref, want := range map[string]v1.Hash{
			"library/app:1.0": f.app, "team/multi:1": f.index, "team/multi@" + f.sig.String(): f.sig,
			"team/multi@" + f.children[0].String(): f.children[0], "team/multi@" + f.children[1].String(): f.children[1],
		} {
			if got, err := d.digest(t, ref); err != nil || got != want {
				t.Errorf("%s = %v, %v; want %s", ref, got, err, want)
			}
		}
		refs, err := remote.Referrers(d.ref(t, "team/multi@"+f.index.String()).(name.Digest), d.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := refs.IndexManifest(); len(m.Manifests) != 1 || m.Manifests[0].Digest != f.sig {
			t.Fatalf("referrers in arca = %+v", m)
		}

		r = importer.NewReport("oci", importer.Options{})
		if err := importer.OCI(ctx, target, ociSource(src), importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Totals[importer.Imported].Items != 0 || r.Totals[importer.Present].Items != 3 || r.Failures() != 0 {
			t.Fatalf("second run: %+v", r.Items)
		}

		// A new tag whose layers arca has: only its manifest and config move.
		cf, _ := f.appImage.ConfigFile()
		cf.Config.Labels = map[string]string{"version": "1.1"}
		img11, err := mutate.ConfigFile(f.appImage, cf)
		if err != nil {
			t.Fatal(err)
		}
		s := arcaRegistry(src)
		if err := remote.Write(s.ref(t, "library/app:1.1"), img11, s.opts...); err != nil {
			t.Fatal(err)
		}
		r = importer.NewReport("oci", importer.Options{})
		if err := importer.OCI(ctx, target, ociSource(src), importer.Options{}, r); err != nil {
			t.Fatal(err)
		}
		if r.Totals[importer.Imported].Items != 1 || r.Totals[importer.Imported].Bytes > 4096 || r.Failures() != 0 {
			t.Fatalf("a tag sharing its layers moved %d bytes (layers of 8192): %+v", r.Totals[importer.Imported].Bytes, r.Items)
		}
		want11, _ := img11.Digest()
		if got, err := d.digest(t, "library/app:1.1"); err != nil || got != want11 {
			t.Fatalf("library/app:1.1 = %v %v", got, err)
		}
	})
}

// TestOCIImportResumes: an import interrupted after its first manifest
// is resumed by running it again: what arrived is skipped, the rest comes.
func TestOCIImportResumes(t *testing.T) {
	dst := apptest.Start(t, "", noScanOnPush)
	src := apptest.Start(t, "", nil)
	f := pushFixture(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var manifests atomic.Int32
	h := dst.Handler()
	interrupting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && manifests.Add(1) == 1 {
			cancel() // as Ctrl-C would, right after the first manifest landed
		}
	})
	r := importer.NewReport("oci", importer.Options{})
	err := importer.OCI(ctx, importer.Target{Handler: interrupting}, ociSource(src), importer.Options{}, r)
	if err == nil {
		t.Fatalf("the interrupted import returned no error: %+v", r.Items)
	}
	d := arcaRegistry(dst)
	if _, err := d.digest(t, "team/multi:1"); err == nil {
		t.Fatal("team/multi:1 arrived before the interruption")
	}
	r = importer.NewReport("oci", importer.Options{})
	if err := importer.OCI(context.Background(), importer.Target{Handler: dst.Handler()}, ociSource(src), importer.Options{}, r); err != nil {
		t.Fatal(err)
	}
	if r.Failures() != 0 || r.Totals[importer.Present].Items != 1 || r.Totals[importer.Imported].Items != 3 {
		t.Fatalf("resumed import: %+v", r.Items)
	}
	for ref, want := range map[string]v1.Hash{"library/app:1.0": f.app, "team/multi:1": f.index, "team/multi@" + f.sig.String(): f.sig} {
		if got, err := d.digest(t, ref); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %s", ref, got, err, want)
		}
	}
}
