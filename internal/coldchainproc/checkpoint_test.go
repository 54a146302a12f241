package coldchainproc

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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/stream"
)

// memLog is an in-memory log: message i has sequence i+1. Replay delivers the messages up to
// limit and then waits for more (or for ctx), as a caught-up ordered consumer does.
type memLog struct {
	msgs [][]reading.Reading

	mu      sync.Mutex
	limit   int
	more    chan struct{} // closed and replaced when limit grows
	replays []uint64      // afterSeq of every Replay call

	// The old durable consumer (legacyLog): its ack floor while it exists.
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

// legacyMemLog is a memLog that still has the old durable consumer.
type legacyMemLog struct{ *memLog }

func (l legacyMemLog) ConsumerAckFloor(_ context.Context, name string) (uint64, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name != Consumer || !l.legacy {
		return 0, false, nil
	}
	return l.legacyFloor, true, nil
}

func (l legacyMemLog) RemoveConsumer(_ context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if name == Consumer && l.legacy {
		l.legacy = false
		l.legacyRemovals++
	}
	return nil
}

// twoExcursions is spec X1's readings twice, the second time 2 h later: two EXCURSION_HIGH
// alarms (present, then cleared) on one unit, budget A charged twice.
func twoExcursions() [][]reading.Reading { return twoExcursionsFrom(t0) }

func twoExcursionsFrom(start time.Time) [][]reading.Reading {
	var msgs [][]reading.Reading
	for rep := range 2 {
		for i, c := range x1 {
			msgs = append(msgs, one(temp("fridge-logger", start.Add(time.Duration(120*rep+5*i)*time.Minute), c)))
		}
	}
	return msgs
}

func (e *env) fridgeWithLot() { e.fridgeWithLotAt(t0) }

// fridgeWithLotAt creates unit "fridge" (spec X1's limits) with lot L1 of GARD9 in it since
// a minute before start.
func (e *env) fridgeWithLotAt(start time.Time) {
	e.gardasil()
	e.unit("fridge", x1Limits)
	e.clock.Set(start.Add(-time.Minute))
	e.lot("L1", AtUnit, "fridge")
}

// startRun runs svc.Run on log until the returned stop is called; stop returns Run's error.
func startRun(t *testing.T, svc *Service) (stop func() error) {
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

// waitFor polls cond until it holds or 10 s pass.
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

func (e *env) checkpoint() uint64 {
	e.t.Helper()
	seq, _, err := e.st.ColdCheckpoint(e.t.Context())
	e.must(err)
	return seq
}

// outcome is what a run leaves in the store, to compare runs: the unit's excursions, the
// lot's ledger lines and budget, and the alarm conditions applied.
type outcome struct {
	Excursions []Excursion
	Ledger     []string
	ConsumedA  time.Duration
	Conditions []string
}

func (e *env) outcome() outcome {
	e.t.Helper()
	ctx := e.t.Context()
	var o outcome
	o.Excursions = e.excursions("fridge")
	led, err := e.st.Ledger(ctx, tenant, "L1")
	e.must(err)
	for _, l := range led {
		o.Ledger = append(o.Ledger, l.ID+" "+string(l.JSON))
	}
	// From the store, not from a live processor's memory.
	b, _, err := load[lotBudget](ctx, e.st, tenant, store.ColdLotBudget, "L1")
	e.must(err)
	o.ConsumedA = b.State.Consumed["A"]
	e.alarms.mu.Lock()
	for _, c := range e.alarms.conds {
		o.Conditions = append(o.Conditions, fmt.Sprintf("%s %s %s onset %s at %s", c.Key(), c.Code, c.Status,
			c.Onset.Format(time.RFC3339), c.At.Format(time.RFC3339)))
	}
	e.alarms.mu.Unlock()
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

// TestCrashRestartFromCheckpoint: the processor runs on the log in batches, "crashes" (Run's
// context ends) with a batch processed but not committed, and a new processor on the same
// store replays from the saved checkpoint. It ends with exactly the excursions, ledger lines,
// budget and alarm conditions of an uninterrupted run that committed message by message.
func TestCrashRestartFromCheckpoint(t *testing.T) {
	msgs := twoExcursions()

	ref := newEnv(t)
	ref.fridgeWithLot()
	ref.feed(msgs...)
	want := ref.outcome()
	if len(want.Excursions) != 2 || want.ConsumedA != 60*time.Minute || len(want.Ledger) != 12 {
		t.Fatalf("reference run: %d excursions, band A %v, %d ledger lines; want 2, 60m, 12", len(want.Excursions),
			want.ConsumedA, len(want.Ledger))
	}

	e := newEnv(t)
	e.fridgeWithLot()
	const cut = 11 // the first excursion's end (the 10th reading) is among them
	log := newMemLog(msgs, cut)
	svc, err := New(t.Context(), Config{Store: e.st, Audit: e.trail, Keyring: e.kr, Alarms: e.alarms, Now: e.clock.Now,
		Log: log, FlushEvery: time.Hour, MaxBatch: 4}) // commits only after 4 messages (or before a conflict)
	e.must(err)
	stop := startRun(t, svc)
	waitFor(t, "message 11 processed", func() bool { return svc.proc.processed.Load() == cut })
	e.must(stop())
	cp := e.checkpoint()
	if cp == 0 || cp >= cut {
		t.Fatalf("checkpoint %d at the crash, want a batch committed and one pending (0 < checkpoint < %d)", cp, cut)
	}
	var saved sourceState
	sts, err := e.st.ColdStates(t.Context())
	e.must(err)
	e.must(json.Unmarshal(sts[0].JSON, &saved))
	if wm, want := saved.Sensors["fridge-logger/temp_ambient"].WM, at(5*(int(cp)-1)); !wm.Equal(want) {
		t.Fatalf("saved watermark %v, want the reading of the checkpoint's message %v: state and checkpoint in one transaction", wm, want)
	}

	// Restart: a new Service on the same store, the whole log available.
	log.setLimit(len(msgs))
	svc = e.open()
	svc.cfg.Log, svc.cfg.FlushEvery, svc.cfg.MaxBatch = log, 5*time.Millisecond, 4
	stop = startRun(t, svc)
	waitFor(t, "the whole log committed", func() bool { return svc.proc.committed.Load() == uint64(len(msgs)) })
	e.must(stop())
	if r := log.replayedAfter(); len(r) != 2 || r[0] != 0 || r[1] != cp {
		t.Fatalf("replays after %v, want [0 %d] (from the start, then from the checkpoint)", r, cp)
	}
	if got := e.checkpoint(); got != uint64(len(msgs)) {
		t.Fatalf("checkpoint %d after the restart, want %d", got, len(msgs))
	}
	sameOutcome(t, "after a crash and a restart from the checkpoint", e.outcome(), want)
}

// failOnce fails the first SaveColdBatch of every checkpoint: each batch's alarm conditions
// are applied, the commit fails, and Run replays the batch from the checkpoint.
type failOnce struct {
	Store
	mu   sync.Mutex
	seen map[uint64]bool
}

func (f *failOnce) SaveColdBatch(ctx context.Context, b store.ColdBatch) error {
	f.mu.Lock()
	first := b.Checkpoint > 0 && !f.seen[b.Checkpoint]
	f.seen[b.Checkpoint] = true
	f.mu.Unlock()
	if first {
		return errors.New("disk full")
	}
	return f.Store.SaveColdBatch(ctx, b)
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
// an uninterrupted run, and the store with the same excursions, ledger and budget.
func TestFailedCommitsReplayIntoTheAlarmEngine(t *testing.T) {
	// Readings of the last hours: the engine remembers closed alarms (to ignore their replayed
	// conditions) for a retention measured from the wall clock.
	start := time.Now().UTC().Truncate(time.Minute).Add(-4 * time.Hour)
	msgs := twoExcursionsFrom(start)

	ref := newEnv(t)
	ref.fridgeWithLotAt(start)
	refAlarms := newEngineAlarms(t)
	refSvc, err := New(t.Context(), Config{Store: ref.st, Audit: ref.trail, Keyring: ref.kr, Alarms: refAlarms, Now: ref.clock.Now})
	ref.must(err)
	ref.svc = refSvc
	ref.feed(msgs...)
	want := ref.outcome()
	wantAlarms := refAlarms.summary()

	e := newEnv(t)
	e.fridgeWithLotAt(start)
	engAlarms := newEngineAlarms(t)
	fs := &failOnce{Store: e.st, seen: map[uint64]bool{}}
	svc, err := New(t.Context(), Config{Store: fs, Audit: e.trail, Keyring: e.kr, Alarms: engAlarms, Now: e.clock.Now,
		Log: newMemLog(msgs, len(msgs)), FlushEvery: 5 * time.Millisecond, MaxBatch: 3})
	e.must(err)
	svc.retryBase = time.Millisecond
	stop := startRun(t, svc)
	waitFor(t, "the whole log committed", func() bool { return svc.proc.committed.Load() == uint64(len(msgs)) })
	e.must(stop())
	fs.mu.Lock()
	failed := len(fs.seen)
	fs.mu.Unlock()
	if failed < len(msgs)/3 {
		t.Fatalf("%d commits failed once, want at least %d (one per batch)", failed, len(msgs)/3)
	}
	got := e.outcome()
	got.Conditions, want.Conditions = nil, nil // e's sink is unused here: the engine has them
	sameOutcome(t, "after a failed commit of every batch", got, want)
	if g := engAlarms.summary(); g != wantAlarms {
		t.Fatalf("alarm engine after replayed batches:\n%s\nuninterrupted:\n%s", g, wantAlarms)
	}
	if n := len(refAlarms.alarms); n != 2 {
		t.Fatalf("uninterrupted run raised %d alarms, want 2 (one per excursion)", n)
	}
}

// TestFirstStartAfterDurableConsumer: without a checkpoint the processor starts after the old
// durable consumer's acknowledged position, and removes that consumer once its first
// checkpoint is saved; the next start goes by the checkpoint.
func TestFirstStartAfterDurableConsumer(t *testing.T) {
	msgs := twoExcursions()
	e := newEnv(t)
	e.fridgeWithLot()
	e.feed(msgs[:7]...) // what the old consumer processed and acknowledged
	log := newMemLog(msgs, len(msgs))
	log.legacy, log.legacyFloor = true, 7
	svc, err := New(t.Context(), Config{Store: e.st, Audit: e.trail, Keyring: e.kr, Alarms: e.alarms, Now: e.clock.Now,
		Log: legacyMemLog{log}, FlushEvery: 5 * time.Millisecond, MaxBatch: 100})
	e.must(err)
	stop := startRun(t, svc)
	waitFor(t, "the whole log committed", func() bool { return svc.proc.committed.Load() == uint64(len(msgs)) })
	e.must(stop())
	if r := log.replayedAfter(); len(r) != 1 || r[0] != 7 {
		t.Fatalf("replays after %v, want [7] (the old consumer's ack floor)", r)
	}
	if log.legacy || log.legacyRemovals != 1 {
		t.Fatalf("old consumer still there %v, removed %d times; want removed once", log.legacy, log.legacyRemovals)
	}

	ref := newEnv(t)
	ref.fridgeWithLot()
	ref.feed(msgs...)
	sameOutcome(t, "after taking over from the durable consumer", e.outcome(), ref.outcome())

	// A restart with the consumer gone: from the checkpoint.
	svc = e.open()
	svc.cfg.Log = legacyMemLog{log}
	stop = startRun(t, svc)
	waitFor(t, "a second replay", func() bool { return len(log.replayedAfter()) == 2 })
	e.must(stop())
	if r := log.replayedAfter(); r[1] != uint64(len(msgs)) {
		t.Fatalf("second start replays after %d, want the checkpoint %d", r[1], len(msgs))
	}
}

// seenLog is a real log that records the sequences Replay delivers.
type seenLog struct {
	*stream.Log
	mu   sync.Mutex
	seqs []uint64
}

func (l *seenLog) Replay(ctx context.Context, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error {
	return l.Log.Replay(ctx, afterSeq, func(seq uint64, rs []reading.Reading) error {
		l.mu.Lock()
		l.seqs = append(l.seqs, seq)
		l.mu.Unlock()
		return fn(seq, rs)
	})
}

func (l *seenLog) seen() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seqs)
}

// TestTakeOverFromDurableConsumerOnEmbeddedLog runs against a real embedded JetStream log: the
// old processor consumes 7 messages through the durable consumer "coldchain" (acknowledging
// each), then the new one starts after that consumer's ack floor, replays the other 19,
// removes the consumer with its first checkpoint, and ends as an uninterrupted run does.
func TestTakeOverFromDurableConsumerOnEmbeddedLog(t *testing.T) {
	msgs := twoExcursions()
	lg, err := stream.Open(t.Context(), stream.Config{DataDir: t.TempDir()}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lg.Close)
	e := newEnv(t)
	e.fridgeWithLot()
	ctx := t.Context()
	for _, m := range msgs[:7] {
		e.must(lg.Append(ctx, tenant, "fridge-logger", m))
	}
	// The old processor: one message at a time through the durable consumer.
	var mu sync.Mutex
	var old []uint64
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- lg.RunConsumer(cctx, Consumer, func(ctx context.Context, seq uint64, rs []reading.Reading) error {
			if err := e.svc.proc.consume(ctx, 0, rs); err != nil {
				return err
			}
			mu.Lock()
			old = append(old, seq)
			mu.Unlock()
			return nil
		})
	}()
	var floor uint64
	waitFor(t, "the old consumer to acknowledge 7 messages", func() bool {
		mu.Lock()
		n := len(old)
		mu.Unlock()
		f, ok, err := lg.ConsumerAckFloor(ctx, Consumer)
		e.must(err)
		floor = f
		return n == 7 && ok && f == old[6]
	})
	cancel()
	<-done
	for _, m := range msgs[7:] {
		e.must(lg.Append(ctx, tenant, "fridge-logger", m))
	}

	sl := &seenLog{Log: lg}
	svc := e.open()
	svc.cfg.Log, svc.cfg.FlushEvery = sl, 5*time.Millisecond
	stop := startRun(t, svc)
	waitFor(t, "19 messages replayed and committed", func() bool {
		s := sl.seen()
		return len(s) == 19 && svc.proc.committed.Load() == s[18]
	})
	e.must(stop())
	if s := sl.seen(); s[0] != floor+1 {
		t.Fatalf("replay started at %d, want %d (after the old consumer's ack floor)", s[0], floor+1)
	}
	if _, ok, err := lg.ConsumerAckFloor(ctx, Consumer); err != nil || ok {
		t.Fatalf("old consumer still there (%v, %v), want it removed", ok, err)
	}
	if got, want := e.checkpoint(), sl.seen()[18]; got != want {
		t.Fatalf("checkpoint %d, want the last message's sequence %d", got, want)
	}
	ref := newEnv(t)
	ref.fridgeWithLot()
	ref.feed(msgs...)
	sameOutcome(t, "after taking over from the durable consumer", e.outcome(), ref.outcome())
}

// TestLogSeqMetrics: vigil_coldchain_log_seq shows the processed and committed sequences.
func TestLogSeqMetrics(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	s, err := New(t.Context(), Config{Store: e.st, Audit: e.trail, Keyring: e.kr, Registerer: reg})
	e.must(err)
	s.proc.processed.Store(9)
	s.proc.committed.Store(7)
	e.must(testutil.GatherAndCompare(reg, strings.NewReader(`# HELP vigil_coldchain_log_seq Log sequence of the last message the cold-chain processor processed (stage processed) and committed with its checkpoint (stage committed).
# TYPE vigil_coldchain_log_seq gauge
vigil_coldchain_log_seq{stage="committed"} 7
vigil_coldchain_log_seq{stage="processed"} 9
`)))
}
