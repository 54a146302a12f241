package clinical

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/clinical/baseline"
	"github.com/vigil-iomt/vigil/internal/news2"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// batch is uncommitted work: the records, patient states (each as of the last message that
// touched it) and alarm conditions of the log messages processed since the last commit, and
// the sequence of the last of them. Service.pend is the log's; the API's operations and the
// overdue check build their own and commit it at once. Guarded by Service.mu.
type batch struct {
	seq    uint64 // the last log sequence included (0: none with a sequence)
	n      int    // log messages included
	recs   []store.ClinicalRecord
	ids    map[string]bool // kind, tenant, id of every record in recs
	states map[*patientState]*procState
	conds  []alarm.Condition
	keys   map[string]bool // DedupKey of every condition in conds
}

func newBatch() *batch {
	return &batch{ids: map[string]bool{}, states: map[*patientState]*procState{}, keys: map[string]bool{}}
}

func (b *batch) empty() bool {
	return b.n == 0 && len(b.recs) == 0 && len(b.states) == 0 && len(b.conds) == 0
}

// put adds a record (the first of an id wins, as in the store).
func (b *batch) put(r store.ClinicalRecord) {
	k := string(r.Kind) + "\x00" + r.Tenant + "\x00" + r.ID
	if b.ids[k] {
		return
	}
	b.ids[k] = true
	b.recs = append(b.recs, r)
}

// conflicts reports whether r has an alarm condition for an alarm (DedupKey) that b already
// has one for. Such a message must go into the next batch: see add.
func (b *batch) conflicts(r *batch) bool {
	for i := range r.conds {
		if b.keys[r.conds[i].DedupKey()] {
			return true
		}
	}
	return false
}

// add merges the work r of one log message (its sequence seq) into b.
//
// The alarm engine matches a cleared condition by its alarm's dedup key, not by its onset, and
// re-activates a latched alarm when a condition with its onset is present again. So applying
// one batch's conditions twice (a crash after Apply, before the commit; the replay applies
// them again) is harmless only while the batch holds at most one condition per alarm: the
// repeat is then a no-op. The caller keeps that so by committing b before adding a message
// that conflicts with it (one message's own conditions are for different alarms: a patient is
// evaluated once per message).
func (b *batch) add(seq uint64, r *batch) {
	b.n++
	if seq > 0 {
		b.seq = seq
	}
	for _, rec := range r.recs {
		b.put(rec)
	}
	for ps, st := range r.states {
		b.states[ps] = st
	}
	for _, c := range r.conds {
		b.keys[c.DedupKey()] = true
	}
	b.conds = append(b.conds, r.conds...)
}

// commitLocked applies b's conditions, then writes its records and states with its checkpoint
// in one transaction, so that a crash at any point is repaired by replaying the log from the
// saved checkpoint. On failure the live state is reset to the saved one and the log must be
// replayed from the checkpoint (Run does). Called with s.mu held.
func (s *Service) commitLocked(ctx context.Context, b *batch) error {
	err := s.writeLocked(ctx, b)
	if err != nil {
		// The live state is ahead of what was saved: forget it, so that the messages are
		// processed again from the saved state.
		s.resetLocked()
	}
	return err
}

func (s *Service) writeLocked(ctx context.Context, b *batch) error {
	if s.broken {
		return errors.New("clinical: state reset after a failed commit; waiting for the replay")
	}
	if len(b.conds) > 0 && s.cfg.Alarms != nil {
		if err := s.cfg.Alarms.Apply(ctx, b.conds); err != nil {
			return fmt.Errorf("clinical: apply %d alarm conditions: %w", len(b.conds), err)
		}
	}
	out := store.ClinicalBatch{Records: b.recs, Checkpoint: b.seq}
	for ps, st := range b.states {
		raw, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("clinical: encode state: %w", err)
		}
		out.States = append(out.States, store.ClinicalState{Tenant: ps.tenant, Patient: ps.id, JSON: raw})
	}
	if err := s.st.SaveClinicalBatch(ctx, out); err != nil {
		return fmt.Errorf("clinical: save batch of %d messages up to log sequence %d: %w", b.n, b.seq, err)
	}
	if b.seq > 0 {
		s.committed.Store(b.seq)
	}
	return nil
}

// resetLocked drops the live state: patients are loaded again from the store (their saved
// states) at first use. While a log replay is running (Run) it is marked broken: nothing more
// is processed or committed until Run has replayed from the checkpoint. Called with s.mu held.
func (s *Service) resetLocked() {
	s.patients, s.saved, s.pend = map[string]*patientState{}, nil, newBatch()
	if s.replaying {
		s.broken = true
	}
}

// flushLocked commits the log's pending batch. The API's operations call it first, so that
// what they store and raise follows the log's work and sees it committed. Called with s.mu held.
func (s *Service) flushLocked(ctx context.Context) error {
	if s.pend.empty() {
		return nil
	}
	b := s.pend
	s.pend = newBatch()
	return s.commitLocked(ctx, b)
}

// processLocked processes one log message into a new batch: it attributes each reading, feeds
// NEWS2 assembly and baselines, evaluates each touched patient once at its newest reading and
// collects the records, states and alarm conditions that causes. Called with s.mu held.
func (s *Service) processLocked(ctx context.Context, rs []reading.Reading) (*batch, error) {
	w := newBatch()
	var order []*patientState
	touched := map[*patientState]time.Time{}
	changed := map[*patientState]bool{}
	for i := range rs {
		r := &rs[i]
		if r.Kind != reading.Number || r.Flags&skipFlags != 0 {
			continue
		}
		pid, ok := s.attr.PatientAt(r.Tenant, r.Device, r.Measured)
		if !ok {
			continue
		}
		np, rank, isNEWS := news2.ParamOf(r.Metric)
		bp, isPBM := baseline.ParamOf(r.Metric)
		if !isNEWS && !isPBM {
			continue
		}
		ps, err := s.patient(ctx, r.Tenant, pid)
		if err != nil {
			return nil, fmt.Errorf("clinical: load patient of device %s: %w", r.Device, err)
		}
		if isNEWS && news2.Plausible(np, r.Value, false) {
			changed[ps] = true
			ps.asm.Add(np, r.Value, r.Measured, sourceOf(np, rank), rank)
			if r.Measured.After(ps.newest) {
				ps.newest = r.Measured
			}
			if t, seen := touched[ps]; !seen || r.Measured.After(t) {
				if !seen {
					order = append(order, ps)
				}
				touched[ps] = r.Measured
			}
		}
		if isPBM {
			changed[ps] = true
			if err := s.feedBaseline(ctx, w, ps, bp, r.Measured, r.Value); err != nil {
				return nil, fmt.Errorf("clinical: baseline: %w", err)
			}
		}
	}
	for _, ps := range order {
		c, _, err := s.evaluate(ctx, w, ps, touched[ps], SourceDevice, "")
		if err != nil {
			return nil, fmt.Errorf("clinical: evaluate: %w", err)
		}
		w.conds = append(w.conds, c...)
	}
	for ps := range changed {
		w.states[ps] = ps.snapshot()
	}
	return w, nil
}

// addLocked adds a processed log message to the pending batch, committing the batch first
// when the message conflicts with it (see batch.add). Called with s.mu held.
func (s *Service) addLocked(ctx context.Context, seq uint64, w *batch) error {
	if s.pend.conflicts(w) {
		if err := s.flushLocked(ctx); err != nil {
			return err
		}
	}
	s.pend.add(seq, w)
	return nil
}

// Consume processes one log message and commits it at once (with seq as the checkpoint when
// above 0), after anything pending. It is idempotent (see the package doc). Run batches
// instead; tests and tools that feed single messages use this.
func (s *Service) Consume(ctx context.Context, seq uint64, rs []reading.Reading) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.processLocked(ctx, rs)
	if err != nil {
		s.resetLocked()
		return err
	}
	if err := s.addLocked(ctx, seq, w); err != nil {
		return err
	}
	return s.flushLocked(ctx)
}

// commitSideLocked commits the work of an operation outside the log (a manual observation, a
// re-score, the overdue check): after the log's pending batch, with the checkpoint unchanged.
// Called with s.mu held, after flushLocked.
func (s *Service) commitSideLocked(ctx context.Context, w *batch) error {
	if w.empty() {
		return nil
	}
	return s.commitLocked(ctx, w)
}

// message is one log message on its way from the replay to the processing goroutine.
type message struct {
	seq uint64
	rs  []reading.Reading
}

// errCommit marks a failure to commit a batch (or to process a message): Run resets and
// replays from the checkpoint rather than stopping.
type errCommit struct{ err error }

func (e *errCommit) Error() string { return e.err.Error() }
func (e *errCommit) Unwrap() error { return e.err }

// loop processes the messages from msgs and commits them in batches: when the oldest
// uncommitted message has waited flushEvery, when maxBatch messages are waiting, and before a
// message with an alarm condition for an alarm the batch already has one for (see
// batch.add). committed is called after every commit of the log's batch.
func (s *Service) loop(ctx context.Context, msgs <-chan message, flushEvery time.Duration, maxBatch int, committed func()) error {
	timer := time.NewTimer(flushEvery)
	timer.Stop()
	defer timer.Stop()
	// flush commits the pending batch (if an API operation has not already); s.mu held.
	flush := func() error {
		timer.Stop()
		before := s.pend
		if err := s.flushLocked(ctx); err != nil {
			return &errCommit{err: err}
		}
		if !before.empty() {
			committed()
		}
		return nil
	}
	step := func(f func() error) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.broken {
			return &errCommit{err: errors.New("clinical: an operation's commit failed; replaying from the checkpoint")}
		}
		return f()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err() // the uncommitted batch is replayed after a restart
		case <-timer.C:
			if err := step(flush); err != nil {
				return err
			}
		case m := <-msgs:
			err := step(func() error {
				w, err := s.processLocked(ctx, m.rs)
				if err != nil {
					s.resetLocked()
					return &errCommit{err: fmt.Errorf("process log message %d: %w", m.seq, err)}
				}
				if s.pend.conflicts(w) {
					if err := flush(); err != nil {
						return err
					}
				}
				s.pend.add(m.seq, w)
				s.processed.Store(m.seq)
				if s.pend.n == 1 {
					timer.Reset(flushEvery)
				}
				if s.pend.n >= maxBatch {
					return flush()
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
}
