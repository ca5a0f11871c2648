package s3api

import (
	"encoding/xml"
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/usage"
)

// s3Codes maps each S3 error code arca answers with to its HTTP status
// and the internal kind an error of that code carries.
var s3Codes = map[string]struct {
	status int
	kind   errs.Kind
}{
	"AccessDenied":                        {http.StatusForbidden, errs.Denied},
	"AuthorizationHeaderMalformed":        {http.StatusBadRequest, errs.Invalid},
	"AuthorizationQueryParametersError":   {http.StatusBadRequest, errs.Invalid},
	"BadDigest":                           {http.StatusBadRequest, errs.Invalid},
	"BadRequest":                          {http.StatusBadRequest, errs.Invalid},
	"BucketAlreadyExists":                 {http.StatusConflict, errs.Conflict},
	"BucketAlreadyOwnedByYou":             {http.StatusConflict, errs.Conflict},
	"BucketNotEmpty":                      {http.StatusConflict, errs.Conflict},
	"EntityTooLarge":                      {http.StatusBadRequest, errs.TooLarge},
	"EntityTooSmall":                      {http.StatusBadRequest, errs.Invalid},
	"IncompleteBody":                      {http.StatusBadRequest, errs.Invalid},
	"InternalError":                       {http.StatusInternalServerError, errs.Internal},
	"InvalidAccessKeyId":                  {http.StatusForbidden, errs.Unauthenticated},
	"InvalidArgument":                     {http.StatusBadRequest, errs.Invalid},
	"InvalidBucketName":                   {http.StatusBadRequest, errs.Invalid},
	"InvalidDigest":                       {http.StatusBadRequest, errs.Invalid},
	"InvalidPart":                         {http.StatusBadRequest, errs.Invalid},
	"InvalidPartOrder":                    {http.StatusBadRequest, errs.Invalid},
	"InvalidRange":                        {http.StatusRequestedRangeNotSatisfiable, errs.Invalid},
	"InvalidRequest":                      {http.StatusBadRequest, errs.Invalid},
	"KeyTooLongError":                     {http.StatusBadRequest, errs.Invalid},
	"MalformedXML":                        {http.StatusBadRequest, errs.Invalid},
	"MetadataTooLarge":                    {http.StatusBadRequest, errs.Invalid},
	"NoSuchVersion":                       {http.StatusNotFound, errs.NotFound},
	"MethodNotAllowed":                    {http.StatusMethodNotAllowed, errs.Invalid},
	"MissingContentLength":                {http.StatusLengthRequired, errs.Invalid},
	"MissingSecurityHeader":               {http.StatusBadRequest, errs.Invalid},
	"NoSuchBucket":                        {http.StatusNotFound, errs.NotFound},
	"NoSuchKey":                           {http.StatusNotFound, errs.NotFound},
	"NoSuchUpload":                        {http.StatusNotFound, errs.NotFound},
	"NotImplemented":                      {http.StatusNotImplemented, errs.Unsupported},
	"NotModified":                         {http.StatusNotModified, errs.Precondition},
	"PreconditionFailed":                  {http.StatusPreconditionFailed, errs.Precondition},
	"RequestTimeTooSkewed":                {http.StatusForbidden, errs.Denied},
	"ServiceUnavailable":                  {http.StatusServiceUnavailable, errs.Unavailable},
	"SignatureDoesNotMatch":               {http.StatusForbidden, errs.Unauthenticated},
	"SlowDown":                            {http.StatusServiceUnavailable, errs.TooMany},
	"XAmzContentSHA256Mismatch":           {http.StatusBadRequest, errs.Invalid},
	"InvalidObjectState":                  {http.StatusForbidden, errs.Denied},
	"UnexpectedContent":                   {http.StatusBadRequest, errs.Invalid},
	"InvalidChunkSizeError":               {http.StatusBadRequest, errs.Invalid},
	"InvalidEncryptionAlgorithmError":     {http.StatusBadRequest, errs.Invalid},
	"IllegalLocationConstraintException":  {http.StatusBadRequest, errs.Invalid},
	"MalformedPOSTRequest":                {http.StatusBadRequest, errs.Invalid},
	"InvalidStorageClass":                 {http.StatusBadRequest, errs.Invalid},
	"MaxMessageLengthExceeded":            {http.StatusBadRequest, errs.TooLarge},
	"ConditionalRequestConflict":          {http.StatusConflict, errs.Conflict},
	"OperationAborted":                    {http.StatusConflict, errs.Conflict},
	"InvalidTag":                          {http.StatusBadRequest, errs.Invalid},
	"NoSuchBucketPolicy":                  {http.StatusNotFound, errs.NotFound},
	"NoSuchCORSConfiguration":             {http.StatusNotFound, errs.NotFound},
	"InvalidURI":                          {http.StatusBadRequest, errs.Invalid},
	"UnsupportedSignature":                {http.StatusBadRequest, errs.Invalid},
	"MissingRequestBodyError":             {http.StatusBadRequest, errs.Invalid},
	"RequestTimeout":                      {http.StatusBadRequest, errs.Invalid},
	"TooManyParts":                        {http.StatusBadRequest, errs.Invalid},
	"InvalidBucketState":                  {http.StatusConflict, errs.Conflict},
	"ExpiredToken":                        {http.StatusBadRequest, errs.Invalid},
	"AccountProblem":                      {http.StatusForbidden, errs.Denied},
	"CredentialsNotSupported":             {http.StatusBadRequest, errs.Invalid},
	"InvalidSecurity":                     {http.StatusForbidden, errs.Denied},
	"UnresolvableGrantByEmailAddress":     {http.StatusBadRequest, errs.Invalid},
	"InlineDataTooLarge":                  {http.StatusBadRequest, errs.Invalid},
	"IncorrectNumberOfFilesInPostRequest": {http.StatusBadRequest, errs.Invalid},
	"InvalidPolicyDocument":               {http.StatusBadRequest, errs.Invalid},
	"NoSuchTagSet":                        {http.StatusNotFound, errs.NotFound},
	"MaxPostPreDataLengthExceeded":        {http.StatusBadRequest, errs.TooLarge},
}

// s3Error builds an error carrying an S3 error code; its kind follows from
// the code.
func s3Error(code, format string, args ...any) *errs.Error {
	k := errs.Invalid
	if c, ok := s3Codes[code]; ok {
		k = c.kind
	}
	return errs.E(k, format, args...).WithCode(code)
}

// notImplemented is the answer to every operation arca does not serve.
func notImplemented(what string) *errs.Error {
	return s3Error("NotImplemented", "%s is not implemented by arca", what)
}

// errorCode picks the S3 code and status of err: the code it carries when
// that is an S3 code, otherwise one derived from its kind.
func errorCode(err error) (string, int) {
	code := errs.CodeOf(err)
	if c, ok := s3Codes[code]; ok {
		return code, c.status
	}
	switch code {
	case "DIGEST_INVALID":
		return "BadDigest", http.StatusBadRequest
	case "SIZE_INVALID":
		return "IncompleteBody", http.StatusBadRequest
	case "REPOSITORY_UNKNOWN":
		return "NoSuchBucket", http.StatusNotFound
	case usage.CodeQuotaExceeded:
		return "QuotaExceeded", http.StatusForbidden
	}
	switch errs.KindOf(err) {
	case errs.NotFound:
		return "NoSuchKey", http.StatusNotFound
	case errs.Invalid:
		return "InvalidRequest", http.StatusBadRequest
	case errs.Conflict:
		return "OperationAborted", http.StatusConflict
	case errs.Denied, errs.Unauthenticated:
		return "AccessDenied", http.StatusForbidden
	case errs.TooLarge:
		return "EntityTooLarge", http.StatusBadRequest
	case errs.Unavailable:
		return "ServiceUnavailable", http.StatusServiceUnavailable
	case errs.TooMany:
		return "SlowDown", http.StatusServiceUnavailable
	case errs.Unsupported:
		return "NotImplemented", http.StatusNotImplemented
	case errs.Precondition:
		return "PreconditionFailed", http.StatusPreconditionFailed
	}
	return "InternalError", http.StatusInternalServerError
}

// errorBody is S3's error document.
type errorBody struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource,omitempty"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
}

// writeError renders err as S3 error XML (no body for HEAD, as S3 does).
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, status := errorCode(err)
	msg := errs.Message(err)
	if status == http.StatusInternalServerError {
		msg = "We encountered an internal error. Please try again."
	}
	if code == "NotModified" {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr := w.Header()
	for _, h := range []string{"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", "Content-Length"} {
		if code != "InvalidRange" || h != "Content-Range" {
			hdr.Del(h)
		}
	}
	reqID := httpx.RequestID(r.Context())
	hdr.Set("x-amz-request-id", reqID)
	if code == "SlowDown" || code == "ServiceUnavailable" {
		hdr.Set("Retry-After", "1")
	}
	if r.Method == http.MethodHead {
		hdr.Del("Content-Type")
		w.WriteHeader(status)
		return
	}
	body := errorBody{Code: code, Message: msg, Resource: r.URL.Path, RequestID: reqID, HostID: reqID}
	if t, ok := r.Context().Value(targetKey{}).(*target); ok {
		body.BucketName, body.Key = t.bucket, t.key
	}
	hdr.Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	writeXMLBody(w, body)
}

// writeXMLBody writes the XML declaration and v.
func writeXMLBody(w http.ResponseWriter, v any) error {
	if _, err := w.Write([]byte(xml.Header)); err != nil {
		return err
	}
	return xml.NewEncoder(w).Encode(v)
}

// writeXML answers 200 with v as XML.
func writeXML(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	return writeXMLBody(w, v)
}
