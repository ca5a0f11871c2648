// Package errs is arca's one error taxonomy. Every layer returns *Error values
// (or wraps them); each protocol surface maps a Kind to its own wire format in
// exactly one place.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

const (
	Internal        Kind = iota // a bug or an unexpected failure; 500
	NotFound                    // the named thing does not exist; 404
	Invalid                     // the request is malformed or fails validation; 400
	Conflict                    // the request conflicts with current state; 409
	Denied                      // authenticated but not allowed; 403
	Unauthenticated             // no or wrong credentials; 401
	TooLarge                    // the body exceeds a limit; 413
	Unavailable                 // a dependency is down or the caller must wait; 503
	TooMany                     // rate limited; 429
	Unsupported                 // the operation is not implemented; 501
	Precondition                // a request precondition (If-Match, If-None-Match) failed; 412
)

var kindNames = [...]string{
	Internal: "internal", NotFound: "not found", Invalid: "invalid",
	Conflict: "conflict", Denied: "denied", Unauthenticated: "unauthenticated",
	TooLarge: "too large", Unavailable: "unavailable", TooMany: "too many requests",
	Unsupported: "unsupported", Precondition: "precondition failed",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error carries a Kind, a message that is safe to show to the client, and an
// optional cause that is only logged.
type Error struct {
	Kind    Kind
	Message string // shown to clients; never contains secrets or internals
	Code    string // optional protocol-neutral code, e.g. "DIGEST_INVALID"
	Err     error  // cause, for logs only
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of kind k with a client-safe message.
func E(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a kind and client-safe message to a cause. A nil cause
// yields nil.
func Wrap(err error, k Kind, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithCode sets a protocol-neutral code on e and returns it.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// KindOf reports the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err's chain holds an *Error of kind k.
func Is(err error, k Kind) bool {
	return err != nil && KindOf(err) == k
}

// Message is the client-safe text of err: the message of its *Error, or a
// generic text for errors that carry no client message.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return KindOf(err).String()
}

// CodeOf returns the code of the first *Error in err's chain.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
