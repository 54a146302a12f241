package alarm

import (
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Sample is one reading handed to the threshold Evaluator.
type Sample struct {
	Reading *reading.Reading
	Unit    string // the subject's care unit, selecting unit overrides
	// UseReceived: evaluate by received time (the device has an open CLOCK_SKEW, spec §8).
	UseReceived bool
}

type phase uint8

const (
	idle phase = iota
	pending
	present
)

// track is the evaluation state of one condition key.
type track struct {
	phase    phase
	onset    time.Time // first violating sample of the episode
	last     time.Time // last sample evaluated
	interval time.Duration
	inRun    bool
	runStart time.Time
	cond     Condition // template: identity fields of the last emitted condition
}

// Evaluator turns physiological readings, in order, into limit Conditions (spec §3.3):
// strict violation after quantisation, condition delay with PENDING/DISCARDED, data-gap
// discard, hysteresis with clear delay, spot measurements, and per-unit and per-patient limits.
//
// It keeps state per condition key, does no I/O and reads no clock; it is deterministic (the
// same samples yield the same conditions) and not safe for concurrent use: one processor
// partition owns one Evaluator.
type Evaluator struct {
	limits   *Limits
	byMetric map[string][]Code // source metric → codes it feeds, in a fixed order
	tracks   map[trackKey]*track
	// DefaultInterval is the expected sample interval assumed before two samples of a source
	// have been seen (for the DATA_GAP rule). Learned afterwards from the last gap.
	DefaultInterval time.Duration
}

// NewEvaluator returns an Evaluator using limits (DefaultLimits when nil).
func NewEvaluator(limits *Limits) *Evaluator {
	e := &Evaluator{tracks: make(map[trackKey]*track), DefaultInterval: time.Second}
	e.SetLimits(limits)
	return e
}

// SetLimits replaces the limits; open episodes keep their state.
func (e *Evaluator) SetLimits(limits *Limits) {
	if limits == nil {
		limits = DefaultLimits()
	}
	e.limits = limits
	e.byMetric = make(map[string][]Code)
	for _, c := range sortedCodes(limits.Defaults) {
		for _, m := range limits.Defaults[c].Metrics {
			e.byMetric[m] = append(e.byMetric[m], c)
		}
	}
}

func sortedCodes(m map[Code]Limit) []Code {
	cs := make([]Code, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	// insertion sort: a few dozen codes, once per SetLimits
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j] < cs[j-1]; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
	return cs
}

// Evaluate feeds one sample and appends the conditions it decides to out. Non-numeric,
// implausible, control and unmapped readings and samples not newer than the previous one of
// the same source are ignored (signal-quality gating, replay safety).
func (e *Evaluator) Evaluate(s Sample, out []Condition) []Condition {
	r := s.Reading
	if r == nil || r.Kind != reading.Number || r.Flags&(reading.Implausible|reading.Unmapped|reading.Control) != 0 {
		return out
	}
	codes := e.byMetric[r.Metric]
	if len(codes) == 0 {
		return out
	}
	t := r.Measured
	if s.UseReceived || t.IsZero() {
		t = r.Received
	}
	for _, code := range codes {
		l, _ := e.limits.Resolve(r.Tenant, s.Unit, r.Subject, code)
		key := trackKey{tenant: r.Tenant, subject: r.Subject, code: code, metric: r.Metric}
		tr := e.tracks[key]
		if tr == nil {
			if l.Off {
				continue
			}
			info, _ := code.Info()
			tr = &track{interval: e.DefaultInterval, cond: Condition{
				Tenant: r.Tenant, Subject: r.Subject, Metric: r.Metric, Code: code,
				Kind: info.Kind, Priority: info.Priority, Latching: info.Latching, UCUM: r.Unit,
			}}
			e.tracks[key] = tr
		}
		out = e.step(tr, l, s.Unit, r, t, out)
	}
	return out
}

// trackKey names one threshold track: a struct, not a joined string, so that looking one up
// for every reading allocates nothing.
type trackKey struct {
	tenant, subject, metric string
	code                    Code
}

func (e *Evaluator) emit(tr *track, st Status, reason string, at time.Time, l Limit, v float64, id reading.ID, out []Condition) []Condition {
	c := tr.cond
	c.Status, c.Reason, c.At, c.Onset, c.Value, c.Limit, c.Reading = st, reason, at, tr.onset, v, l.Value, id
	return append(out, c)
}

func (e *Evaluator) step(tr *track, l Limit, unit string, r *reading.Reading, t time.Time, out []Condition) []Condition {
	if !tr.last.IsZero() && !t.After(tr.last) {
		return out
	}
	tr.cond.Unit, tr.cond.Device = unit, r.Device
	if tr.phase == pending && t.Sub(tr.last) > 2*tr.interval {
		out = e.emit(tr, StatusDiscarded, ReasonDataGap, tr.last.Add(2*tr.interval), l, tr.cond.Value, reading.ID{}, out)
		tr.phase = idle
	}
	if !tr.last.IsZero() {
		tr.interval = t.Sub(tr.last)
	}
	tr.last = t
	v := quantise(r.Value, l.Decimals)
	viol := (l.Dir == Below && v < l.Value) || (l.Dir == Above && v > l.Value)
	inBand := (l.Dir == Below && v >= l.Value+l.Hysteresis) || (l.Dir == Above && v <= l.Value-l.Hysteresis)
	if l.Spot {
		inBand = !viol
	}
	switch tr.phase {
	case idle:
		if !viol || l.Off {
			return out
		}
		tr.onset, tr.inRun = t, false
		tr.cond.Value = v
		if l.Spot || l.Delay <= 0 {
			tr.phase = present
			return e.emit(tr, StatusPresent, "", t, l, v, r.ID, out)
		}
		tr.phase = pending
		return e.emit(tr, StatusPending, "", t, l, v, r.ID, out)
	case pending:
		if !viol {
			tr.phase = idle
			return e.emit(tr, StatusDiscarded, ReasonClearedBeforeDelay, t, l, v, r.ID, out)
		}
		if t.Sub(tr.onset) >= l.Delay {
			tr.phase = present
			return e.emit(tr, StatusPresent, "", t, l, v, r.ID, out)
		}
	case present:
		if !inBand {
			tr.inRun = false
			return out
		}
		if !tr.inRun {
			tr.inRun, tr.runStart = true, t
		}
		if l.Spot || t.Sub(tr.runStart) >= l.ClearDelay {
			tr.phase, tr.inRun = idle, false
			return e.emit(tr, StatusCleared, "", t, l, v, r.ID, out)
		}
	}
	return out
}

// Advance applies the data-gap rule at now: a PENDING episode whose source sent nothing for
// more than 2 × its expected interval is discarded (reason DATA_GAP) at last + 2 × interval; a
// sample exactly at that time still counts. Loss of data never clears a present condition
// (spec §4.2 invariant 6). Conditions are appended to out in key order.
func (e *Evaluator) Advance(now time.Time, out []Condition) []Condition {
	start := len(out)
	for _, tr := range e.tracks {
		if tr.phase == pending && now.Sub(tr.last) > 2*tr.interval {
			l, _ := e.limits.Resolve(tr.cond.Tenant, tr.cond.Unit, tr.cond.Subject, tr.cond.Code)
			out = e.emit(tr, StatusDiscarded, ReasonDataGap, tr.last.Add(2*tr.interval), l, tr.cond.Value, reading.ID{}, out)
			tr.phase = idle
		}
	}
	sortConditions(out[start:])
	return out
}

func sortConditions(cs []Condition) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Key() < cs[j-1].Key(); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}
