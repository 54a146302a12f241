package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func sample() *Data {
	first := time.Date(2026, 1, 5, 13, 0, 0, 0, time.UTC)
	return &Data{Month: "2026-01", Patient: Patient{ID: "h", Name: "Zoë Ærø-Smith", MRN: "H1", BirthDate: "1950-02-03"},
		Programme: "Heart failure", Condition: "I50.9", Enrolment: "enr-1", EnrolledAt: first, TimeZone: "America/New_York",
		RuleSet: "cms-rpm-2026", SetupRecord: true,
		Devices: []Device{{ID: "cuff", Model: "SimCuff BP", Kind: "bp_monitor", First: &first, Last: &first, Readings: 15}},
		Periods: []Period{{N: 1, Start: "2026-01-05", End: "2026-02-03", RuleSet: "cms-rpm-2026", Days: []string{"2026-01-05"}, D: 15,
			Status: "RANGE_2_15", DeviceCode: "99445"}},
		Time:        Time{Minutes: 12, Interactive: true, InteractiveDates: []string{"2026-01-12"}, Codes: []Code{{"99470", 1}}},
		Metrics:     []Metric{{Metric: "nibp_sys", Unit: "mm[Hg]", Count: 15, Days: 15, Mean: 121.5, Median: 121, Min: 110, Max: 135, SD: 6.2}},
		NEWS2:       NEWS2Summary{Bands: map[string]int{}},
		GeneratedAt: time.Date(2026, 2, 4, 12, 0, 0, 0, time.UTC), Software: "Vigil test"}
}

func TestSeal(t *testing.T) {
	d := sample()
	raw, err := Seal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Data
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	want := back.SHA256
	back.SHA256 = ""
	unsealed, _ := json.Marshal(back)
	sum := sha256.Sum256(unsealed)
	if got := hex.EncodeToString(sum[:]); got != want || len(want) != 64 {
		t.Errorf("sha256 %s, recomputed %s", want, got)
	}
}

// TestPDFText: the PDF names the patient (non-ASCII kept), the period, the reading days and
// the 16-day result; the CSV has them too.
func TestPDFText(t *testing.T) {
	d := sample()
	if _, err := Seal(d); err != nil {
		t.Fatal(err)
	}
	var pdf, csv bytes.Buffer
	if err := PDF(&pdf, d); err != nil {
		t.Fatal(err)
	}
	if err := CSV(&csv, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"header,patient,Zoë Ærø-Smith", "period,period 1,16_day_threshold_met,no", "period,period 1,reading_days,15"} {
		if !strings.Contains(csv.String(), want) {
			t.Errorf("CSV lacks %q", want)
		}
	}
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed; cannot check the PDF's text")
	}
	cmd := exec.CommandContext(t.Context(), tool, "-layout", "-", "-")
	cmd.Stdin = &pdf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	for _, want := range []string{"Zoë Ærø-Smith", "Period: 2026-01", "2026-01-05 to 2026-02-03", "15 reading days",
		"RANGE_2_15: not met (fewer than 16 days)", "99445", d.SHA256} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
}
