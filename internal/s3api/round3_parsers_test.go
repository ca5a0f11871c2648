package s3api

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParsePostPolicy(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	fields := map[string]string{"bucket": "b", "key": "up/a.txt", "content-type": "text/plain", "acl": "private", "policy": "x", "x-ignore-me": "1"}
	for _, tc := range []struct {
		doc    string
		code   string // parse error code, or "" when it parses
		check  string // check error code, or "" when the fields pass
		lo, hi int64
	}{
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [{"bucket": "b"}, ["starts-with", "$key", "up/"], {"acl": "private"}, ["StArTs-WiTh", "$CoNtEnT-TyPe", "text/"], ["content-length-range", 1, 10]]}`, "", "", 1, 10},
		{`{"expiration": "2026-12-07T00:00:00.000Z", "conditions": [{"bUcKeT": "b"}, ["eq", "$key", "up/a.txt"], ["starts-with", "$content-type", ""], {"acl": "private"}]}`, "", "", 0, -1},
		{`{"expiration": "2026-12-06T11:00:00Z", "conditions": [{"bucket": "b"}, ["starts-with", "$key", ""], ["starts-with", "$content-type", ""], {"acl": "private"}]}`, "", "AccessDenied", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [{"bucket": "other"}, ["starts-with", "$key", ""], ["starts-with", "$content-type", ""], {"acl": "private"}]}`, "", "AccessDenied", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["starts-with", "$key", ""], ["starts-with", "$content-type", ""]]}`, "", "AccessDenied", 0, 0}, // acl not named
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["starts-with", "$key", ""], ["starts-with", "$content-type", ""], {"acl": "private"}, ["eq", "$x-amz-meta-foo", ""]]}`, "", "AccessDenied", 0, 0},
		{`{"EXPIRATION": "2026-12-07T00:00:00Z", "conditions": []}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07 00:00:00+00:00", "conditions": []}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "CONDITIONS": []}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z"}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [{}]}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["content-length-range", 0]]}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["content-length-range", -1, 0]]}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["content-length-range", 1.5, 3]]}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["in", "$key", "a"]]}`, "InvalidPolicyDocument", "", 0, 0},
		{`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["eq", "key", "a"]]}`, "InvalidPolicyDocument", "", 0, 0},
		{`[]`, "InvalidPolicyDocument", "", 0, 0},
		{`null`, "InvalidPolicyDocument", "", 0, 0},
	} {
		p, err := parsePostPolicy([]byte(tc.doc))
		if errs.CodeOf(err) != tc.code || (err == nil) != (tc.code == "") {
			t.Errorf("parsePostPolicy(%s) = %v, want %q", tc.doc, err, tc.code)
			continue
		}
		if err != nil {
			continue
		}
		lo, hi, err := p.check(fields, now)
		if errs.CodeOf(err) != tc.check || (err == nil) != (tc.check == "") {
			t.Errorf("check of %s = %v, want %q", tc.doc, err, tc.check)
			continue
		}
		if err == nil && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("size range of %s = %d..%d, want %d..%d", tc.doc, lo, hi, tc.lo, tc.hi)
		}
	}
}

func FuzzParsePostPolicy(f *testing.F) {
	f.Add([]byte(`{"expiration": "2026-12-07T00:00:00Z", "conditions": [{"bucket": "b"}, ["starts-with", "$key", "up/"], ["content-length-range", 1, 10]]}`))
	f.Add([]byte(`{"expiration": "2026-12-07T00:00:00Z", "conditions": [["eq", "$x", ""], {"a": "b"}]}`))
	f.Add([]byte(`{"conditions": [[]]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := parsePostPolicy(doc)
		if err != nil {
			if errs.CodeOf(err) != "InvalidPolicyDocument" {
				t.Fatalf("error without the policy's code: %v", err)
			}
			return
		}
		for _, c := range p.Conditions {
			switch c.Op {
			case "eq", "starts-with":
				if c.Field == "" || c.Field != strings.ToLower(c.Field) {
					t.Fatalf("condition on field %q", c.Field)
				}
			case "content-length-range":
				if c.Min < 0 || c.Max < c.Min {
					t.Fatalf("range %d..%d", c.Min, c.Max)
				}
			default:
				t.Fatalf("operator %q", c.Op)
			}
		}
		p.check(map[string]string{"key": "k", "bucket": "b"}, time.Now())
	})
}

// FuzzReadForm feeds arbitrary bodies to the form reader: it returns the
// file part or an S3 error, and never reads past its budget.
func FuzzReadForm(f *testing.F) {
	var seed bytes.Buffer
	mw := multipart.NewWriter(&seed)
	mw.SetBoundary("BOUNDARY")
	mw.WriteField("key", "a")
	fw, _ := mw.CreateFormFile("file", "f")
	fw.Write([]byte("data"))
	mw.Close()
	f.Add(seed.Bytes())
	f.Add([]byte("--BOUNDARY\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nv\r\n--BOUNDARY--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, _ := http.NewRequest("POST", "http://x/b", nil)
		r.Header.Set("Content-Type", "multipart/form-data; boundary=BOUNDARY")
		budget := &budgetReader{r: bytes.NewReader(body), left: 4096, err: io.ErrUnexpectedEOF}
		fields, file, err := readForm(r, budget)
		if err != nil {
			if errs.CodeOf(err) == "" {
				t.Fatalf("error without an S3 code: %v", err)
			}
			return
		}
		if file == nil || fields == nil {
			t.Fatal("no file and no error")
		}
		if budget.left < 0 {
			t.Fatal("read past the budget")
		}
	})
}

func FuzzParseBucketTagging(f *testing.F) {
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>b</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value></Value></Tag></TagSet></Tagging>`))
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>aws:x</Key><Value>1</Value></Tag></TagSet></Tagging>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tags, err := parseBucketTagging(body)
		if err != nil {
			if errs.CodeOf(err) == "" {
				t.Fatalf("error without an S3 code: %v", err)
			}
			return
		}
		if len(tags) > maxBucketTags || validateTagText(tags) != nil {
			t.Fatalf("accepted %d tags %v", len(tags), tags)
		}
		for i := 1; i < len(tags); i++ {
			if tags[i-1].Key >= tags[i].Key {
				t.Fatalf("tags not sorted by key: %v", tags)
			}
		}
	})
}
