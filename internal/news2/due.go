package news2

import (
	"time"
)

// DueOptions are the tenant settings of spec §5.2.
type DueOptions struct {
	// LowInterval is the interval for LOW with total 1–4: 4 h by default, a tenant MAY set 6 h.
	LowInterval time.Duration
	// ContinuousAssigned: a continuous monitoring device is assigned to the patient.
	ContinuousAssigned bool
}

// Due says when the next complete observation set is needed.
type Due struct {
	// Continuous: the band asks for continuous monitoring of vital signs (HIGH).
	Continuous bool
	// MonitorRequired: HIGH without a continuous monitor; raise advisory
	// NEWS2_CONTINUOUS_MONITORING_REQUIRED (spot-check parameters are then due every 15 min).
	MonitorRequired bool
	// Interval from the set's time to At; zero when Continuous and a monitor is assigned.
	Interval time.Duration
	At       time.Time // zero when Interval is zero
}

// Intervals of spec §5.2 (Vigil's encoding of RCP Chart 4).
const (
	IntervalZero       = 12 * time.Hour   // total 0
	IntervalLow        = 4 * time.Hour    // LOW, total 1–4 (default)
	IntervalLowMedium  = time.Hour        // LOW_MEDIUM and MEDIUM
	IntervalHighNoCont = 15 * time.Minute // HIGH without a continuous monitor
	OverdueMinimum     = 10 * time.Minute
	MaxAgeContinuous   = 5 * time.Minute // continuous-median window (§6.2)
	SessionLength      = 15 * time.Minute
)

func interval(total int, b Band, opt DueOptions) (time.Duration, bool) {
	switch b {
	case High:
		if opt.ContinuousAssigned {
			return 0, true
		}
		return IntervalHighNoCont, true
	case Medium, LowMedium:
		return IntervalLowMedium, false
	}
	if total == 0 {
		return IntervalZero, false
	}
	if opt.LowInterval > 0 {
		return opt.LowInterval, false
	}
	return IntervalLow, false
}

// NextDue returns when the next observation set is due after a result whose set time is
// setTime (spec §5.2, §6.4). For a complete result it follows the band; for an incomplete one
// it is now (setTime) when BandMin ≥ LOW_MEDIUM (task NEWS2_COMPLETE_OBS due now), else the
// interval implied by BandMax and ScoreMax.
func NextDue(r *Result, setTime time.Time, opt DueOptions) Due {
	if !r.Complete && r.BandMin >= LowMedium {
		return Due{At: setTime, MonitorRequired: r.BandMin == High && !opt.ContinuousAssigned, Continuous: r.BandMin == High}
	}
	total, band := r.ScoreMin, r.BandMin
	if !r.Complete {
		total, band = r.ScoreMax, r.BandMax
	}
	iv, cont := interval(total, band, opt)
	d := Due{Continuous: cont, MonitorRequired: cont && !opt.ContinuousAssigned, Interval: iv}
	if iv > 0 {
		d.At = setTime.Add(iv)
	}
	return d
}

// Overdue reports whether observations due at d.At are overdue at now: later than the due time
// by more than 10 % of the interval, at least 10 min (spec §5.2, task NEWS2_OBS_OVERDUE).
func Overdue(d Due, now time.Time) bool {
	if d.At.IsZero() {
		return false
	}
	margin := d.Interval / 10
	if margin < OverdueMinimum {
		margin = OverdueMinimum
	}
	return now.Sub(d.At) > margin
}

// Priority is the alert priority of a NEWS2 condition (shared/specs/alarms.md §7).
type Priority uint8

// Priorities; PriorityNone means no alert.
const (
	PriorityNone Priority = iota
	PriorityLow
	PriorityMedium
	PriorityHigh
)

func (p Priority) String() string {
	return [...]string{"NONE", "LOW", "MEDIUM", "HIGH"}[p&3]
}

// Alarm codes of shared/specs/alarms.md §7 (one dedup group, key NEWS2 per patient).
const (
	CodeRedScore = "NEWS2_RED_SCORE"
	CodeMedium   = "NEWS2_MEDIUM"
	CodeHigh     = "NEWS2_HIGH"
	// CodeRising is the advisory of rpm.md §6.6 (priority LOW), see Rising.
	CodeRising = "NEWS2_RISING"
)

// AlarmFor returns the alarm code and priority of a band (alarms.md §7); LOW has none.
func AlarmFor(b Band) (code string, p Priority) {
	switch b {
	case High:
		return CodeHigh, PriorityHigh
	case Medium:
		return CodeMedium, PriorityMedium
	case LowMedium:
		return CodeRedScore, PriorityMedium
	}
	return "", PriorityNone
}

// ConditionBand is the band that drives the alert condition: the band of a complete result,
// or BandMin of an incomplete one (alarms.md §7).
func ConditionBand(r *Result) Band { return r.BandMin }

// ChangeKind says what a new result does to the NEWS2 alert condition.
type ChangeKind uint8

// Kinds of change.
const (
	NoChange ChangeKind = iota // condition absent before and after
	Raise                      // condition starts (from none / LOW): raise Code at Priority
	Escalate                   // band rose while the condition holds: T13, priority raised
	Update                     // condition holds at the same or a lower band: update, no notification, priority never lowered
	Clear                      // a complete LOW result: the condition clears (the alarm latches until acknowledged)
)

func (k ChangeKind) String() string {
	return [...]string{"NO_CHANGE", "RAISE", "ESCALATE", "UPDATE", "CLEAR", "?", "?", "?"}[k&7]
}

// Change is the effect of a new result on the alert condition.
type Change struct {
	Kind     ChangeKind
	From, To Band     // condition bands (To is ConditionBand of next)
	Code     string   // code of the new band (empty when To is LOW)
	Priority Priority // priority of the new band
}

// BandChange compares the previous result (nil when none) with the next one (alarms.md §7):
// the condition is "latest ConditionBand ≥ LOW_MEDIUM"; it clears only on a complete LOW result,
// so an incomplete result whose BandMin is LOW leaves an existing condition in place (Update).
// A patient becoming NOT_APPLICABLE also clears the condition; that is the caller's check.
func BandChange(prev, next *Result) Change {
	to := ConditionBand(next)
	code, pr := AlarmFor(to)
	c := Change{To: to, Code: code, Priority: pr}
	held := prev != nil && ConditionBand(prev) >= LowMedium
	if prev != nil {
		c.From = ConditionBand(prev)
	}
	switch {
	case !held && to >= LowMedium:
		c.Kind = Raise
	case !held:
		c.Kind = NoChange
	case to > c.From:
		c.Kind = Escalate
	case to >= LowMedium:
		c.Kind = Update
	case next.Complete:
		c.Kind = Clear
	default:
		// Incomplete and possibly LOW: the condition is kept at its previous band.
		c.Kind = Update
		c.To = c.From
		c.Code, c.Priority = AlarmFor(c.From)
	}
	return c
}

// Rising is the NEWS2_RISING rule of rpm.md §6.6: a complete score ≥ 3 when the median of the
// patient's complete scores in the previous 72 h (at least 3, excluding the current one; the
// caller selects them) is ≤ 2. previous is not modified.
func Rising(current int, previous []int) bool {
	if current < 3 || len(previous) < 3 {
		return false
	}
	// Scores are 0..20: a counting median needs no sort and no allocation.
	var count [21]int
	for _, s := range previous {
		if s < 0 {
			s = 0
		}
		if s > 20 {
			s = 20
		}
		count[s]++
	}
	n := len(previous)
	lo, hi := -1, -1 // the (n-1)/2-th and n/2-th order statistics
	seen := 0
	for s, c := range count {
		if c == 0 {
			continue
		}
		if lo < 0 && seen+c > (n-1)/2 {
			lo = s
		}
		if hi < 0 && seen+c > n/2 {
			hi = s
		}
		seen += c
	}
	return lo+hi <= 4 // (lo+hi)/2 ≤ 2
}

// Eligibility is the NEWS2 status of a patient (spec §1.1).
type Eligibility struct {
	Applicable bool
	Reason     string // UNDER_16 or PREGNANT when not applicable
	Unverified bool   // age or pregnancy unknown: scored, flagged eligibility_unverified
}

// Tri is a yes/no/unknown answer.
type Tri uint8

// Tri values.
const (
	Unknown Tri = iota
	Yes
	No
)

// CheckEligibility applies spec §1.1. dob is the date of birth (its year, month and day are
// used; zero when unknown); age is computed in loc on the date of the observation set at, and
// a patient is 16 on their 16th birthday. Postpartum exclusion and end-of-life handling are the
// caller's.
func CheckEligibility(dob time.Time, pregnant Tri, at time.Time, loc *time.Location) Eligibility {
	e := Eligibility{Applicable: true}
	if !dob.IsZero() {
		y, m, d := at.In(loc).Date()
		by, bm, bd := dob.Date()
		age := y - by
		if m < bm || (m == bm && d < bd) {
			age--
		}
		if age < 16 {
			return Eligibility{Reason: "UNDER_16"}
		}
	} else {
		e.Unverified = true
	}
	switch pregnant {
	case Yes:
		return Eligibility{Reason: "PREGNANT"}
	case Unknown:
		e.Unverified = true
	}
	return e
}
