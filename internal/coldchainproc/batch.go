package coldchainproc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// pending is the uncommitted work of the log messages processed since the last commit: their
// store batch (the last version of each record and source state), their alarm conditions and
// side effects in order, and the sequence of the last of them. Owned by the goroutine that
// processes the log.
type pending struct {
	seq   uint64 // the last log sequence included (0: none with a sequence)
	n     int    // messages included
	batch store.ColdBatch
	conds []alarm.Condition
	after []func() error
	recs  map[string]int  // tenant, kind, id → index in batch.Records
	sts   map[string]int  // tenant, source → index in batch.States
	keys  map[string]bool // DedupKey of every condition in conds
}

func newPending() *pending {
	return &pending{recs: map[string]int{}, sts: map[string]int{}, keys: map[string]bool{}}
}

// empty reports whether nothing was added since the last commit.
func (b *pending) empty() bool { return b.n == 0 }

// conflicts reports whether ru has an alarm condition for an alarm (DedupKey) that the batch
// already has one for. Such a message must go into the next batch: see add.
func (b *pending) conflicts(ru *run) bool {
	for i := range ru.conds {
		if b.keys[ru.conds[i].DedupKey()] {
			return true
		}
	}
	return false
}

// add merges one processed message (its sequence seq) into the batch.
//
// The alarm engine matches a cleared condition by its alarm's dedup key, not by its onset, and
// re-activates a latched alarm when a condition with its onset is present again. So applying
// one batch's conditions twice (a crash after Apply, before the commit; the replay applies
// them again) is harmless only while the batch holds at most one condition per alarm: the
// repeat is then a no-op. The caller keeps that so by committing the batch before adding a
// message that conflicts with it.
func (b *pending) add(seq uint64, ru *run) {
	b.n++
	if seq > 0 {
		b.seq = seq
	}
	for _, r := range ru.batch.Records {
		k := r.Tenant + "\x00" + r.Kind + "\x00" + r.ID
		if i, ok := b.recs[k]; ok {
			b.batch.Records[i] = r
			continue
		}
		b.recs[k] = len(b.batch.Records)
		b.batch.Records = append(b.batch.Records, r)
	}
	for _, st := range ru.batch.States {
		k := st.Tenant + "\x00" + st.Source
		if i, ok := b.sts[k]; ok {
			b.batch.States[i] = st
			continue
		}
		b.sts[k] = len(b.batch.States)
		b.batch.States = append(b.batch.States, st)
	}
	b.batch.Ledger = append(b.batch.Ledger, ru.batch.Ledger...)
	for _, c := range ru.conds {
		b.keys[c.DedupKey()] = true
	}
	b.conds = append(b.conds, ru.conds...)
	b.after = append(b.after, ru.after...)
}

// commit applies the batch's conditions, runs its side effects and writes its store batch with
// the checkpoint, in that order, so that a crash at any point is repaired by replaying the log
// from the saved checkpoint. On failure the live state is reset to the saved one: the caller
// must replay from the checkpoint.
func (p *processor) commit(ctx context.Context, b *pending) error {
	err := p.write(ctx, b)
	if err != nil {
		// The live state is ahead of what was saved: forget it, so that the messages are
		// processed again from the saved state.
		if rerr := p.reset(ctx); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func (p *processor) write(ctx context.Context, b *pending) error {
	if len(b.conds) > 0 && p.s.cfg.Alarms != nil {
		if err := p.s.cfg.Alarms.Apply(ctx, b.conds); err != nil {
			return fmt.Errorf("apply %d cold-chain alarm conditions: %w", len(b.conds), err)
		}
	}
	for _, f := range b.after {
		if err := f(); err != nil {
			return err
		}
	}
	batch := b.batch
	batch.Checkpoint = b.seq
	if err := p.s.cfg.Store.SaveColdBatch(ctx, batch); err != nil {
		return fmt.Errorf("save cold-chain batch of %d messages up to log sequence %d: %w", b.n, b.seq, err)
	}
	if b.seq > 0 {
		p.committed.Store(b.seq)
	}
	return nil
}

// consume processes one log message and commits it at once (with seq as the checkpoint when
// above 0). Run batches instead; tests and tools that feed single messages use this.
func (p *processor) consume(ctx context.Context, seq uint64, rs []reading.Reading) error {
	ru, err := p.process(ctx, rs)
	if err != nil {
		if rerr := p.reset(ctx); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	b := newPending()
	b.add(seq, ru)
	return p.commit(ctx, b)
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
// pending.add). committed is called after every successful commit.
func (p *processor) loop(ctx context.Context, msgs <-chan message, flushEvery time.Duration, maxBatch int, committed func()) error {
	b := newPending()
	timer := time.NewTimer(flushEvery)
	timer.Stop()
	defer timer.Stop()
	flush := func() error {
		timer.Stop()
		if b.empty() {
			return nil
		}
		if err := p.commit(ctx, b); err != nil {
			return &errCommit{err: err}
		}
		b = newPending()
		committed()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err() // the uncommitted batch is replayed after a restart
		case <-timer.C:
			if err := flush(); err != nil {
				return err
			}
		case m := <-msgs:
			ru, err := p.process(ctx, m.rs)
			if err != nil {
				if rerr := p.reset(ctx); rerr != nil {
					err = errors.Join(err, rerr)
				}
				return &errCommit{err: fmt.Errorf("process log message %d: %w", m.seq, err)}
			}
			if b.conflicts(ru) {
				if err := flush(); err != nil {
					return err
				}
			}
			b.add(m.seq, ru)
			p.processed.Store(m.seq)
			if b.n == 1 {
				timer.Reset(flushEvery)
			}
			if b.n >= maxBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}
