package store

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"
)

// Ward is a care unit with beds.
type Ward struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"-"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Bed is a bed of a ward; its ID is unique in the tenant.
type Bed struct {
	ID     string `json:"id"`
	Tenant string `json:"-"`
	Ward   string `json:"ward"`
	Label  string `json:"label"`
}

// Patient is a person Vigil monitors. A patient never appears in logs (LogValue keeps the id only).
type Patient struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"-"`
	MRN       string    `json:"mrn"`        // unique in the tenant
	Name      string    `json:"name"`       //
	BirthDate string    `json:"birth_date"` // YYYY-MM-DD, "" when unknown
	Sex       string    `json:"sex"`        // female, male, other, unknown
	SpO2Scale int       `json:"spo2_scale"` // 1 or 2 (news2.md §4.3)
	TimeZone  string    `json:"time_zone"`  // IANA zone
	Created   time.Time `json:"created"`
}

// LogValue keeps everything but the id out of logs.
func (p Patient) LogValue() slog.Value { return slog.GroupValue(slog.String("id", p.ID)) }

// Encounter is one admission: from Admitted until Discharged (zero while open), with its bed
// stays oldest first.
type Encounter struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"-"`
	Patient    string    `json:"patient"`
	Admitted   time.Time `json:"admitted"`
	Discharged time.Time `json:"discharged,omitzero"`
	Stays      []BedStay `json:"stays"`
}

// Current returns the encounter's current bed stay: the open one, else (discharged) the one
// that began last; ok is false when it has none.
func (e Encounter) Current() (st BedStay, ok bool) {
	for _, x := range e.Stays {
		switch {
		case !ok, x.To.IsZero() && !st.To.IsZero(), x.To.IsZero() == st.To.IsZero() && x.From.After(st.From):
			st, ok = x, true
		}
	}
	return st, ok
}

// MarshalJSON writes the encounter with its current place, "ward" and "bed" of Current
// (omitted when it has no stay), next to the full "stays" (docs/clinical.md §1).
func (e Encounter) MarshalJSON() ([]byte, error) {
	type plain Encounter // no MarshalJSON: no recursion
	v := struct {
		plain
		Ward string `json:"ward,omitempty"`
		Bed  string `json:"bed,omitempty"`
	}{plain: plain(e)}
	if st, ok := e.Current(); ok {
		v.Ward, v.Bed = st.Ward, st.Bed
	}
	return json.Marshal(v)
}

// BedStay is a patient's time in one bed during an encounter; To is zero while open.
type BedStay struct {
	Tenant    string    `json:"-"`
	Encounter string    `json:"-"`
	Patient   string    `json:"-"`
	Ward      string    `json:"ward"`
	Bed       string    `json:"bed"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to,omitzero"`
}

// DeviceAssignment binds a device to a patient for [From, To) (To zero: open). A device is
// assigned to at most one patient at any instant.
type DeviceAssignment struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"-"`
	Device    string    `json:"device"`
	Patient   string    `json:"patient"`
	Kind      string    `json:"kind"` // bedside, rpm
	From      time.Time `json:"from"`
	To        time.Time `json:"to,omitzero"`
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
}

// Covers reports whether a covers at.
func (a DeviceAssignment) Covers(at time.Time) bool {
	return !at.Before(a.From) && (a.To.IsZero() || at.Before(a.To))
}

// AssignmentQuery selects device assignments of a tenant; empty fields match any.
type AssignmentQuery struct {
	Tenant   string
	Device   string
	Patient  string
	OpenOnly bool
}

// DeviceReadingQuery selects one device's readings of one metric in [From, To) (a zero bound
// is open), oldest first, or newest first with Desc; Limit 0 means 10,000.
type DeviceReadingQuery struct {
	Tenant string
	Device string
	Metric string
	From   time.Time
	To     time.Time
	Limit  int
	Desc   bool
}

// RecordKind names a kind of clinical record.
type RecordKind string

// Clinical record kinds.
const (
	RecNEWS2Set     RecordKind = "news2_set"     // an observation set with its NEWS2 result
	RecManualObs    RecordKind = "manual_obs"    // a nurse's manual observation
	RecBaselineFlag RecordKind = "baseline_flag" // a PBM day result worth showing
	RecDailyValue   RecordKind = "daily_value"   // a closed PBM daily value, to rebuild baselines
	RecReviewTime   RecordKind = "review_time"   // an RPM clinician time entry (Owner: the enrolment)
)

// ClinicalRecord is an immutable clinical document (JSON the store does not interpret) with the
// columns it is found by. A second insert of the same tenant, kind and ID is ignored, which
// makes processors idempotent on replay.
type ClinicalRecord struct {
	Kind   RecordKind
	ID     string
	Tenant string
	Owner  string    // patient id (enrolment id for review time)
	At     time.Time // the record's clinical time (set time, observation time, day)
	Tag    string    // a kind-specific filter, e.g. "complete" for complete NEWS2 sets
	JSON   []byte
}

// RecordQuery selects records of one kind of a tenant, with At in [From, To) (zero: open),
// oldest first or newest first with Desc; Owner and Tag "" match any; Limit 0 means 10,000.
type RecordQuery struct {
	Tenant string
	Kind   RecordKind
	Owner  string
	Tag    string
	From   time.Time
	To     time.Time
	Limit  int
	Desc   bool
}

// Programme is a home remote-monitoring (RPM) programme.
type Programme struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"-"`
	Name      string    `json:"name"`
	Condition string    `json:"condition"`
	TimeZone  string    `json:"time_zone"`
	Created   time.Time `json:"created"`
}

// Enrolment is a patient's participation in a programme, with its device kit.
type Enrolment struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"-"`
	Programme   string    `json:"programme"`
	Patient     string    `json:"patient"`
	TimeZone    string    `json:"time_zone"`
	EnrolledAt  time.Time `json:"enrolled_at"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	SetupRecord bool      `json:"setup_record"`
	Devices     []string  `json:"devices"`
}

// ClinicalState is the clinical processor's persisted processing state of one patient (what
// its stored records do not hold: the readings still inside NEWS2's windows, the open baseline
// days, alarm onsets), as JSON the store does not interpret.
type ClinicalState struct {
	Tenant  string
	Patient string
	JSON    []byte
}

// ClinicalBatch is what the clinical processor writes for a batch of log messages, in one
// transaction: records are inserted like PutRecord (an existing tenant, kind and id is kept),
// patient states replace the saved ones, and a Checkpoint above 0 replaces the saved checkpoint.
type ClinicalBatch struct {
	Records []ClinicalRecord
	States  []ClinicalState
	// Checkpoint is the last log sequence whose effects the batch completes (0: leave the
	// saved checkpoint as it is). The processor replays the log after it on restart.
	Checkpoint uint64
}

// ClinicalStore keeps patients, wards and beds, encounters, device assignments, RPM
// programmes and enrolments, and immutable clinical records. *sqlite.Store and
// *postgres.Store implement it; store/storetest.RunClinical checks them.
type ClinicalStore interface {
	CreateWard(ctx context.Context, w Ward) error // ErrConflict
	Ward(ctx context.Context, tenant, id string) (Ward, error)
	Wards(ctx context.Context, tenant string) ([]Ward, error)
	CreateBed(ctx context.Context, b Bed) error // ErrConflict; ErrNotFound without the ward
	Bed(ctx context.Context, tenant, id string) (Bed, error)
	Beds(ctx context.Context, tenant, ward string) ([]Bed, error) // ward "" = all, by ward then id

	CreatePatient(ctx context.Context, p Patient) error // ErrConflict on the id or the MRN
	Patient(ctx context.Context, tenant, id string) (Patient, error)
	Patients(ctx context.Context, tenant string) ([]Patient, error) // by name, then id
	UpdatePatient(ctx context.Context, p Patient) error             // all fields but Created

	// Admit opens encounter e with its first stay (e.Stays[0]); ErrConflict when the patient
	// has an open encounter or the bed has an open stay.
	Admit(ctx context.Context, e Encounter) error
	// Transfer ends the encounter's open stay at next.From and opens next; ErrNotFound when
	// the encounter is not open, ErrConflict when the bed is occupied.
	Transfer(ctx context.Context, tenant, encounter string, next BedStay) error
	// Discharge ends the open encounter and its stay at at; ErrNotFound when not open.
	Discharge(ctx context.Context, tenant, encounter string, at time.Time) error
	// Encounters returns encounters with their stays, newest first; patient "" = all.
	Encounters(ctx context.Context, tenant, patient string) ([]Encounter, error)
	// OpenStays returns the open bed stays of a ward ("" = all wards).
	OpenStays(ctx context.Context, tenant, ward string) ([]BedStay, error)

	// Assign stores a, first ending at a.From an open assignment of the same device that began
	// before a.From (returned in ended); any other overlap is ErrConflict and changes nothing.
	Assign(ctx context.Context, a DeviceAssignment) (ended []DeviceAssignment, err error)
	// EndAssignment sets To of an open assignment (at must be after From); ErrNotFound.
	EndAssignment(ctx context.Context, tenant, id string, at time.Time) (DeviceAssignment, error)
	// Assignments lists assignments, newest From first.
	Assignments(ctx context.Context, q AssignmentQuery) ([]DeviceAssignment, error)

	// DeviceReadings returns one device's stored readings, whatever subject they carry.
	DeviceReadings(ctx context.Context, q DeviceReadingQuery) ([]Point, error)
	// ReadingSlots returns, sorted, the distinct starts (multiples of step since the Unix epoch)
	// of the steps in [from, to) in which the device stored a reading of one of metrics whose
	// flags share no bit with exclude.
	ReadingSlots(ctx context.Context, tenant, device string, metrics []string, exclude uint32, from, to time.Time, step time.Duration) ([]time.Time, error)

	// PutRecord stores r unless a record of its tenant, kind and id exists; inserted says which.
	PutRecord(ctx context.Context, r ClinicalRecord) (inserted bool, err error)
	Records(ctx context.Context, q RecordQuery) ([]ClinicalRecord, error)

	// SaveClinicalBatch writes b in one transaction (see ClinicalBatch).
	SaveClinicalBatch(ctx context.Context, b ClinicalBatch) error
	// ClinicalStates returns every saved patient processing state (all tenants: the processor
	// restores them).
	ClinicalStates(ctx context.Context) ([]ClinicalState, error)
	// ClinicalCheckpoint returns the processor's checkpoint saved by SaveClinicalBatch; ok is
	// false when none was ever saved.
	ClinicalCheckpoint(ctx context.Context) (seq uint64, ok bool, err error)

	CreateProgramme(ctx context.Context, p Programme) error // ErrConflict
	Programme(ctx context.Context, tenant, id string) (Programme, error)
	Programmes(ctx context.Context, tenant string) ([]Programme, error)
	// CreateEnrolment: ErrConflict when the id exists or the patient has an open enrolment in
	// the programme.
	CreateEnrolment(ctx context.Context, e Enrolment) error
	Enrolment(ctx context.Context, tenant, id string) (Enrolment, error)
	// Enrolments lists enrolments by enrolment time; programme and patient "" match any.
	Enrolments(ctx context.Context, tenant, programme, patient string) ([]Enrolment, error)
	// EndEnrolment sets EndedAt of an open enrolment; ErrNotFound.
	EndEnrolment(ctx context.Context, tenant, id string, at time.Time) (Enrolment, error)
}
