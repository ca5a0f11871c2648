package s3api

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParseTaggingHeader(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []tag
		code string
	}{
		{"", nil, ""},
		{"a=1", []tag{{"a", "1"}}, ""},
		{"team=ml&stage=prod%20eu&empty=&bare", []tag{{"team", "ml"}, {"stage", "prod eu"}, {"empty", ""}, {"bare", ""}}, ""},
		{"k%2Fx=v%3Dy", []tag{{"k/x", "v=y"}}, ""},
		{"a=1&a=2", nil, "InvalidTag"},
		{"=v", nil, "InvalidTag"},
		{"a=%zz", nil, "InvalidArgument"},
		{"aws:x=1", nil, "InvalidTag"},
		{"a=b%21", nil, "InvalidTag"}, // '!' is not allowed
		{strings.Repeat("k", 129) + "=v", nil, "InvalidTag"},
		{"k=" + strings.Repeat("v", 257), nil, "InvalidTag"},
		{strings.Repeat("k", 128) + "=" + strings.Repeat("é", 256), []tag{{strings.Repeat("k", 128), strings.Repeat("é", 256)}}, ""},
		{"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11", nil, "BadRequest"},
	} {
		got, err := parseTaggingHeader(c.in)
		if c.code != "" {
			if errs.CodeOf(err) != c.code {
				t.Errorf("parseTaggingHeader(%.40q) = %v, want %s", c.in, err, c.code)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("parseTaggingHeader(%.40q) = %v, %v", c.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("parseTaggingHeader(%.40q)[%d] = %v, want %v", c.in, i, got[i], c.want[i])
			}
		}
		if back, err := parseTaggingHeader(encodeTaggingHeader(got)); err != nil || len(back) != len(got) {
			t.Errorf("round trip of %.40q = %v, %v", c.in, back, err)
		}
	}
}

func TestParseTaggingXML(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		code string
	}{
		{`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value></Value></Tag></TagSet></Tagging>`, 2, ""},
		{`<Tagging><TagSet></TagSet></Tagging>`, 0, ""},
		{`<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>`, 0, "InvalidTag"},
		{`<Tagging><TagSet><Tag><Value>1</Value></Tag></TagSet></Tagging>`, 0, "InvalidTag"},
		{`<Tagging><TagSet>` + strings.Repeat(`<Tag><Key>k</Key><Value>v</Value></Tag>`, 11) + `</TagSet></Tagging>`, 0, "InvalidTag"},
		{`<Tagging><TagSet><Tag>`, 0, "MalformedXML"},
		{`not xml`, 0, "MalformedXML"},
	} {
		got, err := parseTaggingXML([]byte(c.in))
		if c.code != "" {
			if errs.CodeOf(err) != c.code {
				t.Errorf("parseTaggingXML(%.60q) = %v, want %s", c.in, err, c.code)
			}
			continue
		}
		if err != nil || len(got) != c.n {
			t.Errorf("parseTaggingXML(%.60q) = %v, %v", c.in, got, err)
		}
	}
}

// checkTags is what every accepted tag set must satisfy.
func checkTags(t *testing.T, tags []tag) {
	t.Helper()
	if len(tags) > maxTags {
		t.Fatalf("accepted %d tags", len(tags))
	}
	seen := map[string]bool{}
	for _, tg := range tags {
		if tg.Key == "" || seen[tg.Key] || utf8.RuneCountInString(tg.Key) > maxTagKeyLen || utf8.RuneCountInString(tg.Value) > maxTagValueLen ||
			!utf8.ValidString(tg.Key) || !utf8.ValidString(tg.Value) {
			t.Fatalf("accepted tag %q=%q of %v", tg.Key, tg.Value, tags)
		}
		seen[tg.Key] = true
	}
}

func FuzzParseTaggingXML(f *testing.F) {
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>&#xff;</Key></Tag></TagSet>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := parseTaggingXML(b)
		if err != nil {
			if errs.CodeOf(err) == "" {
				t.Fatalf("error without an S3 code: %v", err)
			}
			return
		}
		checkTags(t, tags)
	})
}

func FuzzParseTaggingHeader(f *testing.F) {
	f.Add("a=1&b=2")
	f.Add("a=%zz")
	f.Add("k=v&k=w")
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTaggingHeader(s)
		if err != nil {
			if errs.CodeOf(err) == "" {
				t.Fatalf("error without an S3 code: %v", err)
			}
			return
		}
		checkTags(t, tags)
		back, err := parseTaggingHeader(encodeTaggingHeader(tags))
		if err != nil || len(back) != len(tags) {
			t.Fatalf("round trip of %v = %v, %v", tags, back, err)
		}
		for i := range back {
			if back[i] != tags[i] {
				t.Fatalf("round trip of %v = %v", tags, back)
			}
		}
	})
}
