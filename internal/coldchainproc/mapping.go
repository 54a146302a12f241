package coldchainproc

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
)

// MapLoggerStats are the statistics of one mapping logger (spec 5).
type MapLoggerStats struct {
	Label       string    `json:"label"`
	MinC        float64   `json:"min_c"`
	MinAt       time.Time `json:"min_at"`
	MaxC        float64   `json:"max_c"`
	MaxAt       time.Time `json:"max_at"`
	MeanC       float64   `json:"mean_c"` // time-weighted (sample-and-hold)
	SDC         float64   `json:"sd_c"`   // sample standard deviation (n − 1) of the readings
	MKTC        float64   `json:"mkt_c"`
	OutOfRange  int       `json:"out_of_range"`   // readings outside the limits (inclusive limits are in range)
	OutOfRangeS float64   `json:"out_of_range_s"` // their represented time
	StabilityC  float64   `json:"stability_c"`    // max − min over time
}

// Spread is the spatial spread (max − min across loggers) at one instant.
type Spread struct {
	At time.Time `json:"at"`
	C  float64   `json:"c"`
}

// MapStats are a mapping study's statistics (spec 5).
type MapStats struct {
	Loggers         []MapLoggerStats `json:"loggers"`
	MinC            float64          `json:"min_c"`
	MinLogger       string           `json:"min_logger"`
	MaxC            float64          `json:"max_c"`
	MaxLogger       string           `json:"max_logger"`
	MeanC           float64          `json:"mean_c"` // mean of all readings
	HotSpot         string           `json:"hot_spot"`
	ColdSpot        string           `json:"cold_spot"`
	MaxSpreadC      float64          `json:"max_spread_c"`
	MaxSpreadAt     time.Time        `json:"max_spread_at"`
	Spread          []Spread         `json:"spread"`
	AllWithinLimits bool             `json:"all_within_limits"`
}

// MappingStatistics computes the statistics of spec 5 (worked example MAP1): per logger min,
// max (first time reached), time-weighted mean, sample SD, MKT, readings and time out of
// range, stability; overall min, max, mean of all readings, hot and cold spot (highest and
// lowest mean), spatial spread per instant (instants where at least two loggers read).
func MappingStatistics(m MappingStudy) (MapStats, error) {
	iv := time.Duration(m.IntervalS) * time.Second
	st := MapStats{AllWithinLimits: true, MinC: math.Inf(1), MaxC: math.Inf(-1), Spread: []Spread{}}
	var all, n float64
	byTime := map[time.Time][]float64{}
	for _, lg := range m.Loggers {
		if len(lg.Readings) == 0 {
			return MapStats{}, fmt.Errorf("mapping study %s: logger %s has no readings", m.ID, lg.Label)
		}
		ls := MapLoggerStats{Label: lg.Label, MinC: math.Inf(1), MaxC: math.Inf(-1)}
		samples := make([]coldchain.Sample, len(lg.Readings))
		var sum float64
		for i, r := range lg.Readings {
			samples[i] = coldchain.Sample{At: r.At, Celsius: r.C}
			sum += r.C
			all += r.C
			n++
			byTime[r.At] = append(byTime[r.At], r.C)
			if r.C < ls.MinC {
				ls.MinC, ls.MinAt = r.C, r.At
			}
			if r.C > ls.MaxC {
				ls.MaxC, ls.MaxAt = r.C, r.At
			}
			if r.C < m.Limits.LowC || r.C > m.Limits.HighC {
				ls.OutOfRange++
				rep := iv // held until the next reading unless that is a gap (spec 1.3)
				if i+1 < len(lg.Readings) {
					if d := lg.Readings[i+1].At.Sub(r.At); d <= 2*iv {
						rep = d
					}
				}
				ls.OutOfRangeS += rep.Seconds()
			}
		}
		mean := sum / float64(len(lg.Readings))
		if len(lg.Readings) > 1 {
			var ss float64
			for _, r := range lg.Readings {
				ss += (r.C - mean) * (r.C - mean)
			}
			ls.SDC = math.Sqrt(ss / float64(len(lg.Readings)-1))
		}
		first, last := lg.Readings[0].At, lg.Readings[len(lg.Readings)-1].At
		w, err := coldchain.WindowMKT(samples, first, last.Add(iv), coldchain.WindowOptions{Timing: coldchain.Timing{Nominal: iv}})
		if err != nil {
			return MapStats{}, fmt.Errorf("mapping study %s, logger %s: %w", m.ID, lg.Label, err)
		}
		ls.MKTC = w.Celsius
		ls.MeanC = weightedMean(samples, iv)
		ls.StabilityC = ls.MaxC - ls.MinC
		if ls.OutOfRange > 0 {
			st.AllWithinLimits = false
		}
		if ls.MinC < st.MinC {
			st.MinC, st.MinLogger = ls.MinC, ls.Label
		}
		if ls.MaxC > st.MaxC {
			st.MaxC, st.MaxLogger = ls.MaxC, ls.Label
		}
		st.Loggers = append(st.Loggers, ls)
	}
	st.MeanC = all / n
	hot, cold := st.Loggers[0], st.Loggers[0]
	for _, ls := range st.Loggers[1:] {
		if ls.MeanC > hot.MeanC {
			hot = ls
		}
		if ls.MeanC < cold.MeanC {
			cold = ls
		}
	}
	st.HotSpot, st.ColdSpot = hot.Label, cold.Label
	times := make([]time.Time, 0, len(byTime))
	for t, vs := range byTime {
		if len(vs) >= 2 {
			times = append(times, t)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for _, t := range times {
		vs := byTime[t]
		sp := slices.Max(vs) - slices.Min(vs)
		st.Spread = append(st.Spread, Spread{At: t, C: sp})
		if sp > st.MaxSpreadC {
			st.MaxSpreadC, st.MaxSpreadAt = sp, t
		}
	}
	return st, nil
}

// weightedMean is the sample-and-hold time-weighted mean (gaps longer than 2 × iv not held).
func weightedMean(s []coldchain.Sample, iv time.Duration) float64 {
	var sw, s1 float64
	for i, x := range s {
		w := iv
		if i+1 < len(s) {
			if d := s[i+1].At.Sub(x.At); d <= 2*iv {
				w = d
			}
		}
		sw += w.Seconds()
		s1 += w.Seconds() * x.Celsius
	}
	return s1 / sw
}
