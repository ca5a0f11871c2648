package s3api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Signature Version 4, as S3 clients send it: in the Authorization header
// or in a presigned URL's query. This file holds the pure parts — parsing
// and the canonical request — apart from the key lookup (auth.go).

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat = "20060102T150405Z"
	emptySHA256   = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// The x-amz-content-sha256 values that are not a hash of the payload.
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

	// maxSkew is how far a header-signed request's time may be from ours.
	maxSkew = 15 * time.Minute
	// maxPresignExpiry is the longest validity of a presigned URL (7 days).
	maxPresignExpiry = 7 * 24 * time.Hour
)

// credential is the Credential field: KEYID/DATE/REGION/SERVICE/aws4_request.
type credential struct {
	AccessKey, Date, Region, Service string
}

func (c credential) scope() string {
	return c.Date + "/" + c.Region + "/" + c.Service + "/aws4_request"
}

// parseCredential parses KEYID/YYYYMMDD/REGION/SERVICE/aws4_request.
func parseCredential(s string) (credential, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[4] != "aws4_request" {
		return credential{}, s3Error("AuthorizationHeaderMalformed", "the credential %q is malformed: want ACCESSKEY/YYYYMMDD/REGION/s3/aws4_request", clip(s))
	}
	if _, err := time.Parse("20060102", parts[1]); err != nil || len(parts[1]) != 8 {
		return credential{}, s3Error("AuthorizationHeaderMalformed", "the credential date %q is malformed: want YYYYMMDD", clip(parts[1]))
	}
	if parts[3] != "s3" {
		return credential{}, s3Error("AuthorizationHeaderMalformed", "the credential service %q is wrong: want s3", clip(parts[3]))
	}
	return credential{AccessKey: parts[0], Date: parts[1], Region: parts[2], Service: parts[3]}, nil
}

// sigParams are the parsed parts of a signature, from the header or the
// query.
type sigParams struct {
	Credential    credential
	SignedHeaders []string
	Signature     string
	// Presigned: the signature came in the query; Expires bounds it.
	Presigned bool
	Date      time.Time
	Expires   time.Duration
}

// parseAuthorization parses an Authorization header of SigV4:
// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=a;b, Signature=hex".
func parseAuthorization(v string) (sigParams, error) {
	var p sigParams
	rest, ok := strings.CutPrefix(v, sigAlgorithm)
	if !ok || (rest != "" && rest[0] != ' ') {
		if strings.HasPrefix(v, "AWS ") {
			return p, s3Error("InvalidRequest", "signature version 2 is not supported: sign requests with AWS Signature Version 4 (AWS4-HMAC-SHA256)")
		}
		return p, s3Error("AuthorizationHeaderMalformed", "unsupported authorization type: want AWS4-HMAC-SHA256")
	}
	seen := map[string]bool{}
	for _, field := range strings.Split(rest, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, val, ok := strings.Cut(field, "=")
		if !ok || seen[k] {
			return p, s3Error("AuthorizationHeaderMalformed", "the authorization header is malformed near %q", clip(field))
		}
		seen[k] = true
		var err error
		switch k {
		case "Credential":
			p.Credential, err = parseCredential(val)
		case "SignedHeaders":
			p.SignedHeaders, err = parseSignedHeaders(val)
		case "Signature":
			p.Signature, err = parseSignature(val)
		default:
			err = s3Error("AuthorizationHeaderMalformed", "unknown field %q in the authorization header", clip(k))
		}
		if err != nil {
			return p, err
		}
	}
	if !seen["Credential"] || !seen["SignedHeaders"] || !seen["Signature"] {
		return p, s3Error("AuthorizationHeaderMalformed", "the authorization header needs Credential, SignedHeaders and Signature")
	}
	return p, nil
}

func parseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, s3Error("AuthorizationHeaderMalformed", "SignedHeaders is empty")
	}
	names := strings.Split(v, ";")
	for _, n := range names {
		if n == "" || strings.ToLower(n) != n || strings.ContainsFunc(n, func(c rune) bool { return c <= ' ' || c > '~' || c == ':' }) {
			return nil, s3Error("AuthorizationHeaderMalformed", "SignedHeaders %q is malformed", clip(v))
		}
	}
	if !slices.Contains(names, "host") {
		return nil, s3Error("AuthorizationHeaderMalformed", "SignedHeaders must include host")
	}
	return names, nil
}

func parseSignature(v string) (string, error) {
	if len(v) != 64 || !isLowerHex(v) {
		return "", s3Error("AuthorizationHeaderMalformed", "the signature must be 64 lowercase hex characters")
	}
	return v, nil
}

// parsePresigned parses the X-Amz-* parameters of a presigned URL.
func parsePresigned(q url.Values) (sigParams, error) {
	p := sigParams{Presigned: true}
	bad := func(format string, args ...any) (sigParams, error) {
		return sigParams{}, s3Error("AuthorizationQueryParametersError", format, args...)
	}
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires"} {
		if len(q[k]) != 1 {
			return bad("the presigned URL needs exactly one %s parameter", k)
		}
	}
	if q.Get("X-Amz-Algorithm") != sigAlgorithm {
		return bad("X-Amz-Algorithm must be %s", sigAlgorithm)
	}
	var err error
	if p.Credential, err = parseCredential(q.Get("X-Amz-Credential")); err != nil {
		return bad("%s", err.Error())
	}
	if p.SignedHeaders, err = parseSignedHeaders(q.Get("X-Amz-SignedHeaders")); err != nil {
		return bad("%s", err.Error())
	}
	if p.Signature, err = parseSignature(q.Get("X-Amz-Signature")); err != nil {
		return bad("%s", err.Error())
	}
	if p.Date, err = time.Parse(amzDateFormat, q.Get("X-Amz-Date")); err != nil {
		return bad("X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ")
	}
	// An expiry out of range is refused as S3 refuses it, with 403.
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil {
		return bad("X-Amz-Expires must be a non-negative number of seconds")
	}
	if secs < 0 {
		return sigParams{}, s3Error("AccessDenied", "X-Amz-Expires must be non-negative")
	}
	if secs > int64(maxPresignExpiry/time.Second) {
		return sigParams{}, s3Error("AccessDenied", "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
	}
	p.Expires = time.Duration(secs) * time.Second
	return p, nil
}

// uriEncode encodes s as SigV4 requires: every byte but A-Z a-z 0-9 - _ . ~
// as %XX (upper case), and '/' too unless keepSlash.
func uriEncode(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keepSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// canonicalQuery builds the canonical query string from a raw query: each
// name and value decoded and re-encoded strictly, sorted by name then
// value. skipSignature drops X-Amz-Signature (presigned URLs).
func canonicalQuery(rawQuery string, skipSignature bool) string {
	if rawQuery == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, item := range strings.Split(rawQuery, "&") {
		if item == "" {
			continue
		}
		k, v, _ := strings.Cut(item, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if skipSignature && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{uriEncode(k, false), uriEncode(v, false)})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// headerValue is the canonical value of one signed header: the request's
// values, each trimmed with inner runs of spaces collapsed, joined by ','.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		vals = r.TransferEncoding
	default:
		vals = r.Header.Values(name)
	}
	out := make([]string, len(vals)) // vals may be the request's own slice
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalRequest is the SigV4 canonical request of r, with uri as the
// canonical URI.
func canonicalRequest(r *http.Request, uri string, signed []string, payloadHash string, presigned bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, presigned))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURIs returns the canonical URI candidates of r: the decoded path
// encoded strictly (what SDKs compute), and the path as the client sent it
// when that differs (clients that sign the wire form).
func canonicalURIs(r *http.Request) []string {
	p := r.URL.Path
	if p == "" {
		p = "/"
	}
	strict := uriEncode(p, true)
	if raw := r.URL.EscapedPath(); raw != strict && raw != "" {
		return []string{strict, raw}
	}
	return []string{strict}
}

func stringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the key of one day, region and service.
func signingKey(secret string, c credential) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), c.Date)
	k = hmacSHA256(k, c.Region)
	k = hmacSHA256(k, c.Service)
	return hmacSHA256(k, "aws4_request")
}

func sign(key []byte, sts string) string { return hex.EncodeToString(hmacSHA256(key, sts)) }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// clip bounds client-supplied text quoted in messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
