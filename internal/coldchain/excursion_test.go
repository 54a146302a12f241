package coldchain

import (
	"testing"
	"time"
)

func mustDetector(t *testing.T, cfg DetectorConfig) *Detector {
	t.Helper()
	d, err := NewDetector(cfg)
	if err != nil {
		t.Fatalf("NewDetector(%+v): %v", cfg, err)
	}
	return d
}

// feedAll feeds s and returns every ended excursion followed by the ongoing one, if any.
func feedAll(d *Detector, s []Sample) []Excursion {
	var out []Excursion
	var ev []Event
	for _, x := range s {
		ev, _ = d.Observe(ev[:0], x)
		for _, e := range ev {
			if e.Kind == ExcursionEnded {
				out = append(out, e.Excursion)
			}
		}
	}
	if e, ok := d.Current(); ok {
		out = append(out, e)
	}
	return out
}

func min5(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

var x1 = series(t0, 5*time.Minute, 5.0, 5.2, 7.9, 8.4, 9.1, 10.2, 9.6, 8.2, 7.8, 8.1, 7.6, 6.0, 5.1)

// run feeds samples (and door events at given minutes) and returns all events.
func run(t *testing.T, d *Detector, s []Sample, doors map[int]bool) []Event {
	t.Helper()
	var all []Event
	last := -1
	for _, x := range s {
		m := int(x.At.Sub(t0) / time.Minute)
		for dm := last + 1; dm <= m; dm++ {
			if open, ok := doors[dm]; ok {
				d.Door(min5(dm), open)
			}
		}
		last = m
		var err error
		if all, err = d.Observe(all, x); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

func only(ev []Event, k EventKind) []Event {
	var r []Event
	for _, e := range ev {
		if e.Kind == k {
			r = append(r, e)
		}
	}
	return r
}

func TestDetectorExampleX1(t *testing.T) {
	tm := Timing{Nominal: 5 * time.Minute}
	type want struct {
		start, end int
		dm, peak   float64
		above      time.Duration
	}
	tests := []struct {
		h      float64
		want   []want
		notify []int
	}{
		{0.3, []want{{15, 50, 28.0, 10.2, 30 * time.Minute}}, []int{40}},
		{0, []want{{15, 40, 27.5, 10.2, 25 * time.Minute}, {45, 50, 0.5, 8.1, 5 * time.Minute}}, nil},
	}
	for _, tt := range tests {
		d := mustDetector(t, DetectorConfig{Direction: High, Limit: 8, Hysteresis: tt.h, Timing: tm, AlarmDelay: 30 * time.Minute})
		ev := run(t, d, x1, nil)
		ended := only(ev, ExcursionEnded)
		if len(ended) != len(tt.want) {
			t.Fatalf("h=%v: %d excursions, want %d", tt.h, len(ended), len(tt.want))
		}
		for i, w := range tt.want {
			e := ended[i].Excursion
			if !e.Start.Equal(min5(w.start)) || !e.End.Equal(min5(w.end)) || e.Duration != time.Duration(w.end-w.start)*time.Minute ||
				!near(e.DegreeMinutes, w.dm, 1e-9) || e.Peak != w.peak || e.OutOfRange != w.above || e.Ongoing || e.DoorOpen {
				t.Errorf("h=%v excursion %d = %+v; want %+v", tt.h, i, e, w)
			}
		}
		if !ended[0].Excursion.PeakAt.Equal(min5(25)) {
			t.Errorf("h=%v: peak at %v, want t=25", tt.h, ended[0].Excursion.PeakAt)
		}
		var got []int
		for _, e := range only(ev, ExcursionNotify) {
			got = append(got, int(e.At.Sub(t0)/time.Minute))
		}
		if len(got) != len(tt.notify) || (len(got) == 1 && got[0] != tt.notify[0]) {
			t.Errorf("h=%v: notifications at %v min, want %v", tt.h, got, tt.notify)
		}
	}
}

func TestDetectorExampleX2DoorTolerance(t *testing.T) {
	tm := Timing{Nominal: 5 * time.Minute}
	cfg := DetectorConfig{Direction: High, Limit: 8, Hysteresis: 0.3, Timing: tm, AlarmDelay: 30 * time.Minute, DoorTolerance: 10 * time.Minute}
	ev := run(t, mustDetector(t, cfg), x1, map[int]bool{12: true, 22: false})
	n := only(ev, ExcursionNotify)
	if len(n) != 1 || !n[0].At.Equal(min5(40)) {
		t.Fatalf("X2: notifications %v, want one at t=40", n)
	}
	e := only(ev, ExcursionEnded)[0].Excursion
	if !e.DoorOpen || e.Duration != 35*time.Minute || !near(e.DegreeMinutes, 28, 1e-9) || e.OutOfRange != 30*time.Minute {
		t.Errorf("X2 excursion = %+v; want door open, 35 min, 28 °C·min, 30 min above (identical to X1)", e)
	}
	// With no delay the door hold alone decides: due at the first reading at or after 25.
	cfg.AlarmDelay = 0
	ev = run(t, mustDetector(t, cfg), x1, map[int]bool{12: true, 22: false})
	if n := only(ev, ExcursionNotify); len(n) != 1 || !n[0].At.Equal(min5(25)) {
		t.Errorf("X2 with D=0: notifications %v, want one at t=25", n)
	}
	// An excursion ending within the tolerance is recorded but never notified.
	short := series(t0, 5*time.Minute, 5, 9, 5)
	ev = run(t, mustDetector(t, cfg), short, map[int]bool{0: true})
	if len(only(ev, ExcursionNotify)) != 0 || len(only(ev, ExcursionEnded)) != 1 {
		t.Errorf("short door excursion: events %v; want recorded and not notified", ev)
	}
}

func TestDetectorInclusiveLimitsAndLow(t *testing.T) {
	tm := Timing{Nominal: 5 * time.Minute}
	hi := mustDetector(t, DetectorConfig{Direction: High, Limit: 8, Timing: tm})
	if ev := run(t, hi, series(t0, 5*time.Minute, 8.0, 8.0), nil); len(ev) != 0 {
		t.Errorf("8.0 for a 2–8 °C unit: events %v, want none (in range)", ev)
	}
	lo := mustDetector(t, DetectorConfig{Direction: Low, Limit: 2, Hysteresis: 0.3, Timing: tm})
	ex := feedAll(lo, series(t0, 5*time.Minute, 2.0, 1.5, 0.5, 2.1, 2.3, 4))
	if len(ex) != 1 || !ex[0].Start.Equal(min5(5)) || !ex[0].End.Equal(min5(20)) || ex[0].Peak != 0.5 ||
		!near(ex[0].DegreeMinutes, 0.5*5+1.5*5, 1e-9) || ex[0].OutOfRange != 10*time.Minute {
		t.Errorf("low excursion = %+v; want 5→20 trough 0.5, 10 °C·min, 10 min", ex)
	}
	// Ongoing at the end of data: duration t_last + Δ − start.
	on := feedAll(mustDetector(t, DetectorConfig{Direction: High, Limit: 8, Timing: tm}), series(t0, 5*time.Minute, 5, 9, 10))
	if len(on) != 1 || !on[0].Ongoing || on[0].Duration != 10*time.Minute || on[0].OutOfRange != 10*time.Minute || !near(on[0].DegreeMinutes, 15, 1e-9) {
		t.Errorf("ongoing excursion = %+v; want 10 min, 10 min above, 15 °C·min", on)
	}
	if _, err := hi.Observe(nil, Sample{At: t0, Celsius: 5}); err == nil {
		t.Errorf("out-of-order reading: nil error, want one")
	}
}

func TestDetectorExampleX4Gap(t *testing.T) {
	s := m6(9.0)
	d := mustDetector(t, DetectorConfig{Direction: High, Limit: 8, Hysteresis: 0.3, Timing: Timing{Nominal: 5 * time.Minute}})
	ev := run(t, d, s, nil)
	ended := only(ev, ExcursionEnded)
	if len(ended) != 1 {
		t.Fatalf("X4: %d excursions, want 1", len(ended))
	}
	e := ended[0].Excursion
	if !e.Start.Equal(t0.Add(2*time.Hour)) || !e.End.Equal(t0.Add(8*time.Hour)) || e.Duration != 360*time.Minute ||
		e.OutOfRange != 5*time.Minute || !near(e.DegreeMinutes, 5, 1e-9) || !e.LowerBound || len(e.Gaps) != 1 || e.Gaps[0].Duration() != 355*time.Minute {
		t.Errorf("X4 excursion = %+v; want 02:00–08:00, 360 min, 5 min above, ≥5 °C·min flagged, one 355-min gap", e)
	}
	if g := only(ev, DataGap); len(g) != 1 || g[0].Gap.Duration() != 355*time.Minute {
		t.Errorf("X4 DATA_GAP events %v, want one of 355 min", g)
	}
}

func TestRuleExampleX3(t *testing.T) {
	temps := series(t0, 10*time.Minute, 1.0, 0.2, -0.3, -0.5, -0.8, -1.0, -0.9, -0.6, -0.5, -0.4, 0.5)
	tm := Timing{Nominal: 10 * time.Minute}
	tests := []struct {
		op   Op
		kind RuleKind
		d    time.Duration
		want []int // minutes at which it fires
	}{
		{LessEq, Consecutive, 60 * time.Minute, []int{80}},
		{Less, Consecutive, 60 * time.Minute, nil},
		{LessEq, Instant, 0, []int{30}},
		{LessEq, Cumulative, 50 * time.Minute, []int{70}},
		{LessEq, Consecutive, 70 * time.Minute, nil}, // ⌈70/10⌉ = 7 readings needed, run has 6
	}
	for _, tt := range tests {
		r, err := NewRuleState(AlarmRule{Op: tt.op, Threshold: -0.5, Kind: tt.kind, Duration: tt.d}, tm)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, s := range temps {
			fired, err := r.Observe(s)
			if err != nil {
				t.Fatal(err)
			}
			if fired {
				got = append(got, int(s.At.Sub(t0)/time.Minute))
			}
		}
		if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
			t.Errorf("rule %v %v -0.5 %v %v: fired at %v, want %v", tt.kind, tt.op, tt.d, tt.kind, got, tt.want)
		}
	}
}

func TestRuleWHOShippingIndicator(t *testing.T) {
	// Type II indicator: ≥ 10 °C cumulative 20 h; readings hourly, alternating 12 and 5 °C.
	r, err := NewRuleState(AlarmRule{Op: GreaterEq, Threshold: 10, Kind: Cumulative, Duration: 20 * time.Hour}, Timing{Nominal: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var firedAt int = -1
	for i := range 60 {
		c := 5.0
		if i%2 == 0 {
			c = 10 // exactly 10 qualifies ("≥")
		}
		if f, _ := r.Observe(Sample{At: t0.Add(time.Duration(i) * time.Hour), Celsius: c}); f {
			firedAt = i
			break
		}
	}
	if firedAt != 38 { // 20th qualifying reading (0, 2, …, 38), counted with its own hour
		t.Errorf("cumulative ≥10 °C 20 h fired at hour %d, want 38", firedAt)
	}
	// "> 20 h" needs one more qualifying reading.
	r, _ = NewRuleState(AlarmRule{Op: GreaterEq, Threshold: 10, Kind: Cumulative, Duration: 20 * time.Hour, StrictDuration: true}, Timing{Nominal: time.Hour})
	firedAt = -1
	for i := range 60 {
		c := 5.0
		if i%2 == 0 {
			c = 10
		}
		if f, _ := r.Observe(Sample{At: t0.Add(time.Duration(i) * time.Hour), Celsius: c}); f {
			firedAt = i
			break
		}
	}
	if firedAt != 40 {
		t.Errorf("cumulative ≥10 °C > 20 h fired at hour %d, want 40", firedAt)
	}
}
