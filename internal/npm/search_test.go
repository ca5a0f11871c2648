package npm

import (
	"slices"
	"testing"
)

func TestSearchQuery(t *testing.T) {
	q := ParseSearchQuery("Util  keywords:http,json scope:@arca author:x")
	if !slices.Equal(q.Terms, []string{"util"}) || !slices.Equal(q.Keywords, []string{"http", "json"}) || q.Scope != "arca" {
		t.Fatalf("parsed %+v", q)
	}
	cases := []struct {
		name, desc, kw string
		match          bool
	}{
		{"@arca/util", "", "http json", true},
		{"@arca/util", "", "http", false},
		{"@other/util", "", "http json", false},
		{"@arca/tools", "a util belt", "http json", true},
		{"@arca/tools", "", "http json", false},
	}
	for _, c := range cases {
		if got := q.matches(c.name, c.desc, c.kw) > 0; got != c.match {
			t.Errorf("%+v: match = %v", c, got)
		}
	}
	exact := ParseSearchQuery("util")
	if exact.matches("util", "", "") <= exact.matches("util-extra", "", "") {
		t.Errorf("an exact name must score above a partial one")
	}
	if ParseSearchQuery("").matches("anything", "", "") == 0 {
		t.Errorf("an empty query matches everything")
	}
}

func FuzzParseSearchQuery(f *testing.F) {
	f.Add("util keywords:a,b scope:@x")
	f.Fuzz(func(t *testing.T, s string) {
		q := ParseSearchQuery(s)
		if len(q.Terms)+len(q.Keywords) > 64*64 {
			t.Fatalf("too many terms")
		}
		q.matches("@x/util", "desc", "a b")
	})
}
