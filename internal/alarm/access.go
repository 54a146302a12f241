package alarm

import (
	"errors"
	"fmt"

	"github.com/vigil-iomt/vigil/internal/store"
)

// Capacity is the part a user plays for one alarm's patient or unit (the columns of spec §6).
// It is derived by CapacityOf from the user's role and care-team relation, which the caller
// looks up in the care-team assignment service.
type Capacity string

// Capacities of spec §6. CapNone is any user without access (viewer, qa, a nurse of another
// unit, ...).
const (
	CapNone          Capacity = ""
	CapAssignedNurse Capacity = "assigned-nurse"
	CapUnitNurse     Capacity = "unit-nurse"
	CapChargeNurse   Capacity = "charge-nurse"
	CapPhysician     Capacity = "physician"
	CapRRT           Capacity = "rrt"
	CapUnitAdmin     Capacity = "unit-admin"
	CapBiomed        Capacity = "biomed"
)

// Capacities lists every capacity, CapNone first.
var Capacities = []Capacity{CapNone, CapAssignedNurse, CapUnitNurse, CapChargeNurse, CapPhysician, CapRRT, CapUnitAdmin, CapBiomed}

// Relation is a user's care-team relation to the patient (or unit) of an alarm.
type Relation struct {
	Assigned bool // assigned nurse or treating physician of the patient
	InUnit   bool // works in the patient's unit this shift
	Charge   bool // charge nurse of the unit
	RRT      bool // member of the rapid response / outreach team on duty
}

// CapacityOf maps a Vigil role and care-team relation to a spec §6 capacity: nurse → assigned,
// charge, RRT or unit nurse; clinician → physician when they have access to the patient, else
// RRT when on the team; admin → unit admin; operator → biomed/ops. Anything else has none.
func CapacityOf(role store.Role, rel Relation) Capacity {
	switch role {
	case store.Nurse:
		switch {
		case rel.Charge:
			return CapChargeNurse
		case rel.Assigned:
			return CapAssignedNurse
		case rel.RRT:
			return CapRRT
		case rel.InUnit:
			return CapUnitNurse
		}
	case store.Clinician:
		switch {
		case rel.Assigned || rel.InUnit || rel.Charge:
			return CapPhysician
		case rel.RRT:
			return CapRRT
		}
	case store.Admin:
		return CapUnitAdmin
	case store.Operator:
		return CapBiomed
	}
	return CapNone
}

// Actor is who issues a command: a user of a tenant in a capacity.
type Actor struct {
	UserID   string
	Tenant   string
	Capacity Capacity
}

func (a Actor) String() string { return "user:" + a.UserID }

// Action is a user command on alarms.
type Action string

// Actions (spec §4.2, §5, §6).
const (
	ActAcknowledge Action = "acknowledge" // T5, T8
	ActDecline     Action = "decline"     // T15
	ActEscalate    Action = "escalate"    // manual escalation: T15 semantics (next tier now)
	ActCancel      Action = "cancel"      // T14, reason required
	ActAlarmPause  Action = "alarm-pause" // §5.2, per patient or device
	ActAudioPause  Action = "audio-pause" // §5.1, per console
	ActAssess      Action = "assess"      // §6/§7: record "assessment done" on a NEWS2 alert
)

// Permitted reports whether capacity c may take action on alarms of kind k (spec §6).
func Permitted(c Capacity, act Action, k Kind) bool {
	clinical := c == CapAssignedNurse || c == CapUnitNurse || c == CapChargeNurse || c == CapPhysician
	switch act {
	case ActAcknowledge:
		if k == Technical {
			return clinical || c == CapBiomed
		}
		return clinical || c == CapRRT
	case ActDecline, ActEscalate, ActAudioPause:
		return clinical || c == CapRRT
	case ActAlarmPause:
		return c == CapAssignedNurse || c == CapChargeNurse || c == CapPhysician
	case ActCancel:
		return c == CapUnitAdmin
	case ActAssess:
		return c == CapPhysician || c == CapRRT
	}
	return false
}

// Errors returned by Engine commands. Callers branch with errors.Is.
var (
	// ErrForbidden: the actor may not do this (role, capacity or tenant). Audited as
	// ACCESS_DENIED; the HTTP layer answers 403.
	ErrForbidden = errors.New("alarm action forbidden")
	// ErrNotFound: no alarm with that id (in that tenant).
	ErrNotFound = errors.New("alarm not found")
	// ErrInvalidTransition: the action does not apply to the alarm's state; a late
	// acknowledgement is audited as NO_OP.
	ErrInvalidTransition = errors.New("alarm transition not allowed in this state")
	// ErrReasonRequired: the action needs a reason (cancel; alarm pause above 3 min).
	ErrReasonRequired = errors.New("alarm action needs a reason")
	// ErrInvalid: a malformed command (duration out of range, unknown action).
	ErrInvalid = errors.New("invalid alarm command")
)

// allowedFrom lists the states each alarm action applies to.
var allowedFrom = map[Action][]State{
	ActAcknowledge: {Active, Latched},
	ActDecline:     {Active},
	ActEscalate:    {Active, Latched},
	ActCancel:      {Pending, Active, Latched, Acknowledged},
	ActAssess:      {Active, Latched, Acknowledged},
}

// CheckTransition reports whether act by actor applies to an alarm of tenant and kind in
// state s: ErrForbidden (wrong tenant or capacity) is checked before ErrInvalidTransition.
// reason is the command's reason (cancel needs one).
func CheckTransition(actor Actor, act Action, tenant string, k Kind, s State, reason string) error {
	if actor.Tenant != tenant || actor.UserID == "" || !Permitted(actor.Capacity, act, k) {
		return fmt.Errorf("%s by %s (%s) on %s alarm: %w", act, actor, actor.Capacity, k, ErrForbidden)
	}
	if !contains(allowedFrom[act], s) {
		return fmt.Errorf("%s of a %s alarm: %w", act, s, ErrInvalidTransition)
	}
	if act == ActCancel && reason == "" {
		return fmt.Errorf("%s: %w", act, ErrReasonRequired)
	}
	return nil
}
