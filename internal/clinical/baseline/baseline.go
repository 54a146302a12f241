// Package baseline is Vigil's Personal Baseline Monitor (PBM, shared/specs/rpm.md §6.2): per
// patient and parameter it learns the patient's own usual daily value and flags sustained drift
// away from it with a one-sided CUSUM, explaining every flag (which parameter, how far in units
// of the patient's day-to-day variation, since when, and the baseline data behind it).
//
// It does no I/O and reads no clock. A Monitor belongs to one patient and one parameter and to
// one goroutine (not safe for concurrent use); it is deterministic: the same readings in the same
// order give the same results. Adding a reading is amortised O(1) without allocation once the
// day buffer has grown; closing a day costs O(W).
//
// Every rule here is a Vigil decision (rpm.md §6.2, "PBM design and parameters: Vigil
// decisions"): daily value (earliest weight, else median), the 14-day median/MAD baseline with a
// two-day guard gap and in-control days only, the per-parameter scale floors and directions,
// u capped at 4, CUSUM k = 0.5 and h = 5, the 7-day reset, EWMA display with the WATCH badge, and
// the KEEP_BASELINE / NEW_NORMAL acknowledgement. CUSUM and EWMA are standard statistical process
// control (Page 1954; Roberts 1959); nothing here comes from RCP NEWS2 or CMS.
package baseline

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/quantile"
)

// Param is a PBM parameter (rpm.md §6.2; glucose is excluded).
type Param string

// PBM parameters.
const (
	Weight    Param = "weight"
	SBP       Param = "sbp"
	DBP       Param = "dbp"
	RestingHR Param = "hr_rest"
	SpO2      Param = "spo2"
	RR        Param = "rr"
	Temp      Param = "temp"
)

// ParamOf maps a metric key of shared/specs/codes.md to its PBM parameter.
func ParamOf(metric string) (Param, bool) {
	switch metric {
	case "weight":
		return Weight, true
	case "nibp_sys":
		return SBP, true
	case "nibp_dia":
		return DBP, true
	case "hr", "pr_spo2", "pr_nibp":
		return RestingHR, true
	case "spo2":
		return SpO2, true
	case "rr":
		return RR, true
	case "temp_body":
		return Temp, true
	}
	return "", false
}

var names = map[Param]string{
	Weight: "Weight", SBP: "Systolic blood pressure", DBP: "Diastolic blood pressure",
	RestingHR: "Resting heart rate", SpO2: "SpO2", RR: "Respiration rate", Temp: "Temperature",
}

// Direction is the side of the baseline a CUSUM watches.
type Direction int8

// Directions (c in the spec).
const (
	Up   Direction = 1
	Down Direction = -1
)

func (d Direction) String() string {
	if d == Down {
		return "DOWN"
	}
	return "UP"
}

// Config holds one parameter's PBM settings.
type Config struct {
	K, H     float64 // CUSUM allowance and threshold; k ∈ [0.25, 1], h ∈ [3, 8]
	W, Min   int     // baseline window and minimum eligible days; W ∈ [7, 28], Min ∈ [5, W]
	Floor    float64 // s_floor, the smallest scale, in the parameter's unit
	Up, Down bool    // monitored directions
	Earliest bool    // daily value is the day's earliest reading (weight), else the median
}

// Fixed rules of rpm.md §6.2.
const (
	Guard     = 2   // days before t that never count towards its baseline
	Lookback  = 60  // eligible days are within the last 60 days
	ResetGap  = 7   // consecutive days without a value that reset S
	Cap       = 4.0 // u is capped at 4
	EWMAAlpha = 0.3 // e_t = 0.3 u_t + 0.7 e_{t−1}
	WatchAt   = 1.0 // WATCH badge when e_t ≥ 1
	madScale  = 1.4826
)

// Defaults returns the spec's default configuration for p (rpm.md §6.2 table).
func Defaults(p Param) (Config, bool) {
	c := Config{K: 0.5, H: 5, W: 14, Min: 7}
	switch p {
	case Weight:
		c.Floor, c.Up, c.Earliest = 0.5, true, true
	case SBP:
		c.Floor, c.Up, c.Down = 5, true, true
	case DBP:
		c.Floor, c.Up = 4, true
	case RestingHR:
		c.Floor, c.Up = 3, true
	case SpO2:
		c.Floor, c.Down = 1, true
	case RR:
		c.Floor, c.Up = 1.5, true
	case Temp:
		c.Floor, c.Up = 0.2, true
	default:
		return Config{}, false
	}
	return c, true
}

// Validate reports every setting outside the bounds of rpm.md §6.2.
func (c Config) Validate() error {
	var errs []error
	if c.K < 0.25 || c.K > 1 {
		errs = append(errs, fmt.Errorf("k = %v: want 0.25–1.0", c.K))
	}
	if c.H < 3 || c.H > 8 {
		errs = append(errs, fmt.Errorf("h = %v: want 3–8", c.H))
	}
	if c.W < 7 || c.W > 28 {
		errs = append(errs, fmt.Errorf("window w = %d: want 7–28", c.W))
	}
	if c.Min < 5 || c.Min > c.W {
		errs = append(errs, fmt.Errorf("min = %d: want 5–w", c.Min))
	}
	if !(c.Floor > 0) {
		errs = append(errs, fmt.Errorf("s_floor = %v: want > 0", c.Floor))
	}
	if !c.Up && !c.Down {
		errs = append(errs, errors.New("no direction monitored"))
	}
	return errors.Join(errs...)
}

// Day is a calendar date in the patient's programme time zone, as days since 1970-01-01.
type Day int32

// DayOf returns the calendar date of t in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// String formats the day as 2006-01-02.
func (d Day) String() string { return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) }

// State is a direction's state at the end of a day.
type State uint8

// States, as in the worked examples' State column.
const (
	Learning     State = iota // fewer than Min eligible days: no alerts
	InControl                 // S = 0
	Accumulating              // S > 0, below h, no open alert
	Alerting                  // S crossed h today: raise PBM_<PARAM>_<DIR>
	AlertOpen                 // an alert raised earlier is not acknowledged yet
)

func (s State) String() string {
	return [...]string{"LEARNING", "IN_CONTROL", "ACCUMULATING", "ALERT", "ALERT_OPEN", "?", "?", "?"}[s&7]
}

// Baseline is the data behind a day's comparison.
type Baseline struct {
	N        int     // eligible days used (≤ W)
	From, To Day     // oldest and newest day used
	Median   float64 // m
	MAD      float64 // median absolute deviation from m
	Scale    float64 // s = max(1.4826 MAD, s_floor)
}

// Track is one monitored direction at the end of a day.
type Track struct {
	Dir   Direction
	State State
	Z, U  float64 // standardised deviation and its capped directional value (0 without a value)
	S     float64 // CUSUM, SD-days
	EWMA  float64 // display trend in SD units
	Watch bool    // EWMA ≥ 1
	Since Day     // first day of the current run with S > 0 (valid when S > 0)
	Days  int     // consecutive days with S > 0, ending today
}

// DayResult is the closed day of one parameter.
type DayResult struct {
	Param    Param
	Day      Day
	HasValue bool
	X        float64 // the daily value x_t
	Readings int     // readings behind x_t
	Baseline Baseline
	Tracks   [2]Track // Tracks[:NTracks] are the monitored directions, Up first
	NTracks  int
	K, H     float64 // settings in force
}

// Code returns the alert code of a direction, e.g. PBM_HR_REST_UP.
func (r *DayResult) Code(tr *Track) string {
	return "PBM_" + strings.ToUpper(string(r.Param)) + "_" + tr.Dir.String()
}

// Explain returns the sentence required in every PBM alert (rpm.md §6.2).
func (r *DayResult) Explain(tr *Track) string {
	side := "above"
	if tr.Dir == Down {
		side = "below"
	}
	return fmt.Sprintf("%s has been %s this patient's usual level for %d days: recent value %s vs usual %s "+
		"(typical day-to-day variation %s); cumulative excess %s SD-days (alert at %s).",
		names[r.Param], side, tr.Days, num(r.X), num(r.Baseline.Median), num(r.Baseline.Scale), num(tr.S), num(r.H))
}

func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// AckChoice is the clinician's choice on acknowledging a PBM alert (rpm.md §6.2 step 6).
type AckChoice uint8

// Acknowledgement choices.
const (
	KeepBaseline AckChoice = iota // S ← 0; days with S > 0 stay out of the baseline
	NewNormal                     // S ← 0 and the parameter re-learns from the next day
)

type dayRec struct {
	day       Day
	x         float64
	inControl bool
}

type track struct {
	dir    Direction
	s, e   float64
	ready  bool // EWMA started
	open   bool // alert raised and not acknowledged
	since  Day
	active bool // S > 0
}

// Monitor is the PBM of one patient and parameter.
type Monitor struct {
	param Param
	cfg   Config

	hist    [Lookback + 4]dayRec // ring of the most recent days with a value
	histLen int
	histEnd int // index after the newest

	open     bool
	openDay  Day
	vals     []float64
	first    float64
	firstAt  time.Time
	lastDay  Day // last closed day with a value
	hasLast  bool
	learnMin Day // days before this never count (NEW_NORMAL)

	tracks  [2]track
	nTracks int
	buf     [28]float64
	dev     [28]float64
}

// New returns a monitor for p with cfg (see Defaults).
func New(p Param, cfg Config) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("baseline config for %s: %w", p, err)
	}
	if _, ok := names[p]; !ok {
		return nil, fmt.Errorf("baseline: unknown parameter %q", p)
	}
	m := &Monitor{param: p, cfg: cfg, learnMin: math.MinInt32}
	if cfg.Up {
		m.tracks[m.nTracks] = track{dir: Up}
		m.nTracks++
	}
	if cfg.Down {
		m.tracks[m.nTracks] = track{dir: Down}
		m.nTracks++
	}
	return m, nil
}

// Add records a valid reading of the parameter measured at at on programme-local day day.
// A reading for a later day than the open one first closes the open day; that day's result is
// returned with closed = true. A reading for a day already closed is ignored (late = true):
// PBM works on whole days.
func (m *Monitor) Add(at time.Time, day Day, v float64) (res DayResult, closed, late bool) {
	if m.open && day < m.openDay || !m.open && m.hasLast && day <= m.lastDay {
		return res, false, true
	}
	if m.open && day > m.openDay {
		res, closed = m.CloseDay()
	}
	if !m.open {
		m.open, m.openDay, m.vals = true, day, m.vals[:0]
		m.first, m.firstAt = v, at
	}
	m.vals = append(m.vals, v)
	if at.Before(m.firstAt) {
		m.first, m.firstAt = v, at
	}
	return res, closed, false
}

// CloseDay ends the open day (call it at the end of the programme-local day, or let the next
// day's first reading do it) and evaluates it. ok is false when no day is open.
func (m *Monitor) CloseDay() (res DayResult, ok bool) {
	if !m.open {
		return res, false
	}
	m.open = false
	x := m.first
	if !m.cfg.Earliest {
		x = median(m.vals)
	}
	return m.evaluate(m.openDay, x, len(m.vals)), true
}

func (m *Monitor) evaluate(t Day, x float64, n int) DayResult {
	res := DayResult{Param: m.param, Day: t, HasValue: true, X: x, Readings: n, K: m.cfg.K, H: m.cfg.H, NTracks: m.nTracks}
	// 7 consecutive days without a value reset S.
	if m.hasLast && int(t-m.lastDay)-1 >= ResetGap {
		for i := range m.tracks[:m.nTracks] {
			m.tracks[i].s, m.tracks[i].active = 0, false
		}
	}
	b, ready := m.baseline(t)
	res.Baseline = b
	inControl := true
	for i := range m.tracks[:m.nTracks] {
		tr := &m.tracks[i]
		out := Track{Dir: tr.dir}
		if !ready {
			out.State = Learning
			out.S = tr.s
			res.Tracks[i] = out
			continue
		}
		z := (x - b.Median) / b.Scale
		u := math.Min(float64(tr.dir)*z, Cap)
		tr.s = math.Max(0, tr.s+u-m.cfg.K)
		if !tr.ready {
			tr.e, tr.ready = 0, true
		}
		tr.e = EWMAAlpha*u + (1-EWMAAlpha)*tr.e
		if tr.s > 0 && !tr.active {
			tr.since = t
		}
		tr.active = tr.s > 0
		out.Z, out.U, out.S, out.EWMA = z, u, tr.s, tr.e
		out.Watch = tr.e >= WatchAt
		switch {
		case tr.open:
			out.State = AlertOpen
		case tr.s >= m.cfg.H:
			tr.open = true
			out.State = Alerting
		case tr.s > 0:
			out.State = Accumulating
		default:
			out.State = InControl
		}
		if tr.active {
			out.Since, out.Days = tr.since, int(t-tr.since)+1
			inControl = false
		}
		res.Tracks[i] = out
	}
	m.push(dayRec{day: t, x: x, inControl: inControl})
	m.lastDay, m.hasLast = t, true
	return res
}

// baseline computes m and s for day t from the eligible days: t−Lookback ≤ day ≤ t−3, in
// control, not before a NEW_NORMAL restart; the most recent W of them.
func (m *Monitor) baseline(t Day) (Baseline, bool) {
	var b Baseline
	n := 0
	for i := 0; i < m.histLen && n < m.cfg.W; i++ {
		r := &m.hist[(m.histEnd-1-i+len(m.hist))%len(m.hist)]
		if r.day < t-Lookback || r.day < m.learnMin {
			break
		}
		if r.day > t-Guard-1 || !r.inControl {
			continue
		}
		if n == 0 {
			b.To = r.day
		}
		b.From = r.day
		m.buf[n] = r.x
		n++
	}
	b.N = n
	if n < m.cfg.Min {
		return b, false
	}
	b.Median = median(m.buf[:n])
	for i, v := range m.buf[:n] {
		m.dev[i] = math.Abs(v - b.Median)
	}
	b.MAD = median(m.dev[:n])
	b.Scale = math.Max(madScale*b.MAD, m.cfg.Floor)
	return b, true
}

func (m *Monitor) push(r dayRec) {
	m.hist[m.histEnd] = r
	m.histEnd = (m.histEnd + 1) % len(m.hist)
	if m.histLen < len(m.hist) {
		m.histLen++
	}
}

// Acknowledge applies the clinician's choice for direction dir on day (rpm.md §6.2 step 6).
// It reports false when no alert is open in that direction.
func (m *Monitor) Acknowledge(dir Direction, choice AckChoice, day Day) bool {
	for i := range m.tracks[:m.nTracks] {
		tr := &m.tracks[i]
		if tr.dir != dir || !tr.open {
			continue
		}
		tr.open, tr.s, tr.active = false, 0, false
		if choice == NewNormal {
			m.learnMin = day + 1
			for j := range m.tracks[:m.nTracks] {
				m.tracks[j].s, m.tracks[j].active, m.tracks[j].ready, m.tracks[j].e = 0, false, false, 0
			}
		}
		return true
	}
	return false
}

// median returns the median of xs (mean of the two middle values for an even count); it
// reorders xs. Expected O(n), deterministic, no allocation.
func median(xs []float64) float64 { return quantile.Median(xs) }
