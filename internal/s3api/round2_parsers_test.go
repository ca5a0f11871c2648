package s3api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParseCompleteClaim(t *testing.T) {
	for _, tc := range []struct {
		header, value, typ string
		alg                string
		parts              int
		code               string
	}{
		{"", "", "", "", 0, ""},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "", algCRC32, 0, ""},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "FULL_OBJECT", algCRC32, 0, ""},
		{"X-Amz-Checksum-Sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3", "", algSHA256, 3, ""},
		{"X-Amz-Checksum-Sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3", "FULL_OBJECT", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "COMPOSITE", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Sha1", "AAAAAA==-2", "", "", 0, "BadDigest"},
		{"X-Amz-Checksum-Sha1", "!!!", "", "", 0, "BadDigest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==-0", "", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==-02", "", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "OTHER", "", 0, "InvalidRequest"},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(tc.header, tc.value)
		}
		if tc.typ != "" {
			h.Set("X-Amz-Checksum-Type", tc.typ)
		}
		c, err := parseCompleteClaim(h)
		if errs.CodeOf(err) != tc.code || (err == nil && (c.Alg != tc.alg || c.Parts != tc.parts || c.Value != tc.value)) {
			t.Errorf("%s: %q (%s) = %+v, %v; want %s %d %q", tc.header, tc.value, tc.typ, c, err, tc.alg, tc.parts, tc.code)
		}
	}
}

func FuzzParseCompleteClaim(f *testing.F) {
	f.Add("crc32", "AAAAAA==", "")
	f.Add("sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3", "COMPOSITE")
	f.Fuzz(func(t *testing.T, alg, value, typ string) {
		h := http.Header{}
		h.Set("X-Amz-Checksum-"+alg, value)
		h.Set("X-Amz-Checksum-Type", typ)
		c, err := parseCompleteClaim(h)
		if err != nil {
			return
		}
		if c.Alg != "" {
			b64, _, _ := strings.Cut(c.Value, "-")
			if !validChecksumValue(c.Alg, b64) || (c.Parts > 0) != strings.Contains(c.Value, "-") || c.Parts > 10000 {
				t.Fatalf("accepted %q for %s as %+v", value, alg, c)
			}
		}
	})
}

func TestParseDeleteCond(t *testing.T) {
	c, err := parseDeleteCond(`"abc"`, "12", "Wed, 21 Oct 2015 07:28:00 GMT")
	if err != nil || c.IfMatch != `"abc"` || *c.Size != 12 || c.Modified.Unix() != 1445412480 {
		t.Fatalf("header conditions = %+v, %v", c, err)
	}
	c, err = parseDeleteCond("", "", "2015-10-21T07:28:00.000Z")
	if err != nil || c.Modified.Unix() != 1445412480 || c.Size != nil {
		t.Fatalf("XML time = %+v, %v", c, err)
	}
	for _, bad := range [][2]string{{"-1", ""}, {"x", ""}, {"", "yesterday"}} {
		if _, err := parseDeleteCond("", bad[0], bad[1]); errs.CodeOf(err) != "InvalidArgument" {
			t.Errorf("parseDeleteCond(%q, %q) = %v, want InvalidArgument", bad[0], bad[1], err)
		}
	}
	if c, _ := parseDeleteCond("", "", ""); c.set() {
		t.Fatal("no conditions are set")
	}
}

func FuzzParseDeleteCond(f *testing.F) {
	f.Add(`"abc"`, "12", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("", "", "2015-10-21T07:28:00.000Z")
	f.Fuzz(func(t *testing.T, etag, size, modified string) {
		c, err := parseDeleteCond(etag, size, modified)
		if err != nil {
			return
		}
		if (size != "") != (c.Size != nil) || (modified != "") != (c.Modified != nil) || (c.Size != nil && *c.Size < 0) {
			t.Fatalf("parseDeleteCond(%q, %q, %q) = %+v", etag, size, modified, c)
		}
	})
}

func TestParseObjectAttributes(t *testing.T) {
	got, err := parseObjectAttributes([]string{"ETag, ObjectSize", "Checksum"})
	if err != nil || len(got) != 3 || !got[attrETag] || !got[attrObjectSize] || !got[attrChecksum] {
		t.Fatalf("= %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {""}, {" , "}, {"ETag,Colour"}, {"etag"}} {
		if _, err := parseObjectAttributes(bad); errs.CodeOf(err) != "InvalidArgument" {
			t.Errorf("parseObjectAttributes(%q) = %v, want InvalidArgument", bad, err)
		}
	}
}

func FuzzParseObjectAttributes(f *testing.F) {
	f.Add("ETag,Checksum,ObjectParts,StorageClass,ObjectSize")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseObjectAttributes([]string{v})
		if err == nil && len(got) == 0 {
			t.Fatalf("accepted %q naming nothing", v)
		}
	})
}

func TestCannedVisibility(t *testing.T) {
	for acl, want := range map[string]string{"": "private", "private": "private", "bucket-owner-full-control": "private", "public-read": "public"} {
		if got, err := cannedVisibility(acl); err != nil || got != want {
			t.Errorf("cannedVisibility(%q) = %q, %v", acl, got, err)
		}
	}
	for _, acl := range []string{"public-read-write", "authenticated-read", "log-delivery-write", "PUBLIC-READ"} {
		if _, err := cannedVisibility(acl); errs.CodeOf(err) != "NotImplemented" {
			t.Errorf("cannedVisibility(%q) = %v, want NotImplemented", acl, err)
		}
	}
}

func TestParseVersioning(t *testing.T) {
	for body, want := range map[string]string{
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`: "Enabled",
		`<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`:                "Suspended",
	} {
		if got, err := parseVersioning([]byte(body)); err != nil || got != want {
			t.Errorf("parseVersioning(%s) = %q, %v", body, got, err)
		}
	}
	for body, code := range map[string]string{
		`<VersioningConfiguration><Status>On</Status></VersioningConfiguration>`:                                    "MalformedXML",
		`<VersioningConfiguration></VersioningConfiguration>`:                                                       "MalformedXML",
		`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`: "NotImplemented",
		`<Other/>`: "MalformedXML",
	} {
		if _, err := parseVersioning([]byte(body)); errs.CodeOf(err) != code {
			t.Errorf("parseVersioning(%s) = %v, want %s", body, err, code)
		}
	}
}

func FuzzParseVersioning(f *testing.F) {
	f.Add([]byte(`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseVersioning(b)
		if err == nil && got != versioningEnabled && got != versioningSuspended {
			t.Fatalf("parseVersioning(%q) = %q", b, got)
		}
	})
}

func TestWithoutAWSChunked(t *testing.T) {
	for in, want := range map[string]string{
		"deflate, gzip":           "deflate, gzip",
		"gzip":                    "gzip",
		"aws-chunked":             "",
		"aws-chunked,gzip":        "gzip",
		"gzip, aws-chunked":       "gzip",
		"br, AWS-Chunked ,  zstd": "br,  zstd",
	} {
		if got := withoutAWSChunked(in); got != want {
			t.Errorf("withoutAWSChunked(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzWithoutAWSChunked(f *testing.F) {
	f.Add("deflate, aws-chunked, gzip")
	f.Fuzz(func(t *testing.T, v string) {
		got := withoutAWSChunked(v)
		for _, e := range strings.Split(got, ",") {
			if strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
				t.Fatalf("withoutAWSChunked(%q) = %q keeps the token", v, got)
			}
		}
		if !strings.Contains(strings.ToLower(v), "aws-chunked") && got != v {
			t.Fatalf("withoutAWSChunked(%q) = %q changed a value without the token", v, got)
		}
	})
}

func TestLastOfEachPart(t *testing.T) {
	req := completeRequest{Parts: []completePart{{PartNumber: 1, ETag: "b"}, {PartNumber: 1, ETag: "a"}, {PartNumber: 2, ETag: "c"}}}
	got, err := lastOfEachPart(req)
	if err != nil || len(got) != 2 || got[0].ETag != "a" || got[1].PartNumber != 2 {
		t.Fatalf("= %+v, %v", got, err)
	}
	req.Parts = append(req.Parts, completePart{PartNumber: 1})
	if _, err := lastOfEachPart(req); errs.CodeOf(err) != "InvalidPartOrder" {
		t.Fatalf("descending parts: %v", err)
	}
}

func FuzzLastOfEachPart(f *testing.F) {
	f.Add([]byte{1, 1, 2, 5})
	f.Fuzz(func(t *testing.T, numbers []byte) {
		var req completeRequest
		for _, n := range numbers {
			req.Parts = append(req.Parts, completePart{PartNumber: int(n)})
		}
		got, err := lastOfEachPart(req)
		if err != nil {
			return
		}
		for i := 1; i < len(got); i++ {
			if got[i].PartNumber <= got[i-1].PartNumber {
				t.Fatalf("lastOfEachPart(%v) = %+v not strictly ascending", numbers, got)
			}
		}
	})
}
