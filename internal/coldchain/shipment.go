package coldchain

import (
	"errors"
	"fmt"
)

// ShipmentState is a state of the shipment lifecycle (spec 4.5).
type ShipmentState string

// Shipment states.
const (
	Created     ShipmentState = "CREATED"
	Packed      ShipmentState = "PACKED"
	InTransit   ShipmentState = "IN_TRANSIT"
	Delivered   ShipmentState = "DELIVERED"
	Quarantined ShipmentState = "QUARANTINED"
	Released    ShipmentState = "RELEASED"
	Rejected    ShipmentState = "REJECTED"
	Cancelled   ShipmentState = "CANCELLED"
)

// ShipmentAction is a lifecycle transition (spec 4.5).
type ShipmentAction string

// Shipment actions.
const (
	Pack        ShipmentAction = "pack"
	Dispatch    ShipmentAction = "dispatch"
	Receive     ShipmentAction = "receive"
	Quarantine  ShipmentAction = "quarantine"   // automatic on delivery, always
	Release     ShipmentAction = "release"      // e-signature "Approved for release"
	Reject      ShipmentAction = "reject"       // e-signature "Rejected"
	AutoRelease ShipmentAction = "auto-release" // system, only when AutoReleaseAllowed
	Cancel      ShipmentAction = "cancel"
)

type transition struct {
	from ShipmentState
	act  ShipmentAction
}

var shipmentTable = map[transition]ShipmentState{
	{Created, Pack}:            Packed,
	{Packed, Dispatch}:         InTransit,
	{InTransit, Receive}:       Delivered,
	{Delivered, Quarantine}:    Quarantined,
	{Quarantined, Release}:     Released,
	{Quarantined, Reject}:      Rejected,
	{Quarantined, AutoRelease}: Released,
	{Created, Cancel}:          Cancelled,
	{Packed, Cancel}:           Cancelled,
}

// ErrSignatureRequired is returned for release or reject without an e-signature.
var ErrSignatureRequired = errors.New("coldchain: an electronic signature is required")

// TransitionError reports an action that is not allowed in a state.
type TransitionError struct {
	From   ShipmentState
	Action ShipmentAction
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("coldchain: shipment in state %s cannot %s", e.From, e.Action)
}

// RequiresSignature reports whether act needs an electronic signature (part11.md).
func RequiresSignature(act ShipmentAction) bool { return act == Release || act == Reject }

// Transition returns the state after act from "from". signed says whether a verified
// e-signature accompanies the action; release and reject need one (ErrSignatureRequired).
// A decision (RELEASED, REJECTED) is final: a correction is a new decision record, not a
// transition.
func Transition(from ShipmentState, act ShipmentAction, signed bool) (ShipmentState, error) {
	to, ok := shipmentTable[transition{from, act}]
	if !ok {
		return from, &TransitionError{From: from, Action: act}
	}
	if RequiresSignature(act) && !signed {
		return from, fmt.Errorf("shipment %s %s: %w", from, act, ErrSignatureRequired)
	}
	return to, nil
}

// ReleaseFacts are what auto-release looks at (spec 4.5).
type ReleaseFacts struct {
	Enabled         bool    // the organisation enabled "auto-release when clean" for this lane
	Excursions      int     // recorded excursions
	Gaps            int     // data gaps
	CalibrationFlag bool    // any logger/sensor flagged CAL_OVERDUE
	MaxBudgetUsed   float64 // highest consumed fraction of any budget rule
}

// AutoReleaseAllowed reports whether a quarantined shipment may be released by the system,
// and if not, why.
func AutoReleaseAllowed(f ReleaseFacts) (bool, string) {
	switch {
	case !f.Enabled:
		return false, "auto-release is not enabled for this lane"
	case f.Excursions > 0:
		return false, fmt.Sprintf("%d excursion(s) recorded", f.Excursions)
	case f.Gaps > 0:
		return false, fmt.Sprintf("%d data gap(s)", f.Gaps)
	case f.CalibrationFlag:
		return false, "calibration flag on a logger or sensor"
	case !(f.MaxBudgetUsed < 0.5):
		return false, fmt.Sprintf("a budget is %.0f %% used (auto-release needs < 50 %%)", f.MaxBudgetUsed*100)
	}
	return true, ""
}
