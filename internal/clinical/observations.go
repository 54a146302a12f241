package clinical

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/vigil-iomt/vigil/internal/news2"
	"github.com/vigil-iomt/vigil/internal/store"
)

// InputError is invalid input to a clinical operation: which field and why. The API answers
// 400 with both.
type InputError struct {
	Field             string
	Reason            string
	NeedsConfirmation bool // a manual value outside the device range: send "confirmed": true
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Observation is a manual observation a nurse entered (docs/clinical.md §5). Absent values are nil or "".
type Observation struct {
	ID        string    `json:"id"`
	Patient   string    `json:"patient"`
	At        time.Time `json:"at"`
	EnteredAt time.Time `json:"entered_at"`
	EnteredBy string    `json:"entered_by"`
	RR        *float64  `json:"rr,omitempty"`
	SpO2      *float64  `json:"spo2,omitempty"`
	O2        string    `json:"o2,omitempty"`
	SBP       *float64  `json:"sbp,omitempty"`
	Pulse     *float64  `json:"pulse,omitempty"`
	Temp      *float64  `json:"temp,omitempty"`
	ACVPU     string    `json:"acvpu,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// ObservationInput is the entry form's request.
type ObservationInput struct {
	At                    *time.Time `json:"at"`
	RR                    *float64   `json:"rr"`
	SpO2                  *float64   `json:"spo2"`
	O2                    string     `json:"o2"`
	SBP                   *float64   `json:"sbp"`
	Pulse                 *float64   `json:"pulse"`
	Temp                  *float64   `json:"temp"`
	ACVPU                 string     `json:"acvpu"`
	NewConfusionConfirmed bool       `json:"new_confusion_confirmed"`
	Confirmed             bool       `json:"confirmed"`
	Note                  string     `json:"note"`
}

// Validate checks in against news2.md §2 and §2.1 at now and returns the observation (without
// id, patient and author).
func (in ObservationInput) Validate(now time.Time) (Observation, error) {
	o := Observation{At: now.UTC(), EnteredAt: now.UTC(), O2: in.O2, ACVPU: in.ACVPU, Note: in.Note}
	if in.At != nil {
		if in.At.After(now.Add(5 * time.Minute)) {
			return o, invalid("at", "more than 5 minutes in the future")
		}
		if in.At.Before(now.Add(-24 * time.Hour)) {
			return o, invalid("at", "older than 24 hours")
		}
		o.At = in.At.UTC()
	}
	n := 0
	for _, f := range []struct {
		name string
		p    news2.Param
		v    *float64
		dst  **float64
	}{{"rr", news2.RR, in.RR, &o.RR}, {"spo2", news2.SpO2, in.SpO2, &o.SpO2}, {"sbp", news2.SBP, in.SBP, &o.SBP},
		{"pulse", news2.Pulse, in.Pulse, &o.Pulse}, {"temp", news2.Temp, in.Temp, &o.Temp}} {
		if f.v == nil {
			continue
		}
		v := *f.v
		if math.IsNaN(v) || math.IsInf(v, 0) || !news2.Plausible(f.p, v, true) {
			return o, invalid(f.name, "%v is outside the range for manual entry (news2.md §2.1)", v)
		}
		if !news2.Plausible(f.p, v, false) && !in.Confirmed {
			return o, &InputError{Field: f.name, Reason: fmt.Sprintf("%v is outside the device range; confirm it", v), NeedsConfirmation: true}
		}
		*f.dst = &v
		n++
	}
	if in.O2 != "" {
		if _, err := news2.ParseOxygen(in.O2); err != nil {
			return o, invalid("o2", "want AIR or OXYGEN")
		}
		n++
	}
	if in.ACVPU != "" {
		c, err := news2.ParseConsciousness(in.ACVPU)
		if err != nil {
			return o, invalid("acvpu", "want one of A, C, V, P, U")
		}
		if c == news2.Confused && !in.NewConfusionConfirmed {
			return o, invalid("acvpu", "C means new or worse confusion than usual: confirm with new_confusion_confirmed (long-standing confusion is A)")
		}
		n++
	}
	if n == 0 {
		return o, invalid("", "no observation: give at least one of rr, spo2, o2, sbp, pulse, temp, acvpu")
	}
	if len(in.Note) > 2000 {
		return o, invalid("note", "longer than 2000 characters")
	}
	return o, nil
}

// addTo puts the observation into an assembler as manual readings.
func (o *Observation) addTo(a *assembler) {
	for _, f := range []struct {
		p news2.Param
		v *float64
	}{{news2.RR, o.RR}, {news2.SpO2, o.SpO2}, {news2.SBP, o.SBP}, {news2.Pulse, o.Pulse}, {news2.Temp, o.Temp}} {
		if f.v != nil {
			a.Add(f.p, *f.v, o.At, news2.Manual, 3)
		}
	}
	if ox, err := news2.ParseOxygen(o.O2); err == nil {
		a.SetOxygen(ox, o.At, news2.Manual)
	}
	if c, err := news2.ParseConsciousness(o.ACVPU); err == nil {
		a.SetConsciousness(c, o.At)
	}
}

// RecordObservation stores a nurse's manual observation (durable first), then scores it
// through the processor's assembler at its time and stores that set (source manual). The
// caller audits it.
func (s *Service) RecordObservation(ctx context.Context, tenant, patient, actor string, in ObservationInput) (Observation, *SetDoc, error) {
	if _, err := s.st.Patient(ctx, tenant, patient); err != nil {
		return Observation{}, nil, err
	}
	now := s.now()
	o, err := in.Validate(now)
	if err != nil {
		return Observation{}, nil, err
	}
	o.ID = hashID(tenant, patient, "obs", actor, now.Format(time.RFC3339Nano))
	o.Patient, o.EnteredBy = patient, actor
	raw, err := json.Marshal(o)
	if err != nil {
		return Observation{}, nil, err
	}
	// Scored here when this node runs the processor (or no processor runs anywhere, as in
	// tests); otherwise the processor's node finds it in the store within PollEvery and scores
	// it there, with the patient's device streams.
	direct := s.leading.Load() || s.cfg.Log == nil
	if direct {
		s.mu.Lock()
		s.seen[o.ID] = o.At // pollManual must not take it first
		s.mu.Unlock()
	}
	if _, err := s.st.PutRecord(ctx, store.ClinicalRecord{Kind: store.RecManualObs, ID: o.ID, Tenant: tenant, Owner: patient, At: o.At, JSON: raw}); err != nil {
		return Observation{}, nil, err
	}
	if !direct {
		return o, nil, nil
	}
	set, err := s.scoreManual(ctx, tenant, o, true)
	if err != nil {
		return o, nil, err
	}
	return o, set, nil
}

// scoreManual adds a stored manual observation to the patient's assembler and stores its set,
// once per observation (direct: the API's own call, marked seen before it was stored), and
// commits that at once after the log's pending work. When the commit fails the observation is
// left for pollManual to score again. Called without s.mu.
func (s *Service) scoreManual(ctx context.Context, tenant string, o Observation, direct bool) (set *SetDoc, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, done := s.seen[o.ID]; done && !direct {
		return nil, nil
	}
	s.seen[o.ID] = o.At
	defer func() {
		if err != nil {
			delete(s.seen, o.ID)
		}
	}()
	if err := s.flushLocked(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	ps, err := s.patient(ctx, tenant, o.Patient)
	if err != nil {
		return nil, err
	}
	ps.seen[o.ID] = o.At
	for id, at := range ps.seen {
		if at.Before(now.Add(-26 * time.Hour)) {
			delete(ps.seen, id)
		}
	}
	// patient() may have loaded this very observation from the store already; adding it twice
	// is harmless (an equal manual value or assertion replaces itself).
	o.addTo(&ps.asm)
	// Evaluate at the newest reading seen if that is later, so device spot values newer than
	// the observation still count (the assembler keeps only the newest spot value).
	t := o.At
	if ps.newest.After(t) && !ps.newest.After(now) {
		t = ps.newest
	}
	w := newBatch()
	conds, set, err := s.evaluate(ctx, w, ps, t, SourceManual, o.ID)
	if err != nil {
		s.resetLocked() // the observation is in the assembler but not saved
		return nil, err
	}
	w.conds = conds
	w.states[ps] = ps.snapshot()
	if err := s.commitSideLocked(ctx, w); err != nil {
		return nil, err
	}
	return set, nil
}

// pollManual scores manual observations of the last 25 h that this processor has not seen
// (entered through another node's API). The first poll after Run starts only takes note of
// those entered before it started of patients without a saved state: their states load
// recent observations themselves; a saved state lists the observations it includes.
func (s *Service) pollManual(ctx context.Context) error {
	tenants, err := s.st.Tenants(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	var todo []Observation
	var tenantOf []string
	s.mu.Lock()
	first := !s.polled
	s.polled = true
	for id, at := range s.seen {
		if at.Before(now.Add(-26 * time.Hour)) {
			delete(s.seen, id)
		}
	}
	for _, t := range tenants {
		rs, err := s.st.Records(ctx, store.RecordQuery{Tenant: t.ID, Kind: store.RecManualObs, From: now.Add(-25 * time.Hour)})
		if err != nil {
			s.mu.Unlock()
			return err
		}
		for _, r := range rs {
			if _, done := s.seen[r.ID]; done {
				continue
			}
			var o Observation
			if err := json.Unmarshal(r.JSON, &o); err != nil {
				s.mu.Unlock()
				return fmt.Errorf("manual observation %s: %w", r.ID, err)
			}
			if first && o.EnteredAt.Before(s.started) {
				st, err := s.savedLocked(ctx, t.ID, o.Patient)
				if err != nil {
					s.mu.Unlock()
					return err
				}
				if st == nil {
					s.seen[r.ID] = r.At // entered before this processor started: loaded with the patient
					continue
				}
				if _, done := st.Seen[r.ID]; done {
					s.seen[r.ID] = r.At // scored into the saved state
					continue
				}
			}
			todo, tenantOf = append(todo, o), append(tenantOf, t.ID)
		}
	}
	s.mu.Unlock()
	for i, o := range todo {
		if _, err := s.scoreManual(ctx, tenantOf[i], o, false); err != nil {
			return err
		}
	}
	return nil
}

// Observations lists a patient's manual observations in [from, to), newest first.
func (s *Service) Observations(ctx context.Context, tenant, patient string, from, to time.Time) ([]Observation, error) {
	rs, err := s.st.Records(ctx, store.RecordQuery{Tenant: tenant, Kind: store.RecManualObs, Owner: patient, From: from, To: to, Desc: true})
	if err != nil {
		return nil, err
	}
	out := make([]Observation, 0, len(rs))
	for _, r := range rs {
		var o Observation
		if err := json.Unmarshal(r.JSON, &o); err != nil {
			return nil, fmt.Errorf("manual observation %s: %w", r.ID, err)
		}
		out = append(out, o)
	}
	return out, nil
}
