package coldchain

import (
	"testing"
	"time"
)

// TestDetectorExampleM5: the excursion quantities of spec M5 (uneven spacing, sample-and-hold,
// nominal interval 60 min, U = 8.0 °C, h = 0.3 °C): minutes above 8 °C = 35 (2 + 33) and
// degree-minutes = 134 °C·min (1.0 × 2 + 4.0 × 33); the excursion runs from the 9.0 °C reading
// at t = 25 to the first reading ≤ 7.7 °C at t = 60, peak 12.0 °C at t = 27.
func TestDetectorExampleM5(t *testing.T) {
	mins := []int{0, 10, 25, 27, 60, 120}
	temps := []float64{5.0, 5.4, 9.0, 12.0, 7.5, 5.0}
	s := make([]Sample, len(mins))
	for i := range s {
		s[i] = Sample{At: t0.Add(time.Duration(mins[i]) * time.Minute), Celsius: temps[i]}
	}
	d := mustDetector(t, DetectorConfig{Direction: High, Limit: 8, Hysteresis: 0.3, Timing: Timing{Nominal: 60 * time.Minute}})
	ended := only(run(t, d, s, nil), ExcursionEnded)
	if len(ended) != 1 {
		t.Fatalf("%d excursions ended, want 1", len(ended))
	}
	e := ended[0].Excursion
	if !e.Start.Equal(min5(25)) || !e.End.Equal(min5(60)) || e.Duration != 35*time.Minute {
		t.Errorf("excursion %v → %v (%v), want t=25 → t=60 (35 min)", e.Start.Sub(t0), e.End.Sub(t0), e.Duration)
	}
	if e.OutOfRange != 35*time.Minute || !near(e.DegreeMinutes, 134, 1e-9) {
		t.Errorf("time above 8 °C %v, degree-minutes %v; want 35 min and 134 °C·min", e.OutOfRange, e.DegreeMinutes)
	}
	if e.Peak != 12.0 || !e.PeakAt.Equal(min5(27)) || e.LowerBound || e.Ongoing {
		t.Errorf("peak %v at %v (lower bound %v, ongoing %v), want 12.0 at t=27, exact, ended", e.Peak, e.PeakAt.Sub(t0), e.LowerBound, e.Ongoing)
	}
}
