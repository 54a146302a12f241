package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/sim"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// TestSeedClinical: the demo ward and RPM programme seed once; a second run (a restart)
// changes nothing.
func TestSeedClinical(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, ":memory:", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, store.Tenant{ID: demoTenant, Name: "Demo", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	fleet := sim.NewFleet(sim.Config{Seed: 1, Start: now})
	audits := 0
	rec := func(string, string) error { audits++; return nil }
	for run := range 2 {
		if err := seedClinical(ctx, st, fleet, now.Add(time.Duration(run)*time.Minute), rec, io.Discard); err != nil {
			t.Fatal(err)
		}
		if run == 0 && audits == 0 {
			t.Fatal("nothing audited")
		}
		first := audits
		stays, _ := st.OpenStays(ctx, demoTenant, "ward-a")
		open, _ := st.Assignments(ctx, store.AssignmentQuery{Tenant: demoTenant, OpenOnly: true})
		ens, _ := st.Enrolments(ctx, demoTenant, "hf-home", "")
		beds, _ := st.Beds(ctx, demoTenant, "ward-a")
		obs, _ := st.Records(ctx, store.RecordQuery{Tenant: demoTenant, Kind: store.RecManualObs})
		if len(stays) != 12 || len(open) != 12+16 || len(ens) != 8 || len(beds) != 12 || len(obs) != 12 {
			t.Fatalf("run %d: %d stays, %d open assignments, %d enrolments, %d beds, %d observations; want 12, 28, 8, 12, 12",
				run, len(stays), len(open), len(ens), len(beds), len(obs))
		}
		if run == 1 && audits != first {
			t.Errorf("the second run audited %d changes", audits-first)
		}
		if stays[6].Bed != "ward-a-07" || stays[6].Patient != "patient-a07" {
			t.Errorf("bed 07 holds %+v", stays[6])
		}
	}
}

// TestClinicalServe runs the binary: a monitor assigned to an admitted patient; a nurse's
// observation and the monitor's readings become NEWS2 sets of that patient, and the band
// alarm names the patient.
func TestClinicalServe(t *testing.T) {
	p := startVigil(t, t.TempDir(), nil)
	a := loginAdmin(t, p.url)
	ten, devs := setupTenant(t, a, "Clinic", 1, "monitor")
	tp := "/api/v1/tenants/" + ten
	a.must("POST", tp+"/wards", map[string]any{"id": "w", "name": "Ward", "beds": []string{"01"}}, 201, nil)
	a.must("POST", tp+"/patients", map[string]any{"id": "p", "mrn": "M1", "name": "Pat Q", "sex": "female", "birth_date": "1950-01-01"}, 201, nil)
	a.must("POST", tp+"/patients/p/admit", map[string]any{"ward": "w", "bed": "w-01"}, 201, nil)
	now := time.Now().UTC().Truncate(time.Second)
	a.must("POST", tp+"/assignments", map[string]any{"device": devs[0].id, "patient": "p", "from": now.Add(-time.Minute)}, 201, nil)
	// Voice (3) and oxygen (2): at least MEDIUM whatever the rest is.
	a.must("POST", tp+"/patients/p/observations", map[string]any{"acvpu": "V", "o2": "OXYGEN"}, 201, nil)
	// The monitor's readings are measured after the observation, so the set at their time has it.
	at := time.Now().Add(time.Second).Truncate(time.Second)
	pack := fmt.Sprintf(`[{"bn":"%s:","bt":%d,"n":"hr","u":"beat/min","v":72},{"n":"rr","u":"1/min","v":16},{"n":"spo2","u":"/","v":0.97},`+
		`{"n":"temp","u":"Cel","v":36.8},{"n":"sys","u":"Pa","v":%.1f}]`, devs[0].id, at.Unix(), 125*133.322)
	if code, err := postPack(http.DefaultClient, p.url, devs[0], []byte(pack), ""); err != nil || code != 202 {
		t.Fatalf("ingest: %d %v", code, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out struct {
			Sets []struct {
				Source   string
				Complete bool
				Total    *int
				Band     *string
			}
		}
		a.must("GET", tp+"/patients/p/news2", nil, 200, &out)
		var dev *int
		for _, s := range out.Sets {
			if s.Source == "device" && s.Complete {
				dev = s.Total
			}
		}
		if dev != nil {
			if *dev != 5 { // 0 + 0 + 2 (oxygen) + 0 + 0 + 3 (voice) + 0
				t.Fatalf("device set total %d, want 5", *dev)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete device set: %+v", out.Sets)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var alarms struct {
		Alarms []struct{ Subject, Code string }
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		a.must("GET", tp+"/alarms?state=all&subject=p", nil, 200, &alarms)
		if len(alarms.Alarms) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no alarm for patient p")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if alarms.Alarms[0].Code != "NEWS2_MEDIUM" || alarms.Alarms[0].Subject != "p" {
		t.Errorf("alarms %+v, want NEWS2_MEDIUM of p", alarms.Alarms)
	}
}
