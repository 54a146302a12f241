package esign

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Schema documents how one type of signable record is hashed: its fields in their v1 order
// (spec 6.4) and the meanings a signature on it may carry (spec 6.1).
type Schema struct {
	Type     string    // record type, e.g. "lot.disposition"
	Version  int       // encoding version of this record type; a change of Fields is a new version
	IDField  string    // the field holding the record id; must be one of Fields
	Fields   []string  // hashed fields, in order
	Meanings []Meaning // meanings allowed on this record type
}

// LotDispositionV1 is the v1 layout of a lot release/reject decision (spec 6.4): report_sha256
// is the SHA-256 hex of the JSON release report, decision is "released" or "rejected".
var LotDispositionV1 = Schema{
	Type:     "lot.disposition",
	Version:  1,
	IDField:  "lot_id",
	Fields:   []string{"lot_id", "product", "decision", "report_sha256"},
	Meanings: []Meaning{ApprovedForRelease, Rejected},
}

// Allows reports whether a signature with meaning m may be applied to this record type.
func (s Schema) Allows(m Meaning) bool { return slices.Contains(s.Meanings, m) }

// Message returns the exact bytes the record hash is taken of: the netstrings of fields'
// values in the schema's order. Every declared field must be present (it may be empty) and
// no other may be: a field the schema does not hash would silently escape the signature.
func (s Schema) Message(fields map[string]string) (string, error) {
	var missing, extra []string
	vals := make([]string, 0, len(s.Fields))
	for _, f := range s.Fields {
		v, ok := fields[f]
		if !ok {
			missing = append(missing, f)
		}
		vals = append(vals, v)
	}
	for f := range fields {
		if !slices.Contains(s.Fields, f) {
			extra = append(extra, f)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		slices.Sort(extra)
		return "", fmt.Errorf("esign: %s v%d record: missing fields [%s], unknown fields [%s]",
			s.Type, s.Version, strings.Join(missing, " "), strings.Join(extra, " "))
	}
	return Netstrings(vals...), nil
}

// Record computes the identity and content hash of one version of a record of this type.
// The id is taken from IDField, so it is always inside the hash.
func (s Schema) Record(version int64, fields map[string]string) (Record, error) {
	if !slices.Contains(s.Fields, s.IDField) {
		return Record{}, fmt.Errorf("esign: schema %s v%d: id field %q is not hashed", s.Type, s.Version, s.IDField)
	}
	msg, err := s.Message(fields)
	if err != nil {
		return Record{}, err
	}
	id := fields[s.IDField]
	if id == "" {
		return Record{}, fmt.Errorf("esign: %s v%d record: empty %s", s.Type, s.Version, s.IDField)
	}
	return Record{Type: s.Type, ID: id, Version: version, Hash: HashHex(msg)}, nil
}

// Record identifies the exact record version a signature applies to (spec 6.1).
type Record struct {
	Type    string // e.g. "lot.disposition"
	ID      string // e.g. "LOT-2025-0117"
	Version int64  // the record's version number (informative; not hashed)
	Hash    string // record_hash: hex SHA-256 of the canonical content
}

// Netstrings concatenates the netstrings of values (`<byte length>:<value>,` each).
func Netstrings(values ...string) string {
	n := 0
	for _, v := range values {
		n += len(v) + 22
	}
	b := make([]byte, 0, n)
	for _, v := range values {
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
		b = append(b, ',')
	}
	return string(b)
}

// HashHex returns the lowercase hex SHA-256 of msg.
func HashHex(msg string) string {
	sum := sha256.Sum256([]byte(msg))
	return hex.EncodeToString(sum[:])
}
