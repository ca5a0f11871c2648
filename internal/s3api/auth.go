package s3api

import (
	"context"
	"crypto/hmac"
	"fmt"
	"net/http"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// signature is what a verified request was signed with; the aws-chunked
// decoder continues the chain of signatures from it.
type signature struct {
	principal auth.Principal
	key       []byte // the day's signing key
	scope     string
	amzDate   string
	seed      string // the request's own signature
	// payload is the x-amz-content-sha256 the request was signed with: a
	// hex digest, UNSIGNED-PAYLOAD, or one of the STREAMING-* modes.
	payload   string
	presigned bool
}

// keyLookup resolves an access key ID to its owner and secret.
type keyLookup func(ctx context.Context, id string) (auth.Principal, string, error)

// verify checks the signature of r: SigV4 from its Authorization header or
// its presigned query (or, for older clients, SigV2). A request with
// neither is anonymous (nil, nil).
func verify(r *http.Request, now time.Time, lookup keyLookup) (*signature, error) {
	if isV2(r) {
		return verifyV2(r, now, lookup)
	}
	header := r.Header.Get("Authorization")
	q := r.URL.Query()
	presigned := q.Has("X-Amz-Signature") || q.Has("X-Amz-Credential")
	var (
		p   sigParams
		err error
		sig signature
	)
	switch {
	case header != "" && presigned:
		return nil, s3Error("InvalidArgument", "only one authentication mechanism is allowed: the Authorization header or a presigned URL")
	case header != "":
		if p, err = parseAuthorization(header); err != nil {
			return nil, err
		}
		if sig.amzDate = r.Header.Get("X-Amz-Date"); sig.amzDate != "" {
			p.Date, err = time.Parse(amzDateFormat, sig.amzDate)
		} else if d := r.Header.Get("Date"); d != "" {
			p.Date, err = http.ParseTime(d)
			sig.amzDate = p.Date.UTC().Format(amzDateFormat)
		} else {
			return nil, s3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
		}
		if err != nil {
			return nil, s3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
		}
		if d := now.Sub(p.Date); d > maxSkew || d < -maxSkew {
			return nil, s3Error("RequestTimeTooSkewed", "the difference between the request time and the server's time is too large")
		}
		if sig.payload, err = payloadHash(r); err != nil {
			return nil, err
		}
	case presigned:
		if p, err = parsePresigned(q); err != nil {
			return nil, err
		}
		sig.amzDate = q.Get("X-Amz-Date")
		if p.Date.Sub(now) > maxSkew {
			return nil, s3Error("AccessDenied", "request is not valid yet")
		}
		if now.After(p.Date.Add(p.Expires)) {
			return nil, s3Error("AccessDenied", "request has expired")
		}
		sig.payload = unsignedPayload
		if v := q.Get("X-Amz-Content-Sha256"); v != "" {
			sig.payload = v
		}
		sig.presigned = true
	default:
		return nil, nil
	}
	if p.Credential.Date != p.Date.UTC().Format("20060102") {
		return nil, s3Error("AuthorizationHeaderMalformed", "the credential date %s does not match the request date %s", p.Credential.Date, sig.amzDate)
	}
	principal, secret, err := lookup(r.Context(), p.Credential.AccessKey)
	if err != nil {
		if errs.Is(err, errs.Unauthenticated) {
			return nil, s3Error("InvalidAccessKeyId", "the access key ID you provided does not exist in our records")
		}
		return nil, err
	}
	sig.principal = principal
	sig.key = signingKey(secret, p.Credential)
	sig.scope = p.Credential.scope()
	sig.seed = p.Signature
	var tried string
	for _, uri := range canonicalURIs(r) {
		cr := canonicalRequest(r, uri, p.SignedHeaders, sig.payload, p.Presigned)
		if hmac.Equal([]byte(sign(sig.key, stringToSign(sig.amzDate, sig.scope, cr))), []byte(p.Signature)) {
			return &sig, nil
		}
		tried = cr
	}
	return nil, errs.Wrap(fmt.Errorf("canonical request:\n%s", tried), errs.Unauthenticated,
		"the request signature we calculated does not match the signature you provided; check your key and signing method").(*errs.Error).WithCode("SignatureDoesNotMatch")
}

// payloadHash reads and validates x-amz-content-sha256 of a header-signed
// request.
func payloadHash(r *http.Request) (string, error) {
	v := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case v == "":
		if r.ContentLength == 0 {
			return emptySHA256, nil
		}
		return "", s3Error("InvalidRequest", "missing required header for this request: x-amz-content-sha256")
	case v == unsignedPayload, v == streamingSigned, v == streamingSignedTrailer, v == streamingUnsignedTrailer:
		return v, nil
	case len(v) == 64 && isLowerHex(v):
		return v, nil
	case v == "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", v == "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER":
		return "", notImplemented("signature version 4A (ECDSA)")
	}
	return "", s3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* mode or the SHA-256 hex digest of the payload")
}
