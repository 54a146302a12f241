package baseline

import (
	"math"
	"testing"
	"time"
)

const day0 = Day(20454) // 2026-01-01

func mustNew(t testing.TB, p Param) *Monitor {
	t.Helper()
	cfg, ok := Defaults(p)
	if !ok {
		t.Fatalf("no defaults for %s", p)
	}
	m, err := New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// feed adds one daily value on day day0+i and closes the day.
func feed(t testing.TB, m *Monitor, i int, x float64) DayResult {
	t.Helper()
	d := day0 + Day(i)
	if _, _, late := m.Add(time.Unix(int64(d)*86400+8*3600, 0), d, x); late {
		t.Fatalf("day %d rejected as late", i)
	}
	r, ok := m.CloseDay()
	if !ok {
		t.Fatalf("day %d: nothing to close", i)
	}
	return r
}

type row struct {
	day              int
	x, m, s, z, S, e float64
	state            State
	watch            bool
}

// Tables print 4 decimals; compare within half a unit of the last printed digit.
const tol = 5e-5

func checkRows(t *testing.T, p Param, xs []float64, rows []row) []DayResult {
	t.Helper()
	m := mustNew(t, p)
	var out []DayResult
	for i, x := range xs {
		r := feed(t, m, i+1, x)
		out = append(out, r)
		if i+1 < rows[0].day && r.Tracks[0].State != Learning {
			t.Errorf("day %d: state %v, want LEARNING", i+1, r.Tracks[0].State)
		}
	}
	for _, w := range rows {
		r := out[w.day-1]
		tr := r.Tracks[0]
		if r.X != w.x || math.Abs(r.Baseline.Median-w.m) > tol || math.Abs(r.Baseline.Scale-w.s) > tol ||
			math.Abs(tr.Z-w.z) > tol || math.Abs(tr.S-w.S) > tol || math.Abs(tr.EWMA-w.e) > tol ||
			tr.State != w.state || tr.Watch != w.watch {
			t.Errorf("day %d: x %v m %.4f s %.4f z %.4f S %.4f EWMA %.4f %v watch %v; want %v %.4f %.4f %.4f %.4f %.4f %v %v",
				w.day, r.X, r.Baseline.Median, r.Baseline.Scale, tr.Z, tr.S, tr.EWMA, tr.State, tr.Watch,
				w.x, w.m, w.s, w.z, w.S, w.e, w.state, w.watch)
		}
	}
	return out
}

// rpm.md §6.4, verbatim.
func TestWorkedExampleRestingHR(t *testing.T) {
	xs := []float64{72, 70, 71, 73, 69, 72, 74, 70, 71, 72, 73, 71, 70, 72, 73, 72, 75, 77, 78, 76, 79, 80, 74, 72}
	rows := []row{
		{10, 72, 72.0, 3.0, 0.0000, 0.0000, 0.0000, InControl, false},
		{11, 73, 71.5, 3.0, 0.5000, 0.0000, 0.1500, InControl, false},
		{12, 71, 71.0, 3.0, 0.0000, 0.0000, 0.1050, InControl, false},
		{13, 70, 71.5, 3.0, -0.5000, 0.0000, -0.0765, InControl, false},
		{14, 72, 72.0, 3.0, 0.0000, 0.0000, -0.0535, InControl, false},
		{15, 73, 71.5, 3.0, 0.5000, 0.0000, 0.1125, InControl, false},
		{16, 72, 71.0, 3.0, 0.3333, 0.0000, 0.1788, InControl, false},
		{17, 75, 71.5, 3.0, 1.1667, 0.6667, 0.4751, Accumulating, false},
		{18, 77, 71.5, 3.0, 1.8333, 2.0000, 0.8826, Accumulating, false},
		{19, 78, 72.0, 3.0, 2.0000, 3.5000, 1.2178, Accumulating, true},
		{20, 76, 72.0, 3.0, 1.3333, 4.3333, 1.2525, Accumulating, true},
		{21, 79, 72.0, 3.0, 2.3333, 6.1667, 1.5767, Alerting, true},
		{22, 80, 72.0, 3.0, 2.6667, 8.3333, 1.9037, AlertOpen, true},
		{23, 74, 72.0, 3.0, 0.6667, 8.5000, 1.5326, AlertOpen, true},
		{24, 72, 72.0, 3.0, 0.0000, 8.0000, 1.0728, AlertOpen, true},
	}
	out := checkRows(t, RestingHR, xs, rows)
	d21 := out[20]
	if d21.Baseline.From != day0+3 || d21.Baseline.To != day0+16 || d21.Baseline.N != 14 {
		t.Errorf("day 21 baseline days %v–%v (n %d), want days 3–16", d21.Baseline.From-day0, d21.Baseline.To-day0, d21.Baseline.N)
	}
	const want = "Resting heart rate has been above this patient's usual level for 5 days: recent value 79 vs usual 72 " +
		"(typical day-to-day variation 3); cumulative excess 6.17 SD-days (alert at 5)."
	if got := d21.Explain(&d21.Tracks[0]); got != want {
		t.Errorf("Explain =\n%s\nwant\n%s", got, want)
	}
	if got := d21.Code(&d21.Tracks[0]); got != "PBM_HR_REST_UP" {
		t.Errorf("Code = %s", got)
	}
	if d21.Tracks[0].Since != day0+17 {
		t.Errorf("since day %d, want 17", d21.Tracks[0].Since-day0)
	}
}

// rpm.md §6.5, verbatim.
func TestWorkedExampleWeight(t *testing.T) {
	xs := []float64{80.2, 80.0, 80.4, 79.9, 80.1, 80.3, 80.0, 80.2, 79.8, 80.1, 80.0, 80.3, 80.1, 79.9, 80.2, 80.1,
		80.6, 81.0, 81.3, 81.9, 82.2, 82.6}
	rows := []row{
		{10, 80.1, 80.10, 0.5, 0.0000, 0.0000, 0.0000, InControl, false},
		{11, 80.0, 80.15, 0.5, -0.3000, 0.0000, -0.0900, InControl, false},
		{12, 80.3, 80.10, 0.5, 0.4000, 0.0000, 0.0570, InControl, false},
		{13, 80.1, 80.10, 0.5, 0.0000, 0.0000, 0.0399, InControl, false},
		{14, 79.9, 80.10, 0.5, -0.4000, 0.0000, -0.0921, InControl, false},
		{15, 80.2, 80.10, 0.5, 0.2000, 0.0000, -0.0044, InControl, false},
		{16, 80.1, 80.10, 0.5, 0.0000, 0.0000, -0.0031, InControl, false},
		{17, 80.6, 80.10, 0.5, 1.0000, 0.5000, 0.2978, Accumulating, false},
		{18, 81.0, 80.10, 0.5, 1.8000, 1.8000, 0.7485, Accumulating, false},
		{19, 81.3, 80.10, 0.5, 2.4000, 3.7000, 1.2439, Accumulating, true},
		{20, 81.9, 80.10, 0.5, 3.6000, 6.8000, 1.9508, Alerting, true},
		{21, 82.2, 80.10, 0.5, 4.2000, 10.3000, 2.5655, AlertOpen, true},
		{22, 82.6, 80.10, 0.5, 5.0000, 13.8000, 2.9959, AlertOpen, true},
	}
	out := checkRows(t, Weight, xs, rows)
	if u := out[21].Tracks[0].U; u != 4 {
		t.Errorf("day 22 u = %v, want capped at 4", u)
	}
}

// Weight's daily value is the earliest reading of the day; others use the median.
func TestDailyValue(t *testing.T) {
	w := mustNew(t, Weight)
	d := day0
	base := time.Unix(int64(d)*86400, 0)
	w.Add(base.Add(9*time.Hour), d, 81)
	w.Add(base.Add(7*time.Hour), d, 80) // earlier, arrives later
	w.Add(base.Add(20*time.Hour), d, 82)
	if r, _ := w.CloseDay(); r.X != 80 || r.Readings != 3 {
		t.Errorf("weight daily value %v from %d readings, want 80 from 3", r.X, r.Readings)
	}
	h := mustNew(t, RestingHR)
	for i, v := range []float64{70, 90, 60, 80} {
		h.Add(base.Add(time.Duration(i)*time.Hour), d, v)
	}
	if r, _ := h.CloseDay(); r.X != 75 {
		t.Errorf("HR daily value %v, want median 75", r.X)
	}
	if _, _, late := h.Add(base, d, 70); !late {
		t.Error("reading for a closed day accepted")
	}
}

// rpm.md §6.3: S sequences with the baseline fixed at m, s (70 and the floor 3).
func TestCUSUMProperties(t *testing.T) {
	tests := []struct {
		name  string
		u     []float64
		S     []float64
		alert int // 1-based day, 0 never
	}{
		{"constant 0", []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0},
		{"single spike", []float64{100, 0, 0, 0, 0, 0, 0, 0, 0}, []float64{3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0, 0}, 0},
		{"step 1 SD", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, []float64{0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5}, 10},
		{"step 2 SD", []float64{2, 2, 2, 2}, []float64{1.5, 3, 4.5, 6}, 4},
		{"step 3 SD", []float64{3, 3}, []float64{2.5, 5}, 2},
		{"step 5 SD", []float64{5, 5}, []float64{3.5, 7}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustNew(t, RestingHR)
			for i := 1; i <= 20; i++ {
				feed(t, m, i, 70)
			}
			alert := 0
			for i, u := range tt.u {
				r := feed(t, m, 21+i, 70+3*u)
				if r.Baseline.Median != 70 || r.Baseline.Scale != 3 {
					t.Fatalf("baseline moved: %+v", r.Baseline)
				}
				if r.Tracks[0].S != tt.S[i] {
					t.Errorf("day %d: S = %v, want %v", i+1, r.Tracks[0].S, tt.S[i])
				}
				if r.Tracks[0].State == Alerting && alert == 0 {
					alert = i + 1
				}
			}
			if alert != tt.alert {
				t.Errorf("alert on day %d, want %d", alert, tt.alert)
			}
		})
	}
}

func TestGapResetAndAcknowledge(t *testing.T) {
	m := mustNew(t, RestingHR)
	for i := 1; i <= 20; i++ {
		feed(t, m, i, 70)
	}
	if r := feed(t, m, 21, 79); r.Tracks[0].S != 2.5 {
		t.Fatalf("S = %v, want 2.5", r.Tracks[0].S)
	}
	// Six empty days leave S unchanged; seven reset it.
	if r := feed(t, m, 28, 70); r.Tracks[0].S != 2.0 {
		t.Errorf("after 6 empty days S = %v, want 2.5 − 0.5", r.Tracks[0].S)
	}
	if r := feed(t, m, 36, 70); r.Tracks[0].S != 0 {
		t.Errorf("after 7 empty days S = %v, want reset to 0", r.Tracks[0].S)
	}
	for i := 37; i <= 38; i++ {
		feed(t, m, i, 85) // 5 SD: 3.5, 7.0 → alert
	}
	if m.Acknowledge(Down, KeepBaseline, day0+38) {
		t.Error("acknowledged a direction that is not monitored")
	}
	if !m.Acknowledge(Up, KeepBaseline, day0+38) {
		t.Fatal("no open alert to acknowledge")
	}
	if r := feed(t, m, 39, 70); r.Tracks[0].S != 0 || r.Tracks[0].State != InControl || r.Baseline.Median != 70 {
		t.Errorf("after KEEP_BASELINE: %+v baseline %+v", r.Tracks[0], r.Baseline)
	}
	for i := 40; i <= 41; i++ {
		feed(t, m, i, 85)
	}
	m.Acknowledge(Up, NewNormal, day0+41)
	if r := feed(t, m, 42, 85); r.Tracks[0].State != Learning {
		t.Errorf("after NEW_NORMAL: state %v, want LEARNING", r.Tracks[0].State)
	}
}

func TestSBPBothDirections(t *testing.T) {
	m := mustNew(t, SBP)
	for i := 1; i <= 20; i++ {
		feed(t, m, i, 120)
	}
	r := feed(t, m, 21, 100) // 4 SD below (floor 5)
	if r.NTracks != 2 || r.Tracks[0].Dir != Up || r.Tracks[1].Dir != Down || r.Tracks[0].S != 0 || r.Tracks[1].S != 3.5 {
		t.Errorf("tracks %+v", r.Tracks)
	}
	if got := r.Explain(&r.Tracks[1]); got[:55] != "Systolic blood pressure has been below this patient's u" {
		t.Errorf("Explain = %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	c, _ := Defaults(Weight)
	c.K, c.H, c.W, c.Min = 0.1, 9, 30, 4
	if _, err := New(Weight, c); err == nil {
		t.Error("out-of-bounds config accepted")
	}
}

func TestDayOf(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata")
	}
	d := DayOf(time.Date(2026, 1, 6, 3, 30, 0, 0, time.UTC), ny)
	if d.String() != "2026-01-05" {
		t.Errorf("DayOf = %s, want 2026-01-05", d)
	}
}
