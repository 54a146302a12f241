package clinical

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/clinical/baseline"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Flag is a stored PBM day result worth showing (docs/clinical.md §5): which parameter and
// direction, how far from the patient's own baseline, since when, and the data behind it.
type Flag struct {
	ID          string       `json:"id"`
	Patient     string       `json:"patient"`
	Param       string       `json:"param"`
	Code        string       `json:"code"`
	Direction   string       `json:"direction"`
	Day         string       `json:"day"`
	State       string       `json:"state"`
	Value       float64      `json:"value"`
	Readings    int          `json:"readings"`
	Baseline    BaselineData `json:"baseline"`
	Z           float64      `json:"z"`
	CUSUM       float64      `json:"cusum"`
	EWMA        float64      `json:"ewma"`
	Watch       bool         `json:"watch"`
	Since       string       `json:"since,omitempty"`
	Days        int          `json:"days"`
	K           float64      `json:"k"`
	H           float64      `json:"h"`
	Explanation string       `json:"explanation"`
}

// BaselineData is the patient's baseline behind a flag.
type BaselineData struct {
	Median float64 `json:"median"`
	MAD    float64 `json:"mad"`
	Scale  float64 `json:"scale"`
	N      int     `json:"n"`
	From   string  `json:"from"`
	To     string  `json:"to"`
}

// dailyValue is a closed PBM day, stored so that a restart rebuilds the baselines exactly.
type dailyValue struct {
	Param string  `json:"param"`
	Day   string  `json:"day"`
	Value float64 `json:"value"`
	N     int     `json:"n"`
}

func dayTime(d baseline.Day) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (s *Service) monitor(ps *patientState, p baseline.Param) (*baseline.Monitor, error) {
	if m := ps.monitors[p]; m != nil {
		return m, nil
	}
	cfg, ok := baseline.Defaults(p)
	if !ok {
		return nil, fmt.Errorf("no baseline defaults for %s", p)
	}
	m, err := baseline.New(p, cfg)
	if err != nil {
		return nil, err
	}
	ps.monitors[p] = m
	return m, nil
}

// feedBaseline adds a reading to the patient's PBM of p; a closed day is stored with its flags.
// Called with s.mu held.
func (s *Service) feedBaseline(ctx context.Context, w *batch, ps *patientState, p baseline.Param, at time.Time, v float64) error {
	m, err := s.monitor(ps, p)
	if err != nil {
		return err
	}
	day := baseline.DayOf(at, ps.loc)
	res, closed, late := m.Add(at, day, v)
	if late {
		return nil
	}
	// Keep what the monitor holds of its open day for the saved state (procState.Days).
	d := ps.days[string(p)]
	if d == nil {
		d = &openDay{}
		ps.days[string(p)] = d
	}
	d.add(at, day, v, closed)
	if !closed {
		return nil
	}
	return s.storeDay(ctx, w, ps, &res)
}

// storeDay stores (into w) a closed day's value and a flag per direction worth showing.
func (s *Service) storeDay(_ context.Context, w *batch, ps *patientState, res *baseline.DayResult) error {
	if !res.HasValue {
		return nil
	}
	dv, err := json.Marshal(dailyValue{Param: string(res.Param), Day: res.Day.String(), Value: res.X, N: res.Readings})
	if err != nil {
		return err
	}
	w.put(store.ClinicalRecord{Kind: store.RecDailyValue, ID: hashID(ps.tenant, ps.id, string(res.Param), res.Day.String()),
		Tenant: ps.tenant, Owner: ps.id, At: dayTime(res.Day), Tag: string(res.Param), JSON: dv})
	for i := range res.NTracks {
		tr := &res.Tracks[i]
		if tr.State != baseline.Accumulating && tr.State != baseline.Alerting && tr.State != baseline.AlertOpen && !tr.Watch {
			continue
		}
		f := Flag{Patient: ps.id, Param: string(res.Param), Code: res.Code(tr), Direction: tr.Dir.String(), Day: res.Day.String(),
			State: tr.State.String(), Value: res.X, Readings: res.Readings, Z: tr.Z, CUSUM: tr.S, EWMA: tr.EWMA, Watch: tr.Watch,
			Days: tr.Days, K: res.K, H: res.H, Explanation: res.Explain(tr),
			Baseline: BaselineData{Median: res.Baseline.Median, MAD: res.Baseline.MAD, Scale: res.Baseline.Scale, N: res.Baseline.N,
				From: res.Baseline.From.String(), To: res.Baseline.To.String()}}
		if tr.S > 0 {
			f.Since = tr.Since.String()
		}
		f.ID = hashID(ps.tenant, ps.id, f.Param, f.Direction, f.Day)
		raw, err := json.Marshal(f)
		if err != nil {
			return err
		}
		w.put(store.ClinicalRecord{Kind: store.RecBaselineFlag, ID: f.ID, Tenant: ps.tenant, Owner: ps.id,
			At: dayTime(res.Day), Tag: f.State, JSON: raw})
	}
	return nil
}

// rebuildBaselines replays the stored daily values of the last 64 days into fresh monitors.
func (s *Service) rebuildBaselines(ctx context.Context, ps *patientState, now time.Time) error {
	rs, err := s.st.Records(ctx, store.RecordQuery{Tenant: ps.tenant, Kind: store.RecDailyValue, Owner: ps.id, From: now.AddDate(0, 0, -(baseline.Lookback + 4))})
	if err != nil {
		return err
	}
	for _, r := range rs {
		var dv dailyValue
		if err := json.Unmarshal(r.JSON, &dv); err != nil {
			return fmt.Errorf("daily value %s: %w", r.ID, err)
		}
		m, err := s.monitor(ps, baseline.Param(dv.Param))
		if err != nil {
			continue
		}
		day := baseline.DayOf(r.At, time.UTC)
		m.Add(r.At, day, dv.Value)
		m.CloseDay()
	}
	return nil
}

// Flags returns a patient's baseline flags with day in [from, to), newest first.
func (s *Service) Flags(ctx context.Context, tenant, patient string, from, to time.Time) ([]Flag, error) {
	rs, err := s.st.Records(ctx, store.RecordQuery{Tenant: tenant, Kind: store.RecBaselineFlag, Owner: patient, From: from, To: to, Desc: true})
	if err != nil {
		return nil, err
	}
	out := make([]Flag, 0, len(rs))
	for _, r := range rs {
		var f Flag
		if err := json.Unmarshal(r.JSON, &f); err != nil {
			return nil, fmt.Errorf("flag %s: %w", r.ID, err)
		}
		out = append(out, f)
	}
	return out, nil
}
