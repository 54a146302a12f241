package quantile

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1}, 2},
		{[]float64{5, 1, 4}, 4},
		{[]float64{7, 1, 3, 5}, 4},
		{[]float64{2, 2, 2, 2, 9}, 2},
		{[]float64{-1, -3, -2, 10, 0, 0}, -0.5},
	}
	for _, tt := range tests {
		if got := Median(slices.Clone(tt.in)); got != tt.want {
			t.Errorf("Median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

// TestSelectAgainstSort: on random inputs with many ties, Select returns what sorting gives and
// leaves the slice partitioned around k.
func TestSelectAgainstSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + r.IntN(40)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(r.IntN(8))
		}
		k := r.IntN(n)
		sorted := slices.Sorted(slices.Values(xs))
		got := Select(xs, k)
		if got != sorted[k] {
			t.Fatalf("Select(%v, %d) = %v, want %v", xs, k, got, sorted[k])
		}
		for i, v := range xs {
			if (i < k && v > got) || (i > k && v < got) {
				t.Fatalf("not partitioned around %d: %v", k, xs)
			}
		}
	}
}
