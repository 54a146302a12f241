package coldchain

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// MKT constants of USP <1160> / <1079.2> (spec 1.2).
const (
	// DefaultActivationEnergy is ΔH in J/mol (83.144 kJ/mol).
	DefaultActivationEnergy = 83144.0
	// GasConstant is R in J/(mol·K) as USP writes it.
	GasConstant = 8.3144
	// KelvinOffset converts °C to K.
	KelvinOffset = 273.15
	// DefaultMinCoverage is the coverage at or above which a window MKT is usable (spec 1.4).
	DefaultMinCoverage = 0.95
)

// ErrNoData reports an MKT asked of no readings (or only zero weights).
var ErrNoData = errors.New("coldchain: no readings")

// Weighted is one temperature and the weight (time, in any consistent unit) it represents.
type Weighted struct {
	Celsius float64
	Weight  float64
}

// validTemp rejects NaN, ±Inf and temperatures at or below absolute zero (spec 1.2 rule 4).
func validTemp(c float64) error {
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return fmt.Errorf("coldchain: temperature %v is not a finite number", c)
	}
	if c <= -KelvinOffset {
		return fmt.Errorf("coldchain: temperature %v °C is at or below absolute zero", c)
	}
	return nil
}

// ratio returns ΔH/R in kelvin for activation energy dH (J/mol); 0 means the default.
func ratio(dH float64) (float64, error) {
	if dH == 0 {
		dH = DefaultActivationEnergy
	}
	if !(dH > 0) || math.IsInf(dH, 0) {
		return 0, fmt.Errorf("coldchain: activation energy %v J/mol must be positive and finite", dH)
	}
	return dH / GasConstant, nil
}

// MKT returns the weighted mean kinetic temperature in °C of points (spec 1.3, Haynes formula
// with weights; equal weights give the form of 1.2). dH is the activation energy in J/mol, 0 for
// the default 83 144 J/mol. It errs on an empty series (ErrNoData), a negative or non-finite
// weight, or an invalid temperature.
func MKT(points []Weighted, dH float64) (float64, error) {
	var a Accumulator
	if err := a.init(dH); err != nil {
		return 0, err
	}
	for i, p := range points {
		if err := a.Add(p.Celsius, p.Weight); err != nil {
			return 0, fmt.Errorf("point %d: %w", i, err)
		}
	}
	return a.MKT()
}

// Accumulator sums weighted Boltzmann factors in log space (spec 1.2 rule 3), so MKT can be
// kept up to date with O(1) work per reading and accumulators of adjacent windows (for example
// one per hour) can be merged into the MKT of their union. The zero value uses the default
// activation energy; use NewAccumulator for another. Not safe for concurrent use.
type Accumulator struct {
	k     float64 // ΔH/R in K; 0 until first use means default
	m     float64 // largest exponent seen, x = −k/T
	s     float64 // Σ w·exp(x − m)
	w     float64 // Σ w
	n     int
	ready bool
}

// NewAccumulator returns an empty accumulator for activation energy dH in J/mol (0: default).
func NewAccumulator(dH float64) (*Accumulator, error) {
	a := new(Accumulator)
	if err := a.init(dH); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Accumulator) init(dH float64) error {
	k, err := ratio(dH)
	if err != nil {
		return err
	}
	*a = Accumulator{k: k, m: math.Inf(-1), ready: true}
	return nil
}

// ActivationEnergy returns ΔH in J/mol used by a, to be stored with every result.
func (a *Accumulator) ActivationEnergy() float64 {
	if !a.ready {
		return DefaultActivationEnergy
	}
	return a.k * GasConstant
}

// Add adds temperature c (°C) held for weight w ≥ 0. A zero weight is ignored.
func (a *Accumulator) Add(c, w float64) error {
	if !a.ready {
		_ = a.init(0)
	}
	if err := validTemp(c); err != nil {
		return err
	}
	if !(w >= 0) || math.IsInf(w, 0) {
		return fmt.Errorf("coldchain: weight %v must be non-negative and finite", w)
	}
	if w == 0 {
		return nil
	}
	a.add(-a.k/(c+KelvinOffset), w)
	return nil
}

// add folds exponent x with weight w in, rescaling when x is the new maximum.
func (a *Accumulator) add(x, w float64) {
	if x > a.m {
		a.s = a.s*math.Exp(a.m-x) + w
		a.m = x
	} else {
		a.s += w * math.Exp(x-a.m)
	}
	a.w += w
	a.n++
}

// Merge adds everything b holds to a. Both must use the same activation energy.
func (a *Accumulator) Merge(b *Accumulator) error {
	if !a.ready {
		_ = a.init(0)
	}
	if b.n == 0 {
		return nil
	}
	if b.k != a.k {
		return fmt.Errorf("coldchain: merge MKT accumulators with activation energies %v and %v J/mol",
			a.ActivationEnergy(), b.ActivationEnergy())
	}
	if b.m > a.m {
		a.s = a.s*math.Exp(a.m-b.m) + b.s
		a.m = b.m
	} else {
		a.s += b.s * math.Exp(b.m-a.m)
	}
	a.w += b.w
	a.n += b.n
	return nil
}

// Weight returns the total weight added.
func (a *Accumulator) Weight() float64 { return a.w }

// Len returns the number of weighted readings added (zero weights excluded).
func (a *Accumulator) Len() int { return a.n }

// MKT returns the mean kinetic temperature in °C of what was added, ErrNoData if nothing was.
func (a *Accumulator) MKT() (float64, error) {
	if a.n == 0 || !(a.w > 0) {
		return 0, ErrNoData
	}
	l := a.m + math.Log(a.s) - math.Log(a.w)
	return -a.k/l - KelvinOffset, nil
}

// Sample is one temperature reading of one sensor at its device time.
type Sample struct {
	At      time.Time
	Celsius float64
	// Invalid marks a reading the device flagged (sensor fault, out of range, probe
	// disconnected): it is a gap, never a temperature (spec 1.4).
	Invalid bool
}

// Status says whether a window MKT may be used for a release decision (spec 1.4).
type Status int

// Window statuses.
const (
	StatusOK Status = iota
	StatusInsufficientCoverage
	StatusNoData
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusInsufficientCoverage:
		return "INSUFFICIENT_COVERAGE"
	case StatusNoData:
		return "NO_DATA"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Timing is a sensor's sampling configuration for sample-and-hold weighting (spec 1.3, 1.4).
type Timing struct {
	Nominal time.Duration // configured logging interval Δ; required (> 0)
	MaxGap  time.Duration // longest step still held; 0 means 2 × Nominal
}

func (tm Timing) maxGap() time.Duration {
	if tm.MaxGap > 0 {
		return tm.MaxGap
	}
	return 2 * tm.Nominal
}

func (tm Timing) validate() error {
	if tm.Nominal <= 0 {
		return fmt.Errorf("coldchain: nominal interval %v must be positive", tm.Nominal)
	}
	if tm.MaxGap < 0 {
		return fmt.Errorf("coldchain: max gap %v must not be negative", tm.MaxGap)
	}
	return nil
}

// WindowOptions configure WindowMKT. The zero value of every field except Timing.Nominal
// selects the spec default.
type WindowOptions struct {
	Timing
	ActivationEnergy float64 // J/mol; 0 = DefaultActivationEnergy
	MinCoverage      float64 // 0 = DefaultMinCoverage
}

// WindowResult is the MKT of one window with what is needed to reproduce and judge it.
type WindowResult struct {
	From, To         time.Time
	Celsius          float64 // MKT over covered time; meaningless when Status is StatusNoData
	Coverage         float64 // covered time / window length
	Covered          time.Duration
	Status           Status
	ActivationEnergy float64 // J/mol used
	// SameTimeConflicts counts timestamps carrying two or more different values; they share
	// the interval equally (spec 1.3) and deserve a data-quality warning.
	SameTimeConflicts int
}

// Interval is a half-open time interval [From, To).
type Interval struct{ From, To time.Time }

// Duration returns To − From.
func (iv Interval) Duration() time.Duration { return iv.To.Sub(iv.From) }

// span is one reading's represented interval in Unix nanoseconds.
type span struct {
	from, to int64
	c        float64
}

// holdSpans calls fn with the sample-and-hold interval of every valid reading in samples,
// which must be sorted by time with exact duplicates removed (see normalise). Readings sharing a
// timestamp split their interval equally; invalid readings represent nothing and end the
// previous reading's interval (they are gaps).
func holdSpans(samples []Sample, tm Timing, fn func(span)) {
	nom, gap := int64(tm.Nominal), int64(tm.maxGap())
	n := len(samples)
	for i := 0; i < n; {
		t := samples[i].At.UnixNano()
		j := i + 1
		for j < n && samples[j].At.UnixNano() == t {
			j++
		}
		end := t + nom
		if j < n {
			next := samples[j].At.UnixNano()
			if next-t <= gap {
				end = next
			} else {
				end = min(end, next)
			}
		}
		if j-i == 1 {
			if !samples[i].Invalid {
				fn(span{t, end, samples[i].Celsius})
			}
		} else {
			// k readings at one instant: each gets an equal share of the interval, laid
			// side by side so that clipping to a window stays exact.
			k := int64(j - i)
			for q := i; q < j; q++ {
				off := int64(q - i)
				f, e := t+(end-t)*off/k, t+(end-t)*(off+1)/k
				if !samples[q].Invalid {
					fn(span{f, e, samples[q].Celsius})
				}
			}
		}
		i = j
	}
}

// normalise returns samples sorted by time without exact duplicates (same time, same value,
// same validity) and the number of timestamps holding different values. It returns the input
// itself, unallocated, when it is already sorted and duplicate-free.
func normalise(samples []Sample) ([]Sample, int) {
	clean := true
	for i := 1; i < len(samples); i++ {
		if !samples[i-1].At.Before(samples[i].At) {
			clean = false
			break
		}
	}
	if clean {
		return samples, 0
	}
	s := slices.Clone(samples)
	slices.SortStableFunc(s, func(a, b Sample) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.Invalid != b.Invalid {
			if a.Invalid {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Celsius, b.Celsius)
	})
	s = slices.CompactFunc(s, func(a, b Sample) bool {
		return a.At.Equal(b.At) && a.Celsius == b.Celsius && a.Invalid == b.Invalid
	})
	conflicts := 0
	for i := 1; i < len(s); i++ {
		if s[i].At.Equal(s[i-1].At) && (i < 2 || !s[i-2].At.Equal(s[i].At)) {
			conflicts++
		}
	}
	return s, conflicts
}

// WindowMKT returns the time-weighted (sample-and-hold) MKT of one sensor's samples over the
// window [from, to) (spec 1.3, 1.4): samples need not be sorted; each valid reading is weighted by
// its represented interval clipped to the window; steps longer than MaxGap hold only Nominal and
// the rest is a gap, which gets no weight and lowers Coverage. Gaps are never filled.
// With no covered time the result has StatusNoData and a nil error. It errs on bad options or
// on an invalid temperature in a valid reading.
func WindowMKT(samples []Sample, from, to time.Time, opt WindowOptions) (WindowResult, error) {
	res := WindowResult{From: from, To: to, Status: StatusNoData}
	if err := opt.Timing.validate(); err != nil {
		return res, err
	}
	if !from.Before(to) {
		return res, fmt.Errorf("coldchain: MKT window [%v, %v) is empty", from, to)
	}
	acc, err := NewAccumulator(opt.ActivationEnergy)
	if err != nil {
		return res, err
	}
	res.ActivationEnergy = acc.ActivationEnergy()
	minCov := opt.MinCoverage
	if minCov == 0 {
		minCov = DefaultMinCoverage
	}
	s, conflicts := normalise(samples)
	res.SameTimeConflicts = conflicts
	a, b := from.UnixNano(), to.UnixNano()
	var bad error
	var covered int64
	var bf boltzmann
	bf.m = math.Inf(-1)
	holdSpans(s, opt.Timing, func(sp span) {
		f, e := max(sp.from, a), min(sp.to, b)
		if e <= f || bad != nil {
			return
		}
		if err := validTemp(sp.c); err != nil {
			bad = fmt.Errorf("reading at %v: %w", time.Unix(0, sp.from).UTC(), err)
			return
		}
		covered += e - f
		bf.add(acc.k, sp.c, float64(e-f)/1e9)
	})
	acc.m, acc.s, acc.w, acc.n = bf.m, bf.s, bf.w, bf.n
	if bad != nil {
		return res, bad
	}
	res.Covered = time.Duration(covered)
	res.Coverage = float64(covered) / float64(b-a)
	if covered == 0 {
		return res, nil
	}
	res.Celsius, _ = acc.MKT()
	res.Status = StatusOK
	if res.Coverage < minCov {
		res.Status = StatusInsufficientCoverage
	}
	return res, nil
}

// ExcursionMKT is the USP <1079.2> evaluation of one excursion (spec 1.5): the MKT of the
// window of length W ending at the excursion's end E and of the window starting at its start S.
type ExcursionMKT struct {
	EndAnchored, StartAnchored WindowResult
	// Celsius is the higher (conservative) of the two; the one reported.
	Celsius float64
	// Provisional is true when the start-anchored window reaches past now.
	Provisional bool
}

// EvaluateExcursionMKT computes both anchorings of window w (24 h for CCT, 30 d for CRT) for an
// excursion from start to end, as of now.
func EvaluateExcursionMKT(samples []Sample, start, end time.Time, w time.Duration, now time.Time, opt WindowOptions) (ExcursionMKT, error) {
	var r ExcursionMKT
	var err error
	if r.EndAnchored, err = WindowMKT(samples, end.Add(-w), end, opt); err != nil {
		return r, fmt.Errorf("end-anchored MKT window: %w", err)
	}
	if r.StartAnchored, err = WindowMKT(samples, start, start.Add(w), opt); err != nil {
		return r, fmt.Errorf("start-anchored MKT window: %w", err)
	}
	r.Provisional = start.Add(w).After(now)
	switch {
	case r.EndAnchored.Status == StatusNoData:
		r.Celsius = r.StartAnchored.Celsius
	case r.StartAnchored.Status == StatusNoData:
		r.Celsius = r.EndAnchored.Celsius
	default:
		r.Celsius = max(r.EndAnchored.Celsius, r.StartAnchored.Celsius)
	}
	return r, nil
}

// boltzmann is the summation of Accumulator with a small cache of Boltzmann factors keyed
// by the exact temperature value. Loggers report at a fixed resolution (0.1 °C or 0.01 °C),
// so a long series holds few distinct values and most exp calls are saved. A value close to
// the previous one (1-minute data) is derived from the previous factor by a short series
// instead of exp; the relative error of a factor stays below 1e-14, i.e. below 1e-9 °C of MKT. Entries are stamped with the reference exponent m
// they were computed against and are stale once m grows.
type boltzmann struct {
	m, s, w float64
	n       int
	gen     uint32
	lastC   float64
	lastF   float64
	lastGen uint32
	lastX   float64
	chain   int
	cache   [256]struct {
		c   float64
		f   float64
		gen uint32
	}
}

func (b *boltzmann) add(k, c, w float64) {
	if b.n > 0 && c == b.lastC && b.lastGen == b.gen {
		b.s += w * b.lastF
		b.w += w
		b.n++
		return
	}
	x := -k / (c + KelvinOffset)
	if x > b.m {
		b.s = b.s*math.Exp(b.m-x) + w
		b.m = x
		b.gen++
		b.w += w
		b.n++
		b.lastC, b.lastF, b.lastGen, b.lastX, b.chain = c, 1, b.gen, x, 0
		return
	}
	bits := math.Float64bits(c)
	e := &b.cache[(bits*0x9E3779B97F4A7C15)>>56]
	var f float64
	if e.gen == b.gen+1 && e.c == c { // gen+1 so that the zero entry never matches
		f = e.f
	} else if d := x - b.lastX; b.lastGen == b.gen && b.chain < 32 && d > -1e-3 && d < 1e-3 {
		// A small step from the previous factor: exp(d) by its Taylor series to d⁴
		// (truncation < 1e-17 relative), restarted from a real exp every 32 steps.
		f = b.lastF * (1 + d*(1+d*(0.5+d*(1.0/6+d*(1.0/24)))))
		b.chain++
	} else {
		f = math.Exp(x - b.m)
		e.c, e.f, e.gen = c, f, b.gen+1
		b.chain = 0
	}
	b.s += w * f
	b.w += w
	b.n++
	b.lastC, b.lastF, b.lastGen, b.lastX = c, f, b.gen, x
}
