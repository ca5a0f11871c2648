package goproxy

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in                    string
		kind, module, version string
		canonical             bool
	}{
		{"golang.org/x/mod/@v/list", KindList, "golang.org/x/mod", "", false},
		{"golang.org/x/mod/@latest", KindLatest, "golang.org/x/mod", "", false},
		{"golang.org/x/mod/@v/v0.43.0.info", KindInfo, "golang.org/x/mod", "v0.43.0", true},
		{"golang.org/x/mod/@v/v0.43.0.mod", KindMod, "golang.org/x/mod", "v0.43.0", true},
		{"golang.org/x/mod/@v/v0.43.0.zip", KindZip, "golang.org/x/mod", "v0.43.0", true},
		{"github.com/!azure/azure-sdk-for-go/@v/list", KindList, "github.com/Azure/azure-sdk-for-go", "", false},
		{"github.com/!burnt!sushi/toml/@v/v1.6.0.zip", KindZip, "github.com/BurntSushi/toml", "v1.6.0", true},
		{"example.com/m/v2/@v/v2.0.0+incompatible.info", KindInfo, "example.com/m/v2", "v2.0.0+incompatible", true},
		{"example.com/m/@v/master.info", KindInfo, "example.com/m", "master", false},
		{"example.com/m/@v/v1.2.info", KindInfo, "example.com/m", "v1.2", false},
		{"example.com/m/@v/v1.0.0-!r!c1.info", KindInfo, "example.com/m", "v1.0.0-RC1", true},
	} {
		p, err := ParsePath(tc.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		if p.Kind != tc.kind || p.Module != tc.module || p.Version != tc.version || p.Key != tc.in || p.Canonical() != tc.canonical {
			t.Errorf("ParsePath(%q) = %+v (canonical %v)", tc.in, p, p.Canonical())
		}
	}
	for _, bad := range []string{
		"", "@v/list", "golang.org/x/mod", "golang.org/x/mod/@v/", "golang.org/x/mod/@v/v1.0.0.tar",
		"golang.org/x/mod/@v/.info", "github.com/Azure/x/@v/list", // upper case must be encoded
		"../etc/passwd/@v/list", "example.com/../x/@v/list", "example.com/m/@v/v1.0.0/../x.info",
		"example.com/m/@v/V1.0.0.info", "noDot/@v/list", strings.Repeat("a", 2000) + "/@v/list",
		"example.com/m/@v/v1.0.0\x00.zip",
	} {
		if p, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for _, ok := range [][2]string{
		{"example.com/m", "v1.0.0"}, {"example.com/m", "v0.1.0-rc.1"}, {"example.com/m/v2", "v2.3.4"},
		{"example.com/m", "v2.0.0+incompatible"}, {"example.com/m", "v0.0.0-20260101000000-abcdefabcdef"},
		{"gopkg.in/yaml.v3", "v3.0.1"},
	} {
		if err := CheckVersion(ok[0], ok[1]); err != nil {
			t.Errorf("CheckVersion(%s, %s): %v", ok[0], ok[1], err)
		}
	}
	for _, bad := range [][2]string{
		{"example.com/m", "v1.0"}, {"example.com/m", "1.0.0"}, {"example.com/m", "v2.0.0"},
		{"example.com/m/v2", "v1.0.0"}, {"example.com/m", "master"}, {"example.com/m", "v1.0.0+build"},
	} {
		if err := CheckVersion(bad[0], bad[1]); err == nil {
			t.Errorf("CheckVersion(%s, %s) succeeded", bad[0], bad[1])
		}
	}
}

func TestLatest(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"v1.0.0", "v1.10.0", "v1.9.0", "v2.0.0-rc.1"}, "v1.10.0"},
		{[]string{"v0.1.0-a", "v0.1.0-b"}, "v0.1.0-b"},
		{[]string{"junk", "v0.0.1"}, "v0.0.1"},
	} {
		if got := Latest(tc.in); got != tc.want {
			t.Errorf("Latest(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParsePath: any path either fails or parses to a module path that
// encodes back to what was asked, with a version free of path tricks.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"golang.org/x/mod/@v/list", "github.com/!azure/x/@v/v1.0.0.zip", "a.b/c/@latest",
		"example.com/m/@v/v1.0.0-!r!c1.info", "x/@v/../../.mod", "!!/@v/list"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		enc := Escaped(p.Module)
		if !strings.HasPrefix(s, enc+"/@") {
			t.Fatalf("ParsePath(%q): module %q encodes to %q", s, p.Module, enc)
		}
		for _, seg := range strings.Split(p.Module, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("ParsePath(%q) = %+v: unsafe module path", s, p)
			}
		}
		if strings.ContainsAny(p.Version, "/\\\x00") || p.Version == "." || p.Version == ".." {
			t.Fatalf("ParsePath(%q) = %+v: unsafe", s, p)
		}
		if p.Version != "" && EscapedVersion(p.Version)+"."+p.Kind != s[len(enc)+len("/@v/"):] {
			t.Fatalf("ParsePath(%q): version %q does not encode back", s, p.Version)
		}
	})
}
