package scan_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/internal/vulndb/vulndbtest"
)

// pushLayers pushes an image of one uncompressed tar, compressed as
// mediaType says (tar+gzip or tar+zstd), to library/<name>:<tag>.
func pushLayers(t *testing.T, s *apptest.Server, name, tag, mediaType string, raw []byte) image {
	t.Helper()
	put := func(b []byte) string {
		d := "sha256:" + sum(b)
		resp, body := s.Do(t, "POST", "/v2/library/"+name+"/blobs/uploads/?digest="+d, admin, bytes.NewReader(b), "Content-Type", "application/octet-stream")
		if resp.StatusCode != 201 {
			t.Fatalf("blob upload: %d %s", resp.StatusCode, body)
		}
		return d
	}
	var compressed bytes.Buffer
	switch mediaType {
	case "application/vnd.oci.image.layer.v1.tar+gzip":
		gz := gzip.NewWriter(&compressed)
		gz.Write(raw)
		gz.Close()
	case "application/vnd.oci.image.layer.v1.tar+zstd":
		enc, _ := zstd.NewWriter(&compressed)
		enc.Write(raw)
		enc.Close()
	}
	ld := put(compressed.Bytes())
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + sum(raw) + `"]},"config":{}}`)
	cd := put(cfg)
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		cd, len(cfg), mediaType, ld, compressed.Len()))
	resp, body := s.Do(t, "PUT", "/v2/library/"+name+"/manifests/"+tag, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if resp.StatusCode != 201 {
		t.Fatalf("manifest: %d %s", resp.StatusCode, body)
	}
	return image{manifest: m, digest: "sha256:" + sum(m)}
}

func rawTar(files ...string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return buf.Bytes()
}

// A RHEL 9 image whose rpm database (written by rpm itself) lists
// openssl and openssl-libs 1:3.0.1-43.el9_0 and curl: pushed with a gzip
// and with a zstd layer, each report has RHSA-2023:3722 (keyed by the
// source package openssl) for both openssl packages and none for curl;
// the SBOM lists them with their rpm purls and curl's dependency on
// openssl-libs; the policy blocks the pull naming the advisory.
func TestScanRPMImage(t *testing.T) {
	rpmdb := scan.BuildRPMDB(t,
		scan.RPMSpec{Name: "openssl", Epoch: "1", Version: "3.0.1", Release: "43.el9_0", Sub: []string{"libs"}},
		scan.RPMSpec{Name: "curl", Version: "7.76.1", Release: "19.el9", Requires: []string{"openssl-libs"}})
	layer := rawTar("etc/os-release", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"9.0\"\nCPE_NAME=\"cpe:/o:redhat:enterprise_linux:9::baseos\"\n",
		"var/lib/rpm/rpmdb.sqlite", string(rpmdb))
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		z := vulndbtest.Zip(t, "Red Hat")
		if _, err := s.Vulns.ImportZip(context.Background(), "Red Hat", bytes.NewReader(z), int64(len(z))); err != nil {
			t.Fatal(err)
		}
		gz := pushLayers(t, s, "ubi", "gzip", "application/vnd.oci.image.layer.v1.tar+gzip", layer)
		zs := pushLayers(t, s, "ubi", "zstd", "application/vnd.oci.image.layer.v1.tar+zstd", layer)
		const want = "RHSA-2023:3722@openssl=1:3.0.1-43.el9_0>1:3.0.7-16.el9_2 RHSA-2023:3722@openssl-libs=1:3.0.1-43.el9_0>1:3.0.7-16.el9_2"
		for _, img := range []image{gz, zs} {
			r := waitReport(t, s, "repository=library&name=ubi&ref="+img.digest)
			if got := advisories(r); got != want || r.Worst.String() != "High" || len(r.Components) != 3 {
				t.Fatalf("findings of %s\n %s (worst %v, %d components)\nwant\n %s", img.digest, got, r.Worst, len(r.Components), want)
			}
			for _, c := range r.Components {
				if c.Ecosystem != "Red Hat:enterprise_linux:9" || c.Path != "var/lib/rpm/rpmdb.sqlite" {
					t.Fatalf("component %+v", c)
				}
			}
		}

		// The SBOM referrer: CycloneDX components with rpm purls.
		resp, body := s.Do(t, "GET", "/v2/library/ubi/referrers/"+zs.digest, admin, nil)
		var idx struct {
			Manifests []struct {
				Digest       string `json:"digest"`
				ArtifactType string `json:"artifactType"`
			} `json:"manifests"`
		}
		json.Unmarshal([]byte(body), &idx)
		if resp.StatusCode != 200 || len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != scan.SBOMType {
			t.Fatalf("referrers: %d %s", resp.StatusCode, body)
		}
		_, body = s.Do(t, "GET", "/v2/library/ubi/manifests/"+idx.Manifests[0].Digest, admin, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		var m struct {
			Layers []struct{ Digest string } `json:"layers"`
		}
		json.Unmarshal([]byte(body), &m)
		if len(m.Layers) != 1 {
			t.Fatalf("SBOM manifest: %s", body)
		}
		_, body = s.Do(t, "GET", "/v2/library/ubi/blobs/"+m.Layers[0].Digest, admin, nil)
		var bom struct {
			Components []struct {
				Name, Version, Purl string
				Properties          []struct{ Name, Value string }
			} `json:"components"`
			Dependencies []struct {
				Ref       string   `json:"ref"`
				DependsOn []string `json:"dependsOn"`
			} `json:"dependencies"`
		}
		if err := json.Unmarshal([]byte(body), &bom); err != nil {
			t.Fatalf("SBOM: %v", err)
		}
		purls := map[string]string{}
		for _, c := range bom.Components {
			purls[c.Name] = c.Purl
			if c.Name == "openssl-libs" && (c.Version != "1:3.0.1-43.el9_0" || !strings.Contains(fmt.Sprint(c.Properties), "{arca:source openssl}")) {
				t.Fatalf("SBOM component %+v", c)
			}
		}
		libs := "pkg:rpm/redhat/openssl-libs@3.0.1-43.el9_0?arch=noarch&distro=rhel-9.0&epoch=1"
		if purls["openssl-libs"] != libs || purls["curl"] != "pkg:rpm/redhat/curl@7.76.1-19.el9?arch=noarch&distro=rhel-9.0" {
			t.Fatalf("SBOM purls %v", purls)
		}
		if len(bom.Dependencies) != 1 || bom.Dependencies[0].Ref != purls["curl"] || strings.Join(bom.Dependencies[0].DependsOn, ",") != libs {
			t.Fatalf("SBOM dependencies %+v", bom.Dependencies)
		}

		// The policy: a reader's pull of either image is refused with
		// OCI's DENIED naming the advisory; an admin's is not.
		resp, body = s.Do(t, "PATCH", "/api/v1/repositories/library", admin, strings.NewReader(`{"settings":{"scan_policy":{"block_severity":"high"}}}`), "Content-Type", "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("policy: %d %s", resp.StatusCode, body)
		}
		for _, img := range []image{gz, zs} {
			resp, body = s.Do(t, "GET", "/v2/library/ubi/manifests/"+img.digest, "reader:reader-password-1234", nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			if resp.StatusCode != 403 || !strings.Contains(body, `"DENIED"`) || !strings.Contains(body, "RHSA-2023:3722 (High) in openssl") {
				t.Fatalf("pull of a blocked RPM image: %d %s", resp.StatusCode, body)
			}
		}
		if resp, body = s.Do(t, "GET", "/v2/library/ubi/manifests/"+zs.digest, admin, nil, "Accept", "application/vnd.oci.image.manifest.v1+json"); resp.StatusCode != 200 {
			t.Fatalf("admin pull: %d %s", resp.StatusCode, body)
		}
	})
}
