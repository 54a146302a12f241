// Package evidence computes remote patient monitoring (RPM) billing evidence and adherence from
// qualifying readings and clinician time entries (shared/specs/rpm.md §2 and §3): qualifying
// days in the patient's programme time zone, consecutive 30-day periods and episodes,
// device-supply eligibility (99454 / 99445 / 99453), treatment-management time per calendar
// month (99457 / 99458 / 99470, 99091 candidate), threshold status, projections, longest gap and
// protocol adherence.
//
// It does no I/O and reads no clock; every function is pure and safe for concurrent use. It
// produces evidence and eligibility flags; people decide what to bill.
//
// From CMS / CPT (as recorded in rpm.md §1): the 16-day threshold of 99453/99454 per 30-day
// period; 99445 for 2–15 days from 2026, not additive with 99454; 99457 for the first 20 minutes
// in a calendar month with interactive communication, 99458 per further 20 minutes, 99470 for
// 10–19 minutes from 2026; 99091 for 30 physician/QHP minutes per 30 days; device data must be
// automatic from an FDA medical device (so manual entries never count).
//
// Vigil decisions (rpm.md §2–§3): the programme time zone decides the day; periods start at the
// first qualifying reading and run back to back; a 30-day gap ends an episode; rule set chosen
// by a period's last day (and RULESET_BOUNDARY flagged); full minutes only; 99470 never
// combined with 99458; setup_min_days 16 for 2026 (UNVERIFIED in the spec, configurable); the
// adherence, projection and gap metrics.
package evidence

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Date is a calendar date as days since 1970-01-01.
type Date int32

// DateOf returns the calendar date of t in loc (the patient's programme zone).
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return MakeDate(y, m, d)
}

// MakeDate returns the date y-m-d (normalised like time.Date).
func MakeDate(y int, m time.Month, d int) Date {
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of the date (for its year, month and day).
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the date as 2006-01-02.
func (d Date) String() string { return d.Time().Format(time.DateOnly) }

// EntryMode says how a reading reached Vigil.
type EntryMode uint8

// Entry modes; only Device readings qualify.
const (
	Device      EntryMode = iota // transmitted automatically by the device or its gateway
	ManualEntry                  // typed in, photographed, clinician-entered
)

// Reading is what day counting needs of one reading.
type Reading struct {
	At        time.Time // effective time
	Device    string
	Enrolled  bool // device registered to the patient and enrolled in the programme
	FDADevice bool // registry attribute fda_medical_device
	Mode      EntryMode
	Valid     bool // quality VALID
	Duplicate bool // same device and measurement id, or same device time and value
}

// Qualifies applies rpm.md §2.2 rules 1–4.
func Qualifies(r Reading) bool {
	return r.Enrolled && r.FDADevice && r.Mode == Device && r.Valid && !r.Duplicate
}

// QualifyingDays returns the sorted distinct programme-local dates with a qualifying reading.
func QualifyingDays(rs []Reading, loc *time.Location) []Date {
	var out []Date
	for _, r := range rs {
		if Qualifies(r) {
			out = append(out, DateOf(r.At, loc))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Period is the n-th 30-day period (1-based) of an episode: Start … End inclusive.
type Period struct {
	N          int
	Start, End Date
}

// PeriodN returns period n of an episode starting on start: [start+30(n−1), start+30n−1].
func PeriodN(start Date, n int) Period {
	s := start + Date(30*(n-1))
	return Period{N: n, Start: s, End: s + 29}
}

// PeriodOf returns the period of the episode starting on start that contains d (d ≥ start).
func PeriodOf(start, d Date) Period { return PeriodN(start, int(d-start)/30+1) }

// Episodes splits sorted qualifying days into episodes: a gap of 30 days or more without a
// qualifying day ends one, and the next qualifying day starts a new one (rpm.md §2.3).
func Episodes(days []Date) [][]Date {
	var out [][]Date
	from := 0
	for i := 1; i <= len(days); i++ {
		if i == len(days) || days[i]-days[i-1]-1 >= 30 {
			out = append(out, days[from:i])
			from = i
		}
	}
	return out
}

// RuleSet names the rule set a period or month is evaluated under.
type RuleSet string

// Rule sets (rpm.md §2.1).
const (
	CMS2025 RuleSet = "cms-rpm-2025"
	CMS2026 RuleSet = "cms-rpm-2026"
)

var ruleChange = MakeDate(2026, 1, 1)

// RuleSetOn returns the rule set in force on d.
func RuleSetOn(d Date) RuleSet {
	if d >= ruleChange {
		return CMS2026
	}
	return CMS2025
}

// Status is the 16-day threshold status of a period.
type Status string

// Threshold statuses (rpm.md §3).
const (
	Met16      Status = "MET_16"
	Range2to15 Status = "RANGE_2_15"
	Below2     Status = "BELOW_2"
)

// Flags on evidence.
const (
	FlagRulesetBoundary   = "RULESET_BOUNDARY"
	FlagNoInteractive     = "NO_INTERACTIVE_COMMUNICATION"
	FlagConflictOtherPrac = "CONFLICT_OTHER_PRACTITIONER"
)

// PeriodEvidence is the device-supply evidence of one period.
type PeriodEvidence struct {
	Period
	RuleSet    RuleSet
	Days       []Date // qualifying dates in the period
	D          int
	Status     Status
	DeviceCode string // "99454", "99445" or ""
	Flags      []string
	// Adherence is D / days of the period elapsed through asOf (at most 30), in percent.
	Adherence  float64
	LongestGap int // longest run of dates in the period (through asOf) without a qualifying day
}

// EvaluatePeriod builds the evidence of p from the episode's sorted qualifying days, as known
// at the end of asOf (pass p.End for a closed period).
func EvaluatePeriod(p Period, days []Date, asOf Date) PeriodEvidence {
	e := PeriodEvidence{Period: p, RuleSet: RuleSetOn(p.End)}
	if RuleSetOn(p.Start) != e.RuleSet {
		e.Flags = append(e.Flags, FlagRulesetBoundary)
	}
	last := min(p.End, asOf)
	prev := p.Start - 1
	for _, d := range days {
		if d < p.Start || d > last {
			continue
		}
		e.Days = append(e.Days, d)
		e.LongestGap = max(e.LongestGap, int(d-prev-1))
		prev = d
	}
	e.LongestGap = max(e.LongestGap, int(last-prev))
	e.D = len(e.Days)
	switch {
	case e.D >= 16:
		e.Status, e.DeviceCode = Met16, "99454"
	case e.D >= 2:
		e.Status = Range2to15
		if e.RuleSet == CMS2026 {
			e.DeviceCode = "99445"
		}
	default:
		e.Status = Below2
	}
	elapsed := int(last-p.Start) + 1
	if elapsed > 0 {
		e.Adherence = 100 * float64(e.D) / float64(min(elapsed, 30))
	}
	return e
}

// SetupEligible reports whether 99453 may be flagged for a period: the first period of the
// episode with D ≥ setupMinDays (16 by default in both rule sets; rpm.md §1.3 item 1), and only
// with a set-up/education record. claimedBefore says an earlier period already took it.
func SetupEligible(e PeriodEvidence, setupMinDays int, setupRecord, claimedBefore bool) bool {
	if setupMinDays <= 0 {
		setupMinDays = 16
	}
	return setupRecord && !claimedBefore && e.D >= setupMinDays
}

// Projection is the outlook of a period at day j (rpm.md §3).
type Projection string

// Projections.
const (
	ProjMet        Projection = "MET"
	ProjImpossible Projection = "IMPOSSIBLE"
	ProjAtRisk     Projection = "AT_RISK"
	ProjOnTrack    Projection = "ON_TRACK"
)

// Project returns the projection at 1-based day j of a period with dj qualifying days so far:
// N = 16 − dj, R = 30 − j; MET if N ≤ 0, IMPOSSIBLE if N > R, AT_RISK if N > 0.8 R.
func Project(j, dj int) Projection {
	n, r := 16-dj, 30-j
	switch {
	case n <= 0:
		return ProjMet
	case n > r:
		return ProjImpossible
	case 5*n > 4*r: // N > 0.8·R in integers, no float edge
		return ProjAtRisk
	}
	return ProjOnTrack
}

// Slot is a daily protocol window in local clock time, [From, To] inclusive, e.g. 05:00–11:59.
type Slot struct{ From, To time.Duration }

// ProtocolAdherence matches readings to prescribed daily slots over dates from … to (inclusive),
// at most one reading per slot, and returns matched and prescribed slots (rpm.md §3).
func ProtocolAdherence(at []time.Time, loc *time.Location, slots []Slot, from, to Date) (matched, prescribed int) {
	prescribed = (int(to-from) + 1) * len(slots)
	filled := map[[2]int]bool{}
	for _, t := range at {
		lt := t.In(loc)
		d := DateOf(t, loc)
		if d < from || d > to {
			continue
		}
		clock := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute + time.Duration(lt.Second())*time.Second
		for i, s := range slots {
			k := [2]int{int(d), i}
			if clock >= s.From && clock <= s.To && !filled[k] {
				filled[k] = true
				matched++
				break
			}
		}
	}
	return matched, prescribed
}

// Activity of a time entry.
type Activity string

// Modality of a time entry.
type Modality string

// Modalities; AUDIO, VIDEO and AUDIO_VIDEO are real-time.
const (
	Audio      Modality = "AUDIO"
	Video      Modality = "VIDEO"
	AudioVideo Modality = "AUDIO_VIDEO"
	Message    Modality = "MESSAGE"
)

// TimeEntry is one block of clinician time (rpm.md §2.5).
type TimeEntry struct {
	Date        Date // programme-local date
	Start, End  time.Time
	Minutes     int // used when Start/End are zero
	Staff       string
	Credential  string // RN, MA, MD, DO, NP, PA, …
	Service     string // "RPM", or CCM, PCM, TCM, BHI, CPM
	Activity    Activity
	Interactive bool // real-time synchronous communication with the patient or caregiver
	Modality    Modality
}

// WholeMinutes returns the entry's full minutes (no mid-point rounding, rpm.md §1.3 item 3).
func (e TimeEntry) WholeMinutes() int {
	if !e.Start.IsZero() && !e.End.IsZero() {
		return int(e.End.Sub(e.Start) / time.Minute)
	}
	return e.Minutes
}

// IsInteractive is true only for an interactive entry in a real-time modality.
func (e TimeEntry) IsInteractive() bool {
	return e.Interactive && (e.Modality == Audio || e.Modality == Video || e.Modality == AudioVideo)
}

// CheckOverlap rejects overlapping intervals of one staff member (an entry cannot be claimed
// by two services). It returns every overlap found.
func CheckOverlap(es []TimeEntry) error {
	var errs []error
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			a, b := es[i], es[j]
			if a.Staff != b.Staff || a.Start.IsZero() || b.Start.IsZero() {
				continue
			}
			if a.Start.Before(b.End) && b.Start.Before(a.End) {
				errs = append(errs, fmt.Errorf("time entries %d and %d of staff %s overlap", i, j, a.Staff))
			}
		}
	}
	return errors.Join(errs...)
}

// Code is a billable code with a unit count.
type Code struct {
	Code  string
	Units int
}

// MonthEvidence is the treatment-management evidence of one calendar month.
type MonthEvidence struct {
	Year        int
	Month       time.Month
	RuleSet     RuleSet
	T           int  // whole RPM minutes in the month
	I           bool // at least one interactive entry
	Interactive []Date
	Codes       []Code
	Flags       []string
}

// Ladder is the Vigil default code ladder of rpm.md §2.5.
func Ladder(rs RuleSet, t int, interactive bool) (codes []Code, flags []string) {
	switch {
	case !interactive:
		return nil, []string{FlagNoInteractive}
	case t >= 20:
		codes = []Code{{"99457", 1}}
		if n := (t - 20) / 20; n > 0 {
			codes = append(codes, Code{"99458", n})
		}
		return codes, nil
	case t >= 10 && rs == CMS2026:
		return []Code{{"99470", 1}}, nil
	}
	return nil, nil
}

// EvaluateMonth totals the RPM entries dated in year-month and applies the ladder.
func EvaluateMonth(es []TimeEntry, year int, month time.Month) MonthEvidence {
	m := MonthEvidence{Year: year, Month: month, RuleSet: RuleSetOn(MakeDate(year, month, 1))}
	for _, e := range es {
		y, mo, _ := e.Date.Time().Date()
		if y != year || mo != month || (e.Service != "" && e.Service != "RPM") {
			continue
		}
		m.T += e.WholeMinutes()
		if e.IsInteractive() {
			m.I = true
			m.Interactive = append(m.Interactive, e.Date)
		}
	}
	m.Codes, m.Flags = Ladder(m.RuleSet, m.T, m.I)
	return m
}

// physician credentials count for 99091 (physician or other qualified health care professional).
var qhp = map[string]bool{"MD": true, "DO": true, "NP": true, "PA": true, "CNS": true, "CNM": true}

// Candidate99091 flags 99091 for a 30-day period (rpm.md §2.5): physician/QHP minutes in the
// period ≥ 30, none on a day with an E/M visit, and no 99457/99458 claimed for an overlapping
// month. Flag only; never auto-selected against 99457.
func Candidate99091(es []TimeEntry, p Period, emDays []Date, claimed99457 bool) (minutes int, candidate bool) {
	for _, e := range es {
		if e.Date < p.Start || e.Date > p.End || !qhp[e.Credential] {
			continue
		}
		if slices.Contains(emDays, e.Date) {
			return 0, false
		}
		minutes += e.WholeMinutes()
	}
	return minutes, minutes >= 30 && !claimed99457
}
