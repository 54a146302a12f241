package clinical

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// AssignmentSource is what the Attributor reads from the store.
type AssignmentSource interface {
	Tenants(ctx context.Context) ([]store.Tenant, error)
	Assignments(ctx context.Context, q store.AssignmentQuery) ([]store.DeviceAssignment, error)
	Encounters(ctx context.Context, tenant, patient string) ([]store.Encounter, error)
}

// Attributor knows every tenant's device assignments and bed stays in memory and answers whose
// a device's reading is at a time. It implements alarmproc.SubjectResolver. Refresh reloads
// it; it is safe for concurrent use.
type Attributor struct {
	src AssignmentSource

	mu      sync.RWMutex                          // guards the fields below
	devices map[string]map[string][]window        // tenant → device → assignments
	stays   map[string]map[string][]store.BedStay // tenant → patient → stays, oldest first
	open    map[string]map[string]openEncounter   // tenant → patient → open encounter
}

type window struct {
	patient  string
	kind     string
	from, to time.Time // to zero: open
}

type openEncounter struct {
	ID       string
	Admitted time.Time
	Ward     string
	Bed      string
}

// NewAttributor returns an empty Attributor; call Refresh before use.
func NewAttributor(src AssignmentSource) *Attributor {
	return &Attributor{src: src}
}

// Refresh reloads every tenant's assignments and encounters.
func (a *Attributor) Refresh(ctx context.Context) error {
	tenants, err := a.src.Tenants(ctx)
	if err != nil {
		return fmt.Errorf("attributor: %w", err)
	}
	devices := map[string]map[string][]window{}
	stays := map[string]map[string][]store.BedStay{}
	open := map[string]map[string]openEncounter{}
	for _, t := range tenants {
		as, err := a.src.Assignments(ctx, store.AssignmentQuery{Tenant: t.ID})
		if err != nil {
			return fmt.Errorf("attributor: %w", err)
		}
		if len(as) > 0 {
			devices[t.ID] = map[string][]window{}
		}
		for _, x := range as {
			devices[t.ID][x.Device] = append(devices[t.ID][x.Device], window{patient: x.Patient, kind: x.Kind, from: x.From, to: x.To})
		}
		encs, err := a.src.Encounters(ctx, t.ID, "")
		if err != nil {
			return fmt.Errorf("attributor: %w", err)
		}
		if len(encs) > 0 {
			stays[t.ID], open[t.ID] = map[string][]store.BedStay{}, map[string]openEncounter{}
		}
		for _, e := range encs {
			stays[t.ID][e.Patient] = append(stays[t.ID][e.Patient], e.Stays...)
			if e.Discharged.IsZero() && len(e.Stays) > 0 {
				last := e.Stays[len(e.Stays)-1]
				open[t.ID][e.Patient] = openEncounter{ID: e.ID, Admitted: e.Admitted, Ward: last.Ward, Bed: last.Bed}
			}
		}
		for _, ss := range stays[t.ID] {
			slices.SortFunc(ss, func(x, y store.BedStay) int { return x.From.Compare(y.From) })
		}
	}
	a.mu.Lock()
	a.devices, a.stays, a.open = devices, stays, open
	a.mu.Unlock()
	return nil
}

// PatientAt returns the patient device was assigned to at at.
func (a *Attributor) PatientAt(tenant, device string, at time.Time) (string, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, w := range a.devices[tenant][device] {
		if !at.Before(w.from) && (w.to.IsZero() || at.Before(w.to)) {
			return w.patient, true
		}
	}
	return "", false
}

// WardAt returns the ward the patient was in at at ("" when not admitted then).
func (a *Attributor) WardAt(tenant, patient string, at time.Time) string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, s := range a.stays[tenant][patient] {
		if !at.Before(s.From) && (s.To.IsZero() || at.Before(s.To)) {
			return s.Ward
		}
	}
	return ""
}

// SubjectAt implements alarmproc.SubjectResolver: the patient the device was assigned to at
// at, and the patient's ward then.
func (a *Attributor) SubjectAt(tenant, device string, at time.Time) (subject, unit string, ok bool) {
	p, ok := a.PatientAt(tenant, device, at)
	if !ok {
		return "", "", false
	}
	return p, a.WardAt(tenant, p, at), true
}

// admitted lists the patients with an open encounter, by tenant and patient.
func (a *Attributor) admitted() []admission {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []admission
	for t, ps := range a.open {
		for p, e := range ps {
			out = append(out, admission{tenant: t, patient: p, enc: e})
		}
	}
	slices.SortFunc(out, func(x, y admission) int {
		if x.tenant != y.tenant {
			if x.tenant < y.tenant {
				return -1
			}
			return 1
		}
		if x.patient < y.patient {
			return -1
		}
		if x.patient > y.patient {
			return 1
		}
		return 0
	})
	return out
}

type admission struct {
	tenant, patient string
	enc             openEncounter
}

// devicesAt lists the devices assigned to the patient at at, sorted.
func (a *Attributor) devicesAt(tenant, patient string, at time.Time) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for dev, ws := range a.devices[tenant] {
		for _, w := range ws {
			if w.patient == patient && !at.Before(w.from) && (w.to.IsZero() || at.Before(w.to)) {
				out = append(out, dev)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
