package alarmproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// TestDirectory resolves every recipient rule against a care team and roster at a fixed time,
// and against a tenant without either (the role fallback).
func TestDirectory(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	h := time.Hour
	users := []store.User{
		{ID: "n1", Tenant: "acme", Role: store.Nurse}, {ID: "n2", Tenant: "acme", Role: store.Nurse},
		{ID: "n3", Tenant: "acme", Role: store.Nurse}, {ID: "c1", Tenant: "acme", Role: store.Nurse},
		{ID: "nx", Tenant: "acme", Role: store.Nurse, Disabled: true},
		{ID: "dr1", Tenant: "acme", Role: store.Clinician}, {ID: "dr2", Tenant: "acme", Role: store.Clinician},
		{ID: "op1", Tenant: "acme", Role: store.Operator},
		{ID: "m1", Tenant: "bare", Role: store.Nurse}, {ID: "m2", Tenant: "bare", Role: store.Nurse},
		{ID: "md", Tenant: "bare", Role: store.Clinician}, {ID: "mo", Tenant: "bare", Role: store.Operator},
		{ID: "mx", Tenant: "bare", Role: store.Nurse, Disabled: true},
	}
	st := &fakeStore{users: users,
		care: []store.CareAssignment{
			{ID: "1", Tenant: "acme", UserID: "n1", Role: store.CareAssigned, Subject: "p1", From: now.Add(-h)},
			{ID: "2", Tenant: "acme", UserID: "n2", Role: store.CareAssigned, Subject: "p1", From: now.Add(-9 * h), To: now.Add(-h)}, // shift over
			{ID: "3", Tenant: "acme", UserID: "n2", Role: store.CareBuddy, Subject: "p1", From: now.Add(-h)},
			{ID: "4", Tenant: "acme", UserID: "n3", Role: store.CareUnit, Unit: "ward-a", From: now.Add(-h)},
			{ID: "5", Tenant: "acme", UserID: "c1", Role: store.CareCharge, Unit: "ward-a", From: now.Add(-h)},
			{ID: "6", Tenant: "acme", UserID: "nx", Role: store.CareAssigned, Subject: "p1", From: now.Add(-h)}, // disabled
		},
		oncall: []store.OnCallShift{
			{ID: "s1", Tenant: "acme", Ref: "physician", UserID: "dr1", From: now.Add(-h), To: now.Add(h)},
			{ID: "s2", Tenant: "acme", Ref: "physician/medical", UserID: "dr2", From: now.Add(h), To: now.Add(9 * h)}, // not yet
			{ID: "s3", Tenant: "acme", Ref: "ops", UserID: "op1", From: now.Add(-h), To: now.Add(h)},
		},
	}
	d := directory{st: st, now: func() time.Time { return now }}
	p1 := alarm.AlarmRef{Tenant: "acme", Subject: "p1", Unit: "ward-a"}
	p9 := alarm.AlarmRef{Tenant: "acme", Subject: "p9", Unit: "ward-a"}
	bare := alarm.AlarmRef{Tenant: "bare", Subject: "q1", Unit: "ward-z"}
	for _, tc := range []struct {
		ref  alarm.AlarmRef
		rule alarm.RecipientRule
		want string
	}{
		{p1, alarm.RecipientRule{Kind: alarm.AssignedNurse}, "[n1]"},
		{p9, alarm.RecipientRule{Kind: alarm.AssignedNurse}, "[n3]"}, // nobody assigned: the unit's nurses
		{p1, alarm.RecipientRule{Kind: alarm.BuddyNurse}, "[n2]"},
		{p9, alarm.RecipientRule{Kind: alarm.BuddyNurse}, "[]"},
		{p1, alarm.RecipientRule{Kind: alarm.ChargeNurse}, "[c1]"},
		{alarm.AlarmRef{Tenant: "acme", Subject: "p1", Unit: "ward-b"}, alarm.RecipientRule{Kind: alarm.ChargeNurse}, "[]"},
		{p1, alarm.RecipientRule{Kind: alarm.RoleOnCall, Ref: "physician/medical"}, "[dr1]"},
		{p1, alarm.RecipientRule{Kind: alarm.RoleOnCall, Ref: "ops"}, "[op1]"},
		{p1, alarm.RecipientRule{Kind: alarm.RoleOnCall, Ref: "ops-lead"}, "[]"},
		{p1, alarm.RecipientRule{Kind: alarm.RRT}, "[]"},
		{p1, alarm.RecipientRule{Kind: alarm.NamedUser, Ref: "dr2"}, "[dr2]"},
		{p1, alarm.RecipientRule{Kind: alarm.NamedUser, Ref: "nx"}, "[]"}, // disabled
		{p1, alarm.RecipientRule{Kind: alarm.NamedUser, Ref: "m1"}, "[]"}, // another tenant's user
		{bare, alarm.RecipientRule{Kind: alarm.AssignedNurse}, "[m1 m2]"}, // no care team: every enabled nurse
		{bare, alarm.RecipientRule{Kind: alarm.ChargeNurse}, "[]"},
		{bare, alarm.RecipientRule{Kind: alarm.RoleOnCall, Ref: "physician/medical"}, "[md]"},
		{bare, alarm.RecipientRule{Kind: alarm.RRT}, "[md]"},
		{bare, alarm.RecipientRule{Kind: alarm.RoleOnCall, Ref: "ops-lead"}, "[mo]"},
	} {
		got, err := d.Recipients(t.Context(), tc.ref, tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		if g := fmt.Sprint(got); g != tc.want && !(g == "[]" && tc.want == "[]") {
			t.Errorf("Recipients(%s/%s in %s, %s %s) = %s, want %s", tc.ref.Tenant, tc.ref.Subject, tc.ref.Unit, tc.rule.Kind, tc.rule.Ref, g, tc.want)
		}
	}
}

func alertRecipients(t *testing.T, st *fakeStore, alarmID string) []string {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []string
	for _, o := range st.outbox {
		var n alarm.Notification
		if err := json.Unmarshal(o.Payload, &n); err != nil {
			t.Fatal(err)
		}
		if n.Kind == alarm.NotifyAlert && n.AlarmID.String() == alarmID {
			out = append(out, n.Recipient)
		}
	}
	slices.Sort(out)
	return out
}

// TestCareTeamAlert: once a care team exists, a desaturation alerts the patient's assigned
// nurse only, and the relation gives her (not the other nurse) the assigned capacity.
func TestCareTeamAlert(t *testing.T) {
	svc, lg, st := startService(t)
	start := time.Now().Add(-20 * time.Second).Truncate(time.Second)
	st.care = []store.CareAssignment{{ID: "1", Tenant: "acme", UserID: "n2", Role: store.CareAssigned, Subject: "bed1", From: start.Add(-time.Hour)}}
	for s := 0; s <= 15; s++ {
		send(t, lg, start.Add(time.Duration(s)*time.Second), 88)
	}
	vs, err := svc.Active(t.Context(), "acme", "", 0, 0)
	if err != nil || len(vs) != 1 {
		t.Fatalf("Active = %+v, %v; want one alarm", vs, err)
	}
	if got := alertRecipients(t, st, vs[0].ID); !slices.Equal(got, []string{"n2"}) {
		t.Errorf("ALERT to %v, want [n2] (the assigned nurse)", got)
	}
	id := idOf(t, vs[0].ID)
	for user, want := range map[string]alarm.Relation{"n2": {Assigned: true}, "n1": {}} {
		rel, err := svc.Relation(t.Context(), "acme", user, id)
		if err != nil || rel != want {
			t.Errorf("Relation(%s) = %+v, %v; want %+v", user, rel, err, want)
		}
	}
}

// TestSavePolicies: invalid documents are refused with every problem named; a saved policy is
// versioned, shown, and selected for the tenant's next alarm (its tier 0 decides who is
// alerted); a save on a stale version is a conflict.
func TestSavePolicies(t *testing.T) {
	svc, lg, st := startService(t)
	ctx := t.Context()
	at := time.Now()
	err := svc.SavePolicies(ctx, "acme", 1, []PolicyDoc{
		{ID: "", Tiers: []TierDoc{{OffsetS: 5, Recipients: []alarm.RecipientRule{{Kind: alarm.RoleOnCall}}}}},
		{ID: "x", Priorities: []string{"urgent"}, Tiers: []TierDoc{{OffsetS: 0, Recipients: []alarm.RecipientRule{{Kind: "PAGER"}}}}},
	}, "a1", at)
	if !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("invalid save: %v, want ErrInvalidPolicy", err)
	}
	for _, want := range []string{"id is empty", "tier 0 must start at offset 0", "ROLE_ON_CALL) needs a ref", `priority "urgent"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if v := svc.Policies("acme"); v.Version != 0 || len(v.Policies) != 0 || len(v.Defaults) == 0 {
		t.Fatalf("after a refused save: %+v", v)
	}

	custom := PolicyDoc{ID: "icu-spo2", Codes: []alarm.Code{alarm.SpO2Low}, RenotifyS: 60,
		Tiers: []TierDoc{{OffsetS: 0, Recipients: []alarm.RecipientRule{{Kind: alarm.NamedUser, Ref: "n1"}}},
			{OffsetS: 30, Recipients: []alarm.RecipientRule{{Kind: alarm.AssignedNurse}}}}}
	if err := svc.SavePolicies(ctx, "acme", 1, []PolicyDoc{custom}, "a1", at); err != nil {
		t.Fatal(err)
	}
	v := svc.Policies("acme")
	if v.Version != 1 || len(v.Policies) != 1 || v.Policies[0].ID != "icu-spo2" || v.Policies[0].Tiers[1].OffsetS != 30 {
		t.Fatalf("Policies(acme) = %+v", v)
	}
	if err := svc.SavePolicies(ctx, "acme", 1, []PolicyDoc{custom}, "a1", at); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("save on a stale version: %v, want ErrConflict", err)
	}
	if v := svc.Policies("other"); v.Version != 0 || len(v.Policies) != 0 {
		t.Errorf("another tenant sees %+v", v)
	}

	start := time.Now().Add(-20 * time.Second).Truncate(time.Second)
	for s := 0; s <= 15; s++ {
		send(t, lg, start.Add(time.Duration(s)*time.Second), 88)
	}
	vs, err := svc.Active(ctx, "acme", "", 0, 0)
	if err != nil || len(vs) != 1 {
		t.Fatalf("Active = %+v, %v", vs, err)
	}
	if got := alertRecipients(t, st, vs[0].ID); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("ALERT to %v, want [n1] (the custom policy's tier 0)", got)
	}
	rec, err := st.Alarm(ctx, "acme", vs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var a alarm.Alarm
	if err := json.Unmarshal(rec.JSON, &a); err != nil {
		t.Fatal(err)
	}
	if a.PolicyID != "icu-spo2" || a.PolicyVersion != 1 {
		t.Errorf("alarm uses policy %s v%d, want icu-spo2 v1", a.PolicyID, a.PolicyVersion)
	}
}

func sendReading(t *testing.T, lg *fakeLog, r reading.Reading) {
	t.Helper()
	r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
	lg.msgs <- []reading.Reading{r}
	if err := <-lg.acks; err != nil {
		t.Fatalf("consume %s at %v: %v", r.Metric, r.Measured, err)
	}
}

// TestDeviceStatusAlarms follows spec §15 S12 through the processor: heartbeats whose device
// clock runs 3.3–3.5 s ahead of the receive time raise CLOCK_SKEW (LOW) at the third; a
// sensor_off flag held beyond the sensor-off delay raises SENSOR_OFF, cleared by the flag
// clearing.
func TestDeviceStatusAlarms(t *testing.T) {
	svc, lg, _ := startService(t)
	ctx := t.Context()
	start := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	hb := func(i int, ahead time.Duration) {
		rcv := start.Add(time.Duration(i) * 30 * time.Second)
		sendReading(t, lg, reading.Reading{Tenant: "acme", Device: "mon1", Subject: "bed1", Metric: "heartbeat",
			Kind: reading.Bool, Value: 1, Unit: "1", Measured: rcv.Add(ahead), Received: rcv})
	}
	codes := func() map[string]string {
		vs, err := svc.Active(ctx, "acme", "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, v := range vs {
			m[v.Code] = v.Priority
		}
		return m
	}
	hb(0, 3400*time.Millisecond)
	hb(1, 3500*time.Millisecond)
	if c := codes(); c["CLOCK_SKEW"] != "" {
		t.Fatalf("after two skewed heartbeats: %v", c)
	}
	hb(2, 3300*time.Millisecond)
	if c := codes(); c["CLOCK_SKEW"] != "low" {
		t.Fatalf("after three skewed heartbeats: %v, want CLOCK_SKEW low", c)
	}

	off := func(at time.Time, v float64) {
		sendReading(t, lg, reading.Reading{Tenant: "acme", Device: "spo2-1", Subject: "bed1", Metric: "sensor_off",
			Kind: reading.Bool, Value: v, Unit: "1", Measured: at, Received: at})
	}
	t1 := start.Add(10 * time.Second)
	off(t1, 1)
	off(t1.Add(alarm.SensorOffDelay), 1)
	if c := codes(); c["SENSOR_OFF"] != "" {
		t.Fatalf("at exactly the delay: %v", c)
	}
	off(t1.Add(alarm.SensorOffDelay+time.Second), 1)
	if c := codes(); c["SENSOR_OFF"] == "" {
		t.Fatalf("beyond the delay: %v, want SENSOR_OFF", c)
	}
	off(t1.Add(alarm.SensorOffDelay+2*time.Second), 0)
	if c := codes(); c["SENSOR_OFF"] != "" {
		t.Errorf("after the flag cleared: %v", c)
	}
}

// TestCheckpointAndReplay: the processor saves the engine state with the log sequence it
// covers; a new processor on the same store restores it, replays the log after that sequence,
// and a replayed reading of the open alarm sends nothing again.
func TestCheckpointAndReplay(t *testing.T) {
	st := &fakeStore{alarms: map[string]store.AlarmRecord{}, ids: map[string]bool{}, users: []store.User{
		{ID: "n1", Tenant: "acme", Role: store.Nurse}}}
	run := func(lg *fakeLog) (*Service, func()) {
		svc, err := New(t.Context(), Config{Log: lg, Store: st, CheckEvery: time.Hour, CheckpointEvery: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- svc.Run(ctx) }()
		waitLeading(t, svc)
		return svc, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	lg := &fakeLog{msgs: make(chan []reading.Reading), acks: make(chan error), after: make(chan uint64, 1)}
	_, stop := run(lg)
	if got := <-lg.after; got != 0 {
		t.Fatalf("a fresh processor replays after %d, want 0 (everything)", got)
	}
	start := time.Now().Add(-30 * time.Second).Truncate(time.Second)
	for s := 0; s <= 15; s++ {
		send(t, lg, start.Add(time.Duration(s)*time.Second), 88)
	}
	stop()
	var cp checkpoint
	if err := json.Unmarshal(st.snapshot, &cp); err != nil {
		t.Fatal(err)
	}
	if cp.LogSeq != 16 || len(cp.Engine.Open) != 1 || cp.Engine.Open[0].Alarm.State != alarm.Active {
		t.Fatalf("checkpoint: seq %d, %d open; want seq 16 with the active SPO2_LOW", cp.LogSeq, len(cp.Engine.Open))
	}
	st.mu.Lock()
	sent := len(st.outbox)
	st.mu.Unlock()

	lg2 := &fakeLog{msgs: make(chan []reading.Reading), acks: make(chan error), after: make(chan uint64, 1)}
	svc2, stop2 := run(lg2)
	defer stop2()
	if got := <-lg2.after; got != 16 {
		t.Fatalf("the restarted processor replays after %d, want 16", got)
	}
	send(t, lg2, start.Add(15*time.Second), 88) // the last message again, as a crash before the checkpoint would replay it
	send(t, lg2, start.Add(16*time.Second), 88)
	vs, err := svc2.Active(t.Context(), "acme", "", 0, 0)
	if err != nil || len(vs) != 1 {
		t.Fatalf("after restart: %+v, %v; want the one alarm", vs, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.outbox) != sent {
		t.Errorf("outbox grew from %d to %d items after a replay", sent, len(st.outbox))
	}
}

// TestLogClock: no-data is judged by how far the log has been handled. Caught up, the log
// clock is the wall clock; lagging, it is behind by the lag; it never runs ahead.
func TestLogClock(t *testing.T) {
	s := &Service{}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if got := s.logNow(now); !got.Equal(now) {
		t.Errorf("nothing handled yet: %v, want now", got)
	}
	s.lastRecv, s.lastWall = now.Add(-10*time.Second), now.Add(-time.Second) // handled 1 s ago, received 10 s ago
	if got := s.logNow(now); !got.Equal(now.Add(-9 * time.Second)) {
		t.Errorf("lagging 9 s: %v, want now − 9 s", got)
	}
	s.lastRecv, s.lastWall = now.Add(-2*time.Second), now.Add(-3*time.Second) // receive clock ahead of ours
	if got := s.logNow(now); !got.Equal(now) {
		t.Errorf("never ahead of now: %v", got)
	}
}

// TestDirectoryCache: within teamTTL the cached care team answers; after it the store does.
func TestDirectoryCache(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	st := &fakeStore{users: []store.User{{ID: "n1", Tenant: "acme", Role: store.Nurse}, {ID: "n2", Tenant: "acme", Role: store.Nurse}},
		care: []store.CareAssignment{{ID: "1", Tenant: "acme", UserID: "n1", Role: store.CareAssigned, Subject: "p1", From: now.Add(-time.Hour)}}}
	clock := now
	d := directory{st: st, now: func() time.Time { return clock }, cache: &teamCache{}}
	ref := alarm.AlarmRef{Tenant: "acme", Subject: "p1"}
	rule := alarm.RecipientRule{Kind: alarm.AssignedNurse}
	get := func() string {
		got, err := d.Recipients(t.Context(), ref, rule)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	if g := get(); g != "[n1]" {
		t.Fatalf("first: %s", g)
	}
	st.care[0].UserID = "n2" // reassigned in the store
	clock = now.Add(teamTTL - time.Millisecond)
	if g := get(); g != "[n1]" {
		t.Errorf("within the TTL: %s, want the cached [n1]", g)
	}
	clock = now.Add(teamTTL)
	if g := get(); g != "[n2]" {
		t.Errorf("after the TTL: %s, want [n2]", g)
	}
}

// TestPoorSignalSuppressesLimitAlarms: while a device flags its signal poor, an SpO2 of 80
// from it raises no limit alarm; held for more than 60 s the flag raises SIGNAL_QUALITY_LOW.
func TestPoorSignalSuppressesLimitAlarms(t *testing.T) {
	svc, lg, _ := startService(t)
	start := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	flag := func(s int, v float64) {
		sendReading(t, lg, reading.Reading{Tenant: "acme", Device: "dev1", Subject: "bed1", Metric: "signal_poor",
			Kind: reading.Bool, Value: v, Unit: "1", Measured: at(s), Received: at(s)})
	}
	flag(0, 1)
	for s := 1; s <= 40; s++ {
		send(t, lg, at(s), 80) // dev1's SpO2: far below the limit, for longer than the delay
	}
	flag(61, 1)
	vs, err := svc.Active(t.Context(), "acme", "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, v := range vs {
		codes = append(codes, v.Code+"/"+v.Priority)
	}
	if fmt.Sprint(codes) != "[SIGNAL_QUALITY_LOW/low]" {
		t.Errorf("alarms %v, want only [SIGNAL_QUALITY_LOW/low]", codes)
	}
}
