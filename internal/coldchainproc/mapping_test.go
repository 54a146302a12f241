package coldchainproc

import (
	"testing"
	"time"
)

// TestMappingExampleMAP1 reproduces spec MAP1.
func TestMappingExampleMAP1(t *testing.T) {
	mk := func(label string, cs ...float64) MapLogger {
		lg := MapLogger{Label: label}
		for i, c := range cs {
			lg.Readings = append(lg.Readings, MapReading{At: t0.Add(time.Duration(i) * 15 * time.Minute), C: c})
		}
		return lg
	}
	m := MappingStudy{ID: "map1", Unit: "pharmacy", IntervalS: 900, Limits: ProductLimits{LowC: 2, HighC: 8}, Loggers: []MapLogger{
		mk("S1", 6.8, 7.4, 8.3, 7.9, 7.1, 6.9), mk("S2", 5.0, 5.2, 5.6, 5.4, 5.1, 5.0), mk("S3", 2.6, 2.4, 2.1, 1.8, 2.2, 2.5)}}
	if err := m.validate(); err != nil {
		t.Fatal(err)
	}
	st, err := MappingStatistics(m)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		min, max, mean, sd, mkt float64
		out                     int
	}{{6.8, 8.3, 7.40, 0.5933, 7.4178, 1}, {5.0, 5.6, 5.2167, 0.2401, 5.2196, 0}, {1.8, 2.6, 2.2667, 0.2944, 2.2711, 1}}
	for i, w := range want {
		g := st.Loggers[i]
		if g.MinC != w.min || g.MaxC != w.max || !near(g.MeanC, w.mean, 0.00005) || !near(g.SDC, w.sd, 0.00005) ||
			!near(g.MKTC, w.mkt, 0.00005) || g.OutOfRange != w.out {
			t.Errorf("%s: %+v, want %+v", g.Label, g, w)
		}
	}
	if st.MinC != 1.8 || st.MinLogger != "S3" || st.MaxC != 8.3 || st.MaxLogger != "S1" || !near(st.MeanC, 4.96, 0.005) ||
		st.HotSpot != "S1" || st.ColdSpot != "S3" || !near(st.MaxSpreadC, 6.2, 1e-9) || !st.MaxSpreadAt.Equal(t0.Add(30*time.Minute)) ||
		st.AllWithinLimits {
		t.Errorf("overall %+v, want min 1.8 (S3), max 8.3 (S1), mean 4.96, hot S1, cold S3, spread 6.2 at the 3rd instant, not within limits", st)
	}
	spreads := []float64{4.2, 5.0, 6.2, 6.1, 4.9, 4.4}
	for i, s := range st.Spread {
		if !near(s.C, spreads[i], 1e-9) {
			t.Errorf("spread at instant %d = %v, want %v", i+1, s.C, spreads[i])
		}
	}
	if st.Loggers[0].MinAt != t0 || !st.Loggers[2].MinAt.Equal(t0.Add(45*time.Minute)) {
		t.Errorf("min times %v, %v; want first instant for S1, 4th for S3", st.Loggers[0].MinAt, st.Loggers[2].MinAt)
	}
}
