package coldchainproc

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an Error for the API (which maps it to a status).
type ErrorKind int

// Error kinds.
const (
	KindInvalid      ErrorKind = iota + 1 // 400
	KindUnauthorized                      // 401: re-authentication failed
	KindForbidden                         // 403: e.g. account locked
	KindNotFound                          // 404
	KindConflict                          // 409: version, state, record changed, blocked
)

// Error is a failure whose message is safe to show to the caller, with a stable Code for
// clients (docs/coldchain.md) and optional Detail fields.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
	Detail  map[string]any
	Err     error // internal cause, never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func invalidf(format string, a ...any) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid", Message: fmt.Sprintf(format, a...)}
}

func conflict(code, format string, a ...any) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: fmt.Sprintf(format, a...)}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
