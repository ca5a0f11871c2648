package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
)

// archive builds a gzipped tar of files (path → content).
func archive(t testing.TB, files ...[2]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestParseChart(t *testing.T) {
	good := archive(t, [2]string{"demo/values.yaml", "a: 1\n"},
		[2]string{"demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.2.3-rc.1+b5\nappVersion: \"2.0\"\ndescription: a demo\nurls: [x]\ndependencies:\n- name: sub\n  version: 0.1.0\n"},
		[2]string{"demo/charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"})
	c, err := ParseChart(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "demo" || c.Version != "1.2.3-rc.1+b5" || c.Meta["appVersion"] != "2.0" || c.Meta["description"] != "a demo" ||
		c.Meta["urls"] != nil || c.File() != "demo-1.2.3-rc.1+b5.tgz" {
		t.Fatalf("ParseChart = %+v", c)
	}
	if deps, _ := c.Meta["dependencies"].([]any); len(deps) != 1 {
		t.Fatalf("dependencies = %v", c.Meta["dependencies"])
	}
	for what, b := range map[string][]byte{
		"not gzip":             []byte("PK\x03\x04"),
		"no Chart.yaml":        archive(t, [2]string{"demo/values.yaml", "a: 1"}),
		"top-level Chart.yaml": archive(t, [2]string{"Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n"}),
		"directory not name":   archive(t, [2]string{"other/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n"}),
		"bad version":          archive(t, [2]string{"demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0\n"}),
		"bad name":             archive(t, [2]string{"de mo/Chart.yaml", "apiVersion: v2\nname: de mo\nversion: 1.0.0\n"}),
		"bad apiVersion":       archive(t, [2]string{"demo/Chart.yaml", "apiVersion: v9\nname: demo\nversion: 1.0.0\n"}),
		"not YAML":             archive(t, [2]string{"demo/Chart.yaml", "{{{"}),
		"a list":               archive(t, [2]string{"demo/Chart.yaml", "- a\n- b\n"}),
		"huge Chart.yaml":      archive(t, [2]string{"demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\ndescription: " + strings.Repeat("x", maxChartYAML) + "\n"}),
	} {
		if c, err := ParseChart(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: ParseChart = %+v, want an error", what, c)
		}
	}
}

func TestSplitFileAndVersions(t *testing.T) {
	for file, want := range map[string]string{
		"demo-1.0.0.tgz":           "demo 1.0.0",
		"my-chart-2.1.0-rc.1.tgz":  "my-chart 2.1.0-rc.1",
		"my-chart-2.1.0.tgz.prov":  "my-chart 2.1.0",
		"a-1.0.0-b-2.0.0.tgz":      "a 1.0.0-b-2.0.0|a-1.0.0-b 2.0.0",
		"nope.tgz":                 "",
		"demo-1.0.tgz":             "",
		"demo-1.0.0.zip":           "",
		"demo-1.0.0+build.1.tgz":   "demo 1.0.0+build.1",
		"x-01.0.0.tgz":             "",
		"demo-1.0.0-.tgz":          "",
		"demo-v1.0.0.tgz":          "",
		"demo--1.0.0.tgz":          "demo- 1.0.0",
		"-1.0.0.tgz":               "",
		"demo-1.0.0-alpha..1.tgz":  "",
		"demo-99999999999.0.0.tgz": "demo 99999999999.0.0",
	} {
		var got []string
		for _, nv := range splitFile(file) {
			got = append(got, nv[0]+" "+nv[1])
		}
		if strings.Join(got, "|") != want {
			t.Errorf("splitFile(%q) = %q, want %q", file, strings.Join(got, "|"), want)
		}
	}
	if CompareVersions("1.10.0", "1.9.0") <= 0 || CompareVersions("1.0.0-rc.1", "1.0.0") >= 0 {
		t.Error("CompareVersions does not order by semver")
	}
}

func TestProvenanceFile(t *testing.T) {
	prov := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: demo\nversion: 1.0.0\n\n...\nfiles:\n  demo-1.0.0.tgz: sha256:abcd\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n"
	if f, err := provenanceFile([]byte(prov)); err != nil || f != "demo-1.0.0.tgz" {
		t.Fatalf("provenanceFile = %q, %v", f, err)
	}
	for _, bad := range []string{"", "files:\n  demo-1.0.0.tgz: sha256:abcd\n", "-----BEGIN PGP SIGNED MESSAGE-----\nno files\n",
		"-----BEGIN PGP SIGNED MESSAGE-----\n-----BEGIN PGP SIGNATURE-----\nfiles:\n  demo-1.0.0.tgz: sha256:abcd\n"} {
		if f, err := provenanceFile([]byte(bad)); err == nil {
			t.Errorf("provenanceFile(%q) = %q", bad, f)
		}
	}
}

func TestIndexRoundTrip(t *testing.T) {
	ix := newIndex()
	ix.add(Entry{"name": "demo", "version": "1.0.0", "urls": []any{"charts/demo-1.0.0.tgz"}})
	ix.add(Entry{"name": "demo", "version": "1.10.0", "urls": []any{"charts/demo-1.10.0.tgz"}})
	ix.add(Entry{"name": "demo", "version": "1.0.0", "urls": []any{"duplicate"}})
	b := ix.Render()
	back, err := ParseIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	es := back.Entries["demo"]
	if len(es) != 2 || es[0].Version() != "1.10.0" || es[1].URLs()[0] != "charts/demo-1.0.0.tgz" {
		t.Fatalf("index round trip = %+v\n%s", back.Entries, b)
	}
	if _, err := ParseIndex([]byte("entries: [")); err == nil {
		t.Fatal("ParseIndex of broken YAML succeeded")
	}
	// Entries whose name or version is not a chart's are dropped.
	back, err = ParseIndex([]byte("apiVersion: v1\nentries:\n  ok:\n  - name: ok\n    version: 1.0.0\n  bad:\n  - name: other\n    version: 1.0.0\n  - name: bad\n    version: x\n"))
	if err != nil || len(back.Entries) != 1 || len(back.Entries["ok"]) != 1 {
		t.Fatalf("ParseIndex = %+v, %v", back, err)
	}
}

// FuzzParseChart: any bytes either fail or give a chart with a valid
// name and version; never a panic, never unbounded work.
func FuzzParseChart(f *testing.F) {
	f.Add(archive(f, [2]string{"demo/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 1.0.0\n"}))
	f.Add(archive(f, [2]string{"./demo/Chart.yaml", "apiVersion: v1\nname: demo\nversion: 0.1.0-a\nkeywords: [a, b]\n"}))
	f.Add(archive(f, [2]string{"../x/Chart.yaml", "a: &a [*a]"}))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseChart(bytes.NewReader(b))
		if err != nil {
			return
		}
		if CheckName(c.Name) != nil || CheckVersion(c.Version) != nil || checkFile(c.File()) != nil {
			t.Fatalf("ParseChart accepted %+v", c)
		}
	})
}

// FuzzChartYAML: Chart.yaml parsing on its own.
func FuzzChartYAML(f *testing.F) {
	for _, s := range []string{"apiVersion: v2\nname: demo\nversion: 1.0.0\n", "a: &a [*a, *a]\nb: &b [*a, *a]\n", "name: [", "version: 1.0.0\nname: x\napiVersion: v1\nurls: 3\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseChartYAML(b)
		if err == nil && (CheckName(c.Name) != nil || CheckVersion(c.Version) != nil || c.Meta["urls"] != nil) {
			t.Fatalf("parseChartYAML accepted %+v", c)
		}
	})
}

// FuzzParseIndex: an upstream's index.yaml.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nentries:\n  demo:\n  - name: demo\n    version: 1.0.0\n    urls: [charts/demo-1.0.0.tgz]\n"))
	f.Add([]byte("entries: {a: [null, {name: a, version: 1.0.0, urls: [1, x]}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := ParseIndex(b)
		if err != nil {
			return
		}
		for name, es := range ix.Entries {
			for _, e := range es {
				if e.Name() != name || CheckVersion(e.Version()) != nil {
					t.Fatalf("ParseIndex kept %v", e)
				}
				e.URLs()
			}
		}
		relinked(ix).Render()
	})
}

// FuzzProvenanceFile and file names: what clients name and sign.
func FuzzProvenanceFile(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nfiles:\n  demo-1.0.0.tgz: sha256:ab\n"), "demo-1.0.0.tgz")
	f.Fuzz(func(t *testing.T, b []byte, file string) {
		provenanceFile(b)
		for _, nv := range splitFile(file) {
			if CheckName(nv[0]) != nil || CheckVersion(nv[1]) != nil {
				t.Fatalf("splitFile(%q) = %v", file, nv)
			}
		}
	})
}
