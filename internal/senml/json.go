package senml

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// DecodeJSON decodes and resolves an application/senml+json pack received at now.
// Every error is an *Error; size errors also match ErrTooLarge.
func DecodeJSON(b []byte, now time.Time) ([]Record, error) {
	recs, err := decodeJSON(b, now)
	if err != nil {
		return nil, err // avoid a typed nil in the interface
	}
	return recs, nil
}

func decodeJSON(b []byte, now time.Time) ([]Record, *Error) {
	if len(b) > MaxPackBytes {
		return nil, tooLarge(-1, "", "pack larger than 1 MiB")
	}
	s := jsonScanner{b: b, rec: -1}
	s.skipWS()
	if s.i >= len(b) || b[s.i] != '[' {
		return nil, packErr("not an array")
	}
	s.i++
	capacity := min(bytes.Count(b, []byte{'{'}), MaxRecords)
	res := newResolver(now, capacity, len(b))
	var raw rawRecord
	s.skipWS()
	if s.i < len(b) && b[s.i] == ']' {
		s.i++
		if err := s.end(); err != nil {
			return nil, err
		}
		return nil, packErr("empty pack")
	}
	for idx := 0; ; idx++ {
		if idx >= MaxRecords {
			return nil, tooLarge(-1, "", "more than 10000 records")
		}
		s.rec = idx
		s.skipWS()
		raw.reset()
		if err := s.record(&raw); err != nil {
			return nil, err
		}
		if err := res.add(idx, &raw); err != nil {
			return nil, err
		}
		s.rec = -1
		s.skipWS()
		if s.i >= len(b) {
			return nil, s.syntax("unexpected end of input in array")
		}
		c := b[s.i]
		s.i++
		if c == ']' {
			break
		}
		if c != ',' {
			return nil, s.syntaxAt(s.i-1, "expected ',' or ']' after record")
		}
	}
	s.rec = -1
	if err := s.end(); err != nil {
		return nil, err
	}
	return res.finish()
}

// jsonScanner is a strict RFC 8259 scanner specialised for the SenML shape.
type jsonScanner struct {
	b       []byte
	i       int
	rec     int      // record being scanned; -1 outside records
	unknown [][]byte // unknown labels seen in the current record
	stack   []byte   // open brackets while skipping nested unknown values
}

func (s *jsonScanner) syntaxAt(off int, what string) *Error {
	return &Error{Index: s.rec, Reason: fmt.Sprintf("invalid JSON at byte %d: %s", off, what), syntax: true}
}

func (s *jsonScanner) syntax(what string) *Error { return s.syntaxAt(s.i, what) }

func (s *jsonScanner) skipWS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// end checks that only whitespace follows the pack.
func (s *jsonScanner) end() *Error {
	s.skipWS()
	if s.i != len(s.b) {
		return s.syntax("data after the array")
	}
	return nil
}

func labelIndex(b []byte) int {
	switch len(b) {
	case 1:
		switch b[0] {
		case 'n':
			return lN
		case 'u':
			return lU
		case 'v':
			return lV
		case 's':
			return lS
		case 't':
			return lT
		}
	case 2:
		switch b[0] {
		case 'b':
			switch b[1] {
			case 'n':
				return lBn
			case 't':
				return lBt
			case 'u':
				return lBu
			case 'v':
				return lBv
			case 's':
				return lBs
			}
		case 'v':
			switch b[1] {
			case 's':
				return lVs
			case 'b':
				return lVb
			case 'd':
				return lVd
			}
		case 'u':
			if b[1] == 't' {
				return lUt
			}
		}
	case 4:
		if string(b) == "bver" {
			return lBver
		}
	}
	return -1
}

// record scans one JSON object into raw.
func (s *jsonScanner) record(raw *rawRecord) *Error {
	b := s.b
	if s.i >= len(b) {
		return s.syntax("unexpected end of input in array")
	}
	if b[s.i] != '{' {
		if c := b[s.i]; c == ']' || c == ',' {
			return s.syntax("expected a record")
		}
		return recErr(s.rec, "", "not an object")
	}
	s.i++
	s.unknown = s.unknown[:0]
	s.skipWS()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.skipWS()
		if s.i >= len(b) || b[s.i] != '"' {
			return s.syntax("expected a label")
		}
		label, err := s.str()
		if err != nil {
			return err
		}
		s.skipWS()
		if s.i >= len(b) || b[s.i] != ':' {
			return s.syntax("expected ':' after label")
		}
		s.i++
		s.skipWS()
		if s.i >= len(b) {
			return s.syntax("unexpected end of input")
		}
		if l := labelIndex(label); l >= 0 {
			if raw.has&(1<<l) != 0 {
				return recErr(s.rec, labelNames[l], fmt.Sprintf("duplicate label %q", labelNames[l]))
			}
			raw.has |= 1 << l
			if err := s.value(raw, l); err != nil {
				return err
			}
		} else {
			if len(label) > 0 && label[len(label)-1] == '_' {
				return recErr(s.rec, string(label), fmt.Sprintf("unsupported must-understand label %q", label))
			}
			for _, u := range s.unknown {
				if bytes.Equal(u, label) {
					return recErr(s.rec, string(label), fmt.Sprintf("duplicate label %q", label))
				}
			}
			s.unknown = append(s.unknown, label)
			if err := s.skipValue(); err != nil {
				return err
			}
		}
		s.skipWS()
		if s.i >= len(b) {
			return s.syntax("unexpected end of input in record")
		}
		c := b[s.i]
		s.i++
		if c == '}' {
			return nil
		}
		if c != ',' {
			return s.syntaxAt(s.i-1, "expected ',' or '}' in record")
		}
	}
}

// value scans the value of known label l into raw.
func (s *jsonScanner) value(raw *rawRecord, l int) *Error {
	c := s.b[s.i]
	switch l {
	case lBn, lBu, lN, lU, lVs, lVd:
		if c != '"' {
			return recErr(s.rec, labelNames[l], labelNames[l]+" must be a string")
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		switch l {
		case lBn, lN:
			if len(v) > MaxNameBytes {
				return tooLarge(s.rec, labelNames[l], "name longer than 256 bytes")
			}
		case lVs:
			if len(v) > MaxVSBytes {
				return tooLarge(s.rec, "vs", "vs longer than 4096 bytes")
			}
		case lVd:
			d, err := decodeVD(s.rec, v)
			if err != nil {
				return err
			}
			v = d
		}
		raw.str[l] = v
	case lVb:
		switch {
		case c == 't' && bytes.HasPrefix(s.b[s.i:], []byte("true")):
			raw.vb = true
			s.i += 4
		case c == 'f' && bytes.HasPrefix(s.b[s.i:], []byte("false")):
			raw.vb = false
			s.i += 5
		default:
			return recErr(s.rec, "vb", "vb must be a boolean")
		}
	default:
		if c != '-' && (c < '0' || c > '9') {
			return recErr(s.rec, labelNames[l], labelNames[l]+" must be a number")
		}
		f, err := s.number()
		if err != nil {
			if err.syntax {
				return err
			}
			return recErr(s.rec, labelNames[l], labelNames[l]+" is not a finite number")
		}
		raw.num[l] = f
	}
	return nil
}

// decodeVD decodes a vd string: base64url without padding (RFC 4648 §5), nothing else.
func decodeVD(rec int, v []byte) ([]byte, *Error) {
	bad := recErr(rec, "vd", "vd must be base64url without padding")
	if len(v)%4 == 1 {
		return nil, bad
	}
	for _, c := range v {
		if !isAlnum(c) && c != '-' && c != '_' {
			return nil, bad
		}
	}
	if base64.RawURLEncoding.DecodedLen(len(v)) > MaxVDBytes {
		return nil, tooLarge(rec, "vd", "vd longer than 65536 bytes")
	}
	d := make([]byte, base64.RawURLEncoding.DecodedLen(len(v)))
	n, err := base64.RawURLEncoding.Strict().Decode(d, v)
	if err != nil {
		return nil, bad
	}
	return d[:n], nil
}

// number scans an RFC 8259 number. An error without syntax set means the number is
// well-formed but out of float64 range.
func (s *jsonScanner) number() (float64, *Error) {
	b := s.b
	start := s.i
	i := s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return 0, s.syntaxAt(i, "unexpected end of input in number")
	}
	// Integer part; fast path for plain integers of up to 15 digits.
	var mant uint64
	digits := 0
	switch {
	case b[i] == '0':
		i++
		digits = 1
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			mant = mant*10 + uint64(b[i]-'0')
			i++
			digits++
		}
	default:
		return 0, s.syntaxAt(i, "invalid number")
	}
	simple := true
	if i < len(b) && b[i] == '.' {
		simple = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, s.syntaxAt(i, "invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		simple = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, s.syntaxAt(i, "invalid number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	if simple && digits <= 15 {
		f := float64(mant)
		if b[start] == '-' {
			f = -f
		}
		return f, nil
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[start], i-start), 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, &Error{Index: s.rec}
		}
		return 0, s.syntaxAt(start, "invalid number")
	}
	return f, nil
}

// str scans a JSON string starting at its opening quote. It returns the content without
// copying when it has no escapes, else a fresh decoded copy.
func (s *jsonScanner) str() ([]byte, *Error) {
	b := s.b
	start := s.i + 1
	i := start
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return b[start:i], nil
		case c == '\\':
			return s.strEscaped(start, i)
		case c < 0x20:
			return nil, s.syntaxAt(i, "control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, s.syntaxAt(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
	return nil, s.syntaxAt(i, "unterminated string")
}

// strEscaped continues str from the first backslash at i.
func (s *jsonScanner) strEscaped(start, i int) ([]byte, *Error) {
	b := s.b
	out := make([]byte, i-start, i-start+16)
	copy(out, b[start:i])
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return out, nil
		case c == '\\':
			if i+1 >= len(b) {
				return nil, s.syntaxAt(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/':
				out = append(out, b[i+1])
				i += 2
			case 'b':
				out = append(out, '\b')
				i += 2
			case 'f':
				out = append(out, '\f')
				i += 2
			case 'n':
				out = append(out, '\n')
				i += 2
			case 'r':
				out = append(out, '\r')
				i += 2
			case 't':
				out = append(out, '\t')
				i += 2
			case 'u':
				r, ok := hex4(b, i+2)
				if !ok {
					return nil, s.syntaxAt(i, "invalid \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						r2, ok2 = hex4(b, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError // lone surrogate, as encoding/json does
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, s.syntaxAt(i, "invalid escape")
			}
		case c < 0x20:
			return nil, s.syntaxAt(i, "control character in string")
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, s.syntaxAt(i, "invalid UTF-8 in string")
			}
			out = append(out, b[i:i+size]...)
			i += size
		}
	}
	return nil, s.syntaxAt(i, "unterminated string")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skipValue scans and discards any JSON value (the value of an unknown label), checking
// that it is well-formed.
func (s *jsonScanner) skipValue() *Error {
	b := s.b
	s.stack = s.stack[:0]
	for {
		s.skipWS()
		if s.i >= len(b) {
			return s.syntax("unexpected end of input in value")
		}
		// One value.
		switch c := b[s.i]; {
		case c == '"':
			if _, err := s.str(); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if _, err := s.number(); err != nil && err.syntax {
				return err
			}
		case c == 't' && bytes.HasPrefix(b[s.i:], []byte("true")):
			s.i += 4
		case c == 'f' && bytes.HasPrefix(b[s.i:], []byte("false")):
			s.i += 5
		case c == 'n' && bytes.HasPrefix(b[s.i:], []byte("null")):
			s.i += 4
		case c == '[':
			s.i++
			s.skipWS()
			if s.i < len(b) && b[s.i] == ']' {
				s.i++
				break
			}
			s.stack = append(s.stack, '[')
			continue
		case c == '{':
			s.i++
			s.skipWS()
			if s.i < len(b) && b[s.i] == '}' {
				s.i++
				break
			}
			s.stack = append(s.stack, '{')
			if err := s.memberName(); err != nil {
				return err
			}
			continue
		default:
			return s.syntax("invalid value")
		}
		// After a value: close containers or move to the next element.
		for {
			if len(s.stack) == 0 {
				return nil
			}
			s.skipWS()
			if s.i >= len(b) {
				return s.syntax("unexpected end of input in value")
			}
			top := s.stack[len(s.stack)-1]
			c := b[s.i]
			s.i++
			if c == ',' {
				if top == '{' {
					if err := s.memberName(); err != nil {
						return err
					}
				}
				break
			}
			if top == '[' && c == ']' || top == '{' && c == '}' {
				s.stack = s.stack[:len(s.stack)-1]
				continue
			}
			return s.syntaxAt(s.i-1, "unexpected character in value")
		}
	}
}

// memberName scans `"name" :` inside a skipped object.
func (s *jsonScanner) memberName() *Error {
	s.skipWS()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.syntax("expected a member name")
	}
	if _, err := s.str(); err != nil {
		return err
	}
	s.skipWS()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return s.syntax("expected ':'")
	}
	s.i++
	return nil
}
