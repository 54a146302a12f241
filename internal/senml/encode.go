package senml

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// EncodeJSON encodes resolved records as an application/senml+json pack: one record per
// entry with n, u and the value, s, t (seconds since the epoch, always absolute) and ut;
// bver on the first record when Version is set. Decoding the result yields the same
// records, except that TimeRelative is false and times are exact to about a microsecond.
func EncodeJSON(recs []Record) []byte {
	b := make([]byte, 0, 64*len(recs)+2)
	b = append(b, '[')
	for i := range recs {
		r := &recs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if i == 0 && r.Version != 0 {
			b = append(b, `"bver":`...)
			b = strconv.AppendInt(b, int64(r.Version), 10)
			b = append(b, ',')
		}
		b = append(b, `"n":`...)
		b = appendJSONString(b, r.Name)
		if r.Unit != "" {
			b = append(b, `,"u":`...)
			b = appendJSONString(b, r.Unit)
		}
		switch r.Kind {
		case Number:
			b = append(b, `,"v":`...)
			b = appendFloat(b, r.Value)
		case String:
			b = append(b, `,"vs":`...)
			b = appendJSONString(b, r.StringValue)
		case Bool:
			b = append(b, `,"vb":`...)
			b = strconv.AppendBool(b, r.BoolValue)
		case Data:
			b = append(b, `,"vd":"`...)
			b = base64.RawURLEncoding.AppendEncode(b, r.DataValue)
			b = append(b, '"')
		}
		if r.HasSum {
			b = append(b, `,"s":`...)
			b = appendFloat(b, r.Sum)
		}
		b = append(b, `,"t":`...)
		b = appendTime(b, r.Time)
		if r.HasUpdateTime {
			b = append(b, `,"ut":`...)
			b = appendFloat(b, r.UpdateTime)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'g', -1, 64) }

// appendTime writes t as decimal seconds since the epoch with up to 9 fractional digits.
func appendTime(b []byte, t time.Time) []byte {
	sec, ns := t.Unix(), t.Nanosecond()
	b = strconv.AppendInt(b, sec, 10)
	if ns == 0 {
		return b
	}
	var frac [10]byte
	f := strconv.AppendInt(frac[:0], int64(1e9+ns), 10)[1:] // 9 digits, leading zeros kept
	for len(f) > 0 && f[len(f)-1] == '0' {
		f = f[:len(f)-1]
	}
	b = append(b, '.')
	return append(b, f...)
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// EncodeCBOR encodes resolved records as an application/senml+cbor pack with the integer
// labels of RFC 8428 §6. Integral values within ±2^53 are written as CBOR integers, other
// numbers as float64; times are absolute.
func EncodeCBOR(recs []Record) []byte {
	b := make([]byte, 0, 48*len(recs)+9)
	b = appendCBORHead(b, 4, uint64(len(recs)))
	for i := range recs {
		r := &recs[i]
		pairs := 2 // n, t
		if i == 0 && r.Version != 0 {
			pairs++
		}
		if r.Unit != "" {
			pairs++
		}
		if r.Kind != NoValue {
			pairs++
		}
		if r.HasSum {
			pairs++
		}
		if r.HasUpdateTime {
			pairs++
		}
		b = appendCBORHead(b, 5, uint64(pairs))
		if i == 0 && r.Version != 0 {
			b = appendCBORInt(b, -1)
			b = appendCBORInt(b, int64(r.Version))
		}
		b = appendCBORInt(b, 0)
		b = appendCBORText(b, 3, r.Name)
		if r.Unit != "" {
			b = appendCBORInt(b, 1)
			b = appendCBORText(b, 3, r.Unit)
		}
		switch r.Kind {
		case Number:
			b = appendCBORInt(b, 2)
			b = appendCBORFloat(b, r.Value)
		case String:
			b = appendCBORInt(b, 3)
			b = appendCBORText(b, 3, r.StringValue)
		case Bool:
			b = appendCBORInt(b, 4)
			if r.BoolValue {
				b = append(b, 0xf5)
			} else {
				b = append(b, 0xf4)
			}
		case Data:
			b = appendCBORInt(b, 8)
			b = appendCBORHead(b, 2, uint64(len(r.DataValue)))
			b = append(b, r.DataValue...)
		}
		if r.HasSum {
			b = appendCBORInt(b, 5)
			b = appendCBORFloat(b, r.Sum)
		}
		b = appendCBORInt(b, 6)
		if ns := r.Time.Nanosecond(); ns == 0 {
			b = appendCBORInt(b, r.Time.Unix())
		} else {
			b = appendCBORFloat(b, float64(r.Time.Unix())+float64(ns)/1e9)
		}
		if r.HasUpdateTime {
			b = appendCBORInt(b, 7)
			b = appendCBORFloat(b, r.UpdateTime)
		}
	}
	return b
}

func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendCBORInt(b []byte, v int64) []byte {
	if v < 0 {
		return appendCBORHead(b, 1, uint64(-(v + 1)))
	}
	return appendCBORHead(b, 0, uint64(v))
}

func appendCBORText(b []byte, major byte, s string) []byte {
	b = appendCBORHead(b, major, uint64(len(s)))
	return append(b, s...)
}

func appendCBORFloat(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 && !(f == 0 && math.Signbit(f)) {
		return appendCBORInt(b, int64(f))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xfb), math.Float64bits(f))
}
