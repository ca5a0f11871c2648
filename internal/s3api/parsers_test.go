package s3api

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in            string
		size          int64
		start, length int64
		partial       bool
		code          string
	}{
		{"bytes=0-9", 100, 0, 10, true, ""},
		{"bytes=90-", 100, 90, 10, true, ""},
		{"bytes=-5", 100, 95, 5, true, ""},
		{"bytes=-500", 100, 0, 100, true, ""},
		{"bytes=50-1000", 100, 50, 50, true, ""},
		{"bytes=100-", 100, 0, 0, false, "InvalidRange"},
		{"bytes=-0", 100, 0, 0, false, "InvalidRange"},
		{"bytes=0-", 0, 0, 0, false, "InvalidRange"},
		{"bytes=5-1", 100, 0, 100, false, ""},
		{"bytes=0-1,5-6", 100, 0, 100, false, ""},
		{"items=0-1", 100, 0, 100, false, ""},
		{"bytes=x-1", 100, 0, 100, false, ""},
	} {
		s, l, p, err := parseRange(tc.in, tc.size)
		if errs.CodeOf(err) != tc.code || (err == nil && (s != tc.start || l != tc.length || p != tc.partial)) {
			t.Errorf("parseRange(%q, %d) = %d, %d, %v, %v", tc.in, tc.size, s, l, p, err)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-9", int64(100))
	f.Add("bytes=-1", int64(0))
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			return
		}
		s, l, _, err := parseRange(v, size)
		if err == nil && (s < 0 || l < 0 || s+l > size) {
			t.Fatalf("parseRange(%q, %d) = %d+%d outside the object", v, size, s, l)
		}
	})
}

func TestChecksums(t *testing.T) {
	// The check values of the CRC catalogue for "123456789".
	for alg, want := range map[string]string{
		algCRC32:     "cbf43926",
		algCRC32C:    "e3069283",
		algCRC64NVME: "ae8b14860a799888",
	} {
		h := newChecksum(alg)
		h.Write([]byte("123456789"))
		if got := strings.TrimLeft(bytesHex(h.Sum(nil)), ""); got != want {
			t.Errorf("%s check value = %s, want %s", alg, got, want)
		}
	}
	h := http.Header{}
	h.Set("X-Amz-Checksum-Crc32", "AAAAAA==")
	h.Set("X-Amz-Checksum-Sha1", "AAAAAA==")
	if _, err := parseChecksumClaim(h); errs.CodeOf(err) != "InvalidRequest" {
		t.Errorf("two checksums: %v", err)
	}
	h = http.Header{}
	h.Set("X-Amz-Trailer", "x-amz-checksum-crc64nvme")
	h.Set("X-Amz-Sdk-Checksum-Algorithm", "CRC64NVME")
	if c, err := parseChecksumClaim(h); err != nil || c.Alg != algCRC64NVME || !c.Trailer {
		t.Errorf("trailer claim = %+v, %v", c, err)
	}
	h = http.Header{}
	h.Set("X-Amz-Checksum-Crc32", "not base64")
	if _, err := parseChecksumClaim(h); err == nil {
		t.Error("a malformed checksum value was accepted")
	}
	if v, ok := composite(algCRC32, []string{"AAAAAA==", "AAAAAQ=="}); !ok || !strings.HasSuffix(v, "-2") {
		t.Errorf("composite = %q, %v", v, ok)
	}
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func FuzzParseChecksumClaim(f *testing.F) {
	f.Add("x-amz-checksum-crc32", "CRC32", "AAAAAA==")
	f.Fuzz(func(t *testing.T, trailer, sdk, value string) {
		h := http.Header{}
		h.Set("X-Amz-Trailer", trailer)
		h.Set("X-Amz-Sdk-Checksum-Algorithm", sdk)
		h.Set("X-Amz-Checksum-Crc32c", value)
		c, err := parseChecksumClaim(h)
		if err == nil && c.Alg != "" && newChecksum(c.Alg) == nil {
			t.Fatalf("unknown algorithm accepted: %+v", c)
		}
		if err == nil && c.Value != "" {
			if b, derr := base64.StdEncoding.DecodeString(c.Value); derr != nil || len(b) != checksumSize(c.Alg) {
				t.Fatalf("malformed value accepted: %+v", c)
			}
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"": "", "a/": "a0", "ab": "ac", "é": "ê", "a\U0010FFFF": "b", "\uD7FF": "\uE000"} {
		if got := prefixEnd(in); got != want {
			t.Errorf("prefixEnd(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzPrefixEnd(f *testing.F) {
	f.Add("a/b")
	f.Fuzz(func(t *testing.T, p string) {
		if !utf8.ValidString(p) {
			return
		}
		end := prefixEnd(p)
		if !utf8.ValidString(end) {
			t.Fatalf("prefixEnd(%q) = %q is not UTF-8", p, end)
		}
		if end != "" && !(end > p && !strings.HasPrefix(end, p)) {
			t.Fatalf("prefixEnd(%q) = %q is not past every key with the prefix", p, end)
		}
	})
}

func TestBucketNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"dvc-storage": true, "a.b.c": true, "abc": true, "ab": false, "Abc": false, "a_b": false,
		"192.168.1.1": false, "-abc": false, "abc-": false, "a..b": false, strings.Repeat("a", 64): false, "xn--abc": false,
	} {
		if err := validateBucketName(name); (err == nil) != ok {
			t.Errorf("validateBucketName(%q) = %v", name, err)
		}
	}
}

func TestParseCopySource(t *testing.T) {
	for in, want := range map[string][2]string{
		"bucket/key":              {"bucket", "key"},
		"/bucket/a/b%20c":         {"bucket", "a/b c"},
		"bucket/k?versionId=null": {"bucket", "k"},
		"bucket/%E2%82%AC/x%3Fy":  {"bucket", "€/x?y"},
	} {
		b, k, _, err := parseCopySource(in)
		if err != nil || b != want[0] || k != want[1] {
			t.Errorf("parseCopySource(%q) = %q %q %v", in, b, k, err)
		}
	}
	if _, _, vid, err := parseCopySource("bucket/k?versionId=3HL4kqt"); err != nil || vid != "3HL4kqt" {
		t.Errorf("a version: %q, %v", vid, err)
	}
	for _, in := range []string{"", "bucket", "/bucket/", "bucket/%zz", "bucket/k?versionId=%zz"} {
		if _, _, _, err := parseCopySource(in); err == nil {
			t.Errorf("parseCopySource(%q) succeeded", in)
		}
	}
}

func FuzzParseCopySource(f *testing.F) {
	f.Add("/b/k?versionId=null")
	f.Fuzz(func(t *testing.T, v string) {
		b, k, _, err := parseCopySource(v)
		if err == nil && (b == "" || k == "" || validateKey(k) != nil) {
			t.Fatalf("accepted %q as %q %q", v, b, k)
		}
	})
}

func TestDecodeXML(t *testing.T) {
	var d deleteRequest
	if err := decodeXML(strings.NewReader(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b&amp;c</Key></Object></Delete>`), &d); err != nil {
		t.Fatal(err)
	}
	if !d.Quiet || len(d.Objects) != 2 || d.Objects[1].Key != "b&c" {
		t.Fatalf("decoded %+v", d)
	}
	for _, bad := range []string{"", "<Delete>", "<Other/>", "not xml", "<Delete><Object><Key>a</Object></Delete>"} {
		if err := decodeXML(strings.NewReader(bad), &deleteRequest{}); errs.CodeOf(err) != "MalformedXML" {
			t.Errorf("decodeXML(%q) = %v, want MalformedXML", bad, err)
		}
	}
	var c completeRequest
	if err := decodeXML(strings.NewReader(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>`), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Parts) != 1 || c.Parts[0].get(algCRC32) != "AAAAAA==" {
		t.Fatalf("decoded %+v", c)
	}
	if err := decodeXML(bytes.NewReader(bytes.Repeat([]byte(" "), maxXMLBody+10)), &c); err == nil {
		t.Fatal("an oversized body was accepted")
	}
}

func FuzzDecodeXML(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<Delete><Object><Key>a</Key></Object></Delete>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeXML(bytes.NewReader(b), &completeRequest{})
		decodeXML(bytes.NewReader(b), &deleteRequest{})
		decodeXML(bytes.NewReader(b), &createBucketConfiguration{})
	})
}

func TestConditions(t *testing.T) {
	h := http.Header{}
	h.Set("If-Match", `"abc"`)
	h.Set("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")
	if err := checkConditions(h, "", "abc", exampleTime, "NotModified"); err != nil {
		t.Errorf("a true If-Match must win over a false If-Unmodified-Since: %v", err)
	}
	h = http.Header{}
	h.Set("If-None-Match", `"x", "abc"`)
	if err := checkConditions(h, "", "abc", exampleTime, "NotModified"); errs.CodeOf(err) != "NotModified" {
		t.Errorf("If-None-Match: %v", err)
	}
}

func TestParseV2Date(t *testing.T) {
	want := time.Date(2026, 12, 6, 20, 18, 5, 0, time.UTC)
	for _, v := range []string{"Sun, 06 Dec 2026 20:18:05 GMT", "Sun, 06 Dec 2026 20:18:05 +0000", "Sun, 06 Dec 2026 21:18:05 +0100", "Sunday, 06-Dec-26 20:18:05 GMT"} {
		if got := parseV2Date(v); !got.Equal(want) {
			t.Errorf("parseV2Date(%q) = %v, want %v", v, got, want)
		}
	}
	if got := parseV2Date("yesterday"); !got.IsZero() {
		t.Errorf("parseV2Date(yesterday) = %v", got)
	}
}
