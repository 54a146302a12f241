package coldchainproc

import (
	"math"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

func (e *env) store(rs ...reading.Reading) {
	e.t.Helper()
	if _, err := e.st.InsertReadings(e.t.Context(), rs); err != nil {
		e.t.Fatal(err)
	}
}

// TestUnitMKTExampleM5: spec M5 (uneven spacing, sample-and-hold) from stored readings of a
// unit: 7.61 °C; the unweighted 7.73 °C must not come out.
func TestUnitMKTExampleM5(t *testing.T) {
	e := newEnv(t)
	e.unit("u", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 3600})
	for _, p := range []struct {
		m int
		c float64
	}{{0, 5.0}, {10, 5.4}, {25, 9.0}, {27, 12.0}, {60, 7.5}, {120, 5.0}} {
		e.store(temp("u-logger", at(p.m), p.c))
	}
	m, err := e.svc.SourceMKT(t.Context(), tenant, AtUnit, "u", at(0), at(180))
	e.must(err)
	if m.Celsius == nil || !near(*m.Celsius, 7.6133, 0.005) || m.Status != "OK" || m.Coverage != 1 {
		t.Fatalf("M5 MKT %+v, want 7.61 °C, OK, coverage 1", m)
	}
}

// TestUnitMKTExampleM6Gap: spec M6 (5-min readings with a 355-min gap): MKT over covered time
// 6.06 °C, coverage 41.3 %, INSUFFICIENT_COVERAGE; the filled-gap answer 5.45 °C must not come out.
func TestUnitMKTExampleM6Gap(t *testing.T) {
	e := newEnv(t)
	e.unit("u", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 300})
	for i := 0; i <= 24; i++ {
		e.store(temp("u-logger", at(5*i), 5.0))
		e.store(temp("u-logger", at(480+5*i), 7.0))
	}
	m, err := e.svc.SourceMKT(t.Context(), tenant, AtUnit, "u", at(0), at(605))
	e.must(err)
	if m.Celsius == nil || !near(*m.Celsius, 6.0604, 0.005) || !near(m.Coverage, 250.0/605, 1e-9) || m.Status != "INSUFFICIENT_COVERAGE" {
		t.Fatalf("M6 MKT %+v, want 6.06 °C over covered time, coverage 0.413, INSUFFICIENT_COVERAGE", m)
	}
}

// TestLotMKTAcrossCustodyM2: a lot 12 h at 20 °C in unit a, then 12 h at 30 °C in unit b has
// the MKT of spec M2, 26.26 °C: the lot's MKT joins its custody segments.
func TestLotMKTAcrossCustodyM2(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	l := Limits{LowC: 2, HighC: 40, HysteresisC: 0.3, IntervalS: 3600}
	e.unit("a", l)
	e.unit("b", l)
	e.clock.Set(at(0))
	e.lot("L1", AtUnit, "a")
	for h := 0; h < 12; h++ {
		e.store(temp("a-logger", at(60*h), 20))
		e.store(temp("b-logger", at(60*(h+12)), 30))
	}
	e.clock.Set(at(12 * 60))
	_, err := e.svc.MoveLot(ctx, e.admin, tenant, "L1", Move{To: struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}{AtUnit, "b"}, Reason: "moved"})
	e.must(err)
	e.clock.Set(at(24 * 60))
	m, err := e.svc.LotMKT(ctx, tenant, "L1", at(0), at(24*60))
	e.must(err)
	if m.Celsius == nil || !near(*m.Celsius, 26.2599, 0.005) || m.Coverage != 1 {
		t.Fatalf("lot MKT %+v, want 26.26 °C with full coverage", m)
	}
	sr, err := e.svc.LotSeries(ctx, tenant, "L1", at(0), at(24*60))
	e.must(err)
	if len(sr.Points) != 24 || sr.Points[0].Source != "a" || sr.Points[23].Source != "b" || sr.Limits.HighC != 8 {
		t.Fatalf("lot series %d points (%+v … %+v), limits %+v; want 24 from a then b, product limits", len(sr.Points), sr.Points[0], sr.Points[len(sr.Points)-1], sr.Limits)
	}
}

// TestLiveMKT24Constant: the live status MKT of a constant series is that constant (spec M1).
func TestLiveMKT24Constant(t *testing.T) {
	e := newEnv(t)
	e.unit("u", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 900})
	for i := range 100 {
		e.feed(one(temp("u-logger", at(15*i), 5.0)))
	}
	st, err := e.svc.status(t.Context(), tenant, "u")
	e.must(err)
	if st.MKT24hC == nil || !near(*st.MKT24hC, 5.0, 1e-9) {
		t.Fatalf("live MKT %v, want 5.00", st.MKT24hC)
	}
}

// TestHourMKTMatchesWindow: the hourly sums of the live MKT give spec M3's CCT 24-h value
// when the window is whole hours (end-anchored [354 h, 378 h): 6.46 °C).
func TestHourMKTMatchesWindow(t *testing.T) {
	var hs []hourMKT
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 1512; i++ {
		c := 5.0 + 1.5*sinTurn(float64(i)/96)
		if i >= 1500 && i < 1512 {
			c = 12
		}
		from := start.Add(time.Duration(i) * 15 * time.Minute)
		hs = addExposure(hs, from, from.Add(15*time.Minute), c)
	}
	m, cov, ok := mkt24(hs, start.Add(378*time.Hour-time.Nanosecond))
	if !ok || !near(m, 6.4559, 0.005) || cov != 1 {
		t.Fatalf("hourly MKT of [354 h, 378 h) = %v (coverage %v), want 6.46", m, cov)
	}
}

func sinTurn(x float64) float64 { return math.Sin(2 * math.Pi * x) }
