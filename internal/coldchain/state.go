package coldchain

import (
	"maps"
	"time"
)

// The streaming types keep their state in unexported fields so that callers cannot break their
// invariants. A processor that must survive a restart without replaying the whole history
// saves what State returns (it is plain data, JSON-friendly) and continues with the matching
// Restore function; feeding the rest of the readings then gives exactly the events an
// uninterrupted run would have given.

// DetectorState is the streaming state of a Detector.
type DetectorState struct {
	Prev      Sample
	HavePrev  bool
	Open      bool
	Excursion Excursion // the open excursion (meaningful when Open)
	DoorOpen  bool
	HeldUntil time.Time
}

// State returns a copy of d's streaming state.
func (d *Detector) State() DetectorState {
	ex := d.ex
	ex.Gaps = append([]Interval(nil), d.ex.Gaps...)
	return DetectorState{Prev: d.prev, HavePrev: d.havePrev, Open: d.open, Excursion: ex, DoorOpen: d.doorOpen, HeldUntil: d.heldUntil}
}

// RestoreDetector returns a detector for cfg that continues from st.
func RestoreDetector(cfg DetectorConfig, st DetectorState) (*Detector, error) {
	d, err := NewDetector(cfg)
	if err != nil {
		return nil, err
	}
	d.prev, d.havePrev, d.open, d.doorOpen, d.heldUntil = st.Prev, st.HavePrev, st.Open, st.DoorOpen, st.HeldUntil
	d.ex = st.Excursion
	d.ex.Gaps = append([]Interval(nil), st.Excursion.Gaps...)
	return d, nil
}

// ChargerState is the streaming state of a Charger.
type ChargerState struct {
	Prev     Sample
	HavePrev bool
	LastOK   Sample
	HaveOK   bool
	GapFrom  time.Time
	InGap    bool
}

// State returns c's streaming state.
func (c *Charger) State() ChargerState {
	return ChargerState{Prev: c.prev, HavePrev: c.havePrev, LastOK: c.lastOK, HaveOK: c.haveOK, GapFrom: c.gapFrom, InGap: c.inGap}
}

// RestoreCharger returns a charger (as NewCharger) that continues from st.
func RestoreCharger(source string, tm Timing, labelled Ranges, st ChargerState) (*Charger, error) {
	c, err := NewCharger(source, tm, labelled)
	if err != nil {
		return nil, err
	}
	c.prev, c.havePrev, c.lastOK, c.haveOK, c.gapFrom, c.inGap = st.Prev, st.HavePrev, st.LastOK, st.HaveOK, st.GapFrom, st.InGap
	return c, nil
}

// DoorState is the streaming state of a DoorMonitor.
type DoorState struct {
	Open   bool
	Since  time.Time
	Warned bool
}

// State returns m's streaming state.
func (m *DoorMonitor) State() DoorState {
	return DoorState{Open: m.open, Since: m.since, Warned: m.warned}
}

// Restore continues m from st (LeftOpenAfter is kept).
func (m *DoorMonitor) Restore(st DoorState) { m.open, m.since, m.warned = st.Open, st.Since, st.Warned }

// GeofenceState is the streaming state of a Geofence.
type GeofenceState struct {
	Inside    bool
	Known     bool
	Candidate int
	Since     time.Time
}

// State returns g's streaming state.
func (g *Geofence) State() GeofenceState {
	return GeofenceState{Inside: g.inside, Known: g.known, Candidate: g.candidate, Since: g.since}
}

// RestoreGeofence returns a fence (as NewGeofence) that continues from st.
func RestoreGeofence(cfg GeofenceConfig, st GeofenceState) (*Geofence, error) {
	g, err := NewGeofence(cfg)
	if err != nil {
		return nil, err
	}
	g.inside, g.known, g.candidate, g.since = st.Inside, st.Known, st.Candidate, st.Since
	return g, nil
}

// Runs returns a copy of the current single-period runs of b (rule id → time in band so far),
// which, with b.State, is all a budget carries between processes.
func (b *Budget) Runs() map[string]time.Duration { return maps.Clone(b.runs) }

// RestoreBudget returns a budget (as NewBudget) that continues from st and the single-period
// runs of Runs.
func RestoreBudget(p Profile, st BudgetState, runs map[string]time.Duration) (*Budget, error) {
	b, err := NewBudget(p, st)
	if err != nil {
		return nil, err
	}
	for k, v := range runs {
		b.runs[k] = v
	}
	return b, nil
}
