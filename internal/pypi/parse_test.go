package pypi

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParseWheelFilename(t *testing.T) {
	f, err := ParseWheelFilename("Arca_Demo-1.0.0-py3-none-any.whl")
	if err != nil || f.Project != "arca-demo" || f.Version.String() != "1.0.0" || f.Python != "py3" || f.ABI != "none" || f.Platform != "any" || f.Type != Wheel {
		t.Fatalf("got %+v, %v", f, err)
	}
	f, err = ParseWheelFilename("numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
	if err != nil || f.Build != "1" || f.Python != "cp312" || f.Platform != "manylinux_2_17_x86_64.manylinux2014_x86_64" {
		t.Fatalf("got %+v, %v", f, err)
	}
	f, err = ParseWheelFilename("pkg-1.0+local.1-py3-none-any.whl")
	if err != nil || f.Version.String() != "1.0+local.1" {
		t.Fatalf("got %+v, %v", f, err)
	}
	for _, bad := range []string{
		"pkg-1.0-py3-none.whl", "pkg-1.0-py3-none-any.tar.gz", "pkg-x-py3-none-any.whl", "pkg-1.0-a-py3-none-any.whl",
		"-1.0-py3-none-any.whl", "pkg-1.0-py3-none-any-x-y.whl", "p/kg-1.0-py3-none-any.whl", "pkg-1.0-py3--any.whl",
		"pkg-1.0-py3-none-a%y.whl", ".whl", strings.Repeat("a", 300) + "-1.0-py3-none-any.whl",
	} {
		if _, err := ParseWheelFilename(bad); err == nil {
			t.Errorf("ParseWheelFilename(%q) accepted", bad)
		}
	}
}

func TestParseSdistFilename(t *testing.T) {
	for _, c := range []struct{ fn, project, wantProject, wantVersion, ext string }{
		{"Arca_Demo-1.0.0.tar.gz", "", "arca-demo", "1.0.0", ".tar.gz"},
		{"my-package-2.0rc1.tar.gz", "", "my-package", "2.0rc1", ".tar.gz"},
		{"my-package-2.0.zip", "my-package", "my-package", "2.0", ".zip"},
		{"foo-1.0-1.tar.gz", "", "foo", "1.0.post1", ".tar.gz"},
		{"foo-2-1.0.tar.gz", "foo-2", "foo-2", "1.0", ".tar.gz"},
	} {
		f, err := ParseSdistFilename(c.fn, c.project)
		if err != nil || f.Project != c.wantProject || f.Version.String() != c.wantVersion || f.Ext != c.ext || f.Type != Sdist {
			t.Errorf("ParseSdistFilename(%q, %q) = %+v, %v", c.fn, c.project, f, err)
		}
	}
	for _, c := range [][2]string{{"foo.tar.gz", ""}, {"foo-1.0.tar.bz2", ""}, {"foo-bar.tar.gz", ""}, {"foo-1.0.tar.gz", "bar"}, {"-1.0.tar.gz", ""}} {
		if _, err := ParseSdistFilename(c[0], c[1]); err == nil {
			t.Errorf("ParseSdistFilename(%q, %q) accepted", c[0], c[1])
		}
	}
}

func FuzzParseFilename(f *testing.F) {
	for _, s := range []string{"a-1.0-py3-none-any.whl", "a-b-1.0.tar.gz", "x-1-2-py2.py3-none-any.whl", "a-1.0.zip"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, fn, project string) {
		p, err := ParseFilename(fn, project)
		if err != nil {
			return
		}
		if checkFilename(fn) != nil || ValidName(p.Name) != nil || p.Project != Normalize(p.Name) {
			t.Fatalf("accepted %q as %+v", fn, p)
		}
		if project != "" && p.Type == Sdist && p.Project != project {
			t.Fatalf("%q parsed as project %q, asked for %q", fn, p.Project, project)
		}
	})
}

const demoMetadata = "Metadata-Version: 2.1\nName: Arca-Demo\nVersion: 1.0.0\nSummary: a demo\nRequires-Python: >=3.8\n" +
	"Requires-Dist: requests>=2\nRequires-Dist: idna\nProject-URL: Home, https://example.invalid\n" +
	"Description: old style\n        |second line\n\nThe long description.\n"

func TestParseMetadata(t *testing.T) {
	m, err := ParseMetadata([]byte(demoMetadata))
	if err != nil {
		t.Fatal(err)
	}
	if m.Get("NAME") != "Arca-Demo" || m.Get("version") != "1.0.0" || len(m.All("requires-dist")) != 2 || m.Get("requires-python") != ">=3.8" {
		t.Fatalf("fields: %v", m.Fields)
	}
	if m.Description() != "The long description.\n" {
		t.Fatalf("description %q", m.Description())
	}
	m, _ = ParseMetadata([]byte("Name: x\nVersion: 1\nDescription: first\n       |second\n        third\n"))
	if d := m.Description(); d != "first\nsecond\nthird" {
		t.Fatalf("old-style description %q", d)
	}
	for _, bad := range []string{"", "Name: x\n", "Version: 1\n", " cont\nName: x\nVersion: 1\n", "Name: x\nVersion: one\n",
		"Name: -x\nVersion: 1\n", "no colon\nName: x\nVersion: 1\n", "Name: x\nVersion: 1\n\xff: y\n"} {
		if _, err := ParseMetadata([]byte(bad)); err == nil {
			t.Errorf("ParseMetadata(%q) accepted", bad)
		}
	}
	if _, err := ParseMetadata(bytes.Repeat([]byte("a"), maxMetadataBytes+1)); !errs.Is(err, errs.TooLarge) {
		t.Errorf("oversized metadata: %v", err)
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(demoMetadata))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			return
		}
		if ValidName(m.Get("name")) != nil {
			t.Fatalf("accepted invalid name %q", m.Get("name"))
		}
		if _, err := ParseVersion(m.Get("version")); err != nil {
			t.Fatalf("accepted invalid version %q", m.Get("version"))
		}
		_ = m.Description()
	})
}

// makeZip builds a zip archive of the named files.
func makeZip(t testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

func makeTarGz(t testing.TB, files map[string][]byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, b := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestWheelMetadata(t *testing.T) {
	md := []byte(demoMetadata)
	good := makeZip(t, map[string][]byte{"arca_demo/__init__.py": []byte("x=1\n"), "Arca_Demo-1.0.0.dist-info/METADATA": md, "Arca_Demo-1.0.0.dist-info/WHEEL": []byte("Wheel-Version: 1.0\n")})
	b, m, err := WheelMetadata(bytes.NewReader(good), int64(len(good)))
	if err != nil || !bytes.Equal(b, md) || m.Get("name") != "Arca-Demo" {
		t.Fatalf("WheelMetadata = %q, %v", b, err)
	}
	cases := map[string][]byte{
		"not a zip":      []byte("hello"),
		"no METADATA":    makeZip(t, map[string][]byte{"a/b.py": nil}),
		"two dist-infos": makeZip(t, map[string][]byte{"a-1.dist-info/METADATA": md, "b-1.dist-info/METADATA": md}),
		"nested":         makeZip(t, map[string][]byte{"x/a-1.dist-info/METADATA": md}),
		"wrong dir name": makeZip(t, map[string][]byte{"other-1.0.dist-info/METADATA": md}),
		"bad metadata":   makeZip(t, map[string][]byte{"Arca_Demo-1.0.0.dist-info/METADATA": []byte("garbage")}),
		"unsafe path":    makeZip(t, map[string][]byte{"../evil": nil, "Arca_Demo-1.0.0.dist-info/METADATA": md}),
		"zip bomb":       makeZip(t, map[string][]byte{"Arca_Demo-1.0.0.dist-info/METADATA": bytes.Repeat([]byte("A"), maxMetadataBytes+10)}),
	}
	for name, z := range cases {
		if _, _, err := WheelMetadata(bytes.NewReader(z), int64(len(z))); err == nil {
			t.Errorf("%s: accepted", name)
		} else if k := errs.KindOf(err); k != errs.Invalid && k != errs.TooLarge {
			t.Errorf("%s: kind %v (%v)", name, k, err)
		}
	}
	// A METADATA whose header understates its size is cut at the limit.
	big := cases["zip bomb"]
	if len(big) > 1<<20 {
		t.Fatalf("the compressed bomb is %d bytes; compression failed", len(big))
	}
}

func TestSdistMetadata(t *testing.T) {
	md := []byte(demoMetadata)
	tgz := makeTarGz(t, map[string][]byte{"Arca_Demo-1.0.0/setup.py": nil, "Arca_Demo-1.0.0/PKG-INFO": md, "Arca_Demo-1.0.0/src/x.egg-info/PKG-INFO": []byte("junk")})
	if _, m, err := SdistMetadata(bytes.NewReader(tgz), int64(len(tgz)), ".tar.gz"); err != nil || m.Get("version") != "1.0.0" {
		t.Fatalf("tar.gz: %v", err)
	}
	z := makeZip(t, map[string][]byte{"Arca_Demo-1.0.0/PKG-INFO": md})
	if _, _, err := SdistMetadata(bytes.NewReader(z), int64(len(z)), ".zip"); err != nil {
		t.Fatalf("zip: %v", err)
	}
	for name, b := range map[string][]byte{
		"not gzip":    []byte("plain"),
		"no PKG-INFO": makeTarGz(t, map[string][]byte{"x-1/setup.py": nil}),
		"top level":   makeTarGz(t, map[string][]byte{"PKG-INFO": md}),
		"bad":         makeTarGz(t, map[string][]byte{"x-1/PKG-INFO": []byte("Name: x\n")}),
	} {
		if _, _, err := SdistMetadata(bytes.NewReader(b), int64(len(b)), ".tar.gz"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzWheelMetadata(f *testing.F) {
	f.Add(makeZip(f, map[string][]byte{"a-1.dist-info/METADATA": []byte("Name: a\nVersion: 1\n")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		WheelMetadata(bytes.NewReader(b), int64(len(b)))
	})
}

func FuzzSdistMetadata(f *testing.F) {
	f.Add(makeTarGz(f, map[string][]byte{"a-1/PKG-INFO": []byte("Name: a\nVersion: 1\n")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		SdistMetadata(bytes.NewReader(b), int64(len(b)), ".tar.gz")
	})
}

func TestParseSimpleHTML(t *testing.T) {
	page := `<!DOCTYPE html><html><head><base href="https://files.example/base/"></head><body>
<a href="../p/demo-1.0-py3-none-any.whl#sha256=` + strings.Repeat("ab", 32) + `" data-requires-python="&gt;=3.8" data-core-metadata="sha256=` + strings.Repeat("cd", 32) + `">demo-1.0-py3-none-any.whl</a><br/>
<A HREF='demo-0.9.tar.gz#md5=` + strings.Repeat("0f", 16) + `' data-yanked>demo-0.9.tar.gz</A>
<a href="demo-0.8.tar.gz" data-yanked="broken &amp; bad" data-dist-info-metadata="true"><span>demo-0.8.tar.gz</span></a>
<a name="anchor-without-href">x</a><a href="javascript:alert(1)">evil</a></body></html>`
	base, _ := url.Parse("https://index.example/simple/demo/")
	files, err := ParseSimpleHTML([]byte(page), base)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("got %d files: %+v", len(files), files)
	}
	f := files[0]
	if f.URL != "https://files.example/p/demo-1.0-py3-none-any.whl" || f.SHA256 != strings.Repeat("ab", 32) || f.RequiresPython != ">=3.8" ||
		!f.Metadata || f.MetadataSHA256 != strings.Repeat("cd", 32) || f.Yanked || f.Size != -1 {
		t.Errorf("file 0: %+v", f)
	}
	if f := files[1]; f.MD5 != strings.Repeat("0f", 16) || !f.Yanked || f.YankedReason != "" || f.Filename != "demo-0.9.tar.gz" {
		t.Errorf("file 1: %+v", f)
	}
	if f := files[2]; f.YankedReason != "broken & bad" || !f.Metadata || f.MetadataSHA256 != "" || f.Filename != "demo-0.8.tar.gz" {
		t.Errorf("file 2: %+v", f)
	}
	// The page arca renders reads back the same.
	p := &Project{Name: "demo", Files: []File{{Filename: "d-1.0.tar.gz", URL: "../../files/d/d-1.0.tar.gz", SHA256: strings.Repeat("ab", 32),
		RequiresPython: `>=3.8,<"4"`, Yanked: true, YankedReason: "<bad>", Metadata: true, MetadataSHA256: strings.Repeat("cd", 32), Size: 5}}}
	back, err := ParseSimpleHTML(renderProjectHTML(p), base)
	if err != nil || len(back) != 1 {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	if b := back[0]; b.RequiresPython != `>=3.8,<"4"` || b.YankedReason != "<bad>" || b.URL != "https://index.example/files/d/d-1.0.tar.gz" || b.MetadataSHA256 != p.Files[0].MetadataSHA256 {
		t.Errorf("round trip: %+v", b)
	}
	_, jfiles, err := ParseSimpleJSON(renderProjectJSON(p), base)
	if err != nil || len(jfiles) != 1 || jfiles[0].Size != 5 || jfiles[0].YankedReason != "<bad>" || jfiles[0].SHA256 != p.Files[0].SHA256 || jfiles[0].MetadataSHA256 != p.Files[0].MetadataSHA256 {
		t.Errorf("JSON round trip: %v %+v", err, jfiles)
	}
}

func TestParseSimpleJSON(t *testing.T) {
	page := `{"meta":{"api-version":"1.1"},"name":"Demo","files":[
	 {"filename":"demo-1.0.tar.gz","url":"https://f.example/demo-1.0.tar.gz","hashes":{"sha256":"` + strings.Repeat("AB", 32) + `"},"yanked":"old","size":10,"upload-time":"2024-01-02T03:04:05.000000Z"},
	 {"filename":"demo-0.1.tar.gz","url":"/x/demo-0.1.tar.gz","hashes":{},"yanked":false,"core-metadata":true},
	 {"filename":"","url":"x"}]}`
	base, _ := url.Parse("https://index.example/simple/demo/")
	name, files, err := ParseSimpleJSON([]byte(page), base)
	if err != nil || name != "Demo" || len(files) != 2 {
		t.Fatalf("%q %+v %v", name, files, err)
	}
	if f := files[0]; f.SHA256 != strings.Repeat("ab", 32) || !f.Yanked || f.YankedReason != "old" || f.Size != 10 || f.UploadTime != 1704164645000 {
		t.Errorf("file 0: %+v", f)
	}
	if f := files[1]; f.URL != "https://index.example/x/demo-0.1.tar.gz" || !f.Metadata || f.Yanked {
		t.Errorf("file 1: %+v", f)
	}
	if _, _, err := ParseSimpleJSON([]byte(`{"meta":{"api-version":"2.0"},"files":[]}`), base); err == nil {
		t.Error("api-version 2.0 accepted")
	}
}

func FuzzParseSimpleHTML(f *testing.F) {
	f.Add([]byte(`<a href="x-1.tar.gz#sha256=00" data-yanked="r">x-1.tar.gz</a><base href=/y/><a href=z>z</a`))
	base, _ := url.Parse("https://h.example/simple/x/")
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := ParseSimpleHTML(b, base)
		if err != nil {
			return
		}
		for _, fl := range files {
			if u, err := url.Parse(fl.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Fragment != "" {
				t.Fatalf("bad URL %q", fl.URL)
			}
		}
	})
}

func FuzzParseSimpleJSON(f *testing.F) {
	f.Add([]byte(`{"meta":{"api-version":"1.0"},"name":"x","files":[{"filename":"x-1.tar.gz","url":"x-1.tar.gz","hashes":{"sha256":"00"},"yanked":true}]}`))
	base, _ := url.Parse("https://h.example/simple/x/")
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseSimpleJSON(b, base)
	})
}

func TestNegotiate(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                    typeHTML,
		"*/*":                                 typeHTML,
		"text/html":                           typeHTML,
		"application/vnd.pypi.simple.v1+json": typeJSON,
		"application/vnd.pypi.simple.latest+json": typeJSON,
		// pip's header
		"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01": typeJSON,
		// uv's header
		"application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01": typeJSON,
		"application/vnd.pypi.simple.v1+html":                             typeHTMLv1,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": typeHTML,
		"application/vnd.pypi.simple.v1+json;q=0.5, */*;q=0.9":            typeHTML,
		"application/json": "",
		"text/*":           typeHTML,
		"application/vnd.pypi.simple.v1+json;q=0, text/html;q=0": "",
	} {
		if got := negotiate(accept); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", accept, got, want)
		}
	}
}

func FuzzReadUploadForm(f *testing.F) {
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a-1.tar.gz\"\r\n\r\nxyz\r\n--B--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := newFormRequest(body)
		form, err := ReadUploadForm(r, func(name string, b io.Reader) error {
			_, err := io.Copy(io.Discard, b)
			return err
		})
		if err == nil && form.Filename == "" {
			t.Fatal("form without a file name accepted")
		}
	})
}
