package pypi

import (
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "zope.interface": "zope-interface", "Foo__Bar--baz..Q": "foo-bar-baz-q",
		"a_b-c.d": "a-b-c-d", "-x-": "-x-", "": "", "ABC": "abc",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"a", "Django", "zope.interface", "a-b_c.d", "x1", "1x"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("ValidName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a-", ".a", "a b", "a/b", "ä", "a\x00"} {
		if ValidName(bad) == nil {
			t.Errorf("ValidName(%q) accepted", bad)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"1.0":              "1.0",
		"v1.0":             "1.0",
		" 1.0 ":            "1.0",
		"1.0.0":            "1.0.0",
		"01.002":           "1.2",
		"0!1.0":            "1.0",
		"2!1.0":            "2!1.0",
		"1.0a1":            "1.0a1",
		"1.0alpha1":        "1.0a1",
		"1.0-A-1":          "1.0a1",
		"1.0b":             "1.0b0",
		"1.0beta2":         "1.0b2",
		"1.0c1":            "1.0rc1",
		"1.0pre1":          "1.0rc1",
		"1.0preview1":      "1.0rc1",
		"1.0RC1":           "1.0rc1",
		"1.0-1":            "1.0.post1",
		"1.0.post":         "1.0.post0",
		"1.0-r4":           "1.0.post4",
		"1.0rev4":          "1.0.post4",
		"1.0.dev":          "1.0.dev0",
		"1.0-dev-3":        "1.0.dev3",
		"1.0a1.post2.dev3": "1.0a1.post2.dev3",
		"1.0+Local-Ver_5":  "1.0+local.ver.5",
		"1.0+abc.007":      "1.0+abc.7",
		"1.0.0_rc1":        "1.0.0rc1",
	} {
		v, err := ParseVersion(in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", in, err)
			continue
		}
		if v.String() != want {
			t.Errorf("ParseVersion(%q) = %q, want %q", in, v.String(), want)
		}
	}
	for _, bad := range []string{"", "x", "1.0.", ".1", "1..0", "1.0+", "1.0+a..b", "1.0-", "1.0 beta", "1.0~1", "1,0", "1.0\n1"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// In ascending order, as PEP 440's examples sort them.
	ordered := []string{
		"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
		"1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
		"1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "1!0.1",
	}
	var vs []Version
	for _, s := range ordered {
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	for i := range vs {
		for j := range vs {
			got := CompareVersions(vs[i], vs[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	shuffled := slices.Clone(vs)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, CompareVersions)
	for i := range shuffled {
		if shuffled[i].String() != vs[i].String() {
			t.Fatalf("sorted[%d] = %s, want %s", i, shuffled[i], vs[i])
		}
	}
	eq := func(a, b string) {
		va, _ := ParseVersion(a)
		vb, _ := ParseVersion(b)
		if CompareVersions(va, vb) != 0 {
			t.Errorf("%s != %s", a, b)
		}
	}
	eq("1.0", "1.0.0.0")
	eq("1.0a", "1.0a0")
	eq("99999999999999999999999.1", "99999999999999999999999.1.0")
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", "1!2.3a4.post5.dev6+local.7", "1.0-1", "v1.0rc", "1.0+a_b-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		// The normalized form parses to itself and compares equal.
		n := v.String()
		v2, err := ParseVersion(n)
		if err != nil {
			t.Fatalf("normalized %q of %q does not parse: %v", n, s, err)
		}
		if v2.String() != n {
			t.Fatalf("normalizing is not idempotent: %q → %q → %q", s, n, v2.String())
		}
		if CompareVersions(v, v2) != 0 {
			t.Fatalf("%q and its normalized form %q compare unequal", s, n)
		}
	})
}

func FuzzNormalize(f *testing.F) {
	f.Add("Foo.Bar_baz")
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if Normalize(n) != n {
			t.Fatalf("Normalize is not idempotent on %q", s)
		}
		if ValidName(s) == nil && ValidName(n) != nil {
			t.Fatalf("the normalized form %q of valid %q is invalid", n, s)
		}
	})
}
