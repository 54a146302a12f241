package senml

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// cborOptions are the decoding options of senml.md §8.
var cborOptions = cbor.DecOptions{
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
	NaN:              cbor.NaNDecodeForbidden,
	Inf:              cbor.InfDecodeForbidden,
	UTF8:             cbor.UTF8RejectInvalid,
	MaxArrayElements: MaxRecords,
	MaxMapPairs:      64,
	MaxNestedLevels:  4,
}

// cborModes holds the strict decoding mode and a lax one (NaN and ±Inf accepted) used only
// to find which label holds a non-finite number after the strict mode refused the record.
// Both are immutable and safe for concurrent use.
var cborModes = func() (m struct{ strict, lax cbor.DecMode }) {
	var err error
	if m.strict, err = cborOptions.DecMode(); err != nil {
		panic(err) // programmer error: the options are constants
	}
	lax := cborOptions
	lax.NaN, lax.Inf = cbor.NaNDecodeAllowed, cbor.InfDecodeAllowed
	if m.lax, err = lax.DecMode(); err != nil {
		panic(err)
	}
	return m
}()

// DecodeCBOR decodes and resolves an application/senml+cbor pack received at now.
// Every error is an *Error; size errors also match ErrTooLarge.
func DecodeCBOR(b []byte, now time.Time) ([]Record, error) {
	recs, err := decodeCBOR(b, now)
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// cborArrayHead parses the head of a definite-length CBOR array.
func cborArrayHead(b []byte) (count uint64, n int, err *Error) {
	if len(b) == 0 {
		return 0, 0, packErr("not an array")
	}
	c := b[0]
	switch {
	case c == 0x9f:
		return 0, 0, packErr("indefinite length array not allowed for senml+cbor")
	case c >= 0x80 && c <= 0x97:
		return uint64(c - 0x80), 1, nil
	case c >= 0x98 && c <= 0x9b:
		size := 1 << (c - 0x98)
		if len(b) < 1+size {
			return 0, 0, &Error{Index: -1, Reason: "invalid CBOR: truncated array head", syntax: true}
		}
		switch size {
		case 1:
			count = uint64(b[1])
		case 2:
			count = uint64(binary.BigEndian.Uint16(b[1:]))
		case 4:
			count = uint64(binary.BigEndian.Uint32(b[1:]))
		case 8:
			count = binary.BigEndian.Uint64(b[1:])
		}
		return count, 1 + size, nil
	}
	return 0, 0, packErr("not an array")
}

func decodeCBOR(b []byte, now time.Time) ([]Record, *Error) {
	if len(b) > MaxPackBytes {
		return nil, tooLarge(-1, "", "pack larger than 1 MiB")
	}
	count, n, err := cborArrayHead(b)
	if err != nil {
		return nil, err
	}
	if count == 0 {
		if n != len(b) {
			return nil, &Error{Index: -1, Reason: "invalid CBOR: data after the array", syntax: true}
		}
		return nil, packErr("empty pack")
	}
	if count > MaxRecords {
		return nil, tooLarge(-1, "", "more than 10000 records")
	}
	rest := b[n:]
	res := newResolver(now, int(min(count, uint64(len(rest)))), len(rest))
	var raw rawRecord
	for i := 0; i < int(count); i++ {
		var m map[any]any
		if len(rest) > 0 {
			switch c := rest[0]; {
			case c == 0xbf:
				return nil, recErr(i, "", "indefinite length map not allowed for senml+cbor")
			case c < 0xa0 || c > 0xbb:
				return nil, recErr(i, "", "not a map")
			}
		}
		next, derr := cborModes.strict.UnmarshalFirst(rest, &m)
		if derr != nil {
			return nil, cborRecordError(i, rest, derr)
		}
		rest = next
		raw.reset()
		if err := cborRecord(i, m, &raw); err != nil {
			return nil, err
		}
		if err := res.add(i, &raw); err != nil {
			return nil, err
		}
	}
	if len(rest) != 0 {
		return nil, &Error{Index: -1, Reason: "invalid CBOR: data after the array", syntax: true}
	}
	return res.finish()
}

// cborRecordError turns a decoding error of record i into an *Error.
func cborRecordError(i int, b []byte, err error) *Error {
	if dup, ok := errors.AsType[*cbor.DupMapKeyError](err); ok {
		return recErr(i, fmt.Sprint(dup.Key), "duplicate label "+labelText(dup.Key))
	}
	if _, ok := errors.AsType[*cbor.UnacceptableDataItemError](err); ok {
		// A NaN or an infinity: find which label holds it.
		var m map[any]any
		if _, lerr := cborModes.lax.UnmarshalFirst(b, &m); lerr == nil {
			var raw rawRecord
			if e := cborRecord(i, m, &raw); e != nil {
				return e
			}
		}
		return recErr(i, "", "number is not finite")
	}
	return &Error{Index: i, Reason: "invalid CBOR: " + err.Error(), syntax: true}
}

// labelText formats a CBOR map key for an error: `2 (v)`, `-2 (bn)`, `"foo"`.
func labelText(k any) string {
	switch k := k.(type) {
	case uint64:
		if k <= 8 {
			return fmt.Sprintf("%d (%s)", k, labelNames[cborIndex(int(k))])
		}
		return strconv.FormatUint(k, 10)
	case int64:
		if k >= -6 && k <= 8 {
			return fmt.Sprintf("%d (%s)", k, labelNames[cborIndex(int(k))])
		}
		return strconv.FormatInt(k, 10)
	case string:
		return strconv.Quote(k)
	}
	return fmt.Sprint(k)
}

// cborIndex maps a CBOR label in [-6, 8] to its label index.
func cborIndex(k int) int {
	if k < 0 {
		return -k - 1 // -1 bver … -6 bs
	}
	return lN + k
}

// cborRecord validates one decoded CBOR map and fills raw.
func cborRecord(i int, m map[any]any, raw *rawRecord) *Error {
	// Key problems first; when there are several, report the smallest message so the
	// error does not depend on map iteration order.
	var keyErr *Error
	var vals [nLabels]any
	for k, v := range m {
		var e *Error
		switch k := k.(type) {
		case uint64:
			if k > 8 {
				e = recErr(i, strconv.FormatUint(k, 10), "unknown CBOR label "+strconv.FormatUint(k, 10))
			} else {
				l := cborIndex(int(k))
				vals[l] = v
				raw.has |= 1 << l
			}
		case int64:
			if k < -6 || k > 8 {
				e = recErr(i, strconv.FormatInt(k, 10), "unknown CBOR label "+strconv.FormatInt(k, 10))
			} else {
				l := cborIndex(int(k))
				vals[l] = v
				raw.has |= 1 << l
			}
		case string:
			if len(k) > 0 && k[len(k)-1] == '_' {
				e = recErr(i, k, fmt.Sprintf("unsupported must-understand label %q", k))
			}
		default:
			e = recErr(i, "", fmt.Sprintf("invalid CBOR label of type %T", k))
		}
		if e != nil && (keyErr == nil || e.Reason < keyErr.Reason) {
			keyErr = e
		}
	}
	if keyErr != nil {
		return keyErr
	}
	for l := range nLabels {
		if raw.has&(1<<l) == 0 {
			continue
		}
		name := labelNames[l]
		v := vals[l]
		switch l {
		case lBver:
			u, ok := v.(uint64)
			if !ok || u == 0 {
				return recErr(i, name, "bver must be a positive integer")
			}
			raw.num[l] = float64(u)
		case lBn, lBu, lN, lU, lVs:
			s, ok := v.(string)
			if !ok {
				return recErr(i, name, name+" must be a string")
			}
			switch {
			case (l == lBn || l == lN) && len(s) > MaxNameBytes:
				return tooLarge(i, name, "name longer than 256 bytes")
			case l == lVs && len(s) > MaxVSBytes:
				return tooLarge(i, name, "vs longer than 4096 bytes")
			}
			raw.str[l] = []byte(s)
		case lVd:
			d, ok := v.([]byte)
			if !ok {
				return recErr(i, name, "vd must be a byte string")
			}
			if len(d) > MaxVDBytes {
				return tooLarge(i, name, "vd longer than 65536 bytes")
			}
			raw.str[l] = d
		case lVb:
			bv, ok := v.(bool)
			if !ok {
				return recErr(i, name, "vb must be a boolean")
			}
			raw.vb = bv
		default:
			f, ok := cborNumber(v)
			if !ok {
				return recErr(i, name, name+" must be a number")
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return recErr(i, name, name+" is not a finite number")
			}
			raw.num[l] = f
		}
	}
	return nil
}

// cborNumber converts a decoded CBOR number: an integer, a float, or a decimal fraction
// (tag 4) with integer exponent and mantissa. Bignums and anything else are not numbers.
func cborNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case uint64:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case cbor.Tag:
		if x.Number != 4 {
			return 0, false
		}
		parts, ok := x.Content.([]any)
		if !ok || len(parts) != 2 {
			return 0, false
		}
		exp, ok1 := cborInt(parts[0])
		mant, ok2 := cborInt(parts[1])
		if !ok1 || !ok2 {
			return 0, false
		}
		f, err := strconv.ParseFloat(mant+"e"+exp, 64)
		if err != nil {
			return math.Inf(1), true // out of range: reported as not finite
		}
		return f, true
	}
	return 0, false
}

func cborInt(v any) (string, bool) {
	switch x := v.(type) {
	case uint64:
		return strconv.FormatUint(x, 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}
