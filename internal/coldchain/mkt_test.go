package coldchain

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const tol = 0.005 // °C, spec: absolute tolerance of the worked examples

var t0 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

func near(got, want, eps float64) bool { return math.Abs(got-want) <= eps }

// series returns samples every step from t0 with the given temperatures.
func series(start time.Time, step time.Duration, temps ...float64) []Sample {
	s := make([]Sample, len(temps))
	for i, c := range temps {
		s[i] = Sample{At: start.Add(time.Duration(i) * step), Celsius: c}
	}
	return s
}

func repeat(c float64, n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		r[i] = c
	}
	return r
}

func mustWindow(t *testing.T, s []Sample, from, to time.Time, opt WindowOptions) WindowResult {
	t.Helper()
	r, err := WindowMKT(s, from, to, opt)
	if err != nil {
		t.Fatalf("WindowMKT(%v, %v) error: %v", from, to, err)
	}
	return r
}

func TestMKTWeightedExamples(t *testing.T) {
	day := 1.0
	tests := []struct {
		name string
		pts  []Weighted
		want float64
	}{
		{"M1 constant", func() []Weighted {
			p := make([]Weighted, 100)
			for i := range p {
				p[i] = Weighted{5.0, 1}
			}
			return p
		}(), 5.0},
		{"M2 two levels", []Weighted{{20, 12}, {30, 12}}, 26.2598869},
		{"M7 22+40", []Weighted{{22, 29 * day}, {40, day}}, 23.60},
		{"M7 24+40", []Weighted{{24, 29 * day}, {40, day}}, 25.26},
		{"M7 24+30", []Weighted{{24, 29 * day}, {30, day}}, 24.2745},
		{"M7 25+15", []Weighted{{25, 20 * day}, {15, 10 * day}}, 22.70},
		{"M8 ULT", []Weighted{{-80, 23}, {-60, 1}}, -72.8657},
	}
	for _, tt := range tests {
		got, err := MKT(tt.pts, 0)
		if err != nil || !near(got, tt.want, tol) {
			t.Errorf("%s: MKT = %.6f, %v; want %.4f", tt.name, got, err, tt.want)
		}
	}
	// M1 exactly, M2 with 24 hourly readings equals two 12-h weights.
	p := make([]Weighted, 100)
	for i := range p {
		p[i] = Weighted{5.0, 1}
	}
	if got, _ := MKT(p, 0); math.Abs(got-5.0) > 1e-9 {
		t.Errorf("M1: MKT = %.12f, want 5 within 1e-9", got)
	}
	hourly := make([]Weighted, 24)
	for i := range hourly {
		hourly[i] = Weighted{20, 1}
		if i >= 12 {
			hourly[i].Celsius = 30
		}
	}
	if got, _ := MKT(hourly, 0); !near(got, 26.2598869, 1e-6) {
		t.Errorf("M2 hourly: MKT = %.7f, want 26.2598869", got)
	}
}

func TestMKTValidation(t *testing.T) {
	tests := []struct {
		name string
		pts  []Weighted
		dH   float64
	}{
		{"empty", nil, 0},
		{"NaN", []Weighted{{math.NaN(), 1}}, 0},
		{"+Inf", []Weighted{{math.Inf(1), 1}}, 0},
		{"-Inf", []Weighted{{math.Inf(-1), 1}}, 0},
		{"absolute zero", []Weighted{{-273.15, 1}}, 0},
		{"below absolute zero", []Weighted{{-300, 1}}, 0},
		{"negative weight", []Weighted{{5, -1}}, 0},
		{"zero weights", []Weighted{{5, 0}}, 0},
		{"negative ΔH", []Weighted{{5, 1}}, -1},
	}
	for _, tt := range tests {
		if got, err := MKT(tt.pts, tt.dH); err == nil {
			t.Errorf("%s: MKT = %v, nil error; want an error", tt.name, got)
		}
	}
	if _, err := MKT(nil, 0); !errors.Is(err, ErrNoData) {
		t.Errorf("MKT(nil) error = %v, want ErrNoData", err)
	}
	if got, err := MKT([]Weighted{{-272, 1}}, 0); err != nil || !near(got, -272, 1e-9) {
		t.Errorf("single reading -272: MKT = %v, %v; want -272", got, err)
	}
}

func TestMKTActivationEnergyConfigurable(t *testing.T) {
	pts := []Weighted{{20, 12}, {30, 12}}
	lo, _ := MKT(pts, 60000)
	def, _ := MKT(pts, 0)
	hi, _ := MKT(pts, 120000)
	if !(25 < lo && lo < def && def < hi) {
		t.Errorf("MKT with ΔH 60, 83.144, 120 kJ/mol = %.4f, %.4f, %.4f; want rising above the mean 25", lo, def, hi)
	}
	a, _ := NewAccumulator(60000)
	if got := a.ActivationEnergy(); !near(got, 60000, 1e-9) {
		t.Errorf("ActivationEnergy() = %v, want 60000", got)
	}
}

// m3 builds the 30-day fridge month of example M3.
func m3(withExcursion bool) []Sample {
	s := make([]Sample, 2880)
	for i := range s {
		c := 5.0 + 1.5*math.Sin(2*math.Pi*float64(i)/96)
		if withExcursion && i >= 1500 && i <= 1511 {
			c = 12.0
		}
		s[i] = Sample{At: t0.Add(time.Duration(i) * 15 * time.Minute), Celsius: c}
	}
	return s
}

func TestWindowMKTExampleM3(t *testing.T) {
	opt := WindowOptions{Timing: Timing{Nominal: 15 * time.Minute}}
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	s := m3(true)
	month := mustWindow(t, s, h(0), h(720), opt)
	if !near(month.Celsius, 5.1187, tol) || month.Status != StatusOK || month.Coverage != 1 {
		t.Errorf("M3 month: MKT = %.4f %v coverage %v; want 5.12 OK 1", month.Celsius, month.Status, month.Coverage)
	}
	if r := mustWindow(t, m3(false), h(0), h(720), opt); !near(r.Celsius, 5.0685, tol) {
		t.Errorf("M3 month without excursion: MKT = %.4f, want 5.07", r.Celsius)
	}
	x, err := EvaluateExcursionMKT(s, h(375), h(378), 24*time.Hour, h(720), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !near(x.EndAnchored.Celsius, 6.4559, tol) || !near(x.StartAnchored.Celsius, 6.4559, tol) || x.Provisional {
		t.Errorf("M3 CCT windows: end %.4f start %.4f provisional %v; want 6.46, 6.46, false",
			x.EndAnchored.Celsius, x.StartAnchored.Celsius, x.Provisional)
	}
	if x.Celsius > 8 {
		t.Errorf("M3 CCT MKT %.4f > 8: criterion should be met", x.Celsius)
	}
	// Time and degree-minutes above 8 °C of the excursion come from the detector.
	d := mustDetector(t, DetectorConfig{Direction: High, Limit: 8, Hysteresis: 0.3, Timing: opt.Timing})
	ex := feedAll(d, s)
	if len(ex) != 1 {
		t.Fatalf("M3: %d excursions, want 1", len(ex))
	}
	e := ex[0]
	if !e.Start.Equal(h(375)) || !e.End.Equal(h(378)) || e.OutOfRange != 180*time.Minute || !near(e.DegreeMinutes, 720, 1e-9) || e.Peak != 12 {
		t.Errorf("M3 excursion = %+v; want 375 h–378 h, 180 min, 720 °C·min, peak 12", e)
	}
}

func TestWindowMKTExampleM4(t *testing.T) {
	temps := repeat(5.0, 60)
	for _, i := range []int{24, 25, 26} {
		temps[i] = 14
	}
	for i := 36; i <= 41; i++ {
		temps[i] = 10
	}
	s := series(t0, time.Hour, temps...)
	opt := WindowOptions{Timing: Timing{Nominal: time.Hour}}
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	tests := []struct {
		name     string
		from, to int
		want     float64
	}{
		{"ex1 end-anchored", 3, 27, 6.8042},
		{"ex1 start-anchored", 24, 48, 8.0795},
		{"ex2 end-anchored", 18, 42, 8.0795},
		{"ex2 start-anchored", 36, 60, 6.5578},
		{"all 60 h", 0, 60, 6.3718},
	}
	for _, tt := range tests {
		if r := mustWindow(t, s, h(tt.from), h(tt.to), opt); !near(r.Celsius, tt.want, tol) || r.Status != StatusOK {
			t.Errorf("M4 %s: MKT = %.4f %v, want %.4f OK", tt.name, r.Celsius, r.Status, tt.want)
		}
	}
	x, err := EvaluateExcursionMKT(s, h(24), h(27), 24*time.Hour, h(60), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !near(x.Celsius, 8.0795, tol) || x.Celsius <= 8 {
		t.Errorf("M4 excursion 1 reported MKT = %.4f, want 8.08 (> 8, criterion not met)", x.Celsius)
	}
	if x, _ := EvaluateExcursionMKT(s, h(36), h(42), 24*time.Hour, h(50), opt); !x.Provisional {
		t.Errorf("M4 excursion 2 evaluated at 50 h: not provisional, want provisional (window ends 60 h)")
	}
}

func TestWindowMKTExampleM5(t *testing.T) {
	mins := []int{0, 10, 25, 27, 60, 120}
	temps := []float64{5.0, 5.4, 9.0, 12.0, 7.5, 5.0}
	s := make([]Sample, len(mins))
	for i := range s {
		s[i] = Sample{At: t0.Add(time.Duration(mins[i]) * time.Minute), Celsius: temps[i]}
	}
	opt := WindowOptions{Timing: Timing{Nominal: 60 * time.Minute}}
	r := mustWindow(t, s, t0, t0.Add(180*time.Minute), opt)
	if !near(r.Celsius, 7.6133, tol) || r.Coverage != 1 {
		t.Errorf("M5: MKT = %.4f coverage %v, want 7.61 and 1", r.Celsius, r.Coverage)
	}
	if near(r.Celsius, 7.7325, tol) {
		t.Errorf("M5: MKT = %.4f equals the unweighted answer 7.73", r.Celsius)
	}
	unweighted := make([]Weighted, len(temps))
	for i, c := range temps {
		unweighted[i] = Weighted{c, 1}
	}
	if got, _ := MKT(unweighted, 0); !near(got, 7.7325, tol) {
		t.Errorf("M5 unweighted MKT = %.4f, want 7.73", got)
	}
	if r := mustWindow(t, s, t0, t0.Add(120*time.Minute), opt); !near(r.Celsius, 8.67, tol) {
		t.Errorf("M5 over [0,120): MKT = %.4f, want 8.67", r.Celsius)
	}
	// Shuffled input gives the same result (sorting is part of the rule).
	sh := []Sample{s[3], s[0], s[5], s[1], s[4], s[2]}
	if r2 := mustWindow(t, sh, t0, t0.Add(180*time.Minute), opt); r2.Celsius != r.Celsius {
		t.Errorf("M5 shuffled: MKT = %.6f, want %.6f", r2.Celsius, r.Celsius)
	}
}

func m6(at0200 float64) []Sample {
	s := series(t0, 5*time.Minute, repeat(5.0, 25)...)
	s[24].Celsius = at0200
	return append(s, series(t0.Add(8*time.Hour), 5*time.Minute, repeat(7.0, 25)...)...)
}

func TestWindowMKTExampleM6Gap(t *testing.T) {
	opt := WindowOptions{Timing: Timing{Nominal: 5 * time.Minute}}
	to := t0.Add(605 * time.Minute)
	r := mustWindow(t, m6(5.0), t0, to, opt)
	if r.Covered != 250*time.Minute || !near(r.Coverage, 0.413, 0.0005) || r.Status != StatusInsufficientCoverage {
		t.Errorf("M6: covered %v coverage %.4f %v; want 250m 0.413 INSUFFICIENT_COVERAGE", r.Covered, r.Coverage, r.Status)
	}
	if !near(r.Celsius, 6.0604, tol) || near(r.Celsius, 5.4549, tol) {
		t.Errorf("M6: MKT = %.4f, want 6.06 (5.45 would mean the gap was filled)", r.Celsius)
	}
	if r := mustWindow(t, m6(9.0), t0, to, opt); !near(r.Celsius, 6.1503, tol) {
		t.Errorf("M6b: MKT = %.4f, want 6.15", r.Celsius)
	}
	// With a generous maxGap the same data is held across: the wrong answer, by configuration.
	held := mustWindow(t, m6(5.0), t0, to, WindowOptions{Timing: Timing{Nominal: 5 * time.Minute, MaxGap: 7 * time.Hour}})
	if !near(held.Celsius, 5.4549, tol) {
		t.Errorf("M6 held across the gap: MKT = %.4f, want 5.45", held.Celsius)
	}
}

func TestWindowMKTEdges(t *testing.T) {
	opt := WindowOptions{Timing: Timing{Nominal: 10 * time.Minute}}
	// A window starting between two readings is covered by the earlier one.
	s := series(t0, 10*time.Minute, 4, 6, 8)
	r := mustWindow(t, s, t0.Add(5*time.Minute), t0.Add(15*time.Minute), opt)
	want, _ := MKT([]Weighted{{4, 5}, {6, 5}}, 0)
	if !near(r.Celsius, want, 1e-12) || r.Coverage != 1 {
		t.Errorf("window inside steps: MKT = %v coverage %v, want %v 1", r.Celsius, r.Coverage, want)
	}
	// Invalid readings are gaps.
	s[1].Invalid = true
	r = mustWindow(t, s, t0, t0.Add(30*time.Minute), opt)
	want, _ = MKT([]Weighted{{4, 1}, {8, 1}}, 0)
	if !near(r.Celsius, want, 1e-12) || !near(r.Coverage, 2.0/3, 1e-12) {
		t.Errorf("invalid middle reading: MKT = %v coverage %v, want %v 2/3", r.Celsius, r.Coverage, want)
	}
	// No data, exact duplicates, conflicting values at one instant.
	if r := mustWindow(t, nil, t0, t0.Add(time.Hour), opt); r.Status != StatusNoData {
		t.Errorf("no samples: status %v, want NO_DATA", r.Status)
	}
	dup := []Sample{{At: t0, Celsius: 4}, {At: t0, Celsius: 4}, {At: t0.Add(10 * time.Minute), Celsius: 6}}
	r = mustWindow(t, dup, t0, t0.Add(20*time.Minute), opt)
	want, _ = MKT([]Weighted{{4, 1}, {6, 1}}, 0)
	if !near(r.Celsius, want, 1e-12) || r.SameTimeConflicts != 0 {
		t.Errorf("exact duplicate: MKT = %v conflicts %d, want %v 0", r.Celsius, r.SameTimeConflicts, want)
	}
	conf := []Sample{{At: t0, Celsius: 4}, {At: t0, Celsius: 8}, {At: t0.Add(10 * time.Minute), Celsius: 6}}
	r = mustWindow(t, conf, t0, t0.Add(20*time.Minute), opt)
	want, _ = MKT([]Weighted{{4, 1}, {8, 1}, {6, 2}}, 0)
	if !near(r.Celsius, want, 1e-9) || r.SameTimeConflicts != 1 {
		t.Errorf("two values at one instant: MKT = %v conflicts %d, want %v 1", r.Celsius, r.SameTimeConflicts, want)
	}
	for _, bad := range []WindowOptions{{}, {Timing: Timing{Nominal: time.Minute, MaxGap: -1}}, {Timing: Timing{Nominal: time.Minute}, ActivationEnergy: -5}} {
		if _, err := WindowMKT(s, t0, t0.Add(time.Hour), bad); err == nil {
			t.Errorf("WindowMKT with options %+v: nil error, want one", bad)
		}
	}
	if _, err := WindowMKT(s, t0, t0, opt); err == nil {
		t.Errorf("WindowMKT over an empty window: nil error, want one")
	}
	nan := series(t0, 10*time.Minute, 4, math.NaN())
	if _, err := WindowMKT(nan, t0, t0.Add(time.Hour), opt); err == nil {
		t.Errorf("WindowMKT with a NaN reading: nil error, want one")
	}
}

func TestMKTProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + rng.IntN(30)
		pts := make([]Weighted, n)
		var sw, swc float64
		for i := range pts {
			pts[i] = Weighted{Celsius: -90 + 130*rng.Float64(), Weight: 0.1 + 10*rng.Float64()}
			sw += pts[i].Weight
			swc += pts[i].Weight * pts[i].Celsius
		}
		m, err := MKT(pts, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m < swc/sw-1e-9 {
			t.Fatalf("trial %d: MKT %v < weighted mean %v", trial, m, swc/sw)
		}
		// Order invariance.
		perm := make([]Weighted, n)
		for i, j := range rng.Perm(n) {
			perm[i] = pts[j]
		}
		if p, _ := MKT(perm, 0); !near(p, m, 1e-9) {
			t.Fatalf("trial %d: permuted MKT %v != %v", trial, p, m)
		}
		// Splitting one reading's interval into two equal halves.
		k := rng.IntN(n)
		split := append(append([]Weighted{}, pts...), Weighted{pts[k].Celsius, pts[k].Weight / 2})
		split[k].Weight /= 2
		if p, _ := MKT(split, 0); !near(p, m, 1e-9) {
			t.Fatalf("trial %d: split MKT %v != %v", trial, p, m)
		}
		// Monotone in any single reading.
		up := append([]Weighted{}, pts...)
		up[k].Celsius += 0.5
		if p, _ := MKT(up, 0); p <= m {
			t.Fatalf("trial %d: raising reading %d gave MKT %v <= %v", trial, k, p, m)
		}
		// Merge of two halves equals the whole.
		var a, b Accumulator
		for i, p := range pts {
			acc := &a
			if i%2 == 1 {
				acc = &b
			}
			if err := acc.Add(p.Celsius, p.Weight); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Merge(&b); err != nil {
			t.Fatal(err)
		}
		if p, _ := a.MKT(); !near(p, m, 1e-9) {
			t.Fatalf("trial %d: merged MKT %v != %v", trial, p, m)
		}
	}
	var a Accumulator
	b, _ := NewAccumulator(60000)
	_ = b.Add(5, 1)
	if err := a.Merge(b); err == nil {
		t.Errorf("merging accumulators with different ΔH: nil error, want one")
	}
}

// yearOfMinutes is a year of 1-minute fridge readings.
func yearOfMinutes() []Sample {
	const n = 525600
	s := make([]Sample, n)
	for i := range s {
		s[i] = Sample{At: t0.Add(time.Duration(i) * time.Minute), Celsius: 5 + 1.5*math.Sin(2*math.Pi*float64(i)/1440)}
	}
	return s
}

func BenchmarkWindowMKTYear(b *testing.B) {
	s := yearOfMinutes()
	opt := WindowOptions{Timing: Timing{Nominal: time.Minute}}
	to := t0.Add(525600 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		r, err := WindowMKT(s, t0, to, opt)
		if err != nil || r.Status != StatusOK {
			b.Fatal(r, err)
		}
	}
}

// BenchmarkWindowMKTYearLogger is the same year at a data logger's 0.1 °C resolution.
func BenchmarkWindowMKTYearLogger(b *testing.B) {
	s := yearOfMinutes()
	for i := range s {
		s[i].Celsius = math.Round(s[i].Celsius*10) / 10
	}
	opt := WindowOptions{Timing: Timing{Nominal: time.Minute}}
	to := t0.Add(525600 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		r, err := WindowMKT(s, t0, to, opt)
		if err != nil || r.Status != StatusOK {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkAccumulatorAdd(b *testing.B) {
	a, _ := NewAccumulator(0)
	c := 4.0
	b.ReportAllocs()
	for b.Loop() {
		c += 0.001
		if c > 8 {
			c = 2
		}
		_ = a.Add(c, 60)
	}
}

// TestWindowMKTFastPathExact checks the cached and series-derived Boltzmann factors of
// WindowMKT against the plain log-sum-exp of Accumulator on long series.
func TestWindowMKTFastPathExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	year := yearOfMinutes()[:200000]
	walk := make([]Sample, 50000)
	c := 5.0
	for i := range walk {
		c += (rng.Float64() - 0.5) * 0.02
		walk[i] = Sample{At: t0.Add(time.Duration(i) * time.Minute), Celsius: c}
	}
	quant := make([]Sample, len(walk))
	for i, s := range walk {
		quant[i] = Sample{At: s.At, Celsius: math.Round(s.Celsius*10) / 10}
	}
	for name, s := range map[string][]Sample{"sine": year, "walk": walk, "0.1 °C": quant} {
		pts := make([]Weighted, len(s))
		for i, x := range s {
			pts[i] = Weighted{x.Celsius, 60}
		}
		want, _ := MKT(pts, 0)
		r := mustWindow(t, s, s[0].At, s[len(s)-1].At.Add(time.Minute), WindowOptions{Timing: Timing{Nominal: time.Minute}})
		if !near(r.Celsius, want, 1e-9) {
			t.Errorf("%s: WindowMKT = %.12f, plain log-sum-exp = %.12f", name, r.Celsius, want)
		}
	}
}
