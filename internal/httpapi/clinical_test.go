package httpapi_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

const tpa = "/api/v1/tenants/ta"

// TestClinicalRoles: viewer, qa and operator get 403 on patient routes; nurses and clinicians
// manage patients and enter observations; an admin manages but does not enter observations.
func TestClinicalRoles(t *testing.T) {
	f := newFixture(t)
	f.call(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": "p1", "mrn": "M1", "name": "Pat One", "sex": "female", "birth_date": "1950-02-03"}, 201, nil)
	for _, u := range []string{"ta-viewer", "ta-qa", "ta-operator"} {
		for _, c := range []struct{ method, path string }{
			{"GET", tpa + "/patients"}, {"GET", tpa + "/patients/p1"}, {"POST", tpa + "/patients"}, {"GET", tpa + "/wards"},
			{"POST", tpa + "/patients/p1/observations"}, {"GET", tpa + "/patients/p1/news2"}, {"GET", tpa + "/rpm/programmes"},
		} {
			if code, b := f.do(t, u, c.method, c.path, map[string]any{}); code != 403 {
				t.Errorf("%s %s as %s: %d %s, want 403", c.method, c.path, u, code, b)
			}
		}
	}
	f.call(t, "ta-admin", "GET", tpa+"/patients/p1", nil, 200, nil)
	if code, _ := f.do(t, "ta-admin", "POST", tpa+"/patients/p1/observations", map[string]any{"acvpu": "A"}); code != 403 {
		t.Errorf("admin entering an observation: %d, want 403", code)
	}
	f.call(t, "ta-clinician", "POST", tpa+"/patients/p1/observations", map[string]any{"acvpu": "A"}, 201, nil)
	// Another tenant's patient: 403 through its tenant, 404 through one's own.
	f.call(t, "tb-nurse", "POST", "/api/v1/tenants/tb/patients", map[string]any{"id": "pb", "mrn": "MB", "name": "Bee", "sex": "male"}, 201, nil)
	if code, _ := f.do(t, "ta-nurse", "GET", "/api/v1/tenants/tb/patients/pb", nil); code != 403 {
		t.Errorf("tenant A nurse reading tenant B's patient: %d, want 403", code)
	}
	if code, _ := f.do(t, "ta-nurse", "GET", tpa+"/patients/pb", nil); code != 404 {
		t.Errorf("tenant B's patient through tenant A: %d, want 404", code)
	}
}

// TestClinicalAttributionAPI: a device re-assigned from A to B through the API; readings
// measured before the re-assignment but stored after it are A's, the others B's.
func TestClinicalAttributionAPI(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	for _, p := range []string{"A", "B"} {
		f.call(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": p, "mrn": "M" + p, "name": "Patient " + p, "sex": "unknown"}, 201, nil)
	}
	hr := func(at time.Time, v float64) reading.Reading {
		r := reading.Reading{Tenant: "ta", Device: "ta-dev", Subject: "ta-subj", Metric: "hr", Value: v, Unit: "/min", Measured: at, Received: now}
		r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
		return r
	}
	store1 := func(rs ...reading.Reading) {
		if _, err := f.st.InsertReadings(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	var a1 struct {
		Assignment struct{ ID string }
	}
	f.call(t, "ta-nurse", "POST", tpa+"/assignments", map[string]any{"device": "ta-dev", "patient": "A", "from": now.Add(-time.Hour)}, 201, &a1)
	store1(hr(now.Add(-50*time.Minute), 61))
	var a2 struct {
		Assignment struct{ ID, Patient string }
		Ended      []struct {
			ID string
			To time.Time
		}
	}
	f.call(t, "ta-nurse", "POST", tpa+"/assignments", map[string]any{"device": "ta-dev", "patient": "B", "from": now.Add(-30 * time.Minute)}, 201, &a2)
	if len(a2.Ended) != 1 || a2.Ended[0].ID != a1.Assignment.ID || !a2.Ended[0].To.Equal(now.Add(-30*time.Minute)) {
		t.Fatalf("re-assignment ended %+v, want A's assignment at now-30m", a2.Ended)
	}
	// Late: measured before the re-assignment, stored after it.
	store1(hr(now.Add(-40*time.Minute), 62), hr(now.Add(-20*time.Minute), 90), hr(now.Add(-30*time.Minute), 91))
	get := func(p string) []float64 {
		var out struct {
			Points []struct {
				V      float64
				Device string
			}
		}
		f.call(t, "ta-nurse", "GET", fmt.Sprintf("%s/patients/%s/readings?metric=hr&from=%s", tpa, p, now.Add(-2*time.Hour).Format(time.RFC3339)), nil, 200, &out)
		var vs []float64
		for _, pt := range out.Points {
			vs = append(vs, pt.V)
			if pt.Device != "ta-dev" {
				t.Errorf("point from device %q", pt.Device)
			}
		}
		return vs
	}
	if got := fmt.Sprint(get("A")); got != "[61 62]" {
		t.Errorf("A's readings %s, want [61 62]", got)
	}
	// 70 is the fixture's own reading of ta-dev, stored at the fixture's "now": B's too.
	if got := fmt.Sprint(get("B")); got != "[91 90 70]" {
		t.Errorf("B's readings %s, want [91 90 70] (in measured order)", got)
	}
	// Overlapping assignment → 409; retroactive assignment audited as such.
	if code, b := f.do(t, "ta-nurse", "POST", tpa+"/assignments", map[string]any{"device": "ta-dev", "patient": "A", "from": now.Add(-45 * time.Minute), "to": now.Add(-35 * time.Minute)}); code != 409 {
		t.Errorf("overlapping assignment: %d %s, want 409", code, b)
	}
	recs, err := f.st.Audit(ctx, "ta", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var assigns, reads int
	for _, r := range recs {
		switch r.Action {
		case "device.assign":
			assigns++
			if !strings.Contains(r.New, `"retroactive":true`) {
				t.Errorf("past assignment audited without retroactive: %s", r.New)
			}
		case "PATIENT_READ":
			reads++
			if r.Target != "patient:A" && r.Target != "patient:B" || !strings.HasPrefix(r.Actor, "user:") || strings.Contains(r.New+r.Old, "Patient ") {
				t.Errorf("PATIENT_READ entry %+v", r)
			}
		}
	}
	if assigns != 2 || reads != 2 {
		t.Errorf("%d device.assign and %d PATIENT_READ entries, want 2 and 2", assigns, reads)
	}
}

// TestClinicalWardFlow: ward, admission, manual observation with its NEWS2 set, the station,
// transfer and discharge, and the entry form's 400s.
func TestClinicalWardFlow(t *testing.T) {
	f := newFixture(t)
	f.call(t, "ta-nurse", "POST", tpa+"/wards", map[string]any{"id": "wa", "name": "Ward A", "beds": []string{"01", "02"}}, 201, nil)
	f.call(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": "p", "mrn": "M", "name": "Pat", "sex": "male", "birth_date": "1960-01-01"}, 201, nil)
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/admit", map[string]any{"ward": "wa", "bed": "wa-01"}, 201, nil)
	if code, _ := f.do(t, "ta-nurse", "POST", tpa+"/patients/p/admit", map[string]any{"ward": "wa", "bed": "wa-02"}); code != 409 {
		t.Errorf("second admission: %d, want 409", code)
	}
	code, b := f.do(t, "ta-nurse", "POST", tpa+"/patients/p/observations", map[string]any{"acvpu": "C"})
	if code != 400 || !bytes.Contains(b, []byte(`"field":"acvpu"`)) {
		t.Errorf("C without confirmation: %d %s", code, b)
	}
	code, b = f.do(t, "ta-nurse", "POST", tpa+"/patients/p/observations", map[string]any{"sbp": 35})
	if code != 400 || !bytes.Contains(b, []byte(`"needs_confirmation":true`)) {
		t.Errorf("sbp 35 unconfirmed: %d %s", code, b)
	}
	var created struct {
		Set struct {
			Complete bool
			Total    *int
			Band     *string
			Scores   map[string]int
		}
	}
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/observations", map[string]any{"rr": 23, "spo2": 94, "o2": "OXYGEN", "sbp": 115, "pulse": 95,
		"acvpu": "A", "temp": 38.2}, 201, &created) // news2.md E6: total 7, HIGH
	if !created.Set.Complete || *created.Set.Total != 7 || *created.Set.Band != "HIGH" || created.Set.Scores["o2"] != 2 {
		t.Errorf("set %+v, want E6: complete, 7, HIGH", created.Set)
	}
	var st struct {
		Beds []struct {
			Bed     struct{ ID string }
			Patient *struct {
				ID  string
				Age int
			}
			NEWS2 *struct {
				Total int
				Band  string
			}
			NextDue *time.Time `json:"next_due"`
		}
	}
	f.call(t, "ta-nurse", "GET", tpa+"/wards/wa/station", nil, 200, &st)
	if len(st.Beds) != 2 || st.Beds[0].Patient == nil || st.Beds[0].Patient.ID != "p" || st.Beds[0].NEWS2 == nil || st.Beds[0].NEWS2.Band != "HIGH" ||
		st.Beds[0].Patient.Age < 60 || st.Beds[1].Patient != nil || st.Beds[0].NextDue == nil {
		t.Errorf("station %+v", st)
	}
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/transfer", map[string]any{"ward": "wa", "bed": "wa-02", "at": time.Now().Add(time.Second)}, 200, nil)
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/discharge", map[string]any{"at": time.Now().Add(2 * time.Second)}, 200, nil)
	var tl struct{ Events []struct{ Kind string } }
	f.call(t, "ta-nurse", "GET", tpa+"/patients/p/timeline?to="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339), nil, 200, &tl)
	var kinds []string
	for _, e := range tl.Events {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "discharge,transfer,observation,news2_band,admit" {
		t.Errorf("timeline %s", got)
	}
}

// TestClinicalRPMReportAPI: enrolment with a kit, the roster, and the report as PDF and CSV.
func TestClinicalRPMReportAPI(t *testing.T) {
	f := newFixture(t)
	f.call(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": "h", "mrn": "H1", "name": "Sam Roe", "sex": "female", "time_zone": "America/New_York"}, 201, nil)
	f.call(t, "ta-nurse", "POST", tpa+"/rpm/programmes", map[string]any{"id": "hf", "name": "Heart failure", "time_zone": "America/New_York"}, 201, nil)
	var en struct{ ID string }
	f.call(t, "ta-nurse", "POST", tpa+"/rpm/programmes/hf/enrolments", map[string]any{"patient": "h", "devices": []string{"ta-dev"},
		"enrolled_at": time.Now().Add(-48 * time.Hour), "setup_record": true}, 201, &en)
	var rs []reading.Reading
	for d := range 2 {
		at := time.Now().UTC().Add(-time.Duration(d)*24*time.Hour - time.Minute).Truncate(time.Second)
		r := reading.Reading{Tenant: "ta", Device: "ta-dev", Subject: "ta-subj", Metric: "nibp_sys", Value: 120, Unit: "mm[Hg]", Measured: at, Received: at}
		r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
		rs = append(rs, r)
	}
	if _, err := f.st.InsertReadings(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	var ro struct {
		Rows []struct {
			Days        int
			Status      string
			LastReading *time.Time `json:"last_reading"`
		}
	}
	f.call(t, "ta-nurse", "GET", tpa+"/rpm/programmes/hf/roster", nil, 200, &ro)
	if len(ro.Rows) != 1 || ro.Rows[0].Days < 1 || ro.Rows[0].LastReading == nil {
		t.Errorf("roster %+v", ro)
	}
	f.call(t, "ta-nurse", "POST", "/api/v1/tenants/ta/rpm/enrolments/"+en.ID+"/time", map[string]any{"minutes": 12, "activity": "DATA_REVIEW", "credential": "RN"}, 201, nil)
	month := time.Now().UTC().Format("2006-01")
	for _, c := range []struct{ format, ctype, prefix string }{{"pdf", "application/pdf", "%PDF"}, {"csv", "text/csv", "section,key,value"}} {
		code, body := f.do(t, "ta-nurse", "GET", tpa+"/rpm/enrolments/"+en.ID+"/report?month="+month+"&format="+c.format, nil)
		if code != 200 || !bytes.HasPrefix(body, []byte(c.prefix)) {
			t.Errorf("report %s: %d %.60q", c.format, code, body)
		}
	}
	var d struct {
		Patient struct{ Name string }
		SHA256  string
	}
	f.call(t, "ta-nurse", "GET", tpa+"/rpm/enrolments/"+en.ID+"/report?month="+month, nil, 200, &d)
	if d.Patient.Name != "Sam Roe" || len(d.SHA256) != 64 {
		t.Errorf("report JSON %+v", d)
	}
	if code, _ := f.do(t, "ta-nurse", "GET", tpa+"/rpm/enrolments/"+en.ID+"/report?month=2026-13", nil); code != 400 {
		t.Errorf("month 2026-13: %d, want 400", code)
	}
}

// TestClinicalScaleChangeAPI: news2.md §4.3 through the API — a nurse may not change the SpO2
// scale (403), Scale 2 without the reason code or text is 400 with a clear message, a clinician
// (prescriber) may; the change is audited (who, old → new, reason); the stored set keeps Scale 1
// and the current set is re-scored on Scale 2 (E10's values: 2 LOW → 5 MEDIUM).
func TestClinicalScaleChangeAPI(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.call(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": "p", "mrn": "M", "name": "Pat", "sex": "male", "birth_date": "1950-01-01"}, 201, nil)
	if code, b := f.do(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": "q", "mrn": "Q", "name": "Q", "sex": "male",
		"spo2_scale": 2, "spo2_scale_reason_code": "HCRF_CONFIRMED_ABG", "spo2_scale_reason": "ABG"}); code != 403 {
		t.Errorf("nurse creating a Scale 2 patient: %d %s, want 403", code, b)
	}
	type setJSON struct {
		ID         string
		Source     string
		Scale      int
		Total      *int
		Band       *string
		Supersedes string
		Scores     map[string]int
	}
	var created struct{ Set setJSON }
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/observations", map[string]any{"rr": 18, "spo2": 97, "o2": "OXYGEN", "sbp": 130, "pulse": 85,
		"acvpu": "A", "temp": 37.2}, 201, &created)
	if created.Set.Scale != 1 || *created.Set.Total != 2 || *created.Set.Band != "LOW" {
		t.Fatalf("Scale 1 set %+v, want total 2 LOW", created.Set)
	}
	valid := map[string]any{"spo2_scale": 2, "spo2_scale_reason_code": "HCRF_CONFIRMED_ABG", "spo2_scale_reason": "ABG 27/11 pCO2 7.9 kPa"}
	code, b := f.do(t, "ta-nurse", "PATCH", tpa+"/patients/p", valid)
	if code != 403 || !bytes.Contains(b, []byte("prescriber")) {
		t.Errorf("nurse setting Scale 2: %d %s, want 403 naming the prescriber permission", code, b)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
		text  string
	}{
		{map[string]any{"spo2_scale": 2, "spo2_scale_reason": "ABG"}, "spo2_scale_reason_code", "HCRF_CONFIRMED_ABG"},
		{map[string]any{"spo2_scale": 2, "spo2_scale_reason_code": "HCRF_CONFIRMED_ABG"}, "spo2_scale_reason", "free-text reason"},
	} {
		code, b := f.do(t, "ta-clinician", "PATCH", tpa+"/patients/p", c.body)
		if code != 400 || !bytes.Contains(b, []byte(`"field":"`+c.field+`"`)) || !bytes.Contains(b, []byte(c.text)) {
			t.Errorf("PATCH %v: %d %s, want 400 on %s saying %q", c.body, code, b, c.field, c.text)
		}
	}
	var pt struct {
		SpO2Scale int `json:"spo2_scale"`
	}
	f.call(t, "ta-clinician", "PATCH", tpa+"/patients/p", valid, 200, &pt)
	if pt.SpO2Scale != 2 {
		t.Fatalf("patient after the change: scale %d", pt.SpO2Scale)
	}
	recs, err := f.st.Audit(ctx, "ta", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var scaleRecs int
	for _, r := range recs {
		if r.Action != "patient.spo2_scale" {
			continue
		}
		scaleRecs++
		if r.Actor != "user:"+f.users["ta-clinician"] || r.Target != "patient:p" || r.Time.IsZero() ||
			r.Old != `{"spo2_scale":1}` || !strings.Contains(r.New, `"spo2_scale":2`) || !strings.Contains(r.Reason, "HCRF_CONFIRMED_ABG ABG 27/11") {
			t.Errorf("audit entry %+v", r)
		}
	}
	if scaleRecs != 1 {
		t.Errorf("%d patient.spo2_scale audit entries, want 1", scaleRecs)
	}
	var hist struct{ Sets []setJSON }
	f.call(t, "ta-clinician", "GET", tpa+"/patients/p/news2?to="+time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano), nil, 200, &hist)
	if len(hist.Sets) != 2 {
		t.Fatalf("sets %+v, want the old one and its re-score", hist.Sets)
	}
	if old := hist.Sets[0]; old.ID != created.Set.ID || old.Scale != 1 || *old.Total != 2 || old.Scores["spo2"] != 0 {
		t.Errorf("old set changed: %+v", old)
	}
	if re := hist.Sets[1]; re.Source != "scale_change" || re.Supersedes != created.Set.ID || re.Scale != 2 || *re.Total != 5 || *re.Band != "MEDIUM" {
		t.Errorf("re-scored set %+v, want scale_change, Scale 2, 5 MEDIUM", re)
	}
	// Setting the scale it already has is no change and needs no prescriber.
	f.call(t, "ta-nurse", "PATCH", tpa+"/patients/p", map[string]any{"spo2_scale": 2, "name": "Pat Two"}, 200, nil)
}

// TestClinicalEncounterJSON: every encounter the API returns (admit, transfer, the patient page,
// the encounter list) names its current ward and bed, as the patient list's summary does, next
// to the bed stays (docs/clinical.md §1).
func TestClinicalEncounterJSON(t *testing.T) {
	f := newFixture(t)
	f.call(t, "ta-nurse", "POST", tpa+"/wards", map[string]any{"id": "wa", "name": "Ward A", "beds": []string{"01", "02"}}, 201, nil)
	f.call(t, "ta-nurse", "POST", tpa+"/patients", map[string]any{"id": "p", "mrn": "M", "name": "Pat", "sex": "male"}, 201, nil)
	type enc struct {
		ID, Ward, Bed string
		Stays         []struct{ Ward, Bed string }
	}
	var admitted enc
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/admit", map[string]any{"ward": "wa", "bed": "wa-01", "at": time.Now().Add(-time.Hour)}, 201, &admitted)
	if admitted.Ward != "wa" || admitted.Bed != "wa-01" || len(admitted.Stays) != 1 {
		t.Errorf("admit response %+v, want ward wa bed wa-01 and one stay", admitted)
	}
	var moved enc
	f.call(t, "ta-nurse", "POST", tpa+"/patients/p/transfer", map[string]any{"ward": "wa", "bed": "wa-02"}, 200, &moved)
	var page struct{ Encounter enc }
	f.call(t, "ta-nurse", "GET", tpa+"/patients/p", nil, 200, &page)
	var list struct{ Encounters []enc }
	f.call(t, "ta-nurse", "GET", tpa+"/patients/p/encounters", nil, 200, &list)
	var rows struct{ Patients []struct{ Encounter enc } }
	f.call(t, "ta-nurse", "GET", tpa+"/patients?admitted=true", nil, 200, &rows)
	if len(list.Encounters) != 1 || len(rows.Patients) != 1 {
		t.Fatalf("encounters %+v, patients %+v", list, rows)
	}
	for name, e := range map[string]enc{"transfer": moved, "page": page.Encounter, "encounters": list.Encounters[0], "patients": rows.Patients[0].Encounter} {
		if e.ID != admitted.ID || e.Ward != "wa" || e.Bed != "wa-02" {
			t.Errorf("%s: encounter %+v, want %s in wa / wa-02", name, e, admitted.ID)
		}
	}
	if len(page.Encounter.Stays) != 2 || page.Encounter.Stays[1].Bed != "wa-02" {
		t.Errorf("page encounter stays %+v, want wa-01 then wa-02", page.Encounter.Stays)
	}
}
