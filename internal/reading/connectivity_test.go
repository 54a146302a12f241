package reading

import (
	"slices"
	"testing"
	"time"
)

func TestConnectedIsAServerMetric(t *testing.T) {
	m, ok := LookupMetric(MetricConnected)
	if !ok || !m.Server || !m.Flag || !m.Fleet || m.Unit != "1" {
		t.Fatalf("LookupMetric(%q) = %+v, %v; want a server fleet flag with unit 1", MetricConnected, m, ok)
	}
	if slices.Contains(MetricKeys(), MetricConnected) {
		t.Errorf("MetricKeys() lists %q: a device could then send it", MetricConnected)
	}
	if !slices.Contains(MetricKeys(), "sensor_off") {
		t.Errorf("MetricKeys() lost the device flag sensor_off")
	}
}

func TestConnectivityReading(t *testing.T) {
	at := time.Date(2026, 12, 8, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	up := Connectivity("acme", "bed4-mon", "P-1", true, ConnOpened, at)
	if err := up.Validate(); err != nil {
		t.Fatalf("Connectivity(connected).Validate() = %v", err)
	}
	if up.Value != 1 || up.Kind != Bool || up.Text != ConnOpened || up.Subject != "P-1" ||
		!up.Measured.Equal(at) || up.Measured.Location() != time.UTC || !up.Received.Equal(at) {
		t.Errorf("Connectivity(connected) = %+v", up)
	}
	again := Connectivity("acme", "bed4-mon", "P-1", true, ConnOpened, at.UTC())
	if again.ID != up.ID {
		t.Errorf("the same event appended again has id %s, want %s (de-duplicated)", again.ID, up.ID)
	}
	down := Connectivity("acme", "bed4-mon", "P-1", false, ConnLost, at.Add(time.Second))
	if down.Value != 0 || down.Text != ConnLost || down.ID == up.ID {
		t.Errorf("Connectivity(lost) = %+v, want value 0 and its own id", down)
	}
	if err := down.Validate(); err != nil {
		t.Errorf("Connectivity(lost).Validate() = %v", err)
	}
}
