package scan_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/internal/vulndb/vulndbtest"
)

const admin = "admin:" + apptest.AdminPassword

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// start runs a server with its job queue working and the OSV fixture
// imported, with a reader, a developer and a user without roles.
func start(t *testing.T, s *apptest.Server) {
	t.Helper()
	ctx := context.Background()
	if err := s.Jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Jobs.Stop(c)
	})
	for _, eco := range vulndbtest.Ecosystems() {
		z := vulndbtest.Zip(t, eco)
		if _, err := s.Vulns.ImportZip(ctx, eco, bytes.NewReader(z), int64(len(z))); err != nil {
			t.Fatal(err)
		}
	}
	for name, role := range map[string]auth.Role{"reader": auth.Reader, "dev": auth.Developer, "nobody": auth.NoRole} {
		if _, err := s.Auth.CreateUser(ctx, name, name+"-password-1234", "", role); err != nil {
			t.Fatal(err)
		}
	}
}

// wheel is a requests 2.19.1 wheel (its METADATA as published, trimmed).
func wheel() (string, []byte) {
	md := "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\nSummary: Python HTTP for Humans.\n" +
		"Requires-Dist: chardet (<3.1.0,>=3.0.2)\nRequires-Dist: idna (<2.8,>=2.5)\nRequires-Dist: urllib3 (<1.24,>=1.21.1)\nRequires-Dist: certifi (>=2017.4.17)\n\nRequests.\n"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for fn, b := range map[string]string{"requests/__init__.py": "", "requests-2.19.1.dist-info/METADATA": md,
		"requests-2.19.1.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py2.py3-none-any\n", "requests-2.19.1.dist-info/RECORD": ""} {
		w, _ := zw.Create(fn)
		w.Write([]byte(b))
	}
	zw.Close()
	return "requests-2.19.1-py2.py3-none-any.whl", buf.Bytes()
}

func uploadWheel(t *testing.T, s *apptest.Server) {
	fn, data := wheel()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range map[string]string{":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1", "name": "requests",
		"version": "2.19.1", "filetype": "bdist_wheel", "pyversion": "py2.py3", "sha256_digest": sum(data)} {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("content", fn)
	fw.Write(data)
	mw.Close()
	if resp, b := s.Do(t, "POST", "/pypi/pypi-hosted/", admin, &body, "Content-Type", mw.FormDataContentType()); resp.StatusCode != 200 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
}

func tgz(t *testing.T, files ...string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// publishLodash publishes lodash@4.17.15 as npm publish does.
func publishLodash(t *testing.T, s *apptest.Server) {
	tb := tgz(t, "package/package.json", `{"name":"lodash","version":"4.17.15","main":"lodash.js"}`, "package/lodash.js", "module.exports = {}\n")
	s512 := sha512.Sum512(tb)
	s1 := sha1.Sum(tb)
	v := map[string]any{"name": "lodash", "version": "4.17.15", "main": "lodash.js", "dependencies": map[string]string{}, "_id": "lodash@4.17.15",
		"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), "tarball": "http://x/lodash/-/lodash-4.17.15.tgz"}}
	d := map[string]any{"_id": "lodash", "name": "lodash", "dist-tags": map[string]string{"latest": "4.17.15"}, "versions": map[string]any{"4.17.15": v},
		"_attachments": map[string]any{"lodash-4.17.15.tgz": map[string]any{"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tb), "length": len(tb)}}}
	b, _ := json.Marshal(d)
	if resp, body := s.Do(t, "PUT", "/npm/npm-hosted/lodash", admin, bytes.NewReader(b), "Content-Type", "application/json"); resp.StatusCode != 201 {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
}

// dpkgStatus lists zlib1g of Debian 11 (vulnerable to DSA-5218-1) among
// n other packages.
func dpkgStatus(n int) string {
	var b strings.Builder
	b.WriteString("Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.11.dfsg-2+deb11u1\nDepends: libc6 (>= 2.14)\nDescription: compression library - runtime\n\n")
	b.WriteString("Package: libc6\nStatus: install ok installed\nVersion: 2.31-13+deb11u5\n\n")
	b.WriteString("Package: removed\nStatus: deinstall ok config-files\nVersion: 1.0\n\n")
	for i := range n {
		fmt.Fprintf(&b, "Package: pkg%d\nStatus: install ok installed\nVersion: 1.%d-1\nDescription: synthetic package %d\n with a long description line\n\n", i, i, i)
	}
	return b.String()
}

type image struct {
	manifest []byte
	digest   string
}

// pushImage pushes an image of the given layers (tar.gz) to
// library/<name>:<tag> over the OCI API.
func pushImage(t *testing.T, s *apptest.Server, name, tag string, layers ...[]byte) image {
	t.Helper()
	put := func(b []byte) string {
		d := "sha256:" + sum(b)
		resp, body := s.Do(t, "POST", "/v2/library/"+name+"/blobs/uploads/?digest="+d, admin, bytes.NewReader(b), "Content-Type", "application/octet-stream")
		if resp.StatusCode != 201 {
			t.Fatalf("blob upload: %d %s", resp.StatusCode, body)
		}
		return d
	}
	var diffIDs, descs []string
	for _, l := range layers {
		gz, _ := gzip.NewReader(bytes.NewReader(l))
		var raw bytes.Buffer
		raw.ReadFrom(gz)
		diffIDs = append(diffIDs, `"sha256:`+sum(raw.Bytes())+`"`)
		descs = append(descs, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}`, put(l), len(l)))
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[` + strings.Join(diffIDs, ",") + `]},"config":{}}`)
	cd := put(cfg)
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		cd, len(cfg), strings.Join(descs, ",")))
	resp, body := s.Do(t, "PUT", "/v2/library/"+name+"/manifests/"+tag, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if resp.StatusCode != 201 {
		t.Fatalf("manifest: %d %s", resp.StatusCode, body)
	}
	return image{manifest: m, digest: "sha256:" + sum(m)}
}

// debianImage: a base layer with os-release and a dpkg database, and a
// second layer installing requests 2.19.1 into site-packages and
// lodash 4.17.15 into node_modules, and removing a package by whiteout.
func debianImage(t *testing.T, s *apptest.Server, name string, n int) image {
	base := tgz(t, "etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nID=debian\nVERSION_ID=\"11\"\n",
		"var/lib/dpkg/status", dpkgStatus(n),
		"usr/lib/python3/dist-packages/gone-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: gone\nVersion: 1.0\n")
	app := tgz(t, "usr/local/lib/python3.9/site-packages/requests-2.19.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: requests\nVersion: 2.19.1\nRequires-Dist: idna\n",
		"app/node_modules/lodash/package.json", `{"name":"lodash","version":"4.17.15"}`,
		"app/node_modules/lodash/fp/package.json", `{"name":"not-a-package","version":"0"}`,
		"usr/lib/python3/dist-packages/.wh.gone-1.0.dist-info", "")
	return pushImage(t, s, name, "1.0", base, app)
}

// waitReport polls for an artifact's report (the scan is a job).
func waitReport(t *testing.T, s *apptest.Server, q string) scan.Report {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, body := s.Do(t, "GET", "/api/v1/scan/report?"+q, admin, nil)
		if resp.StatusCode == 200 {
			var r scan.Report
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report for %s: %d %s", q, resp.StatusCode, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func advisories(r scan.Report) string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.Advisory+"@"+f.Component.Name+"="+f.Component.Version+">"+f.Fixed)
	}
	return strings.Join(ids, " ")
}

// Pushes and uploads are scanned by jobs: each fixture artifact has its
// findings with the advisory IDs; the image has a CycloneDX SBOM referrer.
func TestScanOnPush(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		uploadWheel(t, s)
		publishLodash(t, s)
		img := debianImage(t, s, "app", 5)

		r := waitReport(t, s, "repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl")
		if got := advisories(r); got != "GHSA-x84v-xcm2-53pg@requests=2.19.1>2.20.0" || r.Worst.String() != "Critical" {
			t.Fatalf("requests findings: %s (worst %v)", got, r.Worst)
		}
		if r.Findings[0].Aliases[0] != "CVE-2018-18074" || len(r.Components[0].Dependencies) != 4 {
			t.Fatalf("requests report: %+v", r)
		}
		r = waitReport(t, s, "repository=npm-hosted&name=lodash&ref=4.17.15")
		if got := advisories(r); got != "GHSA-p6mc-m468-83gw@lodash=4.17.15>4.17.19" || r.Counts["High"] != 1 {
			t.Fatalf("lodash findings: %s %v", got, r.Counts)
		}
		r = waitReport(t, s, "repository=library&name=app&ref="+img.digest)
		want := "GHSA-x84v-xcm2-53pg@requests=2.19.1>2.20.0 GHSA-p6mc-m468-83gw@lodash=4.17.15>4.17.19 DSA-5218-1@zlib1g=1:1.2.11.dfsg-2+deb11u1>1:1.2.11.dfsg-2+deb11u2"
		if got := advisories(r); got != want {
			t.Fatalf("image findings\n %s\nwant\n %s", got, want)
		}
		var names []string
		for _, c := range r.Components {
			names = append(names, c.Ecosystem+"/"+c.Name)
		}
		if got := strings.Join(names, " "); got != "npm/lodash PyPI/requests Debian:11/zlib1g Debian:11/libc6 Debian:11/pkg0 Debian:11/pkg1 Debian:11/pkg2 Debian:11/pkg3 Debian:11/pkg4" {
			t.Fatalf("components: %s", got)
		}
		// Harbor's format for tools that read it.
		resp, body := s.Do(t, "GET", fmt.Sprintf("/api/v1/scan/reports/%d", r.ID), admin, nil, "Accept", scan.HarborReportType)
		body = compact(body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != scan.HarborReportType ||
			!strings.Contains(body, `"severity":"Critical"`) || !strings.Contains(body, `"id":"DSA-5218-1"`) || !strings.Contains(body, `"fix_version":"4.17.19"`) {
			t.Fatalf("harbor report: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		// The SBOM is a referrer of the image.
		resp, body = s.Do(t, "GET", "/v2/library/app/referrers/"+img.digest, admin, nil)
		body = compact(body)
		if resp.StatusCode != 200 || !strings.Contains(body, `"artifactType":"application/vnd.cyclonedx+json"`) {
			t.Fatalf("referrers: %d %s", resp.StatusCode, body)
		}
		// Counts per severity in /metrics.
		resp, body = s.Do(t, "GET", "/metrics", admin, nil)
		if !strings.Contains(body, `arca_scan_findings{severity="Critical"} 2`) || !strings.Contains(body, `arca_scan_findings{severity="High"} 2`) {
			t.Fatalf("metrics: %s", grep(body, "arca_scan"))
		}
		// The dashboard: worst first, only what the caller may read.
		resp, body = s.Do(t, "GET", "/api/v1/scan/reports?min_severity=high", "reader:reader-password-1234", nil)
		var list []scan.Report
		json.Unmarshal([]byte(body), &list)
		if resp.StatusCode != 200 || len(list) != 3 || list[0].Worst.String() != "Critical" || list[2].Name != "lodash" {
			t.Fatalf("dashboard: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/api/v1/scan/reports", "nobody:nobody-password-1234", nil)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != "[]" {
			t.Fatalf("dashboard of a user without roles: %d %s", resp.StatusCode, body)
		}
	})
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func compact(s string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s
	}
	return b.String()
}

func readerOrNil(r *strings.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return r
}

func vulndbtestZip(t *testing.T, eco string) []byte { return vulndbtest.Zip(t, eco) }

func writeFile(t *testing.T, path string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sleep() { time.Sleep(100 * time.Millisecond) }
