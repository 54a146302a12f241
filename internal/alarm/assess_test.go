package alarm

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

var onePM = time.Date(2026, 3, 2, 13, 0, 0, 0, time.UTC)

func assessCmd(h *harness, who string, c Capacity) Command {
	return Command{Action: ActAssess, Actor: actor(who, c), Note: "seen on the ward round"}.withID(h)
}

// An assessment recorded before the deadline stops the timer: no NEWS2_ASSESSMENT_OVERDUE,
// no tier 1 re-notification. At the deadline itself the timer has fired first (timers due at
// a command's time fire before it), so the assessment is recorded as OVERDUE.
func TestAssessmentStopsTimer(t *testing.T) {
	for _, tt := range []struct {
		at          int
		wantOverdue int
		wantReason  string
	}{
		{1800, 0, "WITHIN_TARGET"}, // 13:30
		{3599, 0, "WITHIN_TARGET"}, // 13:59:59
		{3600, 1, "OVERDUE"},       // 14:00:00
		{5000, 1, "OVERDUE"},
	} {
		h := newHarness(t, onePM)
		news2(h, NEWS2Medium, 5, 0, 0)
		if err := h.do(tt.at, assessCmd(h, "P", CapPhysician)); err != nil {
			t.Fatalf("assess at %d s: %v", tt.at, err)
		}
		h.until(h.at(4 * 3600))
		overdueNotes := 0
		for _, n := range h.notes {
			if n.Kind == NotifyAssessmentOverdue {
				overdueNotes++
			}
		}
		a := h.onlyOpen().Alarm
		last := a.History[len(a.History)-1]
		if got := countType(h.events, EvAssessmentOverdue); got != tt.wantOverdue || overdueNotes != tt.wantOverdue {
			t.Errorf("assessed at %d s: %d overdue events, %d overdue notifications; want %d", tt.at, got, overdueNotes, tt.wantOverdue)
		}
		if last.Type != EvAssessmentRecorded || last.Reason != tt.wantReason || last.Actor != "user:P" || !last.At.Equal(h.at(tt.at)) {
			t.Errorf("assessed at %d s: last history entry %+v; want ASSESSMENT_RECORDED %s by user:P", tt.at, last, tt.wantReason)
		}
		if !a.AssessmentDue.IsZero() || a.State != Active {
			t.Errorf("assessed at %d s: state %s, deadline %v; want ACTIVE (assessment is not acknowledgement), none", tt.at, a.State, a.AssessmentDue)
		}
	}
}

// Who may record "assessment done" (alarms.md §6): physician and RRT/outreach only.
func TestAssessmentPermissions(t *testing.T) {
	for _, c := range Capacities {
		h := newHarness(t, onePM)
		news2(h, NEWS2High, 7, 0, 0)
		err := h.do(60, assessCmd(h, "U", c))
		a := h.onlyOpen().Alarm
		last := a.History[len(a.History)-1]
		allowed := c == CapPhysician || c == CapRRT
		switch {
		case allowed && (err != nil || !a.AssessmentDue.IsZero() || last.Type != EvAssessmentRecorded):
			t.Errorf("%q: err %v, deadline %v, last %s; want recorded, timer stopped", c, err, a.AssessmentDue, last.Type)
		case !allowed && (!errors.Is(err, ErrForbidden) || !a.AssessmentDue.Equal(h.at(1800)) || last.Type != EvAccessDenied):
			t.Errorf("%q: err %v, deadline %v, last %s; want ErrForbidden, timer running, ACCESS_DENIED", c, err, a.AssessmentDue, last.Type)
		}
	}

	h := newHarness(t, onePM)
	news2(h, NEWS2High, 7, 0, 0)
	other := assessCmd(h, "P", CapPhysician)
	other.Actor.Tenant = "t2"
	if err := h.do(60, other); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's physician: %v, want ErrNotFound", err)
	}
	h2 := newHarness(t, onePM)
	vt(h2, StatusPresent, 0)
	if err := h2.do(10, assessCmd(h2, "P", CapPhysician)); !errors.Is(err, ErrInvalid) {
		t.Errorf("assessment on ECG_VTACH: %v, want ErrInvalid (NEWS2 alerts only)", err)
	}
}

// The deadline on a band rise (T13): the new band's timeout from the raise, never later than a
// deadline still running; RED_SCORE has none and a rise from it starts one.
func TestAssessmentDeadlineOnBandRise(t *testing.T) {
	for _, tt := range []struct {
		name           string
		first          Code
		firstScore     float64
		riseAt         int
		wantBeforeRise int // -1: no deadline
		wantAfterRise  int
	}{
		{"MEDIUM then HIGH at 10 min: HIGH's 30 min is earlier", NEWS2Medium, 5, 600, 3600, 600 + 1800},
		{"MEDIUM then HIGH at 40 min: MEDIUM's deadline stands", NEWS2Medium, 5, 2400, 3600, 3600},
		{"RED_SCORE then MEDIUM: starts 60 min", NEWS2RedScore, 3, 600, -1, 600 + 3600},
	} {
		h := newHarness(t, onePM)
		news2(h, tt.first, tt.firstScore, 0, 0)
		due := func() int {
			d := h.onlyOpen().Alarm.AssessmentDue
			if d.IsZero() {
				return -1
			}
			return int(d.Sub(onePM) / time.Second)
		}
		if got := due(); got != tt.wantBeforeRise {
			t.Errorf("%s: deadline before the rise at %d s, want %d", tt.name, got, tt.wantBeforeRise)
		}
		rise := NEWS2High
		if tt.first == NEWS2RedScore {
			rise = NEWS2Medium
		}
		news2(h, rise, 7, 0, tt.riseAt)
		if got := due(); got != tt.wantAfterRise {
			t.Errorf("%s: deadline after the rise at %d s, want %d", tt.name, got, tt.wantAfterRise)
		}
		if a := h.onlyOpen().Alarm; a.Code != rise || a.PolicyID != "news2-"+map[Code]string{NEWS2High: "high", NEWS2Medium: "medium"}[rise] {
			t.Errorf("%s: code %s policy %s after the rise", tt.name, a.Code, a.PolicyID)
		}
	}
}

// A tenant's NEWS2 policy sets the timeout; a policy without one keeps the code's default.
func TestAssessmentTimeoutFromPolicy(t *testing.T) {
	ps := DefaultPolicies()
	own := ps[len(ps)-2] // news2-medium
	if own.ID != "news2-medium" {
		t.Fatalf("policy order changed: %s", own.ID)
	}
	own.ID, own.Tenant, own.AssessWithin = "t1-news2-medium", "t1", 45*time.Minute
	plain := own
	plain.ID, plain.Tenant, plain.AssessWithin = "t2-news2-medium", "t2", 0
	for _, tt := range []struct {
		tenant string
		want   time.Duration
	}{{"t1", 45 * time.Minute}, {"t2", AssessWithinMedium}, {"t3", AssessWithinMedium}} {
		c := newCore(append(Policies{own, plain}, ps...), dir{}, nil)
		a := Alarm{Tenant: tt.tenant, Code: NEWS2Medium, Kind: Advisory, Priority: Medium}
		if got := c.assessWithin(&a); got != tt.want {
			t.Errorf("tenant %s: assessment timeout %v, want %v", tt.tenant, got, tt.want)
		}
	}
	bad := own
	bad.AssessWithin = -time.Minute
	if err := bad.Validate(); err == nil {
		t.Error("a negative assess_within validates")
	}
}

// The running deadline is part of the snapshot: a core restored mid-way fires the same
// overdue event, with the same ids, as one that never stopped.
func TestAssessmentTimerSurvivesSnapshot(t *testing.T) {
	script := func(h *harness, from, to int) {
		if from == 0 {
			news2(h, NEWS2Medium, 5, 0, 0)
		}
		h.until(h.at(to))
	}
	h1 := newHarness(t, onePM)
	script(h1, 0, 4000)
	if countType(h1.events, EvAssessmentOverdue) != 1 {
		t.Fatal("the uninterrupted run logged no overdue")
	}
	h2 := newHarness(t, onePM)
	script(h2, 0, 1800)
	raw, err := json.Marshal(h2.c.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	if got := snap.Open[0].Alarm.AssessmentDue; !got.Equal(onePM.Add(time.Hour)) {
		t.Fatalf("snapshot deadline %v, want 14:00", got)
	}
	h3 := newHarness(t, onePM)
	if err := h3.c.restore(snap); err != nil {
		t.Fatal(err)
	}
	h3.events, h3.notes = h2.events, h2.notes
	script(h3, 1800, 4000)
	if !reflect.DeepEqual(h1.events, h3.events) || !reflect.DeepEqual(h1.notes, h3.notes) {
		t.Fatalf("restored run differs: %d/%d events, %d/%d notifications", len(h3.events), len(h1.events), len(h3.notes), len(h1.notes))
	}
}

// Through Engine.Run on the synctest clock: the overdue fires exactly 30 min after a NEWS2_HIGH
// alert, to tier 1 (charge nurse C, consultant Q); an assessment through Do stops a second one.
func TestAssessmentTimerEngineSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{}
		e := startEngine(t, s, nil)
		ctx := t.Context()
		start := time.Now()
		cond := func(subject string) Condition {
			return Condition{Tenant: "t1", Subject: subject, Metric: "news2", Code: NEWS2High, Kind: Advisory,
				Priority: High, Latching: true, Status: StatusPresent, At: time.Now(), Onset: time.Now(), Value: 7}
		}
		if err := e.Apply(ctx, []Condition{cond("pat1"), cond("pat2")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		list, err := e.List(ctx, Filter{Tenant: "t1", Subject: "pat2"})
		if err != nil || len(list) != 1 {
			t.Fatalf("List = %v, %v", list, err)
		}
		if err := e.Do(ctx, Command{Action: ActAssess, AlarmID: list[0].ID, Actor: actor("D", CapRRT)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20*time.Minute - time.Millisecond)
		synctest.Wait()
		if got := s.alerts(NotifyAssessmentOverdue); len(got) != 0 {
			t.Fatalf("overdue before 30 min: %v", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		want := start.Add(30 * time.Minute).Format("15:04:05")
		if got := s.alerts(NotifyAssessmentOverdue); !reflect.DeepEqual(got, []string{"C@" + want, "Q@" + want}) {
			t.Fatalf("overdue notifications %v, want C and Q at %s (pat1 only)", got, want)
		}
	})
}
