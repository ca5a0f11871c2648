package search

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Query
		bad  bool
	}{
		{in: "requests", want: Query{Terms: [][]string{{"requests"}}, Text: "requests"}},
		{in: "  My-Pkg  format:PyPI repo:pypi-hosted", want: Query{Terms: [][]string{{"my", "pkg"}}, Text: "my-pkg", Format: "pypi", Repository: "pypi-hosted"}},
		{in: "sha256:0123456789ABCDEF", want: Query{Digest: "sha256:0123456789abcdef"}},
		{in: "0123456789abcdef0123", want: Query{Digest: "sha256:0123456789abcdef0123", BareDigest: true,
			Terms: [][]string{{"0123456789abcdef0123"}}, Text: "0123456789abcdef0123"}},
		{in: "123456789012345", want: Query{Digest: "sha256:123456789012345", BareDigest: true,
			Terms: [][]string{{"123456789012345"}}, Text: "123456789012345"}},
		{in: "deadbeefcafebabeX", want: Query{Terms: [][]string{{"deadbeefcafebabex"}}, Text: "deadbeefcafebabex"}}, // not hex: a word
		{in: "123456789012345 foo", bad: true},
		{in: "sha256:0123abc", want: Query{Terms: [][]string{{"sha256", "0123abc"}}, Text: "sha256:0123abc"}}, // too short a prefix
		{in: "kind:run resnet", want: Query{Terms: [][]string{{"resnet"}}, Text: "resnet", Kind: "run"}},
		{in: "", bad: true},
		{in: "format:npm", bad: true},
		{in: "--- ...", bad: true},
		{in: "sha256:0123456789ab foo", bad: true},
		{in: strings.Repeat("a ", 200), bad: true},
		{in: "a b c d e f g h i", bad: true},
		{in: "a.b.c.d.e.f.g.h.i", bad: true},
		{in: "\xff", bad: true},
	} {
		got, err := ParseQuery(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseQuery(%q) = %+v, want an error", c.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseQuery(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// FuzzParseQuery: any input parses or is refused, and what parses is
// within the limits and made only of what the engines' query builders
// accept (letters and digits).
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"requests", "format:pypi my-pkg", "sha256:0123456789abcdef", "\"*(:)", "kind:run repo:x a.b-c_d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			return
		}
		if len(q.Terms) > MaxTerms || (q.Digest == "" && len(q.Terms) == 0) || (q.Digest != "" && len(q.Terms) != 0 && !q.BareDigest) {
			t.Fatalf("ParseQuery(%q) = %+v", s, q)
		}
		for _, term := range q.Terms {
			if len(term) == 0 || len(term) > MaxTermTokens {
				t.Fatalf("term %q of %q", term, s)
			}
			for _, tok := range term {
				if len(Tokens(tok)) != 1 || Tokens(tok)[0] != tok {
					t.Fatalf("token %q of %q is not one word", tok, s)
				}
			}
		}
		if q.Digest != "" && (!strings.HasPrefix(q.Digest, "sha256:") || len(q.Digest) < 7+MinDigestPrefix || len(q.Digest) > 71) {
			t.Fatalf("digest %q of %q", q.Digest, s)
		}
		ftsMatch(q)
		tsQuery(q)
	})
}
