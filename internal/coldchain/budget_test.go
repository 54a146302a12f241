package coldchain

import (
	"math"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var (
	fridge = Ranges{{Lo: 2, Hi: 8}}
	bandA  = Band{Lo: 8, LoOpen: true, Hi: 25} // (8, 25]
	bandB  = Band{Lo: 0, Hi: 2, HiOpen: true}  // [0, 2)
	gard9  = Profile{Labelled: fridge, Rules: []BudgetRule{
		{ID: "A", Kind: CumulativeInBand, Band: bandA, Limit: 72 * time.Hour},
		{ID: "B", Kind: CumulativeInBand, Band: bandB, Limit: 72 * time.Hour},
	}}
)

// leg charges samples from one custody source into b and returns the events.
func leg(t *testing.T, b *Budget, source string, nominal time.Duration, s []Sample) []BudgetEvent {
	t.Helper()
	c, err := NewCharger(source, Timing{Nominal: nominal}, fridge)
	if err != nil {
		t.Fatal(err)
	}
	var xs []Exposure
	for _, x := range s {
		if xs, err = c.Observe(xs, x); err != nil {
			t.Fatal(err)
		}
	}
	xs = c.Flush(xs)
	var ev []BudgetEvent
	for _, x := range xs {
		ev = b.Apply(ev, x)
	}
	return ev
}

func cat(temps ...[]float64) []float64 {
	var r []float64
	for _, t := range temps {
		r = append(r, t...)
	}
	return r
}

func TestBudgetExampleB1(t *testing.T) {
	lot, err := NewBudget(gard9, BudgetState{})
	if err != nil {
		t.Fatal(err)
	}
	// 1. Truck, 10-min logger: 15 readings in (8, 25].
	leg(t, lot, "truck-logger", 10*time.Minute, series(utc("2025-03-01T06:00:00Z"), 10*time.Minute, cat(repeat(5, 3), repeat(12, 15), repeat(5, 3))...))
	// 2. Distributor cold room: in range.
	leg(t, lot, "coldroom", 5*time.Minute, series(utc("2025-03-02T06:00:00Z"), 5*time.Minute, repeat(4.5, 100)...))
	if got := lot.State.Consumed["A"]; got != 150*time.Minute {
		t.Fatalf("B1 after leg 1: A = %v, want 2.5h", got)
	}
	// 3. Split.
	s2, _ := NewBudget(gard9, lot.State.Split())
	s3, _ := NewBudget(gard9, lot.State.Split())
	// 4. Leg 2 of S-2, 5-min courier logger, with a 120-min gap 10:05–12:05.
	start := utc("2025-03-10T08:00:00Z")
	part1 := series(start, 5*time.Minute, cat(repeat(1.5, 9), repeat(5, 15), []float64{7.5})...) // 08:00 … 10:00
	if !part1[len(part1)-1].At.Equal(utc("2025-03-10T10:00:00Z")) {
		t.Fatalf("fixture: last reading before the gap at %v", part1[len(part1)-1].At)
	}
	part2 := series(utc("2025-03-10T12:05:00Z"), 5*time.Minute, cat(repeat(9, 51), repeat(5, 2))...)
	ev := leg(t, s2, "courier-logger", 5*time.Minute, append(part1, part2...))
	if a, b := s2.State.Consumed["A"], s2.State.Consumed["B"]; a != 8*time.Hour+45*time.Minute || b != 45*time.Minute {
		t.Errorf("B1 S-2 on arrival: A = %v, B = %v; want 8h45m, 45m", a, b)
	}
	if f := float64(s2.State.Consumed["A"]) / float64(72*time.Hour); !near(f, 0.122, 0.0005) {
		t.Errorf("B1 S-2 A fraction = %.4f, want 12.2 %%", f)
	}
	if a := s3.State.Consumed["A"]; a != 150*time.Minute {
		t.Errorf("B1 S-3: A = %v, want 2.5h (split copies, then diverges)", a)
	}
	var gapCharge time.Duration
	for _, e := range s2.Ledger {
		if e.Basis == GapConservative {
			gapCharge += e.Charged
			if e.Rule != "A" || !e.From.Equal(utc("2025-03-10T10:05:00Z")) || !e.To.Equal(utc("2025-03-10T12:05:00Z")) {
				t.Errorf("B1 gap entry = %+v, want band A 10:05–12:05", e)
			}
		}
	}
	if gapCharge != 2*time.Hour {
		t.Errorf("B1 gap charge = %v, want 2h", gapCharge)
	}
	if len(ev) != 0 {
		t.Errorf("B1 leg 2 events %v, want none (12 %% consumed)", ev)
	}
	// 5. Clinic fridge loses power: above 8 °C continuously from 2025-03-20T18:30Z.
	if r, _ := s2.Remaining("A"); r != 63*time.Hour+15*time.Minute {
		t.Errorf("B1 remaining A = %v, want 63h15m", r)
	}
	ev = leg(t, s2, "clinic-fridge", 5*time.Minute, series(utc("2025-03-20T18:30:00Z"), 5*time.Minute, repeat(11, 12*70)...))
	want := map[BudgetEventKind]time.Time{
		BudgetExhausted: utc("2025-03-23T09:45:00Z"),
	}
	var warn80 time.Time
	seen := 0
	for _, e := range ev {
		if e.Kind == BudgetExhausted {
			seen++
		}
		if e.Kind == BudgetWarning && e.Fraction == 0.8 {
			warn80 = e.At
		}
		if w, ok := want[e.Kind]; ok && !e.At.Equal(w) {
			t.Errorf("B1 %v at %v, want %v", e.Kind, e.At, w)
		}
	}
	if seen != 1 {
		t.Errorf("B1: %d BUDGET_EXHAUSTED events, want 1", seen)
	}
	if !warn80.Equal(utc("2025-03-22T19:21:00Z")) {
		t.Errorf("B1 80 %% warning at %v, want 2025-03-22T19:21Z", warn80)
	}
	d := s2.Decide(utc("2025-03-23T09:45:00Z"))
	if !d.Quarantine || len(d.Findings) == 0 || d.Findings[0].Kind != BudgetExhausted || d.Findings[0].Rule != "A" || len(d.Findings[0].Evidence) == 0 {
		t.Errorf("B1 decision = %+v, want quarantine for exhausted A with evidence", d)
	}
	if d := s3.Decide(utc("2025-03-23T09:45:00Z")); d.Quarantine {
		t.Errorf("B1 S-3 decision = %+v, want no quarantine", d)
	}
	// Merge takes the worst history.
	m := MergeStates(s2.State, s3.State)
	if m.Consumed["A"] != s2.State.Consumed["A"] || m.Consumed["B"] != 45*time.Minute {
		t.Errorf("merge = %v, want S-2's totals", m.Consumed)
	}
}

func TestBudgetExampleB1BoundaryAt72h(t *testing.T) {
	// "does not exceed 72 hours": exactly 72 h exhausts (quarantine) but is not exceeded.
	b, _ := NewBudget(gard9, BudgetState{})
	ev := b.Apply(nil, Exposure{From: t0, To: t0.Add(72 * time.Hour), Celsius: 12})
	var exhausted, exceeded bool
	for _, e := range ev {
		exhausted = exhausted || e.Kind == BudgetExhausted
		exceeded = exceeded || e.Kind == BudgetExceeded
	}
	if !exhausted || exceeded {
		t.Errorf("72 h in band: exhausted %v exceeded %v, want true false", exhausted, exceeded)
	}
	ev = b.Apply(nil, Exposure{From: t0.Add(72 * time.Hour), To: t0.Add(72*time.Hour + time.Minute), Celsius: 12})
	if len(ev) != 1 || ev[0].Kind != BudgetExceeded {
		t.Errorf("one more minute: events %v, want BUDGET_EXCEEDED", ev)
	}
	// Band edges: 8.0 is labelled (no charge), 25.0 is band A, 25.1 is outside every allowance.
	c, _ := NewBudget(gard9, BudgetState{})
	c.Apply(nil, Exposure{From: t0, To: t0.Add(time.Hour), Celsius: 8.0})
	c.Apply(nil, Exposure{From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour), Celsius: 25.0})
	if c.State.Consumed["A"] != time.Hour || !c.State.Outside.IsZero() {
		t.Errorf("8.0 and 25.0: A = %v outside %v, want 1h none", c.State.Consumed["A"], c.State.Outside)
	}
	ev = c.Apply(nil, Exposure{From: t0.Add(2 * time.Hour), To: t0.Add(3 * time.Hour), Celsius: 25.1})
	if len(ev) != 1 || ev[0].Kind != OutsideAllowance || !c.Decide(t0).Quarantine {
		t.Errorf("25.1 °C: events %v, want OUTSIDE_ALLOWANCE and quarantine", ev)
	}
}

func TestBudgetGapRules(t *testing.T) {
	b, _ := NewBudget(gard9, BudgetState{})
	// In range on both sides: nothing charged, DATA_GAP for review.
	ev := leg(t, b, "s", 5*time.Minute, []Sample{{At: t0, Celsius: 5}, {At: t0.Add(2 * time.Hour), Celsius: 6}})
	if len(ev) != 1 || ev[0].Kind != GapReview || b.State.Consumed["A"] != 0 {
		t.Errorf("in-range gap: events %v A %v, want one DATA_GAP and no charge", ev, b.State.Consumed["A"])
	}
	// More severe side is the earlier reading: 30 °C (outside every allowance) → OUTSIDE_ALLOWANCE.
	ev = leg(t, b, "s", 5*time.Minute, []Sample{{At: t0.Add(3 * time.Hour), Celsius: 30}, {At: t0.Add(5 * time.Hour), Celsius: 5}})
	if len(ev) != 1 || ev[0].Kind != OutsideAllowance {
		t.Errorf("gap next to 30 °C: events %v, want OUTSIDE_ALLOWANCE", ev)
	}
}

func TestBudgetExamplesB2B3(t *testing.T) {
	humira := Profile{Labelled: fridge, Rules: []BudgetRule{{ID: "room", Kind: ElapsedDeadline, Band: Band{Lo: 8, LoOpen: true, Hi: 25}, Limit: 14 * 24 * time.Hour}}}
	b, _ := NewBudget(humira, BudgetState{})
	ev := leg(t, b, "s", time.Hour, series(utc("2025-06-01T06:00:00Z"), time.Hour, cat(repeat(5, 2), repeat(20, 40), repeat(5, 10))...))
	dl := utc("2025-06-15T08:00:00Z")
	if len(ev) != 1 || ev[0].Kind != DeadlineStarted || !ev[0].Deadline.Equal(dl) || !ev[0].At.Equal(utc("2025-06-01T08:00:00Z")) {
		t.Fatalf("B2 events %v, want one DEADLINE_STARTED at 06-01 08:00 with deadline %v", ev, dl)
	}
	leg(t, b, "s", time.Hour, series(utc("2025-06-05T06:00:00Z"), time.Hour, repeat(20, 3)...))
	if !b.State.Deadlines["room"].Equal(dl) {
		t.Errorf("B2 deadline after another warm spell = %v, want unchanged %v", b.State.Deadlines["room"], dl)
	}
	if d := b.Decide(dl.Add(-time.Second)); d.Quarantine {
		t.Errorf("B2 before the deadline: %+v, want no quarantine", d)
	}
	if ev := b.Check(nil, dl); len(ev) != 1 || ev[0].Kind != DeadlinePassed || !b.Decide(dl).Quarantine {
		t.Errorf("B2 at the deadline: %v, want DEADLINE_PASSED and quarantine", ev)
	}
	if ev := leg(t, b, "s", time.Hour, series(utc("2025-06-06T06:00:00Z"), time.Hour, 26)); len(ev) != 1 || ev[0].Kind != OutsideAllowance {
		t.Errorf("B2 reading 26 °C: %v, want OUTSIDE_ALLOWANCE", ev)
	}

	comirnaty := Profile{Labelled: Ranges{{Lo: -90, Hi: -60}, {Lo: 2, Hi: 8}}, Rules: []BudgetRule{
		{ID: "thawed", Kind: ElapsedDeadline, Band: Band{Lo: 2, Hi: inf}, Limit: 10 * 7 * 24 * time.Hour},
		{ID: "room", Kind: CumulativeInBand, Band: Band{Lo: 8, LoOpen: true, Hi: 25}, Limit: 12 * time.Hour},
		{ID: "refrozen", Kind: IrreversibleEvent, Band: Band{Lo: -inf, Hi: 0, HiOpen: true}, After: "thawed"},
	}}
	v, _ := NewBudget(comirnaty, BudgetState{})
	ev = leg(t, v, "ult", 5*time.Minute, series(utc("2025-04-01T08:00:00Z"), 5*time.Minute, repeat(-80, 12)...))
	if len(ev) != 0 {
		t.Errorf("B3 ULT storage: events %v, want none (-80 °C is not 'refrozen' before a thaw)", ev)
	}
	ev = leg(t, v, "fridge", 5*time.Minute, series(utc("2025-04-01T09:00:00Z"), 5*time.Minute, cat(repeat(5, 3), repeat(12, 6), repeat(5, 3))...))
	if len(ev) != 1 || ev[0].Kind != DeadlineStarted || !ev[0].Deadline.Equal(utc("2025-06-10T09:00:00Z")) || v.State.Consumed["room"] != 30*time.Minute {
		t.Errorf("B3 thaw: events %v room %v, want deadline 2025-06-10T09:00Z and 30 min charged", ev, v.State.Consumed["room"])
	}
	ev = leg(t, v, "fridge", 5*time.Minute, series(utc("2025-04-02T09:00:00Z"), 5*time.Minute, 5, -1, 5))
	if len(ev) != 1 || ev[0].Kind != Irreversible || ev[0].Rule != "refrozen" || !v.Decide(utc("2025-04-02T10:00:00Z")).Quarantine {
		t.Errorf("B3 reading < 0 °C after thaw: %v, want IRREVERSIBLE refrozen and quarantine", ev)
	}
}

func TestBudgetSinglePeriod(t *testing.T) {
	p := Profile{Labelled: Ranges{{Lo: -90, Hi: -60}}, Rules: []BudgetRule{{ID: "freezer", Kind: SinglePeriod, Band: Band{Lo: -25, Hi: -15}, Limit: 14 * 24 * time.Hour}}}
	b, _ := NewBudget(p, BudgetState{})
	day := 24 * time.Hour
	b.Apply(nil, Exposure{From: t0, To: t0.Add(10 * day), Celsius: -20})
	b.Apply(nil, Exposure{From: t0.Add(10 * day), To: t0.Add(11 * day), Celsius: -80}) // back: the period ends
	ev := b.Apply(nil, Exposure{From: t0.Add(11 * day), To: t0.Add(21 * day), Celsius: -20})
	if len(ev) != 0 || b.Decide(t0).Quarantine {
		t.Errorf("two 10-day periods: %v, want none (each single period ≤ 14 d)", ev)
	}
	ev = b.Apply(nil, Exposure{From: t0.Add(21 * day), To: t0.Add(26 * day), Celsius: -20})
	if len(ev) != 1 || ev[0].Kind != PeriodExceeded || !ev[0].At.Equal(t0.Add(25*day)) {
		t.Errorf("15-day period: %v, want PERIOD_EXCEEDED at day 25", ev)
	}
}

var inf = math.Inf(1)
