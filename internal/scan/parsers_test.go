package scan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"strings"
	"testing"
)

func TestParseDpkgStatus(t *testing.T) {
	st := "Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.11.dfsg-2+deb11u1\nDepends: libc6 (>= 2.14), libz | libzz\n\n" +
		"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n" +
		"Package: bash\nStatus: install ok installed\nSource: bash (5.1-2)\nVersion: 5.1-2+deb11u1\nDescription: shell\n long text\n"
	cs := parseDpkgStatus([]byte(st), "Debian:11")
	if len(cs) != 2 || cs[0].Source != "zlib" || cs[0].Version != "1:1.2.11.dfsg-2+deb11u1" || strings.Join(cs[0].Dependencies, ",") != "libc6,libz,libzz" ||
		cs[1].Name != "bash" || cs[1].Source != "" || cs[0].PURL != "pkg:deb/zlib1g@1:1.2.11.dfsg-2+deb11u1" {
		t.Fatalf("%+v", cs)
	}
}

func TestParseApkInstalled(t *testing.T) {
	db := "C:Q1abc=\nP:zlib\nV:1.2.12-r1\nA:x86_64\no:zlib\nD:so:libc.musl-x86_64.so.1\n\nP:libcrypto3\nV:3.0.5-r0\no:openssl\nD:!conflict zlib>=1.2\n"
	cs := parseApkInstalled([]byte(db), "Alpine:v3.16")
	if len(cs) != 2 || cs[0].Name != "zlib" || cs[0].Source != "" || cs[1].Source != "openssl" || cs[1].Dependencies[0] != "zlib" ||
		cs[0].PURL != "pkg:apk/alpine/zlib@1.2.12-r1" {
		t.Fatalf("%+v", cs)
	}
}

func TestOSRelease(t *testing.T) {
	for in, want := range map[string]string{
		"ID=alpine\nVERSION_ID=3.16.2\n":    "Alpine:v3.16",
		"ID=debian\nVERSION_ID=\"12\"\n":    "Debian:12",
		"ID=ubuntu\nVERSION_ID=\"22.04\"\n": "Ubuntu:22.04",
		"ID=\"debian\"\n":                   "Debian",
		"ID=fedora\nVERSION_ID=39\n":        "fallback",
		"garbage\x00\n=\nID\n":              "fallback",
	} {
		if got := parseOSRelease([]byte(in)).Ecosystem("fallback"); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

func layer(t testing.TB, files ...string) []byte {
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

// Layers apply in order: whiteouts and opaque directories hide what
// earlier layers installed; the limits stop oversized images.
func TestLayerFiles(t *testing.T) {
	lf := &layerFiles{files: map[string][]byte{}, limits: DefaultLimits}
	lf.add(bytes.NewReader(layer(t, "etc/os-release", "ID=alpine\nVERSION_ID=3.16.0\n", "lib/apk/db/installed", "P:zlib\nV:1.2.12-r1\n",
		"./app/node_modules/a/package.json", `{"name":"a","version":"1.0.0"}`, "app/node_modules/@s/b/package.json", `{"name":"@s/b","version":"2.0.0"}`,
		"app/node_modules/a/lib/package.json", `{"name":"inner","version":"0.0.1"}`, "srv/x.dist-info/METADATA", "Name: x\nVersion: 1\n")))
	lf.add(bytes.NewReader(layer(t, "app/node_modules/.wh..wh..opq", "", "srv/.wh.x.dist-info", "")))
	cs := lf.components(context.Background())
	if len(cs) != 1 || cs[0].Ecosystem != "Alpine:v3.16" || cs[0].Name != "zlib" {
		t.Fatalf("%+v", cs)
	}
	small := &layerFiles{files: map[string][]byte{}, limits: Limits{LayerBytes: 1 << 20, Files: 3, FileBytes: 1 << 20}}
	if err := small.add(bytes.NewReader(layer(t, "a", "", "b", "", "c", "", "d", ""))); err == nil || !strings.Contains(err.Error(), "more than 3 files") {
		t.Fatalf("file limit: %v", err)
	}
	tiny := &layerFiles{files: map[string][]byte{}, limits: Limits{LayerBytes: 1000, Files: 100, FileBytes: 1 << 20}}
	if err := tiny.add(bytes.NewReader(layer(t, "a", strings.Repeat("x", 5000), "b", ""))); err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Fatalf("layer limit: %v", err)
	}
}

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nSource: b (1)\nVersion: 1\nDepends: c (>= 1) | d, e:any\n\nPackage: x\n"))
	f.Add([]byte("Package: a\n continuation\nVersion:\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range parseDpkgStatus(b, "Debian:12") {
			if c.Name == "" || c.Version == "" {
				t.Fatalf("empty component %+v", c)
			}
		}
	})
}

func FuzzParseApkInstalled(f *testing.F) {
	f.Add([]byte("P:zlib\nV:1.2.12-r1\no:zlib\nD:so:libc.musl !x a=1 =\n\nP:b\nV:2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range parseApkInstalled(b, "Alpine:v3.18") {
			if c.Name == "" || c.Version == "" {
				t.Fatalf("empty component %+v", c)
			}
		}
	})
}

func FuzzParsePackageJSON(f *testing.F) {
	f.Add([]byte(`{"name":"@s/a","version":"1.0.0","dependencies":{"b":"^1"}}`))
	f.Add([]byte(`{"name":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, ok := parsePackageJSON(b); ok && (c.Name == "" || c.Version == "" || !strings.HasPrefix(c.PURL, "pkg:npm/")) {
			t.Fatalf("%+v", c)
		}
		parsePythonMetadata(b)
		parseOSRelease(b)
	})
}

// FuzzLayer feeds arbitrary bytes to the layer walker: it must fail or
// read, never panic or exceed its limits.
func FuzzLayer(f *testing.F) {
	f.Add(layer(f, "var/lib/dpkg/status", "Package: a\nVersion: 1\n", "x/.wh.y", ""))
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add(zstdLayer(f, "lib/apk/db/installed", "P:a\nV:1\n", "var/lib/rpm/Packages.db", "RpmP"))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		lf := &layerFiles{files: map[string][]byte{}, limits: Limits{LayerBytes: 1 << 20, Files: 1000, FileBytes: 1 << 16}}
		lf.add(bytes.NewReader(b))
		lf.components(context.Background())
	})
}

func TestParsePOM(t *testing.T) {
	pom := `<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>7</version></parent>
  <artifactId>app</artifactId><version>1.0</version>
  <properties><log4j.version>2.14.1</log4j.version></properties>
  <dependencies>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>${log4j.version}</version></dependency>
    <dependency><groupId>${project.groupId}</groupId><artifactId>lib</artifactId><version>${project.version}</version><scope>runtime</scope></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.12</version><scope>test</scope></dependency>
    <dependency><groupId>a</groupId><artifactId>managed</artifactId></dependency>
    <dependency><groupId>a</groupId><artifactId>ranged</artifactId><version>[1.0,2.0)</version></dependency>
    <dependency><groupId>a</groupId><artifactId>unknown</artifactId><version>${nope}</version></dependency>
  </dependencies>
</project>`
	p, ok := parsePOM([]byte(pom))
	if !ok {
		t.Fatal("unreadable")
	}
	var got []string
	for _, c := range p.dependencies() {
		got = append(got, c.Ecosystem+"/"+c.Name+"@"+c.Version)
	}
	if strings.Join(got, " ") != "Maven/org.apache.logging.log4j:log4j-core@2.14.1 Maven/com.example:lib@1.0" {
		t.Fatalf("dependencies: %v", got)
	}
}

func TestParseGoMod(t *testing.T) {
	got := parseGoMod([]byte("module example.com/app\n\ngo 1.21\n\nrequire (\n\tgolang.org/x/text v0.3.6\n\tgithub.com/a/b v1.2.3 // indirect\n)\n"))
	if len(got) != 2 || got[0].Name != "golang.org/x/text" || got[0].Version != "0.3.6" || got[0].Ecosystem != "Go" || got[1].Version != "1.2.3" {
		t.Fatalf("%+v", got)
	}
	if parseGoMod([]byte("module (")) != nil {
		t.Fatal("a broken go.mod lists requirements")
	}
}

// FuzzParseDescriptors feeds arbitrary bytes to the pom and go.mod
// readers: they read or refuse, within bounds, never panic.
func FuzzParseDescriptors(f *testing.F) {
	f.Add([]byte(`<project><version>1</version><properties><a>${b}</a><b>${a}</b></properties><dependencies><dependency><groupId>g</groupId><artifactId>a</artifactId><version>${a}</version></dependency></dependencies></project>`))
	f.Add([]byte("module m\nrequire x.org/y v1.0.0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, ok := parsePOM(b); ok {
			for _, c := range p.dependencies() {
				if c.Name == "" || c.Version == "" || strings.Contains(c.Version, "${") {
					t.Fatalf("%+v", c)
				}
			}
		}
		for _, c := range parseGoMod(b) {
			if c.Name == "" || c.Ecosystem != "Go" {
				t.Fatalf("%+v", c)
			}
		}
	})
}
