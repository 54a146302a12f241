// Package reading defines the canonical Reading that every decoder produces and every
// processor and store consumes, the metric vocabulary of shared/specs/codes.md and the
// unit normalisation onto each metric's canonical unit.
//
// It does no I/O. Its types are values; functions are safe for concurrent use.
package reading

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ID identifies a reading: a hash of tenant, device, metric and measured time. A redelivered
// reading has the same ID, so storing it twice is a no-op.
type ID [16]byte

// NewID returns the stable ID of the reading of device's metric measured at t.
func NewID(tenant, device, metric string, measured time.Time) ID {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{tenant, device, metric} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(s)))
		h.Write(n[:4])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(measured.UnixNano()))
	h.Write(n[:])
	var sum [32]byte
	h.Sum(sum[:0])
	var id ID
	copy(id[:], sum[:16])
	return id
}

// String returns the ID as 32 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("reading id %q: want 32 hex digits", b)
	}
	_, err := hex.Decode(id[:], b)
	if err != nil {
		return fmt.Errorf("reading id %q: %w", b, err)
	}
	return nil
}

// Kind says which value field of a Reading is meaningful.
type Kind uint8

// The kinds of value a reading carries.
const (
	Number Kind = iota // Value
	String             // Text (SenML vs)
	Bool               // Value is 0 or 1 (SenML vb)
	Data               // Text holds the raw bytes (SenML vd, decoded)
)

func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case String:
		return "string"
	case Bool:
		return "bool"
	case Data:
		return "data"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Flags are quality flags carried with a reading.
type Flags uint32

// Quality flags.
const (
	// TimeRelative: the device sent a time relative to the receive time (it has no clock).
	TimeRelative Flags = 1 << iota
	// Implausible: the value is outside the metric's plausible range; kept, never scored.
	Implausible
	// Unmapped: the metric is not in the vocabulary; the reading is kept as a raw series.
	Unmapped
	// Control: a control-solution measurement (glucose), never a patient value.
	Control
)

// Reading is one measured value of one metric from one device, in the metric's canonical unit.
type Reading struct {
	ID       ID
	Tenant   string
	Device   string
	Subject  string    // patient or asset the device was bound to when the reading was received
	Metric   string    // a metric key of codes.md §2, or the raw resolved name when Unmapped
	Kind     Kind      // which of Value and Text is meaningful
	Value    float64   // numeric value in Unit; 0/1 for Bool
	Text     string    // string value or raw data
	Unit     string    // UCUM code of the canonical unit ("" when unknown or none)
	Measured time.Time // device clock, UTC
	Received time.Time // server clock, UTC
	Sum      float64   // SenML sum, when HasSum
	HasSum   bool
	Flags    Flags
}

// Validate reports whether r is complete enough to be stored: every identifying field set
// and its ID matching them.
func (r *Reading) Validate() error {
	var errs []error
	if r.Tenant == "" {
		errs = append(errs, errors.New("tenant is empty"))
	}
	if r.Device == "" {
		errs = append(errs, errors.New("device is empty"))
	}
	if r.Metric == "" {
		errs = append(errs, errors.New("metric is empty"))
	}
	if r.Measured.IsZero() {
		errs = append(errs, errors.New("measured time is zero"))
	}
	if r.Received.IsZero() {
		errs = append(errs, errors.New("received time is zero"))
	}
	if len(errs) == 0 && r.ID != NewID(r.Tenant, r.Device, r.Metric, r.Measured) {
		errs = append(errs, errors.New("id does not match tenant, device, metric and measured time"))
	}
	return errors.Join(errs...)
}
