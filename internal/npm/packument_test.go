package npm

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestContentNegotiation(t *testing.T) {
	abbr := map[string]bool{
		"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*": true,
		"application/vnd.npm.install-v1+json":                                      true,
		"application/json":                                                         false,
		"":                                                                         false,
		"application/vnd.npm.install-v1+json; q=0, application/json": false,
	}
	for accept, want := range abbr {
		r := httptest.NewRequest("GET", "/npm/r/x", nil)
		r.Header.Set("Accept", accept)
		if got := wantsAbbreviated(r); got != want {
			t.Errorf("Accept %q: abbreviated = %v", accept, got)
		}
	}
	gz := map[string]bool{"gzip,deflate": true, "gzip, deflate, br": true, "br": false, "gzip;q=0": false, "gzip;q=0.5": true, "": false}
	for enc, want := range gz {
		r := httptest.NewRequest("GET", "/npm/r/x", nil)
		r.Header.Set("Accept-Encoding", enc)
		if got := acceptsGzip(r); got != want {
			t.Errorf("Accept-Encoding %q: gzip = %v", enc, got)
		}
	}
}

func TestRewritePackument(t *testing.T) {
	up := []byte(`{"name":"@a/b","dist-tags":{"latest":"1.0.0"},"versions":{
		"1.0.0":{"name":"@a/b","version":"1.0.0","dist":{"tarball":"https://up.example/@a/b/-/b-1.0.0.tgz","integrity":"sha512-x"}},
		"2.0.0":{"name":"@a/b","version":"2.0.0","dist":{"tarball":"not a url"}}}}`)
	n, _ := ParseName("@a/b")
	out, err := rewritePackument(up, n, "http://arca/npm/p/")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Versions map[string]struct {
			Dist map[string]string `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Versions["1.0.0"].Dist["tarball"]; got != "http://arca/npm/p/@a/b/-/b-1.0.0.tgz" {
		t.Errorf("tarball = %q", got)
	}
	if got := doc.Versions["2.0.0"].Dist["tarball"]; got != "http://arca/npm/p/@a/b/-/b-2.0.0.tgz" {
		t.Errorf("tarball without a usable upstream URL = %q", got)
	}
	if doc.Versions["1.0.0"].Dist["integrity"] != "sha512-x" {
		t.Errorf("integrity lost")
	}
	if _, err := rewritePackument([]byte(`[]`), n, "x"); err == nil {
		t.Errorf("a non-object was accepted")
	}
}

func FuzzRewritePackument(f *testing.F) {
	f.Add([]byte(`{"versions":{"1.0.0":{"dist":{"tarball":"http://x/a/-/a-1.0.0.tgz"}}}}`))
	f.Add([]byte(`{"versions":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := rewritePackument(b, Name{Base: "a"}, "http://arca/npm/p/")
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON out of %q", b)
		}
	})
}

func TestBodyCache(t *testing.T) {
	c := newBodyCache(100)
	c.put("a", make([]byte, 20))
	c.put("b", make([]byte, 20))
	c.get("a")
	c.put("c", make([]byte, 20))
	c.put("d", make([]byte, 20))
	c.put("e", make([]byte, 20))
	c.put("f", make([]byte, 20)) // over 100: the least recently used ("b") goes
	if _, ok := c.get("b"); ok {
		t.Errorf("b survived")
	}
	if _, ok := c.get("a"); !ok {
		t.Errorf("a, recently used, was evicted")
	}
	c.put("big", make([]byte, 30)) // more than a quarter: not kept
	if _, ok := c.get("big"); ok {
		t.Errorf("an oversized body was kept")
	}
}
