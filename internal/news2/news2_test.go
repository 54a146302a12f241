package news2

import (
	"math"
	"math/big"
	"strconv"
	"testing"
	"testing/quick"
	"time"
)

func full(rr, spo2 float64, scale Scale, o Oxygen, sbp, pulse float64, c Consciousness, temp float64) Set {
	return Set{Scale: scale, Present: AllParams, RR: rr, SpO2: spo2, O2: o, SBP: sbp, Pulse: pulse, ACVPU: c, Temp: temp}
}

func mustScore(t *testing.T, s Set) Result {
	t.Helper()
	r, err := Score(s)
	if err != nil {
		t.Fatalf("Score(%+v): %v", s, err)
	}
	return r
}

// Spec §8: every complete worked example, verbatim.
func TestWorkedExamplesComplete(t *testing.T) {
	const ox = Supplemental
	tests := []struct {
		id     string
		set    Set
		scores [NumParams]int
		total  int
		band   Band
		every  time.Duration // 0: continuous
	}{
		{"E1", full(16, 97, 1, Air, 125, 72, Alert, 36.8), [7]int{0, 0, 0, 0, 0, 0, 0}, 0, Low, 12 * time.Hour},
		{"E2", full(20, 96, 1, Air, 219, 90, Alert, 38.0), [7]int{0, 0, 0, 0, 0, 0, 0}, 0, Low, 12 * time.Hour},
		{"E3", full(12, 96, 1, Air, 111, 51, Alert, 36.1), [7]int{0, 0, 0, 0, 0, 0, 0}, 0, Low, 12 * time.Hour},
		{"E4", full(21, 95, 1, Air, 110, 91, Alert, 38.1), [7]int{2, 1, 0, 1, 1, 0, 1}, 6, Medium, time.Hour},
		{"E5", full(16, 98, 1, Air, 120, 80, Confused, 37.0), [7]int{0, 0, 0, 0, 0, 3, 0}, 3, LowMedium, time.Hour},
		{"E6", full(23, 94, 1, ox, 115, 95, Alert, 38.2), [7]int{2, 1, 2, 0, 1, 0, 1}, 7, High, 0},
		{"E7", full(8, 91, 1, ox, 90, 40, Unresponsive, 35.0), [7]int{3, 3, 2, 3, 3, 3, 3}, 20, High, 0},
		{"E8", full(18, 93, 2, Air, 130, 85, Alert, 37.2), [7]int{0, 0, 0, 0, 0, 0, 0}, 0, Low, 12 * time.Hour},
		{"E8b", full(18, 93, 1, Air, 130, 85, Alert, 37.2), [7]int{0, 2, 0, 0, 0, 0, 0}, 2, Low, 4 * time.Hour},
		{"E9", full(18, 93, 2, ox, 130, 85, Alert, 37.2), [7]int{0, 1, 2, 0, 0, 0, 0}, 3, Low, 4 * time.Hour},
		{"E10", full(18, 97, 2, ox, 130, 85, Alert, 37.2), [7]int{0, 3, 2, 0, 0, 0, 0}, 5, Medium, time.Hour},
		{"E11", full(18, 88, 2, ox, 130, 85, Alert, 37.2), [7]int{0, 0, 2, 0, 0, 0, 0}, 2, Low, 4 * time.Hour},
		{"E12", full(22, 85, 2, ox, 130, 85, Alert, 37.2), [7]int{2, 2, 2, 0, 0, 0, 0}, 6, Medium, time.Hour},
		{"E13", full(18, 83, 2, Air, 130, 85, Alert, 37.2), [7]int{0, 3, 0, 0, 0, 0, 0}, 3, LowMedium, time.Hour},
		{"E14", full(24.5, 95.5, 1, Air, 219.5, 50.4, Alert, 36.05), [7]int{3, 0, 0, 3, 1, 0, 0}, 7, High, 0},
		{"E15", full(16, 96, 1, Air, 120, 131, Alert, 35.04), [7]int{0, 0, 0, 0, 3, 0, 3}, 6, Medium, time.Hour},
		{"E16", full(16, 96, 1, Air, 100, 88, Alert, 39.05), [7]int{0, 0, 0, 2, 0, 0, 2}, 4, Low, 4 * time.Hour},
		{"E17", full(16, 95, 2, ox, 150, 70, Voice, 36.5), [7]int{0, 2, 2, 0, 0, 3, 0}, 7, High, 0},
		{"E18", full(9, 92, 1, Air, 101, 50, Alert, 36.0), [7]int{1, 2, 0, 1, 1, 0, 1}, 6, Medium, time.Hour},
		{"E19", full(25, 96, 1, Air, 105, 95, Alert, 37.0), [7]int{3, 0, 0, 1, 1, 0, 0}, 5, Medium, time.Hour},
		{"E20", full(14, 97, 1, Air, 130, 111, Alert, 39.1), [7]int{0, 0, 0, 0, 2, 0, 2}, 4, Low, 4 * time.Hour},
		{"E21", full(26, 97, 1, Air, 120, 95, Alert, 37.0), [7]int{3, 0, 0, 0, 1, 0, 0}, 4, LowMedium, time.Hour},
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := mustScore(t, tt.set)
			var got [NumParams]int
			for p := range r.Parts {
				got[p] = r.Parts[p].Score
			}
			if got != tt.scores {
				t.Errorf("scores = %v, want %v", got, tt.scores)
			}
			total, ok := r.Total()
			if !ok || total != tt.total {
				t.Errorf("Total() = %d, %v, want %d, true", total, ok, tt.total)
			}
			if b, ok := r.Band(); !ok || b != tt.band {
				t.Errorf("Band() = %v, %v, want %v", b, ok, tt.band)
			}
			d := NextDue(&r, at, DueOptions{})
			if tt.every == 0 {
				if !d.Continuous || !d.MonitorRequired || d.Interval != 15*time.Minute {
					t.Errorf("NextDue = %+v, want continuous (15 min spot checks without a monitor)", d)
				}
				if d2 := NextDue(&r, at, DueOptions{ContinuousAssigned: true}); !d2.Continuous || d2.MonitorRequired || !d2.At.IsZero() {
					t.Errorf("NextDue with monitor = %+v, want continuous, no due time", d2)
				}
			} else if d.Continuous || d.Interval != tt.every || !d.At.Equal(at.Add(tt.every)) {
				t.Errorf("NextDue = %+v, want every %v", d, tt.every)
			}
		})
	}
}

// Spec §3.2 test vectors.
func TestQuantisationVectors(t *testing.T) {
	temps := []struct {
		in        float64
		fahr      bool
		q10, want int
	}{
		{36.05, false, 361, 0}, {36.04, false, 360, 1}, {35.04, false, 350, 3}, {35.05, false, 351, 1},
		{38.05, false, 381, 1}, {39.05, false, 391, 2}, {100.5, true, 381, 1}, {100.4, true, 380, 0},
		{96.8, true, 360, 1}, {96.9, true, 361, 0}, {95.09, true, 351, 1},
	}
	for _, tt := range temps {
		v := tt.in
		if tt.fahr {
			v = FromFahrenheit(v)
		}
		if q := QuantiseTenths(v); q != tt.q10 || ScoreTemp(q) != tt.want {
			t.Errorf("temp %v (°F %v): quantised %d score %d, want %d score %d", tt.in, tt.fahr, q, ScoreTemp(q), tt.q10, tt.want)
		}
	}
	ints := []struct {
		p     Param
		in    float64
		q, sc int
	}{
		{RR, 24.5, 25, 3}, {RR, 24.49, 24, 2}, {RR, 20.3, 20, 0}, {RR, 20.5, 21, 2}, {RR, 8.4, 8, 3},
		{RR, 8.5, 9, 1}, {RR, 11.5, 12, 0}, {SpO2, 91.5, 92, 2}, {SpO2, 95.5, 96, 0},
		{SBP, 219.5, 220, 3}, {SBP, 100.5, 101, 1}, {Pulse, 90.5, 91, 1}, {Pulse, 50.4, 50, 1},
	}
	for _, tt := range ints {
		q := Quantise(tt.in)
		var sc int
		switch tt.p {
		case RR:
			sc = ScoreRR(q)
		case SpO2:
			sc = ScoreSpO2(q, Scale1, false)
		case SBP:
			sc = ScoreSBP(q)
		case Pulse:
			sc = ScorePulse(q)
		}
		if q != tt.q || sc != tt.sc {
			t.Errorf("%v %v: quantised %d score %d, want %d score %d", tt.p, tt.in, q, sc, tt.q, tt.sc)
		}
	}
}

// decimalHalfUp is the spec's definitional rule (§3.2 option 1): round the shortest decimal
// string of v half up to `places` decimals.
func decimalHalfUp(v float64, places int) *big.Rat {
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(v, 'f', -1, 64))
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil))
	r.Mul(r, scale)
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom()) // floor for non-negative values
	return new(big.Rat).SetInt(q)
}

// The float guard agrees with the decimal rule on the ranges the spec checked exhaustively
// (0–350 in steps of 0.01 for whole units and tenths).
func TestQuantiseGuardAgreesWithDecimal(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive")
	}
	for i := 0; i <= 35000; i++ {
		v, _ := strconv.ParseFloat(strconv.Itoa(i/100)+"."+strconv.Itoa(100 + i%100)[1:], 64)
		if want := decimalHalfUp(v, 0); !want.IsInt() || want.Num().Int64() != int64(Quantise(v)) {
			t.Fatalf("Quantise(%v) = %d, want %v", v, Quantise(v), want)
		}
		if want := decimalHalfUp(v, 1); want.Num().Int64() != int64(QuantiseTenths(v)) {
			t.Fatalf("QuantiseTenths(%v) = %d, want %v", v, QuantiseTenths(v), want)
		}
	}
}

// Spec §4.10: every band edge, from both sides.
func TestBandEdges(t *testing.T) {
	type vec struct{ v, want int }
	check := func(name string, f func(int) int, vs []vec) {
		t.Helper()
		for _, tt := range vs {
			if got := f(tt.v); got != tt.want {
				t.Errorf("%s(%d) = %d, want %d", name, tt.v, got, tt.want)
			}
		}
	}
	check("rr", ScoreRR, []vec{{0, 3}, {8, 3}, {9, 1}, {11, 1}, {12, 0}, {20, 0}, {21, 2}, {24, 2}, {25, 3}, {60, 3}})
	check("spo2 S1", func(v int) int { return ScoreSpO2(v, Scale1, false) },
		[]vec{{91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {100, 0}})
	check("spo2 S1 oxygen", func(v int) int { return ScoreSpO2(v, Scale1, true) },
		[]vec{{91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {100, 0}})
	check("spo2 S2 air", func(v int) int { return ScoreSpO2(v, Scale2, false) },
		[]vec{{83, 3}, {84, 2}, {85, 2}, {86, 1}, {87, 1}, {88, 0}, {92, 0}, {93, 0}, {100, 0}})
	check("spo2 S2 oxygen", func(v int) int { return ScoreSpO2(v, Scale2, true) },
		[]vec{{83, 3}, {84, 2}, {85, 2}, {86, 1}, {87, 1}, {88, 0}, {92, 0}, {93, 1}, {94, 1}, {95, 2}, {96, 2}, {97, 3}, {100, 3}})
	check("sbp", ScoreSBP, []vec{{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1}, {111, 0}, {219, 0}, {220, 3}})
	check("pulse", ScorePulse, []vec{{40, 3}, {41, 1}, {50, 1}, {51, 0}, {90, 0}, {91, 1}, {110, 1}, {111, 2}, {130, 2}, {131, 3}})
	check("temp", ScoreTemp, []vec{{350, 3}, {351, 1}, {360, 1}, {361, 0}, {380, 0}, {381, 1}, {390, 1}, {391, 2}})
	for c, want := range map[Consciousness]int{Alert: 0, Confused: 3, Voice: 3, Pain: 3, Unresponsive: 3} {
		if got := ScoreConsciousness(c); got != want {
			t.Errorf("ScoreConsciousness(%v) = %d, want %d", c, got, want)
		}
	}
	if ScoreOxygen(Air) != 0 || ScoreOxygen(Supplemental) != 2 {
		t.Errorf("ScoreOxygen: AIR %d OXYGEN %d, want 0 and 2", ScoreOxygen(Air), ScoreOxygen(Supplemental))
	}
}

// Spec §9.1: incomplete sets and their bounds.
func TestWorkedExamplesIncomplete(t *testing.T) {
	const ox = Supplemental
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	without := func(s Set, ps ...Param) Set {
		for _, p := range ps {
			s.Present &^= 1 << p
		}
		return s
	}
	tests := []struct {
		id             string
		set            Set
		missing        Params
		lo, hi         int
		bandLo, bandHi Band
		due            time.Duration // NEWS2_COMPLETE_OBS task due after the set time; -1: no task (determinate LOW)
	}{
		{"P1", without(full(22, 95, 1, Air, 105, 95, Alert, 0), Temp), 1 << Temp, 5, 8, Medium, High, 0},
		{"P2", without(full(16, 97, 1, Air, 130, 80, 0, 37.0), ACVPU), 1 << ACVPU, 0, 3, Low, LowMedium, time.Hour},
		{"P3", without(full(26, 97, 1, Air, 0, 80, Alert, 0), SBP, Temp), 1<<SBP | 1<<Temp, 3, 9, LowMedium, High, 0},
		{"P4", without(full(18, 95, 2, 0, 130, 85, Alert, 37.2), O2), 1 << O2, 0, 4, Low, Low, -1},
		{"P5", without(full(18, 97, 2, 0, 130, 85, Alert, 37.2), O2), 1 << O2, 0, 5, Low, Medium, time.Hour},
		{"P6", without(full(16, 0, 1, ox, 130, 80, Alert, 37.0), SpO2), 1 << SpO2, 2, 5, Low, Medium, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := mustScore(t, tt.set)
			if _, ok := r.Total(); ok || r.Complete {
				t.Fatalf("incomplete set yields a total")
			}
			if r.Missing != tt.missing {
				t.Errorf("Missing = %v, want %v", r.Missing, tt.missing)
			}
			if r.ScoreMin != tt.lo || r.ScoreMax != tt.hi || r.BandMin != tt.bandLo || r.BandMax != tt.bandHi {
				t.Errorf("bounds %d–%d %v→%v, want %d–%d %v→%v", r.ScoreMin, r.ScoreMax, r.BandMin, r.BandMax,
					tt.lo, tt.hi, tt.bandLo, tt.bandHi)
			}
			if tt.due < 0 {
				if !r.Determinate() {
					t.Errorf("band not determinate")
				}
				return
			}
			if d := NextDue(&r, at, DueOptions{}); !d.At.Equal(at.Add(tt.due)) {
				t.Errorf("task due %v, want set time + %v", d.At, tt.due)
			}
		})
	}
}

// enumerate is spec §6.4 literally: every completion of the missing parameters.
func enumerate(r Result) (lo, hi int, blo, bhi Band) {
	lo, hi, blo, bhi = 99, -1, High, Low
	choices := func(p Param) []int {
		if r.Parts[p].Present {
			return []int{r.Parts[p].Value}
		}
		switch p {
		case ACVPU:
			return []int{int(Alert), int(Voice)}
		case O2:
			return []int{int(Air), int(Supplemental)}
		}
		return []int{0, 1, 2, 3} // a score, not a value
	}
	for _, rr := range choices(RR) {
		for _, sp := range choices(SpO2) {
			for _, o := range choices(O2) {
				for _, sbp := range choices(SBP) {
					for _, pu := range choices(Pulse) {
						for _, c := range choices(ACVPU) {
							for _, te := range choices(Temp) {
								sc := [NumParams]int{rr, sp, ScoreOxygen(Oxygen(o)), sbp, pu, ScoreConsciousness(Consciousness(c)), te}
								if r.Parts[RR].Present {
									sc[RR] = ScoreRR(rr)
								}
								if r.Parts[SpO2].Present {
									sc[SpO2] = ScoreSpO2(sp, r.Scale, Oxygen(o) == Supplemental)
								}
								if r.Parts[SBP].Present {
									sc[SBP] = ScoreSBP(sbp)
								}
								if r.Parts[Pulse].Present {
									sc[Pulse] = ScorePulse(pu)
								}
								if r.Parts[Temp].Present {
									sc[Temp] = ScoreTemp(te)
								}
								total, red := 0, false
								for _, s := range sc {
									total += s
									red = red || s == 3
								}
								b := BandOf(total, red)
								lo, hi = min(lo, total), max(hi, total)
								blo, bhi = min(blo, b), max(bhi, b)
							}
						}
					}
				}
			}
		}
	}
	return lo, hi, blo, bhi
}

type randomSet struct {
	RR, SpO2, SBP, Pulse, Temp uint16
	O2, ACVPU, Scale, Present  uint8
}

func (q randomSet) set() Set {
	return Set{
		Scale: Scale(1 + q.Scale%2), Present: Params(q.Present) & AllParams,
		RR: float64(q.RR%600) / 10, SpO2: float64(700+q.SpO2%301) / 10, SBP: float64(q.SBP%2600) / 10,
		Pulse: float64(q.Pulse%1800) / 10, Temp: float64(300+q.Temp%130) / 10,
		O2: Oxygen(1 + q.O2%2), ACVPU: Consciousness(1 + q.ACVPU%5),
	}
}

// Properties: the total is the sum of the sub-scores; a missing parameter never yields a
// total; the bounds equal the literal enumeration of §6.4.
func TestScoreProperties(t *testing.T) {
	prop := func(q randomSet) bool {
		s := q.set()
		r, err := Score(s)
		if err != nil {
			t.Logf("Score(%+v): %v", s, err)
			return false
		}
		total, ok := r.Total()
		if ok != (s.Present == AllParams) {
			return false
		}
		if ok {
			sum, red := 0, false
			for _, p := range r.Parts {
				sum += p.Score
				red = red || p.Score == 3
			}
			if sum != total || BandOf(sum, red) != r.BandMin || r.RedScore != red {
				return false
			}
		}
		lo, hi, blo, bhi := enumerate(r)
		if lo != r.ScoreMin || hi != r.ScoreMax || blo != r.BandMin || bhi != r.BandMax {
			t.Logf("%+v: bounds %d–%d %v–%v, enumeration %d–%d %v–%v", s, r.ScoreMin, r.ScoreMax, r.BandMin, r.BandMax, lo, hi, blo, bhi)
			return false
		}
		return true
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 3000}); err != nil {
		t.Error(err)
	}
}

// Property: a parameter's score never falls as its value moves further from the normal band,
// checked over the whole chart range in chart resolution, on both sides.
func TestScoreMonotoneAwayFromNormal(t *testing.T) {
	type curve struct {
		name         string
		f            func(int) int
		lo, norm, hi int // normal band contains norm
	}
	curves := []curve{
		{"rr", ScoreRR, 0, 16, 100},
		{"spo2 S1", func(v int) int { return ScoreSpO2(v, Scale1, false) }, 0, 98, 100},
		{"spo2 S2 air", func(v int) int { return ScoreSpO2(v, Scale2, false) }, 0, 90, 100},
		{"spo2 S2 oxygen", func(v int) int { return ScoreSpO2(v, Scale2, true) }, 0, 90, 100},
		{"sbp", ScoreSBP, 0, 150, 350},
		{"pulse", ScorePulse, 0, 70, 350},
		{"temp", ScoreTemp, 200, 370, 450},
	}
	for _, c := range curves {
		if c.f(c.norm) != 0 {
			t.Errorf("%s(%d) = %d, want 0 in the normal band", c.name, c.norm, c.f(c.norm))
		}
		for v := c.norm; v < c.hi; v++ {
			if c.f(v+1) < c.f(v) {
				t.Errorf("%s: score falls from %d at %d to %d at %d", c.name, c.f(v), v, c.f(v+1), v+1)
			}
		}
		for v := c.norm; v > c.lo; v-- {
			if c.f(v-1) < c.f(v) {
				t.Errorf("%s: score falls from %d at %d to %d at %d", c.name, c.f(v), v, c.f(v-1), v-1)
			}
		}
	}
}

func TestScoreRejectsUnscorable(t *testing.T) {
	good := full(16, 97, 1, Air, 125, 72, Alert, 36.8)
	tests := []struct {
		name  string
		mod   func(*Set)
		param Param
	}{
		{"spo2 above 100", func(s *Set) { s.SpO2 = 100.2 }, SpO2},
		{"negative rr", func(s *Set) { s.RR = -1 }, RR},
		{"NaN temp", func(s *Set) { s.Temp = math.NaN() }, Temp},
		{"unknown acvpu", func(s *Set) { s.ACVPU = 9 }, ACVPU},
		{"unknown o2", func(s *Set) { s.O2 = 0 }, O2},
		{"scale 3", func(s *Set) { s.Scale = 3 }, SpO2},
	}
	for _, tt := range tests {
		s := good
		tt.mod(&s)
		_, err := Score(s)
		ie, ok := err.(*InputError)
		if !ok || ie.Param != tt.param {
			t.Errorf("%s: err = %v, want *InputError for %v", tt.name, err, tt.param)
		}
	}
}

func TestPlausible(t *testing.T) {
	tests := []struct {
		p      Param
		v      float64
		manual bool
		want   bool
	}{
		{RR, 2, false, true}, {RR, 1, false, false}, {RR, 1, true, true}, {RR, 81, true, false},
		{SpO2, 50, false, true}, {SpO2, 49, false, false}, {SpO2, 100.5, true, false},
		{SBP, 300, false, true}, {SBP, 39, false, false}, {Pulse, 19, false, false}, {Pulse, 20, false, true},
		{Temp, 24.9, false, false}, {Temp, 24.9, true, true}, {Temp, 45.1, true, false}, {Temp, -1, true, false},
	}
	for _, tt := range tests {
		if got := Plausible(tt.p, tt.v, tt.manual); got != tt.want {
			t.Errorf("Plausible(%v, %v, manual %v) = %v, want %v", tt.p, tt.v, tt.manual, got, tt.want)
		}
	}
}
