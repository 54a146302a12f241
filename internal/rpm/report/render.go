package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func ts(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func round(v float64, digits int) string { return strconv.FormatFloat(v, 'f', digits, 64) }

// CSV writes the report as rows of section, key and values.
func CSV(w io.Writer, d *Data) error {
	cw := csv.NewWriter(w)
	row := func(fields ...string) { _ = cw.Write(fields) }
	row("section", "key", "value")
	row("header", "month", d.Month)
	row("header", "patient", d.Patient.Name)
	row("header", "mrn", d.Patient.MRN)
	row("header", "birth_date", d.Patient.BirthDate)
	row("header", "programme", d.Programme)
	row("header", "condition", d.Condition)
	row("header", "enrolment", d.Enrolment)
	row("header", "enrolled_at", d.EnrolledAt.UTC().Format(time.RFC3339))
	row("header", "time_zone", d.TimeZone)
	row("header", "rule_set", d.RuleSet)
	row("header", "setup_record", yesNo(d.SetupRecord))
	for _, dv := range d.Devices {
		row("device", dv.ID, dv.Model, dv.Kind, ts(dv.First), ts(dv.Last), strconv.Itoa(dv.Readings))
	}
	for _, p := range d.Periods {
		key := fmt.Sprintf("period %d", p.N)
		row("period", key, "dates", p.Start, p.End)
		row("period", key, "rule_set", p.RuleSet)
		row("period", key, "reading_days", strconv.Itoa(p.D))
		row("period", key, "status", p.Status)
		row("period", key, "16_day_threshold_met", yesNo(p.Met16))
		row("period", key, "device_code", p.DeviceCode)
		row("period", key, "setup_eligible", yesNo(p.SetupEligible))
		row(append([]string{"period", key, "qualifying_dates"}, p.Days...)...)
		if len(p.Flags) > 0 {
			row(append([]string{"period", key, "flags"}, p.Flags...)...)
		}
	}
	for _, e := range d.Time.Entries {
		row("time_entry", e.Date, e.Start, e.End, strconv.Itoa(e.Minutes), e.Staff, e.Credential, e.Activity, yesNo(e.Interactive), e.Modality)
	}
	row("time", "minutes", strconv.Itoa(d.Time.Minutes))
	row("time", "interactive", yesNo(d.Time.Interactive))
	row(append([]string{"time", "interactive_dates"}, d.Time.InteractiveDates...)...)
	for _, c := range d.Time.Codes {
		row("time", "code", c.Code, strconv.Itoa(c.Units))
	}
	for _, f := range d.Time.Flags {
		row("time", "flag", f)
	}
	for _, m := range d.Metrics {
		row("metric", m.Metric, m.Unit, strconv.Itoa(m.Count), strconv.Itoa(m.Days), round(m.Mean, 2), round(m.Median, 2), num(m.Min), num(m.Max), round(m.SD, 2))
	}
	for _, f := range d.Flags {
		row("baseline_flag", f.Day, f.Code, f.State, f.Explanation)
	}
	row("news2", "complete_sets", strconv.Itoa(d.NEWS2.CompleteSets))
	if d.NEWS2.MaxScore != nil {
		row("news2", "max_score", strconv.Itoa(*d.NEWS2.MaxScore))
	}
	for _, b := range []string{"LOW", "LOW_MEDIUM", "MEDIUM", "HIGH"} {
		if n, ok := d.NEWS2.Bands[b]; ok {
			row("news2", "band_"+b, strconv.Itoa(n))
		}
	}
	row("attestation", "generated_at", d.GeneratedAt.UTC().Format(time.RFC3339))
	row("attestation", "software", d.Software)
	row("attestation", "sha256", d.SHA256)
	cw.Flush()
	return cw.Error()
}

// PDF writes the report as a PDF document (A4, core fonts).
func PDF(w io.Writer, d *Data) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(d.GeneratedAt)
	pdf.SetModificationDate(d.GeneratedAt)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetTitle("RPM monthly report "+d.Month, true)
	pdf.SetAuthor(d.Software, true)
	pdf.SetAutoPageBreak(true, 15)
	pdf.AddPage()
	heading := func(s string) {
		pdf.Ln(3)
		pdf.SetFont("Helvetica", "B", 12)
		pdf.CellFormat(0, 7, tr(s), "B", 1, "L", false, 0, "")
		pdf.Ln(1)
		pdf.SetFont("Helvetica", "", 9)
	}
	line := func(label, value string) {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.CellFormat(55, 5, tr(label), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.MultiCell(0, 5, tr(value), "", "L", false)
	}
	text := func(s string) { pdf.MultiCell(0, 5, tr(s), "", "L", false) }

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, tr("Remote patient monitoring: monthly report"), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	pdf.CellFormat(0, 6, tr("Period: "+d.Month+" (calendar month, "+d.TimeZone+")"), "", 1, "L", false, 0, "")

	heading("1. Patient and programme")
	line("Patient", d.Patient.Name)
	line("MRN", d.Patient.MRN)
	line("Date of birth", d.Patient.BirthDate)
	line("Programme", d.Programme)
	line("Condition", d.Condition)
	line("Enrolment", d.Enrolment+", enrolled "+d.EnrolledAt.UTC().Format(time.DateOnly))
	line("Rule set", d.RuleSet)
	line("Set-up record", yesNo(d.SetupRecord))

	heading("2. Devices")
	if len(d.Devices) == 0 {
		text("No devices.")
	}
	for _, dv := range d.Devices {
		line(dv.ID, fmt.Sprintf("%s (%s); %d readings this month; first %s, last %s", dv.Model, dv.Kind, dv.Readings, ts(dv.First), ts(dv.Last)))
	}

	heading("3. Device supply: 30-day periods overlapping the month")
	if len(d.Periods) == 0 {
		text("No qualifying readings: no period has started.")
	}
	for _, p := range d.Periods {
		line(fmt.Sprintf("Period %d", p.N), fmt.Sprintf("%s to %s (%s)", p.Start, p.End, p.RuleSet))
		line("Reading days", fmt.Sprintf("%d reading days", p.D))
		line("16-day threshold", fmt.Sprintf("%s: %s", p.Status, map[bool]string{true: "met (16 or more days)", false: "not met (fewer than 16 days)"}[p.Met16]))
		code := p.DeviceCode
		if code == "" {
			code = "none"
		}
		line("Eligible device code", code+"; 99453 set-up eligible: "+yesNo(p.SetupEligible))
		line("Qualifying dates", strings.Join(p.Days, ", "))
		if len(p.Flags) > 0 {
			line("Flags", strings.Join(p.Flags, ", "))
		}
	}

	heading("4. Treatment management time (calendar month)")
	for _, e := range d.Time.Entries {
		when := e.Date
		if e.Start != "" {
			when += " " + e.Start + "-" + e.End
		}
		text(fmt.Sprintf("%s: %d min, %s (%s), %s, interactive %s, %s", when, e.Minutes, e.Staff, e.Credential, e.Activity, yesNo(e.Interactive), e.Modality))
	}
	line("Total minutes", strconv.Itoa(d.Time.Minutes))
	line("Interactive communication", yesNo(d.Time.Interactive)+" "+strings.Join(d.Time.InteractiveDates, ", "))
	var codes []string
	for _, c := range d.Time.Codes {
		codes = append(codes, fmt.Sprintf("%s x %d", c.Code, c.Units))
	}
	if len(codes) == 0 {
		codes = []string{"none"}
	}
	line("Eligible codes", strings.Join(codes, ", ")+" "+strings.Join(d.Time.Flags, ", "))

	heading("5. Clinical summary")
	for _, m := range d.Metrics {
		line(m.Metric+" ("+m.Unit+")", fmt.Sprintf("%d readings on %d days; mean %s, median %s, min %s, max %s, SD %s",
			m.Count, m.Days, round(m.Mean, 1), round(m.Median, 1), num(m.Min), num(m.Max), round(m.SD, 2)))
	}
	heading("6. Personal baseline flags")
	if len(d.Flags) == 0 {
		text("None.")
	}
	for _, f := range d.Flags {
		text(f.Day + " " + f.Code + " " + f.State + ": " + f.Explanation)
	}
	heading("7. NEWS2 (community use - see shared/specs/news2.md section 1.1)")
	ms := "-"
	if d.NEWS2.MaxScore != nil {
		ms = strconv.Itoa(*d.NEWS2.MaxScore)
	}
	line("Complete sets", fmt.Sprintf("%d; maximum score %s", d.NEWS2.CompleteSets, ms))

	heading("8. Generated")
	line("Generated at", d.GeneratedAt.UTC().Format(time.RFC3339))
	line("Software", d.Software)
	line("SHA-256 of the JSON", d.SHA256)
	text("Vigil produces evidence and eligibility flags; people decide what to bill.")
	return pdf.Output(w)
}
