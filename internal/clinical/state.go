package clinical

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/vigil-iomt/vigil/internal/clinical/baseline"
	"github.com/vigil-iomt/vigil/internal/news2"
)

// assembler is a news2.Assembler that also keeps what it holds in a form that can be saved
// (asmState): the live samples of each continuous window and the kept spot, oxygen and
// consciousness values. Feeding the saved values to a new assembler rebuilds the same one, so
// the processor's state after a restart or a failed commit is the state at its checkpoint.
type assembler struct {
	news2.Assembler
	st asmState
}

// asmState mirrors news2.Assembler's rules for what it keeps (assemble.go): a window keeps the
// samples newer than its newest minus MaxAgeContinuous (at least one); a spot value replaces
// the kept one unless older, a worse-ranked pulse of the same minute, or a device value of the
// same time as a manual one.
type asmState struct {
	Cont  map[string][]sampleIn `json:"cont,omitempty"` // param "/" rank → samples by time
	Spot  map[string]valueIn    `json:"spot,omitempty"` // param → kept spot value
	O2    *valueIn              `json:"o2,omitempty"`
	ACVPU *valueIn              `json:"acvpu,omitempty"`
}

type sampleIn struct {
	V  float64   `json:"v"`
	At time.Time `json:"at"`
}

type valueIn struct {
	V    float64      `json:"v"`
	At   time.Time    `json:"at"`
	Src  news2.Source `json:"src"`
	Rank int          `json:"rank"`
}

func (a *assembler) Add(p news2.Param, v float64, at time.Time, src news2.Source, rank int) {
	a.Assembler.Add(p, v, at, src, rank)
	if p >= news2.NumParams || p == news2.O2 || p == news2.ACVPU {
		return
	}
	if src == news2.Manual {
		rank = 3
	}
	if src == news2.Continuous {
		if p != news2.Pulse {
			rank = 0
		} else if rank < 0 || rank > 2 {
			rank = 2
		}
		if a.st.Cont == nil {
			a.st.Cont = map[string][]sampleIn{}
		}
		k := fmt.Sprintf("%d/%d", p, rank)
		w := a.st.Cont[k]
		i := len(w)
		for i > 0 && at.Before(w[i-1].At) {
			i--
		}
		w = slices.Insert(w, i, sampleIn{V: v, At: at})
		newest := w[len(w)-1].At
		drop := 0
		for drop < len(w)-1 && !w[drop].At.After(newest.Add(-news2.MaxAgeContinuous)) {
			drop++
		}
		a.st.Cont[k] = slices.Clip(w[drop:])
		return
	}
	k := fmt.Sprint(int(p))
	if old, ok := a.st.Spot[k]; ok {
		if at.Before(old.At) {
			return
		}
		if p == news2.Pulse && rank > old.Rank && at.Truncate(time.Minute).Equal(old.At.Truncate(time.Minute)) {
			return
		}
		if at.Equal(old.At) && old.Src == news2.Manual && src != news2.Manual {
			return
		}
	}
	if a.st.Spot == nil {
		a.st.Spot = map[string]valueIn{}
	}
	a.st.Spot[k] = valueIn{V: v, At: at, Src: src, Rank: rank}
}

func (a *assembler) SetOxygen(o news2.Oxygen, at time.Time, src news2.Source) {
	a.Assembler.SetOxygen(o, at, src)
	if a.st.O2 == nil || !at.Before(a.st.O2.At) {
		a.st.O2 = &valueIn{V: float64(o), At: at, Src: src}
	}
}

func (a *assembler) SetConsciousness(c news2.Consciousness, at time.Time) {
	a.Assembler.SetConsciousness(c, at)
	if a.st.ACVPU == nil || !at.Before(a.st.ACVPU.At) {
		a.st.ACVPU = &valueIn{V: float64(c), At: at, Src: news2.Manual}
	}
}

// restore feeds a saved state to a new assembler.
func (a *assembler) restore(st asmState) error {
	*a = assembler{}
	for k, w := range st.Cont {
		var p news2.Param
		var rank int
		if _, err := fmt.Sscanf(k, "%d/%d", &p, &rank); err != nil {
			return fmt.Errorf("window %q: %w", k, err)
		}
		for _, s := range w {
			a.Add(p, s.V, s.At, news2.Continuous, rank)
		}
	}
	for k, v := range st.Spot {
		var p news2.Param
		if _, err := fmt.Sscanf(k, "%d", &p); err != nil {
			return fmt.Errorf("spot %q: %w", k, err)
		}
		a.Add(p, v.V, v.At, v.Src, v.Rank)
	}
	if v := st.O2; v != nil {
		a.SetOxygen(news2.Oxygen(v.V), v.At, v.Src)
	}
	if v := st.ACVPU; v != nil {
		a.SetConsciousness(news2.Consciousness(v.V), v.At)
	}
	return nil
}

// openDay is what a baseline monitor holds of its open (not yet closed) day: its first
// reading and the multiset of its values (the day's value is the first or the median, and the
// median does not depend on the order). Saved as counts per value, it stays small however many
// readings a monitor streams in a day.
type openDay struct {
	Day     baseline.Day    `json:"day"`
	First   float64         `json:"first"`
	FirstAt time.Time       `json:"first_at"`
	Counts  map[float64]int `json:"-"`
	Values  []valueCount    `json:"values"` // Counts by value, when saved
}

type valueCount struct {
	V float64 `json:"v"`
	N int     `json:"n"`
}

// add records a reading the monitor accepted (closed: it opened a new day).
func (d *openDay) add(at time.Time, day baseline.Day, v float64, closed bool) {
	if closed || d.Counts == nil || day != d.Day {
		*d = openDay{Day: day, First: v, FirstAt: at, Counts: map[float64]int{}}
	}
	d.Counts[v]++
	if at.Before(d.FirstAt) {
		d.First, d.FirstAt = v, at
	}
}

// saved returns a copy for procState, with Values sorted by value.
func (d *openDay) saved() openDay {
	out := openDay{Day: d.Day, First: d.First, FirstAt: d.FirstAt, Values: make([]valueCount, 0, len(d.Counts))}
	for v, n := range d.Counts {
		out.Values = append(out.Values, valueCount{V: v, N: n})
	}
	slices.SortFunc(out.Values, func(a, b valueCount) int { return cmp.Compare(a.V, b.V) })
	return out
}

// procState is what the processor saves of a patient with each batch (store.ClinicalState):
// what the stored sets and daily values do not hold. With them it rebuilds the patient's state
// as of the batch's checkpoint.
type procState struct {
	Newest     time.Time            `json:"newest"`
	LastMinute int64                `json:"last_minute"`
	Onset      time.Time            `json:"onset"`
	Overdue    bool                 `json:"overdue,omitempty"`
	MonitorReq bool                 `json:"monitor_req,omitempty"`
	Rising     bool                 `json:"rising,omitempty"`
	Asm        asmState             `json:"asm"`
	Days       map[string]openDay   `json:"days,omitempty"` // baseline param → its open day
	Seen       map[string]time.Time `json:"seen,omitempty"` // manual observations scored → their time
}

// snapshot copies the patient's saved part (the slices are copied: the live state goes on).
func (ps *patientState) snapshot() *procState {
	st := &procState{Newest: ps.newest, LastMinute: ps.lastMinute, Onset: ps.onset, Overdue: ps.overdue, MonitorReq: ps.monitorReq,
		Rising: ps.rising, Asm: asmState{O2: ps.asm.st.O2, ACVPU: ps.asm.st.ACVPU}}
	if len(ps.asm.st.Cont) > 0 {
		st.Asm.Cont = make(map[string][]sampleIn, len(ps.asm.st.Cont))
		for k, w := range ps.asm.st.Cont {
			st.Asm.Cont[k] = slices.Clone(w)
		}
	}
	if len(ps.asm.st.Spot) > 0 {
		st.Asm.Spot = make(map[string]valueIn, len(ps.asm.st.Spot))
		for k, v := range ps.asm.st.Spot {
			st.Asm.Spot[k] = v
		}
	}
	if len(ps.days) > 0 {
		st.Days = make(map[string]openDay, len(ps.days))
		for k, d := range ps.days {
			st.Days[k] = d.saved()
		}
	}
	if len(ps.seen) > 0 {
		st.Seen = make(map[string]time.Time, len(ps.seen))
		for k, v := range ps.seen {
			st.Seen[k] = v
		}
	}
	return st
}

// restore applies a saved state to a patient loaded from the store (its patient record, last
// sets and closed baseline days), in place of the cold start's reloads.
func (s *Service) restore(ps *patientState, st *procState) error {
	ps.newest, ps.lastMinute, ps.onset, ps.overdue, ps.monitorReq, ps.rising = st.Newest, st.LastMinute, st.Onset, st.Overdue, st.MonitorReq, st.Rising
	if err := ps.asm.restore(st.Asm); err != nil {
		return fmt.Errorf("saved state: %w", err)
	}
	for k, d := range st.Days {
		m, err := s.monitor(ps, baseline.Param(k))
		if err != nil {
			return fmt.Errorf("saved state: %w", err)
		}
		live := &openDay{}
		m.Add(d.FirstAt, d.Day, d.First)
		live.add(d.FirstAt, d.Day, d.First, true)
		skip := true // the first reading, added above
		for _, vc := range d.Values {
			for range vc.N {
				if skip && vc.V == d.First {
					skip = false
					continue
				}
				m.Add(d.FirstAt, d.Day, vc.V)
				live.add(d.FirstAt, d.Day, vc.V, false)
			}
		}
		ps.days[k] = live
	}
	for id, at := range st.Seen {
		ps.seen[id] = at
		s.seen[id] = at
	}
	return nil
}

// savedLocked returns the saved state of a patient (nil: none), loading the saved states at
// first use. Called with s.mu held.
func (s *Service) savedLocked(ctx context.Context, tenant, patient string) (*procState, error) {
	if s.saved == nil {
		sts, err := s.st.ClinicalStates(ctx)
		if err != nil {
			return nil, err
		}
		saved := make(map[string]*procState, len(sts))
		for _, st := range sts {
			var ps procState
			if err := json.Unmarshal(st.JSON, &ps); err != nil {
				return nil, fmt.Errorf("saved state of a patient of %s: %w", st.Tenant, err)
			}
			saved[st.Tenant+"/"+st.Patient] = &ps
		}
		s.saved = saved
	}
	return s.saved[tenant+"/"+patient], nil
}
