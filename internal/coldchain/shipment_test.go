package coldchain

import (
	"errors"
	"testing"
)

func TestShipmentTransitions(t *testing.T) {
	states := []ShipmentState{Created, Packed, InTransit, Delivered, Quarantined, Released, Rejected, Cancelled}
	actions := []ShipmentAction{Pack, Dispatch, Receive, Quarantine, Release, Reject, AutoRelease, Cancel}
	allowed := map[transition]ShipmentState{
		{Created, Pack}: Packed, {Packed, Dispatch}: InTransit, {InTransit, Receive}: Delivered,
		{Delivered, Quarantine}: Quarantined, {Quarantined, Release}: Released, {Quarantined, Reject}: Rejected,
		{Quarantined, AutoRelease}: Released, {Created, Cancel}: Cancelled, {Packed, Cancel}: Cancelled,
	}
	for _, s := range states {
		for _, a := range actions {
			got, err := Transition(s, a, true)
			want, ok := allowed[transition{s, a}]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("Transition(%s, %s) = %s, %v; want %s", s, a, got, err, want)
			case !ok && err == nil:
				t.Errorf("Transition(%s, %s) = %s, nil; want a TransitionError", s, a, got)
			case !ok:
				if _, isT := errors.AsType[*TransitionError](err); !isT || got != s {
					t.Errorf("Transition(%s, %s) error %v (state %s), want *TransitionError and unchanged state", s, a, err, got)
				}
			}
		}
	}
	for _, a := range []ShipmentAction{Release, Reject} {
		if got, err := Transition(Quarantined, a, false); !errors.Is(err, ErrSignatureRequired) || got != Quarantined {
			t.Errorf("unsigned %s = %s, %v; want ErrSignatureRequired", a, got, err)
		}
	}
	if _, err := Transition(InTransit, Cancel, true); err == nil || err.Error() != "coldchain: shipment in state IN_TRANSIT cannot cancel" {
		t.Errorf("cancel in transit: %v", err)
	}
}

func TestAutoRelease(t *testing.T) {
	clean := ReleaseFacts{Enabled: true, MaxBudgetUsed: 0.49}
	tests := []struct {
		name string
		f    func(*ReleaseFacts)
		want bool
	}{
		{"clean", func(*ReleaseFacts) {}, true},
		{"not enabled", func(f *ReleaseFacts) { f.Enabled = false }, false},
		{"excursion", func(f *ReleaseFacts) { f.Excursions = 1 }, false},
		{"gap", func(f *ReleaseFacts) { f.Gaps = 1 }, false},
		{"calibration", func(f *ReleaseFacts) { f.CalibrationFlag = true }, false},
		{"budget 50 %", func(f *ReleaseFacts) { f.MaxBudgetUsed = 0.5 }, false},
	}
	for _, tt := range tests {
		f := clean
		tt.f(&f)
		if got, why := AutoReleaseAllowed(f); got != tt.want || (!got && why == "") {
			t.Errorf("%s: AutoReleaseAllowed = %v %q, want %v with a reason when false", tt.name, got, why, tt.want)
		}
	}
}
