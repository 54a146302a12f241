package coldchain

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Band is a temperature interval; unbounded sides use ±Inf. Budget bands are half-open so
// that the labelled range is never charged: "8–25 °C" for a 2–8 °C product is (8, 25] and
// "0–2 °C" is [0, 2) (spec 3.6).
type Band struct {
	Lo, Hi         float64
	LoOpen, HiOpen bool // exclude the bound
}

// Contains reports whether c lies in b.
func (b Band) Contains(c float64) bool {
	lo := c > b.Lo || (!b.LoOpen && c == b.Lo)
	hi := c < b.Hi || (!b.HiOpen && c == b.Hi)
	return lo && hi
}

func (b Band) String() string {
	l, r := "[", "]"
	if b.LoOpen {
		l = "("
	}
	if b.HiOpen {
		r = ")"
	}
	return fmt.Sprintf("%s%g, %g%s", l, b.Lo, b.Hi, r)
}

// severity is how far c lies outside b (0 inside).
func (b Band) severity(c float64) float64 { return max(0, b.Lo-c, c-b.Hi) }

// BudgetKind is the shape of a stability allowance (spec 3.6).
type BudgetKind int

// Budget kinds.
const (
	CumulativeInBand  BudgetKind = iota // total time in Band ≤ Limit; pauses when back in range
	SinglePeriod                        // one continuous stay in Band ≤ Limit
	ElapsedDeadline                     // first exposure in Band starts a countdown of Limit that never pauses
	IrreversibleEvent                   // any exposure in Band (after rule After triggered, if set) needs QA
)

func (k BudgetKind) String() string {
	switch k {
	case CumulativeInBand:
		return "cumulative-in-band"
	case SinglePeriod:
		return "single-period"
	case ElapsedDeadline:
		return "elapsed-deadline"
	case IrreversibleEvent:
		return "irreversible-event"
	}
	return fmt.Sprintf("BudgetKind(%d)", int(k))
}

// BudgetRule is one allowance of a product, inherited by its lots.
type BudgetRule struct {
	ID    string
	Kind  BudgetKind
	Band  Band
	Limit time.Duration
	// Strict: the label says "< Limit"; otherwise "≤ Limit" (exactly Limit still allowed).
	Strict bool
	// After (IrreversibleEvent only): the ElapsedDeadline rule whose trigger must have happened
	// first, e.g. "refrozen" after "thawed".
	After string
}

// Ranges is a set of bands; a temperature is in it when any band contains it.
type Ranges []Band

// Contains reports whether some band of r contains c.
func (r Ranges) Contains(c float64) bool {
	return slices.ContainsFunc(r, func(b Band) bool { return b.Contains(c) })
}

// severity is the distance of c to the nearest band (0 inside).
func (r Ranges) severity(c float64) float64 {
	s := math.Inf(1)
	for _, b := range r {
		s = min(s, b.severity(c))
	}
	return s
}

// Profile is a product's storage profile for budgets.
type Profile struct {
	// Labelled holds the labelled storage ranges (inclusive), never charged; usually one, two
	// for a product with long-term and short-term storage (ULT, then 2–8 °C after thaw).
	Labelled Ranges
	Rules    []BudgetRule
	// Warn lists the consumed fractions that warn; nil means 0.5 and 0.8. Reaching 1 always
	// exhausts.
	Warn []float64
}

// Basis says how a charge was established (spec 3.7).
type Basis int

// Charge bases.
const (
	Measured Basis = iota
	GapConservative
	Manual
)

func (b Basis) String() string {
	switch b {
	case Measured:
		return "measured"
	case GapConservative:
		return "gap-conservative"
	case Manual:
		return "manual"
	}
	return fmt.Sprintf("Basis(%d)", int(b))
}

// Exposure is a stretch of time a lot spent at one temperature, from its custody source.
type Exposure struct {
	From, To time.Time
	Celsius  float64
	Basis    Basis
	Source   string // sensor or logger id
}

// Entry is one append-only budget ledger line (spec 3.7).
type Entry struct {
	Rule     string
	Band     Band
	Source   string
	From, To time.Time
	Charged  time.Duration
	Basis    Basis
}

// BudgetEventKind names a budget outcome.
type BudgetEventKind int

// Budget events.
const (
	BudgetWarning    BudgetEventKind = iota // a warning fraction reached
	BudgetExhausted                         // consumed reached the limit: quarantine
	BudgetExceeded                          // consumed passed what the label allows
	DeadlineStarted                         // an elapsed deadline was triggered
	DeadlinePassed                          // an elapsed deadline is over: quarantine
	PeriodExceeded                          // a single period in band passed its limit: quarantine
	Irreversible                            // an irreversible event: quarantine
	OutsideAllowance                        // a reading outside the labelled range and every budgeted band: quarantine
	GapReview                               // a data gap between in-range readings: QA review, no charge
)

func (k BudgetEventKind) String() string {
	return [...]string{"BUDGET_WARNING", "BUDGET_EXHAUSTED", "BUDGET_EXCEEDED", "DEADLINE_STARTED",
		"DEADLINE_PASSED", "PERIOD_EXCEEDED", "IRREVERSIBLE", "OUTSIDE_ALLOWANCE", "DATA_GAP"}[k]
}

// BudgetEvent is one outcome, at the exact instant it happened (interpolated inside the
// exposure for thresholds).
type BudgetEvent struct {
	Kind     BudgetEventKind
	Rule     string
	At       time.Time
	Fraction float64       // for warnings and exhaustion
	Consumed time.Duration // for cumulative rules
	Deadline time.Time     // for deadlines
	Celsius  float64       // reading that caused an irreversible or outside-allowance event
}

// Quarantines reports whether the event puts the lot in quarantine.
func (e BudgetEvent) Quarantines() bool {
	switch e.Kind {
	case BudgetExhausted, BudgetExceeded, DeadlinePassed, PeriodExceeded, Irreversible, OutsideAllowance:
		return true
	}
	return false
}

// BudgetState is what a lot carries between legs, sites, splits and merges.
type BudgetState struct {
	Consumed  map[string]time.Duration // per cumulative rule
	Deadlines map[string]time.Time     // per triggered deadline rule
	Fired     map[string]time.Time     // irreversible / single-period rules that fired
	Outside   time.Time                // first OUTSIDE_ALLOWANCE, zero if none
}

// Split returns an independent copy for one part of a split lot (spec 3.7: copies the totals).
func (s BudgetState) Split() BudgetState {
	return BudgetState{Consumed: maps.Clone(s.Consumed), Deadlines: maps.Clone(s.Deadlines),
		Fired: maps.Clone(s.Fired), Outside: s.Outside}
}

// MergeStates combines parts with different histories: per rule the maximum consumed, the
// earliest deadline and the earliest firing (spec 3.7: the worst history wins).
func MergeStates(parts ...BudgetState) BudgetState {
	m := BudgetState{Consumed: map[string]time.Duration{}, Deadlines: map[string]time.Time{}, Fired: map[string]time.Time{}}
	early := func(dst map[string]time.Time, k string, t time.Time) {
		if old, ok := dst[k]; !ok || t.Before(old) {
			dst[k] = t
		}
	}
	for _, p := range parts {
		for k, v := range p.Consumed {
			m.Consumed[k] = max(m.Consumed[k], v)
		}
		for k, v := range p.Deadlines {
			early(m.Deadlines, k, v)
		}
		for k, v := range p.Fired {
			early(m.Fired, k, v)
		}
		if !p.Outside.IsZero() && (m.Outside.IsZero() || p.Outside.Before(m.Outside)) {
			m.Outside = p.Outside
		}
	}
	return m
}

// Budget applies a profile's rules to one lot's exposures (spec 3.6, 3.7). Not safe for
// concurrent use; one owner per lot.
type Budget struct {
	profile Profile
	State   BudgetState
	Ledger  []Entry
	runs    map[string]time.Duration // current single-period runs
}

// NewBudget returns the budget of a lot with the carried-over state (zero for a new lot).
func NewBudget(p Profile, st BudgetState) (*Budget, error) {
	for _, r := range p.Rules {
		if r.ID == "" || r.Limit < 0 || (r.Kind != IrreversibleEvent && r.Limit == 0) {
			return nil, fmt.Errorf("coldchain: budget rule %q (%v): needs an id and a positive limit", r.ID, r.Kind)
		}
	}
	if p.Warn == nil {
		p.Warn = []float64{0.5, 0.8}
	}
	st = st.Split()
	if st.Consumed == nil {
		st.Consumed = map[string]time.Duration{}
	}
	if st.Deadlines == nil {
		st.Deadlines = map[string]time.Time{}
	}
	if st.Fired == nil {
		st.Fired = map[string]time.Time{}
	}
	return &Budget{profile: p, State: st, runs: map[string]time.Duration{}}, nil
}

// Apply charges one exposure and appends the resulting events to dst, in rule order.
func (b *Budget) Apply(dst []BudgetEvent, x Exposure) []BudgetEvent {
	d := x.To.Sub(x.From)
	if d <= 0 {
		return dst
	}
	inLabel := b.profile.Labelled.Contains(x.Celsius)
	if inLabel {
		clear(b.runs)
		if x.Basis == GapConservative {
			dst = append(dst, BudgetEvent{Kind: GapReview, At: x.From, Celsius: x.Celsius})
		}
	}
	covered := false
	for _, r := range b.profile.Rules {
		in := r.Band.Contains(x.Celsius)
		if r.Kind == SinglePeriod && !in {
			delete(b.runs, r.ID)
		}
		if !in || (inLabel && (r.Kind == CumulativeInBand || r.Kind == SinglePeriod)) {
			continue
		}
		switch r.Kind {
		case CumulativeInBand:
			covered = true
			before := b.State.Consumed[r.ID]
			after := before + d
			b.State.Consumed[r.ID] = after
			b.Ledger = append(b.Ledger, Entry{Rule: r.ID, Band: r.Band, Source: x.Source, From: x.From, To: x.To, Charged: d, Basis: x.Basis})
			for _, f := range b.profile.Warn {
				dst = b.cross(dst, r, x, before, after, f, BudgetWarning)
			}
			dst = b.cross(dst, r, x, before, after, 1, BudgetExhausted)
			if !r.Strict && before <= r.Limit && after > r.Limit {
				dst = append(dst, BudgetEvent{Kind: BudgetExceeded, Rule: r.ID, At: x.From.Add(r.Limit - before + 1), Consumed: after})
			}
		case SinglePeriod:
			covered = true
			before := b.runs[r.ID]
			after := before + d
			b.runs[r.ID] = after
			b.Ledger = append(b.Ledger, Entry{Rule: r.ID, Band: r.Band, Source: x.Source, From: x.From, To: x.To, Charged: d, Basis: x.Basis})
			if _, fired := b.State.Fired[r.ID]; !fired && (after > r.Limit || (r.Strict && after >= r.Limit)) {
				at := x.From.Add(r.Limit - before)
				b.State.Fired[r.ID] = at
				dst = append(dst, BudgetEvent{Kind: PeriodExceeded, Rule: r.ID, At: at, Consumed: after})
			}
		case ElapsedDeadline:
			covered = true
			if _, ok := b.State.Deadlines[r.ID]; !ok {
				dl := x.From.Add(r.Limit)
				b.State.Deadlines[r.ID] = dl
				dst = append(dst, BudgetEvent{Kind: DeadlineStarted, Rule: r.ID, At: x.From, Deadline: dl})
			}
		case IrreversibleEvent:
			if _, ok := b.State.Deadlines[r.After]; r.After != "" && !ok {
				continue
			}
			covered = true
			if _, fired := b.State.Fired[r.ID]; !fired {
				b.State.Fired[r.ID] = x.From
				dst = append(dst, BudgetEvent{Kind: Irreversible, Rule: r.ID, At: x.From, Celsius: x.Celsius})
			}
		}
	}
	if !inLabel && !covered && b.State.Outside.IsZero() {
		b.State.Outside = x.From
		dst = append(dst, BudgetEvent{Kind: OutsideAllowance, At: x.From, Celsius: x.Celsius})
	}
	return dst
}

// cross appends an event when consumption passes fraction f of r's limit inside x.
func (b *Budget) cross(dst []BudgetEvent, r BudgetRule, x Exposure, before, after time.Duration, f float64, k BudgetEventKind) []BudgetEvent {
	th := time.Duration(math.Round(f * float64(r.Limit)))
	if before >= th || after < th {
		return dst
	}
	return append(dst, BudgetEvent{Kind: k, Rule: r.ID, At: x.From.Add(th - before), Fraction: f, Consumed: after})
}

// Check appends DeadlinePassed events for deadlines at or before now not yet reported.
func (b *Budget) Check(dst []BudgetEvent, now time.Time) []BudgetEvent {
	for _, r := range b.profile.Rules {
		dl, ok := b.State.Deadlines[r.ID]
		if !ok || now.Before(dl) {
			continue
		}
		key := r.ID + "#passed"
		if _, done := b.State.Fired[key]; done {
			continue
		}
		b.State.Fired[key] = dl
		dst = append(dst, BudgetEvent{Kind: DeadlinePassed, Rule: r.ID, At: dl, Deadline: dl})
	}
	return dst
}

// Finding is one reason in a quarantine decision, with its evidence.
type Finding struct {
	Kind     BudgetEventKind
	Rule     string
	At       time.Time
	Consumed time.Duration
	Limit    time.Duration
	Evidence []Entry // the ledger entries behind a cumulative or single-period finding
}

// Decision is the pure quarantine decision for a lot as of now.
type Decision struct {
	Quarantine bool
	Findings   []Finding
}

// Decide returns whether the lot must be quarantined now and why (spec 3.6, B1: exhaustion,
// outside allowance, irreversible events, passed deadlines and single periods).
func (b *Budget) Decide(now time.Time) Decision {
	var d Decision
	evidence := func(id string) []Entry {
		var e []Entry
		for _, x := range b.Ledger {
			if x.Rule == id {
				e = append(e, x)
			}
		}
		return e
	}
	for _, r := range b.profile.Rules {
		switch r.Kind {
		case CumulativeInBand:
			if c := b.State.Consumed[r.ID]; c >= r.Limit {
				d.Findings = append(d.Findings, Finding{Kind: BudgetExhausted, Rule: r.ID, Consumed: c, Limit: r.Limit, Evidence: evidence(r.ID)})
			}
		case ElapsedDeadline:
			if dl, ok := b.State.Deadlines[r.ID]; ok && !now.Before(dl) {
				d.Findings = append(d.Findings, Finding{Kind: DeadlinePassed, Rule: r.ID, At: dl, Limit: r.Limit})
			}
		case SinglePeriod, IrreversibleEvent:
			if at, ok := b.State.Fired[r.ID]; ok {
				k := Irreversible
				if r.Kind == SinglePeriod {
					k = PeriodExceeded
				}
				d.Findings = append(d.Findings, Finding{Kind: k, Rule: r.ID, At: at, Limit: r.Limit, Evidence: evidence(r.ID)})
			}
		}
	}
	if !b.State.Outside.IsZero() {
		d.Findings = append(d.Findings, Finding{Kind: OutsideAllowance, At: b.State.Outside})
	}
	d.Quarantine = len(d.Findings) > 0
	return d
}

// Remaining returns the unconsumed time of cumulative rule id (negative when exceeded).
func (b *Budget) Remaining(id string) (time.Duration, bool) {
	i := slices.IndexFunc(b.profile.Rules, func(r BudgetRule) bool { return r.ID == id })
	if i < 0 {
		return 0, false
	}
	return b.profile.Rules[i].Limit - b.State.Consumed[id], true
}

// Charger turns one custody source's readings into exposures (spec 3.7): each reading is held
// for its sample-and-hold interval; a gap is charged conservatively at the more severe of the
// two readings around it (relative to the labelled range), with basis GapConservative. Invalid
// readings count as gaps. Not safe for concurrent use.
type Charger struct {
	source   string
	tm       Timing
	labelled Ranges
	prev     Sample
	havePrev bool
	lastOK   Sample // last valid reading, the left side of a gap
	haveOK   bool
	gapFrom  time.Time
	inGap    bool
}

// NewCharger returns a charger for source with timing tm and the product's labelled range.
func NewCharger(source string, tm Timing, labelled Ranges) (*Charger, error) {
	if err := tm.validate(); err != nil {
		return nil, err
	}
	return &Charger{source: source, tm: tm, labelled: labelled}, nil
}

// Observe feeds the next reading and appends the exposures it completes.
func (c *Charger) Observe(dst []Exposure, s Sample) ([]Exposure, error) {
	if c.havePrev && !s.At.After(c.prev.At) {
		return dst, fmt.Errorf("coldchain: reading at %v is not after the previous one at %v", s.At, c.prev.At)
	}
	if !s.Invalid {
		if err := validTemp(s.Celsius); err != nil {
			return dst, fmt.Errorf("reading at %v: %w", s.At, err)
		}
	}
	if c.havePrev {
		p := c.prev
		if p.Invalid {
			if !c.inGap {
				c.inGap, c.gapFrom = true, p.At
			}
		} else {
			rep, gap := represent(p.At, s.At, c.tm)
			dst = append(dst, Exposure{From: p.At, To: p.At.Add(rep), Celsius: p.Celsius, Basis: Measured, Source: c.source})
			if gap.To.After(gap.From) {
				c.inGap, c.gapFrom = true, gap.From
			}
		}
		if c.inGap && !s.Invalid {
			worst := s.Celsius
			if c.haveOK && c.labelled.severity(c.lastOK.Celsius) > c.labelled.severity(s.Celsius) {
				worst = c.lastOK.Celsius
			}
			dst = append(dst, Exposure{From: c.gapFrom, To: s.At, Celsius: worst, Basis: GapConservative, Source: c.source})
			c.inGap = false
		}
	}
	c.prev, c.havePrev = s, true
	if !s.Invalid {
		c.lastOK, c.haveOK = s, true
	}
	return dst, nil
}

// Flush completes the newest reading's exposure, provisionally one nominal interval (end of a
// leg or of the data).
func (c *Charger) Flush(dst []Exposure) []Exposure {
	if c.havePrev && !c.prev.Invalid {
		dst = append(dst, Exposure{From: c.prev.At, To: c.prev.At.Add(c.tm.Nominal), Celsius: c.prev.Celsius, Basis: Measured, Source: c.source})
	}
	c.havePrev = false
	return dst
}
