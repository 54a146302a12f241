package alarm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var noon = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// S1 — delay filters a transient.
func TestS1DelayFiltersTransient(t *testing.T) {
	h := newHarness(t, noon)
	for i, v := range []float64{89, 88, 88, 89, 90} {
		h.read(i, "spo2", v)
	}
	eq(t, "states", h.stateLog(), []string{"0 >PENDING", "4 PENDING>DISCARDED CLEARED_BEFORE_DELAY"})
	eq(t, "notifications", h.noteLog(), nil)
	if len(h.events) != 2 || h.events[0].Type != EvCreated || h.events[1].Type != EvStateChanged {
		t.Errorf("audit = %v, want CREATED, STATE_CHANGED", h.events)
	}
}

// S2 — MEDIUM alarm, escalation, acknowledgement, clear.
func TestS2MediumEscalationAckClear(t *testing.T) {
	h := newHarness(t, noon)
	h.series(0, 199, "spo2", 88)
	if err := h.do(200, Command{Action: ActAcknowledge, Actor: actor("C", CapChargeNurse)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	tr := h.onlyOpen()
	if want := h.at(1100); !tr.ReAlarmAt.Equal(want) {
		t.Errorf("re-alarm due %v, want %v", tr.ReAlarmAt, want)
	}
	h.series(200, 259, "spo2", 88)
	h.series(260, 275, "spo2", 92)
	eq(t, "states", h.stateLog(), []string{"0 >PENDING", "15 PENDING>ACTIVE", "200 ACTIVE>ACKNOWLEDGED", "270 ACKNOWLEDGED>RESOLVED"})
	eq(t, "notifications", h.noteLog(), []string{
		"15 ALERT A t0", "135 RENOTIFY A t0", "195 ALERT B t1", "195 ALERT C t1",
		"200 ACCEPTED A t0", "200 ACCEPTED B t1",
		"270 ENDED A t0", "270 ENDED B t1", "270 ENDED C t1",
	})
}

func (c Command) withID(h *harness) Command {
	h.t.Helper()
	c.AlarmID = h.onlyOpen().Alarm.ID
	return c
}

// S3 — HIGH desaturation, full escalation.
func TestS3HighDesatFullEscalation(t *testing.T) {
	h := newHarness(t, noon)
	h.series(0, 139, "spo2", 79)
	if err := h.do(140, Command{Action: ActAcknowledge, Actor: actor("D", CapRRT)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	h.series(140, 179, "spo2", 79)
	h.series(180, 195, "spo2", 95)
	eq(t, "states", h.stateLog(), []string{"0 >ACTIVE", "140 ACTIVE>ACKNOWLEDGED", "190 ACKNOWLEDGED>RESOLVED"})
	eq(t, "notifications", h.noteLog(), []string{
		"0 ALERT A t0", "0 ALERT B t0",
		"30 RENOTIFY A t0", "30 RENOTIFY B t0",
		"60 ALERT C t1", "60 RENOTIFY A t0", "60 RENOTIFY B t0",
		"90 RENOTIFY A t0", "90 RENOTIFY B t0", "90 RENOTIFY C t1",
		"120 ALERT D t2", "120 RENOTIFY A t0", "120 RENOTIFY B t0", "120 RENOTIFY C t1",
		"140 ACCEPTED A t0", "140 ACCEPTED B t0", "140 ACCEPTED C t1",
		"190 ENDED A t0", "190 ENDED B t0", "190 ENDED C t1", "190 ENDED D t2",
	})
}

func vt(h *harness, st Status, sec int) {
	h.cond(Condition{Tenant: "t1", Subject: "pat1", Device: "dev1", Metric: "ecg", Code: ECGVTach, Kind: Physiological,
		Priority: High, Latching: true, Status: st, At: h.at(sec), Onset: h.at(sec)})
}

// S4 — latching arrhythmia.
func TestS4LatchingArrhythmia(t *testing.T) {
	h := newHarness(t, noon)
	vt(h, StatusPresent, 0)
	vt(h, StatusCleared, 8)
	if err := h.do(40, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	h.until(h.at(600))
	eq(t, "states", h.stateLog(), []string{"0 >ACTIVE", "8 ACTIVE>LATCHED", "40 LATCHED>RESOLVED", "40 LATCHED>RESOLVED"})
	eq(t, "notifications", h.noteLog(), []string{"0 ALERT A t0", "0 ALERT B t0", "30 RENOTIFY A t0", "30 RENOTIFY B t0", "40 ACCEPTED B t0"})
}

// S5 — recurrence while latched.
func TestS5RecurrenceWhileLatched(t *testing.T) {
	h := newHarness(t, noon)
	vt(h, StatusPresent, 0)
	vt(h, StatusCleared, 8)
	vt(h, StatusPresent, 35)
	tr := h.onlyOpen()
	if tr.Alarm.OccurrenceCount != 2 {
		t.Errorf("occurrence_count = %d, want 2", tr.Alarm.OccurrenceCount)
	}
	vt(h, StatusCleared, 37)
	h.until(h.at(60))
	eq(t, "states", h.stateLog(), []string{"0 >ACTIVE", "8 ACTIVE>LATCHED", "35 LATCHED>ACTIVE", "37 ACTIVE>LATCHED"})
	eq(t, "notifications", h.noteLog(), []string{"0 ALERT A t0", "0 ALERT B t0", "30 RENOTIFY A t0", "30 RENOTIFY B t0",
		"60 ALERT C t1", "60 RENOTIFY A t0", "60 RENOTIFY B t0"})
}

// S6 — re-alarm after acknowledgement. Base 09:59:50.
func TestS6ReAlarmAfterAck(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 9, 59, 50, 0, time.UTC))
	h.series(0, 69, "hr", 130)
	if err := h.do(70, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	h.series(70, 970, "hr", 130) // to 10:16:00
	eq(t, "states", h.stateLog(), []string{"0 >PENDING", "10 PENDING>ACTIVE", "70 ACTIVE>ACKNOWLEDGED", "970 ACKNOWLEDGED>ACTIVE RE_ALARM"})
	eq(t, "notifications", h.noteLog(), []string{"10 ALERT A t0", "970 ALERT A t0"})
	a := h.onlyOpen().Alarm
	if !a.AnnouncedAt.Equal(h.at(970)) || a.EscalationLevel != 0 {
		t.Errorf("announced_at %v level %d, want 10:16:00 level 0", a.AnnouncedAt, a.EscalationLevel)
	}
}

// S7 — priority escalation while acknowledged. Base 10:59:30.
func TestS7PriorityEscalationWhileAcknowledged(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 10, 59, 30, 0, time.UTC))
	h.series(0, 29, "spo2", 87)
	if err := h.do(30, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	id := h.onlyOpen().Alarm.ID
	h.series(30, 269, "spo2", 87)
	h.notes = nil
	h.series(270, 330, "spo2", 78) // 11:04:00 → 11:05:00
	tr := h.onlyOpen()
	if tr.Alarm.ID != id || tr.Alarm.Priority != High || tr.Alarm.State != Active || !tr.Alarm.Latching ||
		!tr.Alarm.AnnouncedAt.Equal(h.at(270)) {
		t.Errorf("alarm = %v %v %v latching %v announced %v, want same id, HIGH, ACTIVE, latching, 11:04:00",
			tr.Alarm.ID == id, tr.Alarm.Priority, tr.Alarm.State, tr.Alarm.Latching, tr.Alarm.AnnouncedAt)
	}
	eq(t, "notifications", h.noteLog(), []string{"270 ALERT A t0", "270 ALERT B t0", "300 RENOTIFY A t0", "300 RENOTIFY B t0",
		"330 ALERT C t1", "330 RENOTIFY A t0", "330 RENOTIFY B t0"})
}

// S8 — hysteresis and clear delay (evaluator only).
func TestS8HysteresisClearDelay(t *testing.T) {
	base := time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)
	ev := NewEvaluator(nil)
	var got []Condition
	feed := func(from, to int, v float64) {
		for s := from; s <= to; s++ {
			r := mkReading("t1", "d", "p", "hr", v, base.Add(time.Duration(s)*time.Second))
			got = ev.Evaluate(Sample{Reading: &r}, got)
		}
	}
	feed(-20, -1, 125)
	got = got[:0]
	feed(0, 4, 119)
	feed(5, 10, 118)
	feed(11, 11, 121)
	feed(12, 22, 117)
	if len(got) != 1 || got[0].Code != HRHigh || got[0].Status != StatusCleared || !got[0].At.Equal(base.Add(22*time.Second)) {
		t.Fatalf("conditions = %+v, want one HR_HIGH CLEARED at 13:00:22", got)
	}
}

// S9 — dedup and a new alarm after resolution.
func TestS9DedupAndNewAlarmAfterResolution(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC))
	h.series(0, 19, "spo2", 88)
	if err := h.do(20, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	x := h.onlyOpen().Alarm.ID
	h.notes = nil
	h.series(20, 39, "spo2", 88)
	h.series(40, 44, "spo2", 91) // 5 s in band: clear delay not met
	h.series(45, 589, "spo2", 88)
	if got := h.onlyOpen().Alarm; got.ID != x || got.State != Acknowledged {
		t.Errorf("after the 5-s rise: alarm %v %s, want X ACKNOWLEDGED", got.ID == x, got.State)
	}
	eq(t, "notifications while acknowledged", h.noteLog(), nil)
	h.series(590, 600, "spo2", 93) // resolved at 14:10:00
	if len(h.c.open) != 0 || h.c.closed[x].State != Resolved || !h.c.closed[x].At.Equal(h.at(600)) {
		t.Fatalf("X = %+v, want RESOLVED at 14:10:00", h.c.closed[x])
	}
	h.events = nil
	h.series(1200, 1215, "spo2", 88)
	y := h.onlyOpen().Alarm
	if y.ID == x || y.State != Active || !y.FirstViolation.Equal(h.at(1200)) || !y.AnnouncedAt.Equal(h.at(1215)) {
		t.Errorf("Y = %v %s first %v announced %v, want new id ACTIVE 14:20:00/14:20:15", y.ID == x, y.State, y.FirstViolation, y.AnnouncedAt)
	}
}

// S10 — decline.
func TestS10Decline(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	vt(h, StatusPresent, 0)
	if err := h.do(10, Command{Action: ActDecline, Actor: actor("A", CapAssignedNurse)}.withID(h)); err != nil {
		t.Fatal(err)
	}
	h.until(h.at(120))
	eq(t, "notifications", h.noteLog(), []string{"0 ALERT A t0", "0 ALERT B t0", "10 ALERT C t1",
		"30 RENOTIFY B t0", "40 RENOTIFY C t1", "60 RENOTIFY B t0", "70 RENOTIFY C t1",
		"90 RENOTIFY B t0", "100 RENOTIFY C t1", "120 ALERT D t2", "120 RENOTIFY B t0"})
}

// S11 — no data (technical evaluator and the data-gap rule).
func TestS11NoData(t *testing.T) {
	base := time.Date(2026, 3, 2, 13, 59, 0, 0, time.UTC)
	x := NewTechEvaluator()
	ev := NewEvaluator(nil)
	var conds, phys []Condition
	for s := 0; s <= 60; s++ { // 13:59:00 … 14:00:00, 1 Hz
		v := 95.0
		if s >= 59 {
			v = 88 // SPO2_LOW PENDING at 13:59:59
		}
		r := mkReading("t1", "wear1", "pat1", "spo2", v, base.Add(time.Duration(s)*time.Second))
		conds = x.Reading(&r, "ward1", conds)
		phys = ev.Evaluate(Sample{Reading: &r}, phys)
	}
	if th := NoDataThreshold(time.Second); th != 60*time.Second {
		t.Errorf("NoDataThreshold(1s) = %v, want 60s", th)
	}
	last := base.Add(60 * time.Second)
	phys = ev.Advance(last.Add(2*time.Second), phys) // a sample exactly then would still count
	if len(phys) != 1 || phys[0].Status != StatusPending {
		t.Fatalf("at 14:00:02: %+v, want only the PENDING", phys)
	}
	phys = ev.Advance(last.Add(2*time.Second+time.Millisecond), phys)
	if len(phys) != 2 || phys[1].Status != StatusDiscarded || phys[1].Reason != ReasonDataGap || !phys[1].At.Equal(last.Add(2*time.Second)) {
		t.Fatalf("after 14:00:02: %+v, want DISCARDED DATA_GAP at 14:00:02", phys[1:])
	}
	if c := x.Check(last.Add(59*time.Second), nil); len(c) != 0 {
		t.Errorf("Check(14:00:59) = %+v, want nothing", c)
	}
	c := x.Check(last.Add(60*time.Second), nil)
	if len(c) != 1 || c[0].Code != NoData || c[0].Status != StatusPresent || c[0].Priority != Medium || !c[0].At.Equal(last.Add(60*time.Second)) {
		t.Fatalf("Check(14:01:00) = %+v, want NO_DATA MEDIUM at 14:01:00", c)
	}
	r := mkReading("t1", "wear1", "pat1", "spo2", 95, last.Add(190*time.Second))
	c = x.Reading(&r, "ward1", nil)
	if len(c) != 1 || c[0].Code != NoData || c[0].Status != StatusCleared {
		t.Fatalf("reading at 14:03:10: %+v, want NO_DATA CLEARED", c)
	}
	// A device first seen a minute ago is covered: its first reading arms NO_DATA.
	x2 := NewTechEvaluator()
	r = mkReading("t1", "new", "pat2", "hr", 70, last)
	x2.Reading(&r, "", nil)
	if c := x2.Check(last.Add(60*time.Second), nil); len(c) != 1 {
		t.Errorf("new device silent 60 s: %d conditions, want NO_DATA", len(c))
	}
}

// S12 — clock skew.
func TestS12ClockSkew(t *testing.T) {
	x := NewTechEvaluator()
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	hb := func(i int, measured time.Duration) []Condition {
		recv := base.Add(time.Duration(i) * 30 * time.Second)
		return x.Heartbeat(Heartbeat{Tenant: "t1", Device: "mon", DeviceTime: recv.Add(measured), Received: recv, Latency: 200 * time.Millisecond}, nil)
	}
	for i, m := range []time.Duration{3400 * time.Millisecond, 3500 * time.Millisecond} {
		if c := hb(i, m); len(c) != 0 {
			t.Fatalf("heartbeat %d: %+v, want nothing", i+1, c)
		}
	}
	if c := hb(2, 3300*time.Millisecond); len(c) != 1 || c[0].Code != ClockSkew || c[0].Priority != Low || c[0].Status != StatusPresent {
		t.Fatalf("third heartbeat: %+v, want CLOCK_SKEW LOW", c)
	}
	if !x.ClockSkewed("t1", "mon") {
		t.Error("ClockSkewed = false after CLOCK_SKEW")
	}
	for i := 3; i < 5; i++ {
		if c := hb(i, 900*time.Millisecond); len(c) != 0 { // skew 0.7 s < 1 s
			t.Fatalf("ok heartbeat %d: %+v, want nothing yet", i, c)
		}
	}
	if c := hb(5, 900*time.Millisecond); len(c) != 1 || c[0].Status != StatusCleared {
		t.Fatalf("third ok heartbeat: %+v, want CLEARED", c)
	}
}

// S14 — battery.
func TestS14Battery(t *testing.T) {
	h := newHarness(t, noon)
	x := NewTechEvaluator()
	for i, v := range []float64{21, 20, 22, 9, 30} {
		r := mkReading("t1", "dev1", "pat1", "battery", v, h.at(i*60))
		for _, c := range x.Reading(&r, "ward1", nil) {
			h.cond(c)
		}
		switch i {
		case 0:
			if len(h.c.open) != 0 {
				t.Fatal("21 %: alarm open, want nothing")
			}
		case 1, 2:
			if a := h.onlyOpen().Alarm; a.Code != BatteryLow || a.Priority != Low || a.State != Active {
				t.Fatalf("%v %%: %s %v %s, want BATTERY_LOW LOW ACTIVE", v, a.Code, a.Priority, a.State)
			}
		case 3:
			if a := h.onlyOpen().Alarm; a.Code != BatteryCrit || a.Priority != Medium {
				t.Fatalf("9 %%: %s %v, want BATTERY_CRITICAL MEDIUM in the same alarm", a.Code, a.Priority)
			}
		case 4:
			if len(h.c.open) != 0 {
				t.Fatal("30 %: alarm still open, want RESOLVED")
			}
		}
	}
}

// S15 — alarm pause.
func TestS15AlarmPause(t *testing.T) {
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	pause := Command{Action: ActAlarmPause, Actor: actor("A", CapAssignedNurse), Subject: "pat1", Duration: 120 * time.Second}
	h := newHarness(t, base)
	if err := h.do(0, pause); err != nil {
		t.Fatal(err)
	}
	h.series(0, 29, "spo2", 95)
	h.series(30, 300, "spo2", 85)
	eq(t, "notifications", h.noteLog(), []string{"120 ALERT A t0",
		"240 RENOTIFY A t0", "300 ALERT B t1", "300 ALERT C t1"})
	if a := h.onlyOpen().Alarm; !a.AnnouncedAt.Equal(h.at(120)) || a.FirstViolation != h.at(30) {
		t.Errorf("announced %v first %v, want 10:02:00, 10:00:30", a.AnnouncedAt, a.FirstViolation)
	}
	held := false
	for _, e := range h.events {
		if e.Type == EvAlarmPaused && e.To == Active && e.At.Equal(h.at(45)) {
			held = e.Alarm.Inactivation == AlarmPaused
		}
	}
	if !held {
		t.Error("no ACTIVE at 10:00:45 with inactivation ALARM_PAUSED")
	}

	// Variant: SpO2 79 at 10:01:00 notifies A and B despite the pause.
	h = newHarness(t, base)
	if err := h.do(0, pause); err != nil {
		t.Fatal(err)
	}
	h.series(30, 59, "spo2", 85)
	h.series(60, 61, "spo2", 79)
	eq(t, "notifications (desat)", h.noteLog(), []string{"60 ALERT A t0", "60 ALERT B t0"})
}

func TestAlarmPauseRules(t *testing.T) {
	h := newHarness(t, noon)
	tests := []struct {
		d      time.Duration
		reason string
		cap    Capacity
		want   error
	}{
		{0, "", CapAssignedNurse, nil},
		{3 * time.Minute, "", CapChargeNurse, nil},
		{3*time.Minute + time.Second, "", CapPhysician, ErrReasonRequired},
		{10 * time.Minute, "washing", CapPhysician, nil},
		{10*time.Minute + time.Second, "washing", CapPhysician, ErrInvalid},
		{time.Minute, "", CapUnitNurse, ErrForbidden},
		{time.Minute, "", CapRRT, ErrForbidden},
	}
	for _, tt := range tests {
		err := h.do(0, Command{Action: ActAlarmPause, Actor: actor("u", tt.cap), Subject: "pat1", Duration: tt.d, Reason: tt.reason})
		if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
			t.Errorf("alarm pause %v by %s (reason %q) = %v, want %v", tt.d, tt.cap, tt.reason, err, tt.want)
		}
	}
}

// A new reading never extends a pause: it ends at its fixed time.
func TestPauseNotResetByReadings(t *testing.T) {
	h := newHarness(t, noon)
	if err := h.do(0, Command{Action: ActAlarmPause, Actor: actor("A", CapAssignedNurse), Subject: "pat1", Duration: 60 * time.Second}); err != nil {
		t.Fatal(err)
	}
	h.series(0, 70, "spo2", 85)
	eq(t, "notifications", h.noteLog(), []string{"60 ALERT A t0"})
}

// TestNoDataNotClearedByOldReadings: after a silence, a store-and-forward upload of readings
// measured during the gap (arriving minutes late) keeps NO_DATA open; the first reading that is
// fresh on arrival clears it.
func TestNoDataNotClearedByOldReadings(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	x := NewTechEvaluator()
	feed := func(measured, received time.Time) []Condition {
		r := mkReading("t1", "wear1", "pat1", "spo2", 95, measured)
		r.Received = received
		return x.Reading(&r, "", nil)
	}
	for s := 0; s <= 10; s++ {
		feed(base.Add(time.Duration(s)*time.Second), base.Add(time.Duration(s)*time.Second))
	}
	last := base.Add(10 * time.Second)
	if c := x.Check(last.Add(2*time.Minute), nil); len(c) != 1 || c[0].Status != StatusPresent {
		t.Fatalf("Check 2 min later: %+v, want NO_DATA", c)
	}
	upload := last.Add(5 * time.Minute)
	if c := feed(last.Add(30*time.Second), upload); len(c) != 0 {
		t.Errorf("a reading measured 4.5 min before it arrived: %+v, want NO_DATA kept open", c)
	}
	if c := feed(upload.Add(-time.Second), upload); len(c) != 1 || c[0].Code != NoData || c[0].Status != StatusCleared {
		t.Errorf("a fresh reading: %+v, want NO_DATA cleared", c)
	}
}

// TestSignalQuality: a poor-signal flag held for more than 60 s raises SIGNAL_QUALITY_LOW
// (LOW), more than 5 min raises it to MEDIUM on the same alarm, and 30 s of good signal
// clears it; while the flag is set the device counts as poor.
func TestSignalQuality(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	x := NewTechEvaluator()
	flag := func(sec int, poor bool) []Condition {
		return x.SignalQuality(DeviceStatus{Tenant: "t1", Device: "ox1", Subject: "pat1", At: base.Add(time.Duration(sec) * time.Second)}, poor, nil)
	}
	for s := 0; s <= 60; s += 10 {
		if c := flag(s, true); len(c) != 0 {
			t.Fatalf("at %d s: %+v, want nothing before 60 s are exceeded", s, c)
		}
	}
	if !x.SignalPoor("t1", "ox1") || x.SignalPoor("t1", "other") {
		t.Error("SignalPoor wrong while flagged")
	}
	c := flag(61, true)
	if len(c) != 1 || c[0].Code != SignalQuality || c[0].Status != StatusPresent || c[0].Priority != Low || !c[0].Onset.Equal(base) {
		t.Fatalf("at 61 s: %+v, want SIGNAL_QUALITY_LOW LOW with onset 0 s", c)
	}
	if c := flag(300, true); len(c) != 0 {
		t.Fatalf("at 300 s: %+v", c)
	}
	c = flag(301, true)
	if len(c) != 1 || c[0].Priority != Medium || !c[0].Onset.Equal(base) {
		t.Fatalf("at 301 s: %+v, want MEDIUM on the same episode", c)
	}
	if c := flag(310, false); len(c) != 0 || x.SignalPoor("t1", "ox1") {
		t.Fatalf("first good sample: %+v, poor %v", c, x.SignalPoor("t1", "ox1"))
	}
	if c := flag(339, false); len(c) != 0 {
		t.Fatalf("29 s good: %+v", c)
	}
	c = flag(340, false)
	if len(c) != 1 || c[0].Status != StatusCleared {
		t.Fatalf("30 s good: %+v, want cleared", c)
	}
	if c := flag(400, true); len(c) != 0 {
		t.Fatalf("a new episode starts its own delay: %+v", c)
	}
}

// intervals is an IntervalSource over a map keyed device/metric.
type intervals map[string]time.Duration

func (m intervals) ExpectedInterval(_, device, metric string) time.Duration {
	return m[device+"/"+metric]
}

// TestNoDataConfiguredInterval: a logger configured to report once a minute is judged by
// max(3 × 60 s + 30 s, 60 s) = 210 s from its first reading, not by the 1 s default (which
// would raise NO_DATA at exactly its reporting period); configuration that arrives after the
// first reading still counts; a door contact sent on change never raises NO_DATA.
func TestNoDataConfiguredInterval(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	src := intervals{"fridge1/temp_ambient": time.Minute, "fridge1/door": -1}
	x := NewTechEvaluator()
	x.Intervals = src
	feed := func(device, metric string, at time.Time) {
		r := mkReading("t1", device, "unit1", metric, 5, at)
		x.Reading(&r, "", nil)
	}
	feed("fridge1", "temp_ambient", base)
	feed("fridge1", "door", base)
	feed("fridge2", "temp_ambient", base) // not configured yet
	src["fridge2/temp_ambient"] = time.Minute
	feed("mon1", "hr", base) // never configured: the spec's default

	c := x.Check(base.Add(61*time.Second), nil)
	if len(c) != 1 || c[0].Device != "mon1" {
		t.Fatalf("Check 61 s after the first readings = %+v, want NO_DATA for mon1 only", c)
	}
	if c := x.Check(base.Add(210*time.Second-time.Nanosecond), nil); len(c) != 0 {
		t.Fatalf("Check at 209.999… s = %+v, want nothing", c)
	}
	c = x.Check(base.Add(210*time.Second), nil)
	if len(c) != 2 || c[0].Device != "fridge1" || c[1].Device != "fridge2" || !c[0].At.Equal(base.Add(210*time.Second)) || c[0].Limit != 210 {
		t.Fatalf("Check at 210 s = %+v, want NO_DATA for fridge1 and fridge2 at 210 s (limit 210 s)", c)
	}
	if c := x.Check(base.Add(24*time.Hour), nil); len(c) != 0 {
		t.Fatalf("a day later = %+v, want nothing more (the door contact is sent on change)", c)
	}
}

// news2 feeds a NEWS2 alert condition as the clinical processor raises it (alarms.md §7):
// advisory, latching, onset at the episode's first set.
func news2(h *harness, code Code, score float64, onset, sec int) {
	info, _ := code.Info()
	h.cond(Condition{Tenant: "t1", Subject: "pat1", Unit: "ward1", Metric: "news2", Code: code, Kind: Advisory,
		Priority: info.Priority, Latching: true, Status: StatusPresent, At: h.at(sec), Onset: h.at(onset), Value: score})
}

// without drops the lines of one notification kind from a noteLog.
func without(lines []string, kind NotificationKind) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, " "+string(kind)+" ") {
			out = append(out, l)
		}
	}
	return out
}

// S13 — NEWS2 MEDIUM then HIGH. Base 13:00:00. A assigned nurse, P on-call medical team
// (registrar), C charge nurse, D outreach/RRT, Q on-call consultant.
func TestS13News2MediumThenHigh(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC))
	news2(h, NEWS2Medium, 5, 0, 0) // 13:00:00, news2.md example E10 scores 5
	tr := h.onlyOpen()
	if a := tr.Alarm; a.State != Active || a.Priority != Medium || !a.Latching || !a.AssessmentDue.Equal(h.at(3600)) {
		t.Fatalf("13:00 alarm = %s %s latching %v assessment due %v; want ACTIVE MEDIUM latching, due 14:00",
			a.State, a.Priority, a.Latching, a.AssessmentDue)
	}
	if err := h.do(1200, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse)}.withID(h)); err != nil { // 13:20
		t.Fatal(err)
	}
	h.until(h.at(3599))
	if n := countType(h.events, EvAssessmentOverdue); n != 0 {
		t.Fatalf("overdue logged %d times before 14:00", n)
	}
	h.until(h.at(3600)) // 14:00: no assessment recorded
	if a := h.onlyOpen().Alarm; a.State != Acknowledged || !a.AssessmentDue.IsZero() {
		t.Errorf("14:00 alarm = %s, assessment due %v; want ACKNOWLEDGED (the overdue is an event, not a transition), no deadline", a.State, a.AssessmentDue)
	}
	news2(h, NEWS2High, 7, 0, 3900) // 14:05:00 next complete set scores 7
	h.until(h.at(4200))             // 14:10:00

	a := h.onlyOpen().Alarm
	if a.ID != tr.Alarm.ID || a.Code != NEWS2High || a.Priority != High || a.State != Active ||
		!a.AnnouncedAt.Equal(h.at(3900)) || !a.AssessmentDue.Equal(h.at(3900+1800)) {
		t.Errorf("14:10 alarm = same id %v, %s %s %s announced %v assessment due %v; want same id, NEWS2_HIGH HIGH ACTIVE, announced 14:05, due 14:35",
			a.ID == tr.Alarm.ID, a.Code, a.Priority, a.State, a.AnnouncedAt, a.AssessmentDue)
	}
	eq(t, "states", h.stateLog(), []string{"0 >ACTIVE", "1200 ACTIVE>ACKNOWLEDGED", "3900 ACKNOWLEDGED>ACTIVE"})
	eq(t, "notifications (reminders aside)", without(h.noteLog(), NotifyRenotify), []string{
		"0 ALERT A t0", "0 ALERT P t0", // nurse + on-call medical team
		"900 ALERT C t1",                           // 13:15 tier 1: charge nurse
		"1200 ACCEPTED P t0", "1200 ACCEPTED C t1", // 13:20 A acknowledges
		"3600 ASSESSMENT_OVERDUE C t1",                          // 14:00 tier 1 re-notified
		"3900 ALERT A t0", "3900 ALERT D t0", "3900 ALERT P t0", // 14:05 T13: nurse + medical team + outreach
		"4200 ALERT C t1", "4200 ALERT Q t1", // 14:10 tier 1: charge nurse + consultant
	})
	var overdue []string
	for _, e := range h.events {
		if e.Type == EvAssessmentOverdue || (e.Type == EvNotified && e.Reason == ReasonAssessmentOverdue) {
			overdue = append(overdue, fmt.Sprintf("%d %s %s %v", int(e.At.Sub(h.base)/time.Second), e.Type, e.To, e.Recipients))
		}
	}
	eq(t, "overdue events", overdue, []string{"3600 NEWS2_ASSESSMENT_OVERDUE ACKNOWLEDGED []", "3600 NOTIFIED ACKNOWLEDGED [C]"})
	if !slices.ContainsFunc(a.History, func(tr Transition) bool {
		return tr.Type == EvAssessmentOverdue && tr.At.Equal(h.at(3600))
	}) {
		t.Error("NEWS2_ASSESSMENT_OVERDUE is not in the alarm's history")
	}
}

func countType(evs []Event, typ EventType) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// TestStatusFlagsAreNoDataSources: sensor_off and signal_poor may be sent only when they
// change and a heartbeat is not clinical data, so a silence after them raises no NO_DATA;
// the heart rate sent alongside still does.
func TestStatusFlagsAreNoDataSources(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	x := NewTechEvaluator()
	for _, m := range []string{"sensor_off", "signal_poor", "heartbeat", "hr"} {
		r := mkReading("t1", "mon1", "pat1", m, 0, base)
		x.Reading(&r, "", nil)
	}
	c := x.Check(base.Add(time.Hour), nil)
	if len(c) != 1 || c[0].Metric != "hr" || c[0].Code != NoData {
		t.Fatalf("an hour later: %+v, want NO_DATA for hr only", c)
	}
}

// TestSpotMeasurementsAreNoDataSources: a blood pressure taken every 15 minutes (or a home
// cuff's daily reading) is not a continuous source (spec §8), so the silence between two
// measurements raises no NO_DATA; configured with an interval, the same signal is judged by it.
func TestSpotMeasurementsAreNoDataSources(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	x := NewTechEvaluator()
	x.Intervals = intervals{"cuff2/nibp_sys": 15 * time.Minute}
	for _, m := range []string{"nibp_sys", "nibp_dia", "nibp_mean", "pr_nibp", "glucose", "weight"} {
		r := mkReading("t1", "cuff1", "pat1", m, 120, base)
		x.Reading(&r, "", nil)
	}
	r := mkReading("t1", "cuff2", "pat2", "nibp_sys", 120, base)
	x.Reading(&r, "", nil)
	c := x.Check(base.Add(24*time.Hour), nil)
	if len(c) != 1 || c[0].Device != "cuff2" || !c[0].At.Equal(base.Add(45*time.Minute+30*time.Second)) {
		t.Fatalf("a day later: %+v, want only cuff2's configured nibp_sys NO_DATA at 45.5 min", c)
	}
}

// TestBandRiseWhileActiveAlertsTheNewPolicysTier0: T13 from ACTIVE recomputes the schedule with
// the new priority's policy and its tiers already due fire at once — a red score (tier 0: the
// assigned nurse) that becomes NEWS2 MEDIUM before anyone acknowledged it alerts the on-call
// medical team (MEDIUM's tier 0) at the rise, and re-notifies the nurse.
func TestBandRiseWhileActiveAlertsTheNewPolicysTier0(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC))
	news2(h, NEWS2RedScore, 3, 0, 0)
	news2(h, NEWS2Medium, 5, 0, 300) // 13:05, still ACTIVE
	h.until(h.at(301))
	if a := h.onlyOpen().Alarm; a.State != Active || a.Code != NEWS2Medium || !a.AnnouncedAt.Equal(h.at(0)) {
		t.Fatalf("13:05 alarm = %s %s announced %v; want ACTIVE NEWS2_MEDIUM announced 13:00", a.State, a.Code, a.AnnouncedAt)
	}
	eq(t, "notifications", h.noteLog(), []string{"0 ALERT A t0", "120 RENOTIFY A t0", "240 RENOTIFY A t0", // reminders
		"300 RENOTIFY A t0", "300 ALERT P t0"})
}
