package store

import (
	"context"
	"time"
)

// CareRole is a user's part in a care-team assignment (alarms.md §10.1 recipient rules).
type CareRole string

// Care roles.
const (
	CareAssigned CareRole = "assigned" // assigned nurse (or treating physician) of a patient
	CareBuddy    CareRole = "buddy"    // buddy nurse of a patient
	CareCharge   CareRole = "charge"   // charge nurse of a unit
	CareUnit     CareRole = "unit"     // works in a unit this shift (any of its patients)
)

// Valid reports whether r is a known care role.
func (r CareRole) Valid() bool {
	switch r {
	case CareAssigned, CareBuddy, CareCharge, CareUnit:
		return true
	}
	return false
}

// CareAssignment says that a user plays Role for a subject (assigned, buddy) or a unit
// (charge, unit) from From until To (zero: open-ended).
type CareAssignment struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"tenant"`
	UserID  string    `json:"user_id"`
	Role    CareRole  `json:"role"`
	Subject string    `json:"subject,omitempty"`
	Unit    string    `json:"unit,omitempty"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to,omitzero"`
}

// Active reports whether a covers at.
func (a CareAssignment) Active(at time.Time) bool {
	return !at.Before(a.From) && (a.To.IsZero() || at.Before(a.To))
}

// OnCallShift puts a user on call for a role and service (Ref, e.g. "physician/medical",
// "rrt", "ops", "ops-lead") from From until To.
type OnCallShift struct {
	ID     string    `json:"id"`
	Tenant string    `json:"tenant"`
	Ref    string    `json:"ref"`
	UserID string    `json:"user_id"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// Active reports whether s covers at.
func (s OnCallShift) Active(at time.Time) bool { return !at.Before(s.From) && at.Before(s.To) }

// AlarmPolicyDoc is a tenant's escalation policies (JSON of []alarm.Policy, not interpreted by
// the store), versioned: each save is the previous version + 1.
type AlarmPolicyDoc struct {
	Tenant    string
	Version   int
	JSON      []byte
	UpdatedBy string
	UpdatedAt time.Time
}

// CareStore keeps care-team assignments, on-call rosters and tenants' escalation policies.
// *sqlite.Store and *postgres.Store implement it.
type CareStore interface {
	// CreateCareAssignment stores a; ErrConflict if its id exists.
	CreateCareAssignment(ctx context.Context, a CareAssignment) error
	// EndCareAssignment sets To of assignment id of tenant to at; ErrNotFound.
	EndCareAssignment(ctx context.Context, tenant, id string, at time.Time) error
	// CareAssignments lists tenant's assignments active at at (zero at: all), by From then id.
	CareAssignments(ctx context.Context, tenant string, at time.Time) ([]CareAssignment, error)
	// CreateOnCall stores s; ErrConflict if its id exists.
	CreateOnCall(ctx context.Context, s OnCallShift) error
	// DeleteOnCall removes shift id of tenant; ErrNotFound.
	DeleteOnCall(ctx context.Context, tenant, id string) error
	// OnCall lists tenant's shifts active at at (zero at: all), by From then id.
	OnCall(ctx context.Context, tenant string, at time.Time) ([]OnCallShift, error)
	// SaveAlarmPolicies stores d when d.Version is the saved version + 1 (1 for the first);
	// ErrConflict otherwise (a concurrent change).
	SaveAlarmPolicies(ctx context.Context, d AlarmPolicyDoc) error
	// AlarmPolicies returns every tenant's current policies, by tenant.
	AlarmPolicies(ctx context.Context) ([]AlarmPolicyDoc, error)
}
