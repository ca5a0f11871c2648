package ui

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "/",
		"/":                      "/",
		"/ui/account":            "/ui/account",
		"/ui/repositories?q=a&b": "/ui/repositories?q=a&b",
		"//evil.example/x":       "/",
		"/\\evil.example":        "/",
		"https://evil.example/":  "/",
		"ui/account":             "/",
		"/ui/\r\nSet-Cookie: x":  "/",
		"javascript:alert(1)":    "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"", "/", "//x", "/\\x", "/ui/a?b=c", "http://x", "/\t/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves this server", s, got)
		}
	})
}

func TestPager(t *testing.T) {
	r := httptest.NewRequest("GET", "/ui/repositories?format=oci&page=3&size=20", nil)
	p := newPager(r, 50)
	if p.Page != 3 || p.Size != 20 || p.Limit() != 21 || p.Offset() != 40 {
		t.Fatalf("pager %+v", p)
	}
	if n := p.Keep(21); n != 20 || !p.More || p.First() != 41 || p.Last() != 60 {
		t.Fatalf("Keep(21) = %d, pager %+v", n, p)
	}
	if got := p.Next(); got != "/ui/repositories?format=oci&page=4&size=20" {
		t.Errorf("Next = %q", got)
	}
	if got := p.Prev(); got != "/ui/repositories?format=oci&page=2&size=20" {
		t.Errorf("Prev = %q", got)
	}
	p.Keep(7)
	if p.More || p.Next() != "" {
		t.Errorf("last page has a next link")
	}
	first := newPager(httptest.NewRequest("GET", "/x?page=2", nil), 50)
	if first.Prev() != "/x" {
		t.Errorf("Prev to the first page = %q, want /x", first.Prev())
	}
	for _, q := range []string{"page=-1", "page=abc", "page=0", "size=5", "size=100000"} {
		p := newPager(httptest.NewRequest("GET", "/x?"+q, nil), 50)
		if p.Page != 1 || p.Size != 50 {
			t.Errorf("%s: pager %+v", q, p)
		}
	}
	if p := newPager(httptest.NewRequest("GET", "/x?page=999999999", nil), 50); p.Page != maxPage {
		t.Errorf("page is not bounded: %d", p.Page)
	}
}

func TestRestoreMasked(t *testing.T) {
	old := map[string]any{"upstream": map[string]any{"url": "u", "password": "secret"}, "token": "t"}
	got := restoreMasked(map[string]any{"upstream": map[string]any{"url": "v", "password": masked}, "token": masked, "other": masked}, old).(map[string]any)
	up := got["upstream"].(map[string]any)
	if up["password"] != "secret" || up["url"] != "v" || got["token"] != "t" || got["other"] != masked {
		t.Fatalf("restoreMasked = %v", got)
	}
}

func TestKindOfManifest(t *testing.T) {
	for _, c := range []struct{ mt, at, ct, want string }{
		{"application/vnd.oci.image.index.v1+json", "", "", "index"},
		{"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.container.image.v1+json", "", "image"},
		{"application/vnd.oci.image.manifest.v1+json", "", "application/vnd.oci.image.config.v1+json", "image"},
		{"application/vnd.oci.image.manifest.v1+json", "application/spdx+json", "", "artifact"},
		{"application/vnd.oci.image.manifest.v1+json", "", "application/vnd.cncf.helm.config.v1+json", "artifact"},
	} {
		if got := kindOfManifest(c.mt, c.at, c.ct); got != c.want {
			t.Errorf("kindOfManifest(%q, %q, %q) = %q, want %q", c.mt, c.at, c.ct, got, c.want)
		}
	}
}

// FuzzParseOCI feeds stored manifests and configurations to the page's
// decoders: they may fail, never panic, and what they return must render.
func FuzzParseOCI(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":"sha256:00","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`))
	f.Add([]byte(`{"config":{"digest":"sha256:00","size":2},"layers":[{"size":3,"annotations":{"org.opencontainers.image.title":"x"}}],"subject":{"digest":"sha256:11"}}`))
	f.Add([]byte(`{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/sh"],"Cmd":["-c","x"],"Labels":{"a":"b"}},"history":[{"created_by":"RUN x","empty_layer":true}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"manifests":[{"platform":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseOCIDoc(b); err == nil {
			for _, m := range d.Manifests {
				_ = m.Platform.String()
			}
			_ = kindOfManifest(d.MediaType, d.ArtifactType, "")
		}
		if c, err := parseOCIConfig(b); err == nil {
			_ = c.Command()
		}
	})
}

func TestBytesFunc(t *testing.T) {
	bytes := (&views{}).funcs()["bytes"].(func(int64) string)
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 10 << 20: "10 MiB", 3 << 40: "3.0 TiB"} {
		if got := bytes(n); got != want {
			t.Errorf("bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestTemplatesParse parses every page template (pages are parsed when
// first rendered, so a broken one would otherwise show only when a user
// opens it).
func TestTemplatesParse(t *testing.T) {
	v, err := loadViews()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.pages) < 10 {
		t.Fatalf("only %d page templates found", len(v.pages))
	}
	for name, page := range v.pages {
		tpl, err := page()
		if err != nil {
			t.Errorf("page %s: %v", name, err)
			continue
		}
		if tpl.Lookup("layout") == nil {
			t.Errorf("page %s has no layout", name)
		}
	}
}
