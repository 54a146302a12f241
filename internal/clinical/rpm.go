package clinical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/quantile"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/rpm/evidence"
	"github.com/vigil-iomt/vigil/internal/rpm/report"
	"github.com/vigil-iomt/vigil/internal/store"
)

// physiological are the metrics whose readings count towards RPM days (not battery, signal,
// position or environment).
var physiological = []string{"hr", "pr_spo2", "pr_nibp", "spo2", "rr", "nibp_sys", "nibp_dia", "nibp_mean", "temp_body", "glucose", "weight", "pi"}

// slotStep is the resolution of day counting: every zone offset in use is a multiple of
// 15 minutes, so an epoch-aligned 15-minute slot lies within one local date.
const slotStep = 15 * time.Minute

// ProgrammeInput creates a programme.
type ProgrammeInput struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Condition string `json:"condition"`
	TimeZone  string `json:"time_zone"`
}

// CreateProgramme creates an RPM programme.
func (s *Service) CreateProgramme(ctx context.Context, tenant string, in ProgrammeInput) (store.Programme, error) {
	if in.ID == "" {
		in.ID = newID("prog-")
	}
	if in.TimeZone == "" {
		in.TimeZone = "UTC"
	}
	if err := errors.Join(checkID("id", in.ID), checkText("name", in.Name, true, 200), checkText("condition", in.Condition, false, 200),
		checkZone("time_zone", in.TimeZone)); err != nil {
		return store.Programme{}, err
	}
	p := store.Programme{ID: in.ID, Tenant: tenant, Name: in.Name, Condition: in.Condition, TimeZone: in.TimeZone, Created: s.now().UTC()}
	return p, s.st.CreateProgramme(ctx, p)
}

// Programmes lists programmes.
func (s *Service) Programmes(ctx context.Context, tenant string) ([]store.Programme, error) {
	ps, err := s.st.Programmes(ctx, tenant)
	if ps == nil && err == nil {
		ps = []store.Programme{}
	}
	return ps, err
}

// EnrolInput enrols a patient.
type EnrolInput struct {
	Patient     string     `json:"patient"`
	TimeZone    string     `json:"time_zone"`
	EnrolledAt  *time.Time `json:"enrolled_at"`
	SetupRecord bool       `json:"setup_record"`
	Devices     []string   `json:"devices"`
}

// Enrol enrols a patient in a programme and assigns the kit devices (kind rpm) from the
// enrolment time. It returns the enrolment and the assignments it ended (re-assignments).
func (s *Service) Enrol(ctx context.Context, tenant, programme, actor string, in EnrolInput) (store.Enrolment, []store.DeviceAssignment, error) {
	prog, err := s.st.Programme(ctx, tenant, programme)
	if err != nil {
		return store.Enrolment{}, nil, err
	}
	if in.TimeZone == "" {
		in.TimeZone = prog.TimeZone
	}
	if err := checkZone("time_zone", in.TimeZone); err != nil {
		return store.Enrolment{}, nil, err
	}
	if _, err := s.st.Patient(ctx, tenant, in.Patient); errors.Is(err, store.ErrNotFound) {
		return store.Enrolment{}, nil, invalid("patient", "no patient %q", in.Patient)
	} else if err != nil {
		return store.Enrolment{}, nil, err
	}
	for _, d := range in.Devices {
		if _, err := s.st.Device(ctx, tenant, d); errors.Is(err, store.ErrNotFound) {
			return store.Enrolment{}, nil, invalid("devices", "no device %q", d)
		} else if err != nil {
			return store.Enrolment{}, nil, err
		}
	}
	e := store.Enrolment{ID: newID("enr-"), Tenant: tenant, Programme: programme, Patient: in.Patient, TimeZone: in.TimeZone,
		EnrolledAt: s.at(in.EnrolledAt), SetupRecord: in.SetupRecord, Devices: slices.Clone(in.Devices)}
	if e.Devices == nil {
		e.Devices = []string{}
	}
	if err := s.st.CreateEnrolment(ctx, e); err != nil {
		return store.Enrolment{}, nil, err
	}
	var ended []store.DeviceAssignment
	for _, d := range e.Devices {
		at := e.EnrolledAt
		_, x, err := s.Assign(ctx, tenant, actor, AssignInput{Device: d, Patient: e.Patient, From: &at, Kind: KindRPM})
		if err != nil {
			return e, ended, fmt.Errorf("kit device %s: %w", d, err)
		}
		ended = append(ended, x...)
	}
	return e, ended, nil
}

// Enrolments lists a programme's enrolments.
func (s *Service) Enrolments(ctx context.Context, tenant, programme string) ([]store.Enrolment, error) {
	if _, err := s.st.Programme(ctx, tenant, programme); err != nil {
		return nil, err
	}
	es, err := s.st.Enrolments(ctx, tenant, programme, "")
	if es == nil && err == nil {
		es = []store.Enrolment{}
	}
	return es, err
}

// Enrolment returns one enrolment.
func (s *Service) Enrolment(ctx context.Context, tenant, id string) (store.Enrolment, error) {
	return s.st.Enrolment(ctx, tenant, id)
}

// EndEnrolment ends an enrolment and its kit assignments at at (default now).
func (s *Service) EndEnrolment(ctx context.Context, tenant, id string, at *time.Time) (store.Enrolment, []store.DeviceAssignment, error) {
	e, err := s.st.Enrolment(ctx, tenant, id)
	if err != nil {
		return e, nil, err
	}
	t := s.at(at)
	if !t.After(e.EnrolledAt) {
		return e, nil, invalid("at", "before the enrolment")
	}
	if e, err = s.st.EndEnrolment(ctx, tenant, id, t); err != nil {
		return e, nil, err
	}
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: tenant, Patient: e.Patient, OpenOnly: true})
	if err != nil {
		return e, nil, err
	}
	var ended []store.DeviceAssignment
	for _, a := range as {
		if a.Kind == KindRPM && slices.Contains(e.Devices, a.Device) && t.After(a.From) {
			x, err := s.st.EndAssignment(ctx, tenant, a.ID, t)
			if err != nil {
				return e, ended, err
			}
			ended = append(ended, x)
		}
	}
	s.refresh(ctx)
	return e, ended, nil
}

func zoneOf(tz string) *time.Location {
	if loc, err := time.LoadLocation(tz); err == nil {
		return loc
	}
	return time.UTC
}

// kitWindows returns the windows in which each kit device was assigned to the patient within
// the enrolment, cut at until.
func (s *Service) kitWindows(ctx context.Context, e store.Enrolment, until time.Time) ([]store.DeviceAssignment, error) {
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: e.Tenant, Patient: e.Patient})
	if err != nil {
		return nil, err
	}
	end := until
	if !e.EndedAt.IsZero() && e.EndedAt.Before(end) {
		end = e.EndedAt
	}
	var out []store.DeviceAssignment
	for _, a := range as {
		if !slices.Contains(e.Devices, a.Device) {
			continue
		}
		if a.From.Before(e.EnrolledAt) {
			a.From = e.EnrolledAt
		}
		if a.To.IsZero() || a.To.After(end) {
			a.To = end
		}
		if a.From.Before(a.To) {
			out = append(out, a)
		}
	}
	return out, nil
}

// QualifyingDays returns the enrolment's qualifying days (rpm.md §2.2) up to until, sorted,
// and the newest slot with a reading.
func (s *Service) QualifyingDays(ctx context.Context, e store.Enrolment, until time.Time) ([]evidence.Date, time.Time, error) {
	ws, err := s.kitWindows(ctx, e, until)
	if err != nil {
		return nil, time.Time{}, err
	}
	loc := zoneOf(e.TimeZone)
	var days []evidence.Date
	var last time.Time
	for _, w := range ws {
		slots, err := s.st.ReadingSlots(ctx, e.Tenant, w.Device, physiological, uint32(skipFlags), w.From, w.To, slotStep)
		if err != nil {
			return nil, last, err
		}
		for _, sl := range slots {
			// A slot may start before the window (the window starts mid-slot): the reading in
			// it is in the window, and on the slot's local date either way.
			days = append(days, evidence.DateOf(sl, loc))
			if sl.After(last) {
				last = sl
			}
		}
	}
	slices.Sort(days)
	return slices.Compact(days), last, nil
}

// PeriodView is one 30-day period's evidence in the API.
type PeriodView struct {
	N             int      `json:"n"`
	Start         string   `json:"start"`
	End           string   `json:"end"`
	RuleSet       string   `json:"rule_set"`
	Days          []string `json:"days"`
	D             int      `json:"d"`
	Status        string   `json:"status"`
	DeviceCode    string   `json:"device_code"`
	SetupEligible bool     `json:"setup_eligible"`
	AdherencePct  float64  `json:"adherence_pct"`
	LongestGap    int      `json:"longest_gap"`
	Projection    string   `json:"projection"`
	Flags         []string `json:"flags"`
}

func dates(ds []evidence.Date) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// Periods returns the evidence of every period of the enrolment's episodes that has started
// by today (the local date of now), oldest first.
func Periods(days []evidence.Date, today evidence.Date, setupRecord bool) []PeriodView {
	var out []PeriodView
	for _, ep := range evidence.Episodes(days) {
		if len(ep) == 0 {
			continue
		}
		start, lastDay := ep[0], ep[len(ep)-1]
		claimed := false
		for n := 1; ; n++ {
			p := evidence.PeriodN(start, n)
			if p.Start > today || p.Start > lastDay+29 {
				break
			}
			ev := evidence.EvaluatePeriod(p, ep, today)
			setup := evidence.SetupEligible(ev, 16, setupRecord, claimed)
			claimed = claimed || setup
			j := min(int(today-p.Start)+1, 30)
			proj := evidence.Project(j, ev.D)
			v := PeriodView{N: p.N, Start: p.Start.String(), End: p.End.String(), RuleSet: string(ev.RuleSet), Days: dates(ev.Days),
				D: ev.D, Status: string(ev.Status), DeviceCode: ev.DeviceCode, SetupEligible: setup,
				AdherencePct: math.Round(ev.Adherence*10) / 10, LongestGap: ev.LongestGap, Projection: string(proj), Flags: ev.Flags}
			if v.Flags == nil {
				v.Flags = []string{}
			}
			out = append(out, v)
		}
	}
	return out
}

// TimeEntryInput is a clinician review-time entry.
type TimeEntryInput struct {
	Date        string     `json:"date"`
	Start       *time.Time `json:"start"`
	End         *time.Time `json:"end"`
	Minutes     int        `json:"minutes"`
	Activity    string     `json:"activity"`
	Interactive bool       `json:"interactive"`
	Modality    string     `json:"modality"`
	Credential  string     `json:"credential"`
	Note        string     `json:"note"`
}

// TimeEntry is a stored review-time entry.
type TimeEntry struct {
	ID          string     `json:"id"`
	Enrolment   string     `json:"enrolment"`
	Date        string     `json:"date"`
	Start       *time.Time `json:"start,omitempty"`
	End         *time.Time `json:"end,omitempty"`
	Minutes     int        `json:"minutes"`
	Staff       string     `json:"staff"`
	Credential  string     `json:"credential"`
	Activity    string     `json:"activity"`
	Interactive bool       `json:"interactive"`
	Modality    string     `json:"modality"`
	Note        string     `json:"note,omitempty"`
	Created     time.Time  `json:"created"`
}

func (t TimeEntry) evidence() evidence.TimeEntry {
	d, _ := time.Parse(time.DateOnly, t.Date)
	e := evidence.TimeEntry{Date: evidence.MakeDate(d.Year(), d.Month(), d.Day()), Minutes: t.Minutes, Staff: t.Staff,
		Credential: t.Credential, Service: "RPM", Activity: evidence.Activity(t.Activity), Interactive: t.Interactive,
		Modality: evidence.Modality(t.Modality)}
	if t.Start != nil && t.End != nil {
		e.Start, e.End = *t.Start, *t.End
	}
	return e
}

// AddTime records clinician review time on an enrolment.
func (s *Service) AddTime(ctx context.Context, tenant, enrolment, staff string, in TimeEntryInput) (TimeEntry, error) {
	e, err := s.st.Enrolment(ctx, tenant, enrolment)
	if err != nil {
		return TimeEntry{}, err
	}
	loc := zoneOf(e.TimeZone)
	t := TimeEntry{ID: newID("time-"), Enrolment: enrolment, Staff: staff, Credential: strings.ToUpper(in.Credential), Activity: in.Activity,
		Interactive: in.Interactive, Modality: in.Modality, Note: in.Note, Created: s.now().UTC(), Date: in.Date}
	switch in.Activity {
	case "DATA_REVIEW", "CARE_PLAN", "PATIENT_COMMUNICATION", "CARE_COORDINATION", "OTHER":
	default:
		return t, invalid("activity", "want DATA_REVIEW, CARE_PLAN, PATIENT_COMMUNICATION, CARE_COORDINATION or OTHER")
	}
	switch evidence.Modality(in.Modality) {
	case evidence.Audio, evidence.Video, evidence.AudioVideo, evidence.Message:
	case "":
		if in.Interactive {
			return t, invalid("modality", "an interactive entry needs AUDIO, VIDEO or AUDIO_VIDEO")
		}
	default:
		return t, invalid("modality", "want AUDIO, VIDEO, AUDIO_VIDEO or MESSAGE")
	}
	if in.Interactive && evidence.Modality(in.Modality) == evidence.Message {
		return t, invalid("interactive", "asynchronous messages are not interactive (rpm.md §2.5)")
	}
	if err := errors.Join(checkText("credential", in.Credential, true, 16), checkText("note", in.Note, false, 2000)); err != nil {
		return t, err
	}
	switch {
	case in.Start != nil && in.End != nil:
		if !in.End.After(*in.Start) || in.End.Sub(*in.Start) > 24*time.Hour {
			return t, invalid("end", "must be after start, within 24 hours")
		}
		if in.Minutes != 0 {
			return t, invalid("minutes", "give start and end, or minutes, not both")
		}
		st, en := in.Start.UTC(), in.End.UTC()
		t.Start, t.End = &st, &en
		t.Minutes = int(en.Sub(st) / time.Minute)
		if t.Date == "" {
			t.Date = st.In(loc).Format(time.DateOnly)
		}
	case in.Start == nil && in.End == nil:
		if in.Minutes < 1 || in.Minutes > 24*60 {
			return t, invalid("minutes", "1 to 1440, or give start and end")
		}
		t.Minutes = in.Minutes
	default:
		return t, invalid("start", "give both start and end")
	}
	if t.Date == "" {
		t.Date = s.now().In(loc).Format(time.DateOnly)
	}
	day, err := time.Parse(time.DateOnly, t.Date)
	if err != nil {
		return t, invalid("date", "%q is not a date YYYY-MM-DD", t.Date)
	}
	if t.Start != nil {
		// Overlap with the same user's entries (rpm.md §2.5), within a day either side.
		others, err := s.timeEntries(ctx, tenant, "", day.AddDate(0, 0, -1), day.AddDate(0, 0, 2))
		if err != nil {
			return t, err
		}
		es := []evidence.TimeEntry{t.evidence()}
		for _, o := range others {
			es = append(es, o.evidence())
		}
		if err := evidence.CheckOverlap(es); err != nil {
			return t, fmt.Errorf("time entry overlaps another of %s: %w", staff, store.ErrConflict)
		}
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return t, err
	}
	if _, err := s.st.PutRecord(ctx, store.ClinicalRecord{Kind: store.RecReviewTime, ID: t.ID, Tenant: tenant, Owner: enrolment, At: day, JSON: raw}); err != nil {
		return t, err
	}
	return t, nil
}

// timeEntries returns entries with date in [from, to) of one enrolment ("" all).
func (s *Service) timeEntries(ctx context.Context, tenant, enrolment string, from, to time.Time) ([]TimeEntry, error) {
	rs, err := s.st.Records(ctx, store.RecordQuery{Tenant: tenant, Kind: store.RecReviewTime, Owner: enrolment, From: from, To: to})
	if err != nil {
		return nil, err
	}
	out := []TimeEntry{}
	for _, r := range rs {
		var t TimeEntry
		if err := json.Unmarshal(r.JSON, &t); err != nil {
			return nil, fmt.Errorf("time entry %s: %w", r.ID, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// MonthView is the treatment-management evidence of a calendar month.
type MonthView struct {
	Month            string        `json:"month"`
	RuleSet          string        `json:"rule_set"`
	Minutes          int           `json:"minutes"`
	Interactive      bool          `json:"interactive"`
	InteractiveDates []string      `json:"interactive_dates"`
	Codes            []report.Code `json:"codes"`
	Flags            []string      `json:"flags"`
}

// ParseMonth parses YYYY-MM.
func ParseMonth(s string) (int, time.Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return 0, 0, invalid("month", "%q is not a month YYYY-MM", s)
	}
	return t.Year(), t.Month(), nil
}

// Month returns an enrolment's time entries and evidence for a calendar month.
func (s *Service) Month(ctx context.Context, tenant, enrolment string, year int, month time.Month) ([]TimeEntry, MonthView, error) {
	if _, err := s.st.Enrolment(ctx, tenant, enrolment); err != nil {
		return nil, MonthView{}, err
	}
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
	es, err := s.timeEntries(ctx, tenant, enrolment, first, first.AddDate(0, 1, 0))
	if err != nil {
		return nil, MonthView{}, err
	}
	ev := make([]evidence.TimeEntry, len(es))
	for i, e := range es {
		ev[i] = e.evidence()
	}
	m := evidence.EvaluateMonth(ev, year, month)
	v := MonthView{Month: first.Format("2006-01"), RuleSet: string(m.RuleSet), Minutes: m.T, Interactive: m.I,
		InteractiveDates: dates(m.Interactive), Codes: []report.Code{}, Flags: m.Flags}
	for _, c := range m.Codes {
		v.Codes = append(v.Codes, report.Code{Code: c.Code, Units: c.Units})
	}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	return es, v, nil
}

// EnrolmentView is an enrolment with its evidence.
type EnrolmentView struct {
	Enrolment store.Enrolment `json:"enrolment"`
	Periods   []PeriodView    `json:"periods"`
	Month     MonthView       `json:"month"`
}

// EnrolmentEvidence returns an enrolment with every period's evidence and this month's time.
func (s *Service) EnrolmentEvidence(ctx context.Context, tenant, id string, now time.Time) (EnrolmentView, error) {
	e, err := s.st.Enrolment(ctx, tenant, id)
	if err != nil {
		return EnrolmentView{}, err
	}
	days, _, err := s.QualifyingDays(ctx, e, now)
	if err != nil {
		return EnrolmentView{}, err
	}
	loc := zoneOf(e.TimeZone)
	v := EnrolmentView{Enrolment: e, Periods: Periods(days, evidence.DateOf(now, loc), e.SetupRecord)}
	if v.Periods == nil {
		v.Periods = []PeriodView{}
	}
	local := now.In(loc)
	_, v.Month, err = s.Month(ctx, tenant, id, local.Year(), local.Month())
	return v, err
}

// RosterRow is one enrolment of the RPM roster.
type RosterRow struct {
	Enrolment    string        `json:"enrolment"`
	Patient      RosterPatient `json:"patient"`
	Period       *RosterPeriod `json:"period"`
	Days         int           `json:"days"`
	AdherencePct float64       `json:"adherence_pct"`
	Status       string        `json:"status"`
	Projection   string        `json:"projection"`
	DeviceCode   string        `json:"device_code"`
	LastReading  *time.Time    `json:"last_reading"`
	LongestGap   int           `json:"longest_gap"`
	Minutes      int           `json:"review_minutes_this_month"`
	Interactive  bool          `json:"interactive_this_month"`
	OpenFlags    int           `json:"open_flags"`
	Flags        []string      `json:"flags"`
}

// RosterPatient names the patient of a roster row.
type RosterPatient struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	MRN  string `json:"mrn"`
}

// RosterPeriod is the current period of a roster row.
type RosterPeriod struct {
	N     int    `json:"n"`
	Start string `json:"start"`
	End   string `json:"end"`
	Day   int    `json:"day"`
}

// Roster is the RPM roster of a programme.
type Roster struct {
	Programme store.Programme `json:"programme"`
	AsOf      string          `json:"as_of"`
	Rows      []RosterRow     `json:"rows"`
}

// Roster returns one row per open enrolment of a programme at now.
func (s *Service) Roster(ctx context.Context, tenant, programme string, now time.Time) (Roster, error) {
	prog, err := s.st.Programme(ctx, tenant, programme)
	if err != nil {
		return Roster{}, err
	}
	es, err := s.st.Enrolments(ctx, tenant, programme, "")
	if err != nil {
		return Roster{}, err
	}
	r := Roster{Programme: prog, AsOf: evidence.DateOf(now, zoneOf(prog.TimeZone)).String(), Rows: []RosterRow{}}
	for _, e := range es {
		if !e.EndedAt.IsZero() {
			continue
		}
		p, err := s.st.Patient(ctx, tenant, e.Patient)
		if err != nil {
			return r, err
		}
		row := RosterRow{Enrolment: e.ID, Patient: RosterPatient{ID: p.ID, Name: p.Name, MRN: p.MRN}, Status: string(evidence.Below2), Flags: []string{}}
		days, last, err := s.QualifyingDays(ctx, e, now)
		if err != nil {
			return r, err
		}
		if !last.IsZero() {
			if lr, err := s.lastReading(ctx, e, last, now); err != nil {
				return r, err
			} else if !lr.IsZero() {
				row.LastReading = &lr
			}
		}
		loc := zoneOf(e.TimeZone)
		today := evidence.DateOf(now, loc)
		if ps := Periods(days, today, e.SetupRecord); len(ps) > 0 {
			cur := ps[len(ps)-1]
			start, _ := time.Parse(time.DateOnly, cur.Start)
			day := int(today-evidence.MakeDate(start.Year(), start.Month(), start.Day())) + 1
			if day <= 30 {
				row.Period = &RosterPeriod{N: cur.N, Start: cur.Start, End: cur.End, Day: day}
				row.Days, row.AdherencePct, row.Status, row.Projection = cur.D, cur.AdherencePct, cur.Status, cur.Projection
				row.DeviceCode, row.LongestGap = cur.DeviceCode, cur.LongestGap
			}
		}
		local := now.In(loc)
		if _, m, err := s.Month(ctx, tenant, e.ID, local.Year(), local.Month()); err != nil {
			return r, err
		} else {
			row.Minutes, row.Interactive = m.Minutes, m.Interactive
		}
		flags, err := s.Flags(ctx, tenant, e.Patient, now.AddDate(0, 0, -7), time.Time{})
		if err != nil {
			return r, err
		}
		for _, f := range flags {
			if !slices.Contains(row.Flags, f.Code) {
				row.Flags = append(row.Flags, f.Code)
			}
			if f.State == "ALERT" || f.State == "ALERT_OPEN" {
				row.OpenFlags++
			}
		}
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

// lastReading finds the newest kit reading at or after slot (the newest slot with one).
func (s *Service) lastReading(ctx context.Context, e store.Enrolment, slot, now time.Time) (time.Time, error) {
	ws, err := s.kitWindows(ctx, e, now)
	if err != nil {
		return time.Time{}, err
	}
	var last time.Time
	for _, w := range ws {
		for _, m := range physiological {
			ps, err := s.st.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: e.Tenant, Device: w.Device, Metric: m, From: max64(slot, w.From), To: w.To, Desc: true, Limit: 1})
			if err != nil {
				return last, err
			}
			if len(ps) == 1 && ps[0].Measured.After(last) {
				last = ps[0].Measured
			}
		}
	}
	return last, nil
}

func max64(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Report assembles the monthly report of an enrolment (rpm.md §4, the parts Vigil has data
// for), sealed with the SHA-256 of its JSON.
func (s *Service) Report(ctx context.Context, tenant, id string, year int, month time.Month, now time.Time, software string) (*report.Data, error) {
	e, err := s.st.Enrolment(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	p, err := s.st.Patient(ctx, tenant, e.Patient)
	if err != nil {
		return nil, err
	}
	prog, err := s.st.Programme(ctx, tenant, e.Programme)
	if err != nil {
		return nil, err
	}
	loc := zoneOf(e.TimeZone)
	first, firstDay := time.Date(year, month, 1, 0, 0, 0, 0, loc), evidence.MakeDate(year, month, 1)
	next := first.AddDate(0, 1, 0)
	lastDay := evidence.MakeDate(year, month+1, 0)
	d := &report.Data{Month: fmt.Sprintf("%04d-%02d", year, int(month)), Patient: report.Patient{ID: p.ID, Name: p.Name, MRN: p.MRN, BirthDate: p.BirthDate},
		Programme: prog.Name, Condition: prog.Condition, Enrolment: e.ID, EnrolledAt: e.EnrolledAt, TimeZone: e.TimeZone,
		RuleSet: string(evidence.RuleSetOn(firstDay)), SetupRecord: e.SetupRecord, GeneratedAt: now.UTC(), Software: software,
		Devices: []report.Device{}, Periods: []report.Period{}, Metrics: []report.Metric{}, Flags: []report.Flag{}}
	until := next
	if now.Before(until) {
		until = now
	}
	days, _, err := s.QualifyingDays(ctx, e, until)
	if err != nil {
		return nil, err
	}
	asOf := min(evidence.DateOf(until.Add(-time.Nanosecond), loc), lastDay)
	for _, pv := range Periods(days, max(asOf, firstDay), e.SetupRecord) {
		ps, _ := time.Parse(time.DateOnly, pv.Start)
		pe, _ := time.Parse(time.DateOnly, pv.End)
		if evidence.MakeDate(pe.Year(), pe.Month(), pe.Day()) < firstDay || evidence.MakeDate(ps.Year(), ps.Month(), ps.Day()) > lastDay {
			continue
		}
		d.Periods = append(d.Periods, report.Period{N: pv.N, Start: pv.Start, End: pv.End, RuleSet: pv.RuleSet, Days: pv.Days, D: pv.D,
			Status: pv.Status, Met16: pv.D >= 16, DeviceCode: pv.DeviceCode, SetupEligible: pv.SetupEligible, Flags: pv.Flags})
	}
	// Devices and readings of the month.
	ws, err := s.kitWindows(ctx, e, until)
	if err != nil {
		return nil, err
	}
	type acc struct {
		unit  string
		vals  []float64
		days  map[evidence.Date]bool
		count int
	}
	metrics := map[string]*acc{}
	for _, dev := range e.Devices {
		dd := report.Device{ID: dev}
		if sd, err := s.st.Device(ctx, tenant, dev); err == nil {
			dd.Model, dd.Kind = sd.Model, sd.Kind
		}
		for _, w := range ws {
			if w.Device != dev {
				continue
			}
			lo, hi := max64(w.From, first), w.To
			if hi.After(next) {
				hi = next
			}
			if !lo.Before(hi) {
				continue
			}
			for _, m := range physiological {
				pts, err := s.st.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: tenant, Device: dev, Metric: m, From: lo, To: hi, Limit: 1_000_000})
				if err != nil {
					return nil, err
				}
				for _, pt := range pts {
					if pt.Kind != reading.Number || pt.Flags&skipFlags != 0 {
						continue
					}
					dd.Readings++
					t := pt.Measured
					if dd.First == nil || t.Before(*dd.First) {
						dd.First = &t
					}
					if dd.Last == nil || t.After(*dd.Last) {
						dd.Last = &t
					}
					a := metrics[m]
					if a == nil {
						a = &acc{unit: pt.Unit, days: map[evidence.Date]bool{}}
						metrics[m] = a
					}
					a.vals = append(a.vals, pt.Value)
					a.days[evidence.DateOf(t, loc)] = true
					a.count++
				}
			}
		}
		d.Devices = append(d.Devices, dd)
	}
	for _, m := range physiological {
		a := metrics[m]
		if a == nil {
			continue
		}
		mm := report.Metric{Metric: m, Unit: a.unit, Count: a.count, Days: len(a.days), Min: slices.Min(a.vals), Max: slices.Max(a.vals)}
		sum := 0.0
		for _, v := range a.vals {
			sum += v
		}
		mm.Mean = sum / float64(len(a.vals))
		ss := 0.0
		for _, v := range a.vals {
			ss += (v - mm.Mean) * (v - mm.Mean)
		}
		if len(a.vals) > 1 {
			mm.SD = math.Sqrt(ss / float64(len(a.vals)-1))
		}
		mm.Median = quantile.Median(a.vals)
		d.Metrics = append(d.Metrics, mm)
	}
	// Time.
	es, mv, err := s.Month(ctx, tenant, id, year, month)
	if err != nil {
		return nil, err
	}
	d.Time = report.Time{Minutes: mv.Minutes, Interactive: mv.Interactive, InteractiveDates: mv.InteractiveDates, Flags: mv.Flags, Entries: []report.TimeEntry{}, Codes: []report.Code{}}
	d.Time.Codes = append(d.Time.Codes, mv.Codes...)
	for _, t := range es {
		te := report.TimeEntry{Date: t.Date, Minutes: t.Minutes, Staff: t.Staff, Credential: t.Credential, Activity: t.Activity,
			Interactive: t.Interactive, Modality: t.Modality}
		if t.Start != nil {
			te.Start, te.End = t.Start.In(loc).Format("15:04"), t.End.In(loc).Format("15:04")
		}
		d.Time.Entries = append(d.Time.Entries, te)
	}
	// Baseline flags and NEWS2.
	flags, err := s.Flags(ctx, tenant, e.Patient, firstDay.Time(), lastDay.Time().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	for i := len(flags) - 1; i >= 0; i-- {
		f := flags[i]
		d.Flags = append(d.Flags, report.Flag{Day: f.Day, Code: f.Code, State: f.State, Explanation: f.Explanation})
	}
	sets, err := s.Sets(ctx, tenant, e.Patient, first, next, 100_000, true)
	if err != nil {
		return nil, err
	}
	d.NEWS2.Bands = map[string]int{}
	for _, st := range sets {
		if st.Total == nil {
			continue
		}
		d.NEWS2.CompleteSets++
		if d.NEWS2.MaxScore == nil || *st.Total > *d.NEWS2.MaxScore {
			v := *st.Total
			d.NEWS2.MaxScore = &v
		}
		d.NEWS2.Bands[parseBand(st.BandMin).String()]++
	}
	if _, err := report.Seal(d); err != nil {
		return nil, err
	}
	return d, nil
}
