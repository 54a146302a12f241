package coldchainproc

import "testing"

// TestExcursionMKTExampleM4: spec M4 (CCT, hourly readings): excursion 1 (24–27 h) reports
// 8.08 °C from its start-anchored window (end-anchored 6.80), not met; excursion 2 (36–42 h)
// 8.08 end-anchored, 6.56 start-anchored.
func TestExcursionMKTExampleM4(t *testing.T) {
	e := newEnv(t)
	e.unit("u", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 0, IntervalS: 3600})
	for h := 0; h < 60; h++ {
		c := 5.0
		switch {
		case h >= 24 && h <= 26:
			c = 14
		case h >= 36 && h <= 41:
			c = 10
		}
		e.feed(one(temp("u-logger", at(60*h), c)))
	}
	e.clock.Set(at(61 * 60))
	exs := e.excursions("u")
	if len(exs) != 2 {
		t.Fatalf("%d excursions, want 2", len(exs))
	}
	want := []struct{ end, start, reported float64 }{{6.8042, 8.0795, 8.0795}, {8.0795, 6.5578, 8.0795}}
	for i, w := range want {
		d, err := e.svc.Excursion(t.Context(), tenant, exs[i].ID)
		e.must(err)
		m := d.MKT
		if m == nil || m.Class != "CCT" || m.EndAnchored.Celsius == nil || m.StartAnchored.Celsius == nil ||
			!near(*m.EndAnchored.Celsius, w.end, 0.005) || !near(*m.StartAnchored.Celsius, w.start, 0.005) ||
			!near(m.Celsius, w.reported, 0.005) || m.Met || m.Provisional {
			t.Errorf("excursion %d MKT %+v, want end %.2f, start %.2f, reported %.2f, not met", i+1, m, w.end, w.start, w.reported)
		}
	}
}
