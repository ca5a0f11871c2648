package raw

import (
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func TestCleanPath(t *testing.T) {
	for _, c := range []struct {
		in  string
		dir bool
	}{
		{"", true}, {"a", false}, {"a/b.txt", false}, {"a/", true}, {"a/b/", true},
		{"files/md5/ab/cdef", false}, {"with space/ü.txt", false}, {"..a/b..", false}, {".hidden", false},
	} {
		got, dir, err := CleanPath(c.in)
		if err != nil || got != c.in || dir != c.dir {
			t.Errorf("CleanPath(%q) = %q, %v, %v", c.in, got, dir, err)
		}
	}
	for _, bad := range []string{
		"/abs", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b", "a//b", "//", "a\\b",
		"a\x00b", "a\nb", "\xff", strings.Repeat("a", 1025), strings.Repeat("a", 256) + "/b",
	} {
		if _, _, err := CleanPath(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("CleanPath(%q) = %v, want invalid", bad, err)
		}
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"", "a/b", "../x", "a//b", "a/", "%2e%2e", "a\\b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, dir, err := CleanPath(p)
		if err != nil {
			return
		}
		if got != p {
			t.Fatalf("CleanPath rewrote %q to %q", p, got)
		}
		if strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
			t.Fatalf("accepted %q", p)
		}
		for _, seg := range strings.Split(strings.TrimSuffix(p, "/"), "/") {
			if seg == "." || seg == ".." || (seg == "" && p != "") {
				t.Fatalf("accepted %q with segment %q", p, seg)
			}
		}
		if dir != (p == "" || strings.HasSuffix(p, "/")) {
			t.Fatalf("CleanPath(%q) dir = %v", p, dir)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"a/": "a0", "b/c/": "b/c0"} {
		if got := prefixEnd(in); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}
