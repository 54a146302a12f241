package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Error is an error with a message that is safe to show to the caller and the HTTP status it
// maps to. Err, when set, is the internal cause; it is logged, never sent.
type Error struct {
	Status  int
	Message string
	Detail  map[string]any // extra JSON fields for the caller, e.g. the failing record index
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(status int, msg string) *Error { return &Error{Status: status, Message: msg} }

func invalid(msg string) *Error { return errorf(http.StatusBadRequest, msg) }

var (
	errUnauthenticated = errorf(http.StatusUnauthorized, "authentication required")
	errForbidden       = errorf(http.StatusForbidden, "forbidden")
	errNotFound        = errorf(http.StatusNotFound, "not found")
)

// WriteError is the one place where an error becomes an HTTP response. Known kinds get
// their status and safe message; anything else is "internal error" with a request id, and
// the whole chain goes to the log.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var e *Error
	var pe *auth.PolicyError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &pe):
		e = invalid(pe.Error())
	case errors.Is(err, auth.ErrForbidden):
		e = errForbidden
	case errors.Is(err, store.ErrNotFound):
		e = errNotFound
	case errors.Is(err, store.ErrConflict):
		e = errorf(http.StatusConflict, "already exists")
	case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrUnauthenticated):
		e = errUnauthenticated
	case errors.Is(err, auth.ErrLocked):
		e = errorf(http.StatusForbidden, "account locked after repeated failed logins; try again later")
	case errors.Is(err, auth.ErrDeviceRevoked):
		e = errorf(http.StatusForbidden, "device revoked")
	default:
		id := requestID()
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error", "request_id": id})
		return
	}
	if e.Status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
	}
	body := map[string]any{"error": e.Message}
	for k, v := range e.Detail {
		body[k] = v
	}
	writeJSON(w, e.Status, body)
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the status is sent; a failed write means the client went away
}
