package s3api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// The examples of the S3 SigV4 documentation.
const (
	exampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var exampleTime = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)

func exampleLookup(ctx context.Context, id string) (auth.Principal, string, error) {
	if id != exampleKeyID {
		return auth.Principal{}, "", errs.E(errs.Unauthenticated, "unknown key")
	}
	return auth.Principal{UserID: 1, Name: "example"}, exampleSecret, nil
}

func TestVerifyHeaderExample(t *testing.T) {
	r := httptest.NewRequest("GET", "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	sig, err := verify(r, exampleTime.Add(time.Minute), exampleLookup)
	if err != nil || sig == nil || sig.principal.Name != "example" {
		t.Fatalf("verify = %+v, %v", sig, err)
	}
	// Any change breaks it.
	r.Header.Set("Range", "bytes=0-10")
	if _, err := verify(r, exampleTime, exampleLookup); errs.CodeOf(err) != "SignatureDoesNotMatch" {
		t.Fatalf("tampered request: %v", err)
	}
	r.Header.Set("Range", "bytes=0-9")
	if _, err := verify(r, exampleTime.Add(time.Hour), exampleLookup); errs.CodeOf(err) != "RequestTimeTooSkewed" {
		t.Fatalf("skewed request: %v", err)
	}
}

func TestVerifyPresignedExample(t *testing.T) {
	u := "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	r := httptest.NewRequest("GET", u, nil)
	if sig, err := verify(r, exampleTime.Add(time.Hour), exampleLookup); err != nil || !sig.presigned {
		t.Fatalf("verify = %+v, %v", sig, err)
	}
	if _, err := verify(r, exampleTime.Add(25*time.Hour), exampleLookup); errs.CodeOf(err) != "AccessDenied" || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}
	r = httptest.NewRequest("GET", strings.Replace(u, "test.txt", "test.txT", 1), nil)
	if _, err := verify(r, exampleTime.Add(time.Hour), exampleLookup); errs.CodeOf(err) != "SignatureDoesNotMatch" {
		t.Fatalf("tampered: %v", err)
	}
}

// chunkedExample is the 65 KiB upload of the documentation, signed in
// chunks of 64 KiB.
func chunkedExample() (*http.Request, []byte) {
	data := bytes.Repeat([]byte("a"), 65*1024)
	sigs := []string{
		"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
		"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
		"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "10000;chunk-signature=%s\r\n%s\r\n", sigs[0], data[:65536])
	fmt.Fprintf(&body, "400;chunk-signature=%s\r\n%s\r\n", sigs[1], data[65536:])
	fmt.Fprintf(&body, "0;chunk-signature=%s\r\n\r\n", sigs[2])
	r := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body.Bytes()))
	r.Header.Set("X-Amz-Date", "20130524T000000Z")
	r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
	r.Header.Set("X-Amz-Content-Sha256", streamingSigned)
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
	r.Header.Set("Content-Length", "66824")
	r.ContentLength = 66824
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	return r, data
}

func TestChunkedExample(t *testing.T) {
	r, data := chunkedExample()
	if body := r.Body; body == nil {
		t.Fatal("no body")
	}
	sig, err := verify(r, exampleTime, exampleLookup)
	if err != nil {
		t.Fatalf("seed signature: %v", err)
	}
	got, err := io.ReadAll(newChunkedReader(r.Body, sig, false))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("decoded %d bytes, %v; want the %d bytes of data", len(got), err, len(data))
	}
	// One changed byte of data fails the chunk's signature.
	r, _ = chunkedExample()
	raw, _ := io.ReadAll(r.Body)
	raw[200] = 'b'
	sig, _ = verify(r, exampleTime, exampleLookup)
	_, err = io.ReadAll(newChunkedReader(bytes.NewReader(raw), sig, false))
	if errs.CodeOf(err) != "SignatureDoesNotMatch" {
		t.Fatalf("tampered chunk: %v", err)
	}
}

// encodeChunked frames data in aws-chunked encoding, signing the chunks
// and trailer when sig is set.
func encodeChunked(data []byte, chunk int, sig *signature, trailers map[string]string) []byte {
	var b bytes.Buffer
	prev := ""
	if sig != nil {
		prev = sig.seed
	}
	emit := func(p []byte) {
		fmt.Fprintf(&b, "%x", len(p))
		if sig != nil {
			h := sha256hex(p)
			s := sign(sig.key, "AWS4-HMAC-SHA256-PAYLOAD\n"+sig.amzDate+"\n"+sig.scope+"\n"+prev+"\n"+emptySHA256+"\n"+h)
			fmt.Fprintf(&b, ";chunk-signature=%s", s)
			prev = s
		}
		b.WriteString("\r\n")
		if len(p) > 0 {
			b.Write(p)
			b.WriteString("\r\n")
		}
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		emit(data[:n])
		data = data[n:]
	}
	emit(nil)
	var canonical strings.Builder
	for k, v := range trailers {
		fmt.Fprintf(&b, "%s:%s\r\n", k, v)
		canonical.WriteString(k + ":" + v + "\n")
	}
	if sig != nil && trailers != nil {
		s := sign(sig.key, "AWS4-HMAC-SHA256-TRAILER\n"+sig.amzDate+"\n"+sig.scope+"\n"+prev+"\n"+sha256hex([]byte(canonical.String())))
		fmt.Fprintf(&b, "x-amz-trailer-signature:%s\r\n", s)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func sha256hex(b []byte) string {
	h := newChecksum(algSHA256)
	h.Write(b)
	return fmt.Sprintf("%x", h.Sum(nil))
}

func testSigner() *signature {
	c := credential{AccessKey: exampleKeyID, Date: "20130524", Region: "us-east-1", Service: "s3"}
	return &signature{key: signingKey(exampleSecret, c), scope: c.scope(), amzDate: "20130524T000000Z", seed: strings.Repeat("ab", 32)}
}

func TestChunkedTrailers(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10000)
	for _, signed := range []bool{false, true} {
		var sig *signature
		if signed {
			sig = testSigner()
		}
		enc := encodeChunked(data, 8192, sig, map[string]string{"x-amz-checksum-crc32": "AAAAAA=="})
		c := newChunkedReader(bytes.NewReader(enc), sig, true)
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("signed=%v: %d bytes, %v", signed, len(got), err)
		}
		if c.Trailer["x-amz-checksum-crc32"] != "AAAAAA==" {
			t.Fatalf("signed=%v: trailers %v", signed, c.Trailer)
		}
		if signed {
			bad := bytes.Replace(enc, []byte("AAAAAA=="), []byte("AAAAAB=="), 1)
			_, err := io.ReadAll(newChunkedReader(bytes.NewReader(bad), sig, true))
			if errs.CodeOf(err) != "SignatureDoesNotMatch" {
				t.Fatalf("tampered trailer: %v", err)
			}
		}
	}
	// Truncated bodies and bad framing are errors, never data.
	enc := encodeChunked(data, 8192, nil, nil)
	for _, cut := range []int{1, 10, 8200, len(enc) - 3} {
		if _, err := io.ReadAll(newChunkedReader(bytes.NewReader(enc[:cut]), nil, true)); err == nil {
			t.Fatalf("body cut at %d decoded without error", cut)
		}
	}
	if _, err := io.ReadAll(newChunkedReader(strings.NewReader("zz\r\nabc\r\n0\r\n\r\n"), nil, true)); err == nil {
		t.Fatal("bad chunk size accepted")
	}
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code string
	}{
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64), ""},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("a", 64), ""},
		{"AWS AKID:sig", "InvalidRequest"},
		{"Basic abc", "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=AK/2013/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("a", 64), "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("a", 64), "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=x-amz-date,Signature=" + strings.Repeat("a", 64), "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=XYZ", "AuthorizationHeaderMalformed"},
		{"AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host", "AuthorizationHeaderMalformed"},
	} {
		_, err := parseAuthorization(tc.in)
		if errs.CodeOf(err) != tc.code {
			t.Errorf("parseAuthorization(%q) = %v, want code %q", tc.in, err, tc.code)
		}
	}
}

func TestCanonicalQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"b=2&a=1":                   "a=1&b=2",
		"prefix=a%20b&list-type=2":  "list-type=2&prefix=a%20b",
		"uploads":                   "uploads=",
		"a=x+y":                     "a=x%20y",
		"a=%2F&a=%2B":               "a=%2B&a=%2F",
		"X-Amz-Signature=abc&x=1":   "x=1",
		"response-content-type=a/b": "response-content-type=a%2Fb",
	} {
		if got := canonicalQuery(in, true); got != want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64))
	f.Add("AWS4-HMAC-SHA256 ,,=,Credential=")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseAuthorization(s)
		if err == nil && (len(p.Signature) != 64 || len(p.SignedHeaders) == 0 || p.Credential.AccessKey == "") {
			t.Fatalf("accepted %q as %+v", s, p)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add("GET", "/b/k?x=1&y", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature="+strings.Repeat("a", 64), "20130524T000000Z")
	f.Add("PUT", "/b/k?X-Amz-Signature=1&X-Amz-Credential=a", "", "")
	f.Fuzz(func(t *testing.T, method, target, authz, date string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		r, err := http.NewRequest(method, "http://h"+target, nil)
		if err != nil {
			return
		}
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if sig, err := verify(r, exampleTime, exampleLookup); err == nil && sig != nil {
			t.Fatalf("a random signature verified: %+v", sig)
		}
	})
}

func FuzzChunkedReader(f *testing.F) {
	f.Add(encodeChunked([]byte("hello world"), 4, nil, map[string]string{"x-amz-checksum-crc32": "AAAAAA=="}), false)
	f.Add(encodeChunked([]byte("hello world"), 4, testSigner(), nil), true)
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, signed bool) {
		var sig *signature
		if signed {
			sig = testSigner()
		}
		got, err := io.ReadAll(newChunkedReader(bytes.NewReader(body), sig, true))
		if len(got) > len(body) {
			t.Fatalf("decoded %d bytes from a body of %d", len(got), len(body))
		}
		_ = err
	})
}

func FuzzCanonicalQuery(f *testing.F) {
	f.Add("a=1&b=%20&c")
	f.Fuzz(func(t *testing.T, q string) {
		out := canonicalQuery(q, false)
		if strings.ContainsAny(out, " +") {
			t.Fatalf("canonicalQuery(%q) = %q holds unencoded characters", q, out)
		}
	})
}
