package coldchain

import (
	"math"
	"testing"
	"time"
)

func TestHaversine(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64
	}{
		{"same point", 52.52, 13.405, 52.52, 13.405, 0},
		{"one degree of latitude", 0, 0, 1, 0, EarthRadius * math.Pi / 180},
		{"quarter of the equator", 0, 0, 0, 90, EarthRadius * math.Pi / 2},
		{"pole to pole", 90, 0, -90, 0, EarthRadius * math.Pi},
		{"antimeridian", 0, 179.5, 0, -179.5, EarthRadius * math.Pi / 180},
		// 60° N: a degree of longitude is cos(60°) shorter along the parallel; the great circle is a little shorter still.
		{"one degree of longitude at 60° N", 60, 0, 60, 1, 2 * EarthRadius * math.Asin(math.Cos(math.Pi/3)*math.Sin(math.Pi/360))},
	}
	for _, tt := range tests {
		if got := Haversine(tt.lat1, tt.lon1, tt.lat2, tt.lon2); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("%s: Haversine = %.6f m, want %.6f", tt.name, got, tt.want)
		}
	}
}

func TestGeofence(t *testing.T) {
	g, err := NewGeofence(GeofenceConfig{Lat: 0, Lon: 0, Radius: 500, Margin: 50, Dwell: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	perM := 1 / (EarthRadius * math.Pi / 180) // degrees of latitude per metre
	at := func(min int, metres float64) Fix {
		return Fix{At: t0.Add(time.Duration(min) * time.Minute), Lat: metres * perM}
	}
	type step struct {
		fix     Fix
		event   bool
		arrived bool
		atMin   int
	}
	steps := []step{
		{fix: at(0, 5000)}, {fix: at(1, 4000)}, {fix: at(2, 3000)}, // outside confirmed at 2: first state, no event
		{fix: at(3, 400)}, {fix: at(4, 300)}, // inside for 1 min: not yet
		{fix: at(5, 200), event: true, arrived: true, atMin: 3},
		{fix: at(6, 530)}, {fix: at(7, 540)}, {fix: at(9, 520)}, // in the margin: stays inside
		{fix: at(10, 600)}, {fix: at(11, 450)}, // one fix outside then back: no departure
		{fix: at(12, 600)}, {fix: at(13, 700)},
		{fix: at(14, 900), event: true, arrived: false, atMin: 12},
	}
	for i, s := range steps {
		ev, ok := g.Observe(s.fix)
		if ok != s.event || (ok && (ev.Arrived != s.arrived || !ev.At.Equal(t0.Add(time.Duration(s.atMin)*time.Minute)))) {
			t.Errorf("step %d (%v): event %+v %v, want %v arrived=%v at %d min", i, s.fix.At.Sub(t0), ev, ok, s.event, s.arrived, s.atMin)
		}
	}
	if _, err := NewGeofence(GeofenceConfig{Radius: 0}); err == nil {
		t.Errorf("zero radius: nil error, want one")
	}
}

func TestDoorMonitor(t *testing.T) {
	var m DoorMonitor
	m0 := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	var ev []DoorEvent
	ev = m.Observe(ev, m0(0), false)
	ev = m.Observe(ev, m0(1), true)
	ev = m.Observe(ev, m0(3), false) // 2-min opening: no warning
	ev = m.Observe(ev, m0(5), true)
	ev = m.Check(ev, m0(14))
	ev = m.Check(ev, m0(15)) // 10 min open: left open
	ev = m.Observe(ev, m0(16), true)
	ev = m.Observe(ev, m0(20), false)
	want := []DoorEvent{
		{DoorOpened, m0(1), 0}, {DoorClosed, m0(3), 2 * time.Minute}, {DoorOpened, m0(5), 0},
		{DoorLeftOpen, m0(15), 10 * time.Minute}, {DoorClosed, m0(20), 15 * time.Minute},
	}
	if len(ev) != len(want) {
		t.Fatalf("door events %v, want %v", ev, want)
	}
	for i := range want {
		if ev[i].Kind != want[i].Kind || !ev[i].At.Equal(want[i].At) || ev[i].Open != want[i].Open {
			t.Errorf("door event %d = %+v, want %+v", i, ev[i], want[i])
		}
	}
}
