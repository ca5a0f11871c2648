package s3api

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// Signature Version 2, which some clients still send: awscli v1's
// `aws s3 presign` makes SigV2 presigned URLs (AWSAccessKeyId, Expires,
// Signature), and old tools sign headers with "AWS KEYID:SIGNATURE".
// Payloads of SigV2 requests are unsigned.

// v2Subresources are the query parameters that are part of a SigV2
// canonical resource.
var v2Subresources = map[string]bool{
	"acl": true, "cors": true, "delete": true, "lifecycle": true, "location": true, "logging": true,
	"notification": true, "partNumber": true, "policy": true, "requestPayment": true, "restore": true,
	"tagging": true, "torrent": true, "uploadId": true, "uploads": true, "versionId": true, "versioning": true,
	"versions": true, "website": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-content-type": true, "response-expires": true,
}

// v2StringToSign builds the SigV2 string to sign; date is the Date header
// or, for presigned URLs, the Expires parameter.
func v2StringToSign(r *http.Request, date string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-Md5") + "\n" + r.Header.Get("Content-Type") + "\n")
	var amz []string
	for k, vs := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz = append(amz, lk+":"+strings.Join(vs, ","))
		}
	}
	sort.Strings(amz)
	if r.Header.Get("X-Amz-Date") != "" {
		date = ""
	}
	b.WriteString(date + "\n")
	for _, h := range amz {
		b.WriteString(h + "\n")
	}
	b.WriteString(r.URL.EscapedPath())
	var subs []string
	for _, item := range strings.Split(r.URL.RawQuery, "&") {
		k, v, hasValue := strings.Cut(item, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if !v2Subresources[k] {
			continue
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if hasValue {
			subs = append(subs, k+"="+v)
		} else {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	if len(subs) > 0 {
		b.WriteString("?" + strings.Join(subs, "&"))
	}
	return b.String()
}

func v2Sign(secret, sts string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// parseV2Date parses a SigV2 Date or x-amz-date: HTTP's formats, or RFC
// 1123 with a numeric zone ("Sun, 06 Dec 2026 20:18:05 +0000", which s3cmd
// sends). It returns the zero time when it cannot.
func parseV2Date(v string) time.Time {
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	t, _ := time.Parse(time.RFC1123Z, v)
	return t
}

// verifyV2 checks a SigV2 header ("AWS KEYID:SIG") or presigned query.
func verifyV2(r *http.Request, now time.Time, lookup keyLookup) (*signature, error) {
	var id, sig, date string
	if h := r.Header.Get("Authorization"); h != "" {
		cred, ok := strings.CutPrefix(h, "AWS ")
		if id, sig, ok = strings.Cut(cred, ":"); !ok || id == "" || sig == "" {
			return nil, s3Error("AuthorizationHeaderMalformed", "malformed AWS signature version 2 authorization header")
		}
		date = r.Header.Get("Date")
		t := now
		if v := r.Header.Get("X-Amz-Date"); v != "" {
			t = parseV2Date(v)
		} else if date != "" {
			t = parseV2Date(date)
		} else {
			return nil, s3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
		}
		if d := now.Sub(t); d > maxSkew || d < -maxSkew {
			return nil, s3Error("RequestTimeTooSkewed", "the difference between the request time and the server's time is too large")
		}
	} else {
		q := r.URL.Query()
		id, sig, date = q.Get("AWSAccessKeyId"), q.Get("Signature"), q.Get("Expires")
		exp, err := strconv.ParseInt(date, 10, 64)
		if id == "" || sig == "" || err != nil {
			return nil, s3Error("AccessDenied", "a query-string authentication request needs AWSAccessKeyId, Expires and Signature")
		}
		if now.Unix() > exp {
			return nil, s3Error("AccessDenied", "request has expired")
		}
		// SigV2 URLs carry no signing time, only their expiry: one
		// further away than SigV4's longest validity is refused, so a
		// leaked URL is no longer useful than a SigV4 one.
		if time.Unix(exp, 0).Sub(now) > maxPresignExpiry+maxSkew {
			return nil, s3Error("AccessDenied", "a presigned URL may be valid for at most 7 days; Expires is %s", time.Unix(exp, 0).UTC().Format(time.RFC3339))
		}
	}
	principal, secret, err := lookup(r.Context(), id)
	if err != nil {
		if errs.Is(err, errs.Unauthenticated) {
			return nil, s3Error("InvalidAccessKeyId", "the access key ID you provided does not exist in our records")
		}
		return nil, err
	}
	sts := v2StringToSign(r, date)
	if !hmac.Equal([]byte(v2Sign(secret, sts)), []byte(sig)) {
		return nil, s3Error("SignatureDoesNotMatch", "the request signature we calculated does not match the signature you provided; check your key and signing method")
	}
	return &signature{principal: principal, payload: unsignedPayload, presigned: true}, nil
}

// isV2 reports whether r carries a SigV2 signature.
func isV2(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "AWS ") {
		return true
	}
	q := r.URL.Query()
	return q.Has("AWSAccessKeyId") && q.Has("Signature")
}
