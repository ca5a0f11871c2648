// Package httpx is the HTTP plumbing every surface shares: handlers that
// return errors, one place per surface that turns errors into responses,
// authentication of each request, request IDs, logs and metrics.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// HandlerFunc serves a request and returns an error instead of writing one.
// It must not have written to w when it returns a non-nil error, unless the
// error is ErrAborted.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ErrorWriter renders err in a surface's own protocol format.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Authenticator resolves a request's credentials to a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (auth.Principal, error)
}

// Surface is one protocol's face: its name (a metrics label), how it writes
// errors, and how it authenticates.
type Surface struct {
	Name       string
	WriteError ErrorWriter
	Auth       Authenticator
	Log        *slog.Logger
}

// Handle adapts h: it authenticates the request (putting the principal into
// the context), runs h, and renders a returned error with the surface's
// ErrorWriter. Errors of kind Internal or Unavailable are logged with their
// cause; the client sees only the message. A panic in h is recovered,
// logged once with its stack, and answered as an internal error in the
// surface's own format; when the response had already begun, the
// connection is aborted instead so the client cannot take a truncated
// answer for a whole one.
func (s *Surface) Handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer RecoverPanic(w, r, s.Log, s.Name, s.WriteError)
		SetSurface(r.Context(), s.Name)
		if r.Pattern != "" {
			SetRoute(r.Context(), routeTemplate(r.Pattern))
		}
		if name := r.PathValue("repo"); name != "" {
			SetRepository(r.Context(), name)
		}
		if s.Auth != nil {
			p, err := s.Auth.Authenticate(r.Context(), r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			r = r.WithContext(auth.WithPrincipal(r.Context(), p))
			SetPrincipal(r.Context(), p)
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// RecoverPanic is a surface's deferred panic handler (defer it directly,
// so that its recover sees the panic): it logs the panic once with its
// stack and answers with write (the surface's error format) as an
// internal error, or, when the response has begun, aborts it so the
// client cannot take a truncated answer for a whole one. Surface.Handle
// uses it; a surface with its own adapter (the UI) defers it itself.
func RecoverPanic(w http.ResponseWriter, r *http.Request, log *slog.Logger, surface string, write ErrorWriter) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	log.ErrorContext(r.Context(), "panic", "surface", surface, "panic", p, "stack", string(debug.Stack()))
	if written, _ := headerWritten(w); written {
		panic(http.ErrAbortHandler)
	}
	w.Header().Del("Content-Length")
	write(w, r, errs.E(errs.Internal, "internal error"))
}

// headerWritten reports whether a response's status line has been sent,
// when w is (or wraps) Instrument's recorder; known is false otherwise.
func headerWritten(w http.ResponseWriter) (written, known bool) {
	for {
		switch v := w.(type) {
		case *recorder:
			return v.status != 0, true
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return false, false
		}
	}
}

func (s *Surface) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrAborted) {
		return
	}
	if r.Context().Err() != nil { // the client went away; nothing is wrong here
		s.Log.DebugContext(r.Context(), "client gone", "surface", s.Name, "err", err)
		w.WriteHeader(StatusClientClosed)
		return
	}
	switch errs.KindOf(err) {
	case errs.Internal, errs.Unavailable:
		s.Log.ErrorContext(r.Context(), "request failed", "surface", s.Name, "err", err)
	default:
		s.Log.DebugContext(r.Context(), "request refused", "surface", s.Name, "err", err)
	}
	// A length the handler set for the content it meant to send does not
	// fit the error document.
	w.Header().Del("Content-Length")
	s.WriteError(w, r, err)
}

// ErrAborted tells Handle that the handler already wrote (part of) a
// response and the error needs no rendering, only the connection closing.
var ErrAborted = errors.New("response aborted")

// StatusClientClosed is logged and counted for requests whose client hung
// up before an answer (nginx's convention; the client never sees it).
const StatusClientClosed = 499

// kinds maps each error kind to its HTTP status and to the code of arca's
// own JSON errors. Kinds missing here are internal errors.
var kinds = map[errs.Kind]struct {
	status int
	code   string
}{
	errs.NotFound:        {http.StatusNotFound, "NOT_FOUND"},
	errs.Invalid:         {http.StatusBadRequest, "INVALID"},
	errs.Conflict:        {http.StatusConflict, "CONFLICT"},
	errs.Denied:          {http.StatusForbidden, "DENIED"},
	errs.Unauthenticated: {http.StatusUnauthorized, "UNAUTHENTICATED"},
	errs.TooLarge:        {http.StatusRequestEntityTooLarge, "TOO_LARGE"},
	errs.Unavailable:     {http.StatusServiceUnavailable, "UNAVAILABLE"},
	errs.TooMany:         {http.StatusTooManyRequests, "TOO_MANY_REQUESTS"},
	errs.Unsupported:     {http.StatusNotImplemented, "UNSUPPORTED"},
	errs.Precondition:    {http.StatusPreconditionFailed, "PRECONDITION_FAILED"},
	errs.Internal:        {http.StatusInternalServerError, "INTERNAL"},
}

// Status maps an error kind to an HTTP status.
func Status(err error) int {
	if k, ok := kinds[errs.KindOf(err)]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// JSONError is arca's own error body: {"error": {"code": ..., "message": ...}}.
type JSONError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteJSONError renders err as arca's JSON error, with a Basic challenge
// on 401 so that browsers and curl know to send credentials.
func WriteJSONError(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	var body JSONError
	body.Error.Code = errs.CodeOf(err)
	if body.Error.Code == "" {
		body.Error.Code = "INTERNAL"
		if k, ok := kinds[errs.KindOf(err)]; ok {
			body.Error.Code = k.code
		}
	}
	body.Error.Message = errs.Message(err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="arca"`)
	}
	WriteJSON(w, status, body)
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// DecodeJSON reads a JSON request body of at most 1 MiB into v, rejecting
// unknown fields.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errs.Wrap(err, errs.Invalid, "invalid JSON body: %v", err)
	}
	return nil
}

// NewRequestID returns a random request identifier.
func NewRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
