package news2

import (
	"testing"
	"time"
)

func clock(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("15:04:05.000", s)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2026, 3, 1, v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
}

// Spec §9.2: staleness timeline.
func TestStalenessTimeline(t *testing.T) {
	var a Assembler
	next := clock(t, "06:00:00.000")
	feed := func(until time.Time) { // samples every 30 s throughout, fed in time order
		for ; !next.After(until); next = next.Add(30 * time.Second) {
			a.Add(RR, 16, next, Continuous, 0)
			a.Add(SpO2, 97, next, Continuous, 0)
			a.Add(Pulse, 72, next, Continuous, 0)
		}
	}
	a.Add(SBP, 118, clock(t, "09:05:00.000"), Spot, 0)
	a.Add(Temp, 37.1, clock(t, "07:00:00.000"), Spot, 0)
	a.SetConsciousness(Alert, clock(t, "08:00:00.000"))
	a.SetOxygen(Air, clock(t, "08:00:00.000"), Manual)
	tests := []struct {
		at      string
		missing Params
	}{
		{"10:00:00.000", 0},
		{"10:05:00.000", 0}, // SBP age exactly 60 min is current
		{"10:05:00.001", 1 << SBP},
		{"10:06:00.000", 1 << SBP},
		{"11:01:00.000", 1<<SBP | 1<<Temp},
		{"12:01:00.000", 1<<SBP | 1<<Temp | 1<<ACVPU | 1<<O2},
	}
	for _, tt := range tests {
		at := clock(t, tt.at)
		feed(at)
		s, from, setTime := a.Assemble(at, Scale1)
		r := mustScore(t, s)
		if r.Missing != tt.missing || r.Complete != (tt.missing == 0) {
			t.Errorf("at %s: missing %v (complete %v), want %v", tt.at, r.Missing, r.Complete, tt.missing)
		}
		if from[RR].Source != Continuous || from[RR].N != 10 {
			t.Errorf("at %s: rr from %+v, want a continuous median of 10 samples", tt.at, from[RR])
		}
		if setTime.After(at) || at.Sub(setTime) > 30*time.Second {
			t.Errorf("at %s: set time %v, want the newest sample", tt.at, setTime)
		}
	}
}

// Spec §9.3: continuous median.
func TestContinuousMedian(t *testing.T) {
	var w Window
	for _, s := range []struct {
		at string
		v  float64
	}{{"10:00:10.000", 19}, {"10:01:10.000", 22}, {"10:02:10.000", 23}, {"10:03:10.000", 40}, {"10:04:10.000", 21}} {
		w.Add(s.v, clock(t, s.at))
	}
	tests := []struct {
		at    string
		n     int
		value float64
		q     int
		score int
	}{
		{"10:04:30.000", 5, 22, 22, 2},
		{"10:05:20.000", 4, 22.5, 23, 2},
	}
	for _, tt := range tests {
		c := w.Current(clock(t, tt.at))
		if !c.OK || c.Source != Continuous || c.N != tt.n || c.Value != tt.value || !c.At.Equal(clock(t, "10:04:10.000")) {
			t.Errorf("at %s: %+v, want median %v of %d samples at 10:04:10", tt.at, c, tt.value, tt.n)
		}
		if q := Quantise(c.Value); q != tt.q || ScoreRR(q) != tt.score {
			t.Errorf("at %s: quantised %d score %d, want %d score %d", tt.at, q, ScoreRR(q), tt.q, tt.score)
		}
	}
	// Fewer than 3 samples in the window: the newest is a spot reading (rule 1 fallback).
	c := w.Current(clock(t, "10:08:30.000"))
	if c.Source != Spot || c.Value != 21 {
		t.Errorf("fallback: %+v, want spot 21", c)
	}
}

func TestPickRules(t *testing.T) {
	at := clock(t, "10:00:00.000")
	cont := Candidate{OK: true, Value: 20, At: at.Add(-time.Minute), Source: Continuous, N: 5}
	manual := Candidate{OK: true, Value: 30, At: at.Add(-time.Minute), Source: Manual, N: 1}
	newerSpot := Candidate{OK: true, Value: 25, At: at.Add(-30 * time.Second), Source: Spot, N: 1}
	stale := Candidate{OK: true, Value: 25, At: at.Add(-16 * time.Minute), Source: Spot, N: 1}
	if got := Pick(at, 15*time.Minute, cont, manual); got.Value != 30 {
		t.Errorf("tie: got %v, want the manual value", got.Value)
	}
	if got := Pick(at, 15*time.Minute, cont, newerSpot); got.Value != 25 {
		t.Errorf("newer spot: got %v, want 25", got.Value)
	}
	if got := Pick(at, 15*time.Minute, stale); got.OK {
		t.Errorf("stale spot used: %+v", got)
	}
}

func TestPulseSourcePriority(t *testing.T) {
	var a Assembler
	at := clock(t, "10:00:00.000")
	a.Add(Pulse, 80, at.Add(-50*time.Second), Spot, 2) // NIBP cuff
	a.Add(Pulse, 90, at.Add(-40*time.Second), Manual, 0)
	for i := 0; i < 4; i++ {
		a.Add(Pulse, 70, at.Add(time.Duration(-55+i*10)*time.Second), Continuous, 1) // oximeter
	}
	s, from, _ := a.Assemble(at, Scale1)
	if s.Pulse != 70 || from[Pulse].Rank != 1 {
		t.Errorf("pulse %v from rank %d, want 70 from the oximeter (rank 1)", s.Pulse, from[Pulse].Rank)
	}
	for i := 0; i < 3; i++ {
		a.Add(Pulse, 65, at.Add(time.Duration(-50+i*10)*time.Second), Continuous, 0) // ECG
	}
	if s, from, _ := a.Assemble(at, Scale1); s.Pulse != 65 || from[Pulse].Rank != 0 {
		t.Errorf("pulse %v from rank %d, want 65 from ECG", s.Pulse, from[Pulse].Rank)
	}
}

func TestSession(t *testing.T) {
	var s Session
	open := clock(t, "08:00:00.000")
	s.Add(SBP, 130, open)
	s.Add(SpO2, 97, open.Add(2*time.Minute))
	s.Add(Temp, 37.0, open.Add(5*time.Minute))
	if s.Due(open.Add(10 * time.Minute)) {
		t.Error("session due before close with parameters missing")
	}
	if s.Add(Pulse, 80, open.Add(16*time.Minute)) {
		t.Error("reading after close accepted")
	}
	if !s.Due(open.Add(15*time.Minute)) || !s.EvalTime().Equal(open.Add(5*time.Minute)) {
		t.Errorf("at close: due %v, t %v", s.Due(open.Add(15*time.Minute)), s.EvalTime())
	}
	r := mustScore(t, s.Set)
	if r.Missing != 1<<RR|1<<O2|1<<Pulse|1<<ACVPU {
		t.Errorf("home session missing %v", r.Missing)
	}
}
