package mlflow

import (
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// MLflow's error codes (databricks.proto ErrorCode) that arca answers with.
const (
	codeInvalidParameter = "INVALID_PARAMETER_VALUE"
	codeAlreadyExists    = "RESOURCE_ALREADY_EXISTS"
	codeDoesNotExist     = "RESOURCE_DOES_NOT_EXIST"
	codeInvalidState     = "INVALID_STATE"
	codeBadRequest       = "BAD_REQUEST"
	codePermissionDenied = "PERMISSION_DENIED"
	codeUnauthenticated  = "UNAUTHENTICATED"
	codeEndpointNotFound = "ENDPOINT_NOT_FOUND"
	codeLimitExceeded    = "REQUEST_LIMIT_EXCEEDED"
	codeUnavailable      = "TEMPORARILY_UNAVAILABLE"
	codeNotImplemented   = "NOT_IMPLEMENTED"
	codeInternal         = "INTERNAL_ERROR"
)

// statusOf is MLflow's own mapping of error codes to HTTP statuses
// (mlflow/exceptions.py), which the client relies on: for example
// RESOURCE_ALREADY_EXISTS is 400, and INVALID_STATE is 500.
var statusOf = map[string]int{
	codeInvalidParameter: http.StatusBadRequest,
	codeAlreadyExists:    http.StatusBadRequest,
	codeBadRequest:       http.StatusBadRequest,
	codeDoesNotExist:     http.StatusNotFound,
	codeEndpointNotFound: http.StatusNotFound,
	codeInvalidState:     http.StatusInternalServerError,
	codePermissionDenied: http.StatusForbidden,
	codeUnauthenticated:  http.StatusUnauthorized,
	codeLimitExceeded:    http.StatusTooManyRequests,
	codeUnavailable:      http.StatusServiceUnavailable,
	codeNotImplemented:   http.StatusNotImplemented,
	codeInternal:         http.StatusInternalServerError,
}

// codeOfKind maps arca's error kinds to MLflow codes for errors that do
// not carry one of their own.
var codeOfKind = map[errs.Kind]string{
	errs.NotFound:        codeDoesNotExist,
	errs.Invalid:         codeInvalidParameter,
	errs.Conflict:        codeAlreadyExists,
	errs.Denied:          codePermissionDenied,
	errs.Unauthenticated: codeUnauthenticated,
	errs.TooLarge:        codeInvalidParameter,
	errs.Unavailable:     codeUnavailable,
	errs.TooMany:         codeLimitExceeded,
	errs.Unsupported:     codeNotImplemented,
	errs.Precondition:    codeInvalidState,
	errs.Internal:        codeInternal,
}

// errorBody is MLflow's error response.
type errorBody struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// writeError renders err as MLflow does: {"error_code", "message"} with the
// code's status, and a Basic challenge on 401.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := errs.CodeOf(err)
	if _, ok := statusOf[code]; !ok {
		code = codeOfKind[errs.KindOf(err)]
		if code == "" {
			code = codeInternal
		}
	}
	status := statusOf[code]
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="mlflow"`)
	}
	httpx.WriteJSON(w, status, errorBody{ErrorCode: code, Message: errs.Message(err)})
}

// invalidParam is INVALID_PARAMETER_VALUE (400).
func invalidParam(format string, args ...any) error {
	return errs.E(errs.Invalid, format, args...).WithCode(codeInvalidParameter)
}

// notExist is RESOURCE_DOES_NOT_EXIST (404).
func notExist(format string, args ...any) error {
	return errs.E(errs.NotFound, format, args...).WithCode(codeDoesNotExist)
}

// alreadyExists is RESOURCE_ALREADY_EXISTS (400).
func alreadyExists(format string, args ...any) error {
	return errs.E(errs.Conflict, format, args...).WithCode(codeAlreadyExists)
}

// invalidState is INVALID_STATE, e.g. logging to a deleted run.
func invalidState(format string, args ...any) error {
	return errs.E(errs.Precondition, format, args...).WithCode(codeInvalidState)
}

// badRequest is BAD_REQUEST (400): a request MLflow cannot parse.
func badRequest(format string, args ...any) error {
	return errs.E(errs.Invalid, format, args...).WithCode(codeBadRequest)
}
