package clinical_test

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/rpm/evidence"
	"github.com/vigil-iomt/vigil/internal/rpm/report"
	"github.com/vigil-iomt/vigil/internal/store"
)

var newYork = mustZone("America/New_York")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// rpmEnv enrols patient h with kit cuff+scale in programme hf (zone America/New_York) at enrolled.
func rpmEnv(t *testing.T, enrolled time.Time) (*env, string) {
	t.Helper()
	e := newEnv(t)
	ctx := t.Context()
	e.device(t, "cuff", "bp_monitor")
	e.device(t, "scale", "scale")
	e.patient(t, "h", clinical.PatientInput{Name: ptr("Sam Roe"), TimeZone: ptr("America/New_York")})
	if _, err := e.svc.CreateProgramme(ctx, tenant, clinical.ProgrammeInput{ID: "hf", Name: "Heart failure", TimeZone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	en, _, err := e.svc.Enrol(ctx, tenant, "hf", "user:u1", clinical.EnrolInput{Patient: "h", EnrolledAt: &enrolled, SetupRecord: true, Devices: []string{"cuff", "scale"}})
	if err != nil {
		t.Fatal(err)
	}
	return e, en.ID
}

// local returns the instant of y-m-d hh:mm in New York.
func local(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, newYork)
}

// pattern is rpm.md §2.3's P1 example: period days (0-based) with readings → D = 20.
var pattern = []int{0, 1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 18, 19, 20, 21, 24, 27, 28}

// TestRPMAdherence16vs15: the spec's period example under cms-rpm-2026: 16 of the pattern's
// days → MET_16, 99454, 99453 with the set-up record; 15 days → RANGE_2_15, 99445, no 99453.
// Readings are at 23:30 New York time, which is the next day in UTC, so counting in UTC would
// shift every day (and the first reading, 2026-01-05 23:30 local, is 2026-01-06 UTC).
func TestRPMAdherence16vs15(t *testing.T) {
	for _, c := range []struct {
		days     int
		status   string
		code     string
		setup    bool
		adhering float64
	}{{16, "MET_16", "99454", true, 100 * 16.0 / 30}, {15, "RANGE_2_15", "99445", false, 50}} {
		e, enr := rpmEnv(t, local(2026, 1, 2, 9, 0))
		for _, d := range pattern[:c.days] {
			at := local(2026, 1, 5+d, 23, 30)
			metric := "nibp_sys"
			if d%2 == 1 {
				metric = "weight" // another kit device the same day still counts once
				e.ingest(t, e.svc, rd("cuff", "nibp_sys", at.Add(-time.Hour), 120))
			}
			dev := map[string]string{"nibp_sys": "cuff", "weight": "scale"}[metric]
			e.ingest(t, e.svc, rd(dev, metric, at, 120))
		}
		// Not counted: battery, an implausible value, a reading before enrolment.
		e.ingest(t, e.svc, rd("cuff", "battery", local(2026, 1, 8, 12, 0), 80))
		bad := rd("cuff", "nibp_sys", local(2026, 1, 8+5, 12, 0), 400)
		bad.Flags = reading.Implausible
		e.ingest(t, e.svc, bad, rd("cuff", "nibp_sys", local(2026, 1, 1, 12, 0), 120))

		e.now = local(2026, 2, 3, 23, 0) // the period's last day
		v, err := e.svc.EnrolmentEvidence(t.Context(), tenant, enr, e.now)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Periods) != 1 {
			t.Fatalf("%d days: periods %+v", c.days, v.Periods)
		}
		p := v.Periods[0]
		if p.Start != "2026-01-05" || p.End != "2026-02-03" || p.D != c.days || p.Status != c.status || p.DeviceCode != c.code ||
			p.SetupEligible != c.setup || p.RuleSet != "cms-rpm-2026" {
			t.Errorf("%d days: period %+v", c.days, p)
		}
		if p.AdherencePct != float64(int(c.adhering*10+0.5))/10 {
			t.Errorf("%d days: adherence %v, want %.1f", c.days, p.AdherencePct, c.adhering)
		}
		if p.Days[0] != "2026-01-05" {
			t.Errorf("first qualifying day %s, want 2026-01-05 (local date)", p.Days[0])
		}
		ro, err := e.svc.Roster(t.Context(), tenant, "hf", e.now)
		if err != nil {
			t.Fatal(err)
		}
		if len(ro.Rows) != 1 || ro.Rows[0].Days != c.days || ro.Rows[0].Status != c.status || ro.Rows[0].Period == nil ||
			ro.Rows[0].Period.Day != 30 || ro.Rows[0].LastReading == nil {
			t.Errorf("%d days: roster %+v", c.days, ro.Rows)
		}
	}
}

// TestRPMDaysAcrossMonthEnd: periods run across month ends (P1 2026-01-20 … 02-18, P2 from
// 02-19), and the day of a reading is its date in the programme zone, not UTC.
func TestRPMDaysAcrossMonthEnd(t *testing.T) {
	e, enr := rpmEnv(t, local(2026, 1, 19, 9, 0))
	// 01-20 … 02-05 at 20:00 local (01:00 UTC the next day): 17 days across the month end.
	for d := range 17 {
		e.ingest(t, e.svc, rd("cuff", "nibp_sys", local(2026, 1, 20+d, 20, 0), 120))
	}
	// Period 2: 02-19 and 02-20.
	e.ingest(t, e.svc, rd("scale", "weight", local(2026, 2, 19, 7, 0), 80), rd("scale", "weight", local(2026, 2, 20, 7, 0), 80))
	e.now = local(2026, 2, 25, 12, 0)
	days, _, err := e.svc.QualifyingDays(t.Context(), mustEnrolment(t, e, enr), e.now)
	if err != nil {
		t.Fatal(err)
	}
	if days[0] != evidence.MakeDate(2026, 1, 20) || days[16] != evidence.MakeDate(2026, 2, 5) || len(days) != 19 {
		t.Fatalf("days %v", days)
	}
	ps := clinical.Periods(days, evidence.DateOf(e.now, newYork), true)
	if len(ps) != 2 || ps[0].End != "2026-02-18" || ps[0].D != 17 || ps[0].Status != "MET_16" || !ps[0].SetupEligible ||
		ps[1].Start != "2026-02-19" || ps[1].D != 2 || ps[1].Status != "RANGE_2_15" || ps[1].SetupEligible {
		t.Errorf("periods %+v", ps)
	}
	// j = 7 (02-25), D = 2: N = 14 > R = 23·0.8? 14 ≤ 18.4 → ON_TRACK.
	if ps[1].Projection != "ON_TRACK" {
		t.Errorf("projection %s", ps[1].Projection)
	}
	// The same readings in a UTC programme count other dates: 20:00 New York is 01:00 UTC.
	en := mustEnrolment(t, e, enr)
	en.TimeZone = "UTC"
	utc, _, _ := e.svc.QualifyingDays(t.Context(), en, e.now)
	if utc[0] != evidence.MakeDate(2026, 1, 21) {
		t.Errorf("in UTC the first day is %v, want 2026-01-21", utc[0])
	}
}

func mustEnrolment(t *testing.T, e *env, id string) store.Enrolment {
	t.Helper()
	en, err := e.svc.Enrolment(t.Context(), tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// TestRPMReviewTimeAndReport: rpm.md M1 (6 + 8 + 7 min with a call) gives 99457; the monthly
// report as PDF holds the patient's name, the period, the reading days and the 16-day result.
func TestRPMReviewTimeAndReport(t *testing.T) {
	e, enr := rpmEnv(t, local(2026, 1, 2, 9, 0))
	ctx := t.Context()
	for _, d := range pattern[:16] {
		e.ingest(t, e.svc, rd("cuff", "nibp_sys", local(2026, 1, 5+d, 8, 0), 118+float64(d%5)))
	}
	e.now = local(2026, 1, 31, 12, 0)
	for _, in := range []clinical.TimeEntryInput{
		{Start: ptr(local(2026, 1, 12, 9, 0)), End: ptr(local(2026, 1, 12, 9, 6)), Activity: "DATA_REVIEW", Credential: "RN"},
		{Start: ptr(local(2026, 1, 12, 10, 0)), End: ptr(local(2026, 1, 12, 10, 8)), Activity: "PATIENT_COMMUNICATION", Interactive: true, Modality: "AUDIO", Credential: "RN"},
		{Date: "2026-01-13", Minutes: 7, Activity: "CARE_PLAN", Credential: "RN"},
	} {
		if _, err := e.svc.AddTime(ctx, tenant, enr, "user:u1", in); err != nil {
			t.Fatal(err)
		}
	}
	// Overlap with the same user's entry, an interactive message, a bad activity.
	for _, in := range []clinical.TimeEntryInput{
		{Start: ptr(local(2026, 1, 12, 9, 3)), End: ptr(local(2026, 1, 12, 9, 10)), Activity: "DATA_REVIEW", Credential: "RN"},
		{Minutes: 5, Activity: "PATIENT_COMMUNICATION", Interactive: true, Modality: "MESSAGE", Credential: "RN"},
		{Minutes: 5, Activity: "NAP", Credential: "RN"},
	} {
		if _, err := e.svc.AddTime(ctx, tenant, enr, "user:u1", in); err == nil {
			t.Errorf("AddTime(%+v) accepted", in)
		}
	}
	_, m, err := e.svc.Month(ctx, tenant, enr, 2026, time.January)
	if err != nil {
		t.Fatal(err)
	}
	if m.Minutes != 21 || !m.Interactive || len(m.Codes) != 1 || m.Codes[0].Code != "99457" || !slices.Equal(m.InteractiveDates, []string{"2026-01-12"}) {
		t.Errorf("month = %+v, want 21 min, interactive, 99457", m)
	}

	e.now = local(2026, 2, 4, 12, 0)
	d, err := e.svc.Report(ctx, tenant, enr, 2026, time.January, e.now, "Vigil test")
	if err != nil {
		t.Fatal(err)
	}
	if d.Patient.Name != "Sam Roe" || len(d.Periods) != 1 || d.Periods[0].D != 16 || !d.Periods[0].Met16 || d.Time.Minutes != 21 || d.SHA256 == "" {
		t.Fatalf("report data = %+v", d)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Metric != "nibp_sys" || d.Metrics[0].Count != 16 || d.Metrics[0].Days != 16 {
		t.Errorf("metrics %+v", d.Metrics)
	}
	var csv bytes.Buffer
	if err := report.CSV(&csv, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"header,patient,Sam Roe", "period,period 1,reading_days,16", "period,period 1,16_day_threshold_met,yes", "time,code,99457,1"} {
		if !strings.Contains(csv.String(), want) {
			t.Errorf("CSV lacks %q:\n%s", want, csv.String())
		}
	}
	var pdf bytes.Buffer
	if err := report.PDF(&pdf, d); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf.Bytes())
	for _, want := range []string{"Sam Roe", "2026-01", "2026-01-05 to 2026-02-03", "16 reading days", "MET_16: met (16 or more days)", "99454"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
}

// pdfText extracts a PDF's text with poppler's pdftotext, or skips the test without it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		if _, err := os.Stat("/usr/bin/pdftotext"); err != nil {
			t.Skip("pdftotext (poppler-utils) is not installed; cannot check the PDF's text")
		}
		tool = "/usr/bin/pdftotext"
	}
	cmd := exec.CommandContext(t.Context(), tool, "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
