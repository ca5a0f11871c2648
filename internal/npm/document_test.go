package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

// tgz builds a gzipped tar from path → content pairs.
func tgz(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestReadTarballManifest(t *testing.T) {
	good := tgz(t, "package/index.js", "x", "package/package.json", `{"name":"@a/b","version":"1.0.0"}`)
	m, err := ReadTarballManifest(bytes.NewReader(good))
	if err != nil || m.Name != "@a/b" || m.Version != "1.0.0" {
		t.Fatalf("got %+v, %v", m, err)
	}
	// Any top-level directory name; a BOM is tolerated.
	other := tgz(t, "node/package.json", "\xef\xbb\xbf"+`{"name":"x","version":"2.0.0"}`)
	if m, err := ReadTarballManifest(bytes.NewReader(other)); err != nil || m.Version != "2.0.0" {
		t.Fatalf("got %+v, %v", m, err)
	}
	bad := map[string][]byte{
		"not gzip":        []byte("hello"),
		"no package.json": tgz(t, "package/index.js", "x"),
		"nested only":     tgz(t, "package/lib/package.json", `{"name":"x","version":"1.0.0"}`),
		"not json":        tgz(t, "package/package.json", `{name`),
		"no version":      tgz(t, "package/package.json", `{"name":"x"}`),
		"truncated":       good[:len(good)/2],
		"too large":       tgz(t, "package/package.json", `{"name":"x","version":"1.0.0","pad":"`+strings.Repeat("a", maxPackageJSON)+`"}`),
	}
	for what, b := range bad {
		if _, err := ReadTarballManifest(bytes.NewReader(b)); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: err = %v, want Invalid", what, err)
		}
	}
}

func TestReadTarballManifestBomb(t *testing.T) {
	// 300 MiB of zeros before package.json compresses to a few hundred KiB;
	// reading stops at the scan limit.
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	size := int64(300 << 20)
	tw.WriteHeader(&tar.Header{Name: "package/big.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
	zeros := make([]byte, 1<<20)
	for written := int64(0); written < size; written += int64(len(zeros)) {
		tw.Write(zeros)
	}
	pj := `{"name":"x","version":"1.0.0"}`
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pj))
	tw.Close()
	gz.Close()
	_, err := ReadTarballManifest(bytes.NewReader(buf.Bytes()))
	if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.Message(err), "no package.json in the first") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzReadTarballManifest(f *testing.F) {
	f.Add(tgz(f, "package/package.json", `{"name":"a","version":"1.0.0"}`))
	f.Add(tgz(f, "package/package.json", `[]`))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadTarballManifest(bytes.NewReader(b))
		if err != nil && !errs.Is(err, errs.Invalid) {
			t.Fatalf("error of kind %v: %v", errs.KindOf(err), err)
		}
		if err == nil && (len(m.Name) > maxPackageJSON || len(m.Version) > maxPackageJSON) {
			t.Fatalf("oversized fields")
		}
	})
}

// publishDoc builds the document npm publish sends.
func publishDoc(name, version string, tarball []byte) []byte {
	s1 := sha1.Sum(tarball)
	s512 := sha512.Sum512(tarball)
	doc := map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{
			"name": name, "version": version, "description": "test package",
			"dependencies": map[string]string{"dep": "^1.0.0"}, "scripts": map[string]string{"postinstall": "node x.js"},
			"dist": map[string]any{
				"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": fmt.Sprintf("http://localhost/%s/-/%s-%s.tgz", name, name, version),
			},
		}},
		"_attachments": map[string]any{name + "-" + version + ".tgz": map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(tarball), "length": len(tarball),
		}},
	}
	b, _ := json.Marshal(doc)
	return b
}

func TestDecodeDocumentAndRender(t *testing.T) {
	tb := tgz(t, "package/package.json", `{"name":"@a/b","version":"1.0.0"}`)
	body := publishDoc("@a/b", "1.0.0", tb)
	d, err := DecodeDocument(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "@a/b" || len(d.Versions) != 1 || len(d.Attachments) != 1 || d.DistTags["latest"] != "1.0.0" {
		t.Fatalf("decoded %+v", d)
	}
	if _, err := DecodeDocument(bytes.NewReader(body), int64(len(body))-1); !errs.Is(err, errs.TooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	for _, b := range []string{`{`, `[]`, `{"versions":[]}`, `{"dist-tags":{"latest":1}}`, `{"_attachments":{"x":{"length":"a"}}}`} {
		if _, err := DecodeDocument(strings.NewReader(b), 1000); !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: %v", b, err)
		}
	}
	m, err := ParseManifest(d.Versions["1.0.0"])
	if err != nil {
		t.Fatal(err)
	}
	in, err := ParseIntegrity(m.Dist())
	if err != nil || len(in.SHA1) != 40 || len(in.SHA512) != 128 {
		t.Fatalf("integrity %+v %v", in, err)
	}
	var integrity string
	json.Unmarshal(m.Dist()["integrity"], &integrity)
	if SRI(in.SHA512) != integrity {
		t.Fatalf("SRI = %q, dist.integrity %q", SRI(in.SHA512), integrity)
	}
	full, abbr := m.Render()
	for what, head := range map[string][]byte{"full": full, "abbreviated": abbr} {
		if !bytes.HasSuffix(head, []byte(`"tarball":"`)) {
			t.Fatalf("%s head does not end in the tarball field: %s", what, head)
		}
		doc := append(append([]byte{}, head...), `http://x/t.tgz"}}`...)
		var v map[string]any
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatalf("%s is not JSON: %v\n%s", what, err, doc)
		}
		if v["dist"].(map[string]any)["tarball"] != "http://x/t.tgz" || v["version"] != "1.0.0" {
			t.Fatalf("%s: %s", what, doc)
		}
		if what == "abbreviated" {
			if _, ok := v["description"]; ok {
				t.Errorf("abbreviated has a description")
			}
			if v["hasInstallScript"] != true {
				t.Errorf("abbreviated lacks hasInstallScript: %s", doc)
			}
		}
	}
	back, err := headManifest(full)
	if err != nil || back.String("description") != "test package" {
		t.Fatalf("headManifest: %+v %v", back, err)
	}
	// Empty objects render to valid JSON too.
	empty := &Manifest{Fields: map[string]json.RawMessage{}}
	f, a := empty.Render()
	for _, h := range [][]byte{f, a} {
		var v any
		if err := json.Unmarshal(append(h, `u"}}`...), &v); err != nil {
			t.Fatalf("empty manifest head %s: %v", h, err)
		}
	}
}

func TestParseIntegrity(t *testing.T) {
	s512 := sha512.Sum512([]byte("x"))
	s1 := sha1.Sum([]byte("x"))
	sri := "sha512-" + base64.StdEncoding.EncodeToString(s512[:])
	ok := map[string]string{
		`{"integrity":"` + sri + `"}`: "",
		`{"integrity":"` + sri + ` sha1-` + base64.StdEncoding.EncodeToString(s1[:]) + `"}`: "",
		`{"shasum":"` + hex.EncodeToString(s1[:]) + `"}`:                                    "",
		`{"integrity":"sha256-abc"}`:                                                        "", // other algorithms are ignored
	}
	for js := range ok {
		var dist map[string]json.RawMessage
		json.Unmarshal([]byte(js), &dist)
		if _, err := ParseIntegrity(dist); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
	bad := []string{
		`{"shasum":"xyz"}`, `{"shasum":1}`, `{"integrity":"sha512-!!"}`, `{"integrity":"sha512"}`,
		`{"integrity":"sha512-` + base64.StdEncoding.EncodeToString(s1[:]) + `"}`,
		`{"integrity":"sha1-` + base64.StdEncoding.EncodeToString(s1[:]) + `","shasum":"` + strings.Repeat("0", 40) + `"}`,
	}
	for _, js := range bad {
		var dist map[string]json.RawMessage
		json.Unmarshal([]byte(js), &dist)
		if _, err := ParseIntegrity(dist); err == nil {
			t.Errorf("%s accepted", js)
		}
	}
}

func FuzzDecodeDocument(f *testing.F) {
	tb := tgz(f, "package/package.json", `{"name":"a","version":"1.0.0"}`)
	f.Add(publishDoc("a", "1.0.0", tb))
	f.Add([]byte(`{"versions":{"1.0.0":{"dist":{"integrity":"sha512-"}}}}`))
	f.Add([]byte(`{"_attachments":{"a-1.0.0.tgz":{"data":"!!"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDocument(bytes.NewReader(b), 1<<20)
		if err != nil {
			if k := errs.KindOf(err); k != errs.Invalid && k != errs.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		for v, raw := range d.Versions {
			m, err := ParseManifest(raw)
			if err != nil {
				continue
			}
			ParseIntegrity(m.Dist())
			full, abbr := m.Render()
			for _, h := range [][]byte{full, abbr} {
				var x any
				if err := json.Unmarshal(append(append([]byte{}, h...), `u"}}`...), &x); err != nil {
					t.Fatalf("version %q renders invalid JSON: %v\n%s", v, err, h)
				}
			}
		}
		n, err := ParseName(d.Name)
		if err == nil {
			for v := range d.Versions {
				tarballAttachment(d, n, v)
			}
		}
	})
}
