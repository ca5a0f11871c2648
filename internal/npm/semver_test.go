package npm

import (
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	valid := []string{
		"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
		"1.0.0-alpha+001", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0-x-y-z.--",
		"9007199254740991.0.0", "1.0.0-00a", "1.0.0-99999999999999999999",
	}
	for _, s := range valid {
		v, err := ParseVersion(s)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", s, err)
			continue
		}
		if v.String() != s {
			t.Errorf("ParseVersion(%q).String() = %q", s, v.String())
		}
	}
	invalid := []string{
		"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "v1.2.3", "=1.2.3", " 1.2.3", "1.2.3 ",
		"1.2.3-", "1.2.3+", "1.2.3-01", "1.2.3-a..b", "1.2.3+a..b", "1.2.3-a_b", "-1.2.3", "1.2.-3",
		"9007199254740992.0.0", "1.2.3-ä", "a.b.c", "1.2.3+b+c",
	}
	for _, s := range invalid {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) succeeded, want an error", s)
		}
	}
}

func TestVersionCompare(t *testing.T) {
	// SemVer 2.0.0 §11's example order.
	order := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0",
	}
	for i := range order {
		for j := range order {
			a, _ := ParseVersion(order[i])
			b, _ := ParseVersion(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s vs %s = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	a, _ := ParseVersion("1.0.0+a")
	b, _ := ParseVersion("1.0.0+b")
	if a.Compare(b) != 0 {
		t.Errorf("build metadata must not take part in precedence")
	}
}

func TestLooksLikeRange(t *testing.T) {
	for _, tag := range []string{"1", "1.2", "1.x", "v1", "=1.0.0", ">=1", "^1", "~1", "*", "x", "X", "x.1", ""} {
		if !looksLikeRange(tag) {
			t.Errorf("looksLikeRange(%q) = false", tag)
		}
	}
	for _, tag := range []string{"latest", "next", "beta", "canary-1", "v-next", "experimental"} {
		if looksLikeRange(tag) {
			t.Errorf("looksLikeRange(%q) = true", tag)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-alpha.1+build.5", "01.2.3", "1.2.3-0a", "", "9007199254740991.1.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		// A parsed version formats back to the input and parses again.
		if v.String() != s {
			t.Fatalf("ParseVersion(%q).String() = %q", s, v.String())
		}
		w, err := ParseVersion(v.String())
		if err != nil || w.Compare(v) != 0 || !slices.Equal(w.Build, v.Build) {
			t.Fatalf("round trip of %q: %v %v", s, w, err)
		}
		if v.Compare(v) != 0 {
			t.Fatalf("%q does not equal itself", s)
		}
	})
}
