package news2

import (
	"time"

	"github.com/vigil-iomt/vigil/internal/quantile"
)

// Source is how a reading was taken (spec §6.1).
type Source uint8

// Sources.
const (
	Spot       Source = iota // a single device measurement (NIBP cycle, spot-check kit)
	Continuous               // a stream sampled at least once per 60 s
	Manual                   // entered by a nurse
)

func (s Source) String() string { return [...]string{"SPOT", "CONTINUOUS", "MANUAL", "?"}[s&3] }

// DefaultMaxAge returns the staleness windows of spec §6.2 (tenant-configurable).
func DefaultMaxAge() [NumParams]time.Duration {
	var m [NumParams]time.Duration
	m[RR], m[SpO2], m[Pulse] = 15*time.Minute, 15*time.Minute, 15*time.Minute
	m[SBP] = 60 * time.Minute
	m[Temp], m[ACVPU], m[O2] = 240*time.Minute, 240*time.Minute, 240*time.Minute
	return m
}

// Sample is one VALID value with its effective time (device time, or received time for a
// device flagged for clock skew).
type Sample struct {
	Value float64
	At    time.Time
}

// Window holds one continuous stream's recent samples for the 5-minute median of spec §6.2
// rule 1. Adding is amortised O(1); the zero value is ready to use.
type Window struct {
	s       []Sample // sorted by At; s[start:] is live
	start   int
	scratch []float64
}

// Add records a sample. Samples older than 5 minutes before the newest are dropped (the newest
// is always kept, for the spot fallback). A late sample is inserted in time order.
func (w *Window) Add(v float64, at time.Time) {
	live := w.s[w.start:]
	if n := len(live); n > 0 && at.Before(live[n-1].At) {
		i := n
		for i > 0 && at.Before(live[i-1].At) {
			i--
		}
		w.s = append(w.s, Sample{})
		copy(w.s[w.start+i+1:], w.s[w.start+i:])
		w.s[w.start+i] = Sample{v, at}
	} else {
		w.s = append(w.s, Sample{v, at})
	}
	newest := w.s[len(w.s)-1].At
	for w.start < len(w.s)-1 && !w.s[w.start].At.After(newest.Add(-MaxAgeContinuous)) {
		w.start++
	}
	if w.start > 64 && w.start > len(w.s)/2 {
		n := copy(w.s, w.s[w.start:])
		w.s = w.s[:n]
		w.start = 0
	}
}

// Candidate is a parameter's current value as one rule of spec §6.2 sees it.
type Candidate struct {
	OK     bool
	Value  float64
	At     time.Time // effective time (newest sample of a median)
	Source Source
	N      int // samples behind a continuous median; 1 otherwise
}

// Current applies spec §6.2 rule 1 at t: the median of the samples in (t − 5 min, t] when
// there are at least 3 (Source Continuous), else the newest sample at or before t as a spot
// reading (Source Spot; the caller applies MaxAge).
func (w *Window) Current(t time.Time) Candidate {
	live := w.s[w.start:]
	end := len(live)
	for end > 0 && live[end-1].At.After(t) {
		end--
	}
	if end == 0 {
		return Candidate{}
	}
	from := t.Add(-MaxAgeContinuous)
	begin := end
	for begin > 0 && live[begin-1].At.After(from) {
		begin--
	}
	if end-begin < 3 {
		return Candidate{OK: true, Value: live[end-1].Value, At: live[end-1].At, Source: Spot, N: 1}
	}
	w.scratch = w.scratch[:0]
	for _, s := range live[begin:end] {
		w.scratch = append(w.scratch, s.Value)
	}
	return Candidate{OK: true, Value: Median(w.scratch), At: live[end-1].At, Source: Continuous, N: end - begin}
}

// Median returns the median of xs (mean of the two middle values for an even count), or NaN
// for none. It reorders xs; expected O(n), no allocation.
func Median(xs []float64) float64 { return quantile.Median(xs) }

// Pick applies spec §6.2 rules 2 and 3: a spot-like candidate counts only when its age at t is
// within maxAge (age exactly maxAge still counts); a continuous median always counts (its
// window is 5 minutes); of two, the newer effective time wins and a tie goes to Manual.
func Pick(t time.Time, maxAge time.Duration, cands ...Candidate) Candidate {
	var best Candidate
	for _, c := range cands {
		if !c.OK || c.At.After(t) {
			continue
		}
		if c.Source != Continuous && t.Sub(c.At) > maxAge {
			continue
		}
		if !best.OK || c.At.After(best.At) || (c.At.Equal(best.At) && c.Source == Manual && best.Source != Manual) {
			best = c
		}
	}
	return best
}

// Contributor says where a parameter's value in an assembled set came from.
type Contributor struct {
	Candidate
	Rank int // pulse source rank (0 ECG, 1 oximeter, 2 NIBP cuff, 3 manual); 0 otherwise
}

// Assembler keeps one patient's latest observations and assembles the observation set current
// at an evaluation time (spec §6.2). It is not safe for concurrent use. Readings must be VALID
// (quality checks and plausibility are the caller's), and evaluation times should not precede
// the newest spot reading of a parameter (only the newest spot reading is kept).
type Assembler struct {
	MaxAge [NumParams]time.Duration // zero value: DefaultMaxAge on first use

	cont   [NumParams]Window // continuous streams of rr, spo2, sbp, temp
	pulse  [3]Window         // continuous pulse by source rank
	spot   [NumParams]Contributor
	o2     Contributor
	acvpu  Contributor
	inited bool
}

func (a *Assembler) init() {
	if !a.inited {
		if a.MaxAge == ([NumParams]time.Duration{}) {
			a.MaxAge = DefaultMaxAge()
		}
		a.inited = true
	}
}

// Add records a VALID numeric reading of p (not O2 or ACVPU). rank orders pulse sources (see
// ParamOf); a Manual reading is rank 3. A spot pulse from a worse-ranked source in the same
// minute as the kept one is ignored (spec §2 source priority).
func (a *Assembler) Add(p Param, v float64, at time.Time, src Source, rank int) {
	a.init()
	if p >= NumParams || p == O2 || p == ACVPU {
		return
	}
	if src == Manual {
		rank = 3
	}
	if src == Continuous {
		if p == Pulse {
			if rank < 0 || rank > 2 {
				rank = 2
			}
			a.pulse[rank].Add(v, at)
			return
		}
		a.cont[p].Add(v, at)
		return
	}
	old := a.spot[p]
	if old.OK {
		if at.Before(old.At) {
			return
		}
		if p == Pulse && rank > old.Rank && at.Truncate(time.Minute).Equal(old.At.Truncate(time.Minute)) {
			return
		}
		if at.Equal(old.At) && old.Source == Manual && src != Manual {
			return
		}
	}
	a.spot[p] = Contributor{Candidate: Candidate{OK: true, Value: v, At: at, Source: src, N: 1}, Rank: rank}
}

// SetOxygen records an AIR/OXYGEN assertion (manual, or a device reporting oxygen flow).
func (a *Assembler) SetOxygen(o Oxygen, at time.Time, src Source) {
	a.init()
	if !a.o2.OK || !at.Before(a.o2.At) {
		a.o2 = Contributor{Candidate: Candidate{OK: true, Value: float64(o), At: at, Source: src, N: 1}}
	}
}

// SetConsciousness records a manual (or clinician-confirmed) ACVPU assessment.
func (a *Assembler) SetConsciousness(c Consciousness, at time.Time) {
	a.init()
	if !a.acvpu.OK || !at.Before(a.acvpu.At) {
		a.acvpu = Contributor{Candidate: Candidate{OK: true, Value: float64(c), At: at, Source: Manual, N: 1}}
	}
}

// Assemble returns the set current at t on the given scale, where each value came from, and
// the set time (newest effective time among contributors; zero if none). Vigil never assumes
// AIR or A: without a current assertion o2 and acvpu are missing.
func (a *Assembler) Assemble(t time.Time, scale Scale) (s Set, from [NumParams]Contributor, setTime time.Time) {
	a.init()
	s.Scale = scale
	for _, p := range [...]Param{RR, SpO2, SBP, Pulse, Temp} {
		var c Contributor
		if p == Pulse {
			c = a.currentPulse(t)
		} else {
			c = Contributor{Candidate: Pick(t, a.MaxAge[p], a.cont[p].Current(t), a.spot[p].Candidate)}
			if c.OK && c.Source != Continuous && c.At.Equal(a.spot[p].At) && c.Source == a.spot[p].Source {
				c.Rank = a.spot[p].Rank
			}
		}
		if !c.OK {
			continue
		}
		from[p] = c
		s.Present = s.Present.With(p)
		switch p {
		case RR:
			s.RR = c.Value
		case SpO2:
			s.SpO2 = c.Value
		case SBP:
			s.SBP = c.Value
		case Pulse:
			s.Pulse = c.Value
		case Temp:
			s.Temp = c.Value
		}
	}
	if c := a.o2; c.OK && !c.At.After(t) && t.Sub(c.At) <= a.MaxAge[O2] {
		from[O2] = c
		s.Present = s.Present.With(O2)
		s.O2 = Oxygen(c.Value)
	}
	if c := a.acvpu; c.OK && !c.At.After(t) && t.Sub(c.At) <= a.MaxAge[ACVPU] {
		from[ACVPU] = c
		s.Present = s.Present.With(ACVPU)
		s.ACVPU = Consciousness(c.Value)
	}
	for p := range from {
		if from[p].OK && from[p].At.After(setTime) {
			setTime = from[p].At
		}
	}
	return s, from, setTime
}

// currentPulse picks among the pulse streams and the spot pulse: the best-ranked candidate
// whose effective time is in the same minute as the newest candidate's (spec §2), else the
// newest (§6.2 rule 3).
func (a *Assembler) currentPulse(t time.Time) Contributor {
	var cands [4]Contributor
	for r := range a.pulse {
		cands[r] = Contributor{Candidate: Pick(t, a.MaxAge[Pulse], a.pulse[r].Current(t)), Rank: r}
	}
	cands[3] = Contributor{Candidate: Pick(t, a.MaxAge[Pulse], a.spot[Pulse].Candidate), Rank: a.spot[Pulse].Rank}
	var newest time.Time
	for _, c := range cands {
		if c.OK && c.At.After(newest) {
			newest = c.At
		}
	}
	var best Contributor
	minute := newest.Truncate(time.Minute)
	for _, c := range cands {
		if !c.OK || !c.At.Truncate(time.Minute).Equal(minute) {
			continue
		}
		if !best.OK || c.Rank < best.Rank || (c.Rank == best.Rank && c.At.After(best.At)) {
			best = c
		}
	}
	return best
}

// Session groups spot-check readings for patients without continuous sources (spec §6.5): it
// opens at the first reading and holds every reading within 15 minutes after it; MaxAge does
// not apply inside it. The zero value is an empty session.
type Session struct {
	Open  time.Time
	Set   Set
	Times [NumParams]time.Time
	last  time.Time
}

// Add puts a reading of p into the session. It reports false (and adds nothing) when at is
// after the session's close; the caller evaluates the session and starts a new one.
func (s *Session) Add(p Param, v float64, at time.Time) bool {
	if s.Open.IsZero() {
		s.Open = at
	}
	if at.Sub(s.Open) > SessionLength || at.Before(s.Open) {
		return false
	}
	if p >= NumParams {
		return false
	}
	if !s.Times[p].IsZero() && at.Before(s.Times[p]) {
		return true // older than the value already held for p
	}
	switch p {
	case RR:
		s.Set.RR = v
	case SpO2:
		s.Set.SpO2 = v
	case SBP:
		s.Set.SBP = v
	case Pulse:
		s.Set.Pulse = v
	case Temp:
		s.Set.Temp = v
	case O2:
		s.Set.O2 = Oxygen(v)
	case ACVPU:
		s.Set.ACVPU = Consciousness(v)
	}
	s.Set.Present = s.Set.Present.With(p)
	s.Times[p] = at
	if at.After(s.last) {
		s.last = at
	}
	return true
}

// Due reports whether the session is to be evaluated at now: all seven parameters are
// present, or the session has closed (open + 15 min). EvalTime is the newest reading's time.
func (s *Session) Due(now time.Time) bool {
	return !s.Open.IsZero() && (s.Set.Present == AllParams || now.Sub(s.Open) >= SessionLength)
}

// EvalTime is the session's evaluation time t: its newest reading's effective time.
func (s *Session) EvalTime() time.Time { return s.last }
