package stream

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// codecVersion is the first byte of every group message. A consumer that meets another version
// reports a DecodeError rather than guessing.
const codecVersion = 1

// Group message layout, version 1 (all varints are encoding/binary varints):
//
//	version  byte (1)
//	count    uvarint: number of readings
//	count × reading:
//	  id       16 bytes
//	  tenant, device, subject, metric   string each: uvarint length, bytes
//	  kind     byte (0..3, reading.Kind)
//	  bits     byte: bit 0 HasSum; other bits must be zero
//	  value    8 bytes, IEEE 754 bits, little endian
//	  text, unit                        string each
//	  measured varint Unix seconds, uvarint nanoseconds (< 1e9)
//	  received varint Unix seconds, uvarint nanoseconds (< 1e9)
//	  sum      8 bytes, only when HasSum
//	  flags    uvarint (reading.Flags)
//
// Times decode as UTC: the location of an encoded time is not kept.

// minEncodedReading is the smallest encoding of one reading: the id, six empty strings, kind,
// bits, value, two one-byte seconds and nanoseconds and one-byte flags. DecodeGroup uses it to
// refuse counts the input cannot hold before allocating for them.
const minEncodedReading = 16 + 6 + 1 + 1 + 8 + 2 + 2 + 1

const bitHasSum = 1

// DecodeError reports a malformed group message at a known place.
type DecodeError struct {
	Offset  int    // byte offset in the message where the problem was found
	Reading int    // 0-based index of the reading being decoded; -1 for the message header
	Field   string // the field being decoded, such as "device" or "count"
	Reason  string
}

func (e *DecodeError) Error() string {
	if e.Reading < 0 {
		return fmt.Sprintf("stream: group message at byte %d, header field %s: %s", e.Offset, e.Field, e.Reason)
	}
	return fmt.Sprintf("stream: group message at byte %d, reading %d, field %s: %s",
		e.Offset, e.Reading, e.Field, e.Reason)
}

// EncodeGroup appends the encoding of rs as one group message to dst and returns the result.
func EncodeGroup(dst []byte, rs []reading.Reading) []byte {
	dst = append(dst, codecVersion)
	dst = binary.AppendUvarint(dst, uint64(len(rs)))
	return appendReadings(dst, rs)
}

// groupHeader appends a group message header announcing n readings; the readings' encodings
// (appendReadings) follow it.
func groupHeader(dst []byte, n int) []byte {
	dst = append(dst, codecVersion)
	return binary.AppendUvarint(dst, uint64(n))
}

// appendReadings appends the body encoding of each reading, without the group header.
func appendReadings(dst []byte, rs []reading.Reading) []byte {
	for i := range rs {
		r := &rs[i]
		dst = append(dst, r.ID[:]...)
		dst = appendString(dst, r.Tenant)
		dst = appendString(dst, r.Device)
		dst = appendString(dst, r.Subject)
		dst = appendString(dst, r.Metric)
		dst = append(dst, byte(r.Kind))
		var bits byte
		if r.HasSum {
			bits |= bitHasSum
		}
		dst = append(dst, bits)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.Value))
		dst = appendString(dst, r.Text)
		dst = appendString(dst, r.Unit)
		dst = appendTime(dst, r.Measured)
		dst = appendTime(dst, r.Received)
		if r.HasSum {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(r.Sum))
		}
		dst = binary.AppendUvarint(dst, uint64(r.Flags))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// DecodeGroup decodes one group message. It never panics: malformed input yields a
// *DecodeError naming the byte offset, the reading and the field.
func DecodeGroup(b []byte) ([]reading.Reading, error) {
	d := decoder{b: b, reading: -1}
	if len(b) == 0 {
		return nil, d.fail("version", "message is empty")
	}
	if b[0] != codecVersion {
		return nil, d.fail("version", fmt.Sprintf("unknown codec version %d, want %d", b[0], codecVersion))
	}
	d.off = 1
	count, ok := d.uvarint("count")
	if !ok {
		return nil, d.err
	}
	if count > uint64((len(b)-d.off)/minEncodedReading) {
		return nil, d.fail("count", fmt.Sprintf("%d readings cannot fit in the %d bytes left", count, len(b)-d.off))
	}
	rs := make([]reading.Reading, count)
	d.intern = make(map[string]string)
	for i := range rs {
		d.reading = i
		if !d.reading1(&rs[i]) {
			return nil, d.err
		}
	}
	if d.off != len(b) {
		d.reading = -1
		return nil, d.fail("end", fmt.Sprintf("%d bytes after the last reading", len(b)-d.off))
	}
	return rs, nil
}

// decoder walks one group message; the first error stops it and is kept in err.
type decoder struct {
	b       []byte
	off     int
	reading int
	err     *DecodeError
	intern  map[string]string // repeated tenants, devices, subjects, metrics and units share memory
}

func (d *decoder) fail(field, reason string) *DecodeError {
	d.err = &DecodeError{Offset: d.off, Reading: d.reading, Field: field, Reason: reason}
	return d.err
}

func (d *decoder) reading1(r *reading.Reading) bool {
	if len(d.b)-d.off < len(r.ID) {
		d.fail("id", "truncated")
		return false
	}
	copy(r.ID[:], d.b[d.off:])
	d.off += len(r.ID)
	var ok bool
	if r.Tenant, ok = d.str("tenant", true); !ok {
		return false
	}
	if r.Device, ok = d.str("device", true); !ok {
		return false
	}
	if r.Subject, ok = d.str("subject", true); !ok {
		return false
	}
	if r.Metric, ok = d.str("metric", true); !ok {
		return false
	}
	if d.off >= len(d.b) {
		d.fail("kind", "truncated")
		return false
	}
	r.Kind = reading.Kind(d.b[d.off])
	if r.Kind > reading.Data {
		d.fail("kind", fmt.Sprintf("unknown kind %d", r.Kind))
		return false
	}
	d.off++
	if d.off >= len(d.b) {
		d.fail("bits", "truncated")
		return false
	}
	bits := d.b[d.off]
	if bits&^bitHasSum != 0 {
		d.fail("bits", fmt.Sprintf("unknown bits %#x", bits&^bitHasSum))
		return false
	}
	r.HasSum = bits&bitHasSum != 0
	d.off++
	if r.Value, ok = d.float("value"); !ok {
		return false
	}
	if r.Text, ok = d.str("text", false); !ok {
		return false
	}
	if r.Unit, ok = d.str("unit", true); !ok {
		return false
	}
	if r.Measured, ok = d.time("measured"); !ok {
		return false
	}
	if r.Received, ok = d.time("received"); !ok {
		return false
	}
	if r.HasSum {
		if r.Sum, ok = d.float("sum"); !ok {
			return false
		}
	}
	flags, ok := d.uvarint("flags")
	if !ok {
		return false
	}
	if flags > math.MaxUint32 {
		d.fail("flags", fmt.Sprintf("value %d overflows 32 bits", flags))
		return false
	}
	r.Flags = reading.Flags(flags)
	return true
}

func (d *decoder) uvarint(field string) (uint64, bool) {
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, "truncated varint")
		return 0, false
	case n < 0:
		d.fail(field, "varint overflows 64 bits")
		return 0, false
	}
	d.off += n
	return v, true
}

func (d *decoder) varint(field string) (int64, bool) {
	v, n := binary.Varint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, "truncated varint")
		return 0, false
	case n < 0:
		d.fail(field, "varint overflows 64 bits")
		return 0, false
	}
	d.off += n
	return v, true
}

func (d *decoder) float(field string) (float64, bool) {
	if len(d.b)-d.off < 8 {
		d.fail(field, "truncated")
		return 0, false
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v, true
}

func (d *decoder) str(field string, intern bool) (string, bool) {
	start := d.off
	n, ok := d.uvarint(field)
	if !ok {
		return "", false
	}
	if n > uint64(len(d.b)-d.off) {
		d.off = start
		d.fail(field, fmt.Sprintf("length %d exceeds the %d bytes left", n, len(d.b)-d.off))
		return "", false
	}
	raw := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	if !intern {
		return string(raw), true
	}
	if s, ok := d.intern[string(raw)]; ok {
		return s, true
	}
	s := string(raw)
	d.intern[s] = s
	return s, true
}

func (d *decoder) time(field string) (time.Time, bool) {
	sec, ok := d.varint(field)
	if !ok {
		return time.Time{}, false
	}
	start := d.off
	nsec, ok := d.uvarint(field)
	if !ok {
		return time.Time{}, false
	}
	if nsec >= 1e9 {
		d.off = start
		d.fail(field, fmt.Sprintf("nanoseconds %d out of range", nsec))
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}
