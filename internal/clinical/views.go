package clinical

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/news2"
	"github.com/vigil-iomt/vigil/internal/store"
)

// PatientReadings returns the patient's readings of a metric in [from, to): each assignment's
// device readings within the assignment's window (docs/clinical.md §1.1), in measured order,
// at most limit (0: 10,000).
func (s *Service) PatientReadings(ctx context.Context, tenant, patient, metric string, from, to time.Time, limit int) ([]store.Point, error) {
	if limit <= 0 {
		limit = 10_000
	}
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, Patient: patient})
	if err != nil {
		return nil, err
	}
	var out []store.Point
	for _, a := range as {
		lo, hi := a.From, a.To
		if !from.IsZero() && from.After(lo) {
			lo = from
		}
		if hi.IsZero() || (!to.IsZero() && to.Before(hi)) {
			hi = to
		}
		if !hi.IsZero() && !lo.Before(hi) {
			continue
		}
		ps, err := s.st.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: tenant, Device: a.Device, Metric: metric, From: lo, To: hi, Limit: limit})
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b store.Point) int {
		return cmp.Or(a.Measured.Compare(b.Measured), cmp.Compare(a.Device, b.Device))
	})
	return out[:min(len(out), limit)], nil
}

// Bucket is a summary of a patient's readings in [T, T+step).
type Bucket struct {
	T     time.Time `json:"t"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Mean  float64   `json:"mean"`
	Count int       `json:"count"`
}

// PatientBuckets summarises the patient's numeric readings per step (aligned to the epoch).
func (s *Service) PatientBuckets(ctx context.Context, tenant, patient, metric string, from, to time.Time, step time.Duration) ([]Bucket, error) {
	ps, err := s.PatientReadings(ctx, tenant, patient, metric, from, to, 1_000_000)
	if err != nil {
		return nil, err
	}
	out := []Bucket{}
	for _, p := range ps {
		if p.Kind != 0 || math.IsNaN(p.Value) {
			continue
		}
		n := p.Measured.UnixNano()
		start := time.Unix(0, n-((n%int64(step))+int64(step))%int64(step)).UTC()
		if k := len(out); k > 0 && out[k-1].T.Equal(start) {
			b := &out[k-1]
			b.Min, b.Max = min(b.Min, p.Value), max(b.Max, p.Value)
			b.Mean += p.Value
			b.Count++
			continue
		}
		out = append(out, Bucket{T: start, Min: p.Value, Max: p.Value, Mean: p.Value, Count: 1})
	}
	for i := range out {
		out[i].Mean /= float64(out[i].Count)
	}
	return out, nil
}

// Vital is the newest attributed reading of a metric.
type Vital struct {
	Value  float64   `json:"value"`
	Unit   string    `json:"unit"`
	T      time.Time `json:"t"`
	Device string    `json:"device"`
	Stale  bool      `json:"stale"`
}

// vitalMetrics are the metrics shown at the station, each with the NEWS2 staleness window of
// its parameter (news2.md §6.2).
var vitalMetrics = []struct {
	metric string
	maxAge time.Duration
}{
	{"hr", 15 * time.Minute}, {"pr_spo2", 15 * time.Minute}, {"spo2", 15 * time.Minute}, {"rr", 15 * time.Minute},
	{"nibp_sys", 60 * time.Minute}, {"nibp_dia", 60 * time.Minute}, {"temp_body", 240 * time.Minute},
}

// Vitals returns the newest reading per station metric from the patient's open assignments,
// marked stale past the NEWS2 window, and the stale metrics.
func (s *Service) Vitals(ctx context.Context, tenant, patient string, now time.Time) (map[string]Vital, []string, []string, error) {
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, Patient: patient, OpenOnly: true})
	if err != nil {
		return nil, nil, nil, err
	}
	out := map[string]Vital{}
	devices := []string{}
	for _, a := range as {
		devices = append(devices, a.Device)
		for _, m := range vitalMetrics {
			ps, err := s.st.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: tenant, Device: a.Device, Metric: m.metric, From: a.From, Desc: true, Limit: 1})
			if err != nil {
				return nil, nil, nil, err
			}
			if len(ps) == 0 {
				continue
			}
			p := ps[0]
			if cur, ok := out[m.metric]; ok && !p.Measured.After(cur.T) {
				continue
			}
			out[m.metric] = Vital{Value: p.Value, Unit: p.Unit, T: p.Measured, Device: p.Device, Stale: now.Sub(p.Measured) > m.maxAge}
		}
	}
	stale := []string{}
	for _, m := range vitalMetrics {
		if v, ok := out[m.metric]; ok && v.Stale {
			stale = append(stale, m.metric)
		}
	}
	slices.Sort(devices)
	return out, stale, devices, nil
}

// Sets returns a patient's stored sets in [from, to), oldest first.
func (s *Service) Sets(ctx context.Context, tenant, patient string, from, to time.Time, limit int, completeOnly bool) ([]SetDoc, error) {
	q := store.RecordQuery{Tenant: tenant, Kind: store.RecNEWS2Set, Owner: patient, From: from, To: to, Limit: limit}
	if completeOnly {
		q.Tag = tagComplete
	}
	rs, err := s.st.Records(ctx, q)
	if err != nil {
		return nil, err
	}
	return decodeSets(rs)
}

func decodeSets(rs []store.ClinicalRecord) ([]SetDoc, error) {
	out := make([]SetDoc, 0, len(rs))
	for _, r := range rs {
		var d SetDoc
		if err := json.Unmarshal(r.JSON, &d); err != nil {
			return nil, fmt.Errorf("set %s: %w", r.ID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *Service) latestSet(ctx context.Context, tenant, patient string, complete bool) (*SetDoc, error) {
	q := store.RecordQuery{Tenant: tenant, Kind: store.RecNEWS2Set, Owner: patient, Desc: true, Limit: 1}
	if complete {
		q.Tag = tagComplete
	}
	rs, err := s.st.Records(ctx, q)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	ds, err := decodeSets(rs)
	if err != nil {
		return nil, err
	}
	return &ds[0], nil
}

// PatientView is a patient with age (in the patient's zone, on now's date) and NEWS2
// eligibility (news2.md §1.1): APPLICABLE, or NOT_APPLICABLE with the reason.
type PatientView struct {
	store.Patient
	Age               *int   `json:"age"`
	NEWS2Eligibility  string `json:"news2_eligibility"`
	NEWS2IneligibleBy string `json:"news2_not_applicable_reason,omitempty"`
}

func patientView(p store.Patient, now time.Time) PatientView {
	v := PatientView{Patient: p, NEWS2Eligibility: "APPLICABLE"}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	dob, _ := time.Parse(time.DateOnly, p.BirthDate)
	preg := news2.Unknown
	if p.Sex == "male" {
		preg = news2.No
	}
	if el := news2.CheckEligibility(dob, preg, now, loc); !el.Applicable {
		v.NEWS2Eligibility, v.NEWS2IneligibleBy = "NOT_APPLICABLE", el.Reason
	}
	if dob.IsZero() {
		return v
	}
	y, m, d := now.In(loc).Date()
	age := y - dob.Year()
	if m < dob.Month() || (m == dob.Month() && d < dob.Day()) {
		age--
	}
	v.Age = &age
	return v
}

// AlarmSummary summarises a patient's open alarms (filled in by the API, which has the alarms).
type AlarmSummary struct {
	Open    int     `json:"open"`
	Highest *string `json:"highest"`
}

// BedView is one bed of the central station.
type BedView struct {
	Bed       store.Bed        `json:"bed"`
	Patient   *PatientView     `json:"patient"`
	Encounter string           `json:"encounter,omitempty"`
	Devices   []string         `json:"devices"`
	Vitals    map[string]Vital `json:"vitals"`
	NEWS2     *SetDoc          `json:"news2"`
	NextDue   *time.Time       `json:"next_due"`
	Overdue   bool             `json:"overdue"`
	Stale     []string         `json:"stale"`
	Alarms    AlarmSummary     `json:"alarms"`
}

// Station is the central-station view of a ward.
type Station struct {
	Ward store.Ward `json:"ward"`
	Now  time.Time  `json:"now"`
	Beds []BedView  `json:"beds"`
}

// Station builds the central-station grid of a ward at now.
func (s *Service) Station(ctx context.Context, tenant, ward string, now time.Time) (Station, error) {
	w, err := s.st.Ward(ctx, tenant, ward)
	if err != nil {
		return Station{}, err
	}
	beds, err := s.st.Beds(ctx, tenant, ward)
	if err != nil {
		return Station{}, err
	}
	stays, err := s.st.OpenStays(ctx, tenant, ward)
	if err != nil {
		return Station{}, err
	}
	byBed := map[string]store.BedStay{}
	for _, st := range stays {
		byBed[st.Bed] = st
	}
	encs, err := s.openEncounters(ctx, tenant)
	if err != nil {
		return Station{}, err
	}
	out := Station{Ward: w, Now: now.UTC(), Beds: []BedView{}}
	for _, b := range beds {
		bv := BedView{Bed: b, Devices: []string{}, Vitals: map[string]Vital{}, Stale: []string{}}
		st, ok := byBed[b.ID]
		if ok {
			if err := s.fillPatient(ctx, &bv, tenant, st.Patient, encs[st.Patient], now); err != nil {
				return Station{}, err
			}
		}
		out.Beds = append(out.Beds, bv)
	}
	return out, nil
}

func (s *Service) fillPatient(ctx context.Context, bv *BedView, tenant, patient string, enc *EncounterRef, now time.Time) error {
	p, err := s.st.Patient(ctx, tenant, patient)
	if err != nil {
		return err
	}
	pv := patientView(p, now)
	bv.Patient = &pv
	var admitted time.Time
	if enc != nil {
		bv.Encounter, admitted = enc.ID, enc.Admitted
	}
	if bv.Vitals, bv.Stale, bv.Devices, err = s.Vitals(ctx, tenant, patient, now); err != nil {
		return err
	}
	if bv.NEWS2, err = s.latestSet(ctx, tenant, patient, false); err != nil {
		return err
	}
	bv.NextDue, bv.Overdue, err = s.overdueOf(ctx, tenant, patient, admitted, now)
	return err
}

// PatientPage is the patient page header (docs/clinical.md §3).
type PatientPage struct {
	Patient      PatientView              `json:"patient"`
	Encounter    *store.Encounter         `json:"encounter"`
	Assignments  []store.DeviceAssignment `json:"assignments"`
	Vitals       map[string]Vital         `json:"vitals"`
	Stale        []string                 `json:"stale"`
	NEWS2        *SetDoc                  `json:"news2"`
	LastComplete *SetDoc                  `json:"last_complete"`
	NextDue      *time.Time               `json:"next_due"`
	Overdue      bool                     `json:"overdue"`
	Flags        []Flag                   `json:"flags"`
}

// Page returns the patient page header at now.
func (s *Service) Page(ctx context.Context, tenant, patient string, now time.Time) (PatientPage, error) {
	p, err := s.st.Patient(ctx, tenant, patient)
	if err != nil {
		return PatientPage{}, err
	}
	pg := PatientPage{Patient: patientView(p, now)}
	encs, err := s.st.Encounters(ctx, tenant, patient)
	if err != nil {
		return pg, err
	}
	var admitted time.Time
	if len(encs) > 0 && encs[0].Discharged.IsZero() {
		pg.Encounter, admitted = &encs[0], encs[0].Admitted
	}
	if pg.Assignments, err = s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, Patient: patient, OpenOnly: true}); err != nil {
		return pg, err
	}
	if pg.Assignments == nil {
		pg.Assignments = []store.DeviceAssignment{}
	}
	if pg.Vitals, pg.Stale, _, err = s.Vitals(ctx, tenant, patient, now); err != nil {
		return pg, err
	}
	if pg.NEWS2, err = s.latestSet(ctx, tenant, patient, false); err != nil {
		return pg, err
	}
	if pg.LastComplete, err = s.latestSet(ctx, tenant, patient, true); err != nil {
		return pg, err
	}
	if pg.NextDue, pg.Overdue, err = s.overdueOf(ctx, tenant, patient, admitted, now); err != nil {
		return pg, err
	}
	pg.Flags, err = s.Flags(ctx, tenant, patient, now.AddDate(0, 0, -7), time.Time{})
	return pg, err
}

// Event is one entry of a patient's timeline.
type Event struct {
	T    time.Time `json:"t"`
	Kind string    `json:"kind"`
	Text string    `json:"text"`
	Ref  string    `json:"ref"`
}

// Timeline merges a patient's encounters, assignments, manual observations, NEWS2 band changes
// and baseline flags in [from, to), newest first.
func (s *Service) Timeline(ctx context.Context, tenant, patient string, from, to time.Time) ([]Event, error) {
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && (to.IsZero() || t.Before(to)) }
	var out []Event
	add := func(t time.Time, kind, text, ref string) {
		if in(t) {
			out = append(out, Event{T: t.UTC(), Kind: kind, Text: text, Ref: ref})
		}
	}
	wards, err := s.Wards(ctx, tenant)
	if err != nil {
		return nil, err
	}
	place := func(ward, bed string) string {
		for _, w := range wards {
			if w.ID == ward {
				for _, b := range w.Beds {
					if b.ID == bed {
						return w.Name + " bed " + b.Label
					}
				}
				return w.Name + " bed " + bed
			}
		}
		return ward + " bed " + bed
	}
	encs, err := s.Encounters(ctx, tenant, patient)
	if err != nil {
		return nil, err
	}
	for _, e := range encs {
		for i, st := range e.Stays {
			if i == 0 {
				add(st.From, "admit", "Admitted to "+place(st.Ward, st.Bed), e.ID)
			} else {
				add(st.From, "transfer", "Transferred to "+place(st.Ward, st.Bed), e.ID)
			}
		}
		add(e.Discharged, "discharge", "Discharged", e.ID)
	}
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, Patient: patient})
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		add(a.From, "assignment_start", "Device "+a.Device+" assigned", a.ID)
		add(a.To, "assignment_end", "Device "+a.Device+" unassigned", a.ID)
	}
	obs, err := s.Observations(ctx, tenant, patient, from, to)
	if err != nil {
		return nil, err
	}
	for _, o := range obs {
		add(o.At, "observation", "Manual observation: "+o.summary(), o.ID)
	}
	sets, err := s.Sets(ctx, tenant, patient, from, to, 100_000, false)
	if err != nil {
		return nil, err
	}
	prev := ""
	for _, d := range sets {
		b := d.BandMin
		if b != prev {
			text := "NEWS2 " + b
			if d.Total != nil {
				text += fmt.Sprintf(" (%d)", *d.Total)
			} else {
				text += fmt.Sprintf(" (incomplete %d–%d)", d.ScoreMin, d.ScoreMax)
			}
			add(d.EvaluatedAt, "news2_band", text, d.ID)
			prev = b
		}
	}
	flags, err := s.Flags(ctx, tenant, patient, from, to)
	if err != nil {
		return nil, err
	}
	for _, f := range flags {
		day, _ := time.Parse(time.DateOnly, f.Day)
		add(day, "baseline_flag", f.Code+" "+f.State, f.ID)
	}
	slices.SortStableFunc(out, func(a, b Event) int { return b.T.Compare(a.T) })
	if out == nil {
		out = []Event{}
	}
	return out, nil
}

func (o *Observation) summary() string {
	var parts []string
	num := func(name string, v *float64) {
		if v != nil {
			parts = append(parts, fmt.Sprintf("%s %v", name, *v))
		}
	}
	num("RR", o.RR)
	num("SpO2", o.SpO2)
	num("SBP", o.SBP)
	num("pulse", o.Pulse)
	num("temp", o.Temp)
	if o.ACVPU != "" {
		parts = append(parts, "ACVPU "+o.ACVPU)
	}
	if o.O2 != "" {
		parts = append(parts, "O2 "+o.O2)
	}
	return strings.Join(parts, ", ")
}
