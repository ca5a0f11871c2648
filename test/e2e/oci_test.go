package e2e

// End-to-end tests of the OCI registry with the real clients: crane and oras
// (go install) and skopeo (Debian), installed by scripts/install-oci-clients.sh
// into $ARCA_TOOLS_BIN. Each test starts its own arca and drives it only
// through those clients (and curl for arca's own API), over 127.0.0.1.
//
// Every client runs with a fresh HOME and DOCKER_CONFIG, so no credentials
// leak in from the machine or between the identities a test uses.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	ociIndexType        = "application/vnd.oci.image.index.v1+json"
	ociManifestType     = "application/vnd.oci.image.manifest.v1+json"
	dockerListType      = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifestType  = "application/vnd.docker.distribution.manifest.v2+json"
	ociClientTimeout    = 2 * time.Minute
	ociPlatformAMD64    = "linux/amd64"
	ociPlatformARM64    = "linux/arm64"
	sbomArtifactType    = "application/vnd.example.sbom"
	sigArtifactType     = "application/vnd.example.signature"
	modelArtifactType   = "application/vnd.example.model"
	modelLayerMediaType = "application/vnd.example.model.layer.v1"
)

var ociPlatforms = []string{ociPlatformAMD64, ociPlatformARM64}

// TestOCICraneMultiPlatform builds a two-platform image index with crane
// (OCI media types, and again with Docker ones), copies it to another
// repository with crane copy, and pulls it back: equal digests and manifest
// bytes, each platform resolving to its own manifest and config, every
// layer's files intact, every blob of an OCI layout pull hashing to its name.
func TestOCICraneMultiPlatform(t *testing.T) {
	tools := needOCITools(t, "crane")
	s := StartServer(t, ServerOptions{})
	c := newOCIClient(t, s, tools)
	c.loginAdmin(s)

	for _, tc := range []struct {
		name   string
		docker bool
		tag    string
	}{
		{"oci", false, "multi"},
		{"docker", true, "docker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c.with(t)
			idx := c.buildIndex("library/src", tc.tag, tc.docker)

			// The index as pushed: its type, and one descriptor per platform
			// pointing at the platform's image.
			raw := c.crane("manifest", c.ref("library/src:"+tc.tag))
			if got := "sha256:" + sha256Hex([]byte(raw)); got != idx.digest {
				t.Fatalf("the index bytes hash to %s, but crane pushed %s", got, idx.digest)
			}
			wantIndex, wantChild := ociIndexType, ociManifestType
			if tc.docker {
				wantIndex, wantChild = dockerListType, dockerManifestType
			}
			ix := parseIndex(t, raw)
			if ix.MediaType != wantIndex {
				t.Errorf("index mediaType %q, want %q", ix.MediaType, wantIndex)
			}
			if len(ix.Manifests) != len(ociPlatforms) {
				t.Fatalf("index has %d manifests, want %d: %s", len(ix.Manifests), len(ociPlatforms), raw)
			}
			for _, d := range ix.Manifests {
				img, ok := idx.images[d.platform()]
				if !ok {
					t.Fatalf("index has a manifest for unexpected platform %q: %s", d.platform(), raw)
				}
				if d.Digest != img.digest || d.MediaType != wantChild {
					t.Errorf("index entry for %s: %s %s, want %s %s", d.platform(), d.MediaType, d.Digest, wantChild, img.digest)
				}
			}

			// crane copy to another repository: the same index, byte for byte,
			// no blob uploaded again (crane mounts each from the source).
			src, dst := c.ref("library/src:"+tc.tag), c.ref("library/dst:"+tc.tag)
			out, err := c.craneErr("copy", src, dst)
			if err != nil {
				t.Fatalf("crane copy %s %s: %v\n%s", src, dst, err, out)
			}
			if n := strings.Count(out, "mounted blob:") + strings.Count(out, "existing blob:"); n != 5 || strings.Contains(out, "pushed blob:") {
				t.Errorf("crane copy mounted or found %d blobs, want all 5 (2 configs, 3 layers) and none uploaded again:\n%s", n, out)
			}
			if d := c.digest(dst); d != idx.digest {
				t.Fatalf("crane digest of the copy = %s, want %s", d, idx.digest)
			}
			if got := c.crane("manifest", dst); got != raw {
				t.Fatalf("crane manifest of the copy differs from the source:\n%s\nvs\n%s", got, raw)
			}

			// Each platform of the copy: its manifest, its config, its files.
			for _, p := range ociPlatforms {
				img := idx.images[p]
				if d := c.digest("--platform", p, dst); d != img.digest {
					t.Errorf("crane digest --platform %s = %s, want %s", p, d, img.digest)
				}
				var cfg struct {
					OS           string `json:"os"`
					Architecture string `json:"architecture"`
					RootFS       struct {
						DiffIDs []string `json:"diff_ids"`
					} `json:"rootfs"`
				}
				mustUnmarshal(t, c.crane("config", "--platform", p, dst), &cfg)
				if cfg.OS+"/"+cfg.Architecture != p || len(cfg.RootFS.DiffIDs) != 2 {
					t.Errorf("config of %s: os/arch %s/%s with %d layers, want %s with 2", p, cfg.OS, cfg.Architecture, len(cfg.RootFS.DiffIDs), p)
				}
				c.checkExport(dst, p, img.files)
			}

			// A whole-index pull into an OCI layout: every blob there, each
			// verified against its digest.
			layout := filepath.Join(c.dir, "layout-"+tc.name)
			c.crane("pull", "--format", "oci", dst, layout)
			checkLayout(t, layout, idx.digest, 2+2+3) // 2 manifests, 2 configs, 3 distinct layers

			tags := strings.Fields(c.crane("ls", c.ref("library/dst")))
			if !slices.Contains(tags, tc.tag) {
				t.Errorf("crane ls library/dst = %v, want %q in it", tags, tc.tag)
			}
		})
	}

	repos := strings.Fields(c.crane("catalog", c.host))
	for _, want := range []string{"library/src", "library/dst"} {
		if !slices.Contains(repos, want) {
			t.Errorf("crane catalog = %v, want %q in it", repos, want)
		}
	}
}

// TestOCISkopeoCopy copies multi-platform indexes between repositories and
// through a local OCI layout with skopeo copy --all, and checks the copies
// with crane: equal digests where skopeo can keep them, equal platform
// manifests always, the files of each platform intact.
func TestOCISkopeoCopy(t *testing.T) {
	tools := needOCITools(t, "crane", "skopeo")
	s := StartServer(t, ServerOptions{})
	c := newOCIClient(t, s, tools)
	c.loginAdmin(s)
	creds := s.Cred()

	idx := c.buildIndex("library/src", "multi", false)
	docker := c.buildIndex("library/src", "docker", true)

	// skopeo reads the index the same as crane does.
	craneRaw := c.crane("manifest", c.ref("library/src:multi"))
	if raw := c.skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, c.docker("library/src:multi")); raw != craneRaw {
		t.Fatalf("skopeo inspect --raw differs from crane manifest:\n%s\nvs\n%s", raw, craneRaw)
	}

	copyAll := func(c *ociClient, preserve bool, from, to string) {
		c.t.Helper()
		args := []string{"copy", "--all", "--retry-times", "0"}
		if preserve {
			args = append(args, "--preserve-digests")
		}
		for _, r := range []struct{ flag, ref string }{{"src", from}, {"dest", to}} {
			if strings.HasPrefix(r.ref, "docker://") {
				args = append(args, "--"+r.flag+"-tls-verify=false", "--"+r.flag+"-creds", creds)
			}
		}
		c.skopeo(append(args, from, to)...)
	}

	t.Run("docker manifest list", func(t *testing.T) {
		c := c.with(t)
		copyAll(c, true, c.docker("library/src:docker"), c.docker("library/skopeo:docker"))
		if d := c.digest(c.ref("library/skopeo:docker")); d != docker.digest {
			t.Fatalf("digest of skopeo's copy = %s, want %s", d, docker.digest)
		}
		c.checkExport(c.ref("library/skopeo:docker"), ociPlatformARM64, docker.images[ociPlatformARM64].files)
	})

	// skopeo 1.9 (Debian 12) re-serializes an OCI index through image-spec
	// structs without the descriptor field artifactType that crane writes,
	// so it cannot copy crane's index with its digest kept ("Manifest list
	// must be converted ... Instructed to preserve digests"). An index
	// without that field it copies byte for byte; crane's own index it
	// copies with the platform manifests unchanged.
	plain := c.stripArtifactTypes("library/src:multi", "library/src:multi-plain")

	t.Run("oci index", func(t *testing.T) {
		c := c.with(t)
		copyAll(c, true, c.docker("library/src:multi-plain"), c.docker("library/skopeo:multi"))
		if d := c.digest(c.ref("library/skopeo:multi")); d != plain {
			t.Fatalf("digest of skopeo's copy = %s, want %s", d, plain)
		}
		for _, p := range ociPlatforms {
			if d := c.digest("--platform", p, c.ref("library/skopeo:multi")); d != idx.images[p].digest {
				t.Errorf("digest of %s in skopeo's copy = %s, want %s", p, d, idx.images[p].digest)
			}
		}
		c.checkExport(c.ref("library/skopeo:multi"), ociPlatformAMD64, idx.images[ociPlatformAMD64].files)

		// The platform view skopeo resolves from the index.
		var info struct {
			Digest       string `json:"Digest"`
			Architecture string `json:"Architecture"`
			OS           string `json:"Os"`
			Layers       []string
		}
		mustUnmarshal(t, c.skopeo("--override-os", "linux", "--override-arch", "arm64", "inspect",
			"--tls-verify=false", "--creds", creds, c.docker("library/skopeo:multi")), &info)
		// (Digest is the index's, which skopeo resolved the platform from.)
		var arm64 struct {
			Layers []ociDescriptor `json:"layers"`
		}
		mustUnmarshal(t, c.crane("manifest", c.ref("library/skopeo@"+idx.images[ociPlatformARM64].digest)), &arm64)
		var wantLayers []string
		for _, l := range arm64.Layers {
			wantLayers = append(wantLayers, l.Digest)
		}
		if info.Digest != plain || info.OS+"/"+info.Architecture != ociPlatformARM64 || !slices.Equal(info.Layers, wantLayers) || len(wantLayers) != 2 {
			t.Errorf("skopeo inspect linux/arm64: %+v, want digest %s, layers %v", info, plain, wantLayers)
		}
	})

	t.Run("crane index with artifactType", func(t *testing.T) {
		c := c.with(t)
		copyAll(c, false, c.docker("library/src:multi"), c.docker("library/skopeo:converted"))
		got := parseIndex(t, c.crane("manifest", c.ref("library/skopeo:converted")))
		if got.MediaType != ociIndexType || len(got.Manifests) != len(ociPlatforms) {
			t.Fatalf("skopeo's copy: %s with %d manifests, want an OCI index of %d", got.MediaType, len(got.Manifests), len(ociPlatforms))
		}
		for _, d := range got.Manifests {
			if img, ok := idx.images[d.platform()]; !ok || d.Digest != img.digest {
				t.Errorf("skopeo's copy lists %s for %q, want the source's manifest", d.Digest, d.platform())
			}
		}
	})

	t.Run("through an oci layout", func(t *testing.T) {
		c := c.with(t)
		layout := "oci:" + filepath.Join(c.dir, "skopeo-layout") + ":multi"
		copyAll(c, true, c.docker("library/src:multi-plain"), layout)
		copyAll(c, true, layout, c.docker("library/skopeo-rt:multi"))
		if d := c.digest(c.ref("library/skopeo-rt:multi")); d != plain {
			t.Fatalf("digest after the round trip through %s = %s, want %s", layout, d, plain)
		}
		c.checkExport(c.ref("library/skopeo-rt:multi"), ociPlatformARM64, idx.images[ociPlatformARM64].files)
	})
}

// TestOCIOrasArtifacts pushes an artifact with oras and pulls it back,
// attaches an SBOM to an image index and a signature to one of its
// platform manifests through the referrers API, finds both with oras
// discover (with and without an artifact type filter), pulls the SBOM back,
// and copies the index with its referrers with oras cp -r.
func TestOCIOrasArtifacts(t *testing.T) {
	tools := needOCITools(t, "crane", "oras")
	// Scanning on push would add an SBOM referrer of its own to each image
	// (internal/scan's tests discover those); here the referrers are the
	// test's.
	s := StartServer(t, ServerOptions{Env: []string{"ARCA_SCAN_ON_PUSH=false"}})
	c := newOCIClient(t, s, tools)
	c.loginAdmin(s)

	// An artifact of two files with an artifact type, pushed and pulled.
	files := map[string][]byte{
		"model.bin":  randomBytes(200 << 10),
		"README.txt": []byte("model card " + hex.EncodeToString(randomBytes(8)) + "\n"),
	}
	for name, b := range files {
		mustWriteFile(t, filepath.Join(c.dir, name), b)
	}
	pushed := c.orasDesc("push", "--artifact-type", modelArtifactType, "--annotation", "org.example.stage=test",
		c.ref("library/art:v1"), "model.bin:"+modelLayerMediaType, "README.txt:text/plain")
	if pushed.ArtifactType != modelArtifactType || pushed.MediaType != ociManifestType {
		t.Fatalf("oras push: %+v, want an OCI manifest of artifact type %s", pushed, modelArtifactType)
	}
	if d := c.digest(c.ref("library/art:v1")); d != pushed.Digest {
		t.Fatalf("crane digest library/art:v1 = %s, oras pushed %s", d, pushed.Digest)
	}
	var m struct {
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
		Layers       []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	mustUnmarshal(t, c.oras("manifest", "fetch", c.ref("library/art:v1")), &m)
	if m.ArtifactType != modelArtifactType || m.Annotations["org.example.stage"] != "test" || len(m.Layers) != 2 {
		t.Errorf("oras manifest fetch: %+v", m)
	}
	for _, l := range m.Layers {
		name := l.Annotations["org.opencontainers.image.title"]
		if want, ok := files[name]; !ok || l.Digest != "sha256:"+sha256Hex(want) {
			t.Errorf("layer %s %q: not one of the files pushed", l.Digest, name)
		}
	}
	c.orasPullAndCompare(c.ref("library/art:v1"), files)
	if tags := strings.Fields(c.oras("repo", "tags", c.ref("library/art"))); !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("oras repo tags library/art = %v, want [v1]", tags)
	}

	// Referrers: an SBOM on the index, a signature on the arm64 manifest.
	idx := c.buildIndex("library/src", "multi", false)
	arm64 := idx.images[ociPlatformARM64].digest
	sbom := map[string][]byte{"sbom.spdx.json": []byte(`{"spdxVersion":"SPDX-2.3","name":"` + hex.EncodeToString(randomBytes(8)) + `"}`)}
	sig := map[string][]byte{"signature.txt": randomBytes(512)}
	mustWriteFile(t, filepath.Join(c.dir, "sbom.spdx.json"), sbom["sbom.spdx.json"])
	mustWriteFile(t, filepath.Join(c.dir, "signature.txt"), sig["signature.txt"])
	sbomDesc := c.orasDesc("attach", "--distribution-spec", "v1.1-referrers-api", "--artifact-type", sbomArtifactType,
		c.ref("library/src:multi"), "sbom.spdx.json:application/spdx+json")
	sigDesc := c.orasDesc("attach", "--distribution-spec", "v1.1-referrers-api", "--artifact-type", sigArtifactType,
		c.ref("library/src@"+arm64), "signature.txt")

	type found = map[string]string // referrer digest -> artifact type
	discover := func(ref string, args ...string) found {
		t.Helper()
		var out struct {
			Digest    string `json:"digest"`
			Referrers []struct {
				Digest       string `json:"digest"`
				ArtifactType string `json:"artifactType"`
				MediaType    string `json:"mediaType"`
			} `json:"referrers"`
		}
		mustUnmarshal(t, c.oras(append([]string{"discover", "--distribution-spec", "v1.1-referrers-api", "--format", "json"}, append(args, ref)...)...), &out)
		got := found{}
		for _, r := range out.Referrers {
			got[r.Digest] = r.ArtifactType
		}
		return got
	}
	if got, want := discover(c.ref("library/src:multi")), (found{sbomDesc.Digest: sbomArtifactType}); !maps.Equal(got, want) {
		t.Errorf("oras discover library/src:multi = %v, want %v", got, want)
	}
	if got, want := discover(c.ref("library/src@"+arm64)), (found{sigDesc.Digest: sigArtifactType}); !maps.Equal(got, want) {
		t.Errorf("oras discover of the arm64 manifest = %v, want %v", got, want)
	}
	if got := discover(c.ref("library/src:multi"), "--artifact-type", sigArtifactType); len(got) != 0 {
		t.Errorf("oras discover --artifact-type %s on the index = %v, want none", sigArtifactType, got)
	}
	if got, want := discover(c.ref("library/src@"+arm64), "--artifact-type", sigArtifactType), (found{sigDesc.Digest: sigArtifactType}); !maps.Equal(got, want) {
		t.Errorf("oras discover --artifact-type %s on the arm64 manifest = %v, want %v", sigArtifactType, got, want)
	}
	c.orasPullAndCompare(c.ref("library/src@"+sbomDesc.Digest), sbom)
	c.orasPullAndCompare(c.ref("library/src@"+sigDesc.Digest), sig)

	// With the referrers API, no fallback tags (sha256-...) appear.
	if tags := strings.Fields(c.oras("repo", "tags", c.ref("library/src"))); !slices.Contains(tags, "multi") || slices.ContainsFunc(tags, func(s string) bool { return strings.HasPrefix(s, "sha256-") }) {
		t.Errorf("oras repo tags library/src = %v, want multi and no sha256-* referrers tags", tags)
	}

	// oras cp -r carries the index, its images and their referrers along.
	c.oras("cp", "-r", "--from-distribution-spec", "v1.1-referrers-api", "--to-distribution-spec", "v1.1-referrers-api",
		"--from-plain-http", "--to-plain-http", "--from-registry-config", c.orasConfig, "--to-registry-config", c.orasConfig,
		c.ref("library/src:multi"), c.ref("library/copy:multi"))
	if d := c.digest(c.ref("library/copy:multi")); d != idx.digest {
		t.Errorf("digest of oras cp's copy = %s, want %s", d, idx.digest)
	}
	if got, want := discover(c.ref("library/copy:multi")), (found{sbomDesc.Digest: sbomArtifactType}); !maps.Equal(got, want) {
		t.Errorf("oras discover library/copy:multi = %v, want %v", got, want)
	}
	if got, want := discover(c.ref("library/copy@"+arm64)), (found{sigDesc.Digest: sigArtifactType}); !maps.Equal(got, want) {
		t.Errorf("oras discover of the copied arm64 manifest = %v, want %v", got, want)
	}
}

// TestOCIRobotLogin logs crane and oras in with robot accounts created by
// `arca admin robot create`: a developer robot pushes and pulls; a reader
// robot pulls but its pushes are refused and leave no tag; a wrong token is
// refused at login.
func TestOCIRobotLogin(t *testing.T) {
	tools := needOCITools(t, "crane", "oras")
	s := StartServer(t, ServerOptions{})
	admin := newOCIClient(t, s, tools)
	admin.loginAdmin(s)
	idx := admin.buildIndex("library/base", "multi", false)

	devToken := robotToken(t, s, "ci-bot", "developer")
	readerToken := robotToken(t, s, "ro-bot", "reader")

	dev := newOCIClient(t, s, tools)
	dev.login("ci-bot", devToken)
	dev.crane("copy", dev.ref("library/base:multi"), dev.ref("library/robot:multi"))
	if d := dev.digest(dev.ref("library/robot:multi")); d != idx.digest {
		t.Fatalf("the developer robot's copy has digest %s, want %s", d, idx.digest)
	}
	layer := filepath.Join(dev.dir, "robot.tar")
	robotFiles := map[string][]byte{"robot.txt": randomBytes(4096)}
	writeLayerTar(t, layer, robotFiles)
	dev.crane("append", "--oci-empty-base", "-f", layer, "-t", dev.ref("library/robot:appended"))
	dev.checkExport(dev.ref("library/robot:appended"), "", robotFiles)

	artifact := map[string][]byte{"ci-report.txt": randomBytes(1024)}
	mustWriteFile(t, filepath.Join(dev.dir, "ci-report.txt"), artifact["ci-report.txt"])
	pushed := dev.orasDesc("push", "--artifact-type", "application/vnd.example.report", dev.ref("library/robot-art:v1"), "ci-report.txt")
	if d := admin.digest(admin.ref("library/robot-art:v1")); d != pushed.Digest {
		t.Fatalf("admin sees library/robot-art:v1 at %s, the robot pushed %s", d, pushed.Digest)
	}

	reader := newOCIClient(t, s, tools)
	reader.login("ro-bot", readerToken)
	mustWriteFile(t, filepath.Join(reader.dir, "ci-report.txt"), artifact["ci-report.txt"])
	if d := reader.digest(reader.ref("library/robot:multi")); d != idx.digest {
		t.Fatalf("the reader robot sees library/robot:multi at %s, want %s", d, idx.digest)
	}
	reader.checkExport(reader.ref("library/robot:multi"), ociPlatformARM64, idx.images[ociPlatformARM64].files)
	reader.orasPullAndCompare(reader.ref("library/robot-art:v1"), artifact)

	denied := []struct {
		what string
		ref  string
		run  func() (string, error)
	}{
		{"crane append", "library/robot:reader", func() (string, error) {
			return reader.craneErr("append", "--oci-empty-base", "-f", layer, "-t", reader.ref("library/robot:reader"))
		}},
		{"crane copy", "library/reader-copy:multi", func() (string, error) {
			return reader.craneErr("copy", reader.ref("library/robot:multi"), reader.ref("library/reader-copy:multi"))
		}},
		{"oras push", "library/robot-art:reader", func() (string, error) {
			return reader.orasErr("push", reader.ref("library/robot-art:reader"), "ci-report.txt")
		}},
	}
	for _, d := range denied {
		out, err := d.run()
		if err == nil {
			t.Errorf("%s to %s with the reader robot succeeded, want it refused:\n%s", d.what, d.ref, out)
			continue
		}
		if !regexp.MustCompile(`UNAUTHORIZED|DENIED|unauthorized|denied|401|403`).MatchString(out) {
			t.Errorf("%s with the reader robot failed, but not for want of permission:\n%s", d.what, out)
		}
		if out, err := admin.craneErr("digest", admin.ref(d.ref)); err == nil {
			t.Errorf("%s was refused, yet %s exists: %s", d.what, d.ref, out)
		}
	}

	// A wrong token: oras login checks it with the registry and fails; crane
	// stores it and fails at the first pull.
	bad := newOCIClient(t, s, tools)
	if out, err := bad.orasLoginErr("ro-bot", readerToken+"x"); err == nil {
		t.Errorf("oras login with a wrong robot token succeeded:\n%s", out)
	}
	bad.craneLogin("ro-bot", "arca_not-a-real-token")
	if out, err := bad.craneErr("digest", bad.ref("library/robot:multi")); err == nil {
		t.Errorf("crane digest with a wrong robot token succeeded: %s", out)
	}
}

// TestOCIAnonymousPublicPull pushes to a public repository created through
// the API and pulls from it with no credentials at all (crane, oras and
// skopeo), while anonymous pushes, and pulls from the private library, are
// refused, and the anonymous catalog shows no private repository.
func TestOCIAnonymousPublicPull(t *testing.T) {
	tools := needOCITools(t, "crane", "oras", "skopeo")
	s := StartServer(t, ServerOptions{})

	r := curl(t, strings.NewReader(`{"name":"pub","format":"oci","visibility":"public"}`),
		"-u", s.Cred(), "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-", s.URL+"/api/v1/repositories")
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("creating the public repository pub: status %d: %s", r.Status, r.Body(t))
	}

	admin := newOCIClient(t, s, tools)
	admin.loginAdmin(s)
	idx := admin.buildIndex("pub/app", "1", false)
	admin.crane("copy", admin.ref("pub/app:1"), admin.ref("library/private:1"))
	art := map[string][]byte{"data.csv": []byte("a,b\n1,2\n" + hex.EncodeToString(randomBytes(16)) + "\n")}
	mustWriteFile(t, filepath.Join(admin.dir, "data.csv"), art["data.csv"])
	admin.orasDesc("push", "--artifact-type", "application/vnd.example.dataset", admin.ref("pub/data:v1"), "data.csv")

	anon := newOCIClient(t, s, tools) // never logs in
	if d := anon.digest(anon.ref("pub/app:1")); d != idx.digest {
		t.Fatalf("anonymous crane digest pub/app:1 = %s, want %s", d, idx.digest)
	}
	if raw := anon.crane("manifest", anon.ref("pub/app:1")); "sha256:"+sha256Hex([]byte(raw)) != idx.digest {
		t.Errorf("anonymous crane manifest does not hash to %s: %s", idx.digest, raw)
	}
	for _, p := range ociPlatforms {
		anon.checkExport(anon.ref("pub/app:1"), p, idx.images[p].files)
	}
	layout := filepath.Join(anon.dir, "anon-layout")
	anon.crane("pull", "--format", "oci", anon.ref("pub/app:1"), layout)
	checkLayout(t, layout, idx.digest, 2+2+3)
	if raw := anon.skopeo("inspect", "--raw", "--tls-verify=false", "--no-creds", anon.docker("pub/app:1")); "sha256:"+sha256Hex([]byte(raw)) != idx.digest {
		t.Errorf("anonymous skopeo inspect --raw does not hash to %s: %s", idx.digest, raw)
	}
	anon.orasPullAndCompare(anon.ref("pub/data:v1"), art)

	if out, err := anon.craneErr("digest", anon.ref("library/private:1")); err == nil {
		t.Errorf("anonymous crane digest of the private library/private:1 succeeded: %s", out)
	}
	layer := filepath.Join(anon.dir, "anon.tar")
	writeLayerTar(t, layer, map[string][]byte{"anon.txt": []byte("anonymous\n")})
	if out, err := anon.craneErr("append", "--oci-empty-base", "-f", layer, "-t", anon.ref("pub/app:anonymous")); err == nil {
		t.Errorf("anonymous crane append to the public pub/app succeeded, want it refused:\n%s", out)
	}
	if out, err := admin.craneErr("digest", admin.ref("pub/app:anonymous")); err == nil {
		t.Errorf("the refused anonymous push left pub/app:anonymous behind: %s", out)
	}
	if out, err := anon.orasErr("push", anon.ref("pub/data:anonymous"), "anon.tar"); err == nil {
		t.Errorf("anonymous oras push to the public pub/data succeeded, want it refused:\n%s", out)
	}

	catalog, err := anon.craneErr("catalog", anon.host)
	if err != nil {
		t.Fatalf("anonymous crane catalog: %v\n%s", err, catalog)
	}
	repos := strings.Fields(catalog)
	if !slices.Contains(repos, "pub/app") || slices.ContainsFunc(repos, func(r string) bool { return strings.HasPrefix(r, "library/") }) {
		t.Errorf("anonymous crane catalog = %v, want pub/app and nothing in library", repos)
	}
}

// ---------------------------------------------------------------------------
// Clients

// ociTools are the paths of the clients a test drives.
type ociTools map[string]string

// needOCITools finds each client in $ARCA_TOOLS_BIN (where
// scripts/install-oci-clients.sh puts crane and oras), then in PATH; a
// missing one skips the test, or fails it under CI.
func needOCITools(t testing.TB, names ...string) ociTools {
	t.Helper()
	tools := ociTools{}
	var absent []string
	for _, name := range names {
		if dir := os.Getenv("ARCA_TOOLS_BIN"); dir != "" {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				tools[name] = p
				continue
			}
		}
		if p, err := exec.LookPath(name); err == nil {
			tools[name] = p
			continue
		}
		absent = append(absent, name)
	}
	if len(absent) > 0 {
		missing(t, "%s not found in ARCA_TOOLS_BIN (%q) or PATH; scripts/install-oci-clients.sh installs them",
			strings.Join(absent, ", "), os.Getenv("ARCA_TOOLS_BIN"))
	}
	return tools
}

// ociClient runs the clients as one identity: its own HOME, DOCKER_CONFIG
// (crane's credentials), oras registry config and skopeo auth file, all in a
// fresh temporary directory that is also the working directory.
type ociClient struct {
	t          testing.TB
	tools      ociTools
	host       string // 127.0.0.1:PORT
	dir        string
	env        []string
	orasConfig string
	policy     string // skopeo's signature policy: accept anything
}

func newOCIClient(t testing.TB, s *Server, tools ociTools) *ociClient {
	t.Helper()
	dir := t.TempDir()
	c := &ociClient{
		t:          t,
		tools:      tools,
		host:       strings.TrimPrefix(s.URL, "http://"),
		dir:        dir,
		orasConfig: filepath.Join(dir, "oras-auth.json"),
		policy:     filepath.Join(dir, "policy.json"),
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, filepath.Join(dir, "docker"), filepath.Join(dir, "run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mustWriteFile(t, c.policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HOME", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
			"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY":
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env,
		"HOME="+home,
		"DOCKER_CONFIG="+filepath.Join(dir, "docker"),
		"REGISTRY_AUTH_FILE="+filepath.Join(dir, "skopeo-auth.json"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"NO_PROXY=127.0.0.1,localhost",
	)
	return c
}

// with returns a copy of c that reports to t (a subtest).
func (c *ociClient) with(t testing.TB) *ociClient {
	cc := *c
	cc.t = t
	return &cc
}

// ref is a registry reference: host/path.
func (c *ociClient) ref(p string) string { return c.host + "/" + p }

// docker is a skopeo docker:// reference.
func (c *ociClient) docker(p string) string { return "docker://" + c.ref(p) }

// run runs a client, returning its standard output and everything it
// printed (standard output then standard error) for messages.
func (c *ociClient) run(stdin io.Reader, tool string, args ...string) (stdout, all string, err error) {
	bin, ok := c.tools[tool]
	if !ok {
		c.t.Fatalf("internal: %s was not asked for in needOCITools", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ociClientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	cmd.Stdin = stdin
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s (%v)", ociClientTimeout, err)
	}
	return out.String(), out.String() + errOut.String(), err
}

// must runs a client and fails the test if it fails; it returns stdout.
func (c *ociClient) must(stdin io.Reader, tool string, args ...string) string {
	c.t.Helper()
	out, all, err := c.run(stdin, tool, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, all)
	}
	return out
}

func (c *ociClient) crane(args ...string) string {
	c.t.Helper()
	return c.must(nil, "crane", append(args, "--insecure")...)
}

// craneErr runs crane and returns everything it printed and its error.
func (c *ociClient) craneErr(args ...string) (string, error) {
	_, all, err := c.run(nil, "crane", append(args, "--insecure")...)
	return all, err
}

// digest is `crane digest args...`.
func (c *ociClient) digest(args ...string) string {
	c.t.Helper()
	return strings.TrimSpace(c.crane(append([]string{"digest"}, args...)...))
}

func (c *ociClient) orasArgs(args []string) []string {
	return append(args, "--plain-http", "--registry-config", c.orasConfig)
}

func (c *ociClient) oras(args ...string) string {
	c.t.Helper()
	if args[0] == "cp" { // has --from-/--to- flags instead
		return c.must(nil, "oras", args...)
	}
	return c.must(nil, "oras", c.orasArgs(args)...)
}

func (c *ociClient) orasErr(args ...string) (string, error) {
	_, all, err := c.run(nil, "oras", c.orasArgs(args)...)
	return all, err
}

// ociDesc is the descriptor oras push and attach print with --format json.
type ociDesc struct {
	MediaType    string `json:"mediaType"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
	ArtifactType string `json:"artifactType"`
}

// orasDesc runs an oras command that pushes a manifest (push, attach) and
// returns the manifest's descriptor.
func (c *ociClient) orasDesc(args ...string) ociDesc {
	c.t.Helper()
	var d ociDesc
	mustUnmarshal(c.t, c.oras(append(args, "--format", "json")...), &d)
	if !strings.HasPrefix(d.Digest, "sha256:") {
		c.t.Fatalf("oras %s printed no digest", strings.Join(args, " "))
	}
	return d
}

// orasPullAndCompare pulls ref into a fresh directory and checks that it
// holds exactly files.
func (c *ociClient) orasPullAndCompare(ref string, files map[string][]byte) {
	c.t.Helper()
	out, err := os.MkdirTemp(c.dir, "oras-pull-")
	if err != nil {
		c.t.Fatal(err)
	}
	c.oras("pull", "-o", out, ref)
	got := map[string][]byte{}
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		got[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		c.t.Fatal(err)
	}
	compareFiles(c.t, "oras pull "+ref, got, files)
}

func (c *ociClient) skopeo(args ...string) string {
	c.t.Helper()
	return c.must(nil, "skopeo", append([]string{"--policy", c.policy}, args...)...)
}

// login logs crane and oras in (each into its own credentials file) as
// user, giving the secret on standard input as CI scripts do.
func (c *ociClient) login(user, secret string) {
	c.t.Helper()
	c.craneLogin(user, secret)
	if _, ok := c.tools["oras"]; ok {
		if out, err := c.orasLoginErr(user, secret); err != nil {
			c.t.Fatalf("oras login as %s: %v\n%s", user, err, out)
		}
	}
}

// loginAdmin logs in as the server's admin.
func (c *ociClient) loginAdmin(s *Server) {
	c.t.Helper()
	user, secret, _ := strings.Cut(s.Cred(), ":")
	c.login(user, secret)
}

func (c *ociClient) craneLogin(user, secret string) {
	c.t.Helper()
	c.must(strings.NewReader(secret), "crane", "auth", "login", c.host, "-u", user, "--password-stdin", "--insecure")
}

func (c *ociClient) orasLoginErr(user, secret string) (string, error) {
	_, all, err := c.run(strings.NewReader(secret), "oras", c.orasArgs([]string{"login", c.host, "-u", user, "--password-stdin"})...)
	return all, err
}

// robotToken creates a robot with a global role through `arca admin` and
// returns the token it prints.
func robotToken(t testing.TB, s *Server, name, role string) string {
	t.Helper()
	out := s.Admin("robot", "create", name, "--role", role)
	m := regexp.MustCompile(`(?m)^token: (arca_\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("arca admin robot create %s printed no token:\n%s", name, out)
	}
	return m[1]
}

// ---------------------------------------------------------------------------
// Images

// ociImage is one platform's image as buildIndex pushed it.
type ociImage struct {
	digest string
	files  map[string][]byte // its filesystem, both layers together
}

type ociIndex struct {
	digest string
	images map[string]ociImage // by platform
}

// buildIndex builds a two-platform image with crane and pushes it as
// repo:tag: a layer shared by both platforms and one layer of each, appended
// to an empty base (crane append), given its platform (crane mutate
// --set-platform, tagged tag-<arch>), and assembled into an index (crane
// index append). docker selects Docker schema 2 media types over OCI ones.
func (c *ociClient) buildIndex(repo, tag string, docker bool) ociIndex {
	c.t.Helper()
	common := map[string][]byte{
		"etc/common.txt": []byte("shared base layer " + hex.EncodeToString(randomBytes(8)) + "\n"),
		"base.bin":       randomBytes(128 << 10),
	}
	commonTar := filepath.Join(c.dir, tag+"-common.tar")
	writeLayerTar(c.t, commonTar, common)

	idx := ociIndex{images: map[string]ociImage{}}
	var manifests []string
	for _, p := range ociPlatforms {
		arch := path.Base(p)
		own := map[string][]byte{
			"platform.txt": []byte(p + " " + hex.EncodeToString(randomBytes(8)) + "\n"),
			"app/data.bin": randomBytes(256 << 10),
		}
		ownTar := filepath.Join(c.dir, tag+"-"+arch+".tar")
		writeLayerTar(c.t, ownTar, own)

		noPlatform := c.ref(repo + ":" + tag + "-" + arch + "-noplatform")
		args := []string{"append", "-f", commonTar, "-f", ownTar, "-t", noPlatform}
		if !docker {
			args = append(args, "--oci-empty-base")
		}
		c.crane(args...)
		image := c.ref(repo + ":" + tag + "-" + arch)
		c.crane("mutate", "--set-platform", p, "-t", image, noPlatform)
		files := maps.Clone(common)
		maps.Copy(files, own)
		idx.images[p] = ociImage{digest: c.digest(image), files: files}
		manifests = append(manifests, "-m", image)
	}
	args := append([]string{"index", "append", "-t", c.ref(repo + ":" + tag)}, manifests...)
	if docker {
		args = append(args, "--docker-empty-base")
	}
	c.crane(args...)
	idx.digest = c.digest(c.ref(repo + ":" + tag))
	return idx
}

// stripArtifactTypes pushes the index at from, without the artifactType
// of its descriptors, as to (crane edit manifest), and returns its digest.
func (c *ociClient) stripArtifactTypes(from, to string) string {
	c.t.Helper()
	var ix map[string]any
	mustUnmarshal(c.t, c.crane("manifest", c.ref(from)), &ix)
	for _, m := range ix["manifests"].([]any) {
		delete(m.(map[string]any), "artifactType")
	}
	b, err := json.Marshal(ix)
	if err != nil {
		c.t.Fatal(err)
	}
	c.must(bytes.NewReader(b), "crane", "edit", "manifest", c.ref(from), "-t", c.ref(to), "--insecure")
	d := c.digest(c.ref(to))
	if d != "sha256:"+sha256Hex(b) {
		c.t.Fatalf("crane edit manifest pushed %s, not the edited index %s", d, sha256Hex(b))
	}
	return d
}

// checkExport exports the filesystem of ref's image for platform ("" for a
// single image) with crane export and checks it holds exactly files.
func (c *ociClient) checkExport(ref, platform string, files map[string][]byte) {
	c.t.Helper()
	f, err := os.CreateTemp(c.dir, "export-*.tar")
	if err != nil {
		c.t.Fatal(err)
	}
	f.Close()
	args := []string{"export", ref, f.Name()}
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	c.crane(args...)
	got := readTarFiles(c.t, f.Name())
	compareFiles(c.t, fmt.Sprintf("crane export %s (%s)", ref, platform), got, files)
}

// ociIndexManifest is the part of an image index (or manifest list) the
// tests look at.
type ociIndexManifest struct {
	MediaType string          `json:"mediaType"`
	Manifests []ociDescriptor `json:"manifests"`
}

type ociDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Platform  *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

func (d ociDescriptor) platform() string {
	if d.Platform == nil {
		return ""
	}
	return d.Platform.OS + "/" + d.Platform.Architecture
}

func parseIndex(t testing.TB, raw string) ociIndexManifest {
	t.Helper()
	var ix ociIndexManifest
	mustUnmarshal(t, raw, &ix)
	return ix
}

// checkLayout checks an OCI image layout that crane pulled: index.json
// names the index digest, every blob hashes to its name, and the index, its
// manifests, their configs and layers are all there (wantChildBlobs blobs
// besides the index).
func checkLayout(t testing.TB, dir, indexDigest string, wantChildBlobs int) {
	t.Helper()
	var top ociIndexManifest
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	mustUnmarshal(t, string(b), &top)
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != indexDigest {
		t.Fatalf("%s/index.json = %s, want the one index %s", dir, b, indexDigest)
	}
	blob := func(digest string) []byte {
		t.Helper()
		hexd, ok := strings.CutPrefix(digest, "sha256:")
		if !ok {
			t.Fatalf("unexpected digest %q", digest)
		}
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", hexd))
		if err != nil {
			t.Fatalf("blob %s missing from the layout: %v", digest, err)
		}
		if got := sha256Hex(b); got != hexd {
			t.Fatalf("blob %s in the layout hashes to %s", digest, got)
		}
		return b
	}
	seen := map[string]bool{}
	ix := parseIndex(t, string(blob(indexDigest)))
	for _, m := range ix.Manifests {
		var im struct {
			Config ociDescriptor   `json:"config"`
			Layers []ociDescriptor `json:"layers"`
		}
		mustUnmarshal(t, string(blob(m.Digest)), &im)
		seen[m.Digest] = true
		for _, d := range append([]ociDescriptor{im.Config}, im.Layers...) {
			blob(d.Digest)
			seen[d.Digest] = true
		}
	}
	if len(seen) != wantChildBlobs {
		t.Errorf("the index refers to %d distinct blobs, want %d", len(seen), wantChildBlobs)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		blob("sha256:" + e.Name())
	}
}

// ---------------------------------------------------------------------------
// Files

func randomBytes(n int) []byte {
	b := make([]byte, n)
	newRand().Read(b)
	return b
}

func mustWriteFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustUnmarshal(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not the expected JSON: %v: %s", err, truncate([]byte(s), 1000))
	}
}

// writeLayerTar writes files (slash-separated relative paths) as an
// uncompressed tar, with their parent directories, in a fixed order.
func writeLayerTar(t testing.TB, p string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, p, buf.Bytes())
}

// readTarFiles returns the regular files of a tar by cleaned relative path.
func readTarFiles(t testing.TB, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(path.Clean(h.Name), "/")] = b
	}
}

// compareFiles fails the test unless got holds exactly want's files with
// the same contents.
func compareFiles(t testing.TB, what string, got, want map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s missing (have %v)", what, name, slices.Sorted(maps.Keys(got)))
		case !bytes.Equal(g, w):
			t.Errorf("%s: %s has %d bytes with sha256 %s, want %d bytes with sha256 %s", what, name, len(g), sha256Hex(g), len(w), sha256Hex(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected file %s", what, name)
		}
	}
}
