package oci

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/auth"
)

func TestParseName(t *testing.T) {
	for in, want := range map[string]Name{
		"library/app":          {"library", "app"},
		"library/a/b/c":        {"library", "a/b/c"},
		"my-repo/x__y.z-w":     {"my-repo", "x__y.z-w"},
		"r/conformance---test": {"r", "conformance---test"},
	} {
		got, err := ParseName(in)
		if err != nil || got != want {
			t.Errorf("ParseName(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "app", "Library/app", "library/", "/app", "library//app", "library/a..b", "library/-a", "library/a_", "library/ä", strings.Repeat("a/", 130) + "a"} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
}

func TestParseDigestAndTag(t *testing.T) {
	good := []string{"sha256:" + strings.Repeat("a", 64), "sha512:" + strings.Repeat("0", 128)}
	for _, g := range good {
		if d, err := ParseDigest(g); err != nil || d.String() != g {
			t.Errorf("ParseDigest(%q) = %v, %v", g, d, err)
		}
	}
	for _, bad := range []string{"", "sha256:", "sha256:" + strings.Repeat("A", 64), "sha384:" + strings.Repeat("a", 96), "sha512:" + strings.Repeat("a", 64), "md5:abc"} {
		if _, err := ParseDigest(bad); err == nil {
			t.Errorf("ParseDigest(%q) accepted", bad)
		}
	}
	for _, tag := range []string{"latest", "v1.0", "_x", strings.Repeat("a", 128)} {
		if !ValidTag(tag) {
			t.Errorf("ValidTag(%q) = false", tag)
		}
	}
	for _, tag := range []string{"", ".x", "-x", "a/b", "a:b", strings.Repeat("a", 129)} {
		if ValidTag(tag) {
			t.Errorf("ValidTag(%q) = true", tag)
		}
	}
}

func TestParseManifest(t *testing.T) {
	cfg := `{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":2}`
	good := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + cfg + `,"layers":[]}`
	if _, mt, err := ParseManifest([]byte(good), "application/vnd.oci.image.manifest.v1+json"); err != nil || mt != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("good manifest: %v", err)
	}
	noType := `{"schemaVersion":2,"config":` + cfg + `}`
	if _, mt, err := ParseManifest([]byte(noType), "application/vnd.docker.distribution.manifest.v2+json"); err != nil || mt != mediaTypeDockerManifest {
		t.Fatalf("media type from Content-Type: %q %v", mt, err)
	}
	for name, c := range map[string][2]string{
		"not json":        {`{`, "application/vnd.oci.image.manifest.v1+json"},
		"type mismatch":   {good, "application/vnd.oci.image.index.v1+json"},
		"unknown type":    {`{"schemaVersion":2,"mediaType":"text/plain"}`, ""},
		"schema 1":        {`{"schemaVersion":1,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + cfg + `}`, ""},
		"no config":       {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`, ""},
		"bad digest":      {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:xyz","size":1}}`, ""},
		"index w/ layers": {`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[` + cfg + `]}`, ""},
		"no type at all":  {`{"schemaVersion":2}`, ""},
	} {
		if _, _, err := ParseManifest([]byte(c[0]), c[1]); code(err) != codeManifestInvalid {
			t.Errorf("%s: %v (code %s), want MANIFEST_INVALID", name, err, code(err))
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), "")
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:`+strings.Repeat("a", 64)+`"}}`), "application/vnd.oci.image.manifest.v1+json")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		m, mt, err := ParseManifest(body, ct)
		if err != nil {
			return
		}
		if !isManifestType(mt) {
			t.Fatalf("accepted media type %q", mt)
		}
		for _, d := range m.descriptors() {
			if _, err := ParseDigest(string(d.Digest)); err != nil {
				t.Fatalf("accepted descriptor digest %q", d.Digest)
			}
		}
	})
}

func FuzzParseName(f *testing.F) {
	f.Add("library/app")
	f.Add("a/b/../c")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		if n.String() != s || strings.Contains(s, "..") || strings.Contains(s, "//") || strings.ContainsAny(s, "%\\:@") {
			t.Fatalf("accepted %q as %+v", s, n)
		}
	})
}

func FuzzParseScope(f *testing.F) {
	f.Add("repository:library/app:pull,push")
	f.Add("registry:catalog:*")
	f.Add("repository(plugin):a/b:pull")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := auth.ParseScope(s)
		if err != nil {
			return
		}
		if a.Type == "" || a.Name == "" || len(a.Actions) == 0 {
			t.Fatalf("ParseScope(%q) = %+v", s, a)
		}
	})
}

func TestNeededScope(t *testing.T) {
	for _, c := range []struct{ method, path, query, want string }{
		{"GET", "/v2/library/app/manifests/1", "", "repository:library/app:pull"},
		{"HEAD", "/v2/library/app/blobs/sha256:x", "", "repository:library/app:pull"},
		{"POST", "/v2/library/app/blobs/uploads/", "", "repository:library/app:pull,push"},
		{"POST", "/v2/library/app/blobs/uploads/", "mount=x&from=library/other", "repository:library/app:pull,push repository:library/other:pull"},
		{"DELETE", "/v2/library/app/manifests/sha256:x", "", "repository:library/app:delete"},
		{"DELETE", "/v2/library/app/blobs/uploads/abc", "", "repository:library/app:pull,push"},
		{"GET", "/v2/library/app/blobs/uploads/abc", "", "repository:library/app:pull,push"},
		{"GET", "/v2/_catalog", "", "registry:catalog:*"},
		{"GET", "/v2/", "", ""},
	} {
		r := httptest.NewRequest(c.method, c.path+"?"+c.query, nil)
		if got := neededScope(r); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func TestRouteTemplate(t *testing.T) {
	for pattern, want := range map[string]string{
		`^/v2/$`: "/v2/",
		`^/v2/(?P<name>.+?)/blobs/(?P<digest>[^/]+)$`:        "/v2/{name}/blobs/{digest}",
		`^/v2/(?P<name>.+?)/blobs/uploads/(?P<id>[^/]+)$`:    "/v2/{name}/blobs/uploads/{id}",
		`^/v2/(?P<name>.+?)/manifests/(?P<reference>[^/]+)$`: "/v2/{name}/manifests/{reference}",
	} {
		if got := routeTemplate(pattern); got != want {
			t.Errorf("routeTemplate(%q) = %q, want %q", pattern, got, want)
		}
	}
}
