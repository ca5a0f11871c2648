package importer_test

import (
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/importer"
	"github.com/arcaproject/arca/internal/ocicopy"
	"github.com/arcaproject/arca/internal/repo"
)

func TestOCIDestination(t *testing.T) {
	for _, c := range []struct{ image, prefix, repo, dst string }{
		{"project/app", "", "project", "project/app"},
		{"project/team/app", "", "project", "project/team/app"},
		{"alpine", "", "library", "library/alpine"},
		{"project/app", "mirror", "mirror", "mirror/project/app"},
		{"alpine", "mirror/hub", "mirror", "mirror/hub/alpine"},
	} {
		r, d := importer.OCIDestination(c.image, c.prefix)
		if r != c.repo || d != c.dst {
			t.Errorf("OCIDestination(%q, %q) = %q, %q; want %q, %q", c.image, c.prefix, r, d, c.repo, c.dst)
		}
	}
	if !ocicopy.IsReferrersTag("sha256-" + strings.Repeat("ab", 32)) {
		t.Error("the referrers tag schema is not recognised")
	}
	for _, tag := range []string{"latest", "sha256-abc", "sha256-" + strings.Repeat("AB", 32), "sha512-" + strings.Repeat("ab", 32)} {
		if ocicopy.IsReferrersTag(tag) {
			t.Errorf("%q taken for a referrers tag", tag)
		}
	}
}

func FuzzOCIDestination(f *testing.F) {
	f.Add("project/app", "")
	f.Add("alpine", "mirror")
	f.Fuzz(func(t *testing.T, image, prefix string) {
		r, d := importer.OCIDestination(image, prefix)
		if !strings.HasPrefix(d, r) || (prefix == "" && !strings.HasSuffix(d, image)) {
			t.Fatalf("OCIDestination(%q, %q) = %q, %q", image, prefix, r, d)
		}
		_ = repo.ValidateName(r)
	})
}

func FuzzParsePackument(f *testing.F) {
	f.Add([]byte(`{"name":"a","versions":{"1.0.0":{"name":"a","version":"1.0.0","dist":{"shasum":"x"}}},"dist-tags":{"latest":"1.0.0"},"_rev":"1-a"}`))
	f.Add([]byte(`{"versions":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := importer.ParsePackument(b)
		if err == nil && p.Versions == nil {
			t.Fatal("parsed a document without a versions map")
		}
	})
}

func FuzzParseNexusPage(f *testing.F) {
	f.Add([]byte(`{"items":[{"repository":"r","format":"raw","name":"a","assets":[{"downloadUrl":"http://n/repository/r/a","path":"a","checksum":{"sha1":"x"}}]}],"continuationToken":"t"}`))
	f.Add([]byte(`{"items":[],"continuationToken":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := importer.ParseNexusPage(b)
		if err == nil && p == nil {
			t.Fatal("nil page without an error")
		}
	})
}
