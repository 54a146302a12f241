package alarm

import (
	"errors"
	"testing"

	"github.com/vigil-iomt/vigil/internal/store"
)

// TestTransitionsByRole checks every action × capacity × kind × state against spec §4.2
// (which state an action applies to) and §6 (who may), written out by hand.
func TestTransitionsByRole(t *testing.T) {
	const Y, N = true, false
	// Columns: none, assigned, unit nurse, charge, physician, RRT, unit admin, biomed.
	who := map[string][8]bool{
		"acknowledge/PHYSIOLOGICAL": {N, Y, Y, Y, Y, Y, N, N},
		"acknowledge/ADVISORY":      {N, Y, Y, Y, Y, Y, N, N},
		"acknowledge/TECHNICAL":     {N, Y, Y, Y, Y, N, N, Y},
		"decline/PHYSIOLOGICAL":     {N, Y, Y, Y, Y, Y, N, N},
		"decline/TECHNICAL":         {N, Y, Y, Y, Y, Y, N, N},
		"escalate/PHYSIOLOGICAL":    {N, Y, Y, Y, Y, Y, N, N},
		"escalate/TECHNICAL":        {N, Y, Y, Y, Y, Y, N, N},
		"cancel/PHYSIOLOGICAL":      {N, N, N, N, N, N, Y, N},
		"cancel/TECHNICAL":          {N, N, N, N, N, N, Y, N},
		"audio-pause/PHYSIOLOGICAL": {N, Y, Y, Y, Y, Y, N, N},
		"alarm-pause/PHYSIOLOGICAL": {N, Y, N, Y, Y, N, N, N},
	}
	from := map[Action][]State{ // T5/T8; T15; manual escalation (Vigil); T14
		ActAcknowledge: {Active, Latched},
		ActDecline:     {Active},
		ActEscalate:    {Active, Latched},
		ActCancel:      {Pending, Active, Latched, Acknowledged},
	}
	states := []State{Pending, Active, Latched, Acknowledged, Resolved, Discarded, Cancelled}
	n := 0
	for key, row := range who {
		var act Action
		var kind Kind
		for i := range key {
			if key[i] == '/' {
				act, kind = Action(key[:i]), Kind(key[i+1:])
			}
		}
		for ci, c := range Capacities {
			if got := Permitted(c, act, kind); got != row[ci] {
				t.Errorf("Permitted(%q, %s, %s) = %v, want %v", c, act, kind, got, row[ci])
			}
			if _, ok := from[act]; !ok {
				continue
			}
			for _, s := range states {
				for _, reason := range []string{"", "discharged"} {
					err := CheckTransition(Actor{UserID: "u", Tenant: "t1", Capacity: c}, act, "t1", kind, s, reason)
					var want error
					switch {
					case !row[ci]:
						want = ErrForbidden
					case !contains(from[act], s):
						want = ErrInvalidTransition
					case act == ActCancel && reason == "":
						want = ErrReasonRequired
					}
					if (want == nil) != (err == nil) || (want != nil && !errors.Is(err, want)) {
						t.Errorf("CheckTransition(%q, %s, %s, %s, reason %q) = %v, want %v", c, act, kind, s, reason, err, want)
					}
					n++
					// Another tenant is always forbidden.
					if err := CheckTransition(Actor{UserID: "u", Tenant: "t2", Capacity: c}, act, "t1", kind, s, reason); !errors.Is(err, ErrForbidden) {
						t.Errorf("CheckTransition from another tenant = %v, want ErrForbidden", err)
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases ran")
	}
}

func TestCapacityOf(t *testing.T) {
	tests := []struct {
		role store.Role
		rel  Relation
		want Capacity
	}{
		{store.Nurse, Relation{Assigned: true}, CapAssignedNurse},
		{store.Nurse, Relation{InUnit: true}, CapUnitNurse},
		{store.Nurse, Relation{Charge: true, Assigned: true}, CapChargeNurse},
		{store.Nurse, Relation{RRT: true}, CapRRT},
		{store.Nurse, Relation{}, CapNone},
		{store.Clinician, Relation{Assigned: true}, CapPhysician},
		{store.Clinician, Relation{RRT: true}, CapRRT},
		{store.Clinician, Relation{}, CapNone},
		{store.Admin, Relation{}, CapUnitAdmin},
		{store.Operator, Relation{}, CapBiomed},
		{store.Viewer, Relation{Assigned: true}, CapNone},
		{store.QA, Relation{InUnit: true}, CapNone},
		{store.ProviderAdmin, Relation{}, CapNone},
	}
	for _, tt := range tests {
		if got := CapacityOf(tt.role, tt.rel); got != tt.want {
			t.Errorf("CapacityOf(%s, %+v) = %q, want %q", tt.role, tt.rel, got, tt.want)
		}
	}
}

// The engine audits refused and late commands and never changes state for them.
func TestCommandsAudited(t *testing.T) {
	h := newHarness(t, noon)
	vt(h, StatusPresent, 0)
	id := h.onlyOpen().Alarm.ID
	h.events = nil
	if err := h.do(1, Command{Action: ActAcknowledge, AlarmID: id, Actor: actor("v", CapNone)}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("ack by viewer = %v, want ErrForbidden", err)
	}
	if err := h.do(1, Command{Action: ActAcknowledge, AlarmID: id, Actor: Actor{UserID: "x", Tenant: "t2", Capacity: CapChargeNurse}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ack from another tenant = %v, want ErrNotFound", err)
	}
	if err := h.do(2, Command{Action: ActCancel, AlarmID: id, Actor: actor("adm", CapUnitAdmin)}); !errors.Is(err, ErrReasonRequired) {
		t.Fatalf("cancel without reason = %v, want ErrReasonRequired", err)
	}
	if err := h.do(3, Command{Action: ActAcknowledge, AlarmID: id, Actor: actor("A", CapAssignedNurse)}); err != nil {
		t.Fatal(err)
	}
	if err := h.do(4, Command{Action: ActAcknowledge, AlarmID: id, Actor: actor("B", CapUnitNurse)}); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("second ack = %v, want ErrInvalidTransition", err)
	}
	if err := h.do(5, Command{Action: ActCancel, AlarmID: id, Actor: actor("adm", CapUnitAdmin), Reason: "raised in error"}); err != nil {
		t.Fatal(err)
	}
	if err := h.do(6, Command{Action: ActAcknowledge, AlarmID: id, Actor: actor("B", CapUnitNurse)}); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("ack of cancelled = %v, want ErrInvalidTransition", err)
	}
	var types []string
	for _, e := range h.events {
		if e.Type != EvNotified {
			types = append(types, string(e.Type))
		}
	}
	eq(t, "audit", types, []string{"ACCESS_DENIED", "ACCESS_DENIED", "ACKNOWLEDGED", "NO_OP", "STATE_CHANGED", "NO_OP"})
	for i := 1; i < len(h.events); i++ {
		if h.events[i].Seq != h.events[i-1].Seq+1 {
			t.Errorf("event seq %d follows %d: gap", h.events[i].Seq, h.events[i-1].Seq)
		}
	}
}

// Every event carries the alarm as it is after the event: consumers (the live stream, the
// stored alarm) publish that snapshot, so an acknowledgement must read "acknowledged".
func TestEventSnapshotAfterTransition(t *testing.T) {
	h := newHarness(t, noon)
	vt(h, StatusPresent, 0)
	id := h.onlyOpen().Alarm.ID
	h.events = nil
	if err := h.do(3, Command{Action: ActAcknowledge, AlarmID: id, Actor: actor("A", CapAssignedNurse)}); err != nil {
		t.Fatal(err)
	}
	for _, e := range h.events {
		if e.Type == EvAcknowledged {
			if e.To != Acknowledged || e.Alarm.State != Acknowledged || e.Alarm.AcknowledgedBy != "A" {
				t.Fatalf("ACKNOWLEDGED event: to %s, alarm state %s, by %q", e.To, e.Alarm.State, e.Alarm.AcknowledgedBy)
			}
			return
		}
	}
	t.Fatal("no ACKNOWLEDGED event")
}
