package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/rpm/report"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Clinical is the patient-monitoring service of docs/clinical.md: *clinical.Service implements it.
type Clinical interface {
	CreateWard(ctx context.Context, tenant, id, name string, beds []string) (clinical.WardView, error)
	CreateBed(ctx context.Context, tenant, ward, id, label string) (store.Bed, error)
	Wards(ctx context.Context, tenant string) ([]clinical.WardView, error)
	Station(ctx context.Context, tenant, ward string, now time.Time) (clinical.Station, error)

	CreatePatient(ctx context.Context, tenant string, in clinical.PatientInput) (store.Patient, error)
	UpdatePatient(ctx context.Context, tenant, id string, in clinical.PatientInput) (old, p store.Patient, err error)
	Patients(ctx context.Context, tenant, ward, q string, admitted bool) ([]clinical.PatientRow, error)
	Page(ctx context.Context, tenant, patient string, now time.Time) (clinical.PatientPage, error)
	Admit(ctx context.Context, tenant, patient, ward, bed string, at *time.Time) (store.Encounter, error)
	Transfer(ctx context.Context, tenant, patient, ward, bed string, at *time.Time) (store.Encounter, error)
	Discharge(ctx context.Context, tenant, patient string, at *time.Time) (store.Encounter, []store.DeviceAssignment, error)
	Encounters(ctx context.Context, tenant, patient string) ([]store.Encounter, error)

	Assign(ctx context.Context, tenant, actor string, in clinical.AssignInput) (store.DeviceAssignment, []store.DeviceAssignment, error)
	EndAssignment(ctx context.Context, tenant, id string, at *time.Time) (store.DeviceAssignment, error)
	Assignments(ctx context.Context, q store.AssignmentQuery) ([]store.DeviceAssignment, error)
	UnassignedDevices(ctx context.Context, tenant string) ([]clinical.DeviceRef, error)

	Sets(ctx context.Context, tenant, patient string, from, to time.Time, limit int, completeOnly bool) ([]clinical.SetDoc, error)
	PatientReadings(ctx context.Context, tenant, patient, metric string, from, to time.Time, limit int) ([]store.Point, error)
	PatientBuckets(ctx context.Context, tenant, patient, metric string, from, to time.Time, step time.Duration) ([]clinical.Bucket, error)
	Observations(ctx context.Context, tenant, patient string, from, to time.Time) ([]clinical.Observation, error)
	RecordObservation(ctx context.Context, tenant, patient, actor string, in clinical.ObservationInput) (clinical.Observation, *clinical.SetDoc, error)
	Flags(ctx context.Context, tenant, patient string, from, to time.Time) ([]clinical.Flag, error)
	Timeline(ctx context.Context, tenant, patient string, from, to time.Time) ([]clinical.Event, error)

	CreateProgramme(ctx context.Context, tenant string, in clinical.ProgrammeInput) (store.Programme, error)
	Programmes(ctx context.Context, tenant string) ([]store.Programme, error)
	Enrol(ctx context.Context, tenant, programme, actor string, in clinical.EnrolInput) (store.Enrolment, []store.DeviceAssignment, error)
	Enrolments(ctx context.Context, tenant, programme string) ([]store.Enrolment, error)
	Enrolment(ctx context.Context, tenant, id string) (store.Enrolment, error)
	EndEnrolment(ctx context.Context, tenant, id string, at *time.Time) (store.Enrolment, []store.DeviceAssignment, error)
	Roster(ctx context.Context, tenant, programme string, now time.Time) (clinical.Roster, error)
	EnrolmentEvidence(ctx context.Context, tenant, id string, now time.Time) (clinical.EnrolmentView, error)
	AddTime(ctx context.Context, tenant, enrolment, staff string, in clinical.TimeEntryInput) (clinical.TimeEntry, error)
	Month(ctx context.Context, tenant, enrolment string, year int, month time.Month) ([]clinical.TimeEntry, clinical.MonthView, error)
	Report(ctx context.Context, tenant, id string, year int, month time.Month, now time.Time, software string) (*report.Data, error)
}

const tp = "/api/v1/tenants/{tenant}"

// clinicalRoutes are the routes of docs/clinical.md.
func (a *API) clinicalRoutes() []Route {
	read, manage, obs := auth.PermPatientsRead, auth.PermPatientsManage, auth.PermObservations
	r := func(pattern string, perm auth.Permission, h func(http.ResponseWriter, *http.Request, auth.Principal) error, summary string) Route {
		method, path, _ := strings.Cut(pattern, " ")
		return Route{Pattern: method + " " + tp + path, Access: Tenant, Perm: perm, handler: h, Summary: summary}
	}
	return []Route{
		r("GET /wards", read, a.listWards, "Wards with their beds (docs/clinical.md §2)."),
		r("POST /wards", manage, a.createWard, "Create a ward {id?, name, beds?: [labels]}."),
		r("POST /wards/{ward}/beds", manage, a.createBed, "Add a bed {id?, label} to a ward."),
		r("GET /wards/{ward}/station", read, a.station, "Central station: per bed the patient, latest vitals with stale markers, latest NEWS2, next due, open alarms."),
		r("GET /patients", read, a.listPatients, "Patients (?ward=, ?q=, ?admitted=true) with their open encounter."),
		r("POST /patients", manage, a.createPatient, "Create a patient {id?, mrn, name, birth_date, sex, spo2_scale?, time_zone?}."),
		r("GET /patients/{patient}", read, a.patientPage, "Patient page header: patient, encounter, assignments, vitals, NEWS2, next due, flags (audited)."),
		r("PATCH /patients/{patient}", manage, a.patchPatient, "Change a patient; changing spo2_scale needs the prescriber permission, Scale 2 also spo2_scale_reason_code HCRF_CONFIRMED_ABG and a reason; re-scores the current NEWS2 set (audited)."),
		r("POST /patients/{patient}/admit", manage, a.admit, "Admit {ward, bed, at?}."),
		r("POST /patients/{patient}/transfer", manage, a.transfer, "Transfer {ward, bed, at?}."),
		r("POST /patients/{patient}/discharge", manage, a.discharge, "Discharge {at?}; ends open bedside assignments."),
		r("GET /patients/{patient}/encounters", read, a.encounters, "A patient's encounters with bed stays, newest first."),
		r("GET /patients/{patient}/assignments", read, a.patientAssignments, "A patient's device assignments, newest first."),
		r("GET /patients/{patient}/news2", read, a.news2History, "NEWS2 observation sets ?from=&to=&limit=&complete=true, oldest first."),
		r("GET /patients/{patient}/readings", read, a.patientReadings, "Attributed readings of one metric ?metric=&from=&to=[&step=]."),
		r("GET /patients/{patient}/observations", read, a.listObservations, "Manual observations ?from=&to=, newest first."),
		r("POST /patients/{patient}/observations", obs, a.createObservation, "Enter a manual observation (ACVPU with new confusion, air/oxygen, vitals); returns it and its NEWS2 set."),
		r("GET /patients/{patient}/flags", read, a.patientFlags, "Personal-baseline flags ?from=&to= (dates), newest first."),
		r("GET /patients/{patient}/timeline", read, a.timeline, "Timeline of encounters, assignments, observations, NEWS2 band changes and flags."),
		r("POST /assignments", manage, a.assign, "Assign a device {device, patient, from?, to?, kind?}; ends an earlier open assignment of the device; past from attributes stored readings (audited)."),
		r("POST /assignments/{assignment}/end", manage, a.endAssignment, "End an assignment {at?}."),
		r("GET /assignments", read, a.listAssignments, "Device assignments ?device=&patient=&open=true."),
		r("GET /unassigned-devices", read, a.unassigned, "Devices (not environment loggers) without an open assignment."),
		r("GET /rpm/programmes", read, a.listProgrammes, "RPM programmes."),
		r("POST /rpm/programmes", manage, a.createProgramme, "Create an RPM programme {id?, name, condition?, time_zone?}."),
		r("GET /rpm/programmes/{programme}/enrolments", read, a.listEnrolments, "A programme's enrolments."),
		r("POST /rpm/programmes/{programme}/enrolments", manage, a.enrol, "Enrol {patient, time_zone?, enrolled_at?, setup_record?, devices: [kit]}; assigns the kit."),
		r("GET /rpm/programmes/{programme}/roster", read, a.roster, "RPM roster: per open enrolment the current period, reading days, adherence, projection, last reading, review time, flags."),
		r("GET /rpm/enrolments/{enrolment}", read, a.enrolmentEvidence, "An enrolment with every 30-day period's evidence and this month's time."),
		r("POST /rpm/enrolments/{enrolment}/end", manage, a.endEnrolment, "End an enrolment {at?} and its kit assignments."),
		r("POST /rpm/enrolments/{enrolment}/time", obs, a.addTime, "Record clinician review time {date?, start, end | minutes, activity, interactive, modality, credential, note?}."),
		r("GET /rpm/enrolments/{enrolment}/time", read, a.listTime, "Review time entries and the month's evidence ?month=YYYY-MM."),
		r("GET /rpm/enrolments/{enrolment}/report", read, a.rpmReport, "Monthly RPM report ?month=YYYY-MM&format=json|pdf|csv."),
	}
}

func (a *API) clinicalSvc() (Clinical, error) {
	if a.cfg.Clinical == nil {
		return nil, errorf(http.StatusServiceUnavailable, "patient monitoring is not available on this server")
	}
	return a.cfg.Clinical, nil
}

// clinicalErr maps the clinical service's input errors to 400 with the field, and a scale
// change without the prescriber permission to 403.
func clinicalErr(err error) error {
	if errors.Is(err, clinical.ErrNotPrescriber) {
		e := errorf(http.StatusForbidden, "changing spo2_scale needs the prescriber permission (news2.md §4.3)")
		e.Detail = map[string]any{"field": "spo2_scale"}
		return e
	}
	var ie *clinical.InputError
	if errors.As(err, &ie) {
		e := invalid(ie.Error())
		e.Detail = map[string]any{}
		if ie.Field != "" {
			e.Detail["field"] = ie.Field
		}
		if ie.NeedsConfirmation {
			e.Detail["needs_confirmation"] = true
		}
		return e
	}
	return err
}

// withClinical runs fn with the service, mapping its errors.
func (a *API) withClinical(fn func(svc Clinical) error) error {
	svc, err := a.clinicalSvc()
	if err != nil {
		return err
	}
	return clinicalErr(fn(svc))
}

// readPatient audits a read of a patient's record (PATIENT_READ, no names).
func (a *API) readPatient(r *http.Request, p auth.Principal, patient string) error {
	return a.record(r.Context(), p, r.PathValue("tenant"), "PATIENT_READ", "patient:"+patient, nil, nil)
}

// timeRange parses ?from=&to= (RFC 3339); missing to is now, missing from is to − def.
func (a *API) timeRange(r *http.Request, def time.Duration) (from, to time.Time, err error) {
	q := r.URL.Query()
	to = a.now().UTC()
	if s := q.Get("to"); s != "" {
		if to, err = parseTime(s); err != nil {
			return from, to, invalid(fmt.Sprintf("to: %q is not an RFC 3339 time or a date", s))
		}
	}
	from = to.Add(-def)
	if s := q.Get("from"); s != "" {
		if from, err = parseTime(s); err != nil {
			return from, to, invalid(fmt.Sprintf("from: %q is not an RFC 3339 time or a date", s))
		}
	}
	if !from.Before(to) {
		return from, to, invalid("from must be before to")
	}
	return from, to, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// atBody is a request body with an optional time.
type atBody struct {
	At *time.Time `json:"at"`
}

// decodeOptional decodes a JSON body like decode, but an empty body leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return errorf(http.StatusRequestEntityTooLarge, "request body too large")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decode(w, r, v)
}

func (a *API) listWards(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		ws, err := svc.Wards(r.Context(), r.PathValue("tenant"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"wards": ws})
		return nil
	})
}

func (a *API) createWard(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct {
		ID   string   `json:"id"`
		Name string   `json:"name"`
		Beds []string `json:"beds"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		v, err := svc.CreateWard(r.Context(), tenant, in.ID, in.Name, in.Beds)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "ward.create", "ward:"+v.ID, nil, v); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, v)
		return nil
	})
}

func (a *API) createBed(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in struct{ ID, Label string }
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		b, err := svc.CreateBed(r.Context(), tenant, r.PathValue("ward"), in.ID, in.Label)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "bed.create", "bed:"+b.ID, nil, b); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, b)
		return nil
	})
}

func (a *API) station(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		st, err := svc.Station(r.Context(), tenant, r.PathValue("ward"), a.now())
		if err != nil {
			return err
		}
		open := map[string]*clinical.AlarmSummary{}
		if a.cfg.Alarms != nil {
			views, err := a.cfg.Alarms.Active(r.Context(), tenant, "", 0, maxAlarmList)
			if err != nil {
				return err
			}
			for _, v := range views {
				s := open[v.Subject]
				if s == nil {
					s = &clinical.AlarmSummary{}
					open[v.Subject] = s
				}
				s.Open++
				if s.Highest == nil || priorityRank(v.Priority) > priorityRank(*s.Highest) {
					pr := strings.ToLower(v.Priority)
					s.Highest = &pr
				}
			}
		}
		for i := range st.Beds {
			b := &st.Beds[i]
			if b.Patient == nil {
				continue
			}
			if s := open[b.Patient.ID]; s != nil {
				b.Alarms = *s
			}
			if err := a.readPatient(r, p, b.Patient.ID); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, st)
		return nil
	})
}

func priorityRank(p string) int {
	var pr alarm.Priority
	if err := pr.UnmarshalText([]byte(strings.ToUpper(p))); err != nil {
		return 0
	}
	return int(pr)
}

func (a *API) listPatients(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		ps, err := svc.Patients(r.Context(), tenant, q.Get("ward"), q.Get("q"), q.Get("admitted") == "true")
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "patient.list", "patients", nil, nil); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"patients": ps})
		return nil
	})
}

func (a *API) createPatient(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.PatientInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		in.Prescriber = auth.Allowed(p, tenant, auth.PermPrescriber)
		pt, err := svc.CreatePatient(r.Context(), tenant, in)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "patient.create", "patient:"+pt.ID, nil, pt); err != nil {
			return err
		}
		if pt.SpO2Scale != 1 {
			if err := a.recordScale(r, p, tenant, pt.ID, 1, pt.SpO2Scale, in); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusCreated, pt)
		return nil
	})
}

func (a *API) patientPage(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		id := r.PathValue("patient")
		pg, err := svc.Page(r.Context(), r.PathValue("tenant"), id, a.now())
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, pg)
		return nil
	})
}

func (a *API) patchPatient(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.PatientInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.ID != "" {
		return invalid("id cannot be changed")
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		in.Prescriber = auth.Allowed(p, tenant, auth.PermPrescriber)
		old, pt, err := svc.UpdatePatient(r.Context(), tenant, id, in)
		if err != nil {
			return err
		}
		rec := store.AuditRecord{Tenant: tenant, Actor: "user:" + p.UserID, Action: "patient.update", Target: "patient:" + id,
			Reason: strings.TrimSpace(in.SpO2ScaleReasonCode + " " + in.SpO2ScaleReason), Old: jsonString(old), New: jsonString(pt)}
		if err := a.cfg.Audit.Record(r.Context(), rec); err != nil {
			return fmt.Errorf("audit patient.update: %w", err)
		}
		if old.SpO2Scale != pt.SpO2Scale {
			if err := a.recordScale(r, p, tenant, id, old.SpO2Scale, pt.SpO2Scale, in); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, pt)
		return nil
	})
}

// recordScale audits a change of a patient's SpO2 scale (news2.md §4.3) as its own entry,
// action patient.spo2_scale: who (actor), when (the entry's time), old → new, reason code and text.
func (a *API) recordScale(r *http.Request, p auth.Principal, tenant, patient string, from, to int, in clinical.PatientInput) error {
	rec := store.AuditRecord{Tenant: tenant, Actor: "user:" + p.UserID, Action: "patient.spo2_scale", Target: "patient:" + patient,
		Reason: strings.TrimSpace(in.SpO2ScaleReasonCode + " " + in.SpO2ScaleReason),
		Old:    jsonString(map[string]any{"spo2_scale": from}),
		New: jsonString(map[string]any{"spo2_scale": to, "reason_code": in.SpO2ScaleReasonCode,
			"reason": strings.TrimSpace(in.SpO2ScaleReason)})}
	if err := a.cfg.Audit.Record(r.Context(), rec); err != nil {
		return fmt.Errorf("audit patient.spo2_scale: %w", err)
	}
	return nil
}

type placeBody struct {
	Ward string     `json:"ward"`
	Bed  string     `json:"bed"`
	At   *time.Time `json:"at"`
}

func (a *API) admit(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in placeBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		e, err := svc.Admit(r.Context(), tenant, id, in.Ward, in.Bed, in.At)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "patient.admit", "patient:"+id, nil, e); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, e)
		return nil
	})
}

func (a *API) transfer(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in placeBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		e, err := svc.Transfer(r.Context(), tenant, id, in.Ward, in.Bed, in.At)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "patient.transfer", "patient:"+id, nil, e); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	})
}

func (a *API) discharge(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in atBody
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		e, ended, err := svc.Discharge(r.Context(), tenant, id, in.At)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "patient.discharge", "patient:"+id, nil, e); err != nil {
			return err
		}
		for _, x := range ended {
			if err := a.record(r.Context(), p, tenant, "device.unassign", "assignment:"+x.ID, nil, x); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	})
}

func (a *API) encounters(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		id := r.PathValue("patient")
		es, err := svc.Encounters(r.Context(), r.PathValue("tenant"), id)
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"encounters": es})
		return nil
	})
}

func (a *API) patientAssignments(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		if _, err := svc.Encounters(r.Context(), tenant, id); err != nil { // 404 for an unknown patient
			return err
		}
		as, err := svc.Assignments(r.Context(), store.AssignmentQuery{Tenant: tenant, Patient: id})
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"assignments": as})
		return nil
	})
}

func (a *API) assign(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.AssignInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		asg, ended, err := svc.Assign(r.Context(), tenant, "user:"+p.UserID, in)
		if err != nil {
			return err
		}
		for _, x := range ended {
			if err := a.record(r.Context(), p, tenant, "device.unassign", "assignment:"+x.ID, nil, x); err != nil {
				return err
			}
		}
		retro := asg.From.Before(a.now().Add(-time.Minute))
		if err := a.record(r.Context(), p, tenant, "device.assign", "assignment:"+asg.ID, nil,
			map[string]any{"assignment": asg, "retroactive": retro}); err != nil {
			return err
		}
		if ended == nil {
			ended = []store.DeviceAssignment{}
		}
		writeJSON(w, http.StatusCreated, map[string]any{"assignment": asg, "ended": ended})
		return nil
	})
}

func (a *API) endAssignment(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in atBody
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		x, err := svc.EndAssignment(r.Context(), tenant, r.PathValue("assignment"), in.At)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "device.unassign", "assignment:"+x.ID, nil, x); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, x)
		return nil
	})
}

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	return a.withClinical(func(svc Clinical) error {
		as, err := svc.Assignments(r.Context(), store.AssignmentQuery{Tenant: r.PathValue("tenant"), Device: q.Get("device"),
			Patient: q.Get("patient"), OpenOnly: q.Get("open") == "true"})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"assignments": as})
		return nil
	})
}

func (a *API) unassigned(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		ds, err := svc.UnassignedDevices(r.Context(), r.PathValue("tenant"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"devices": ds})
		return nil
	})
}

func (a *API) news2History(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	from, to, err := a.timeRange(r, 24*time.Hour)
	if err != nil {
		return err
	}
	limit := 2000
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 10_000 {
			return invalid("limit: an integer from 1 to 10000")
		}
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		if _, err := svc.Encounters(r.Context(), tenant, id); err != nil {
			return err
		}
		sets, err := svc.Sets(r.Context(), tenant, id, from, to, limit, r.URL.Query().Get("complete") == "true")
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"sets": sets})
		return nil
	})
}

func (a *API) patientReadings(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric == "" {
		return invalid("metric is required, e.g. ?metric=hr")
	}
	from, to, err := a.timeRange(r, time.Hour)
	if err != nil {
		return err
	}
	limit := 10_000
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100_000 {
			return invalid("limit: an integer from 1 to 100000")
		}
	}
	unit := ""
	if m, ok := reading.LookupMetric(metric); ok {
		unit = m.Unit
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		if _, err := svc.Encounters(r.Context(), tenant, id); err != nil {
			return err
		}
		out := map[string]any{"patient": id, "metric": metric, "unit": unit, "from": from, "to": to}
		if s := q.Get("step"); s != "" {
			step, err := time.ParseDuration(s)
			if err != nil || step < time.Second {
				return invalid("step: a duration of at least 1s, e.g. 1m")
			}
			if to.Sub(from)/step > maxBuckets {
				return invalid("step too small for the range")
			}
			bs, err := svc.PatientBuckets(r.Context(), tenant, id, metric, from, to, step)
			if err != nil {
				return err
			}
			out["step"], out["buckets"] = s, bs
		} else {
			ps, err := svc.PatientReadings(r.Context(), tenant, id, metric, from, to, limit)
			if err != nil {
				return err
			}
			pts := make([]pointJSON, 0, len(ps))
			for _, pt := range ps {
				j := pointOut(pt, false)
				j.Device = pt.Device
				pts = append(pts, j)
			}
			out["points"] = pts
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func (a *API) listObservations(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	from, to, err := a.timeRange(r, 7*24*time.Hour)
	if err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		if _, err := svc.Encounters(r.Context(), tenant, id); err != nil {
			return err
		}
		os, err := svc.Observations(r.Context(), tenant, id, from, to)
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"observations": os})
		return nil
	})
}

func (a *API) createObservation(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.ObservationInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		o, set, err := svc.RecordObservation(r.Context(), tenant, id, "user:"+p.UserID, in)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "observation.create", "patient:"+id, nil, o); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, map[string]any{"observation": o, "set": set})
		return nil
	})
}

func (a *API) patientFlags(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	from, to, err := a.timeRange(r, 30*24*time.Hour)
	if err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		if _, err := svc.Encounters(r.Context(), tenant, id); err != nil {
			return err
		}
		fs, err := svc.Flags(r.Context(), tenant, id, from, to)
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"flags": fs})
		return nil
	})
}

func (a *API) timeline(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	from, to, err := a.timeRange(r, 7*24*time.Hour)
	if err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant, id := r.PathValue("tenant"), r.PathValue("patient")
		ev, err := svc.Timeline(r.Context(), tenant, id, from, to)
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": ev})
		return nil
	})
}

func (a *API) listProgrammes(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		ps, err := svc.Programmes(r.Context(), r.PathValue("tenant"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"programmes": ps})
		return nil
	})
}

func (a *API) createProgramme(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.ProgrammeInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		pg, err := svc.CreateProgramme(r.Context(), tenant, in)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "rpm.programme.create", "programme:"+pg.ID, nil, pg); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, pg)
		return nil
	})
}

func (a *API) listEnrolments(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		es, err := svc.Enrolments(r.Context(), r.PathValue("tenant"), r.PathValue("programme"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"enrolments": es})
		return nil
	})
}

func (a *API) enrol(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.EnrolInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		e, ended, err := svc.Enrol(r.Context(), tenant, r.PathValue("programme"), "user:"+p.UserID, in)
		if err != nil {
			return err
		}
		for _, x := range ended {
			if err := a.record(r.Context(), p, tenant, "device.unassign", "assignment:"+x.ID, nil, x); err != nil {
				return err
			}
		}
		if err := a.record(r.Context(), p, tenant, "rpm.enrol", "enrolment:"+e.ID, nil, e); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, e)
		return nil
	})
}

func (a *API) endEnrolment(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in atBody
	if err := decodeOptional(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		e, ended, err := svc.EndEnrolment(r.Context(), tenant, r.PathValue("enrolment"), in.At)
		if err != nil {
			return err
		}
		for _, x := range ended {
			if err := a.record(r.Context(), p, tenant, "device.unassign", "assignment:"+x.ID, nil, x); err != nil {
				return err
			}
		}
		if err := a.record(r.Context(), p, tenant, "rpm.end", "enrolment:"+e.ID, nil, e); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	})
}

func (a *API) roster(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		ro, err := svc.Roster(r.Context(), r.PathValue("tenant"), r.PathValue("programme"), a.now())
		if err != nil {
			return err
		}
		for _, row := range ro.Rows {
			if err := a.readPatient(r, p, row.Patient.ID); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, ro)
		return nil
	})
}

func (a *API) enrolmentEvidence(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return a.withClinical(func(svc Clinical) error {
		v, err := svc.EnrolmentEvidence(r.Context(), r.PathValue("tenant"), r.PathValue("enrolment"), a.now())
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, v.Enrolment.Patient); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	})
}

func (a *API) addTime(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var in clinical.TimeEntryInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		t, err := svc.AddTime(r.Context(), tenant, r.PathValue("enrolment"), "user:"+p.UserID, in)
		if err != nil {
			return err
		}
		if err := a.record(r.Context(), p, tenant, "rpm.time.create", "enrolment:"+t.Enrolment, nil, t); err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, t)
		return nil
	})
}

func (a *API) month(r *http.Request) (int, time.Month, error) {
	s := r.URL.Query().Get("month")
	if s == "" {
		now := a.now().UTC()
		return now.Year(), now.Month(), nil
	}
	y, m, err := clinical.ParseMonth(s)
	return y, m, clinicalErr(err)
}

func (a *API) listTime(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	y, m, err := a.month(r)
	if err != nil {
		return err
	}
	return a.withClinical(func(svc Clinical) error {
		es, mv, err := svc.Month(r.Context(), r.PathValue("tenant"), r.PathValue("enrolment"), y, m)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"entries": es, "month": mv})
		return nil
	})
}

func software() string {
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "Vigil " + v
}

func (a *API) rpmReport(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	y, m, err := a.month(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "", "json", "pdf", "csv":
	default:
		return invalid("format must be json, pdf or csv")
	}
	return a.withClinical(func(svc Clinical) error {
		tenant := r.PathValue("tenant")
		d, err := svc.Report(r.Context(), tenant, r.PathValue("enrolment"), y, m, a.now(), software())
		if err != nil {
			return err
		}
		if err := a.readPatient(r, p, d.Patient.ID); err != nil {
			return err
		}
		name := fmt.Sprintf("rpm-%s-%s", d.Enrolment, d.Month)
		var buf bytes.Buffer
		switch format {
		case "pdf":
			if err := report.PDF(&buf, d); err != nil {
				return fmt.Errorf("render report: %w", err)
			}
			w.Header().Set("Content-Type", "application/pdf")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
		case "csv":
			if err := report.CSV(&buf, d); err != nil {
				return fmt.Errorf("render report: %w", err)
			}
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		default:
			writeJSON(w, http.StatusOK, d)
			return nil
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
		return nil
	})
}
