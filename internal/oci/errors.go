package oci

import (
	"encoding/json"
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// OCI error codes (distribution spec, "Error Codes").
const (
	codeBlobUnknown         = "BLOB_UNKNOWN"
	codeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	codeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	codeDigestInvalid       = "DIGEST_INVALID"
	codeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	codeManifestInvalid     = "MANIFEST_INVALID"
	codeManifestUnknown     = "MANIFEST_UNKNOWN"
	codeNameInvalid         = "NAME_INVALID"
	codeNameUnknown         = "NAME_UNKNOWN"
	codeSizeInvalid         = "SIZE_INVALID"
	codeUnauthorized        = "UNAUTHORIZED"
	codeDenied              = "DENIED"
	codeUnsupported         = "UNSUPPORTED"
	codeTooManyRequests     = "TOOMANYREQUESTS"
	codeRangeInvalid        = "RANGE_INVALID" // 416; not in the spec's table, used by distribution
	codeUnknown             = "UNKNOWN"       // 500; not in the spec's table (which covers 4xx), used by distribution
)

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// code picks the OCI code of err: its own, or one derived from its kind.
// Every 4xx and 503 answer carries one of the spec's codes. The spec has
// no code for a temporarily unavailable service, so 503 (an unreachable
// proxy upstream, an unavailable store) says TOOMANYREQUESTS, the one
// code that tells a client to come back later, with a Retry-After; a 500
// says UNKNOWN, as distribution does (the spec leaves 5xx bodies free).
func code(err error) string {
	switch c := errs.CodeOf(err); c {
	case codeBlobUnknown, codeBlobUploadInvalid, codeBlobUploadUnknown, codeDigestInvalid, codeManifestBlobUnknown,
		codeManifestInvalid, codeManifestUnknown, codeNameInvalid, codeNameUnknown, codeSizeInvalid, codeUnsupported, codeRangeInvalid,
		codeUnauthorized, codeDenied, codeTooManyRequests:
		return c
	}
	switch errs.KindOf(err) {
	case errs.Unauthenticated:
		return codeUnauthorized
	case errs.Denied, errs.Conflict, errs.Precondition:
		return codeDenied
	case errs.TooMany, errs.Unavailable:
		return codeTooManyRequests
	case errs.Unsupported:
		return codeUnsupported
	case errs.NotFound:
		return codeNameUnknown
	case errs.TooLarge:
		return codeSizeInvalid
	case errs.Invalid:
		return codeBlobUploadInvalid
	}
	return codeUnknown
}

// status maps an error to its HTTP status, with the OCI-specific cases.
func status(err error) int {
	switch errs.CodeOf(err) {
	case codeRangeInvalid:
		return http.StatusRequestedRangeNotSatisfiable
	case codeUnsupported:
		return http.StatusMethodNotAllowed
	}
	return httpx.Status(err)
}

// writeError renders err as OCI error JSON. A 401 carries the Bearer
// challenge that starts the Docker token flow.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	st := status(err)
	switch st {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", h.challenge(r))
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	if r.Method == http.MethodHead {
		return
	}
	json.NewEncoder(w).Encode(errorBody{Errors: []errorItem{{Code: code(err), Message: errs.Message(err)}}})
}
