package senml

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Limits of senml.md §1.
const (
	MaxPackBytes = 1 << 20 // bytes of one encoded pack
	MaxRecords   = 10000   // records in one pack
	MaxNameBytes = 256     // bytes of a resolved name
	MaxVSBytes   = 4096    // bytes of a string value
	MaxVDBytes   = 65536   // bytes of a decoded data value
)

// relativeLimit: a resolved time below 2^28 s is relative to the receive time (§3 rule 8).
const relativeLimit = 1 << 28

// maxFuture: resolved times later than now + maxFuture are rejected (§3 rule 12).
const maxFuture = 10 * time.Minute

// ValueKind says which value field of a Record is set.
type ValueKind uint8

// The value kinds of a resolved record.
const (
	NoValue ValueKind = iota // only a sum
	Number                   // Value (v)
	String                   // StringValue (vs)
	Bool                     // BoolValue (vb)
	Data                     // DataValue (vd)
)

func (k ValueKind) String() string {
	switch k {
	case NoValue:
		return "none"
	case Number:
		return "v"
	case String:
		return "vs"
	case Bool:
		return "vb"
	case Data:
		return "vd"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is one resolved SenML record (RFC 8428 §4.6): base fields applied, name
// concatenated, time absolute.
type Record struct {
	Name          string
	Unit          string // SenML unit symbol; "" for none
	Kind          ValueKind
	Value         float64 // Kind == Number, bv applied
	StringValue   string  // Kind == String
	BoolValue     bool    // Kind == Bool
	DataValue     []byte  // Kind == Data
	Sum           float64 // when HasSum, bs applied
	HasSum        bool
	Time          time.Time // absolute, UTC
	TimeRelative  bool      // the pack gave a time relative to the receive time
	UpdateTime    float64   // ut, seconds, when HasUpdateTime
	HasUpdateTime bool
	Version       int // SenML version when the pack stated one other than 10; 0 otherwise
}

// Label indexes.
const (
	lBver = iota
	lBn
	lBt
	lBu
	lBv
	lBs
	lN
	lU
	lV
	lVs
	lVb
	lS
	lT
	lUt
	lVd
	nLabels
)

var labelNames = [nLabels]string{"bver", "bn", "bt", "bu", "bv", "bs", "n", "u", "v", "vs", "vb", "s", "t", "ut", "vd"}

const (
	baseMask    = 1<<lBver | 1<<lBn | 1<<lBt | 1<<lBu | 1<<lBv | 1<<lBs
	regularMask = 1<<lN | 1<<lU | 1<<lV | 1<<lVs | 1<<lVb | 1<<lS | 1<<lT | 1<<lUt | 1<<lVd
	valueMask   = 1<<lV | 1<<lVs | 1<<lVb | 1<<lVd
)

// rawRecord is one record as decoded, before resolution. Strings point into the input or
// into fresh memory; numbers are finite.
type rawRecord struct {
	has uint16
	num [nLabels]float64 // bver, bt, bv, bs, v, s, t, ut
	str [nLabels][]byte  // bn, bu, n, u, vs; vd decoded
	vb  bool
}

func (r *rawRecord) reset() { r.has = 0 }

// unitSymbols maps each registered unit to itself, so a []byte unit resolves to a shared
// string without allocating. Never modified after initialisation.
var unitSymbols = func() map[string]string {
	m := make(map[string]string)
	for _, u := range reading.SenMLUnits() {
		m[u.Symbol] = u.Symbol
	}
	return m
}()

// span records where a resolved record's name or string value lies in resolver.buf.
type span struct {
	rec        int32
	str        bool // StringValue, else Name
	start, end int32
}

// resolver applies senml.md §3 to raw records in pack order.
type resolver struct {
	now      time.Time
	nowSec   float64
	deadline time.Time

	bn      []byte
	bt, bv  float64
	bu      string
	bs      float64
	hasBS   bool
	version float64 // 0: not stated

	recs  []Record
	buf   []byte // names and string values of every record, turned into one string at the end
	spans []span
}

// newResolver prepares for about capacity records whose names and string values take
// about bufCap bytes.
func newResolver(now time.Time, capacity, bufCap int) *resolver {
	return &resolver{
		now:      now,
		nowSec:   float64(now.Unix()),
		deadline: now.Add(maxFuture),
		recs:     make([]Record, 0, capacity),
		buf:      make([]byte, 0, bufCap),
		spans:    make([]span, 0, capacity),
	}
}

func (r *resolver) checkUnit(i, label int, b []byte) (string, *Error) {
	if s, ok := unitSymbols[string(b)]; ok {
		return s, nil
	}
	return "", recErr(i, labelNames[label], reading.CheckSenMLUnit(string(b)).Error())
}

// add resolves raw record i.
func (r *resolver) add(i int, raw *rawRecord) *Error {
	has := raw.has
	if has&(1<<lBver) != 0 {
		v := raw.num[lBver]
		if v < 1 || v != math.Trunc(v) {
			return recErr(i, "bver", "bver must be a positive integer")
		}
		if v > 10 {
			return recErr(i, "bver", "unsupported SenML version "+strconv.FormatFloat(v, 'f', -1, 64))
		}
		if r.version != 0 && r.version != v {
			return recErr(i, "bver", fmt.Sprintf("version %v differs from %v", v, r.version))
		}
		r.version = v
	}
	if has&(1<<lBu) != 0 {
		u, err := r.checkUnit(i, lBu, raw.str[lBu])
		if err != nil {
			return err
		}
		r.bu = u
	}
	unit := r.bu
	if has&(1<<lU) != 0 {
		u, err := r.checkUnit(i, lU, raw.str[lU])
		if err != nil {
			return err
		}
		unit = u
	}
	if has&(1<<lBn) != 0 {
		r.bn = raw.str[lBn]
	}
	if has&(1<<lBt) != 0 {
		r.bt = raw.num[lBt]
	}
	if has&(1<<lBv) != 0 {
		r.bv = raw.num[lBv]
	}
	if has&(1<<lBs) != 0 {
		r.bs, r.hasBS = raw.num[lBs], true
	}
	if has&regularMask == 0 {
		return nil // base-only record
	}

	var rec Record
	switch vals := has & valueMask; {
	case vals == 0:
		if has&(1<<lS) == 0 {
			return recErr(i, "", "no value and no sum")
		}
	case vals&(vals-1) != 0:
		var names []string
		for _, l := range [...]int{lV, lVs, lVb, lVd} {
			if vals&(1<<l) != 0 {
				names = append(names, labelNames[l])
			}
		}
		return recErr(i, "", "more than one value field ("+strings.Join(names, ", ")+")")
	case vals == 1<<lV:
		rec.Kind, rec.Value = Number, r.bv+raw.num[lV]
		if math.IsInf(rec.Value, 0) {
			return recErr(i, "v", "v is not a finite number")
		}
	case vals == 1<<lVs:
		if len(raw.str[lVs]) > MaxVSBytes {
			return tooLarge(i, "vs", "vs longer than 4096 bytes")
		}
		rec.Kind = String
	case vals == 1<<lVb:
		rec.Kind, rec.BoolValue = Bool, raw.vb
	case vals == 1<<lVd:
		rec.Kind, rec.DataValue = Data, raw.str[lVd]
	}

	n := raw.str[lN]
	if has&(1<<lN) == 0 {
		n = nil
	}
	switch l := len(r.bn) + len(n); {
	case l == 0:
		return recErr(i, "n", "empty name")
	case l > MaxNameBytes:
		return tooLarge(i, "n", "name longer than 256 bytes")
	}
	start := len(r.buf)
	r.buf = append(r.buf, r.bn...)
	r.buf = append(r.buf, n...)
	if !validName(r.buf[start:]) {
		return recErr(i, "n", fmt.Sprintf("invalid name %q", r.buf[start:]))
	}
	r.spans = append(r.spans, span{rec: int32(len(r.recs)), start: int32(start), end: int32(len(r.buf))})
	if rec.Kind == String {
		start = len(r.buf)
		r.buf = append(r.buf, raw.str[lVs]...)
		r.spans = append(r.spans, span{rec: int32(len(r.recs)), str: true, start: int32(start), end: int32(len(r.buf))})
	}
	rec.Unit = unit

	if has&(1<<lS) != 0 || r.hasBS {
		rec.Sum, rec.HasSum = r.bs, true
		if has&(1<<lS) != 0 {
			rec.Sum += raw.num[lS]
		}
		if math.IsInf(rec.Sum, 0) {
			return recErr(i, "s", "s is not a finite number")
		}
	}
	if has&(1<<lUt) != 0 {
		rec.UpdateTime, rec.HasUpdateTime = raw.num[lUt], true
	}

	t := r.bt
	if has&(1<<lT) != 0 {
		t += raw.num[lT]
	}
	var err *Error
	rec.Time, rec.TimeRelative, err = r.resolveTime(i, t)
	if err != nil {
		return err
	}
	r.recs = append(r.recs, rec)
	return nil
}

// resolveTime applies §3 rules 8 and 12 to t = bt + t.
func (r *resolver) resolveTime(i int, t float64) (time.Time, bool, *Error) {
	if t >= relativeLimit {
		if t > r.nowSec+maxFuture.Seconds()+1 {
			return time.Time{}, false, recErr(i, "t", "time in the future")
		}
		// Times are kept to the microsecond: a float64 of today's epoch seconds carries about
		// 0.2 µs of noise (1.2 → 1.19999999 s), and PostgreSQL keeps microseconds.
		sec := math.Floor(t)
		us := math.Round((t - sec) * 1e6)
		abs := time.Unix(int64(sec), int64(us)*1000).UTC()
		if abs.After(r.deadline) {
			return time.Time{}, false, recErr(i, "t", "time in the future")
		}
		return abs, false, nil
	}
	if t > maxFuture.Seconds() {
		return time.Time{}, true, recErr(i, "t", "time in the future")
	}
	if t < -r.nowSec || math.IsInf(t, 0) {
		return time.Time{}, true, recErr(i, "t", "time before 1970")
	}
	return r.now.Add(time.Duration(math.Round(t*1e6)) * time.Microsecond).Round(time.Microsecond).UTC(), true, nil
}

// finish checks the pack as a whole and returns the resolved records.
func (r *resolver) finish() ([]Record, *Error) {
	if len(r.recs) == 0 {
		return nil, packErr("no measurement records")
	}
	all := string(r.buf)
	for _, s := range r.spans {
		if s.str {
			r.recs[s.rec].StringValue = all[s.start:s.end]
		} else {
			r.recs[s.rec].Name = all[s.start:s.end]
		}
	}
	if r.version != 0 && r.version != 10 {
		for i := range r.recs {
			r.recs[i].Version = int(r.version)
		}
	}
	return r.recs, nil
}

// validName reports whether name matches ^[A-Za-z0-9][A-Za-z0-9:./_-]*$ (§3 rule 4).
func validName(name []byte) bool {
	if len(name) == 0 || !isAlnum(name[0]) {
		return false
	}
	for _, c := range name[1:] {
		if !isAlnum(c) && c != ':' && c != '.' && c != '/' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
