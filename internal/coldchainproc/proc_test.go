package coldchainproc

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

var x1 = []float64{5.0, 5.2, 7.9, 8.4, 9.1, 10.2, 9.6, 8.2, 7.8, 8.1, 7.6, 6.0, 5.1}

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

var x1Limits = Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 30 * 60, DoorToleranceS: 10 * 60, IntervalS: 300}

// TestExampleX1 runs spec X1 through the processor: one excursion 15→50 (35 min), peak 10.2 at
// 25, 30 min above 8 °C, 28.0 °C·min; the excursion-delay alarm (D = 30 min) at t = 40 with
// onset 15, cleared at 50.
func TestExampleX1(t *testing.T) {
	e := newEnv(t)
	e.unit("fridge", x1Limits)
	for i, c := range x1 {
		e.feed(one(temp("fridge-logger", at(5*i), c)))
	}
	exs := e.excursions("fridge")
	if len(exs) != 1 {
		t.Fatalf("%d excursions, want 1: %+v", len(exs), exs)
	}
	x := exs[0]
	if !x.Start.Equal(at(15)) || x.End == nil || !x.End.Equal(at(50)) || x.DurationS != 35*60 || x.Ongoing {
		t.Errorf("excursion %v→%v (%v s, ongoing %v), want 15→50 min, 2100 s", x.Start, x.End, x.DurationS, x.Ongoing)
	}
	if x.PeakC != 10.2 || !x.PeakAt.Equal(at(25)) || x.TimeOutOfRangeS != 30*60 || !near(x.DegreeMinutes, 28.0, 1e-9) {
		t.Errorf("peak %v at %v, out of range %v s, %v °C·min; want 10.2 at 25 min, 1800 s, 28.0", x.PeakC, x.PeakAt, x.TimeOutOfRangeS, x.DegreeMinutes)
	}
	if x.NotifiedAt == nil || !x.NotifiedAt.Equal(at(40)) {
		t.Errorf("notified at %v, want t = 40 min", x.NotifiedAt)
	}
	cs := e.alarms.of(alarm.ExcursionHigh)
	if len(cs) != 2 || cs[0].Status != alarm.StatusPresent || !cs[0].At.Equal(at(40)) || !cs[0].Onset.Equal(at(15)) ||
		cs[1].Status != alarm.StatusCleared || !cs[1].At.Equal(at(50)) || !cs[1].Onset.Equal(at(15)) || !cs[0].Latching {
		t.Errorf("EXCURSION_HIGH conditions %+v, want latching present at 40 (onset 15), cleared at 50", cs)
	}
	st, err := e.svc.status(t.Context(), tenant, "fridge")
	e.must(err)
	if st.State != StateInRange || st.TemperatureC == nil || *st.TemperatureC != 5.1 {
		t.Errorf("status %+v, want in range at 5.1 °C", st)
	}
}

// TestExampleX2DoorTolerance: door open 12–22: the excursion is recorded with door_open and the
// same metrics; notification at 40 as in X1.
func TestExampleX2DoorTolerance(t *testing.T) {
	e := newEnv(t)
	e.unit("fridge", x1Limits)
	for i, c := range x1 {
		m := 5 * i
		if m == 15 {
			e.feed(one(door("fridge-logger", at(12), true)))
		}
		if m == 25 {
			e.feed(one(door("fridge-logger", at(22), false)))
		}
		e.feed(one(temp("fridge-logger", at(m), c)))
	}
	exs := e.excursions("fridge")
	if len(exs) != 1 || !exs[0].DoorOpen || !near(exs[0].DegreeMinutes, 28, 1e-9) || exs[0].NotifiedAt == nil || !exs[0].NotifiedAt.Equal(at(40)) {
		t.Fatalf("excursions %+v, want one with door_open, 28 °C·min, notified at 40", exs)
	}
}

// TestExcursionDelayHysteresisZero: X1 with h = 0 gives two excursions and no alarm.
func TestExcursionDelayHysteresisZero(t *testing.T) {
	e := newEnv(t)
	l := x1Limits
	l.HysteresisC = 0
	e.unit("fridge", l)
	for i, c := range x1 {
		e.feed(one(temp("fridge-logger", at(5*i), c)))
	}
	exs := e.excursions("fridge")
	if len(exs) != 2 || exs[0].DurationS != 25*60 || !near(exs[0].DegreeMinutes, 27.5, 1e-9) || exs[1].DurationS != 5*60 ||
		!near(exs[1].DegreeMinutes, 0.5, 1e-9) || exs[1].PeakC != 8.1 {
		t.Fatalf("excursions %+v, want 15→40 (27.5 °C·min) and 45→50 (0.5 °C·min, peak 8.1)", exs)
	}
	if cs := e.alarms.of(alarm.ExcursionHigh); len(cs) != 0 {
		t.Fatalf("conditions %+v, want none (D = 30 min never reached)", cs)
	}
}

// b1Leg feeds n readings of c every step from start and returns the time after the last.
func (e *env) leg(device string, start time.Time, step time.Duration, n int, c float64) time.Time {
	for i := range n {
		e.feed(one(temp(device, start.Add(time.Duration(i)*step), c)))
	}
	return start.Add(time.Duration(n) * step)
}

// TestBudgetAcrossLegsB1 follows a lot from a shipment (8.75 h in band A, as S-2 on arrival in
// B1) into a clinic fridge that loses power from 2025-03-20T18:30Z: the 80 % warning comes at
// 2025-03-22T19:21Z and exhaustion at 2025-03-23T09:45Z, when the lot is quarantined
// automatically with an audit entry (spec B1 step 5).
func TestBudgetAcrossLegsB1(t *testing.T) {
	if testing.Short() {
		t.Skip("feeds three days of 5-min readings")
	}
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	e.unit("clinic", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 900, IntervalS: 300})
	_, err := e.svc.CreateSite(ctx, e.admin, tenant, Site{ID: "o", Name: "O"})
	e.must(err)
	_, err = e.svc.CreateShipment(ctx, e.admin, tenant, Shipment{ID: "S-2", Lane: Lane{ID: "l", Origin: "o", Destination: "s1"},
		Limits: Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 300}, Loggers: []Sensor{{Device: "courier"}}})
	e.must(err)
	leg0 := time.Date(2025, 3, 18, 6, 0, 0, 0, time.UTC)
	e.clock.Set(leg0.Add(-time.Minute))
	e.lot("L1", AtShipment, "S-2")
	// 105 readings at 9 °C (5 min each) = 8.75 h in band A, then back in range.
	end := e.leg("courier", leg0, 5*time.Minute, 105, 9)
	e.leg("courier", end, 5*time.Minute, 2, 5)
	if got := e.consumed("L1", "A"); got != 525*time.Minute {
		t.Fatalf("after the courier leg A = %v, want 8h45m", got)
	}
	// Put away in the clinic fridge at 18:00; power lost from 18:30.
	put := time.Date(2025, 3, 20, 18, 0, 0, 0, time.UTC)
	e.clock.Set(put)
	_, err = e.svc.MoveLot(ctx, e.admin, tenant, "L1", Move{To: struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}{AtUnit, "clinic"}, Reason: "put away"})
	e.must(err)
	e.leg("clinic-logger", put.Add(-10*time.Minute), 5*time.Minute, 8, 5) // before and after the move, in range
	warm := time.Date(2025, 3, 20, 18, 30, 0, 0, time.UTC)
	e.leg("clinic-logger", warm, 5*time.Minute, 64*12, 12) // 64 h at 12 °C
	// 8.75 h carried + 64 h in the fridge (the last reading's hold is not charged until the next).
	if got, want := e.consumed("L1", "A"), 525*time.Minute+64*time.Hour-5*time.Minute; got != want {
		t.Errorf("A = %v, want %v", got, want)
	}
	var warn, exhausted *alarm.Condition
	for _, c := range e.alarms.of(alarm.BudgetWarning) {
		if c.Metric == "A@0.8" {
			warn = &c
		}
	}
	if cs := e.alarms.of(alarm.BudgetExhausted); len(cs) > 0 {
		exhausted = &cs[0]
	}
	if warn == nil || !warn.At.Equal(time.Date(2025, 3, 22, 19, 21, 0, 0, time.UTC)) || warn.Subject != "L1" {
		t.Errorf("80 %% warning %+v, want at 2025-03-22T19:21Z for L1", warn)
	}
	if exhausted == nil || !exhausted.At.Equal(time.Date(2025, 3, 23, 9, 45, 0, 0, time.UTC)) || exhausted.Priority != alarm.High {
		t.Errorf("exhaustion %+v, want at 2025-03-23T09:45Z, HIGH (product risk high)", exhausted)
	}
	l, err := e.svc.Lot(ctx, tenant, "L1")
	e.must(err)
	if l.Status != LotQuarantined || len(l.Quarantine) == 0 || l.Quarantine[0].Kind != "BUDGET_EXHAUSTED" {
		t.Errorf("lot %s quarantine %+v, want quarantined for BUDGET_EXHAUSTED", l.Status, l.Quarantine)
	}
	recs, err := e.st.Audit(ctx, tenant, 0, 10000)
	e.must(err)
	n := 0
	for _, r := range recs {
		if r.Action == "lot.quarantine" && r.Target == "lot:L1" && r.Actor == SystemActor {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d automatic quarantine audit entries, want 1", n)
	}
}

// TestReplayIdempotent: redelivering every message, and restarting the processor halfway
// (its state restored from the store), changes nothing: the same excursions, budget, ledger
// lines and no further alarm conditions.
func TestReplayIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	e.unit("fridge", x1Limits)
	e.clock.Set(t0.Add(-time.Minute))
	e.lot("L1", AtUnit, "fridge")
	var msgs [][]reading.Reading
	for i, c := range x1 {
		msgs = append(msgs, one(temp("fridge-logger", at(5*i), c)))
	}
	e.feed(msgs[:7]...)
	e.feed(msgs[4:7]...) // redelivery before a restart
	e.svc = e.open()     // restart: state from the store
	e.feed(msgs[5:]...)  // redelivery after it, then the rest
	e.feed(msgs...)      // everything again
	nConds := len(e.alarms.conds)

	ref := newEnv(t)
	ref.gardasil()
	ref.unit("fridge", x1Limits)
	ref.clock.Set(t0.Add(-time.Minute))
	ref.lot("L1", AtUnit, "fridge")
	ref.feed(msgs...)

	if got, want := e.consumed("L1", "A"), ref.consumed("L1", "A"); got != want || want != 30*time.Minute {
		t.Errorf("budget A after replays %v, uninterrupted %v, want both 30m", got, want)
	}
	led, err := e.st.Ledger(ctx, tenant, "L1")
	e.must(err)
	refLed, err := ref.st.Ledger(ctx, tenant, "L1")
	e.must(err)
	if len(led) != len(refLed) || len(led) != 6 {
		t.Errorf("%d ledger lines after replays, %d uninterrupted, want 6", len(led), len(refLed))
	}
	a, b := e.excursions("fridge"), ref.excursions("fridge")
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID || a[0].DegreeMinutes != b[0].DegreeMinutes || a[0].DurationS != b[0].DurationS {
		t.Errorf("excursions after replays %+v, uninterrupted %+v", a, b)
	}
	if len(e.alarms.of(alarm.ExcursionHigh)) != 2 || nConds != len(ref.alarms.conds) {
		t.Errorf("%d conditions after replays (%d EXCURSION_HIGH), %d uninterrupted", nConds, len(e.alarms.of(alarm.ExcursionHigh)), len(ref.alarms.conds))
	}
}

// TestForecastF1: a fridge at 4.0 °C loses power in a 25 °C room; readings as spec F1 at
// 0, 10, 20, 30 min predict the 8 °C crossing at 63.39 min (33.39 min after the last reading)
// and raise EXCURSION_PREDICTED.
func TestForecastF1(t *testing.T) {
	e := newEnv(t)
	e.unit("fridge", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 900, IntervalS: 600})
	for i, c := range []float64{4.0, 4.6885, 5.3544, 5.9984} {
		e.feed(one(temp("fridge-logger", at(10*i), c)))
	}
	st, err := e.svc.status(t.Context(), tenant, "fridge")
	e.must(err)
	if st.Forecast == nil || !near(st.Forecast.MinutesToExcursion, 33.39, 0.01) || st.Forecast.Method != "exponential" || st.Forecast.LimitC != 8 {
		t.Fatalf("forecast %+v, want 33.39 min to 8 °C (exponential)", st.Forecast)
	}
	cs := e.alarms.of(alarm.ExcursionPredicted)
	if len(cs) != 1 || cs[0].Status != alarm.StatusPresent || !cs[0].Onset.Equal(at(0)) {
		t.Fatalf("EXCURSION_PREDICTED %+v, want one present with onset at the start of the rise", cs)
	}
}

// TestDoorLeftOpen: a door open for the tolerance (10 min) raises DOOR_OPEN, closing clears it.
func TestDoorLeftOpen(t *testing.T) {
	e := newEnv(t)
	e.unit("fridge", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 900, DoorToleranceS: 600, IntervalS: 60})
	for m := 0; m <= 12; m++ {
		e.feed(one(door("fridge-logger", at(m), m >= 1)))
	}
	st, err := e.svc.status(t.Context(), tenant, "fridge")
	e.must(err)
	if !st.DoorOpen || st.DoorOpenSince == nil || !st.DoorOpenSince.Equal(at(1)) {
		t.Errorf("status door %v since %v, want open since 1 min", st.DoorOpen, st.DoorOpenSince)
	}
	e.feed(one(door("fridge-logger", at(13), false)))
	cs := e.alarms.of(alarm.DoorOpen)
	if len(cs) != 2 || cs[0].Status != alarm.StatusPresent || !cs[0].At.Equal(at(11)) || !cs[0].Onset.Equal(at(1)) || cs[1].Status != alarm.StatusCleared {
		t.Fatalf("DOOR_OPEN %+v, want present at 11 min (open since 1), then cleared", cs)
	}
}

// TestGeofenceLifecycle: a packed shipment leaving its origin is dispatched, arriving at its
// destination is received and quarantined (with its lot), both audited as the system.
func TestGeofenceLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	for _, s := range []Site{{ID: "A", Name: "A", Lat: 52.0, Lon: 5.0, GeofenceRadiusM: 500}, {ID: "B", Name: "B", Lat: 51.5, Lon: 4.7, GeofenceRadiusM: 500}} {
		_, err := e.svc.CreateSite(ctx, e.admin, tenant, s)
		e.must(err)
	}
	_, err := e.svc.CreateShipment(ctx, e.admin, tenant, Shipment{ID: "S1", Lane: Lane{ID: "AB", Origin: "A", Destination: "B"},
		Limits: Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 60}, Loggers: []Sensor{{Device: "truck"}}, Lots: []string{"L1"}})
	e.must(err)
	e.lot("L1", AtShipment, "S1")
	_, err = e.svc.TransitionShipment(ctx, e.admin, tenant, "S1", TransitionRequest{Action: "pack", Reason: "packed"})
	e.must(err)
	route := []struct {
		m        int
		lat, lon float64
	}{{0, 52.0, 5.0}, {3, 52.0, 5.0}, {4, 51.9, 4.95}, {7, 51.9, 4.95}, {60, 51.5, 4.7}, {63, 51.5, 4.7}}
	for _, p := range route {
		e.clock.Set(at(p.m))
		e.feed(gps("truck", "S1", at(p.m), p.lat, p.lon))
	}
	sh, err := e.svc.Shipment(ctx, tenant, "S1")
	e.must(err)
	if sh.State != coldchain.Quarantined || len(sh.Transitions) != 4 || sh.Transitions[1].Actor != SystemActor ||
		sh.Transitions[1].Action != coldchain.Dispatch || sh.Transitions[2].Action != coldchain.Receive {
		t.Fatalf("shipment %s transitions %+v, want pack, dispatch and receive (system), quarantine", sh.State, sh.Transitions)
	}
	if sh.Status.Position == nil || sh.Status.Position.Lat != 51.5 {
		t.Errorf("position %+v, want the last fix", sh.Status.Position)
	}
	l, err := e.svc.Lot(ctx, tenant, "L1")
	e.must(err)
	if l.Status != LotQuarantined {
		t.Errorf("lot status %s after delivery, want quarantined", l.Status)
	}
	if cs := e.alarms.of(alarm.GeofenceArrival); len(cs) == 0 || !cs[0].Onset.Equal(at(60)) {
		t.Errorf("GEOFENCE_ARRIVAL %+v, want onset at 60 min", cs)
	}
	tr, err := e.svc.Track(ctx, tenant, "S1", t0, at(120))
	e.must(err)
	if len(tr) != len(route) {
		t.Errorf("track has %d fixes, want %d", len(tr), len(route))
	}
}

// flakyStore fails the next SaveColdBatch when fail is set.
type flakyStore struct {
	*sqlite.Store
	fail bool
}

func (f *flakyStore) SaveColdBatch(ctx context.Context, b store.ColdBatch) error {
	if f.fail {
		f.fail = false
		return errors.New("disk full")
	}
	return f.Store.SaveColdBatch(ctx, b)
}

// TestCommitFailureRedelivery: a message whose batch fails to commit is refused (not
// acknowledged) and, redelivered, counted exactly once.
func TestCommitFailureRedelivery(t *testing.T) {
	e := newEnv(t)
	e.gardasil()
	e.unit("fridge", x1Limits)
	e.clock.Set(t0.Add(-time.Minute))
	e.lot("L1", AtUnit, "fridge")
	fs := &flakyStore{Store: e.st}
	svc, err := New(t.Context(), Config{Store: fs, Audit: e.trail, Keyring: e.kr, Alarms: e.alarms, Now: e.clock.Now})
	e.must(err)
	for i, c := range x1 {
		m := one(temp("fridge-logger", at(5*i), c))
		if i == 6 {
			fs.fail = true
			if err := svc.proc.consume(t.Context(), 0, m); err == nil {
				t.Fatal("consume with a failing store succeeded")
			}
		}
		e.must(svc.proc.consume(t.Context(), 0, m))
	}
	st, err := svc.budgetOf(t.Context(), tenant, "L1")
	e.must(err)
	if st.Consumed["A"] != 30*time.Minute {
		t.Fatalf("band A %v after a failed commit and redelivery, want 30m", st.Consumed["A"])
	}
	led, err := e.st.Ledger(t.Context(), tenant, "L1")
	e.must(err)
	if len(led) != 6 {
		t.Fatalf("%d ledger lines, want 6", len(led))
	}
}

// TestSplitCopiesBudget (spec 3.7, B1 step 3): a split part starts with the parent's consumed
// totals and then diverges.
func TestSplitCopiesBudget(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	e.unit("fridge", x1Limits)
	e.unit("other", x1Limits)
	e.clock.Set(t0.Add(-time.Minute))
	e.lot("L1", AtUnit, "fridge")
	for i, c := range x1 {
		e.feed(one(temp("fridge-logger", at(5*i), c)))
	}
	e.clock.Set(at(70))
	sp := Split{ID: "L1-b", Quantity: 40, Reason: "to ward"}
	sp.To.Kind, sp.To.ID = AtUnit, "other"
	v, err := e.svc.SplitLot(ctx, e.admin, tenant, "L1", sp)
	e.must(err)
	if v.Budget[0].ConsumedS != 1800 || v.Location.ID != "other" || v.Quantity != 40 {
		t.Fatalf("split part %+v, want 1800 s of band A carried, in other, 40", v)
	}
	p, err := e.svc.Lot(ctx, tenant, "L1")
	e.must(err)
	if p.Quantity != 60 {
		t.Errorf("parent quantity %v, want 60", p.Quantity)
	}
	// Diverge: 10 min at 9 °C in the other unit charges the part only.
	for i, c := range []float64{9, 9, 5} {
		e.feed(one(temp("other-logger", at(80+5*i), c)))
	}
	if a, b := e.consumed("L1", "A"), e.consumed("L1-b", "A"); a != 30*time.Minute || b != 40*time.Minute {
		t.Fatalf("after diverging: parent %v, part %v; want 30m and 40m", a, b)
	}
	e.clock.Set(at(100))
	qa := e.qaUser("q", qaPW)
	rv, err := e.svc.Review(ctx, qa, tenant, ReviewLot, "L1-b")
	e.must(err)
	var rep lotReport
	e.must(json.Unmarshal(rv.Report, &rep))
	if rep.Lot.Budget[0].ConsumedS != 2400 {
		t.Errorf("part's report budget %+v, want 2400 s (carried 1800 + 600)", rep.Lot.Budget[0])
	}
}

// TestShipmentBySubject: a shipment without listed loggers takes the temperatures whose subject
// is the shipment.
func TestShipmentBySubject(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	_, err := e.svc.CreateSite(ctx, e.admin, tenant, Site{ID: "A", Name: "A"})
	e.must(err)
	_, err = e.svc.CreateShipment(ctx, e.admin, tenant, Shipment{ID: "S9", Lane: Lane{Origin: "A", Destination: "A"},
		Limits: Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, IntervalS: 300}, State: coldchain.InTransit})
	e.must(err)
	r := temp("some-logger", at(0), 9.5)
	r.Subject = "S9"
	e.feed(one(r))
	st, err := e.svc.status(ctx, tenant, "S9")
	e.must(err)
	if st.State != StateExcursion || st.TemperatureC == nil || *st.TemperatureC != 9.5 {
		t.Fatalf("status %+v, want an excursion at 9.5 °C", st)
	}
}

// TestForecastIgnoresNoise: three rising readings of a noisy but steady freezer are no trend
// (the readings do not follow a line), so no prediction and no alarm.
func TestForecastIgnoresNoise(t *testing.T) {
	e := newEnv(t)
	e.unit("freezer", Limits{LowC: -25, HighC: -10, HysteresisC: 0.5, AlarmDelayS: 900, IntervalS: 60})
	for i, c := range []float64{-20.4, -19.6, -20.3, -19.7, -20.5, -20.2, -19.9, -19.6} {
		e.feed(one(temp("freezer-logger", at(i), c)))
	}
	st, err := e.svc.status(t.Context(), tenant, "freezer")
	e.must(err)
	if st.Forecast != nil || len(e.alarms.of(alarm.ExcursionPredicted)) != 0 {
		t.Fatalf("forecast %+v, conditions %+v; want none for noise", st.Forecast, e.alarms.of(alarm.ExcursionPredicted))
	}
}
