package coldchain

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// roundTrip passes v through JSON, as a processor persisting it would.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDetectorStateResume splits X1 (with the X2 door signal and an X4-style gap) at every
// reading: saving the state, restoring it and feeding the rest gives the same events as one
// uninterrupted run.
func TestDetectorStateResume(t *testing.T) {
	s := append(series(t0, 5*time.Minute, 5.0, 5.2, 7.9, 8.4, 9.1, 10.2, 9.6, 8.2, 7.8, 8.1, 7.6, 6.0, 5.1),
		series(t0.Add(2*time.Hour), 5*time.Minute, 9.0, 9.5, 7.0)...)
	cfg := DetectorConfig{Limit: 8, Hysteresis: 0.3, Timing: Timing{Nominal: 5 * time.Minute}, AlarmDelay: 30 * time.Minute,
		DoorTolerance: 10 * time.Minute}
	feed := func(d *Detector, part []Sample) []Event {
		var out []Event
		for _, x := range part {
			if x.At.Equal(t0.Add(15 * time.Minute)) {
				d.Door(t0.Add(12*time.Minute), true)
			}
			var err error
			if out, err = d.Observe(out, x); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	want := feed(mustDetector(t, cfg), s)
	if len(only(want, ExcursionEnded)) != 2 {
		t.Fatalf("reference run: %d ended excursions, want 2", len(only(want, ExcursionEnded)))
	}
	for k := range len(s) + 1 {
		d := mustDetector(t, cfg)
		got := feed(d, s[:k])
		r, err := RestoreDetector(cfg, roundTrip(t, d.State()))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, feed(r, s[k:])...)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d: events\n%+v\nwant\n%+v", k, got, want)
		}
	}
}

// TestChargerBudgetStateResume runs a leg shaped like B1 step 4 (S-2's courier leg: 9 readings
// in [0, 2), 51 in (8, 25], a 7.5 °C reading, then a 120-min gap closed by 9.0 °C) split at every
// reading: B1's 8.75 h in band A (plus the closing 9.0 °C reading's own 5 min, which B1 counts
// among its 51) and 0.75 h in band B, whatever the split.
func TestChargerBudgetStateResume(t *testing.T) {
	prof := Profile{Labelled: Ranges{{Lo: 2, Hi: 8}}, Rules: []BudgetRule{
		{ID: "A", Kind: CumulativeInBand, Band: Band{Lo: 8, Hi: 25, LoOpen: true}, Limit: 72 * time.Hour},
		{ID: "B", Kind: CumulativeInBand, Band: Band{Lo: 0, Hi: 2, HiOpen: true}, Limit: 72 * time.Hour},
	}}
	tm := Timing{Nominal: 5 * time.Minute}
	start := time.Date(2025, 3, 18, 6, 0, 0, 0, time.UTC)
	var s []Sample
	at := start
	add := func(n int, c float64) {
		for range n {
			s = append(s, Sample{At: at, Celsius: c})
			at = at.Add(5 * time.Minute)
		}
	}
	add(9, 1.5)  // band B: 0.75 h
	add(51, 9.5) // band A: 4.25 h
	s = append(s, Sample{At: at, Celsius: 7.5})
	at = at.Add(125 * time.Minute) // 10:05–12:05 gap charged to A at 9.0 °C: 2 h
	add(1, 9.0)                    // the 9.0 °C reading itself is charged until the next reading
	add(1, 5.0)
	carried := BudgetState{Consumed: map[string]time.Duration{"A": 150 * time.Minute}}
	feed := func(c *Charger, b *Budget, part []Sample) {
		var xs []Exposure
		for _, x := range part {
			var err error
			if xs, err = c.Observe(xs[:0], x); err != nil {
				t.Fatal(err)
			}
			for _, e := range xs {
				b.Apply(nil, e)
			}
		}
	}
	for k := range len(s) + 1 {
		c, err := NewCharger("logger-1", tm, prof.Labelled)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewBudget(prof, carried)
		if err != nil {
			t.Fatal(err)
		}
		feed(c, b, s[:k])
		c2, err := RestoreCharger("logger-1", tm, prof.Labelled, roundTrip(t, c.State()))
		if err != nil {
			t.Fatal(err)
		}
		b2, err := RestoreBudget(prof, roundTrip(t, b.State), b.Runs())
		if err != nil {
			t.Fatal(err)
		}
		feed(c2, b2, s[k:])
		// A: 2.50 carried + 4.25 + 2.00 gap + the 9.0 °C reading's 5 min; B: 0.75 h.
		wantA := 150*time.Minute + 255*time.Minute + 120*time.Minute + 5*time.Minute
		if got := b2.State.Consumed["A"]; got != wantA {
			t.Fatalf("split at %d: A = %v, want %v", k, got, wantA)
		}
		if got := b2.State.Consumed["B"]; got != 45*time.Minute {
			t.Fatalf("split at %d: B = %v, want 45m", k, got)
		}
	}
}

func TestDoorAndGeofenceStateResume(t *testing.T) {
	var m DoorMonitor
	m.Observe(nil, t0, true)
	var r DoorMonitor
	r.Restore(roundTrip(t, m.State()))
	if ev := r.Check(nil, t0.Add(10*time.Minute)); len(ev) != 1 || ev[0].Kind != DoorLeftOpen {
		t.Fatalf("restored door monitor: %+v, want DOOR_LEFT_OPEN after 10 min", ev)
	}
	cfg := GeofenceConfig{Lat: 52, Lon: 5, Radius: 500, Dwell: time.Minute}
	g, err := NewGeofence(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.Observe(Fix{At: t0, Lat: 52.1, Lon: 5})
	g.Observe(Fix{At: t0.Add(2 * time.Minute), Lat: 52.1, Lon: 5}) // known: outside
	g.Observe(Fix{At: t0.Add(3 * time.Minute), Lat: 52, Lon: 5})   // candidate inside
	g2, err := RestoreGeofence(cfg, roundTrip(t, g.State()))
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := g2.Observe(Fix{At: t0.Add(4 * time.Minute), Lat: 52, Lon: 5})
	if !ok || !ev.Arrived || !ev.At.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("restored geofence: %+v %v, want arrival dated +3 min", ev, ok)
	}
}
