// Package quantile selects order statistics of float64 samples in place: the k-th smallest
// value and the median, in expected linear time without allocating.
//
// It does no I/O and keeps no state; its functions reorder the slice they are given and are
// safe for concurrent use on distinct slices.
package quantile

import "math"

// Median returns the median of xs (the mean of the two middle values for an even count), or
// NaN for an empty slice. It reorders xs.
func Median(xs []float64) float64 {
	n := len(xs)
	switch n {
	case 0:
		return math.NaN()
	case 1:
		return xs[0]
	}
	hi := Select(xs, n/2)
	if n%2 == 1 {
		return hi
	}
	// After selection everything left of n/2 is ≤ xs[n/2]; the lower middle is its maximum.
	lo := xs[0]
	for _, v := range xs[1 : n/2] {
		lo = math.Max(lo, v)
	}
	return (lo + hi) / 2
}

// Select partially orders xs so that xs[k] is the k-th smallest (0-based), everything before
// it ≤ and everything after ≥, and returns it (Hoare quickselect with a median-of-three pivot;
// deterministic). k must be in [0, len(xs)).
func Select(xs []float64, k int) float64 {
	lo, hi := 0, len(xs)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return xs[k]
		}
	}
	return xs[k]
}
