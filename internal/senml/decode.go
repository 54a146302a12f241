package senml

import (
	"strings"
	"time"
)

// Media types of senml.md §1.
const (
	MediaTypeJSON = "application/senml+json"
	MediaTypeCBOR = "application/senml+cbor"
)

// Decode decodes a pack whose media type is contentType (parameters allowed). With an
// empty contentType (MQTT 3.1.1) it sniffs the format per senml.md §1. An unsupported
// media type yields a *MediaTypeError wrapping ErrUnsupportedMediaType (HTTP 415); every
// other error is an *Error.
func Decode(b []byte, contentType string, now time.Time) ([]Record, error) {
	if contentType == "" {
		return sniff(b, now)
	}
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case MediaTypeJSON:
		return DecodeJSON(b, now)
	case MediaTypeCBOR:
		return DecodeCBOR(b, now)
	case "application/sensml+json", "application/sensml+cbor", "application/sensml+xml", "application/sensml-exi":
		return nil, &MediaTypeError{ContentType: contentType, Reason: "streaming SensML is not supported"}
	case "application/senml+xml", "application/senml-exi":
		return nil, &MediaTypeError{ContentType: contentType, Reason: "SenML XML and EXI are not supported"}
	}
	return nil, &MediaTypeError{ContentType: contentType, Reason: "not a SenML media type (use " +
		MediaTypeJSON + " or " + MediaTypeCBOR + ")"}
}

// sniff picks JSON or CBOR from the first bytes of a pack without a content type.
func sniff(b []byte, now time.Time) ([]Record, error) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	switch {
	case i < len(b) && b[i] == '[':
		return DecodeJSON(b, now)
	case len(b) > 0 && b[0] >= 0x80 && b[0] <= 0x9b:
		return DecodeCBOR(b, now)
	case len(b) > 0 && b[0] == 0x9f:
		return nil, packErr("indefinite length array not allowed for senml+cbor")
	}
	return nil, packErr("not a SenML pack")
}
