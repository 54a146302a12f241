package alarm

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type sink struct {
	mu    sync.Mutex
	notes []Notification
	evs   []Event
}

func (s *sink) emit(_ context.Context, b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = append(s.notes, b.Notifications...)
	s.evs = append(s.evs, b.Events...)
	return nil
}

func (s *sink) alerts(kind NotificationKind) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range s.notes {
		if n.Kind == kind {
			out = append(out, fmt.Sprintf("%s@%s", n.Recipient, n.At.Format("15:04:05")))
		}
	}
	return out
}

func startEngine(t *testing.T, s *sink, restore *Snapshot) *Engine {
	t.Helper()
	e, err := New(Config{Directory: dir{}, Emit: s.emit, Restore: restore})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	})
	return e
}

func highCond(at time.Time) Condition {
	return Condition{Tenant: "t1", Subject: "pat1", Device: "dev1", Metric: "spo2", Code: SpO2Desat, Kind: Physiological,
		Priority: High, Latching: true, Status: StatusPresent, At: at, Onset: at, Value: 79, Limit: 80}
}

// An unacknowledged HIGH alarm reaches tier 1 exactly at 60 s and tier 2 exactly at 120 s;
// acknowledging stops it; the condition still present re-alarms after 5 min.
func TestEngineEscalationSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &sink{}
		e := startEngine(t, s, nil)
		start := time.Now()
		ctx := t.Context()
		if err := e.Submit(ctx, highCond(start)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		eq(t, "tier 0", s.alerts(NotifyAlert), []string{"A@" + start.Format("15:04:05"), "B@" + start.Format("15:04:05")})

		time.Sleep(60*time.Second - time.Nanosecond)
		synctest.Wait()
		if got := len(s.alerts(NotifyAlert)); got != 2 {
			t.Fatalf("1 ns before 60 s: %d alerts, want 2", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		al := s.alerts(NotifyAlert)
		if len(al) != 3 || al[2] != "C@"+start.Add(60*time.Second).Format("15:04:05") {
			t.Fatalf("at 60 s: %v, want tier 1 (C) exactly then", al)
		}
		time.Sleep(60 * time.Second)
		synctest.Wait()
		al = s.alerts(NotifyAlert)
		if len(al) != 4 || al[3] != "D@"+start.Add(120*time.Second).Format("15:04:05") {
			t.Fatalf("at 120 s: %v, want tier 2 (D) exactly then", al)
		}
		list, err := e.List(ctx, Filter{Tenant: "t1"})
		if err != nil || len(list) != 1 {
			t.Fatalf("List = %v, %v", list, err)
		}
		if err := e.Do(ctx, Command{Action: ActAcknowledge, AlarmID: list[0].ID, Actor: actor("D", CapRRT)}); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		s.notes = nil
		s.mu.Unlock()
		time.Sleep(5*time.Minute - time.Second) // nothing while acknowledged
		synctest.Wait()
		if n := len(s.alerts(NotifyAlert)) + len(s.alerts(NotifyRenotify)); n != 0 {
			t.Fatalf("while acknowledged: %d notifications, want 0", n)
		}
		time.Sleep(time.Second) // re-alarm at ack + 5 min, condition still present
		synctest.Wait()
		at := time.Now().Format("15:04:05")
		eq(t, "re-alarm", s.alerts(NotifyAlert), []string{"A@" + at, "B@" + at})
		a, err := e.Get(ctx, "t1", list[0].ID)
		if err != nil || a.State != Active || a.EscalationLevel != 0 {
			t.Fatalf("after re-alarm: %s level %d, %v; want ACTIVE level 0", a.State, a.EscalationLevel, err)
		}
	})
}

// The same conditions and commands in the same order give identical events and ids, and a
// snapshot restored mid-way continues exactly as the original.
func TestDeterminismAndSnapshot(t *testing.T) {
	script := func(h *harness, from, to int) {
		for s := from; s < to; s++ {
			h.read(s, "spo2", []float64{88, 79, 92}[s/100])
			h.read(s, "hr", 130)
			if s == 150 {
				if err := h.do(150, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse), AlarmID: AlarmID("t1/pat1/SPO2_LOW_GROUP", h.at(0))}); err != nil {
					h.t.Fatal(err)
				}
			}
		}
	}
	run := func() *harness {
		h := newHarness(t, noon)
		script(h, 0, 300)
		return h
	}
	h1, h2 := run(), run()
	if len(h1.events) == 0 || len(h1.notes) == 0 {
		t.Fatal("script produced nothing")
	}
	if !reflect.DeepEqual(h1.events, h2.events) || !reflect.DeepEqual(h1.notes, h2.notes) {
		t.Fatal("two runs of the same input differ")
	}
	seen := map[ID]bool{}
	for _, n := range h1.notes {
		if seen[n.ID] {
			t.Fatalf("notification id %s used twice", n.ID)
		}
		seen[n.ID] = true
	}

	// Snapshot at 150 s through JSON, restore into a fresh core, run the rest.
	h3 := newHarness(t, noon)
	script(h3, 0, 150)
	raw, err := json.Marshal(h3.c.snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snap, h3.c.snapshot()) {
		t.Fatal("snapshot JSON round trip changed it")
	}
	h4 := newHarness(t, noon)
	h4.ev = h3.ev // the evaluator belongs to the processor; it resumes from its own position
	if err := h4.c.restore(snap); err != nil {
		t.Fatal(err)
	}
	h4.events, h4.notes = h3.events, h3.notes
	script(h4, 150, 300)
	if !reflect.DeepEqual(h1.events, h4.events) || !reflect.DeepEqual(h1.notes, h4.notes) {
		t.Fatalf("restored run differs: %d/%d events, %d/%d notifications", len(h4.events), len(h1.events), len(h4.notes), len(h1.notes))
	}

	// A replayed condition of a resolved alarm does not resurrect it.
	h5 := newHarness(t, noon)
	vt(h5, StatusPresent, 0)
	vt(h5, StatusCleared, 5)
	if err := h5.do(6, Command{Action: ActAcknowledge, Actor: actor("A", CapAssignedNurse)}.withID(h5)); err != nil {
		t.Fatal(err)
	}
	h5.notes = nil
	vt(h5, StatusPresent, 0)
	if len(h5.c.open) != 0 || len(h5.notes) != 0 {
		t.Fatalf("replay reopened the alarm (%d open, %d notifications)", len(h5.c.open), len(h5.notes))
	}
}

// TestSnapshotOnlyWhereReplayCannotRebuild: with SnapshotInBatch, a batch of replayable
// conditions carries no snapshot, a command's batch does, Apply's does, and Checkpoint emits
// one even with no events; the checkpoint's state holds the alarm the replayable batch raised.
func TestSnapshotOnlyWhereReplayCannotRebuild(t *testing.T) {
	var mu sync.Mutex
	var batches []Batch
	e, err := New(Config{Directory: dir{}, SnapshotInBatch: true, Emit: func(_ context.Context, b Batch) error {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, b)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = e.Run(ctx) }()
	last := func() (Batch, int) {
		mu.Lock()
		defer mu.Unlock()
		return batches[len(batches)-1], len(batches)
	}
	now := time.Now().Add(-time.Second)
	if err := e.ApplyReplayable(ctx, []Condition{highCond(now)}); err != nil {
		t.Fatal(err)
	}
	b, n := last()
	if n != 1 || len(b.Events) == 0 || b.Snapshot != nil {
		t.Fatalf("replayable batch: %d batches, %d events, snapshot %v; want one batch with events and no snapshot", n, len(b.Events), b.Snapshot != nil)
	}
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	b, n = last()
	if n != 2 || len(b.Events) != 0 || b.Snapshot == nil || len(b.Snapshot.Open) != 1 {
		t.Fatalf("checkpoint: %d batches, %d events, snapshot %+v; want a snapshot holding the open alarm", n, len(b.Events), b.Snapshot)
	}
	id := b.Snapshot.Open[0].Alarm.ID
	if err := e.Do(ctx, Command{Action: ActAcknowledge, AlarmID: id, Actor: actor("A", CapAssignedNurse)}); err != nil {
		t.Fatal(err)
	}
	if b, n = last(); n != 3 || b.Snapshot == nil || b.Snapshot.Open[0].Alarm.State != Acknowledged {
		t.Fatalf("command batch: %d batches, snapshot %+v; want the acknowledged state in it", n, b.Snapshot)
	}
	c := highCond(now)
	c.Subject = "pat2"
	if err := e.Apply(ctx, []Condition{c}); err != nil {
		t.Fatal(err)
	}
	if b, _ = last(); b.Snapshot == nil {
		t.Error("Apply's batch has no snapshot")
	}
}
