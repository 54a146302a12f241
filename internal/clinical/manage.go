package clinical

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func checkID(field, id string) error {
	if !idPattern.MatchString(id) {
		return invalid(field, "%q is not an id (1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit)", id)
	}
	return nil
}

func checkText(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return invalid(field, "required")
	}
	if len(v) > max {
		return invalid(field, "longer than %d characters", max)
	}
	return nil
}

func checkZone(field, tz string) error {
	if tz == "" {
		return nil
	}
	if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
		return invalid(field, "%q is not an IANA time zone", tz)
	}
	return nil
}

// WardView is a ward with its beds.
type WardView struct {
	store.Ward
	Beds []store.Bed `json:"beds"`
}

// CreateWard creates a ward and, optionally, beds by label (ids <ward>-<label>).
func (s *Service) CreateWard(ctx context.Context, tenant, id, name string, beds []string) (WardView, error) {
	if id == "" {
		id = newID("ward-")
	}
	if err := errors.Join(checkID("id", id), checkText("name", name, true, 200)); err != nil {
		return WardView{}, err
	}
	for _, l := range beds {
		if err := checkID("beds", id+"-"+l); err != nil {
			return WardView{}, err
		}
	}
	w := store.Ward{ID: id, Tenant: tenant, Name: name, Created: s.now().UTC()}
	if err := s.st.CreateWard(ctx, w); err != nil {
		return WardView{}, err
	}
	v := WardView{Ward: w, Beds: []store.Bed{}}
	for _, l := range beds {
		b := store.Bed{ID: id + "-" + l, Tenant: tenant, Ward: id, Label: l}
		if err := s.st.CreateBed(ctx, b); err != nil {
			return v, err
		}
		v.Beds = append(v.Beds, b)
	}
	return v, nil
}

// CreateBed adds a bed to a ward.
func (s *Service) CreateBed(ctx context.Context, tenant, ward, id, label string) (store.Bed, error) {
	if id == "" {
		id = ward + "-" + label
	}
	if err := errors.Join(checkID("id", id), checkText("label", label, true, 50)); err != nil {
		return store.Bed{}, err
	}
	if _, err := s.st.Ward(ctx, tenant, ward); err != nil {
		return store.Bed{}, err
	}
	b := store.Bed{ID: id, Tenant: tenant, Ward: ward, Label: label}
	return b, s.st.CreateBed(ctx, b)
}

// Wards lists the tenant's wards with their beds.
func (s *Service) Wards(ctx context.Context, tenant string) ([]WardView, error) {
	ws, err := s.st.Wards(ctx, tenant)
	if err != nil {
		return nil, err
	}
	beds, err := s.st.Beds(ctx, tenant, "")
	if err != nil {
		return nil, err
	}
	out := make([]WardView, 0, len(ws))
	for _, w := range ws {
		v := WardView{Ward: w, Beds: []store.Bed{}}
		for _, b := range beds {
			if b.Ward == w.ID {
				v.Beds = append(v.Beds, b)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// PatientInput creates or changes a patient. Nil fields are left as they are.
type PatientInput struct {
	ID                  string  `json:"id"`
	MRN                 *string `json:"mrn"`
	Name                *string `json:"name"`
	BirthDate           *string `json:"birth_date"`
	Sex                 *string `json:"sex"`
	SpO2Scale           *int    `json:"spo2_scale"`
	SpO2ScaleReasonCode string  `json:"spo2_scale_reason_code"`
	SpO2ScaleReason     string  `json:"spo2_scale_reason"`
	TimeZone            *string `json:"time_zone"`
	// Prescriber: the caller holds the prescriber permission (set by the API from the
	// caller's role, never from the request body). Changing spo2_scale needs it.
	Prescriber bool `json:"-"`
}

// ReasonHCRF is the reason code that Scale 2 needs (news2.md §4.3): hypercapnic respiratory
// failure confirmed on arterial blood gas.
const ReasonHCRF = "HCRF_CONFIRMED_ABG"

// ErrNotPrescriber refuses a change of a patient's SpO2 scale by a caller without the
// prescriber permission (news2.md §4.3); the API answers 403.
var ErrNotPrescriber = errors.New("changing the SpO2 scale needs the prescriber permission")

// apply validates in onto p (old is the stored patient, or the defaults for a new patient).
func (in PatientInput) apply(p store.Patient) (store.Patient, error) {
	old := p
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&p.MRN, in.MRN)
	set(&p.Name, in.Name)
	set(&p.BirthDate, in.BirthDate)
	set(&p.Sex, in.Sex)
	set(&p.TimeZone, in.TimeZone)
	if in.SpO2Scale != nil {
		p.SpO2Scale = *in.SpO2Scale
	}
	if p.SpO2Scale != old.SpO2Scale && (p.SpO2Scale == 1 || p.SpO2Scale == 2) && !in.Prescriber {
		return old, ErrNotPrescriber
	}
	var errs []error
	errs = append(errs, checkText("mrn", p.MRN, true, 64), checkText("name", p.Name, true, 200), checkZone("time_zone", p.TimeZone))
	if p.BirthDate != "" {
		if _, err := time.Parse(time.DateOnly, p.BirthDate); err != nil {
			errs = append(errs, invalid("birth_date", "%q is not a date YYYY-MM-DD", p.BirthDate))
		}
	}
	switch p.Sex {
	case "female", "male", "other", "unknown":
	default:
		errs = append(errs, invalid("sex", "want female, male, other or unknown"))
	}
	switch {
	case p.SpO2Scale != 1 && p.SpO2Scale != 2:
		errs = append(errs, invalid("spo2_scale", "want 1 or 2"))
	case p.SpO2Scale == 2 && old.SpO2Scale != 2:
		switch {
		case in.SpO2ScaleReasonCode != ReasonHCRF:
			errs = append(errs, invalid("spo2_scale_reason_code", "Scale 2 needs reason code %s (hypercapnic respiratory failure confirmed on blood gas, news2.md §4.3)", ReasonHCRF))
		case strings.TrimSpace(in.SpO2ScaleReason) == "":
			errs = append(errs, invalid("spo2_scale_reason", "Scale 2 needs a free-text reason (e.g. the blood gas result)"))
		case len(in.SpO2ScaleReason) > 1000:
			errs = append(errs, invalid("spo2_scale_reason", "longer than 1000 characters"))
		}
	case p.SpO2Scale == 1 && old.SpO2Scale == 2 && strings.TrimSpace(in.SpO2ScaleReason) == "":
		errs = append(errs, invalid("spo2_scale_reason", "going back to Scale 1 needs a spo2_scale_reason"))
	}
	return p, errors.Join(errs...)
}

// CreatePatient validates and stores a new patient.
func (s *Service) CreatePatient(ctx context.Context, tenant string, in PatientInput) (store.Patient, error) {
	id := in.ID
	if id == "" {
		id = newID("pat-")
	}
	if err := checkID("id", id); err != nil {
		return store.Patient{}, err
	}
	base := store.Patient{ID: id, Tenant: tenant, Sex: "unknown", SpO2Scale: 1, TimeZone: "UTC", Created: s.now().UTC()}
	p, err := in.apply(base)
	if err != nil {
		return store.Patient{}, err
	}
	return p, s.st.CreatePatient(ctx, p)
}

// UpdatePatient changes a patient and returns the old and new record. A change of SpO2 scale
// re-scores the patient's current set on the new scale (Rescore); stored sets keep theirs.
func (s *Service) UpdatePatient(ctx context.Context, tenant, id string, in PatientInput) (old, p store.Patient, err error) {
	old, err = s.st.Patient(ctx, tenant, id)
	if err != nil {
		return old, p, err
	}
	if p, err = in.apply(old); err != nil {
		return old, p, err
	}
	if err := s.st.UpdatePatient(ctx, p); err != nil {
		return old, p, err
	}
	s.PatientChanged(p)
	if p.SpO2Scale != old.SpO2Scale {
		// The change is stored; a failed re-score is not the caller's error (the next
		// evaluation uses the new scale anyway).
		if _, err := s.Rescore(ctx, tenant, id); err != nil {
			s.log.Warn("clinical: re-score after an SpO2 scale change failed", "tenant", tenant, "err", err)
		}
	}
	return old, p, nil
}

// Patient returns one patient.
func (s *Service) Patient(ctx context.Context, tenant, id string) (store.Patient, error) {
	return s.st.Patient(ctx, tenant, id)
}

// EncounterRef is a patient's open encounter, in lists.
type EncounterRef struct {
	ID       string    `json:"id"`
	Ward     string    `json:"ward"`
	Bed      string    `json:"bed"`
	Admitted time.Time `json:"admitted"`
}

// PatientRow is a patient in a list.
type PatientRow struct {
	store.Patient
	Encounter *EncounterRef `json:"encounter"`
}

// Patients lists patients: ward "" any, q a case-insensitive substring of name or MRN,
// admitted only those with an open encounter.
func (s *Service) Patients(ctx context.Context, tenant, ward, q string, admitted bool) ([]PatientRow, error) {
	ps, err := s.st.Patients(ctx, tenant)
	if err != nil {
		return nil, err
	}
	open, err := s.openEncounters(ctx, tenant)
	if err != nil {
		return nil, err
	}
	q = strings.ToLower(q)
	out := []PatientRow{}
	for _, p := range ps {
		e := open[p.ID]
		if (ward != "" && (e == nil || e.Ward != ward)) || (admitted && e == nil) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(p.Name), q) && !strings.Contains(strings.ToLower(p.MRN), q) {
			continue
		}
		out = append(out, PatientRow{Patient: p, Encounter: e})
	}
	return out, nil
}

func (s *Service) openEncounters(ctx context.Context, tenant string) (map[string]*EncounterRef, error) {
	stays, err := s.st.OpenStays(ctx, tenant, "")
	if err != nil {
		return nil, err
	}
	encs := map[string]*EncounterRef{}
	for _, st := range stays {
		encs[st.Patient] = &EncounterRef{ID: st.Encounter, Ward: st.Ward, Bed: st.Bed}
	}
	if len(encs) > 0 {
		all, err := s.st.Encounters(ctx, tenant, "")
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			if r := encs[e.Patient]; r != nil && r.ID == e.ID {
				r.Admitted = e.Admitted
			}
		}
	}
	return encs, nil
}

func (s *Service) at(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return s.now().UTC()
	}
	return t.UTC()
}

func (s *Service) checkBed(ctx context.Context, tenant, ward, bed string) error {
	b, err := s.st.Bed(ctx, tenant, bed)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("bed", "no bed %q", bed)
	}
	if err != nil {
		return err
	}
	if b.Ward != ward {
		return invalid("bed", "bed %q is not in ward %q", bed, ward)
	}
	return nil
}

// Admit opens an encounter for the patient in a bed.
func (s *Service) Admit(ctx context.Context, tenant, patient, ward, bed string, at *time.Time) (store.Encounter, error) {
	if _, err := s.st.Patient(ctx, tenant, patient); err != nil {
		return store.Encounter{}, err
	}
	if err := s.checkBed(ctx, tenant, ward, bed); err != nil {
		return store.Encounter{}, err
	}
	t := s.at(at)
	e := store.Encounter{ID: newID("enc-"), Tenant: tenant, Patient: patient, Admitted: t,
		Stays: []store.BedStay{{Ward: ward, Bed: bed, From: t}}}
	if err := s.st.Admit(ctx, e); err != nil {
		return store.Encounter{}, err
	}
	s.refresh(ctx)
	return s.encounter(ctx, tenant, patient, e.ID)
}

func (s *Service) encounter(ctx context.Context, tenant, patient, id string) (store.Encounter, error) {
	encs, err := s.st.Encounters(ctx, tenant, patient)
	if err != nil {
		return store.Encounter{}, err
	}
	for _, e := range encs {
		if e.ID == id {
			return e, nil
		}
	}
	return store.Encounter{}, fmt.Errorf("encounter %s: %w", id, store.ErrNotFound)
}

// openEncounterOf returns the patient's open encounter; ErrConflict-wrapped when none.
func (s *Service) openEncounterOf(ctx context.Context, tenant, patient string) (store.Encounter, error) {
	if _, err := s.st.Patient(ctx, tenant, patient); err != nil {
		return store.Encounter{}, err
	}
	encs, err := s.st.Encounters(ctx, tenant, patient)
	if err != nil {
		return store.Encounter{}, err
	}
	for _, e := range encs {
		if e.Discharged.IsZero() {
			return e, nil
		}
	}
	return store.Encounter{}, fmt.Errorf("patient is not admitted: %w", store.ErrConflict)
}

// Transfer moves the patient's open encounter to another bed.
func (s *Service) Transfer(ctx context.Context, tenant, patient, ward, bed string, at *time.Time) (store.Encounter, error) {
	e, err := s.openEncounterOf(ctx, tenant, patient)
	if err != nil {
		return store.Encounter{}, err
	}
	if err := s.checkBed(ctx, tenant, ward, bed); err != nil {
		return store.Encounter{}, err
	}
	t := s.at(at)
	if cur := e.Stays[len(e.Stays)-1]; !t.After(cur.From) {
		return store.Encounter{}, invalid("at", "before the current stay began")
	}
	if err := s.st.Transfer(ctx, tenant, e.ID, store.BedStay{Ward: ward, Bed: bed, From: t}); err != nil {
		return store.Encounter{}, err
	}
	s.refresh(ctx)
	return s.encounter(ctx, tenant, patient, e.ID)
}

// Discharge closes the patient's open encounter and ends its open bedside assignments.
func (s *Service) Discharge(ctx context.Context, tenant, patient string, at *time.Time) (store.Encounter, []store.DeviceAssignment, error) {
	e, err := s.openEncounterOf(ctx, tenant, patient)
	if err != nil {
		return store.Encounter{}, nil, err
	}
	t := s.at(at)
	if !t.After(e.Admitted) {
		return store.Encounter{}, nil, invalid("at", "before admission")
	}
	if err := s.st.Discharge(ctx, tenant, e.ID, t); err != nil {
		return store.Encounter{}, nil, err
	}
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, Patient: patient, OpenOnly: true})
	if err != nil {
		return store.Encounter{}, nil, err
	}
	var ended []store.DeviceAssignment
	for _, a := range as {
		if a.Kind != KindBedside || !t.After(a.From) {
			continue
		}
		x, err := s.st.EndAssignment(ctx, tenant, a.ID, t)
		if err != nil {
			return store.Encounter{}, nil, err
		}
		ended = append(ended, x)
	}
	s.refresh(ctx)
	e, err = s.encounter(ctx, tenant, patient, e.ID)
	return e, ended, err
}

// Encounters lists a patient's encounters, newest first.
func (s *Service) Encounters(ctx context.Context, tenant, patient string) ([]store.Encounter, error) {
	if _, err := s.st.Patient(ctx, tenant, patient); err != nil {
		return nil, err
	}
	encs, err := s.st.Encounters(ctx, tenant, patient)
	if encs == nil && err == nil {
		encs = []store.Encounter{}
	}
	return encs, err
}

// refresh reloads the attributor after a change made here; a failure leaves the periodic
// refresh to catch up.
func (s *Service) refresh(ctx context.Context) {
	if err := s.attr.Refresh(ctx); err != nil {
		s.log.Warn("clinical: attributor refresh failed", "err", err)
	}
}

// AssignInput assigns a device to a patient.
type AssignInput struct {
	Device  string     `json:"device"`
	Patient string     `json:"patient"`
	From    *time.Time `json:"from"`
	To      *time.Time `json:"to"`
	Kind    string     `json:"kind"`
}

// Assign assigns a device to a patient from From (default now), ending an open assignment of
// the device that began earlier (a re-assignment).
func (s *Service) Assign(ctx context.Context, tenant, actor string, in AssignInput) (store.DeviceAssignment, []store.DeviceAssignment, error) {
	if in.Kind == "" {
		in.Kind = KindBedside
	}
	if in.Kind != KindBedside && in.Kind != KindRPM {
		return store.DeviceAssignment{}, nil, invalid("kind", "want bedside or rpm")
	}
	if _, err := s.st.Device(ctx, tenant, in.Device); errors.Is(err, store.ErrNotFound) {
		return store.DeviceAssignment{}, nil, invalid("device", "no device %q", in.Device)
	} else if err != nil {
		return store.DeviceAssignment{}, nil, err
	}
	if _, err := s.st.Patient(ctx, tenant, in.Patient); errors.Is(err, store.ErrNotFound) {
		return store.DeviceAssignment{}, nil, invalid("patient", "no patient %q", in.Patient)
	} else if err != nil {
		return store.DeviceAssignment{}, nil, err
	}
	now := s.now().UTC()
	a := store.DeviceAssignment{ID: newID("asg-"), Tenant: tenant, Device: in.Device, Patient: in.Patient, Kind: in.Kind,
		From: s.at(in.From), CreatedBy: actor, Created: now}
	if in.To != nil {
		if !in.To.After(a.From) {
			return store.DeviceAssignment{}, nil, invalid("to", "must be after from")
		}
		a.To = in.To.UTC()
	}
	ended, err := s.st.Assign(ctx, a)
	if err != nil {
		return store.DeviceAssignment{}, nil, err
	}
	s.refresh(ctx)
	return a, ended, nil
}

// EndAssignment ends an open assignment at at (default now).
func (s *Service) EndAssignment(ctx context.Context, tenant, id string, at *time.Time) (store.DeviceAssignment, error) {
	t := s.at(at)
	list, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant})
	if err != nil {
		return store.DeviceAssignment{}, err
	}
	i := slices.IndexFunc(list, func(a store.DeviceAssignment) bool { return a.ID == id })
	if i < 0 {
		return store.DeviceAssignment{}, fmt.Errorf("assignment %s: %w", id, store.ErrNotFound)
	}
	if !list[i].To.IsZero() {
		return store.DeviceAssignment{}, fmt.Errorf("assignment %s has ended: %w", id, store.ErrConflict)
	}
	if !t.After(list[i].From) {
		return store.DeviceAssignment{}, invalid("at", "must be after the assignment's start")
	}
	a, err := s.st.EndAssignment(ctx, tenant, id, t)
	if err != nil {
		return a, err
	}
	s.refresh(ctx)
	return a, nil
}

// Assignments lists assignments, newest first.
func (s *Service) Assignments(ctx context.Context, q store.AssignmentQuery) ([]store.DeviceAssignment, error) {
	as, err := s.st.Assignments(ctx, q)
	if as == nil && err == nil {
		as = []store.DeviceAssignment{}
	}
	return as, err
}

// DeviceRef is an unassigned device.
type DeviceRef struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"`
	Model    string     `json:"model"`
	LastSeen *time.Time `json:"last_seen"`
}

// UnassignedDevices lists devices that are not environment loggers and have no open assignment.
func (s *Service) UnassignedDevices(ctx context.Context, tenant string) ([]DeviceRef, error) {
	devs, err := s.st.Devices(ctx, tenant)
	if err != nil {
		return nil, err
	}
	open, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, OpenOnly: true})
	if err != nil {
		return nil, err
	}
	busy := map[string]bool{}
	for _, a := range open {
		busy[a.Device] = true
	}
	out := []DeviceRef{}
	for _, d := range devs {
		if busy[d.ID] || d.Kind == "environment" || d.Revoked {
			continue
		}
		r := DeviceRef{ID: d.ID, Kind: d.Kind, Model: d.Model}
		if !d.LastSeen.IsZero() {
			ls := d.LastSeen.UTC()
			r.LastSeen = &ls
		}
		out = append(out, r)
	}
	return out, nil
}
