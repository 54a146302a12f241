package coldchainproc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// SeriesPoint is one temperature reading of a chart.
type SeriesPoint struct {
	At     time.Time `json:"at"`
	C      float64   `json:"c"`
	Source string    `json:"source"`
	device string
	flags  reading.Flags
}

// MKT is the mean kinetic temperature of a window (cold-chain spec 1.3, 1.4).
type MKT struct {
	From                 time.Time `json:"from"`
	To                   time.Time `json:"to"`
	Celsius              *float64  `json:"celsius"`
	Coverage             float64   `json:"coverage"`
	CoveredS             float64   `json:"covered_s"`
	Status               string    `json:"status"`
	ActivationEnergyJMol float64   `json:"activation_energy_j_mol"`
}

// Series is chart data: readings, limits, excursions and the window's MKT.
type Series struct {
	From       time.Time     `json:"from"`
	To         time.Time     `json:"to"`
	Points     []SeriesPoint `json:"points"`
	Limits     ProductLimits `json:"limits"`
	Excursions []Excursion   `json:"excursions"`
	MKT        MKT           `json:"mkt"`
}

// MaxWindow is the longest window a series or MKT request may ask for.
const MaxWindow = 31 * 24 * time.Hour

// Window checks and defaults a requested window: zero to = now, zero from = to − def.
func (s *Service) Window(from, to time.Time, def time.Duration) (time.Time, time.Time, error) {
	if to.IsZero() {
		to = s.now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-def)
	}
	if !from.Before(to) {
		return from, to, invalidf("from: %s must be before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > MaxWindow {
		return from, to, invalidf("window: %v is longer than 31 days", to.Sub(from))
	}
	return from.UTC(), to.UTC(), nil
}

// segment is one source's readings over one interval.
type segment struct {
	kind, id string
	from, to time.Time
	limits   Limits
	points   []SeriesPoint
	samples  []coldchain.Sample
}

// sourceSeries reads the first temperature sensor of a unit or shipment over [from, to), plus
// the readings just before from whose hold reaches into it.
func (s *Service) sourceSeries(ctx context.Context, tenant, kind, id string, from, to time.Time) (segment, error) {
	seg := segment{kind: kind, id: id, from: from, to: to}
	var sensors []Sensor
	switch kind {
	case AtUnit:
		u, _, err := load[Unit](ctx, s.cfg.Store, tenant, store.ColdUnit, id)
		if err != nil {
			return seg, err
		}
		seg.limits, sensors = u.Limits, u.Sensors
	case AtShipment:
		sh, _, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, id)
		if err != nil {
			return seg, err
		}
		seg.limits, sensors = sh.Limits, sh.Loggers
	default:
		return seg, fmt.Errorf("source kind %q", kind)
	}
	if len(sensors) == 0 {
		return seg, nil
	}
	sn := sensors[0]
	subject := id
	if d, err := s.cfg.Store.Device(ctx, tenant, sn.Device); err == nil && d.Subject != "" {
		subject = d.Subject
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return seg, err
	}
	lead := seg.limits.timing().MaxGap
	if lead == 0 {
		lead = 2 * seg.limits.timing().Nominal
	}
	pts, err := s.cfg.Store.Readings(ctx, store.ReadingQuery{Tenant: tenant, Subject: subject, Metric: sn.Metric,
		From: from.Add(-lead), To: to, Limit: 200000})
	if err != nil {
		return seg, err
	}
	for _, p := range pts {
		if p.Device != sn.Device && subject != id {
			continue
		}
		smp := coldchain.Sample{At: p.Measured.UTC(), Celsius: p.Value, Invalid: p.Flags&reading.Implausible != 0}
		seg.samples = append(seg.samples, smp)
		if !p.Measured.Before(from) {
			seg.points = append(seg.points, SeriesPoint{At: p.Measured.UTC(), C: p.Value, Source: id, device: p.Device, flags: p.Flags})
		}
	}
	return seg, nil
}

func mktOf(segs []segment, from, to time.Time, dH float64) (MKT, error) {
	if dH == 0 {
		dH = coldchain.DefaultActivationEnergy
	}
	res := MKT{From: from, To: to, Status: coldchain.StatusNoData.String(), ActivationEnergyJMol: dH}
	acc, err := coldchain.NewAccumulator(dH)
	if err != nil {
		return res, err
	}
	for _, sg := range segs {
		if len(sg.samples) == 0 || !sg.from.Before(sg.to) {
			continue
		}
		w, err := coldchain.WindowMKT(sg.samples, sg.from, sg.to, coldchain.WindowOptions{Timing: sg.limits.timing(), ActivationEnergy: dH})
		if err != nil {
			return res, fmt.Errorf("MKT of %s: %w", sg.id, err)
		}
		if w.Status == coldchain.StatusNoData || w.Covered <= 0 {
			continue
		}
		// The segment's MKT held for its covered time carries exactly its Boltzmann sum.
		if err := acc.Add(w.Celsius, w.Covered.Seconds()); err != nil {
			return res, err
		}
		res.CoveredS += w.Covered.Seconds()
	}
	if acc.Weight() == 0 {
		return res, nil
	}
	c, err := acc.MKT()
	if err != nil {
		return res, err
	}
	res.Celsius = &c
	res.Coverage = res.CoveredS / to.Sub(from).Seconds()
	res.Status = coldchain.StatusOK.String()
	if res.Coverage < coldchain.DefaultMinCoverage {
		res.Status = coldchain.StatusInsufficientCoverage.String()
	}
	return res, nil
}

// SourceSeries returns chart data of a unit (kind AtUnit) or shipment (AtShipment).
func (s *Service) SourceSeries(ctx context.Context, tenant, kind, id string, from, to time.Time) (Series, error) {
	seg, err := s.sourceSeries(ctx, tenant, kind, id, from, to)
	if err != nil {
		return Series{}, err
	}
	m, err := mktOf([]segment{seg}, from, to, 0)
	if err != nil {
		return Series{}, err
	}
	exs, err := s.excursions(ctx, tenant, id, 0)
	if err != nil {
		return Series{}, err
	}
	out := Series{From: from, To: to, Points: seg.points, Limits: ProductLimits{LowC: seg.limits.LowC, HighC: seg.limits.HighC},
		Excursions: overlapping(exs, from, to), MKT: m}
	if out.Points == nil {
		out.Points = []SeriesPoint{}
	}
	return out, nil
}

func overlapping(exs []Excursion, from, to time.Time) []Excursion {
	out := []Excursion{}
	for _, e := range exs {
		if e.Start.Before(to) && (e.End == nil || e.End.After(from)) {
			out = append(out, e)
		}
	}
	return out
}

// SourceMKT returns the MKT of a unit or shipment over [from, to).
func (s *Service) SourceMKT(ctx context.Context, tenant, kind, id string, from, to time.Time) (MKT, error) {
	seg, err := s.sourceSeries(ctx, tenant, kind, id, from, to)
	if err != nil {
		return MKT{}, err
	}
	return mktOf([]segment{seg}, from, to, 0)
}

// lotSegments returns the lot's custody segments within [from, to).
func (s *Service) lotSegments(ctx context.Context, tenant string, l Lot, from, to time.Time) ([]segment, error) {
	var segs []segment
	now := s.now().UTC()
	for _, c := range l.Locations {
		end := now
		if c.To != nil {
			end = *c.To
		}
		a, b := maxTime(from, c.From), minTime(to, end)
		if !a.Before(b) {
			continue
		}
		sg, err := s.sourceSeries(ctx, tenant, c.Kind, c.ID, a, b)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		segs = append(segs, sg)
	}
	return segs, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// LotWindow defaults a lot window to its whole custody history (at most 31 days back).
func (s *Service) LotWindow(ctx context.Context, tenant, id string, from, to time.Time) (time.Time, time.Time, error) {
	if from.IsZero() {
		l, _, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
		if err != nil {
			return from, to, err
		}
		if len(l.Locations) > 0 {
			from = l.Locations[0].From
		}
		end := to
		if end.IsZero() {
			end = s.now().UTC()
		}
		if end.Sub(from) > MaxWindow {
			from = end.Add(-MaxWindow)
		}
	}
	return s.Window(from, to, 24*time.Hour)
}

// LotSeries returns a lot's readings stitched across its custody, with the lot's product limits.
func (s *Service) LotSeries(ctx context.Context, tenant, id string, from, to time.Time) (Series, error) {
	l, _, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
	if err != nil {
		return Series{}, err
	}
	segs, err := s.lotSegments(ctx, tenant, l, from, to)
	if err != nil {
		return Series{}, err
	}
	dH := 0.0
	out := Series{From: from, To: to, Points: []SeriesPoint{}, Excursions: []Excursion{}}
	if p, err := s.Product(ctx, tenant, l.Product); err == nil {
		dH = p.ActivationEnergyJMol
		out.Limits = p.Limits
	}
	for _, sg := range segs {
		out.Points = append(out.Points, sg.points...)
	}
	exs, err := s.custodyExcursions(ctx, tenant, l.Locations)
	if err != nil {
		return Series{}, err
	}
	out.Excursions = overlapping(exs, from, to)
	if out.MKT, err = mktOf(segs, from, to, dH); err != nil {
		return Series{}, err
	}
	return out, nil
}

// LotMKT returns the MKT of a lot over [from, to) across its custody.
func (s *Service) LotMKT(ctx context.Context, tenant, id string, from, to time.Time) (MKT, error) {
	sr, err := s.LotSeries(ctx, tenant, id, from, to)
	if err != nil {
		return MKT{}, err
	}
	return sr.MKT, nil
}

// Track returns a shipment's GPS fixes in [from, to).
func (s *Service) Track(ctx context.Context, tenant, id string, from, to time.Time) ([]Fix, error) {
	sh, _, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, id)
	if err != nil {
		return nil, err
	}
	out := []Fix{}
	if len(sh.Loggers) == 0 {
		return out, nil
	}
	dev := sh.Loggers[0].Device
	subject := id
	if d, err := s.cfg.Store.Device(ctx, tenant, dev); err == nil && d.Subject != "" {
		subject = d.Subject
	}
	q := store.ReadingQuery{Tenant: tenant, Subject: subject, From: from, To: to, Limit: 100000}
	q.Metric = "lat"
	lats, err := s.cfg.Store.Readings(ctx, q)
	if err != nil {
		return nil, err
	}
	q.Metric = "lon"
	lons, err := s.cfg.Store.Readings(ctx, q)
	if err != nil {
		return nil, err
	}
	lon := make(map[time.Time]float64, len(lons))
	for _, p := range lons {
		if p.Device == dev {
			lon[p.Measured.UTC()] = p.Value
		}
	}
	for _, p := range lats {
		if v, ok := lon[p.Measured.UTC()]; ok && p.Device == dev {
			out = append(out, Fix{At: p.Measured.UTC(), Lat: p.Value, Lon: v})
		}
	}
	return out, nil
}
