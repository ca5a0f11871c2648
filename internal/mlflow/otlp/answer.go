package otlp

import (
	"net/http"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/arcaproject/arca/internal/errs"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// WriteResponse answers an export with ExportTraceServiceResponse in enc:
// empty when every span was accepted, with partial_success otherwise.
func WriteResponse(w http.ResponseWriter, enc Encoding, rej Rejected) error {
	res := &coltracepb.ExportTraceServiceResponse{}
	if rej.Spans > 0 {
		res.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rej.Spans, ErrorMessage: rej.Message}
	}
	return write(w, enc, http.StatusOK, res)
}

// WriteError answers a failed export as OTLP/HTTP prescribes: the HTTP
// status of err's kind and a google.rpc.Status body in the request's
// encoding. Statuses a client retries (429, 503) carry Retry-After.
func WriteError(w http.ResponseWriter, enc Encoding, err error) {
	httpStatus, code := statusOf(errs.KindOf(err))
	switch httpStatus {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Basic realm="mlflow"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(5))
	}
	write(w, enc, httpStatus, &status.Status{Code: int32(code), Message: errs.Message(err)})
}

func statusOf(k errs.Kind) (int, codes.Code) {
	switch k {
	case errs.Invalid:
		return http.StatusBadRequest, codes.InvalidArgument
	case errs.NotFound:
		return http.StatusNotFound, codes.NotFound
	case errs.Unauthenticated:
		return http.StatusUnauthorized, codes.Unauthenticated
	case errs.Denied:
		return http.StatusForbidden, codes.PermissionDenied
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge, codes.ResourceExhausted
	case errs.TooMany:
		return http.StatusTooManyRequests, codes.ResourceExhausted
	case errs.Unavailable:
		return http.StatusServiceUnavailable, codes.Unavailable
	case errs.Unsupported:
		return http.StatusUnsupportedMediaType, codes.Unimplemented
	case errs.Conflict, errs.Precondition:
		return http.StatusConflict, codes.FailedPrecondition
	}
	return http.StatusInternalServerError, codes.Internal
}

func write(w http.ResponseWriter, enc Encoding, httpStatus int, m proto.Message) error {
	var b []byte
	var err error
	if enc == JSON {
		b, err = protojson.Marshal(m)
	} else {
		b, err = proto.Marshal(m)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(httpStatus)
	_, err = w.Write(b)
	return err
}
