package esign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Meaning is the controlled meaning of a signature (§11.50(a)(3), spec 2 §11.50).
type Meaning string

// The controlled meanings. Acknowledging an alarm or excursion is an audited action, not a
// signature, so there is no "Acknowledged".
const (
	Authored           Meaning = "Authored"
	Reviewed           Meaning = "Reviewed"
	ApprovedForRelease Meaning = "Approved for release"
	Rejected           Meaning = "Rejected"
	Verified           Meaning = "Verified" // second-person check
	Approved           Meaning = "Approved" // configuration change, purge
)

// Meanings lists every controlled meaning.
var Meanings = []Meaning{Authored, Reviewed, ApprovedForRelease, Rejected, Verified, Approved}

// Valid reports whether m is on the controlled list (exact spelling).
func (m Meaning) Valid() bool {
	for _, v := range Meanings {
		if m == v {
			return true
		}
	}
	return false
}

// AlgHMACSHA256 identifies the MAC of format v1.
const AlgHMACSHA256 = "HMAC-SHA256"

// TimeLayout is how signed_at is written: RFC 3339, UTC, exactly three fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as it is signed: UTC, millisecond precision (truncated), "Z".
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Signature is a stored electronic signature (spec 2 §11.50, §11.70, 6.2, 6.4).
// SignerID, PrintedName, Meaning, SignedAt and RecordHash are bound by SigSHA256 and SigMAC;
// the other fields are context kept with it (and in the audit entry of the signing).
type Signature struct {
	ID          string    // assigned by the caller or store; shown in the PDF signature block
	SignerID    string    // user id, e.g. "u:qa.lee"
	PrintedName string    // from the user profile at signing time; never rewritten
	Meaning     Meaning   //
	SignedAt    time.Time // server time, UTC, truncated to the millisecond
	DisplayTZ   string    // IANA zone of the signer's site, e.g. "Europe/Berlin"
	Reason      string    // comment / rationale typed by the signer (not bound by the MAC in v1)

	RecordType    string // the record signed
	RecordID      string
	RecordVersion int64
	RecordHash    string

	SessionID      string // session the signature was applied in
	FirstInSession bool   // a first signing of a continuous period (§11.200(a)(1)(i))
	Method         string // components used: MethodIDPassword, MethodPassword or MethodIdP

	Alg       string // AlgHMACSHA256
	KeyID     string // which server key made SigMAC
	SigSHA256 string // hex SHA-256(sig_message)
	SigMAC    string // hex HMAC(key, sig_message)
}

// Message returns sig_message for s: the bytes SigSHA256 and SigMAC are computed over.
func (s Signature) Message() string {
	return Netstrings(s.RecordHash, s.SignerID, s.PrintedName, string(s.Meaning), FormatTime(s.SignedAt))
}

// Key is a server signing key, kept outside the database. It never prints its secret.
type Key struct {
	ID     string
	Secret []byte
}

// String hides the secret.
func (k Key) String() string { return "esign.Key{" + k.ID + ", [secret]}" }

// LogValue hides the secret.
func (k Key) LogValue() slog.Value { return slog.StringValue("key " + k.ID + " [secret]") }

// Keyring holds the current signing key and older keys kept for verification (rotation).
type Keyring struct {
	current Key
	byID    map[string][]byte
}

// NewKeyring returns a keyring that signs with current and verifies with current and old.
// Keys need an id, unique within the ring, and at least 32 bytes of secret.
func NewKeyring(current Key, old ...Key) (*Keyring, error) {
	kr := &Keyring{current: current, byID: map[string][]byte{}}
	for _, k := range append([]Key{current}, old...) {
		switch {
		case k.ID == "":
			return nil, errors.New("esign: signing key without id")
		case len(k.Secret) < 32:
			return nil, fmt.Errorf("esign: signing key %s: %d bytes of secret, want at least 32", k.ID, len(k.Secret))
		case kr.byID[k.ID] != nil:
			return nil, fmt.Errorf("esign: signing key id %s used twice", k.ID)
		}
		kr.byID[k.ID] = append([]byte(nil), k.Secret...)
	}
	return kr, nil
}

func mac(secret []byte, msg string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// Request is what a signing needs besides the server time. Record comes from Schema.Record
// on the record as it is now; the session fields come from SessionPolicy.Require.
type Request struct {
	Record         Record
	SignerID       string
	PrintedName    string
	Meaning        Meaning
	Reason         string
	DisplayTZ      string
	SessionID      string
	FirstInSession bool
	Method         string
}

// Validate reports every problem of r at once.
func (r Request) Validate() error {
	var errs []error
	if r.Record.Type == "" || r.Record.ID == "" {
		errs = append(errs, errors.New("no record type or id"))
	}
	if len(r.Record.Hash) != 64 || strings.Trim(r.Record.Hash, "0123456789abcdef") != "" {
		errs = append(errs, fmt.Errorf("record hash %q is not 64 lowercase hex digits", r.Record.Hash))
	}
	switch id := strings.ToLower(r.SignerID); {
	case id == "":
		errs = append(errs, errors.New("no signer id"))
	case id == "system" || strings.HasPrefix(id, "sys:") || strings.HasPrefix(id, "d:"):
		errs = append(errs, fmt.Errorf("signer %s is a system job or device; only a person can sign", r.SignerID))
	}
	if strings.TrimSpace(r.PrintedName) == "" {
		errs = append(errs, errors.New("no printed name"))
	}
	if !r.Meaning.Valid() {
		errs = append(errs, fmt.Errorf("meaning %q is not on the controlled list", r.Meaning))
	}
	if r.DisplayTZ == "" {
		errs = append(errs, errors.New("no display time zone"))
	}
	if r.SessionID == "" {
		errs = append(errs, errors.New("no session id"))
	}
	switch r.Method {
	case MethodIDPassword, MethodPassword, MethodIdP:
	default:
		errs = append(errs, fmt.Errorf("unknown authentication method %q", r.Method))
	}
	if r.Method == MethodPassword && r.FirstInSession {
		errs = append(errs, errors.New("a first signing in a session needs user id and password"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("esign: signing %s %s: %w", r.Record.Type, r.Record.ID, err)
	}
	return nil
}

// Sign builds the signature of r at server time now with the ring's current key. The caller
// has already checked the signer's credentials (Requirement.Check) and signing right.
func (k *Keyring) Sign(r Request, now time.Time) (Signature, error) {
	if err := r.Validate(); err != nil {
		return Signature{}, err
	}
	s := Signature{
		SignerID: r.SignerID, PrintedName: r.PrintedName, Meaning: r.Meaning,
		SignedAt: now.UTC().Truncate(time.Millisecond), DisplayTZ: r.DisplayTZ, Reason: r.Reason,
		RecordType: r.Record.Type, RecordID: r.Record.ID, RecordVersion: r.Record.Version, RecordHash: r.Record.Hash,
		SessionID: r.SessionID, FirstInSession: r.FirstInSession, Method: r.Method,
		Alg: AlgHMACSHA256, KeyID: k.current.ID,
	}
	msg := s.Message()
	s.SigSHA256 = HashHex(msg)
	s.SigMAC = mac(k.byID[k.current.ID], msg)
	return s, nil
}

// State is the outcome of verifying a signature against the current record.
type State int

// Verification states. Anything but Valid is shown as invalid, never hidden (§11.70).
const (
	Valid         State = iota
	RecordChanged       // the record's content differs from what was signed
	WrongRecord         // the signature belongs to another record
	Invalid             // the signature itself was altered or its MAC does not verify
)

// String returns a short state name for APIs, e.g. "record_changed".
func (s State) String() string {
	switch s {
	case Valid:
		return "valid"
	case RecordChanged:
		return "record_changed"
	case WrongRecord:
		return "wrong_record"
	case Invalid:
		return "invalid"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Message is the text a QA screen or report shows next to the signature.
func (s State) Message() string {
	switch s {
	case Valid:
		return "signature valid"
	case RecordChanged:
		return "invalid — signed record has changed since signing"
	case WrongRecord:
		return "invalid — signature belongs to a different record"
	case Invalid:
		return "invalid — signature data altered or not verifiable"
	}
	return "invalid — unknown verification state"
}

// Errors returned by Verify, one per failing State; the returned error wraps one of them.
var (
	ErrRecordChanged    = errors.New("signed record has changed since signing")
	ErrWrongRecord      = errors.New("signature belongs to a different record")
	ErrSignatureInvalid = errors.New("signature data altered or not verifiable")
)

// Verify checks sig against current, the record as it is now (Schema.Record on the current
// content): sig_sha256 and the MAC are recomputed from the stored fields, then the record
// identity and hash are compared. The error is nil exactly when the state is Valid; otherwise
// it wraps ErrSignatureInvalid, ErrWrongRecord or ErrRecordChanged and says why.
func (k *Keyring) Verify(sig Signature, current Record) (State, error) {
	where := fmt.Sprintf("esign: signature %s on %s %s", sig.ID, sig.RecordType, sig.RecordID)
	msg := sig.Message()
	if sig.Alg != AlgHMACSHA256 {
		return Invalid, fmt.Errorf("%s: algorithm %q: %w", where, sig.Alg, ErrSignatureInvalid)
	}
	secret := k.byID[sig.KeyID]
	if secret == nil {
		return Invalid, fmt.Errorf("%s: unknown key %q: %w", where, sig.KeyID, ErrSignatureInvalid)
	}
	if HashHex(msg) != sig.SigSHA256 {
		return Invalid, fmt.Errorf("%s: sig_sha256 does not match the stored fields: %w", where, ErrSignatureInvalid)
	}
	if !hmac.Equal([]byte(mac(secret, msg)), []byte(sig.SigMAC)) {
		return Invalid, fmt.Errorf("%s: MAC does not verify with key %s: %w", where, sig.KeyID, ErrSignatureInvalid)
	}
	if current.Type != sig.RecordType || current.ID != sig.RecordID {
		return WrongRecord, fmt.Errorf("%s: checked against %s %s: %w", where, current.Type, current.ID, ErrWrongRecord)
	}
	if current.Hash != sig.RecordHash {
		return RecordChanged, fmt.Errorf("%s: record hash %s, signed %s: %w", where, current.Hash, sig.RecordHash, ErrRecordChanged)
	}
	return Valid, nil
}
