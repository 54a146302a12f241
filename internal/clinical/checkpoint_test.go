package clinical_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// memLog is an in-memory log: message i has sequence i+1. Replay delivers the messages up to
// limit and then waits for more (or for ctx), as a caught-up ordered consumer does.
type memLog struct {
	msgs [][]reading.Reading

	mu      sync.Mutex
	limit   int
	more    chan struct{} // closed and replaced when limit grows
	replays []uint64      // afterSeq of every Replay call

	// The old durable consumer: its ack floor while it exists.
	legacy         bool
	legacyFloor    uint64
	legacyRemovals int
}

func newMemLog(msgs [][]reading.Reading, limit int) *memLog {
	return &memLog{msgs: msgs, limit: limit, more: make(chan struct{})}
}

func (l *memLog) setLimit(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = n
	close(l.more)
	l.more = make(chan struct{})
}

func (l *memLog) Replay(ctx context.Context, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error {
	l.mu.Lock()
	l.replays = append(l.replays, afterSeq)
	l.mu.Unlock()
	for seq := afterSeq + 1; ; {
		l.mu.Lock()
		limit, more := l.limit, l.more
		l.mu.Unlock()
		if seq > uint64(limit) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-more:
				continue
			}
		}
		if err := fn(seq, l.msgs[seq-1]); err != nil {
			return err
		}
		seq++
	}
}

func (l *memLog) replayedAfter() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.replays)
}

// legacyMemLog is a memLog that still has the old durable consumer "clinical".
type legacyMemLog struct{ *memLog }

func (l legacyMemLog) ConsumerAckFloor(_ context.Context, name string) (uint64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name != clinical.Consumer || !l.legacy {
		return 0, false, nil
	}
	return l.legacyFloor, true, nil
}

func (l legacyMemLog) RemoveConsumer(_ context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == clinical.Consumer && l.legacy {
		l.legacy = false
		l.legacyRemovals++
	}
	return nil
}

// wardAndHome sets up a ward patient "p" on a monitor and a home patient "h" with a wearable,
// and returns their log: p's vitals every 20 s for 40 min from start, after an admission round
// (alert, on air) 10 min before (NEWS2 rises to HIGH from minute 10
// and recovers from minute 25: band alerts raised, escalated and cleared; the continuous
// medians need the samples of the last 5 minutes), interleaved with h's resting heart rate once
// a day for 24 days up to 6 days before start (baseline flags ACCUMULATING, then ALERT). The
// clock (e.now) is start. Every reading is in the store
// already, as the store writer runs ahead of the processor.
func (e *env) wardAndHome(t *testing.T, start time.Time) [][]reading.Reading {
	t.Helper()
	ctx := t.Context()
	if _, err := e.svc.CreateWard(ctx, tenant, "w", "Ward", []string{"01"}); err != nil {
		t.Fatal(err)
	}
	e.device(t, "mon", "monitor")
	e.device(t, "band", "wearable")
	e.patient(t, "p", clinical.PatientInput{})
	e.patient(t, "h", clinical.PatientInput{TimeZone: ptr("America/New_York")})
	e.now = start
	if _, err := e.svc.Admit(ctx, tenant, "p", "w", "w-01", ptr(start.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	e.assign(t, "mon", "p", start.Add(-time.Hour), clinical.KindBedside)
	// The admission round, entered before the processor started: alert, on air.
	at := start.Add(-10 * time.Minute)
	obs, err := json.Marshal(clinical.Observation{ID: "obs-1", Patient: "p", At: at, EnteredAt: at, EnteredBy: "user:n", ACVPU: "A", O2: "AIR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PutRecord(ctx, store.ClinicalRecord{Kind: store.RecManualObs, ID: "obs-1", Tenant: tenant, Owner: "p", At: at, JSON: obs}); err != nil {
		t.Fatal(err)
	}
	y, m, d := start.AddDate(0, 0, -30).Date()
	home := time.Date(y, m, d, 14, 0, 0, 0, time.UTC) // 09:00 or 10:00 in New York
	e.assign(t, "band", "h", home.Add(-time.Hour), clinical.KindRPM)
	hr := []float64{72, 70, 71, 73, 69, 72, 74, 70, 71, 72, 73, 71, 70, 72, 73, 72, 75, 77, 78, 76, 79, 80, 74, 72}
	var msgs [][]reading.Reading
	for i := range 120 {
		at := start.Add(time.Duration(i) * 20 * time.Second)
		rr, spo2, pulse, sbp := 16.0, 97.0, 72.0, 125.0
		switch {
		case i >= 30 && i < 45:
			rr, pulse = 22, 112 // 2 + 1: LOW_MEDIUM
		case i >= 45 && i < 75:
			rr, spo2, pulse, sbp = 26, 93, 135, 95 // 3 + 2 + 2 + 2: HIGH, a red score
		}
		if i%3 != 0 {
			sbp = 0 // a blood pressure cycle every minute
		}
		msgs = append(msgs, vitals("mon", at, rr+float64(i%2), spo2, pulse-float64(i%3), 36.8, sbp))
		if i%5 == 0 && i/5 < len(hr) {
			msgs = append(msgs, []reading.Reading{rd("band", "hr", home.AddDate(0, 0, i/5), hr[i/5])})
		}
	}
	for _, m := range msgs {
		if _, err := e.st.InsertReadings(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.Attributor().Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// processor returns a Service that runs on log.
func (e *env) processor(t *testing.T, log clinical.Log, alarms clinical.Alarms, st clinical.Store, flushEvery time.Duration, maxBatch int) *clinical.Service {
	t.Helper()
	if st == nil {
		st = e.st
	}
	svc := clinical.New(clinical.Config{Store: st, Log: log, Alarms: alarms, Now: func() time.Time { return e.now },
		FlushEvery: flushEvery, MaxBatch: maxBatch, TickEvery: time.Hour, RefreshEvery: time.Hour, PollEvery: time.Hour})
	svc.SetRetryBase(time.Millisecond)
	return svc
}

// startRun runs svc.Run until the returned stop is called; stop returns Run's error.
func startRun(t *testing.T, svc *clinical.Service) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
			return nil
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func committedAll(svc *clinical.Service, n int) func() bool {
	return func() bool { _, c := svc.LogSeqs(); return c == uint64(n) }
}

// wardStart is 23:30: the ward patient's baseline day closes half-way through the log, after
// the crash point of TestCrashRestartFromCheckpoint (its open day must survive the restart).
var wardStart = t0.Add(13*time.Hour + 30*time.Minute)

// outcome is what a run leaves in the store and sends to the alarm engine.
type outcome struct {
	Sets        []clinical.SetDoc
	Flags       []clinical.Flag
	DailyValues []string
	Conditions  []string
}

func (e *env) outcome(t *testing.T, conds []alarm.Condition) outcome {
	t.Helper()
	var o outcome
	for _, p := range []string{"p", "h"} {
		o.Sets = append(o.Sets, e.sets(t, p)...)
	}
	fs, err := e.svc.Flags(t.Context(), tenant, "h", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	o.Flags = fs
	for _, p := range []string{"p", "h"} {
		rs, err := e.st.Records(t.Context(), store.RecordQuery{Tenant: tenant, Kind: store.RecDailyValue, Owner: p})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			o.DailyValues = append(o.DailyValues, p+" "+string(r.JSON))
		}
	}
	for _, c := range conds {
		o.Conditions = append(o.Conditions, fmt.Sprintf("%s %s %s %s onset %s at %s value %v", c.Subject, c.Unit, c.Code, c.Status,
			c.Onset.Format(time.RFC3339), c.At.Format(time.RFC3339), c.Value))
	}
	return o
}

func sameOutcome(t *testing.T, what string, got, want outcome) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Fatalf("%s:\n%s\nuninterrupted run:\n%s", what, g, w)
	}
}

// reference feeds msgs one by one to a processor that commits each at once (no crash).
func reference(t *testing.T) (outcome, [][]reading.Reading) {
	t.Helper()
	ref := newEnv(t)
	msgs := ref.wardAndHome(t, wardStart)
	for i, m := range msgs {
		if err := ref.svc.Consume(t.Context(), uint64(i+1), m); err != nil {
			t.Fatal(err)
		}
	}
	want := ref.outcome(t, ref.alarms.take())
	var raised, cleared, alert bool
	for _, s := range want.Conditions {
		raised = raised || strings.Contains(s, "NEWS2_HIGH PRESENT")
		cleared = cleared || strings.Contains(s, "NEWS2_HIGH CLEARED")
	}
	for _, f := range want.Flags {
		alert = alert || f.State == "ALERT"
	}
	ward := 0
	for _, d := range want.DailyValues {
		if strings.HasPrefix(d, "p ") {
			ward++
		}
	}
	if !raised || !cleared || !alert || len(want.Sets) < 5 || ward == 0 {
		t.Fatalf("reference run: %d sets, NEWS2_HIGH raised %v and cleared %v, a baseline ALERT %v, %d daily values of p; want all\n%v",
			len(want.Sets), raised, cleared, alert, ward, want.Conditions)
	}
	return want, msgs
}

// TestCrashRestartFromCheckpoint: the processor runs on the log in batches, "crashes" (Run's
// context ends) with a batch processed but not committed, and a new processor on the same
// store replays from the saved checkpoint. It ends with exactly the NEWS2 sets, baseline flags
// and alarm conditions of an uninterrupted run that committed message by message, although the
// restart lost the live continuous medians and the open baseline day (restored from the saved
// patient states).
func TestCrashRestartFromCheckpoint(t *testing.T) {
	want, msgs := reference(t)

	e := newEnv(t)
	e.wardAndHome(t, wardStart)
	const cut = 77 // in the HIGH episode, with home days closed before it
	log := newMemLog(msgs, cut)
	svc := e.processor(t, log, e.alarms, nil, time.Hour, 8) // commits only after 8 messages (or before a conflict)
	stop := startRun(t, svc)
	waitFor(t, fmt.Sprintf("message %d processed", cut), func() bool { p, _ := svc.LogSeqs(); return p == cut })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	cp, ok, err := e.st.ClinicalCheckpoint(t.Context())
	if err != nil || !ok || cp == 0 || cp >= cut {
		t.Fatalf("checkpoint %d (%v, %v) at the crash, want a batch committed and one pending (0 < checkpoint < %d)", cp, ok, err, cut)
	}
	sts, err := e.st.ClinicalStates(t.Context())
	if err != nil || len(sts) != 2 {
		t.Fatalf("saved states %d (%v), want p's and h's", len(sts), err)
	}

	// Restart: a new Service on the same store, the whole log available.
	log.setLimit(len(msgs))
	svc = e.processor(t, log, e.alarms, nil, 5*time.Millisecond, 8)
	stop = startRun(t, svc)
	waitFor(t, "the whole log committed", committedAll(svc, len(msgs)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if r := log.replayedAfter(); len(r) != 2 || r[0] != 0 || r[1] != cp {
		t.Fatalf("replays after %v, want [0 %d] (from the start, then from the checkpoint)", r, cp)
	}
	sameOutcome(t, "after a crash and a restart from the checkpoint", e.outcome(t, e.alarms.take()), want)
}

// TestCrashRestartWithoutSavedStateDiffers shows what the saved patient states are for: with
// them removed, the same restart rebuilds the patients from the stored sets and readings only
// and ends differently from the uninterrupted run.
func TestCrashRestartWithoutSavedStateDiffers(t *testing.T) {
	want, msgs := reference(t)
	e := newEnv(t)
	e.wardAndHome(t, wardStart)
	const cut = 77
	log := newMemLog(msgs, cut)
	svc := e.processor(t, log, e.alarms, nil, time.Hour, 8)
	stop := startRun(t, svc)
	waitFor(t, "the crash point", func() bool { p, _ := svc.LogSeqs(); return p == cut })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	log.setLimit(len(msgs))
	svc = e.processor(t, log, e.alarms, noStates{e.st}, 5*time.Millisecond, 8)
	stop = startRun(t, svc)
	waitFor(t, "the whole log committed", committedAll(svc, len(msgs)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(e.outcome(t, e.alarms.take()))
	w, _ := json.Marshal(want)
	if string(g) == string(w) {
		t.Fatal("the restart without saved states ended like the uninterrupted run: the test data does not exercise them")
	}
}

// noStates hides the saved patient states.
type noStates struct{ clinical.Store }

func (noStates) ClinicalStates(context.Context) ([]store.ClinicalState, error) { return nil, nil }

// failOnce fails the first SaveClinicalBatch of every checkpoint: each batch's alarm
// conditions are applied, the commit fails, and Run replays the batch from the checkpoint.
type failOnce struct {
	clinical.Store
	mu   sync.Mutex
	seen map[uint64]bool
}

func (f *failOnce) SaveClinicalBatch(ctx context.Context, b store.ClinicalBatch) error {
	f.mu.Lock()
	first := b.Checkpoint > 0 && !f.seen[b.Checkpoint]
	f.seen[b.Checkpoint] = true
	f.mu.Unlock()
	if first {
		return errors.New("disk full")
	}
	return f.Store.SaveClinicalBatch(ctx, b)
}

// nobody is an alarm directory without recipients.
type nobody struct{}

func (nobody) Recipients(context.Context, alarm.AlarmRef, alarm.RecipientRule) ([]string, error) {
	return nil, nil
}

// engineAlarms runs a real alarm engine and records what it emits.
type engineAlarms struct {
	eng    *alarm.Engine
	mu     sync.Mutex
	alarms map[alarm.ID]alarm.Alarm // last state of every alarm
	events []string                 // alarm, type, from → to
}

func newEngineAlarms(t *testing.T) *engineAlarms {
	t.Helper()
	a := &engineAlarms{alarms: map[alarm.ID]alarm.Alarm{}}
	eng, err := alarm.New(alarm.Config{Directory: nobody{}, Logger: slog.New(slog.DiscardHandler),
		Emit: func(_ context.Context, b alarm.Batch) error {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ev := range b.Events {
				if ev.Type == alarm.EvCreated || ev.Type == alarm.EvStateChanged {
					a.events = append(a.events, fmt.Sprintf("%s %s %s→%s", ev.AlarmID, ev.Type, ev.From, ev.To))
				}
				if ev.Alarm.Tenant != "" {
					a.alarms[ev.AlarmID] = ev.Alarm
				}
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	a.eng = eng
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func (a *engineAlarms) Apply(ctx context.Context, cs []alarm.Condition) error {
	return a.eng.Apply(ctx, cs)
}

func (a *engineAlarms) summary() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var lines []string
	for id, al := range a.alarms {
		lines = append(lines, fmt.Sprintf("%s %s %s occurrences %d", id, al.Code, al.State, al.OccurrenceCount))
	}
	slices.Sort(lines)
	return fmt.Sprint(lines, a.events)
}

// TestFailedCommitsReplayIntoTheAlarmEngine: every batch's commit fails once after its alarm
// conditions reached a real alarm engine, so Run resets and applies each batch's conditions a
// second time. The engine ends with the alarms, states, occurrence counts and transitions of
// an uninterrupted run, and the store with the same sets and flags.
func TestFailedCommitsReplayIntoTheAlarmEngine(t *testing.T) {
	// The ward readings of the last hour: the engine remembers closed alarms (to ignore their
	// replayed conditions) for a retention measured from the wall clock.
	start := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	setup := func(e *env) [][]reading.Reading { return e.wardAndHome(t, start) }

	ref := newEnv(t)
	msgs := setup(ref)
	refAlarms := newEngineAlarms(t)
	refSvc := ref.processor(t, nil, refAlarms, nil, 0, 0)
	if err := refSvc.Attributor().Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if err := refSvc.Consume(t.Context(), uint64(i+1), m); err != nil {
			t.Fatal(err)
		}
	}
	want := ref.outcome(t, nil)
	wantAlarms := refAlarms.summary()
	if n := len(refAlarms.alarms); n == 0 {
		t.Fatal("the uninterrupted run raised no alarm")
	}

	e := newEnv(t)
	setup(e)
	eng := newEngineAlarms(t)
	fs := &failOnce{Store: e.st, seen: map[uint64]bool{}}
	svc := e.processor(t, newMemLog(msgs, len(msgs)), eng, fs, 5*time.Millisecond, 6)
	stop := startRun(t, svc)
	waitFor(t, "the whole log committed", committedAll(svc, len(msgs)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fs.mu.Lock()
	failed := len(fs.seen)
	fs.mu.Unlock()
	if failed < len(msgs)/6 {
		t.Fatalf("%d commits failed once, want at least %d (one per batch)", failed, len(msgs)/6)
	}
	sameOutcome(t, "after a failed commit of every batch", e.outcome(t, nil), want)
	if g := eng.summary(); g != wantAlarms {
		t.Fatalf("alarm engine after replayed batches:\n%s\nuninterrupted:\n%s", g, wantAlarms)
	}
}

// TestFirstStartAfterDurableConsumer: without a checkpoint the processor starts after the old
// durable consumer's acknowledged position, and removes that consumer once its first
// checkpoint is saved; the next start goes by the checkpoint.
func TestFirstStartAfterDurableConsumer(t *testing.T) {
	want, msgs := reference(t)
	e := newEnv(t)
	e.wardAndHome(t, wardStart)
	const floor = 20
	for _, m := range msgs[:floor] { // what the old consumer processed and acknowledged
		if err := e.svc.Consume(t.Context(), 0, m); err != nil {
			t.Fatal(err)
		}
	}
	log := newMemLog(msgs, len(msgs))
	log.legacy, log.legacyFloor = true, floor
	svc := e.processor(t, legacyMemLog{log}, e.alarms, nil, 5*time.Millisecond, 100)
	stop := startRun(t, svc)
	waitFor(t, "the whole log committed", committedAll(svc, len(msgs)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if r := log.replayedAfter(); len(r) != 1 || r[0] != floor {
		t.Fatalf("replays after %v, want [%d] (the old consumer's ack floor)", r, floor)
	}
	if log.legacy || log.legacyRemovals != 1 {
		t.Fatalf("old consumer still there %v, removed %d times; want removed once", log.legacy, log.legacyRemovals)
	}
	sameOutcome(t, "after taking over from the durable consumer", e.outcome(t, e.alarms.take()), want)

	// A restart with the consumer gone: from the checkpoint.
	svc = e.processor(t, legacyMemLog{log}, e.alarms, nil, 5*time.Millisecond, 100)
	stop = startRun(t, svc)
	waitFor(t, "a second replay", func() bool { return len(log.replayedAfter()) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if r := log.replayedAfter(); r[1] != uint64(len(msgs)) {
		t.Fatalf("second start replays after %d, want the checkpoint %d", r[1], len(msgs))
	}
}
