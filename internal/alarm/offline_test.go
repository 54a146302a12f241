package alarm

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// offlineScript drives a TechEvaluator with connectivity changes and checks, and renders what
// it decides as "sec STATUS PRIORITY at=sec onset=sec".
type offlineScript struct {
	x    *TechEvaluator
	base time.Time
	home bool
	out  []string
}

func newOfflineScript(base time.Time) *offlineScript {
	return &offlineScript{x: NewTechEvaluator(), base: base}
}

func (s *offlineScript) sec(t time.Time) int { return int(t.Sub(s.base) / time.Second) }

func (s *offlineScript) render(when int, cs []Condition) {
	for _, c := range cs {
		if c.Code != DeviceOffline || c.Metric != reading.MetricConnected || c.Device != "mon1" || c.Subject != "pat1" || c.Unit != "ward1" {
			s.out = append(s.out, fmt.Sprintf("unexpected %+v", c))
			continue
		}
		s.out = append(s.out, fmt.Sprintf("%d %s %s at=%d onset=%d", when, c.Status, c.Priority, s.sec(c.At), s.sec(c.Onset)))
	}
}

// change feeds a connectivity change at base+ms (milliseconds, for sub-second boundaries).
func (s *offlineScript) change(ms int, connected, lost bool) {
	at := s.base.Add(time.Duration(ms) * time.Millisecond)
	s.render(ms/1000, s.x.Connectivity(Connectivity{Tenant: "t1", Device: "mon1", Subject: "pat1", Unit: "ward1",
		Connected: connected, Lost: lost, At: at, Home: s.home}, nil))
}

func (s *offlineScript) check(ms int) {
	s.render(ms/1000, s.x.Check(s.base.Add(time.Duration(ms)*time.Millisecond), nil))
}

// TestDeviceOffline: spec §8 DEVICE_OFFLINE — transport session lost for more than 30 s;
// MEDIUM on the ward, LOW at home; clears on reconnect. Times in the cases are milliseconds
// after the base; every script starts with the device connected at 0.
func TestDeviceOffline(t *testing.T) {
	const (
		up    = "up"    // reconnect
		lost  = "lost"  // session lost (connection dropped, will sent)
		clean = "clean" // normal DISCONNECT
		check = "check"
	)
	type step struct {
		ms   int
		what string
	}
	base := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		home  bool
		steps []step
		want  []string
	}{
		{"lost for 29 s: nothing", false,
			[]step{{10_000, lost}, {39_000, check}}, nil},
		{"lost for exactly 30 s: not yet more than 30 s", false,
			[]step{{10_000, lost}, {40_000, check}}, nil},
		{"lost for 30.001 s: MEDIUM at lost + 30 s", false,
			[]step{{10_000, lost}, {39_999, check}, {40_001, check}},
			[]string{"40 PRESENT MEDIUM at=40 onset=10"}},
		{"raised once, cleared by the reconnect", false,
			[]step{{10_000, lost}, {41_000, check}, {42_000, check}, {100_000, check}, {130_000, up}, {200_000, check}},
			[]string{"41 PRESENT MEDIUM at=40 onset=10", "130 CLEARED MEDIUM at=130 onset=130"}},
		{"reconnect within 30 s: nothing, ever", false,
			[]step{{10_000, lost}, {35_000, up}, {41_000, check}, {300_000, check}}, nil},
		{"a repeated lost report keeps the first time", false,
			[]step{{10_000, lost}, {30_000, lost}, {41_000, check}},
			[]string{"41 PRESENT MEDIUM at=40 onset=10"}},
		{"a clean disconnect is not a lost session", false,
			[]step{{10_000, clean}, {41_000, check}, {600_000, check}, {700_000, up}}, nil},
		{"a clean disconnect after a quick reconnect stops nothing twice", false,
			[]step{{10_000, lost}, {20_000, up}, {25_000, clean}, {60_000, check}}, nil},
		{"a clean disconnect stops a running timer", false,
			[]step{{10_000, lost}, {20_000, clean}, {41_000, check}}, nil},
		{"lost again after a reconnect: a new timer", false,
			[]step{{10_000, lost}, {20_000, up}, {50_000, lost}, {79_000, check}, {81_000, check}, {90_000, up}},
			[]string{"81 PRESENT MEDIUM at=80 onset=50", "90 CLEARED MEDIUM at=90 onset=90"}},
		{"home device: LOW", true,
			[]step{{10_000, lost}, {41_000, check}, {50_000, up}},
			[]string{"41 PRESENT LOW at=40 onset=10", "50 CLEARED LOW at=50 onset=50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newOfflineScript(base)
			s.home = tt.home
			s.change(0, true, false)
			if len(s.out) != 1 || s.out[0] != "0 CLEARED MEDIUM at=0 onset=0" && s.out[0] != "0 CLEARED LOW at=0 onset=0" {
				t.Fatalf("first connect seen: %q, want one CLEARED (for an alarm opened before a restart)", s.out)
			}
			s.out = nil
			for _, st := range tt.steps {
				switch st.what {
				case up:
					s.change(st.ms, true, false)
				case lost:
					s.change(st.ms, false, true)
				case clean:
					s.change(st.ms, false, false)
				case check:
					s.check(st.ms)
				}
			}
			eq(t, "DEVICE_OFFLINE conditions", s.out, tt.want)
		})
	}
}

// TestDeviceOfflineThroughTheEngine: the conditions open an ACTIVE alarm and resolve it; after
// a restart from a checkpoint (a fresh evaluator, the alarm still open in the engine), the
// device's first reconnect resolves it all the same.
func TestDeviceOfflineThroughTheEngine(t *testing.T) {
	base := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	h := newHarness(t, base)
	x := NewTechEvaluator()
	conn := func(x *TechEvaluator, sec int, connected, lost bool) {
		for _, c := range x.Connectivity(Connectivity{Tenant: "t1", Device: "mon1", Subject: "pat1", Unit: "ward1",
			Connected: connected, Lost: lost, At: h.at(sec)}, nil) {
			h.cond(c)
		}
	}
	conn(x, 0, true, false) // the first connect's CLEARED matches nothing: no event
	conn(x, 5, false, true)
	for _, c := range x.Check(h.at(36), nil) {
		h.cond(c)
	}
	a := h.onlyOpen().Alarm
	if a.Code != DeviceOffline || a.Priority != Medium || a.Kind != Technical || a.Device != "mon1" || !a.FirstViolation.Equal(h.at(5)) {
		t.Errorf("alarm = %+v, want DEVICE_OFFLINE MEDIUM technical of mon1 since the loss at 5 s", a)
	}
	x = NewTechEvaluator() // the processor restarted after a checkpoint that holds the alarm
	conn(x, 60, true, false)
	eq(t, "transitions", h.stateLog(), []string{"35 >ACTIVE", "60 ACTIVE>RESOLVED"})
}

// TestConnectedIsNoDataSource: connectivity readings are sent on change and never raise
// NO_DATA, however long the device stays connected.
func TestConnectedIsNoDataSource(t *testing.T) {
	base := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	x := NewTechEvaluator()
	r := reading.Connectivity("t1", "mon1", "pat1", true, reading.ConnOpened, base)
	if out := x.Reading(&r, "ward1", nil); len(out) != 0 {
		t.Fatalf("Reading(connected) = %+v, want nothing", out)
	}
	hr := mkReading("t1", "mon1", "pat1", "hr", 70, base)
	x.Reading(&hr, "ward1", nil)
	out := x.Check(base.Add(10*time.Minute), nil)
	if len(out) != 1 || out[0].Code != NoData || out[0].Metric != "hr" {
		t.Fatalf("Check after 10 min = %+v, want NO_DATA for hr only", out)
	}
}
