package coldchainproc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/store"
)

// reportData is everything a PDF report shows.
type reportData struct {
	title      string
	identity   [][2]string
	series     Series
	budgets    [][]string // rule, band, consumed h, limit h, used %
	tz         *time.Location
	status     string
	sigs       []SignatureView
	reportSHA  string
	generated  time.Time
	activation float64
}

func (s *Service) gather(ctx context.Context, tenant, kind, id string) (reportData, error) {
	r, err := s.loadSigned(ctx, tenant, kind, id)
	if err != nil {
		return reportData{}, err
	}
	now := s.now().UTC()
	d := reportData{generated: now, status: r.status, tz: time.UTC}
	if loc, err := time.LoadLocation(r.tz); err == nil {
		d.tz = loc
	}
	_, sha, err := s.report(ctx, tenant, r, now.Truncate(time.Millisecond))
	if err != nil {
		return d, err
	}
	d.reportSHA = sha
	if d.sigs, err = s.verify(ctx, tenant, r); err != nil {
		return d, err
	}
	var lots []Lot
	switch kind {
	case ReviewLot:
		l := r.lot
		lots = []Lot{l}
		d.title = "Lot release report - " + l.Number
		d.identity = [][2]string{{"Lot", l.ID + " (number " + l.Number + ")"}, {"Product", l.Product},
			{"Quantity", strconv.FormatFloat(l.Quantity, 'f', -1, 64) + " " + l.UOM}, {"Expiry", l.Expiry},
			{"Status", l.Status}, {"Location", l.Location.Kind + " " + l.Location.ID + " since " + s.fmtTime(l.Location.Since, d.tz)}}
		from, to, err := s.LotWindow(ctx, tenant, id, time.Time{}, time.Time{})
		if err != nil {
			return d, err
		}
		if d.series, err = s.LotSeries(ctx, tenant, id, from, to); err != nil {
			return d, err
		}
	case ReviewShipment:
		sh := r.ship
		d.title = "Shipment release report - " + sh.ID
		var loggers []string
		for _, lg := range sh.Loggers {
			loggers = append(loggers, lg.Device+" (calibration due "+lg.CalibrationDue+")")
		}
		d.identity = [][2]string{{"Shipment", sh.ID}, {"Carrier", sh.Carrier},
			{"Lane", fmt.Sprintf("%s: %s -> %s (%s, %s)", sh.Lane.ID, sh.Lane.Origin, sh.Lane.Destination, sh.Lane.Mode, sh.Lane.Packaging)},
			{"State", string(sh.State)}, {"Lots", strings.Join(sh.Lots, ", ")}, {"Loggers", strings.Join(loggers, "; ")}}
		for _, lg := range sh.Legs {
			if lg.ActualDeparture != nil {
				d.identity = append(d.identity, [2]string{"Departed", s.fmtTime(*lg.ActualDeparture, d.tz)})
			}
			if lg.ActualArrival != nil {
				d.identity = append(d.identity, [2]string{"Arrived", s.fmtTime(*lg.ActualArrival, d.tz)})
			}
		}
		from := sh.Created
		if n := len(sh.Transitions); n > 0 {
			from = sh.Transitions[0].At
		}
		for _, t := range sh.Transitions {
			if t.Action == "dispatch" {
				from = t.At
			}
		}
		to := now
		if to.Sub(from) > MaxWindow {
			from = to.Add(-MaxWindow)
		}
		if !from.Before(to) {
			from = to.Add(-24 * time.Hour)
		}
		if d.series, err = s.SourceSeries(ctx, tenant, AtShipment, id, from, to); err != nil {
			return d, err
		}
		for _, lid := range sh.Lots {
			if l, _, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, lid); err == nil {
				lots = append(lots, l)
			}
		}
	}
	for _, l := range lots {
		p, err := s.Product(ctx, tenant, l.Product)
		if err != nil {
			continue
		}
		d.activation = p.ActivationEnergyJMol
		st, err := s.budgetOf(ctx, tenant, l.ID)
		if err != nil {
			return d, err
		}
		for _, u := range budgetUses(p, st) {
			d.budgets = append(d.budgets, []string{l.ID, u.Rule + " (" + u.Kind + ")", u.Band,
				fmt.Sprintf("%.2f h", u.ConsumedS/3600), fmt.Sprintf("%.2f h", float64(u.LimitS)/3600), fmt.Sprintf("%.1f %%", 100*u.Fraction)})
		}
	}
	return d, nil
}

func (s *Service) fmtTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(esign.DisplayLayout)
}

// ReportPDF renders the release report of a lot or shipment (spec 4.6); the export is audited.
func (s *Service) ReportPDF(ctx context.Context, a Actor, tenant, kind, id string) ([]byte, error) {
	d, err := s.gather(ctx, tenant, kind, id)
	if err != nil {
		return nil, err
	}
	b, err := renderPDF(d)
	if err != nil {
		return nil, fmt.Errorf("render report of %s %s: %w", kind, id, err)
	}
	sum := sha256.Sum256(b)
	return b, s.record(ctx, tenant, a.audit(), "coldchain.export", kind+":"+id, "report.pdf", nil,
		map[string]any{"format": "pdf", "sha256": hex.EncodeToString(sum[:]), "report_sha256": d.reportSHA})
}

func renderPDF(d reportData) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252: °, —, € …
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 18)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 7)
		pdf.CellFormat(0, 4, tr(fmt.Sprintf("Report JSON SHA-256 %s - generated %s - page %d", d.reportSHA,
			d.generated.Format("2006-01-02T15:04:05Z"), pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 15)
	pdf.CellFormat(0, 9, tr(d.title), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	for _, kv := range d.identity {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.CellFormat(28, 5, tr(kv[0]), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 9)
		pdf.MultiCell(0, 5, tr(kv[1]), "", "L", false)
	}
	pdf.Ln(3)
	section(pdf, tr, "Temperature")
	chart(pdf, tr, d.series, d.tz)
	m := d.series.MKT
	mktText := "MKT: no data"
	if m.Celsius != nil {
		mktText = fmt.Sprintf("MKT %.2f °C over %s to %s (coverage %.1f %%, %s; dH = %.0f J/mol, R = 8.3144 J/(mol K))",
			*m.Celsius, m.From.In(d.tz).Format("2006-01-02 15:04"), m.To.In(d.tz).Format("2006-01-02 15:04 MST"),
			100*m.Coverage, m.Status, m.ActivationEnergyJMol)
	}
	pdf.MultiCell(0, 5, tr(mktText), "", "L", false)
	pdf.Ln(2)
	section(pdf, tr, "Stability budget")
	table(pdf, tr, []string{"Lot", "Rule", "Band (°C)", "Used", "Allowed", "Used %"}, []float64{34, 44, 26, 24, 24, 28}, d.budgets)
	pdf.Ln(2)
	section(pdf, tr, "Excursions")
	var rows [][]string
	for _, e := range d.series.Excursions {
		end := "ongoing"
		if e.End != nil {
			end = e.End.In(d.tz).Format("01-02 15:04")
		}
		ack := "not acknowledged"
		if e.Ack != nil {
			ack = e.Ack.By + ": " + e.Ack.Comment
		}
		rows = append(rows, []string{e.Source, e.Direction, e.Start.In(d.tz).Format("01-02 15:04"), end,
			fmt.Sprintf("%.0f min", e.DurationS/60), fmt.Sprintf("%.2f", e.PeakC), fmt.Sprintf("%.0f min", e.TimeOutOfRangeS/60),
			fmt.Sprintf("%.1f", e.DegreeMinutes), map[bool]string{true: "yes", false: "no"}[e.DoorOpen], ack})
	}
	if len(rows) == 0 {
		rows = [][]string{{"none", "", "", "", "", "", "", "", "", ""}}
	}
	table(pdf, tr, []string{"Source", "Dir", "Start", "End", "Duration", "Peak °C", "Out of range", "°C·min", "Door", "Acknowledgement"},
		[]float64{24, 10, 18, 18, 16, 14, 18, 14, 10, 38}, rows)
	pdf.Ln(2)
	section(pdf, tr, "Decision and electronic signatures")
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(0, 5, tr("Status: "+d.status), "", "L", false)
	if len(d.sigs) == 0 {
		pdf.MultiCell(0, 5, tr("Not signed."), "", "L", false)
	}
	for _, sg := range d.sigs {
		pdf.SetFont("Helvetica", "B", 9)
		pdf.MultiCell(0, 5, tr(sg.Manifestation), "", "L", false)
		pdf.SetFont("Helvetica", "", 8)
		pdf.MultiCell(0, 4, tr(fmt.Sprintf("Printed name: %s   Meaning: %s   Signed (UTC): %s   Signature id: %s",
			sg.PrintedName, sg.Meaning, esign.FormatTime(sg.SignedAt), sg.ID)), "", "L", false)
		pdf.MultiCell(0, 4, tr("Reason: "+sg.Reason), "", "L", false)
		pdf.MultiCell(0, 4, tr("Verification: "+sg.StateMessage+"   Record hash: "+sg.RecordHash), "", "L", false)
		pdf.Ln(1)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func section(pdf *fpdf.Fpdf, tr func(string) string, title string) {
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 7, tr(title), "B", 1, "L", false, 0, "")
	pdf.Ln(1)
	pdf.SetFont("Helvetica", "", 9)
}

func table(pdf *fpdf.Fpdf, tr func(string) string, head []string, widths []float64, rows [][]string) {
	pdf.SetFont("Helvetica", "B", 7)
	pdf.SetFillColor(230, 230, 230)
	for i, h := range head {
		pdf.CellFormat(widths[i], 5, tr(h), "1", 0, "L", true, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 7)
	for _, r := range rows {
		for i := range head {
			v := ""
			if i < len(r) {
				v = r[i]
			}
			for pdf.GetStringWidth(tr(v)) > widths[i]-1 && len(v) > 1 {
				v = v[:len(v)-1]
			}
			pdf.CellFormat(widths[i], 5, tr(v), "1", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
}

// chart draws the temperature series with the limits as lines and excursions shaded.
func chart(pdf *fpdf.Fpdf, tr func(string) string, sr Series, loc *time.Location) {
	x0, y0 := pdf.GetX()+10, pdf.GetY()
	w, h := 170.0, 60.0
	lo, hi := sr.Limits.LowC, sr.Limits.HighC
	for _, p := range sr.Points {
		lo, hi = math.Min(lo, p.C), math.Max(hi, p.C)
	}
	if !(hi > lo) {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.1
	lo, hi = lo-pad, hi+pad
	t0, t1 := sr.From, sr.To
	span := t1.Sub(t0).Seconds()
	xOf := func(t time.Time) float64 { return x0 + w*math.Max(0, math.Min(1, t.Sub(t0).Seconds()/span)) }
	yOf := func(c float64) float64 { return y0 + h - h*(c-lo)/(hi-lo) }
	// Excursions shaded.
	pdf.SetFillColor(255, 215, 215)
	for _, e := range sr.Excursions {
		end := t1
		if e.End != nil {
			end = *e.End
		}
		a, b := xOf(e.Start), xOf(end)
		if b-a < 0.3 {
			b = a + 0.3
		}
		pdf.Rect(a, y0, b-a, h, "F")
	}
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetLineWidth(0.2)
	pdf.Rect(x0, y0, w, h, "D")
	// Limits.
	pdf.SetDrawColor(200, 0, 0)
	pdf.SetDashPattern([]float64{1.5, 1}, 0)
	for _, l := range []float64{sr.Limits.LowC, sr.Limits.HighC} {
		if l != 0 || sr.Limits.HighC != 0 {
			pdf.Line(x0, yOf(l), x0+w, yOf(l))
		}
	}
	pdf.SetDashPattern([]float64{}, 0)
	// Series.
	pdf.SetDrawColor(0, 70, 160)
	pdf.SetLineWidth(0.3)
	for i := 1; i < len(sr.Points); i++ {
		a, b := sr.Points[i-1], sr.Points[i]
		pdf.Line(xOf(a.At), yOf(a.C), xOf(b.At), yOf(b.C))
	}
	pdf.SetLineWidth(0.2)
	pdf.SetDrawColor(0, 0, 0)
	// Axes labels.
	pdf.SetFont("Helvetica", "", 6)
	for i := 0; i <= 4; i++ {
		c := lo + (hi-lo)*float64(i)/4
		pdf.Text(x0-10, yOf(c)+1, tr(fmt.Sprintf("%.1f °C", c)))
	}
	for i := 0; i <= 4; i++ {
		t := t0.Add(time.Duration(float64(t1.Sub(t0)) * float64(i) / 4))
		pdf.Text(xOf(t)-8, y0+h+3.5, t.In(loc).Format("01-02 15:04"))
	}
	pdf.SetY(y0 + h + 6)
	pdf.SetFont("Helvetica", "", 7)
	pdf.MultiCell(0, 4, tr(fmt.Sprintf("Limits %.1f to %.1f °C (dashed red); excursions shaded; %d readings; times in %s.",
		sr.Limits.LowC, sr.Limits.HighC, len(sr.Points), loc.String())), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
}

// ReportCSV writes the raw readings behind a lot's or shipment's report (audited).
func (s *Service) ReportCSV(ctx context.Context, a Actor, tenant, kind, id string, w io.Writer) error {
	var sr Series
	var err error
	switch kind {
	case ReviewLot:
		from, to, werr := s.LotWindow(ctx, tenant, id, time.Time{}, time.Time{})
		if werr != nil {
			return werr
		}
		sr, err = s.LotSeries(ctx, tenant, id, from, to)
	case ReviewShipment:
		var sh ShipmentView
		if sh, err = s.Shipment(ctx, tenant, id); err != nil {
			return err
		}
		to := s.now().UTC()
		from := sh.Created
		if to.Sub(from) > MaxWindow {
			from = to.Add(-MaxWindow)
		}
		sr, err = s.SourceSeries(ctx, tenant, AtShipment, id, from, to)
	default:
		return invalidf("record kind %q", kind)
	}
	if err != nil {
		return err
	}
	if err := s.record(ctx, tenant, a.audit(), "coldchain.export", kind+":"+id, "report.csv", nil,
		map[string]any{"format": "csv", "rows": len(sr.Points)}); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"measured_utc", "source_kind", "source", "device", "metric", "value_c", "flags"})
	kinds := map[string]string{}
	if kind == ReviewShipment {
		kinds[id] = AtShipment
	}
	for _, p := range sr.Points {
		sk := kinds[p.Source]
		if sk == "" {
			sk = AtUnit
			if _, err := s.cfg.Store.ColdRecord(ctx, tenant, store.ColdShipment, p.Source); err == nil {
				sk = AtShipment
			}
			kinds[p.Source] = sk
		}
		_ = cw.Write([]string{p.At.UTC().Format("2006-01-02T15:04:05.000Z"), sk, p.Source, p.device, "temp_ambient",
			strconv.FormatFloat(p.C, 'f', -1, 64), strconv.FormatUint(uint64(p.flags), 10)})
	}
	cw.Flush()
	return cw.Error()
}

// AuditCSV writes the audit entries of a lot or shipment (audited itself).
func (s *Service) AuditCSV(ctx context.Context, a Actor, tenant, kind, id string, w io.Writer) error {
	if _, err := s.loadSigned(ctx, tenant, kind, id); err != nil {
		return err
	}
	target := kind + ":" + id
	var rows []store.AuditRecord
	after := int64(0)
	for {
		page, err := s.cfg.Store.Audit(ctx, tenant, after, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			if r.Target == target {
				rows = append(rows, r)
			}
			after = r.Seq
		}
		if len(page) < 1000 {
			break
		}
	}
	if err := s.record(ctx, tenant, a.audit(), "coldchain.export", target, "audit.csv", nil,
		map[string]any{"format": "csv", "rows": len(rows)}); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"seq", "time_utc", "actor", "action", "target", "reason", "old", "new", "hash", "prev_hash"})
	for _, r := range rows {
		_ = cw.Write([]string{strconv.FormatInt(r.Seq, 10), r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Actor, r.Action,
			r.Target, r.Reason, r.Old, r.New, r.Hash, r.PrevHash})
	}
	cw.Flush()
	return cw.Error()
}
