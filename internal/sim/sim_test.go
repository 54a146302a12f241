package sim

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/senml"
)

var start = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// decode runs a pack through the real SenML decoder and mapping, as ingest does.
func decode(t *testing.T, d *Device, pack []byte, at time.Time) map[string]reading.Reading {
	t.Helper()
	recs, err := senml.DecodeJSON(pack, at)
	if err != nil {
		t.Fatalf("%s: %v\n%s", d.ID, err, pack)
	}
	rs, err := senml.ToReadings(recs, senml.Device{Tenant: "demo", ID: d.ID, Kind: d.Kind, Subject: d.Subject}, at)
	if err != nil {
		t.Fatalf("%s: %v\n%s", d.ID, err, pack)
	}
	out := map[string]reading.Reading{}
	for _, r := range rs {
		if !r.Measured.Equal(at) {
			t.Fatalf("%s: measured %s, want %s", d.ID, r.Measured, at)
		}
		out[r.Metric] = r
	}
	return out
}

func device(t *testing.T, f *Fleet, id string) *Device {
	t.Helper()
	for _, d := range f.Devices {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no device %s", id)
	return nil
}

func TestFleetComposition(t *testing.T) {
	f := NewFleet(Config{Seed: 1, Start: start})
	kinds := map[string]int{}
	for _, d := range f.Devices {
		kinds[d.Kind]++
	}
	want := map[string]int{"monitor": 12, "wearable": 8, "bp_monitor": 8, "environment": 8}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d devices of kind %s, want %d", kinds[k], k, n)
		}
	}
}

// TestEveryPackIsValidSenML: every device's packs over three hours pass the real decoder and
// metric mapping, with plausible values in canonical units.
func TestEveryPackIsValidSenML(t *testing.T) {
	f := NewFleet(Config{Seed: 7, Start: start})
	for _, d := range f.Devices {
		for at := start; at.Before(start.Add(3 * time.Hour)); at = at.Add(7 * time.Minute) {
			at := at.Truncate(time.Millisecond)
			for key, r := range decode(t, d, f.Pack(d, at), at) {
				if r.Flags&reading.Implausible != 0 {
					t.Errorf("%s %s at %s: implausible %v", d.ID, key, at, r.Value)
				}
			}
		}
	}
}

func TestReproducibleFromSeed(t *testing.T) {
	a, b, c := NewFleet(Config{Seed: 42, Start: start}), NewFleet(Config{Seed: 42, Start: start}), NewFleet(Config{Seed: 43, Start: start})
	at := start.Add(37 * time.Minute)
	differs := 0
	for i := range a.Devices {
		pa, pb, pc := a.Pack(a.Devices[i], at), b.Pack(b.Devices[i], at), c.Pack(c.Devices[i], at)
		if !bytes.Equal(pa, pb) {
			t.Fatalf("%s: same seed, different packs:\n%s\n%s", a.Devices[i].ID, pa, pb)
		}
		if !bytes.Equal(pa, pc) {
			differs++
		}
	}
	if differs < len(a.Devices)/2 {
		t.Fatalf("another seed changed only %d of %d packs", differs, len(a.Devices))
	}
}

func TestScenarios(t *testing.T) {
	f := NewFleet(Config{Seed: 3, Start: start})
	value := func(id, metric string, after time.Duration) float64 {
		t.Helper()
		d := device(t, f, id)
		at := start.Add(after)
		r, ok := decode(t, d, f.Pack(d, at), at)[metric]
		if !ok {
			t.Fatalf("%s has no %s at +%s", id, metric, after)
		}
		return r.Value
	}
	worst := DeteriorationStart + DeteriorationRamp
	// The deteriorating patient against the same bed before, and against a stable bed.
	if hr0, hr1, other := value("ward-a-bed-07", "hr", 0), value("ward-a-bed-07", "hr", worst), value("ward-a-bed-03", "hr", worst); hr1-hr0 < 30 || hr1-other < 30 {
		t.Errorf("bed 07 heart rate %.0f → %.0f (bed 03: %.0f): want a rise of 30 or more", hr0, hr1, other)
	}
	if spo2 := value("ward-a-bed-07", "spo2", worst); spo2 > 92 {
		t.Errorf("bed 07 SpO2 at the worst %.1f %%, want ≤ 92", spo2)
	}
	if rr := value("ward-a-bed-07", "rr", worst); rr < 22 {
		t.Errorf("bed 07 respiration at the worst %.0f, want ≥ 22", rr)
	}
	// Fridge door: in range before, out of range (> 8 °C) after 15 min open, and the door flag.
	if temp := value("fridge-pharmacy-logger", "temp_ambient", DoorOpenAt-time.Minute); temp > 7 {
		t.Errorf("pharmacy fridge before the door opens: %.2f °C", temp)
	}
	if temp := value("fridge-pharmacy-logger", "temp_ambient", DoorOpenAt+15*time.Minute); temp < 8 {
		t.Errorf("pharmacy fridge 15 min after the door opened: %.2f °C, want > 8", temp)
	}
	d := device(t, f, "fridge-pharmacy-logger")
	if !bytes.Contains(f.Pack(d, start.Add(DoorOpenAt+time.Minute)), []byte(`"n":"door-open","vb":true`)) {
		t.Error("door-open is not true while the door is open")
	}
	if temp := value("fridge-pharmacy-logger", "temp_ambient", DoorOpenAt+DoorOpenFor+time.Hour); temp > 7 {
		t.Errorf("pharmacy fridge an hour after the door closed: %.2f °C, want back in range", temp)
	}
	if temp := value("fridge-ward-2-logger", "temp_ambient", PowerCutAt+40*time.Minute); temp < 8 {
		t.Errorf("ward fridge 2, 40 min into the power cut: %.2f °C, want > 8", temp)
	}
	if temp := value("truck-2-logger", "temp_ambient", CoolingFailsAt+time.Hour); temp < 12 {
		t.Errorf("truck 2 an hour after its cooling failed: %.2f °C, want > 12", temp)
	}
	if temp := value("truck-1-logger", "temp_ambient", CoolingFailsAt+time.Hour); temp > 7 {
		t.Errorf("truck 1 (cooling works): %.2f °C", temp)
	}
	if temp := value("ult-80-logger", "temp_ambient", time.Hour); temp > -75 || temp < -85 {
		t.Errorf("ULT freezer %.2f °C", temp)
	}
	// The trucks move.
	lat0, lat1 := value("truck-1-logger", "lat", 0), value("truck-1-logger", "lat", 30*time.Minute)
	if lat0 == lat1 || lat1 < 51.5 || lat1 > 52.4 {
		t.Errorf("truck 1 latitude %.5f → %.5f", lat0, lat1)
	}
}

type recordingSender struct {
	mu    sync.Mutex
	packs map[string]int
}

func (s *recordingSender) Send(_ context.Context, d *Device, pack []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packs[d.ID]++
	return nil
}

func TestRunSendsOnEachDevicesSchedule(t *testing.T) {
	f := NewFleet(Config{Seed: 1, Start: time.Now(), Beds: 3, HomePatients: 1, MonitorPeriod: 40 * time.Millisecond})
	s := &recordingSender{packs: map[string]int{}}
	ctx, cancel := context.WithTimeout(t.Context(), 450*time.Millisecond)
	defer cancel()
	if err := f.Run(ctx, s, slog.New(slog.DiscardHandler)); err != context.DeadlineExceeded {
		t.Fatalf("Run: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range []string{"ward-a-bed-01", "ward-a-bed-02", "ward-a-bed-03"} {
		if n := s.packs[id]; n < 6 || n > 12 {
			t.Errorf("%s sent %d packs in 450 ms at 40 ms, want about 11", id, n)
		}
	}
	if n := s.packs["fridge-pharmacy-logger"]; n > 1 {
		t.Errorf("a once-a-minute logger sent %d packs in 450 ms", n)
	}
}
