package clinical_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/clinical"
)

// obsTotal is a complete manual observation set (all seven parameters) with NEWS2 total n,
// 0 ≤ n ≤ 4, and no red score: from E1 (all 0), pulse 95 (1), temp 38.5 (1), SBP 105 (1),
// RR 10 (1) are added in that order.
func obsTotal(n int) clinical.ObservationInput {
	in := clinical.ObservationInput{RR: ptr(16.0), SpO2: ptr(97.0), O2: "AIR", SBP: ptr(125.0), Pulse: ptr(72.0), ACVPU: "A", Temp: ptr(36.8)}
	if n >= 1 {
		in.Pulse = ptr(95.0)
	}
	if n >= 2 {
		in.Temp = ptr(38.5)
	}
	if n >= 3 {
		in.SBP = ptr(105.0)
	}
	if n >= 4 {
		in.RR = ptr(10.0)
	}
	return in
}

// record enters a complete set of total n at at and returns its stored set.
func (e *env) record(t *testing.T, patient string, at time.Time, n int) *clinical.SetDoc {
	t.Helper()
	e.now = at
	_, set, err := e.svc.RecordObservation(t.Context(), tenant, patient, "user:nurse", obsTotal(n))
	if err != nil {
		t.Fatal(err)
	}
	if set == nil || !set.Complete || *set.Total != n {
		t.Fatalf("set of obsTotal(%d) = %+v, want complete with total %d", n, set, n)
	}
	return set
}

func codes(cs []alarm.Condition, code alarm.Code) []alarm.Status {
	var out []alarm.Status
	for _, c := range cs {
		if c.Code == code {
			out = append(out, c.Status)
		}
	}
	return out
}

// TestNEWS2Rising runs every row of rpm.md §6.6's table through the processor (complete sets
// entered as manual observations an hour apart), plus the 72-h window and the clearing.
func TestNEWS2Rising(t *testing.T) {
	tests := []struct {
		name string
		prev []int
		old  int // sets of total 0 entered 73–75 h before the current one (outside the window)
		cur  int
		want bool
	}{
		{"table row 1: 1,2,0,1 then 3 (median 1)", []int{1, 2, 0, 1}, 0, 3, true},
		{"table row 2: 2,3,3 then 4 (median 3)", []int{2, 3, 3}, 0, 4, false},
		{"table row 3: 0,1 then 3 (too few sets)", []int{0, 1}, 0, 3, false},
		{"table row 4: 0,0,1 then 2 (current < 3)", []int{0, 0, 1}, 0, 2, false},
		{"median exactly 2", []int{2, 2, 4}, 0, 3, true},
		{"sets older than 72 h do not count", []int{0, 1}, 3, 3, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			p := fmt.Sprintf("p%d", i)
			e.patient(t, p, clinical.PatientInput{})
			if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Admit(ctx, tenant, p, "w", "w-01", ptr(t0.Add(-100*time.Hour))); err != nil {
				t.Fatal(err)
			}
			cur := t0
			for k := range tt.old {
				e.record(t, p, cur.Add(-time.Duration(75-k)*time.Hour), 0)
			}
			for k, s := range tt.prev {
				e.record(t, p, cur.Add(-time.Duration(len(tt.prev)-k)*time.Hour), s)
			}
			if got := codes(e.alarms.take(), alarm.NEWS2Rising); len(got) != 0 {
				t.Fatalf("NEWS2_RISING before the current set: %v", got)
			}
			set := e.record(t, p, cur, tt.cur)
			got := codes(e.alarms.take(), alarm.NEWS2Rising)
			if set.Rising != tt.want {
				t.Errorf("set.Rising = %v, want %v", set.Rising, tt.want)
			}
			if !tt.want {
				if len(got) != 0 {
					t.Errorf("NEWS2_RISING conditions %v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0] != alarm.StatusPresent {
				t.Fatalf("NEWS2_RISING conditions %v, want one present", got)
			}
			// A later set with the same score still rises (the median now includes the current
			// score, 3 ≤ 2 is false only for the median); one of score 0 clears it.
			e.now = cur.Add(30 * time.Minute)
			if _, _, err := e.svc.RecordObservation(ctx, tenant, p, "user:nurse", clinical.ObservationInput{Note: "x", ACVPU: "A"}); err != nil {
				t.Fatal(err)
			}
			if got := codes(e.alarms.take(), alarm.NEWS2Rising); len(got) != 0 {
				t.Errorf("a set with the same total changed NEWS2_RISING: %v", got)
			}
			e.record(t, p, cur.Add(time.Hour), 0)
			if got := codes(e.alarms.take(), alarm.NEWS2Rising); len(got) != 1 || got[0] != alarm.StatusCleared {
				t.Errorf("after a complete score 0: NEWS2_RISING %v, want cleared", got)
			}
		})
	}
}

// TestRisingAtHome: rpm.md §6.6 is a virtual-ward rule, so it fires for a patient without a bed
// stay (COMMUNITY sets raise no band alerts).
func TestRisingAtHome(t *testing.T) {
	e := newEnv(t)
	e.patient(t, "h", clinical.PatientInput{})
	for k, s := range []int{1, 2, 0, 1} {
		e.record(t, "h", t0.Add(-time.Duration(4-k)*time.Hour), s)
	}
	set := e.record(t, "h", t0, 3)
	cs := e.alarms.take()
	if set.Setting != clinical.SettingCommunity || !set.Rising || len(cs) != 1 || cs[0].Code != alarm.NEWS2Rising ||
		cs[0].Kind != alarm.Advisory || cs[0].Priority != alarm.Low || cs[0].Unit != "" {
		t.Errorf("home set %+v, conditions %+v: want one NEWS2_RISING advisory LOW", set, cs)
	}
}

// e6 is news2.md §8 E6 as a manual observation: 2,1,2,0,1,0,1 = 7, HIGH.
func e6() clinical.ObservationInput {
	return clinical.ObservationInput{RR: ptr(23.0), SpO2: ptr(94.0), O2: "OXYGEN", SBP: ptr(115.0), Pulse: ptr(95.0), ACVPU: "A", Temp: ptr(38.2)}
}

// TestContinuousMonitoringRequired: news2.md §5.2 — a HIGH set without a continuous monitoring
// device (kind monitor or wearable) assigned at its time raises the advisory and is due again
// in 15 min; with one assigned nothing is due and the advisory clears.
func TestContinuousMonitoringRequired(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.device(t, "cuff", "bp_monitor")
	e.device(t, "mon", "monitor")
	e.device(t, "mon-old", "monitor")
	e.patient(t, "p", clinical.PatientInput{})
	if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Admit(ctx, tenant, "p", "w", "w-01", ptr(t0)); err != nil {
		t.Fatal(err)
	}
	e.assign(t, "cuff", "p", t0, clinical.KindBedside) // a spot-check device
	// A monitor that was assigned, but not at the set's time.
	if _, _, err := e.svc.Assign(ctx, tenant, "user:u1", clinical.AssignInput{Device: "mon-old", Patient: "p", From: ptr(t0), To: ptr(t0.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}

	at := t0.Add(5 * time.Minute)
	e.now = at
	_, set, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", e6())
	if err != nil {
		t.Fatal(err)
	}
	if *set.Total != 7 || *set.Band != "HIGH" || !set.MonitorRequired || set.NextDue == nil || !set.NextDue.Equal(at.Add(15*time.Minute)) {
		t.Fatalf("HIGH without a monitor: total %v band %v monitor_required %v next_due %v; want 7 HIGH true +15 min",
			*set.Total, *set.Band, set.MonitorRequired, set.NextDue)
	}
	cs := e.alarms.take()
	if got := codes(cs, alarm.NEWS2High); len(got) != 1 || got[0] != alarm.StatusPresent {
		t.Errorf("NEWS2_HIGH %v, want present", got)
	}
	var adv *alarm.Condition
	for i := range cs {
		if cs[i].Code == alarm.NEWS2MonitorRequired {
			adv = &cs[i]
		}
	}
	if adv == nil || adv.Status != alarm.StatusPresent || adv.Kind != alarm.Advisory || adv.Subject != "p" || adv.Unit != "w" || !adv.At.Equal(at) {
		t.Fatalf("NEWS2_CONTINUOUS_MONITORING_REQUIRED = %+v, want present advisory for p in ward w at %v", adv, at)
	}

	// A restarted processor knows from the last stored set that the advisory is held: the same
	// HIGH set again changes nothing.
	e.svc = e.service(t)
	e.now = at.Add(time.Minute)
	if _, _, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", e6()); err != nil {
		t.Fatal(err)
	}
	if got := codes(e.alarms.take(), alarm.NEWS2MonitorRequired); len(got) != 0 {
		t.Errorf("repeated HIGH set after a restart: advisory %v, want no change", got)
	}

	// A monitor is assigned: the next HIGH set needs nothing and the advisory clears.
	e.assign(t, "mon", "p", at.Add(2*time.Minute), clinical.KindBedside)
	e.now = at.Add(3 * time.Minute)
	_, set, err = e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", e6())
	if err != nil {
		t.Fatal(err)
	}
	if *set.Band != "HIGH" || set.MonitorRequired || set.NextDue != nil {
		t.Errorf("HIGH with a monitor: band %v monitor_required %v next_due %v, want HIGH false null", *set.Band, set.MonitorRequired, set.NextDue)
	}
	if got := codes(e.alarms.take(), alarm.NEWS2MonitorRequired); len(got) != 1 || got[0] != alarm.StatusCleared {
		t.Errorf("advisory after the monitor was assigned: %v, want cleared", got)
	}
}

// TestMonitorAdvisoryNotAtHome: at home NEWS2 raises no alerts (news2.md §1.1), but the set
// still records that it lacks a monitor and is due in 15 min.
func TestMonitorAdvisoryNotAtHome(t *testing.T) {
	e := newEnv(t)
	e.patient(t, "h", clinical.PatientInput{})
	_, set, err := e.svc.RecordObservation(t.Context(), tenant, "h", "user:nurse", e6())
	if err != nil {
		t.Fatal(err)
	}
	if !set.MonitorRequired || set.NextDue == nil || !set.NextDue.Equal(t0.Add(15*time.Minute)) {
		t.Errorf("home HIGH: monitor_required %v next_due %v, want true and +15 min", set.MonitorRequired, set.NextDue)
	}
	if cs := e.alarms.take(); len(cs) != 0 {
		t.Errorf("home HIGH raised %+v, want nothing", cs)
	}
}

// TestScaleChange: news2.md §4.3 — the prescriber permission, the reason code and text, and a
// re-score of the current set that never rewrites stored sets. E10's observations (SpO2 97 % on
// oxygen) score 2 (LOW) on Scale 1 and 5 (MEDIUM) on Scale 2.
func TestScaleChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.patient(t, "p", clinical.PatientInput{})
	if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Admit(ctx, tenant, "p", "w", "w-01", ptr(t0)); err != nil {
		t.Fatal(err)
	}
	e.now = t0.Add(time.Minute)
	_, before, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", clinical.ObservationInput{
		RR: ptr(18.0), SpO2: ptr(97.0), O2: "OXYGEN", SBP: ptr(130.0), Pulse: ptr(85.0), ACVPU: "A", Temp: ptr(37.2)})
	if err != nil {
		t.Fatal(err)
	}
	if before.Scale != 1 || *before.Total != 2 || *before.Band != "LOW" {
		t.Fatalf("Scale 1 set: scale %d total %d band %s, want 1 2 LOW (E10 on Scale 1)", before.Scale, *before.Total, *before.Band)
	}
	e.alarms.take()

	two := ptr(2)
	e.now = t0.Add(2 * time.Minute)
	if _, _, err := e.svc.UpdatePatient(ctx, tenant, "p", clinical.PatientInput{SpO2Scale: two, SpO2ScaleReasonCode: clinical.ReasonHCRF, SpO2ScaleReason: "ABG pCO2 7.9 kPa"}); !errors.Is(err, clinical.ErrNotPrescriber) {
		t.Fatalf("scale change without prescriber: %v, want ErrNotPrescriber", err)
	}
	if _, err := e.svc.CreatePatient(ctx, tenant, clinical.PatientInput{ID: "q", MRN: ptr("Q"), Name: ptr("Q"), SpO2Scale: two,
		SpO2ScaleReasonCode: clinical.ReasonHCRF, SpO2ScaleReason: "ABG"}); !errors.Is(err, clinical.ErrNotPrescriber) {
		t.Errorf("new Scale 2 patient without prescriber: %v, want ErrNotPrescriber", err)
	}
	for _, c := range []struct {
		in    clinical.PatientInput
		field string
	}{
		{clinical.PatientInput{SpO2Scale: two, Prescriber: true, SpO2ScaleReason: "ABG"}, "spo2_scale_reason_code"},
		{clinical.PatientInput{SpO2Scale: two, Prescriber: true, SpO2ScaleReasonCode: "COPD", SpO2ScaleReason: "ABG"}, "spo2_scale_reason_code"},
		{clinical.PatientInput{SpO2Scale: two, Prescriber: true, SpO2ScaleReasonCode: clinical.ReasonHCRF, SpO2ScaleReason: "  "}, "spo2_scale_reason"},
	} {
		var ie *clinical.InputError
		if _, _, err := e.svc.UpdatePatient(ctx, tenant, "p", c.in); !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("UpdatePatient(%+v) = %v, want an input error on %s", c.in, err, c.field)
		}
	}
	if ss := e.sets(t, "p"); len(ss) != 1 {
		t.Fatalf("refused changes stored sets: %d", len(ss))
	}

	old, p, err := e.svc.UpdatePatient(ctx, tenant, "p", clinical.PatientInput{SpO2Scale: two, Prescriber: true,
		SpO2ScaleReasonCode: clinical.ReasonHCRF, SpO2ScaleReason: "ABG pCO2 7.9 kPa"})
	if err != nil {
		t.Fatal(err)
	}
	if old.SpO2Scale != 1 || p.SpO2Scale != 2 {
		t.Fatalf("scale %d → %d, want 1 → 2", old.SpO2Scale, p.SpO2Scale)
	}
	ss := e.sets(t, "p")
	if len(ss) != 2 {
		t.Fatalf("sets after the change: %d, want the old one and its re-score", len(ss))
	}
	if got := ss[0]; got.ID != before.ID || got.Scale != 1 || *got.Total != 2 || *got.Band != "LOW" || got.Scores["spo2"] != 0 {
		t.Errorf("old set rewritten: %+v", got)
	}
	re := ss[1]
	if re.Source != clinical.SourceScaleChange || re.Supersedes != before.ID || re.Scale != 2 || *re.Total != 5 || *re.Band != "MEDIUM" ||
		re.Scores["spo2"] != 3 || re.Scores["o2"] != 2 || !re.EvaluatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("re-scored set = %+v, want scale_change superseding %s, Scale 2, SpO2 3 + O2 2 = 5 MEDIUM", re, before.ID)
	}
	if got := codes(e.alarms.take(), alarm.NEWS2Medium); len(got) != 1 || got[0] != alarm.StatusPresent {
		t.Errorf("NEWS2_MEDIUM after the re-score: %v, want present", got)
	}
	// The processor scores later sets on Scale 2 too.
	e.now = t0.Add(3 * time.Minute)
	if _, set, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", clinical.ObservationInput{ACVPU: "A"}); err != nil || set.Scale != 2 || *set.Total != 5 {
		t.Errorf("next set: %+v %v, want Scale 2 total 5", set, err)
	}
	e.alarms.take()

	// Back to Scale 1: a reason text is enough; re-scored LOW again, which clears the alert.
	e.now = t0.Add(4 * time.Minute)
	if _, _, err := e.svc.UpdatePatient(ctx, tenant, "p", clinical.PatientInput{SpO2Scale: ptr(1), Prescriber: true}); err == nil {
		t.Error("back to Scale 1 without a reason: no error")
	}
	if _, _, err := e.svc.UpdatePatient(ctx, tenant, "p", clinical.PatientInput{SpO2Scale: ptr(1), Prescriber: true, SpO2ScaleReason: "ABG normal"}); err != nil {
		t.Fatal(err)
	}
	ss = e.sets(t, "p")
	if last := ss[len(ss)-1]; last.Source != clinical.SourceScaleChange || last.Scale != 1 || *last.Total != 2 {
		t.Errorf("re-score on Scale 1 = %+v, want total 2", last)
	}
	if got := codes(e.alarms.take(), alarm.NEWS2Medium); len(got) != 1 || got[0] != alarm.StatusCleared {
		t.Errorf("NEWS2_MEDIUM after going back: %v, want cleared", got)
	}
	// Other edits need no prescriber.
	if _, _, err := e.svc.UpdatePatient(ctx, tenant, "p", clinical.PatientInput{Name: ptr("New Name"), SpO2Scale: ptr(1)}); err != nil {
		t.Errorf("renaming without prescriber: %v", err)
	}
}

// TestScaleChangeOnAnotherNode: scaled out, a scale change made through a node that does not
// run the processor is found by the processor's node and re-scored there (E10: 2 → 5).
func TestScaleChangeOnAnotherNode(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.patient(t, "p", clinical.PatientInput{})
	now := func() time.Time { return t0.Add(time.Minute) }
	proc := clinical.New(clinical.Config{Store: e.st, Log: idleLog{}, Alarms: e.alarms, Now: now,
		PollEvery: 10 * time.Millisecond, RefreshEvery: 10 * time.Millisecond})
	api := clinical.New(clinical.Config{Store: e.st, Log: idleLog{}, Now: now})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	if _, _, err := api.RecordObservation(ctx, tenant, "p", "user:n", clinical.ObservationInput{
		RR: ptr(18.0), SpO2: ptr(97.0), O2: "OXYGEN", SBP: ptr(130.0), Pulse: ptr(85.0), ACVPU: "A", Temp: ptr(37.2)}); err != nil {
		t.Fatal(err)
	}
	waitSets := func(n int) []clinical.SetDoc {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if ss := e.sets(t, "p"); len(ss) >= n {
				return ss
			}
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d sets after 5 s", n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	first := waitSets(1)[0]
	if _, _, err := api.UpdatePatient(ctx, tenant, "p", clinical.PatientInput{SpO2Scale: ptr(2), Prescriber: true,
		SpO2ScaleReasonCode: clinical.ReasonHCRF, SpO2ScaleReason: "ABG"}); err != nil {
		t.Fatal(err)
	}
	ss := waitSets(2)
	if re := ss[1]; len(ss) != 2 || re.Source != clinical.SourceScaleChange || re.Supersedes != first.ID || re.Scale != 2 || *re.Total != 5 {
		t.Fatalf("sets %+v, want the Scale 1 set and its Scale 2 re-score (5)", ss)
	}
	time.Sleep(50 * time.Millisecond) // later refreshes re-score no second time
	if ss := e.sets(t, "p"); len(ss) != 2 {
		t.Errorf("%d sets after more refreshes, want 2", len(ss))
	}
}
