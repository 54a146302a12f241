package httpapi

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/senml"
	"github.com/vigil-iomt/vigil/internal/store"
)

// ingestHTTP is POST /api/v1/ingest: a device posts one SenML pack, authenticated with HTTP
// Basic (device id and secret). 202 means the pack is durable in the log.
func (a *API) ingestHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.ingestPack(w, r); err != nil {
		WriteError(w, r, a.log, err)
	}
}

func (a *API) ingestPack(w http.ResponseWriter, r *http.Request) error {
	id, secret, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="vigil-devices"`)
		return errorf(http.StatusUnauthorized, "device credentials required (HTTP Basic device-id:secret)")
	}
	dev, err := a.cfg.Auth.AuthenticateDevice(r.Context(), id, secret)
	if err != nil {
		switch {
		case errors.Is(err, auth.ErrDeviceRevoked):
			return errorf(http.StatusForbidden, "device revoked")
		case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, store.ErrNotFound):
			w.Header().Set("WWW-Authenticate", `Basic realm="vigil-devices"`)
			return errorf(http.StatusUnauthorized, "wrong device id or secret")
		}
		return err
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return errorf(http.StatusUnsupportedMediaType, "Content-Type: "+err.Error())
		}
		ct = mt
	} else {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type required: application/senml+json or application/senml+cbor")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxIngestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "pack larger than 1 MiB")
		}
		return invalid("reading the request body: " + err.Error())
	}
	n, err := a.cfg.Ingest.Ingest(r.Context(), "http", ingest.Device{
		Tenant: dev.Tenant, ID: dev.ID, Kind: dev.Kind, Subject: dev.Subject,
	}, body, ct)
	if err != nil {
		return ingestError(w, err)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": n})
	return nil
}

// ingestError turns a pipeline error into the response a device sees.
func ingestError(w http.ResponseWriter, err error) error {
	var se *senml.Error
	var mt *senml.MediaTypeError
	var un *ingest.UnavailableError
	switch {
	case errors.Is(err, senml.ErrTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Message: err.Error(), Err: err}
	case errors.As(err, &mt):
		return &Error{Status: http.StatusUnsupportedMediaType, Message: mt.Error()}
	case errors.As(err, &se):
		d := map[string]any{}
		if se.Index >= 0 {
			d["record"] = se.Index
		}
		if se.Label != "" {
			d["field"] = se.Label
		}
		return &Error{Status: http.StatusBadRequest, Message: se.Error(), Detail: d}
	case errors.As(err, &un):
		w.Header().Set("Retry-After", "1")
		return &Error{Status: http.StatusServiceUnavailable, Message: "log unavailable; retry", Err: err}
	}
	return err
}
