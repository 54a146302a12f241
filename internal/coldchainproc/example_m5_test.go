package coldchainproc

import (
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
)

// TestWeightedMeanExampleM5: the time-weighted (sample-and-hold) arithmetic mean of spec M5 is
// 7.19 °C (1295 °C·min / 180 min), not the unweighted 7.32 °C; the mapping statistics use it.
func TestWeightedMeanExampleM5(t *testing.T) {
	mins := []int{0, 10, 25, 27, 60, 120}
	temps := []float64{5.0, 5.4, 9.0, 12.0, 7.5, 5.0}
	s := make([]coldchain.Sample, len(mins))
	var sum float64
	for i := range s {
		s[i] = coldchain.Sample{At: t0.Add(time.Duration(mins[i]) * time.Minute), Celsius: temps[i]}
		sum += temps[i]
	}
	got := weightedMean(s, 60*time.Minute) // the last reading is held for one interval, to t = 180
	if !near(got, 7.1944, 0.00005) {
		t.Errorf("time-weighted mean %.4f, want 7.19 (7.1944)", got)
	}
	if unweighted := sum / float64(len(temps)); !near(unweighted, 7.3167, 0.00005) || near(got, unweighted, 0.005) {
		t.Errorf("unweighted mean %.4f (want 7.32) must differ from the weighted %.4f", unweighted, got)
	}
}
