package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.ClinicalStore = (*Store)(nil)

// querier is what pgxpool.Pool and pgx.Tx share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// db runs the clinical queries, written with '?' placeholders, on a pool or a transaction.
type db struct{ q querier }

func (s *Store) db() db { return db{s.pool} }

// rebind numbers '?' placeholders as $1, $2, … (the queries hold no '?' otherwise).
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d db) ExecContext(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	return d.q.Exec(ctx, rebind(q), args...)
}

func (d db) QueryContext(ctx context.Context, q string, args ...any) (pgx.Rows, error) {
	return d.q.Query(ctx, rebind(q), args...)
}

func (d db) QueryRowContext(ctx context.Context, q string, args ...any) pgx.Row {
	return d.q.QueryRow(ctx, rebind(q), args...)
}

type scanner interface{ Scan(dest ...any) error }

// inTx runs fn in one transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx db) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(db{tx}) })
}

func oneResult(tag pgconn.CommandTag, what string) error { return oneRow(tag, what) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wrapErr classifies constraint errors and adds context.
func wrapErr(what string, err error) error {
	if c := constraint(err); c != nil {
		return fmt.Errorf("postgres: %s: %w", what, c)
	}
	return fmt.Errorf("postgres: %s: %w", what, notFound(err))
}

// CreateWard stores w (store.ClinicalStore).
func (s *Store) CreateWard(ctx context.Context, w store.Ward) error {
	_, err := s.db().ExecContext(ctx, "INSERT INTO wards (tenant, id, name, created) VALUES (?, ?, ?, ?)", w.Tenant, w.ID, w.Name, nanos(w.Created))
	if err != nil {
		return wrapErr("create ward "+w.ID, err)
	}
	return nil
}

// Ward returns one ward (store.ClinicalStore).
func (s *Store) Ward(ctx context.Context, tenant, id string) (store.Ward, error) {
	w := store.Ward{Tenant: tenant}
	var created int64
	err := s.db().QueryRowContext(ctx, "SELECT id, name, created FROM wards WHERE tenant = ? AND id = ?", tenant, id).Scan(&w.ID, &w.Name, &created)
	if err != nil {
		return store.Ward{}, wrapErr("ward "+id, err)
	}
	w.Created = fromNanos(created)
	return w, nil
}

// Wards lists a tenant's wards by id (store.ClinicalStore).
func (s *Store) Wards(ctx context.Context, tenant string) ([]store.Ward, error) {
	return queryList(ctx, s.db(), "wards of "+tenant, "SELECT id, name, created FROM wards WHERE tenant = ? ORDER BY id", []any{tenant},
		func(sc scanner) (store.Ward, error) {
			w := store.Ward{Tenant: tenant}
			var created int64
			err := sc.Scan(&w.ID, &w.Name, &created)
			w.Created = fromNanos(created)
			return w, err
		})
}

// CreateBed stores b (store.ClinicalStore).
func (s *Store) CreateBed(ctx context.Context, b store.Bed) error {
	_, err := s.db().ExecContext(ctx, "INSERT INTO beds (tenant, id, ward, label) VALUES (?, ?, ?, ?)", b.Tenant, b.ID, b.Ward, b.Label)
	if err != nil {
		return wrapErr("create bed "+b.ID, err)
	}
	return nil
}

// Bed returns one bed (store.ClinicalStore).
func (s *Store) Bed(ctx context.Context, tenant, id string) (store.Bed, error) {
	b := store.Bed{Tenant: tenant}
	err := s.db().QueryRowContext(ctx, "SELECT id, ward, label FROM beds WHERE tenant = ? AND id = ?", tenant, id).Scan(&b.ID, &b.Ward, &b.Label)
	if err != nil {
		return store.Bed{}, wrapErr("bed "+id, err)
	}
	return b, nil
}

// Beds lists beds by ward, then id (store.ClinicalStore).
func (s *Store) Beds(ctx context.Context, tenant, ward string) ([]store.Bed, error) {
	q, args := "SELECT id, ward, label FROM beds WHERE tenant = ?", []any{tenant}
	if ward != "" {
		q += " AND ward = ?"
		args = append(args, ward)
	}
	return queryList(ctx, s.db(), "beds of "+tenant, q+" ORDER BY ward, id", args, func(sc scanner) (store.Bed, error) {
		b := store.Bed{Tenant: tenant}
		return b, sc.Scan(&b.ID, &b.Ward, &b.Label)
	})
}

const patientCols = "id, mrn, name, birth_date, sex, spo2_scale, time_zone, created"

func scanPatient(tenant string) func(sc scanner) (store.Patient, error) {
	return func(sc scanner) (store.Patient, error) {
		p := store.Patient{Tenant: tenant}
		var created int64
		err := sc.Scan(&p.ID, &p.MRN, &p.Name, &p.BirthDate, &p.Sex, &p.SpO2Scale, &p.TimeZone, &created)
		p.Created = fromNanos(created)
		return p, err
	}
}

// CreatePatient stores p (store.ClinicalStore).
func (s *Store) CreatePatient(ctx context.Context, p store.Patient) error {
	_, err := s.db().ExecContext(ctx, "INSERT INTO patients (tenant, "+patientCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		p.Tenant, p.ID, p.MRN, p.Name, p.BirthDate, p.Sex, p.SpO2Scale, p.TimeZone, nanos(p.Created))
	if err != nil {
		return wrapErr("create patient "+p.ID, err)
	}
	return nil
}

// Patient returns one patient (store.ClinicalStore).
func (s *Store) Patient(ctx context.Context, tenant, id string) (store.Patient, error) {
	p, err := scanPatient(tenant)(s.db().QueryRowContext(ctx, "SELECT "+patientCols+" FROM patients WHERE tenant = ? AND id = ?", tenant, id))
	if err != nil {
		return store.Patient{}, wrapErr("patient "+id, err)
	}
	return p, nil
}

// Patients lists a tenant's patients by name, then id (store.ClinicalStore).
func (s *Store) Patients(ctx context.Context, tenant string) ([]store.Patient, error) {
	return queryList(ctx, s.db(), "patients of "+tenant, "SELECT "+patientCols+" FROM patients WHERE tenant = ? ORDER BY name, id",
		[]any{tenant}, scanPatient(tenant))
}

// UpdatePatient replaces a patient's fields but Created (store.ClinicalStore).
func (s *Store) UpdatePatient(ctx context.Context, p store.Patient) error {
	res, err := s.db().ExecContext(ctx, `UPDATE patients SET mrn = ?, name = ?, birth_date = ?, sex = ?, spo2_scale = ?, time_zone = ?
		WHERE tenant = ? AND id = ?`, p.MRN, p.Name, p.BirthDate, p.Sex, p.SpO2Scale, p.TimeZone, p.Tenant, p.ID)
	if err != nil {
		return wrapErr("update patient "+p.ID, err)
	}
	return oneResult(res, "postgres: update patient "+p.ID)
}

func count(ctx context.Context, tx db, q string, args ...any) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

func bedBusy(ctx context.Context, tx db, tenant, bed string) error {
	n, err := count(ctx, tx, "SELECT count(*) FROM bed_stays WHERE tenant = ? AND bed = ? AND to_t = 0", tenant, bed)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("bed %s is occupied: %w", bed, store.ErrConflict)
	}
	return nil
}

func insertStay(ctx context.Context, tx db, st store.BedStay) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO bed_stays (tenant, encounter, patient, ward, bed, from_t, to_t) VALUES (?, ?, ?, ?, ?, ?, ?)",
		st.Tenant, st.Encounter, st.Patient, st.Ward, st.Bed, nanos(st.From), nanos(st.To))
	return err
}

// Admit opens an encounter with its first stay (store.ClinicalStore).
func (s *Store) Admit(ctx context.Context, e store.Encounter) error {
	if len(e.Stays) != 1 {
		return fmt.Errorf("postgres: admit %s: want exactly one stay, have %d", e.ID, len(e.Stays))
	}
	err := s.inTx(ctx, func(tx db) error {
		n, err := count(ctx, tx, "SELECT count(*) FROM encounters WHERE tenant = ? AND patient = ? AND discharged = 0", e.Tenant, e.Patient)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("patient has an open encounter: %w", store.ErrConflict)
		}
		if err := bedBusy(ctx, tx, e.Tenant, e.Stays[0].Bed); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO encounters (tenant, id, patient, admitted, discharged) VALUES (?, ?, ?, ?, 0)",
			e.Tenant, e.ID, e.Patient, nanos(e.Admitted)); err != nil {
			return err
		}
		st := e.Stays[0]
		st.Tenant, st.Encounter, st.Patient, st.To = e.Tenant, e.ID, e.Patient, time.Time{}
		return insertStay(ctx, tx, st)
	})
	if err != nil {
		return wrapErr("admit "+e.ID, err)
	}
	return nil
}

// openEncounter returns the patient of an open encounter; store.ErrNotFound if not open.
func openEncounter(ctx context.Context, tx db, tenant, id string) (string, error) {
	var patient string
	err := tx.QueryRowContext(ctx, "SELECT patient FROM encounters WHERE tenant = ? AND id = ? AND discharged = 0", tenant, id).Scan(&patient)
	return patient, notFound(err)
}

// Transfer moves an open encounter to another bed (store.ClinicalStore).
func (s *Store) Transfer(ctx context.Context, tenant, encounter string, next store.BedStay) error {
	err := s.inTx(ctx, func(tx db) error {
		patient, err := openEncounter(ctx, tx, tenant, encounter)
		if err != nil {
			return err
		}
		if err := bedBusy(ctx, tx, tenant, next.Bed); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE bed_stays SET to_t = ? WHERE tenant = ? AND encounter = ? AND to_t = 0",
			nanos(next.From), tenant, encounter); err != nil {
			return err
		}
		next.Tenant, next.Encounter, next.Patient, next.To = tenant, encounter, patient, time.Time{}
		return insertStay(ctx, tx, next)
	})
	if err != nil {
		return wrapErr("transfer "+encounter, err)
	}
	return nil
}

// Discharge closes an open encounter and its stay (store.ClinicalStore).
func (s *Store) Discharge(ctx context.Context, tenant, encounter string, at time.Time) error {
	err := s.inTx(ctx, func(tx db) error {
		if _, err := openEncounter(ctx, tx, tenant, encounter); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE bed_stays SET to_t = ? WHERE tenant = ? AND encounter = ? AND to_t = 0", nanos(at), tenant, encounter); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE encounters SET discharged = ? WHERE tenant = ? AND id = ?", nanos(at), tenant, encounter)
		return err
	})
	if err != nil {
		return wrapErr("discharge "+encounter, err)
	}
	return nil
}

// Encounters lists encounters with their stays, newest first (store.ClinicalStore).
func (s *Store) Encounters(ctx context.Context, tenant, patient string) ([]store.Encounter, error) {
	q, args := "SELECT id, patient, admitted, discharged FROM encounters WHERE tenant = ?", []any{tenant}
	if patient != "" {
		q += " AND patient = ?"
		args = append(args, patient)
	}
	encs, err := queryList(ctx, s.db(), "encounters of "+tenant, q+" ORDER BY admitted DESC, id", args, func(sc scanner) (store.Encounter, error) {
		e := store.Encounter{Tenant: tenant}
		var a, d int64
		err := sc.Scan(&e.ID, &e.Patient, &a, &d)
		e.Admitted, e.Discharged = fromNanos(a), fromNanos(d)
		return e, err
	})
	if err != nil || len(encs) == 0 {
		return encs, err
	}
	q, args = "SELECT encounter, patient, ward, bed, from_t, to_t FROM bed_stays WHERE tenant = ?", []any{tenant}
	if patient != "" {
		q += " AND patient = ?"
		args = append(args, patient)
	}
	stays, err := queryList(ctx, s.db(), "bed stays of "+tenant, q+" ORDER BY from_t", args, scanStay(tenant))
	if err != nil {
		return nil, err
	}
	idx := map[string]int{}
	for i, e := range encs {
		idx[e.ID] = i
	}
	for _, st := range stays {
		if i, ok := idx[st.Encounter]; ok {
			encs[i].Stays = append(encs[i].Stays, st)
		}
	}
	return encs, nil
}

func scanStay(tenant string) func(sc scanner) (store.BedStay, error) {
	return func(sc scanner) (store.BedStay, error) {
		st := store.BedStay{Tenant: tenant}
		var f, t int64
		err := sc.Scan(&st.Encounter, &st.Patient, &st.Ward, &st.Bed, &f, &t)
		st.From, st.To = fromNanos(f), fromNanos(t)
		return st, err
	}
}

// OpenStays lists the open bed stays of a ward, or of all wards (store.ClinicalStore).
func (s *Store) OpenStays(ctx context.Context, tenant, ward string) ([]store.BedStay, error) {
	q, args := "SELECT encounter, patient, ward, bed, from_t, to_t FROM bed_stays WHERE tenant = ? AND to_t = 0", []any{tenant}
	if ward != "" {
		q += " AND ward = ?"
		args = append(args, ward)
	}
	return queryList(ctx, s.db(), "open stays of "+tenant, q+" ORDER BY bed", args, scanStay(tenant))
}

const assignmentCols = "id, device, patient, kind, from_t, to_t, created_by, created"

func scanAssignment(tenant string) func(sc scanner) (store.DeviceAssignment, error) {
	return func(sc scanner) (store.DeviceAssignment, error) {
		a := store.DeviceAssignment{Tenant: tenant}
		var f, t, c int64
		err := sc.Scan(&a.ID, &a.Device, &a.Patient, &a.Kind, &f, &t, &a.CreatedBy, &c)
		a.From, a.To, a.Created = fromNanos(f), fromNanos(t), fromNanos(c)
		return a, err
	}
}

// Assign stores a device assignment, ending an open one of the device that began earlier
// (store.ClinicalStore).
func (s *Store) Assign(ctx context.Context, a store.DeviceAssignment) ([]store.DeviceAssignment, error) {
	if !a.To.IsZero() && !a.To.After(a.From) {
		return nil, fmt.Errorf("postgres: assign %s: end must be after start", a.ID)
	}
	var ended []store.DeviceAssignment
	err := s.inTx(ctx, func(tx db) error {
		rows, err := tx.QueryContext(ctx, "SELECT "+assignmentCols+" FROM device_assignments WHERE tenant = ? AND device = ?", a.Tenant, a.Device)
		if err != nil {
			return err
		}
		existing, err := collect(rows, scanAssignment(a.Tenant))
		if err != nil {
			return err
		}
		var errs []error
		for _, o := range existing {
			if o.To.IsZero() && o.From.Before(a.From) {
				o.To = a.From
				ended = append(ended, o)
			}
			if overlaps(o, a) {
				errs = append(errs, fmt.Errorf("device %s is assigned to another patient in that window: %w", a.Device, store.ErrConflict))
				break
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for _, o := range ended {
			if _, err := tx.ExecContext(ctx, "UPDATE device_assignments SET to_t = ? WHERE tenant = ? AND id = ?", nanos(o.To), a.Tenant, o.ID); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO device_assignments (tenant, "+assignmentCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			a.Tenant, a.ID, a.Device, a.Patient, a.Kind, nanos(a.From), nanos(a.To), a.CreatedBy, nanos(a.Created))
		return err
	})
	if err != nil {
		return nil, wrapErr("assign device "+a.Device, err)
	}
	return ended, nil
}

// overlaps reports whether two [From, To) windows (zero To: open) intersect.
func overlaps(a, b store.DeviceAssignment) bool {
	aEnd, bEnd := a.To, b.To
	return (aEnd.IsZero() || b.From.Before(aEnd)) && (bEnd.IsZero() || a.From.Before(bEnd))
}

// EndAssignment ends an open assignment (store.ClinicalStore).
func (s *Store) EndAssignment(ctx context.Context, tenant, id string, at time.Time) (store.DeviceAssignment, error) {
	var a store.DeviceAssignment
	err := s.inTx(ctx, func(tx db) error {
		var err error
		a, err = scanAssignment(tenant)(tx.QueryRowContext(ctx, "SELECT "+assignmentCols+" FROM device_assignments WHERE tenant = ? AND id = ? AND to_t = 0", tenant, id))
		if err != nil {
			return err
		}
		if !at.After(a.From) {
			return fmt.Errorf("end %s is not after the start %s: %w", at.Format(time.RFC3339), a.From.Format(time.RFC3339), store.ErrConflict)
		}
		a.To = at
		_, err = tx.ExecContext(ctx, "UPDATE device_assignments SET to_t = ? WHERE tenant = ? AND id = ?", nanos(at), tenant, id)
		return err
	})
	if err != nil {
		return store.DeviceAssignment{}, wrapErr("end assignment "+id, err)
	}
	return a, nil
}

// Assignments lists assignments, newest start first (store.ClinicalStore).
func (s *Store) Assignments(ctx context.Context, q store.AssignmentQuery) ([]store.DeviceAssignment, error) {
	sqlq, args := "SELECT "+assignmentCols+" FROM device_assignments WHERE tenant = ?", []any{q.Tenant}
	if q.Device != "" {
		sqlq += " AND device = ?"
		args = append(args, q.Device)
	}
	if q.Patient != "" {
		sqlq += " AND patient = ?"
		args = append(args, q.Patient)
	}
	if q.OpenOnly {
		sqlq += " AND to_t = 0"
	}
	return queryList(ctx, s.db(), "assignments of "+q.Tenant, sqlq+" ORDER BY from_t DESC, id", args, scanAssignment(q.Tenant))
}

// PutRecord stores a clinical record unless it exists (store.ClinicalStore).
func (s *Store) PutRecord(ctx context.Context, r store.ClinicalRecord) (bool, error) {
	res, err := s.db().ExecContext(ctx, `INSERT INTO clinical_records (tenant, kind, id, owner, at, tag, doc) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, r.Tenant, string(r.Kind), r.ID, r.Owner, nanos(r.At), r.Tag, string(r.JSON))
	if err != nil {
		return false, wrapErr(fmt.Sprintf("put %s %s", r.Kind, r.ID), err)
	}
	return res.RowsAffected() == 1, nil
}

// Records lists clinical records (store.ClinicalStore).
func (s *Store) Records(ctx context.Context, q store.RecordQuery) ([]store.ClinicalRecord, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	from, to := bounds(store.ReadingQuery{From: q.From, To: q.To})
	if from == math.MinInt64 {
		from = math.MinInt64 + 1
	}
	sqlq, args := "SELECT id, owner, at, tag, doc FROM clinical_records WHERE tenant = ? AND kind = ?", []any{q.Tenant, string(q.Kind)}
	if q.Owner != "" {
		sqlq += " AND owner = ?"
		args = append(args, q.Owner)
	}
	if q.Tag != "" {
		sqlq += " AND tag = ?"
		args = append(args, q.Tag)
	}
	sqlq += " AND at >= ? AND at < ?"
	args = append(args, from, to)
	order := " ORDER BY at, id"
	if q.Desc {
		order = " ORDER BY at DESC, id DESC"
	}
	args = append(args, limit)
	return queryList(ctx, s.db(), fmt.Sprintf("%s records of %s", q.Kind, q.Tenant), sqlq+order+" LIMIT ?", args, func(sc scanner) (store.ClinicalRecord, error) {
		r := store.ClinicalRecord{Kind: q.Kind, Tenant: q.Tenant}
		var at int64
		var doc string
		err := sc.Scan(&r.ID, &r.Owner, &at, &r.Tag, &doc)
		r.At, r.JSON = fromNanos(at), []byte(doc)
		return r, err
	})
}

// CreateProgramme stores an RPM programme (store.ClinicalStore).
func (s *Store) CreateProgramme(ctx context.Context, p store.Programme) error {
	_, err := s.db().ExecContext(ctx, "INSERT INTO rpm_programmes (tenant, id, name, condition, time_zone, created) VALUES (?, ?, ?, ?, ?, ?)",
		p.Tenant, p.ID, p.Name, p.Condition, p.TimeZone, nanos(p.Created))
	if err != nil {
		return wrapErr("create programme "+p.ID, err)
	}
	return nil
}

func scanProgramme(tenant string) func(sc scanner) (store.Programme, error) {
	return func(sc scanner) (store.Programme, error) {
		p := store.Programme{Tenant: tenant}
		var c int64
		err := sc.Scan(&p.ID, &p.Name, &p.Condition, &p.TimeZone, &c)
		p.Created = fromNanos(c)
		return p, err
	}
}

// Programme returns one programme (store.ClinicalStore).
func (s *Store) Programme(ctx context.Context, tenant, id string) (store.Programme, error) {
	p, err := scanProgramme(tenant)(s.db().QueryRowContext(ctx, "SELECT id, name, condition, time_zone, created FROM rpm_programmes WHERE tenant = ? AND id = ?", tenant, id))
	if err != nil {
		return store.Programme{}, wrapErr("programme "+id, err)
	}
	return p, nil
}

// Programmes lists a tenant's programmes by id (store.ClinicalStore).
func (s *Store) Programmes(ctx context.Context, tenant string) ([]store.Programme, error) {
	return queryList(ctx, s.db(), "programmes of "+tenant, "SELECT id, name, condition, time_zone, created FROM rpm_programmes WHERE tenant = ? ORDER BY id",
		[]any{tenant}, scanProgramme(tenant))
}

const enrolmentCols = "id, programme, patient, time_zone, enrolled_at, ended_at, setup_record, devices"

func scanEnrolment(tenant string) func(sc scanner) (store.Enrolment, error) {
	return func(sc scanner) (store.Enrolment, error) {
		e := store.Enrolment{Tenant: tenant}
		var at, end int64
		var setup int
		var devs string
		if err := sc.Scan(&e.ID, &e.Programme, &e.Patient, &e.TimeZone, &at, &end, &setup, &devs); err != nil {
			return e, err
		}
		e.EnrolledAt, e.EndedAt, e.SetupRecord = fromNanos(at), fromNanos(end), setup != 0
		if err := json.Unmarshal([]byte(devs), &e.Devices); err != nil {
			return e, fmt.Errorf("enrolment %s devices: %w", e.ID, err)
		}
		return e, nil
	}
}

// CreateEnrolment stores an enrolment (store.ClinicalStore).
func (s *Store) CreateEnrolment(ctx context.Context, e store.Enrolment) error {
	devs, err := json.Marshal(nonNil(e.Devices))
	if err != nil {
		return fmt.Errorf("postgres: create enrolment %s: %w", e.ID, err)
	}
	err = s.inTx(ctx, func(tx db) error {
		n, err := count(ctx, tx, "SELECT count(*) FROM rpm_enrolments WHERE tenant = ? AND programme = ? AND patient = ? AND ended_at = 0",
			e.Tenant, e.Programme, e.Patient)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("patient is enrolled in programme %s: %w", e.Programme, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO rpm_enrolments (tenant, "+enrolmentCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			e.Tenant, e.ID, e.Programme, e.Patient, e.TimeZone, nanos(e.EnrolledAt), nanos(e.EndedAt), boolInt(e.SetupRecord), string(devs))
		return err
	})
	if err != nil {
		return wrapErr("create enrolment "+e.ID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Enrolment returns one enrolment (store.ClinicalStore).
func (s *Store) Enrolment(ctx context.Context, tenant, id string) (store.Enrolment, error) {
	e, err := scanEnrolment(tenant)(s.db().QueryRowContext(ctx, "SELECT "+enrolmentCols+" FROM rpm_enrolments WHERE tenant = ? AND id = ?", tenant, id))
	if err != nil {
		return store.Enrolment{}, wrapErr("enrolment "+id, err)
	}
	return e, nil
}

// Enrolments lists enrolments by enrolment time (store.ClinicalStore).
func (s *Store) Enrolments(ctx context.Context, tenant, programme, patient string) ([]store.Enrolment, error) {
	q, args := "SELECT "+enrolmentCols+" FROM rpm_enrolments WHERE tenant = ?", []any{tenant}
	if programme != "" {
		q += " AND programme = ?"
		args = append(args, programme)
	}
	if patient != "" {
		q += " AND patient = ?"
		args = append(args, patient)
	}
	return queryList(ctx, s.db(), "enrolments of "+tenant, q+" ORDER BY enrolled_at, id", args, scanEnrolment(tenant))
}

// EndEnrolment ends an open enrolment (store.ClinicalStore).
func (s *Store) EndEnrolment(ctx context.Context, tenant, id string, at time.Time) (store.Enrolment, error) {
	res, err := s.db().ExecContext(ctx, "UPDATE rpm_enrolments SET ended_at = ? WHERE tenant = ? AND id = ? AND ended_at = 0", nanos(at), tenant, id)
	if err != nil {
		return store.Enrolment{}, wrapErr("end enrolment "+id, err)
	}
	if err := oneResult(res, "postgres: end enrolment "+id); err != nil {
		return store.Enrolment{}, err
	}
	return s.Enrolment(ctx, tenant, id)
}

// DeviceReadings returns one device's readings of a metric (store.ClinicalStore).
func (s *Store) DeviceReadings(ctx context.Context, q store.DeviceReadingQuery) ([]store.Point, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 10_000
	}
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = q.From.UnixNano()
	}
	if !q.To.IsZero() {
		to = q.To.UnixNano()
	}
	order := "ASC"
	if q.Desc {
		order = "DESC"
	}
	rows, err := s.db().QueryContext(ctx, `SELECT measured, received, kind, value, text, unit, flags FROM readings
		WHERE tenant = ? AND device = ? AND metric = ? AND measured >= ? AND measured < ? ORDER BY measured `+order+` LIMIT ?`,
		q.Tenant, q.Device, q.Metric, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: readings of device %s: %w", q.Device, err)
	}
	out, err := collect(rows, func(sc scanner) (store.Point, error) {
		p := store.Point{Device: q.Device, Metric: q.Metric}
		var measured, received int64
		var kind int16
		var flags int32
		err := sc.Scan(&measured, &received, &kind, &p.Value, &p.Text, &p.Unit, &flags)
		p.Measured, p.Received = time.Unix(0, measured).UTC(), fromNanos(received)
		p.Kind, p.Flags = reading.Kind(kind), reading.Flags(flags)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: readings of device %s: %w", q.Device, err)
	}
	return out, nil
}

// ReadingSlots returns the distinct step-aligned slots with readings of a device (store.ClinicalStore).
func (s *Store) ReadingSlots(ctx context.Context, tenant, device string, metrics []string, exclude uint32, from, to time.Time, step time.Duration) ([]time.Time, error) {
	if step <= 0 || len(metrics) == 0 {
		return nil, nil
	}
	lo, hi := int64(0), int64(math.MaxInt64)
	if !from.IsZero() && from.UnixNano() > 0 {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	rows, err := s.db().QueryContext(ctx, `SELECT DISTINCT measured / ? FROM readings
		WHERE tenant = ? AND device = ? AND metric = ANY(?) AND measured >= ? AND measured < ? AND (flags::bigint & ?) = 0`,
		int64(step), tenant, device, metrics, lo, hi, int64(exclude))
	if err != nil {
		return nil, fmt.Errorf("postgres: reading slots of device %s: %w", device, err)
	}
	slots, err := collect(rows, func(sc scanner) (int64, error) {
		var n int64
		return n, sc.Scan(&n)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: reading slots of device %s: %w", device, err)
	}
	slices.Sort(slots)
	out := make([]time.Time, len(slots))
	for i, n := range slots {
		out[i] = time.Unix(0, n*int64(step)).UTC()
	}
	return out, nil
}

// queryList runs a query and scans every row.
func queryList[T any](ctx context.Context, d db, what, q string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	rows, err := d.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

func collect[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SaveClinicalBatch writes a clinical processor batch in one transaction (store.ClinicalStore).
func (s *Store) SaveClinicalBatch(ctx context.Context, b store.ClinicalBatch) error {
	batch := &pgx.Batch{}
	for _, r := range b.Records {
		batch.Queue(`INSERT INTO clinical_records (tenant, kind, id, owner, at, tag, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT DO NOTHING`, r.Tenant, string(r.Kind), r.ID, r.Owner, nanos(r.At), r.Tag, string(r.JSON))
	}
	for _, st := range b.States {
		batch.Queue(`INSERT INTO clinical_state (tenant, patient, doc) VALUES ($1, $2, $3)
			ON CONFLICT (tenant, patient) DO UPDATE SET doc = excluded.doc`, st.Tenant, st.Patient, string(st.JSON))
	}
	if b.Checkpoint > 0 {
		batch.Queue(`INSERT INTO clinical_checkpoint (one, log_seq) VALUES (1, $1)
			ON CONFLICT (one) DO UPDATE SET log_seq = excluded.log_seq`, int64(b.Checkpoint))
	}
	if batch.Len() == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: save clinical batch (%d records, %d states, checkpoint %d): %w",
			len(b.Records), len(b.States), b.Checkpoint, err)
	}
	return nil
}

// ClinicalStates returns every saved patient processing state (store.ClinicalStore).
func (s *Store) ClinicalStates(ctx context.Context) ([]store.ClinicalState, error) {
	rows, err := s.pool.Query(ctx, "SELECT tenant, patient, doc FROM clinical_state ORDER BY tenant, patient")
	if err != nil {
		return nil, fmt.Errorf("postgres: clinical states: %w", err)
	}
	defer rows.Close()
	var out []store.ClinicalState
	for rows.Next() {
		var st store.ClinicalState
		var doc string
		if err := rows.Scan(&st.Tenant, &st.Patient, &doc); err != nil {
			return nil, fmt.Errorf("postgres: clinical states: %w", err)
		}
		st.JSON = []byte(doc)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: clinical states: %w", err)
	}
	return out, nil
}

// ClinicalCheckpoint returns the clinical processor's checkpoint (store.ClinicalStore).
func (s *Store) ClinicalCheckpoint(ctx context.Context) (uint64, bool, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, "SELECT log_seq FROM clinical_checkpoint WHERE one = 1").Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres: clinical checkpoint: %w", err)
	}
	return uint64(seq), true, nil
}
