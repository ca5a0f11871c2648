package npm

import (
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	valid := map[string]Name{
		"left-pad":            {Base: "left-pad"},
		"@arca/util":          {Scope: "arca", Base: "util"},
		"@types/node":         {Scope: "types", Base: "node"},
		"JSONStream":          {Base: "JSONStream"}, // legacy uppercase: readable, not publishable
		"a.b_c~d":             {Base: "a.b_c~d"},
		"@scope/node_modules": {Scope: "scope", Base: "node_modules"},
	}
	for s, want := range valid {
		n, err := ParseName(s)
		if err != nil || n != want {
			t.Errorf("ParseName(%q) = %+v, %v; want %+v", s, n, err, want)
			continue
		}
		if n.String() != s {
			t.Errorf("%q: String() = %q", s, n.String())
		}
	}
	invalid := []string{
		"", "@", "@scope", "@scope/", "@/name", "@a/b/c", ".hidden", "_private", "@scope/.x", "@.s/x",
		"with space", "a/b", "ümlaut", "node_modules", "favicon.ico", "a%2fb", "a:b", strings.Repeat("a", 215),
	}
	for _, s := range invalid {
		if _, err := ParseName(s); err == nil {
			t.Errorf("ParseName(%q) succeeded, want an error", s)
		}
	}
}

func TestCheckNewName(t *testing.T) {
	for _, s := range []string{"left-pad", "@arca/util", "a.b_c-d"} {
		n, _ := ParseName(s)
		if err := CheckNewName(n); err != nil {
			t.Errorf("CheckNewName(%q): %v", s, err)
		}
	}
	for _, s := range []string{"JSONStream", "@Arca/util", "a~b", "it's", "(x)", "star*"} {
		n, err := ParseName(s)
		if err != nil {
			t.Fatalf("ParseName(%q): %v", s, err)
		}
		if err := CheckNewName(n); err == nil {
			t.Errorf("CheckNewName(%q) succeeded", s)
		}
	}
}

func TestEscapedAndTarball(t *testing.T) {
	n := Name{Scope: "arca", Base: "util"}
	if n.Escaped() != "@arca%2futil" {
		t.Errorf("Escaped = %q", n.Escaped())
	}
	if f := n.TarballFile("1.0.0"); f != "util-1.0.0.tgz" {
		t.Errorf("TarballFile = %q", f)
	}
	if v := n.versionOfFile("util-1.0.0-beta.1.tgz"); v != "1.0.0-beta.1" {
		t.Errorf("versionOfFile = %q", v)
	}
	for _, f := range []string{"other-1.0.0.tgz", "util-1.0.0.tar.gz", "util.tgz"} {
		if v := n.versionOfFile(f); v != "" && f != "util.tgz" {
			t.Errorf("versionOfFile(%q) = %q", f, v)
		}
	}
}

func TestSplitPathAndTakeName(t *testing.T) {
	cases := []struct {
		path string
		name string
		rest []string
	}{
		{"repo/left-pad", "left-pad", nil},
		{"repo/@arca%2futil", "@arca/util", nil},
		{"repo/@arca%2Futil", "@arca/util", nil},
		{"repo/@arca/util", "@arca/util", nil},
		{"repo/@arca/util/-/util-1.0.0.tgz", "@arca/util", []string{"-", "util-1.0.0.tgz"}},
		{"repo/@arca%2futil/-rev/3-abc", "@arca/util", []string{"-rev", "3-abc"}},
		{"repo/left-pad/1.0.0", "left-pad", []string{"1.0.0"}},
	}
	for _, c := range cases {
		segs, err := splitPath(c.path)
		if err != nil {
			t.Errorf("splitPath(%q): %v", c.path, err)
			continue
		}
		n, rest, err := takeName(segs[1:])
		if err != nil || n.String() != c.name || strings.Join(rest, "|") != strings.Join(c.rest, "|") {
			t.Errorf("%q: name %q rest %q err %v; want %q %q", c.path, n, rest, err, c.name, c.rest)
		}
	}
	for _, p := range []string{"repo/a%2fb", "repo/%zz", "repo/@a%2fb%2fc"} {
		segs, err := splitPath(p)
		if err == nil {
			_, _, err = takeName(segs[1:])
		}
		if err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"left-pad", "@arca/util", "@a/b/c", ".x", "JSONStream", "@scope%2fname"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			return
		}
		if n.String() != s {
			t.Fatalf("ParseName(%q).String() = %q", s, n.String())
		}
		// The escaped form is one path segment that parses back to n.
		segs, err := splitPath("repo/" + n.Escaped())
		if err != nil {
			t.Fatalf("splitPath of %q: %v", n.Escaped(), err)
		}
		m, rest, err := takeName(segs[1:])
		if err != nil || m != n || len(rest) != 0 {
			t.Fatalf("path of %q parsed as %+v %v %v", s, m, rest, err)
		}
	})
}

func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"repo/@a%2fb/-/b-1.0.0.tgz", "repo/-/package/@a/b/dist-tags/latest", "r/%2e%2e", "r/a%2fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := splitPath(s)
		if err != nil {
			return
		}
		for _, seg := range segs {
			if strings.Contains(seg, "/") && !strings.HasPrefix(seg, "@") {
				t.Fatalf("segment %q holds a slash", seg)
			}
		}
		if len(segs) > 1 {
			if n, _, err := takeName(segs[1:]); err == nil {
				if _, err := ParseName(n.String()); err != nil {
					t.Fatalf("takeName returned an invalid name %q", n)
				}
			}
		}
	})
}
