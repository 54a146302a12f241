package clinical_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

const tenant = "acme"

// t0 is a whole minute.
var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type fakeAlarms struct {
	mu    sync.Mutex
	conds []alarm.Condition
}

func (f *fakeAlarms) Apply(_ context.Context, cs []alarm.Condition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conds = append(f.conds, cs...)
	return nil
}

func (f *fakeAlarms) take() []alarm.Condition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.conds
	f.conds = nil
	return out
}

type env struct {
	st     *sqlite.Store
	svc    *clinical.Service
	alarms *fakeAlarms
	now    time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, store.Tenant{ID: tenant, Name: "Acme", Created: t0}); err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, alarms: &fakeAlarms{}, now: t0}
	e.svc = e.service(t)
	return e
}

// service returns a new Service on the env's store with its attributor loaded, as after a restart.
func (e *env) service(t *testing.T) *clinical.Service {
	t.Helper()
	svc := clinical.New(clinical.Config{Store: e.st, Alarms: e.alarms, Now: func() time.Time { return e.now }})
	if err := svc.Attributor().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return svc
}

func (e *env) device(t *testing.T, id, kind string) {
	t.Helper()
	if err := e.st.CreateDevice(t.Context(), store.Device{ID: id, Tenant: tenant, Model: "M", Kind: kind, Subject: "ingest-" + id, SecretHash: "x", Created: t0}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) patient(t *testing.T, id string, in clinical.PatientInput) {
	t.Helper()
	in.ID = id
	if in.MRN == nil {
		mrn := "MRN-" + id
		in.MRN = &mrn
	}
	if in.Name == nil {
		name := "Name of " + id
		in.Name = &name
	}
	if _, err := e.svc.CreatePatient(t.Context(), tenant, in); err != nil {
		t.Fatal(err)
	}
}

func (e *env) assign(t *testing.T, device, patient string, from time.Time, kind string) {
	t.Helper()
	if _, _, err := e.svc.Assign(t.Context(), tenant, "user:u1", clinical.AssignInput{Device: device, Patient: patient, From: &from, Kind: kind}); err != nil {
		t.Fatal(err)
	}
}

func rd(device, metric string, at time.Time, v float64) reading.Reading {
	return reading.Reading{ID: reading.NewID(tenant, device, metric, at), Tenant: tenant, Device: device, Subject: "ingest-" + device,
		Metric: metric, Kind: reading.Number, Value: v, Unit: "/min", Measured: at, Received: at.Add(time.Second)}
}

// ingest stores the readings and feeds them to the processor as one log message.
func (e *env) ingest(t *testing.T, svc *clinical.Service, rs ...reading.Reading) {
	t.Helper()
	if _, err := e.st.InsertReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	if err := svc.Consume(t.Context(), 0, rs); err != nil {
		t.Fatal(err)
	}
}

func (e *env) sets(t *testing.T, patient string) []clinical.SetDoc {
	t.Helper()
	ss, err := e.svc.Sets(t.Context(), tenant, patient, time.Time{}, time.Time{}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// vitals returns a monitor's message at at: rr, spo2, hr, temp (and NIBP when sbp > 0).
func vitals(device string, at time.Time, rr, spo2, hr, temp, sbp float64) []reading.Reading {
	rs := []reading.Reading{rd(device, "rr", at, rr), rd(device, "spo2", at, spo2), rd(device, "hr", at, hr), rd(device, "temp_body", at, temp)}
	if sbp > 0 {
		rs = append(rs, rd(device, "nibp_sys", at, sbp))
	}
	return rs
}

func ptr[T any](v T) *T { return &v }

// TestAttributionAcrossReassignment: a monitor moves from patient A to B at t0+30m; readings
// measured before arrive late (after the re-assignment) and still belong to A, through the
// attributor (processor, alarms) and through the store (patient readings).
func TestAttributionAcrossReassignment(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.device(t, "mon", "monitor")
	e.patient(t, "A", clinical.PatientInput{})
	e.patient(t, "B", clinical.PatientInput{})
	e.assign(t, "mon", "A", t0, clinical.KindBedside)
	e.now = t0.Add(30 * time.Minute)
	_, ended, err := e.svc.Assign(ctx, tenant, "user:u1", clinical.AssignInput{Device: "mon", Patient: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ended) != 1 || ended[0].Patient != "A" || !ended[0].To.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("re-assignment ended %+v, want A's assignment at t0+30m", ended)
	}
	// B's readings first, then A's, measured earlier but arriving late.
	e.ingest(t, e.svc, rd("mon", "hr", t0.Add(31*time.Minute), 101), rd("mon", "hr", t0.Add(30*time.Minute), 100))
	e.ingest(t, e.svc, rd("mon", "hr", t0.Add(10*time.Minute), 70), rd("mon", "hr", t0.Add(30*time.Minute-time.Nanosecond), 71))

	// The processor put each reading into its own patient's set.
	for patient, want := range map[string]float64{"A": 71, "B": 101} {
		ss := e.sets(t, patient)
		if len(ss) == 0 || ss[len(ss)-1].Parts["pulse"].Value != want {
			t.Errorf("%s's latest set = %+v, want pulse %v", patient, ss, want)
		}
	}
	attr := e.svc.Attributor()
	for _, c := range []struct {
		at   time.Duration
		want string
	}{{-time.Second, ""}, {0, "A"}, {30*time.Minute - time.Nanosecond, "A"}, {30 * time.Minute, "B"}, {48 * time.Hour, "B"}} {
		got, _, _ := attr.SubjectAt(tenant, "mon", t0.Add(c.at))
		if got != c.want {
			t.Errorf("SubjectAt(t0%+v) = %q, want %q", c.at, got, c.want)
		}
	}
	values := func(patient string) []float64 {
		ps, err := e.svc.PatientReadings(ctx, tenant, patient, "hr", t0.Add(-time.Hour), t0.Add(time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, p := range ps {
			out = append(out, p.Value)
		}
		return out
	}
	if got := values("A"); !slices.Equal(got, []float64{70, 71}) {
		t.Errorf("A's hr = %v, want [70 71]", got)
	}
	if got := values("B"); !slices.Equal(got, []float64{100, 101}) {
		t.Errorf("B's hr = %v, want [100 101]", got)
	}
	// After-the-fact attribution: an unassigned device's readings, then an assignment over the past.
	e.device(t, "spare", "monitor")
	e.ingest(t, e.svc, rd("spare", "hr", t0.Add(5*time.Minute), 88))
	if got := values("A"); len(got) != 2 {
		t.Fatalf("A's hr before the retroactive assignment = %v", got)
	}
	if _, _, err := e.svc.Assign(ctx, tenant, "user:u1", clinical.AssignInput{Device: "spare", Patient: "A", From: ptr(t0), To: ptr(t0.Add(20 * time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if got := values("A"); !slices.Equal(got, []float64{88, 70, 71}) {
		t.Errorf("A's hr after the retroactive assignment = %v, want [88 70 71]", got)
	}
}

// TestNEWS2SetsAndBandChange: monitor readings plus a nurse's ACVPU and air/oxygen make a
// complete set scored exactly as news2.md E1; new confusion raises NEWS2_RED_SCORE; a complete
// LOW set clears it.
func TestNEWS2SetsAndBandChange(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.device(t, "mon", "monitor")
	e.patient(t, "p", clinical.PatientInput{})
	e.assign(t, "mon", "p", t0, clinical.KindBedside)
	if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Admit(ctx, tenant, "p", "w", "w-01", ptr(t0)); err != nil {
		t.Fatal(err)
	}

	// E1: RR 16, SpO2 97, air, SBP 125, pulse 72, A, 36.8 °C → 0, LOW.
	e.ingest(t, e.svc, vitals("mon", t0.Add(time.Minute), 16, 97, 72, 36.8, 125)...)
	ss := e.sets(t, "p")
	if len(ss) != 1 || ss[0].Complete || !slices.Equal(ss[0].Missing, []string{"o2", "acvpu"}) {
		t.Fatalf("sets after device readings = %+v, want one incomplete set missing o2 and acvpu", ss)
	}
	e.now = t0.Add(2 * time.Minute)
	o, set, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", clinical.ObservationInput{O2: "AIR", ACVPU: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if set == nil || !set.Complete || *set.Total != 0 || *set.Band != "LOW" || set.Source != "manual" || set.ManualObservation != o.ID {
		t.Fatalf("manual set = %+v, want complete total 0 LOW from the observation", set)
	}
	wantScores := map[string]int{"rr": 0, "spo2": 0, "o2": 0, "sbp": 0, "pulse": 0, "acvpu": 0, "temp": 0}
	if !mapsEqual(set.Scores, wantScores) || set.Parts["temp"].Value != 36.8 || set.Parts["acvpu"].Value != "A" {
		t.Errorf("scores %v parts %v", set.Scores, set.Parts)
	}
	if !set.SetTime.Equal(t0.Add(2*time.Minute)) || set.NextDue == nil || !set.NextDue.Equal(t0.Add(2*time.Minute+12*time.Hour)) {
		t.Errorf("set time %v, next due %v, want the observation's time and 12 h later", set.SetTime, set.NextDue)
	}
	if cs := e.alarms.take(); len(cs) != 0 {
		t.Errorf("LOW raised conditions %+v", cs)
	}

	// New confusion: needs the confirmation, then scores 3 → LOW_MEDIUM, NEWS2_RED_SCORE.
	e.now = t0.Add(3 * time.Minute)
	if _, _, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", clinical.ObservationInput{ACVPU: "C"}); err == nil || !strings.Contains(err.Error(), "new_confusion_confirmed") {
		t.Fatalf("C without confirmation: %v", err)
	}
	_, set, err = e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", clinical.ObservationInput{ACVPU: "C", NewConfusionConfirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if *set.Total != 3 || *set.Band != "LOW_MEDIUM" || set.Scores["acvpu"] != 3 {
		t.Fatalf("set with C = total %v band %v", *set.Total, *set.Band)
	}
	cs := e.alarms.take()
	if len(cs) != 1 || cs[0].Code != alarm.NEWS2RedScore || cs[0].Status != alarm.StatusPresent || cs[0].Subject != "p" || cs[0].Priority != alarm.Medium {
		t.Fatalf("conditions = %+v, want NEWS2_RED_SCORE present for p", cs)
	}
	// Worse: RR 25 (3) and SBP 100 (2), pulse 111 (2) with C (3) → 10, HIGH: escalation.
	e.ingest(t, e.svc, vitals("mon", t0.Add(5*time.Minute), 25, 97, 111, 36.8, 100)...)
	cs = e.alarms.take()
	if len(cs) != 1 || cs[0].Code != alarm.NEWS2High || cs[0].Priority != alarm.High || !cs[0].Onset.Equal(cs[0].Onset) {
		t.Fatalf("conditions = %+v, want NEWS2_HIGH", cs)
	}
	// Back to normal and alert: complete LOW → every NEWS2 code cleared.
	e.now = t0.Add(6 * time.Minute)
	if _, _, err := e.svc.RecordObservation(ctx, tenant, "p", "user:nurse", clinical.ObservationInput{ACVPU: "A"}); err != nil {
		t.Fatal(err)
	}
	e.ingest(t, e.svc, vitals("mon", t0.Add(7*time.Minute), 16, 97, 72, 36.8, 125)...)
	var cleared []alarm.Code
	for _, c := range e.alarms.take() {
		if c.Status == alarm.StatusCleared {
			cleared = append(cleared, c.Code)
		}
	}
	if len(cleared) != 3 {
		t.Errorf("cleared %v, want the three NEWS2 codes", cleared)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestReplayIsIdempotent: the same messages delivered again, to the same processor or to a
// new one after a restart, store no second observation set and raise nothing twice.
func TestReplayIsIdempotent(t *testing.T) {
	e := newEnv(t)
	e.device(t, "mon", "monitor")
	e.patient(t, "p", clinical.PatientInput{})
	e.assign(t, "mon", "p", t0, clinical.KindBedside)
	var msgs [][]reading.Reading
	for i := range 40 { // every 30 s for 20 min; the patient deteriorates from minute 10
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		rr, hr := 16.0, 72.0
		if i >= 20 {
			rr, hr = 26, 135
		}
		msgs = append(msgs, vitals("mon", at, rr, 97, hr, 36.8, 125))
	}
	for _, m := range msgs {
		e.ingest(t, e.svc, m...)
	}
	first := e.sets(t, "p")
	firstConds := e.alarms.take()
	if len(first) < 2 {
		t.Fatalf("%d sets, want the change at minute 10 stored", len(first))
	}
	// Redelivery to the running processor, then to a fresh one (restart) from the start.
	for _, svc := range []*clinical.Service{e.svc, e.service(t)} {
		for _, m := range msgs {
			if err := svc.Consume(t.Context(), 0, m); err != nil {
				t.Fatal(err)
			}
		}
		again := e.sets(t, "p")
		if len(again) != len(first) {
			t.Errorf("after a replay %d sets, want %d", len(again), len(first))
		}
	}
	for _, c := range e.alarms.take() {
		if c.Status == alarm.StatusPresent && c.Code != firstConds[0].Code {
			t.Errorf("replay raised %s", c.Code)
		}
	}
	// Deterministic ids: a set of the deterioration has the id of its minute.
	seen := map[string]bool{}
	for _, s := range first {
		if seen[s.ID] {
			t.Errorf("duplicate set id %s", s.ID)
		}
		seen[s.ID] = true
	}
}

// TestObservationOverdue: an admitted patient without a complete set is due at admission and
// overdue 10 minutes later; a complete set makes the next due 12 h on and clears the reminder.
func TestObservationOverdue(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
		t.Fatal(err)
	}
	e.patient(t, "p", clinical.PatientInput{})
	if _, err := e.svc.Admit(ctx, tenant, "p", "w", "w-01", ptr(t0)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CheckOverdue(ctx, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if cs := e.alarms.take(); len(cs) != 0 {
		t.Fatalf("at +10 min (margin exactly 10 min) conditions %+v, want none", cs)
	}
	if err := e.svc.CheckOverdue(ctx, t0.Add(10*time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	cs := e.alarms.take()
	if len(cs) != 1 || cs[0].Code != alarm.NEWS2ObsOverdue || cs[0].Status != alarm.StatusPresent || cs[0].Unit != "w" {
		t.Fatalf("conditions %+v, want NEWS2_OBS_OVERDUE in ward w", cs)
	}
	e.now = t0.Add(20 * time.Minute)
	if _, _, err := e.svc.RecordObservation(ctx, tenant, "p", "user:n", clinical.ObservationInput{
		RR: ptr(16.0), SpO2: ptr(97.0), O2: "AIR", SBP: ptr(125.0), Pulse: ptr(72.0), ACVPU: "A", Temp: ptr(36.8)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CheckOverdue(ctx, t0.Add(21*time.Minute)); err != nil {
		t.Fatal(err)
	}
	cs = e.alarms.take()
	if len(cs) != 1 || cs[0].Status != alarm.StatusCleared {
		t.Fatalf("after a complete set: %+v, want the reminder cleared", cs)
	}
	st, err := e.svc.Station(ctx, tenant, "w", t0.Add(21*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if b := st.Beds[0]; b.Patient == nil || b.NextDue == nil || !b.NextDue.Equal(t0.Add(20*time.Minute+12*time.Hour)) || b.Overdue || b.NEWS2 == nil || *b.NEWS2.Total != 0 {
		t.Errorf("station bed = %+v", b)
	}
}

// TestManualObservationValidation checks the entry form's rules (news2.md §2, §2.1).
func TestManualObservationValidation(t *testing.T) {
	now := t0
	for _, c := range []struct {
		name    string
		in      clinical.ObservationInput
		field   string
		confirm bool
	}{
		{"empty", clinical.ObservationInput{}, "", false},
		{"C unconfirmed", clinical.ObservationInput{ACVPU: "C"}, "acvpu", false},
		{"bad acvpu", clinical.ObservationInput{ACVPU: "X"}, "acvpu", false},
		{"bad o2", clinical.ObservationInput{O2: "air"}, "o2", false},
		{"spo2 above 100", clinical.ObservationInput{SpO2: ptr(101.0)}, "spo2", false},
		{"negative rr", clinical.ObservationInput{RR: ptr(-1.0)}, "rr", false},
		{"sbp 30 unconfirmed", clinical.ObservationInput{SBP: ptr(30.0)}, "sbp", true},
		{"temp 22 unconfirmed", clinical.ObservationInput{Temp: ptr(22.0)}, "temp", true},
		{"temp 19", clinical.ObservationInput{Temp: ptr(19.0), Confirmed: true}, "temp", false},
		{"future", clinical.ObservationInput{ACVPU: "A", At: ptr(now.Add(6 * time.Minute))}, "at", false},
		{"old", clinical.ObservationInput{ACVPU: "A", At: ptr(now.Add(-25 * time.Hour))}, "at", false},
	} {
		_, err := c.in.Validate(now)
		ie, ok := err.(*clinical.InputError)
		if !ok || ie.Field != c.field || ie.NeedsConfirmation != c.confirm {
			t.Errorf("%s: error %v, want field %q (needs confirmation %v)", c.name, err, c.field, c.confirm)
		}
	}
	for _, in := range []clinical.ObservationInput{
		{ACVPU: "C", NewConfusionConfirmed: true}, {SBP: ptr(30.0), Confirmed: true}, {O2: "OXYGEN"}, {Temp: ptr(36.05)},
	} {
		if _, err := in.Validate(now); err != nil {
			t.Errorf("%+v: %v", in, err)
		}
	}
}

// TestBaselineFlags feeds rpm.md §6.4 (resting heart rate, one reading a day) through the
// processor: day 21 is stored as an ALERT flag with the spec's explanation.
func TestBaselineFlags(t *testing.T) {
	e := newEnv(t)
	e.device(t, "band", "wearable")
	e.patient(t, "h", clinical.PatientInput{TimeZone: ptr("America/New_York")})
	start := time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC) // 09:00 in New York
	e.assign(t, "band", "h", start.Add(-time.Hour), clinical.KindRPM)
	hr := []float64{72, 70, 71, 73, 69, 72, 74, 70, 71, 72, 73, 71, 70, 72, 73, 72, 75, 77, 78, 76, 79, 80, 74, 72}
	for i, v := range hr {
		e.ingest(t, e.svc, rd("band", "hr", start.AddDate(0, 0, i), v))
	}
	flags, err := e.svc.Flags(t.Context(), tenant, "h", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	byDay := map[string]clinical.Flag{}
	for _, f := range flags {
		byDay[f.Day] = f
	}
	d21 := byDay["2026-01-21"]
	if d21.State != "ALERT" || d21.Code != "PBM_HR_REST_UP" || d21.Days != 5 || d21.Since != "2026-01-17" || d21.Baseline.Median != 72 || d21.Baseline.Scale != 3 {
		t.Fatalf("day 21 flag = %+v", d21)
	}
	want := "Resting heart rate has been above this patient's usual level for 5 days: recent value 79 vs usual 72 (typical day-to-day variation 3); cumulative excess 6.17 SD-days (alert at 5)."
	if d21.Explanation != want {
		t.Errorf("explanation %q, want %q", d21.Explanation, want)
	}
	if f := byDay["2026-01-17"]; f.State != "ACCUMULATING" {
		t.Errorf("day 17 = %+v, want ACCUMULATING", f)
	}
	if _, ok := byDay["2026-01-16"]; ok {
		t.Error("an in-control day was flagged")
	}
	// A restart rebuilds the baseline from the stored daily values: the next day continues.
	svc2 := e.service(t)
	e.ingest(t, svc2, rd("band", "hr", start.AddDate(0, 0, 24), 72), rd("band", "hr", start.AddDate(0, 0, 25), 72))
	flags, _ = svc2.Flags(t.Context(), tenant, "h", time.Time{}, time.Time{})
	var day25 *clinical.Flag
	for i := range flags {
		if flags[i].Day == "2026-01-25" {
			day25 = &flags[i]
		}
	}
	if day25 == nil || day25.State != "ALERT_OPEN" {
		t.Errorf("day 25 after a restart = %+v, want ALERT_OPEN (the alert is not acknowledged)", day25)
	}
}

// TestNEWS2SettingAndEligibility: at home a set is COMMUNITY and raises no NEWS2 alert
// (news2.md §1.1); a patient under 16 gets no NEWS2 set at all.
func TestNEWS2SettingAndEligibility(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.patient(t, "home", clinical.PatientInput{Sex: ptr("male"), BirthDate: ptr("1950-01-01")})
	e.patient(t, "child", clinical.PatientInput{BirthDate: ptr("2015-06-01")})
	// news2.md E7: the maximum, 20, HIGH.
	all := clinical.ObservationInput{RR: ptr(8.0), SpO2: ptr(91.0), O2: "OXYGEN", SBP: ptr(90.0), Pulse: ptr(40.0), ACVPU: "U", Temp: ptr(35.0)}
	_, set, err := e.svc.RecordObservation(ctx, tenant, "home", "user:n", all)
	if err != nil {
		t.Fatal(err)
	}
	if *set.Total != 20 || *set.Band != "HIGH" || set.Setting != "COMMUNITY" || set.EligibilityUnverified {
		t.Errorf("home set = total %v band %v setting %s unverified %v", *set.Total, *set.Band, set.Setting, set.EligibilityUnverified)
	}
	if cs := e.alarms.take(); len(cs) != 0 {
		t.Errorf("a community set raised %+v", cs)
	}
	_, set, err = e.svc.RecordObservation(ctx, tenant, "child", "user:n", all)
	if err != nil || set != nil {
		t.Errorf("child: set %+v, %v; want no set", set, err)
	}
	pg, err := e.svc.Page(ctx, tenant, "child", t0)
	if err != nil {
		t.Fatal(err)
	}
	if pg.Patient.NEWS2Eligibility != "NOT_APPLICABLE" || pg.Patient.NEWS2IneligibleBy != "UNDER_16" || *pg.Patient.Age != 10 || pg.NEWS2 != nil {
		t.Errorf("child page = %+v", pg.Patient)
	}
}

// TestRestartKeepsSpotValues: after a restart the processor reloads the manual observation and
// the last NIBP from the store, so the next monitor message completes a set at once.
func TestRestartKeepsSpotValues(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.device(t, "mon", "monitor")
	e.patient(t, "p", clinical.PatientInput{})
	e.assign(t, "mon", "p", t0, clinical.KindBedside)
	e.ingest(t, e.svc, vitals("mon", t0.Add(time.Minute), 16, 97, 72, 36.8, 125)...)
	e.now = t0.Add(2 * time.Minute)
	if _, _, err := e.svc.RecordObservation(ctx, tenant, "p", "user:n", clinical.ObservationInput{ACVPU: "A", O2: "AIR"}); err != nil {
		t.Fatal(err)
	}
	e.now = t0.Add(10 * time.Minute)
	svc2 := e.service(t)
	// No NIBP in this message; RR 22 scores 2, so the set differs and is stored.
	e.ingest(t, svc2, vitals("mon", t0.Add(10*time.Minute), 22, 97, 72, 36.8, 0)...)
	ss := e.sets(t, "p")
	if len(ss) == 0 {
		t.Fatal("no sets")
	}
	last := ss[len(ss)-1]
	if last.Source != "device" || !last.Complete || *last.Total != 2 || last.Parts["sbp"].Value != 125.0 || last.Parts["acvpu"].Value != "A" {
		t.Errorf("first set after the restart = %+v, want complete with the stored SBP and ACVPU", last)
	}
}

// TestSubjectAtNamesWard: the resolver the alarm processor uses gives the patient and the ward
// the patient was in at the reading's time, across a transfer.
func TestSubjectAtNamesWard(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.device(t, "mon", "monitor")
	e.patient(t, "p", clinical.PatientInput{})
	for _, w := range []string{"wa", "wb"} {
		if _, err := e.svc.CreateWard(ctx, tenant, w, "Ward "+w, []string{"1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Admit(ctx, tenant, "p", "wa", "wa-1", ptr(t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Transfer(ctx, tenant, "p", "wb", "wb-1", ptr(t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	e.assign(t, "mon", "p", t0, clinical.KindBedside)
	for _, c := range []struct {
		at         time.Duration
		subj, unit string
		ok         bool
	}{{-time.Minute, "", "", false}, {30 * time.Minute, "p", "wa", true}, {time.Hour, "p", "wb", true}} {
		subj, unit, ok := e.svc.Attributor().SubjectAt(tenant, "mon", t0.Add(c.at))
		if subj != c.subj || unit != c.unit || ok != c.ok {
			t.Errorf("SubjectAt(t0%+v) = %q, %q, %v; want %q, %q, %v", c.at, subj, unit, ok, c.subj, c.unit, c.ok)
		}
	}
	if _, _, ok := e.svc.Attributor().SubjectAt("other", "mon", t0.Add(time.Hour)); ok {
		t.Error("another tenant's device of the same id resolved")
	}
}

// idleLog is a log with no messages: Replay waits for the end.
type idleLog struct{}

func (idleLog) Replay(ctx context.Context, _ uint64, _ func(uint64, []reading.Reading) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestManualObservationOnAnotherNode: scaled out, a nurse's observation entered through a node
// that does not run the processor is stored there and scored by the processor's node.
func TestManualObservationOnAnotherNode(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
		t.Fatal(err)
	}
	e.patient(t, "p", clinical.PatientInput{})
	if _, err := e.svc.Admit(ctx, tenant, "p", "w", "w-01", ptr(t0)); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0.Add(time.Minute) }
	proc := clinical.New(clinical.Config{Store: e.st, Log: idleLog{}, Alarms: e.alarms, Now: now, PollEvery: 10 * time.Millisecond})
	api := clinical.New(clinical.Config{Store: e.st, Log: idleLog{}, Now: now})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proc.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	o, set, err := api.RecordObservation(ctx, tenant, "p", "user:n", clinical.ObservationInput{ACVPU: "C", NewConfusionConfirmed: true})
	if err != nil || set != nil {
		t.Fatalf("on the API node: set %v, err %v; want the observation stored, not scored", set, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss := e.sets(t, "p")
		if len(ss) == 1 {
			if ss[0].ManualObservation != o.ID || ss[0].BandMin != "LOW_MEDIUM" {
				t.Fatalf("set %+v", ss[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the processor did not score the observation: %d sets", len(ss))
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if cs := e.alarms.take(); len(cs) == 1 && cs[0].Code == alarm.NEWS2RedScore {
			break
		} else if len(cs) > 0 {
			t.Fatalf("conditions %+v", cs)
		}
		if time.Now().After(deadline) {
			t.Fatal("no NEWS2_RED_SCORE from the processor's node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // later polls score it no second time
	if ss := e.sets(t, "p"); len(ss) != 1 {
		t.Errorf("%d sets after more polls, want 1", len(ss))
	}
}
