package coldchain

import (
	"fmt"
	"time"
)

// Op is a comparison operator of an alarm rule or budget limit. Every rule stores its own;
// Vigil never guesses it (spec 3.2).
type Op int

// Comparison operators.
const (
	Greater   Op = iota // >
	GreaterEq           // ≥
	Less                // <
	LessEq              // ≤
)

func (o Op) String() string {
	switch o {
	case Greater:
		return ">"
	case GreaterEq:
		return "≥"
	case Less:
		return "<"
	case LessEq:
		return "≤"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Holds reports whether "v op x".
func (o Op) Holds(v, x float64) bool {
	switch o {
	case Greater:
		return v > x
	case GreaterEq:
		return v >= x
	case Less:
		return v < x
	case LessEq:
		return v <= x
	}
	return false
}

// RuleKind is how an alarm rule counts time (spec 3.4).
type RuleKind int

// Alarm rule kinds. The excursion-delay kind is built into Detector.
const (
	Instant     RuleKind = iota // first qualifying reading
	Consecutive                 // represented time of an unbroken run of qualifying readings reaches D
	Cumulative                  // total represented time of qualifying readings since the mission start reaches D
)

func (k RuleKind) String() string {
	switch k {
	case Instant:
		return "instant"
	case Consecutive:
		return "consecutive"
	case Cumulative:
		return "cumulative"
	}
	return fmt.Sprintf("RuleKind(%d)", int(k))
}

// AlarmRule is a threshold alarm as WHO-prequalified devices express it (spec 3.4), e.g.
// "≤ −0.5 °C consecutive 60 min" or "≥ 30 °C cumulative 10 h".
type AlarmRule struct {
	Op        Op
	Threshold float64
	Kind      RuleKind
	Duration  time.Duration
	// StrictDuration fires only when the time exceeds D ("> D"); by default reaching D
	// ("≥ D") fires.
	StrictDuration bool
}

// RuleState evaluates one AlarmRule over one sensor's readings in time order. A consecutive or
// instant rule fires once per qualifying run; a cumulative rule fires once per mission. Keeping
// the alarm active until acknowledged is the alarm engine's job. Not safe for concurrent use.
type RuleState struct {
	rule     AlarmRule
	tm       Timing
	prev     Sample
	havePrev bool
	run      time.Duration // settled represented time of the current run
	inRun    bool
	total    time.Duration // settled represented time of all qualifying readings
	fired    bool          // fired in the current run (or ever, for cumulative)
}

// NewRuleState returns the evaluator of rule for a sensor with timing tm.
func NewRuleState(rule AlarmRule, tm Timing) (*RuleState, error) {
	if err := tm.validate(); err != nil {
		return nil, err
	}
	if rule.Op < Greater || rule.Op > LessEq || rule.Kind < Instant || rule.Kind > Cumulative || rule.Duration < 0 {
		return nil, fmt.Errorf("coldchain: invalid alarm rule %+v", rule)
	}
	return &RuleState{rule: rule, tm: tm}, nil
}

func (r *RuleState) reached(d time.Duration) bool {
	if r.rule.StrictDuration {
		return d > r.rule.Duration
	}
	return d >= r.rule.Duration
}

// Observe feeds the next reading (strictly after the previous one) and reports whether the
// rule fires at it. The newest reading provisionally represents one nominal interval.
func (r *RuleState) Observe(s Sample) (bool, error) {
	if r.havePrev && !s.At.After(r.prev.At) {
		return false, fmt.Errorf("coldchain: reading at %v is not after the previous one at %v", s.At, r.prev.At)
	}
	if r.havePrev && r.inRun {
		rep, _ := represent(r.prev.At, s.At, r.tm)
		r.run += rep
		r.total += rep
	}
	r.prev, r.havePrev = s, true
	q := !s.Invalid && r.rule.Op.Holds(s.Celsius, r.rule.Threshold)
	if !q {
		r.inRun, r.run = false, 0
		if r.rule.Kind != Cumulative {
			r.fired = false
		}
		return false, nil
	}
	r.inRun = true
	if r.fired {
		return false, nil
	}
	var fire bool
	switch r.rule.Kind {
	case Instant:
		fire = true
	case Consecutive:
		fire = r.reached(r.run + r.tm.Nominal)
	case Cumulative:
		fire = r.reached(r.total + r.tm.Nominal)
	}
	r.fired = fire
	return fire, nil
}
