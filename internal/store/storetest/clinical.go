package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// RunClinical runs the store.ClinicalStore conformance suite against the backend that open
// creates; the store open returns must implement store.ClinicalStore.
func RunClinical(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, cs store.ClinicalStore)
	}{
		{"WardsBeds", testWardsBeds},
		{"Patients", testPatients},
		{"Encounters", testEncounters},
		{"Assignments", testAssignments},
		{"DeviceReadingsAcrossReassignment", testDeviceReadings},
		{"ReadingSlots", testReadingSlots},
		{"Records", testRecords},
		{"Checkpoint", testClinicalCheckpoint},
		{"Enrolments", testEnrolments},
		{"TenantIsolation", testClinicalIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			cs, ok := s.(store.ClinicalStore)
			if !ok {
				t.Fatalf("%T does not implement store.ClinicalStore", s)
			}
			addTenant(t, s, "acme")
			addTenant(t, s, "other")
			tt.fn(t, s, cs)
		})
	}
}

func testWardsBeds(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	mustNoErr(t, "CreateWard", cs.CreateWard(ctx, store.Ward{ID: "w-a", Tenant: "acme", Name: "Ward A", Created: t0}))
	wantErr(t, "CreateWard again", cs.CreateWard(ctx, store.Ward{ID: "w-a", Tenant: "acme", Name: "X", Created: t0}), store.ErrConflict)
	mustNoErr(t, "CreateWard b", cs.CreateWard(ctx, store.Ward{ID: "w-b", Tenant: "acme", Name: "Ward B", Created: t0}))
	for _, b := range []store.Bed{{ID: "w-a-02", Ward: "w-a", Label: "02"}, {ID: "w-a-01", Ward: "w-a", Label: "01"}, {ID: "w-b-01", Ward: "w-b", Label: "01"}} {
		b.Tenant = "acme"
		mustNoErr(t, "CreateBed "+b.ID, cs.CreateBed(ctx, b))
	}
	wantErr(t, "CreateBed dup", cs.CreateBed(ctx, store.Bed{ID: "w-a-01", Tenant: "acme", Ward: "w-a"}), store.ErrConflict)
	wantErr(t, "CreateBed without ward", cs.CreateBed(ctx, store.Bed{ID: "x-01", Tenant: "acme", Ward: "nope"}), store.ErrNotFound)
	w, err := cs.Ward(ctx, "acme", "w-a")
	mustNoErr(t, "Ward", err)
	if w.Name != "Ward A" || !w.Created.Equal(t0) {
		t.Errorf("Ward = %+v", w)
	}
	beds, err := cs.Beds(ctx, "acme", "w-a")
	mustNoErr(t, "Beds", err)
	if got := ids(beds, func(b store.Bed) string { return b.ID }); got != "w-a-01,w-a-02" {
		t.Errorf("Beds(w-a) = %s", got)
	}
	all, err := cs.Beds(ctx, "acme", "")
	mustNoErr(t, "Beds all", err)
	if len(all) != 3 {
		t.Errorf("Beds() = %d beds, want 3", len(all))
	}
	ws, err := cs.Wards(ctx, "acme")
	mustNoErr(t, "Wards", err)
	if got := ids(ws, func(w store.Ward) string { return w.ID }); got != "w-a,w-b" {
		t.Errorf("Wards = %s", got)
	}
	_, err = cs.Bed(ctx, "acme", "w-b-01")
	mustNoErr(t, "Bed", err)
	_, err = cs.Ward(ctx, "acme", "nope")
	wantErr(t, "Ward nope", err, store.ErrNotFound)
}

func ids[T any](xs []T, id func(T) string) string {
	var out string
	for i, x := range xs {
		if i > 0 {
			out += ","
		}
		out += id(x)
	}
	return out
}

func testPatients(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	p := store.Patient{ID: "p1", Tenant: "acme", MRN: "M1", Name: "Zed", BirthDate: "1950-01-02", Sex: "male", SpO2Scale: 1, TimeZone: "UTC", Created: t0}
	mustNoErr(t, "CreatePatient", cs.CreatePatient(ctx, p))
	wantErr(t, "same id", cs.CreatePatient(ctx, store.Patient{ID: "p1", Tenant: "acme", MRN: "M9"}), store.ErrConflict)
	wantErr(t, "same MRN", cs.CreatePatient(ctx, store.Patient{ID: "p2", Tenant: "acme", MRN: "M1"}), store.ErrConflict)
	mustNoErr(t, "same MRN other tenant", cs.CreatePatient(ctx, store.Patient{ID: "p2", Tenant: "other", MRN: "M1", Name: "Ann"}))
	mustNoErr(t, "CreatePatient p3", cs.CreatePatient(ctx, store.Patient{ID: "p3", Tenant: "acme", MRN: "M3", Name: "Amy", SpO2Scale: 1}))
	got, err := cs.Patient(ctx, "acme", "p1")
	mustNoErr(t, "Patient", err)
	if got != p {
		t.Errorf("Patient = %+v, want %+v", got, p)
	}
	p.SpO2Scale, p.Name = 2, "Zed Q"
	mustNoErr(t, "UpdatePatient", cs.UpdatePatient(ctx, p))
	got, _ = cs.Patient(ctx, "acme", "p1")
	if got.SpO2Scale != 2 || got.Name != "Zed Q" {
		t.Errorf("after update: %+v", got)
	}
	wantErr(t, "update missing", cs.UpdatePatient(ctx, store.Patient{ID: "nope", Tenant: "acme"}), store.ErrNotFound)
	ps, err := cs.Patients(ctx, "acme")
	mustNoErr(t, "Patients", err)
	if got := ids(ps, func(p store.Patient) string { return p.ID }); got != "p3,p1" {
		t.Errorf("Patients = %s, want by name p3,p1", got)
	}
}

func setupWard(t *testing.T, cs store.ClinicalStore, tenant string) {
	t.Helper()
	ctx := t.Context()
	mustNoErr(t, "CreateWard", cs.CreateWard(ctx, store.Ward{ID: "w", Tenant: tenant, Name: "W", Created: t0}))
	for _, b := range []string{"w-1", "w-2"} {
		mustNoErr(t, "CreateBed", cs.CreateBed(ctx, store.Bed{ID: b, Tenant: tenant, Ward: "w", Label: b}))
	}
	for _, p := range []string{"p1", "p2"} {
		mustNoErr(t, "CreatePatient", cs.CreatePatient(ctx, store.Patient{ID: p, Tenant: tenant, MRN: "M" + p, Name: p, SpO2Scale: 1}))
	}
}

func testEncounters(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	setupWard(t, cs, "acme")
	stay := func(bed string, at time.Duration) []store.BedStay {
		return []store.BedStay{{Ward: "w", Bed: bed, From: t0.Add(at)}}
	}
	mustNoErr(t, "Admit p1", cs.Admit(ctx, store.Encounter{ID: "e1", Tenant: "acme", Patient: "p1", Admitted: t0, Stays: stay("w-1", 0)}))
	wantErr(t, "Admit p1 twice", cs.Admit(ctx, store.Encounter{ID: "e2", Tenant: "acme", Patient: "p1", Admitted: t0, Stays: stay("w-2", 0)}), store.ErrConflict)
	wantErr(t, "Admit p2 to occupied bed", cs.Admit(ctx, store.Encounter{ID: "e2", Tenant: "acme", Patient: "p2", Admitted: t0, Stays: stay("w-1", 0)}), store.ErrConflict)
	mustNoErr(t, "Admit p2", cs.Admit(ctx, store.Encounter{ID: "e2", Tenant: "acme", Patient: "p2", Admitted: t0, Stays: stay("w-2", 0)}))
	wantErr(t, "Transfer to occupied", cs.Transfer(ctx, "acme", "e1", store.BedStay{Ward: "w", Bed: "w-2", From: t0.Add(time.Hour)}), store.ErrConflict)
	mustNoErr(t, "Discharge p2", cs.Discharge(ctx, "acme", "e2", t0.Add(time.Hour)))
	wantErr(t, "Discharge p2 again", cs.Discharge(ctx, "acme", "e2", t0.Add(2*time.Hour)), store.ErrNotFound)
	mustNoErr(t, "Transfer p1", cs.Transfer(ctx, "acme", "e1", store.BedStay{Ward: "w", Bed: "w-2", From: t0.Add(2 * time.Hour)}))
	wantErr(t, "Transfer closed", cs.Transfer(ctx, "acme", "e2", store.BedStay{Ward: "w", Bed: "w-1", From: t0.Add(3 * time.Hour)}), store.ErrNotFound)
	open, err := cs.OpenStays(ctx, "acme", "w")
	mustNoErr(t, "OpenStays", err)
	if len(open) != 1 || open[0].Patient != "p1" || open[0].Bed != "w-2" || open[0].Encounter != "e1" || !open[0].From.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("OpenStays = %+v, want p1 in w-2 since t0+2h", open)
	}
	encs, err := cs.Encounters(ctx, "acme", "p1")
	mustNoErr(t, "Encounters", err)
	if len(encs) != 1 || len(encs[0].Stays) != 2 || encs[0].Stays[0].Bed != "w-1" || !encs[0].Stays[0].To.Equal(t0.Add(2*time.Hour)) ||
		!encs[0].Stays[1].To.IsZero() || !encs[0].Discharged.IsZero() {
		t.Errorf("Encounters(p1) = %+v", encs)
	}
	encs, _ = cs.Encounters(ctx, "acme", "p2")
	if len(encs) != 1 || !encs[0].Discharged.Equal(t0.Add(time.Hour)) || !encs[0].Stays[0].To.Equal(t0.Add(time.Hour)) {
		t.Errorf("Encounters(p2) = %+v", encs)
	}
	// p2 may be admitted again after discharge.
	mustNoErr(t, "Readmit p2", cs.Admit(ctx, store.Encounter{ID: "e3", Tenant: "acme", Patient: "p2", Admitted: t0.Add(5 * time.Hour), Stays: stay("w-1", 5*time.Hour)}))
	all, _ := cs.Encounters(ctx, "acme", "")
	if got := ids(all, func(e store.Encounter) string { return e.ID }); got != "e3,e1,e2" {
		t.Errorf("Encounters() = %s, want newest first e3,e1,e2", got)
	}
}

func asg(id, device, patient string, from, to time.Duration) store.DeviceAssignment {
	a := store.DeviceAssignment{ID: id, Tenant: "acme", Device: device, Patient: patient, Kind: "bedside", From: t0.Add(from), CreatedBy: "user:u1", Created: t0}
	if to != 0 {
		a.To = t0.Add(to)
	}
	return a
}

func testAssignments(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	ended, err := cs.Assign(ctx, asg("a1", "mon", "A", 0, 0))
	mustNoErr(t, "Assign a1", err)
	if len(ended) != 0 {
		t.Errorf("first assignment ended %v", ended)
	}
	// Re-assignment to B at +1h ends A's open assignment there.
	ended, err = cs.Assign(ctx, asg("a2", "mon", "B", time.Hour, 0))
	mustNoErr(t, "Assign a2", err)
	if len(ended) != 1 || ended[0].ID != "a1" || !ended[0].To.Equal(t0.Add(time.Hour)) {
		t.Fatalf("re-assignment ended %+v, want a1 at t0+1h", ended)
	}
	// An assignment inside a closed window, or starting with the open one, conflicts.
	_, err = cs.Assign(ctx, asg("a3", "mon", "C", 30*time.Minute, 40*time.Minute))
	wantErr(t, "Assign inside a1", err, store.ErrConflict)
	_, err = cs.Assign(ctx, asg("a3", "mon", "C", time.Hour, 0))
	wantErr(t, "Assign at a2's start", err, store.ErrConflict)
	// Before everything, not overlapping: fine (after-the-fact attribution).
	_, err = cs.Assign(ctx, asg("a0", "mon", "C", -2*time.Hour, -time.Hour))
	mustNoErr(t, "Assign a0 in the past", err)
	_, err = cs.Assign(ctx, asg("bad", "mon", "C", -3*time.Hour, -3*time.Hour))
	if err == nil {
		t.Error("empty window accepted")
	}
	a, err := cs.EndAssignment(ctx, "acme", "a2", t0.Add(3*time.Hour))
	mustNoErr(t, "EndAssignment", err)
	if !a.To.Equal(t0.Add(3*time.Hour)) || a.Patient != "B" {
		t.Errorf("EndAssignment = %+v", a)
	}
	_, err = cs.EndAssignment(ctx, "acme", "a2", t0.Add(4*time.Hour))
	wantErr(t, "EndAssignment closed", err, store.ErrNotFound)
	_, err = cs.Assign(ctx, asg("o1", "mon2", "A", 0, 0))
	mustNoErr(t, "Assign o1", err)
	_, err = cs.EndAssignment(ctx, "acme", "o1", t0)
	wantErr(t, "EndAssignment at its start", err, store.ErrConflict)

	list, err := cs.Assignments(ctx, store.AssignmentQuery{Tenant: "acme", Device: "mon"})
	mustNoErr(t, "Assignments", err)
	if got := ids(list, func(a store.DeviceAssignment) string { return a.ID }); got != "a2,a1,a0" {
		t.Errorf("Assignments(mon) = %s, want newest first a2,a1,a0", got)
	}
	list, _ = cs.Assignments(ctx, store.AssignmentQuery{Tenant: "acme", Patient: "A"})
	if got := ids(list, func(a store.DeviceAssignment) string { return a.ID }); got != "a1,o1" && got != "o1,a1" {
		t.Errorf("Assignments(A) = %s", got)
	}
	list, _ = cs.Assignments(ctx, store.AssignmentQuery{Tenant: "acme", OpenOnly: true})
	if got := ids(list, func(a store.DeviceAssignment) string { return a.ID }); got != "o1" {
		t.Errorf("open assignments = %s, want o1", got)
	}
	if list[0].CreatedBy != "user:u1" || list[0].Kind != "bedside" || !list[0].Created.Equal(t0) {
		t.Errorf("assignment fields: %+v", list[0])
	}
}

// testDeviceReadings: a device's readings are read by device whatever subject ingest gave
// them, so that a patient's readings are its assignments' windows over them.
func testDeviceReadings(t *testing.T, s store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	addDevice(t, s, "acme", "mon", "bed-1")
	var rs []reading.Reading
	for i := range 6 { // every 10 min from t0, all filed under the ingest subject "bed-1"
		rs = append(rs, rd("acme", "mon", "bed-1", "hr", time.Duration(i)*10*time.Minute, float64(60+i)))
	}
	rs = append(rs, rd("acme", "mon", "someone-else", "spo2", 5*time.Minute, 97), rd("other", "mon-x", "bed-1", "hr", 0, 1))
	insert(t, s, rs...)
	got, err := cs.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: "acme", Device: "mon", Metric: "hr", From: t0.Add(10 * time.Minute), To: t0.Add(40 * time.Minute)})
	mustNoErr(t, "DeviceReadings", err)
	var vals []float64
	for _, p := range got {
		vals = append(vals, p.Value)
		if p.Device != "mon" || p.Metric != "hr" || p.Unit != "/min" || !p.Received.Equal(p.Measured.Add(time.Second)) {
			t.Errorf("point %+v", p)
		}
	}
	if fmt.Sprint(vals) != "[61 62 63]" {
		t.Errorf("DeviceReadings [t0+10m, t0+40m) = %v, want [61 62 63]", vals)
	}
	got, _ = cs.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: "acme", Device: "mon", Metric: "hr", Desc: true, Limit: 1})
	if len(got) != 1 || got[0].Value != 65 {
		t.Errorf("newest hr = %+v, want 65", got)
	}
	// A late reading (measured before others, inserted after) is found in its place.
	insert(t, s, rd("acme", "mon", "bed-1", "hr", 15*time.Minute, 99))
	got, _ = cs.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: "acme", Device: "mon", Metric: "hr", From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute)})
	if len(got) != 2 || got[1].Value != 99 {
		t.Errorf("with a late reading: %+v", got)
	}
	got, _ = cs.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: "acme", Device: "mon", Metric: "spo2"})
	if len(got) != 1 || got[0].Value != 97 {
		t.Errorf("spo2 filed under another subject = %+v, want 97", got)
	}
	got, err = cs.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: "acme", Device: "mon", Metric: "rr"})
	if err != nil || len(got) != 0 {
		t.Errorf("no rr: %v, %v", got, err)
	}
	got, _ = cs.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: "acme", Device: "mon-x", Metric: "hr"})
	if len(got) != 0 {
		t.Errorf("other tenant's device read from acme: %+v", got)
	}
}

func testReadingSlots(t *testing.T, s store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	addDevice(t, s, "acme", "cuff", "p")
	implausible := rd("acme", "cuff", "p", "hr", 3*time.Hour, 300)
	implausible.Flags = reading.Implausible
	insert(t, s,
		rd("acme", "cuff", "p", "hr", 0, 70), rd("acme", "cuff", "p", "hr", 2*time.Minute, 70), // 09:26 and 09:28: one slot, 09:15
		rd("acme", "cuff", "p", "nibp_sys", 20*time.Minute, 120),
		rd("acme", "cuff", "p", "battery", 2*time.Hour, 90),
		implausible,
		rd("acme", "cuff", "p", "hr", 26*time.Hour, 71),
	)
	got, err := cs.ReadingSlots(ctx, "acme", "cuff", []string{"hr", "nibp_sys"}, uint32(reading.Implausible), t0.Add(-time.Hour), t0.Add(48*time.Hour), 15*time.Minute)
	mustNoErr(t, "ReadingSlots", err)
	want := []time.Time{
		time.Date(2025, 3, 14, 9, 15, 0, 0, time.UTC), time.Date(2025, 3, 14, 9, 45, 0, 0, time.UTC), // nibp at 09:46
		time.Date(2025, 3, 15, 11, 15, 0, 0, time.UTC),
	}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("ReadingSlots = %v, want %v", got, want)
	}
	got, _ = cs.ReadingSlots(ctx, "acme", "cuff", []string{"hr"}, 0, t0, t0.Add(24*time.Hour), 15*time.Minute)
	if len(got) != 2 { // 09:15 and the implausible one at 12:26 → 12:15
		t.Errorf("ReadingSlots without exclusion = %v, want 2 slots", got)
	}
	got, _ = cs.ReadingSlots(ctx, "other", "cuff", []string{"hr"}, 0, time.Time{}, time.Time{}, 15*time.Minute)
	if len(got) != 0 {
		t.Errorf("other tenant sees slots %v", got)
	}
}

func testRecords(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	put := func(id, owner string, at time.Duration, tag string) bool {
		t.Helper()
		ok, err := cs.PutRecord(ctx, store.ClinicalRecord{Kind: store.RecNEWS2Set, ID: id, Tenant: "acme", Owner: owner, At: t0.Add(at), Tag: tag,
			JSON: fmt.Appendf(nil, `{"id":%q}`, id)})
		mustNoErr(t, "PutRecord "+id, err)
		return ok
	}
	if !put("s1", "p1", 0, "complete") || !put("s2", "p1", time.Minute, "") || !put("s3", "p2", 2*time.Minute, "complete") {
		t.Fatal("first inserts not reported as inserted")
	}
	if put("s1", "p1", 5*time.Minute, "") {
		t.Error("a second insert of s1 reported inserted")
	}
	ok, err := cs.PutRecord(ctx, store.ClinicalRecord{Kind: store.RecManualObs, ID: "s1", Tenant: "acme", Owner: "p1", At: t0, JSON: []byte(`{}`)})
	if err != nil || !ok {
		t.Errorf("same id of another kind: %v %v", ok, err)
	}
	rs, err := cs.Records(ctx, store.RecordQuery{Tenant: "acme", Kind: store.RecNEWS2Set, Owner: "p1"})
	mustNoErr(t, "Records", err)
	if got := ids(rs, func(r store.ClinicalRecord) string { return r.ID }); got != "s1,s2" {
		t.Errorf("Records(p1) = %s", got)
	}
	if string(rs[0].JSON) != `{"id":"s1"}` || rs[0].Tag != "complete" || !rs[0].At.Equal(t0) || rs[0].Owner != "p1" {
		t.Errorf("record s1 = %+v (first insert must win)", rs[0])
	}
	rs, _ = cs.Records(ctx, store.RecordQuery{Tenant: "acme", Kind: store.RecNEWS2Set, Tag: "complete", Desc: true, Limit: 1})
	if got := ids(rs, func(r store.ClinicalRecord) string { return r.ID }); got != "s3" {
		t.Errorf("newest complete = %s, want s3", got)
	}
	rs, _ = cs.Records(ctx, store.RecordQuery{Tenant: "acme", Kind: store.RecNEWS2Set, From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)})
	if got := ids(rs, func(r store.ClinicalRecord) string { return r.ID }); got != "s2" {
		t.Errorf("Records [t0+1m, t0+2m) = %s, want s2", got)
	}
	rs, _ = cs.Records(ctx, store.RecordQuery{Tenant: "other", Kind: store.RecNEWS2Set})
	if len(rs) != 0 {
		t.Errorf("other tenant sees %d records", len(rs))
	}
}

func testEnrolments(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	p := store.Programme{ID: "hf", Tenant: "acme", Name: "Heart failure", Condition: "I50.9", TimeZone: "America/New_York", Created: t0}
	mustNoErr(t, "CreateProgramme", cs.CreateProgramme(ctx, p))
	wantErr(t, "CreateProgramme dup", cs.CreateProgramme(ctx, p), store.ErrConflict)
	got, err := cs.Programme(ctx, "acme", "hf")
	mustNoErr(t, "Programme", err)
	if got != p {
		t.Errorf("Programme = %+v", got)
	}
	e := store.Enrolment{ID: "e1", Tenant: "acme", Programme: "hf", Patient: "p1", TimeZone: "America/New_York", EnrolledAt: t0,
		SetupRecord: true, Devices: []string{"band", "cuff"}}
	mustNoErr(t, "CreateEnrolment", cs.CreateEnrolment(ctx, e))
	wantErr(t, "second open enrolment", cs.CreateEnrolment(ctx, store.Enrolment{ID: "e2", Tenant: "acme", Programme: "hf", Patient: "p1", EnrolledAt: t0}), store.ErrConflict)
	wantErr(t, "unknown programme", cs.CreateEnrolment(ctx, store.Enrolment{ID: "e3", Tenant: "acme", Programme: "nope", Patient: "p1", EnrolledAt: t0}), store.ErrNotFound)
	ge, err := cs.Enrolment(ctx, "acme", "e1")
	mustNoErr(t, "Enrolment", err)
	if !slices.Equal(ge.Devices, e.Devices) || !ge.SetupRecord || !ge.EnrolledAt.Equal(t0) || ge.TimeZone != e.TimeZone || !ge.EndedAt.IsZero() {
		t.Errorf("Enrolment = %+v", ge)
	}
	ended, err := cs.EndEnrolment(ctx, "acme", "e1", t0.Add(time.Hour))
	mustNoErr(t, "EndEnrolment", err)
	if !ended.EndedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("EndEnrolment = %+v", ended)
	}
	_, err = cs.EndEnrolment(ctx, "acme", "e1", t0.Add(2*time.Hour))
	wantErr(t, "EndEnrolment again", err, store.ErrNotFound)
	mustNoErr(t, "re-enrol", cs.CreateEnrolment(ctx, store.Enrolment{ID: "e2", Tenant: "acme", Programme: "hf", Patient: "p1", EnrolledAt: t0.Add(2 * time.Hour)}))
	list, err := cs.Enrolments(ctx, "acme", "hf", "")
	mustNoErr(t, "Enrolments", err)
	if got := ids(list, func(e store.Enrolment) string { return e.ID }); got != "e1,e2" {
		t.Errorf("Enrolments = %s", got)
	}
	if list[1].Devices == nil || len(list[1].Devices) != 0 {
		t.Errorf("enrolment without devices: %#v, want an empty list", list[1].Devices)
	}
	ps, _ := cs.Programmes(ctx, "acme")
	if len(ps) != 1 {
		t.Errorf("Programmes = %v", ps)
	}
}

func testClinicalIsolation(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	setupWard(t, cs, "acme")
	mustNoErr(t, "Admit", cs.Admit(ctx, store.Encounter{ID: "e1", Tenant: "acme", Patient: "p1", Admitted: t0, Stays: []store.BedStay{{Ward: "w", Bed: "w-1", From: t0}}}))
	_, err := cs.Assign(ctx, asg("a1", "mon", "p1", 0, 0))
	mustNoErr(t, "Assign", err)
	mustNoErr(t, "CreateProgramme", cs.CreateProgramme(ctx, store.Programme{ID: "hf", Tenant: "acme", Name: "HF"}))
	mustNoErr(t, "CreateEnrolment", cs.CreateEnrolment(ctx, store.Enrolment{ID: "en", Tenant: "acme", Programme: "hf", Patient: "p1", EnrolledAt: t0}))

	_, err = cs.Patient(ctx, "other", "p1")
	wantErr(t, "Patient across tenants", err, store.ErrNotFound)
	_, err = cs.Ward(ctx, "other", "w")
	wantErr(t, "Ward across tenants", err, store.ErrNotFound)
	_, err = cs.Bed(ctx, "other", "w-1")
	wantErr(t, "Bed across tenants", err, store.ErrNotFound)
	_, err = cs.Enrolment(ctx, "other", "en")
	wantErr(t, "Enrolment across tenants", err, store.ErrNotFound)
	_, err = cs.Programme(ctx, "other", "hf")
	wantErr(t, "Programme across tenants", err, store.ErrNotFound)
	wantErr(t, "Discharge across tenants", cs.Discharge(ctx, "other", "e1", t0.Add(time.Hour)), store.ErrNotFound)
	_, err = cs.EndAssignment(ctx, "other", "a1", t0.Add(time.Hour))
	wantErr(t, "EndAssignment across tenants", err, store.ErrNotFound)
	wantErr(t, "UpdatePatient across tenants", cs.UpdatePatient(ctx, store.Patient{ID: "p1", Tenant: "other", Name: "x"}), store.ErrNotFound)
	for what, n := range map[string]int{
		"patients":    must(cs.Patients(ctx, "other")),
		"wards":       must(cs.Wards(ctx, "other")),
		"beds":        must(cs.Beds(ctx, "other", "")),
		"encounters":  must(cs.Encounters(ctx, "other", "")),
		"open stays":  must(cs.OpenStays(ctx, "other", "")),
		"assignments": must(cs.Assignments(ctx, store.AssignmentQuery{Tenant: "other"})),
		"enrolments":  must(cs.Enrolments(ctx, "other", "", "")),
		"programmes":  must(cs.Programmes(ctx, "other")),
	} {
		if n != 0 {
			t.Errorf("tenant other sees %d %s of acme", n, what)
		}
	}
	// The same ids are free in the other tenant.
	mustNoErr(t, "CreateWard other", cs.CreateWard(ctx, store.Ward{ID: "w", Tenant: "other", Name: "W"}))
	_, err = cs.Assign(ctx, store.DeviceAssignment{ID: "a1", Tenant: "other", Device: "mon", Patient: "p1", From: t0})
	mustNoErr(t, "Assign other", err)
}

func must[T any](xs []T, err error) int {
	if err != nil {
		return -1
	}
	return len(xs)
}

func testClinicalCheckpoint(t *testing.T, _ store.Store, cs store.ClinicalStore) {
	ctx := t.Context()
	check := func(what string, wantSeq uint64, wantOK bool) {
		t.Helper()
		seq, ok, err := cs.ClinicalCheckpoint(ctx)
		mustNoErr(t, what, err)
		if seq != wantSeq || ok != wantOK {
			t.Fatalf("%s: ClinicalCheckpoint = %d, %v; want %d, %v", what, seq, ok, wantSeq, wantOK)
		}
	}
	check("fresh store", 0, false)
	set := func(id, doc string) store.ClinicalRecord {
		return store.ClinicalRecord{Kind: store.RecNEWS2Set, ID: id, Tenant: "acme", Owner: "p1", At: t0, Tag: "complete", JSON: []byte(doc)}
	}
	mustNoErr(t, "batch without checkpoint", cs.SaveClinicalBatch(ctx, store.ClinicalBatch{
		Records: []store.ClinicalRecord{set("s1", `{"v":1}`)},
		States:  []store.ClinicalState{{Tenant: "acme", Patient: "p1", JSON: []byte(`{"w":1}`)}}}))
	check("after a batch without checkpoint", 0, false)
	// A replayed batch: the record exists and is kept as it was; the state is replaced.
	mustNoErr(t, "batch with checkpoint", cs.SaveClinicalBatch(ctx, store.ClinicalBatch{
		Records: []store.ClinicalRecord{set("s1", `{"v":2}`), set("s2", `{"v":1}`)},
		States:  []store.ClinicalState{{Tenant: "acme", Patient: "p1", JSON: []byte(`{"w":2}`)}}, Checkpoint: 42}))
	check("after checkpoint 42", 42, true)
	mustNoErr(t, "batch, checkpoint 0", cs.SaveClinicalBatch(ctx, store.ClinicalBatch{
		States: []store.ClinicalState{{Tenant: "acme", Patient: "p1", JSON: []byte(`{"w":3}`)}}}))
	check("checkpoint 0 leaves it", 42, true)
	// Messages without clinical effects still move the checkpoint: a batch of nothing else.
	mustNoErr(t, "checkpoint only", cs.SaveClinicalBatch(ctx, store.ClinicalBatch{Checkpoint: 1 << 40}))
	check("checkpoint-only batch", 1<<40, true)
	sts, err := cs.ClinicalStates(ctx)
	mustNoErr(t, "ClinicalStates", err)
	if len(sts) != 1 || sts[0].Tenant != "acme" || sts[0].Patient != "p1" || string(sts[0].JSON) != `{"w":3}` {
		t.Fatalf("ClinicalStates = %+v, want the one state of acme/p1 {\"w\":3}", sts)
	}
	rs, err := cs.Records(ctx, store.RecordQuery{Tenant: "acme", Kind: store.RecNEWS2Set, Owner: "p1"})
	mustNoErr(t, "Records", err)
	got := map[string]string{}
	for _, r := range rs {
		got[r.ID] = string(r.JSON)
	}
	if len(got) != 2 || got["s1"] != `{"v":1}` || got["s2"] != `{"v":1}` {
		t.Fatalf("records after the batches = %v, want s1 {\"v\":1} (kept) and s2 {\"v\":1}", got)
	}
	// A failed batch writes nothing: a record, a state and the checkpoint go together.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := cs.SaveClinicalBatch(cctx, store.ClinicalBatch{Records: []store.ClinicalRecord{set("s3", `{}`)},
		States: []store.ClinicalState{{Tenant: "acme", Patient: "p2", JSON: []byte(`{}`)}}, Checkpoint: 1<<40 + 1}); err == nil {
		t.Fatal("SaveClinicalBatch with a cancelled context succeeded")
	}
	check("after a failed batch", 1<<40, true)
}
