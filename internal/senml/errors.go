package senml

import (
	"errors"
	"fmt"
)

// ErrTooLarge is wrapped by errors for packs over a size limit of senml.md §1 (1 MiB, 10,000
// records, names over 256 bytes, vs over 4096 bytes, vd over 65,536 bytes). HTTP answers 413.
var ErrTooLarge = errors.New("senml: pack too large")

// ErrUnsupportedMediaType is wrapped by errors for a media type Vigil does not accept
// (streaming SensML, XML, EXI, anything else). HTTP answers 415.
var ErrUnsupportedMediaType = errors.New("senml: unsupported media type")

// Error reports a rejected pack and where in it the problem is.
type Error struct {
	Index  int    // 0-based record index; -1 for a problem with the pack as a whole
	Label  string // the offending label ("v", "bver", ...), "" when none applies
	Reason string // the problem, as printed
	Err    error  // ErrTooLarge or nil

	syntax bool // the input is not well-formed JSON or CBOR (for tests)
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return "senml: pack: " + e.Reason
	}
	return fmt.Sprintf("senml: record %d: %s", e.Index, e.Reason)
}

// Unwrap returns ErrTooLarge for size errors, otherwise nil.
func (e *Error) Unwrap() error { return e.Err }

func packErr(reason string) *Error { return &Error{Index: -1, Reason: reason} }

func recErr(i int, label, reason string) *Error {
	return &Error{Index: i, Label: label, Reason: reason}
}

func tooLarge(i int, label, reason string) *Error {
	return &Error{Index: i, Label: label, Reason: reason, Err: ErrTooLarge}
}

// MediaTypeError reports a content type that is not SenML JSON or CBOR. It wraps
// ErrUnsupportedMediaType.
type MediaTypeError struct {
	ContentType string
	Reason      string
}

func (e *MediaTypeError) Error() string {
	return fmt.Sprintf("senml: media type %q: %s", e.ContentType, e.Reason)
}

// Unwrap returns ErrUnsupportedMediaType.
func (e *MediaTypeError) Unwrap() error { return ErrUnsupportedMediaType }
