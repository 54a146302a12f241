package alarm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Snapshot is the engine's whole state as a plain value (JSON-friendly), for a persistence
// layer to save and to restore after a restart. Slices are sorted, so equal states have equal
// snapshots.
type Snapshot struct {
	Version  int            `json:"version"`
	Open     []Tracked      `json:"open"`
	Closed   []ClosedRef    `json:"closed"`
	Pauses   []Pause        `json:"pauses"`
	Consoles []ConsolePause `json:"consoles"`
}

// SnapshotVersion is the version of the Snapshot layout.
const SnapshotVersion = 1

func (c *core) snapshot() Snapshot {
	s := Snapshot{Version: SnapshotVersion}
	for _, t := range c.open {
		cp := *t
		cp.Alarm.History = slices.Clone(t.Alarm.History)
		cp.Members = slices.Clone(t.Members)
		cp.Recipients = slices.Clone(t.Recipients)
		s.Open = append(s.Open, cp)
	}
	slices.SortFunc(s.Open, func(x, y Tracked) int { return compareID(x.Alarm.ID, y.Alarm.ID) })
	for _, r := range c.closed {
		s.Closed = append(s.Closed, r)
	}
	slices.SortFunc(s.Closed, func(x, y ClosedRef) int { return compareID(x.ID, y.ID) })
	for _, p := range c.pauses {
		s.Pauses = append(s.Pauses, p)
	}
	slices.SortFunc(s.Pauses, func(x, y Pause) int { return compareStrings(x.Tenant+"/"+x.Subject, y.Tenant+"/"+y.Subject) })
	for _, p := range c.consoles {
		s.Consoles = append(s.Consoles, p)
	}
	slices.SortFunc(s.Consoles, func(x, y ConsolePause) int { return compareStrings(x.Console, y.Console) })
	return s
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *core) restore(s Snapshot) error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("restore alarm snapshot: version %d, want %d", s.Version, SnapshotVersion)
	}
	for i := range s.Open {
		t := s.Open[i]
		if !t.Alarm.State.Open() {
			return fmt.Errorf("restore alarm snapshot: alarm %s is %s, not open", t.Alarm.ID, t.Alarm.State)
		}
		if _, dup := c.open[t.Alarm.DedupKey]; dup {
			return fmt.Errorf("restore alarm snapshot: two open alarms for %q", t.Alarm.DedupKey)
		}
		c.open[t.Alarm.DedupKey], c.byID[t.Alarm.ID] = &t, &t
		c.touch(&t)
	}
	for _, r := range s.Closed {
		c.closed[r.ID] = r
		c.noteClosed(r.At)
	}
	for _, p := range s.Pauses {
		c.pauses[p.Tenant+"/"+p.Subject] = p
	}
	for _, p := range s.Consoles {
		c.consoles[p.Console] = p
	}
	return nil
}

// Batch is what the engine emits after handling one input: audit events in order and the
// notifications they caused.
type Batch struct {
	Events        []Event
	Notifications []Notification
	// Snapshot is the engine state after this batch, set when Config.SnapshotInBatch is on, so
	// that Emit can persist the events, notifications and the state they lead to atomically.
	Snapshot *Snapshot
}

// Config configures an Engine.
type Config struct {
	Policies  Policies  // nil: DefaultPolicies
	Directory Directory // required
	// Emit receives every batch, in order, from the Run goroutine. It should hand the batch to
	// a durable outbox and return; an error stops Run (restart from a snapshot and replay).
	Emit     func(context.Context, Batch) error
	Logger   *slog.Logger // nil: discard
	Restore  *Snapshot    // state to start from; nil: empty
	Capacity int          // buffer of the condition channel; 0: 1024
	// SnapshotInBatch makes Run attach the state after each batch to it (Batch.Snapshot), except
	// after ApplyReplayable's batches, whose conditions the caller replays from its own
	// checkpoint after a restart. It costs a copy of every open alarm per batch.
	SnapshotInBatch bool
}

// Engine owns all alarm state. Run is the only goroutine that touches it; every other method
// hands a request to Run and waits, so they are safe for concurrent use while Run runs (and
// block until it does).
type Engine struct {
	c       *core
	emit    func(context.Context, Batch) error
	snap    bool
	conds   chan Condition
	reqs    chan request
	stopped chan struct{} // closed when Run returns
}

// request is a function to run on the Run goroutine; done is closed once the batch it caused
// has been emitted (or Run has stopped).
type request struct {
	fn   func(ctx context.Context, now time.Time)
	done chan struct{}
	// replayable: the batch needs no snapshot unless timers fired too (ApplyReplayable);
	// force: it gets one even when it has no events (Checkpoint).
	replayable, force bool
}

// New returns an Engine ready to Run.
func New(cfg Config) (*Engine, error) {
	if cfg.Directory == nil || cfg.Emit == nil {
		return nil, errors.New("alarm engine: Directory and Emit are required")
	}
	c := newCore(cfg.Policies, cfg.Directory, cfg.Logger)
	if cfg.Restore != nil {
		if err := c.restore(*cfg.Restore); err != nil {
			return nil, fmt.Errorf("alarm engine: %w", err)
		}
	}
	n := cfg.Capacity
	if n <= 0 {
		n = 1024
	}
	return &Engine{c: c, emit: cfg.Emit, snap: cfg.SnapshotInBatch, conds: make(chan Condition, n),
		reqs: make(chan request), stopped: make(chan struct{})}, nil
}

// Run processes conditions, commands and timers until ctx ends or Emit fails. Timers fire at
// their exact due time on the process clock (time.Now), so under testing/synctest they are
// exact. Conditions act at their own At time.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if d, ok := e.c.nextDue(); ok {
			timer.Reset(time.Until(d))
		} else {
			timer.Stop()
		}
		var done chan struct{}
		snap := e.snap
		select {
		case <-ctx.Done():
			return ctx.Err()
		case cond := <-e.conds:
			e.c.advance(ctx, time.Now())
			e.c.onCondition(ctx, cond)
		case req := <-e.reqs:
			now := time.Now()
			e.c.advance(ctx, now)
			if req.replayable && len(e.c.events)+len(e.c.notes) == 0 {
				snap = false // no timer fired: the caller's replay rebuilds this batch
			}
			req.fn(ctx, now)
			done = req.done
			if req.force {
				s := e.c.snapshot()
				ev, no := e.c.take()
				if err := e.emit(ctx, Batch{Events: ev, Notifications: no, Snapshot: &s}); err != nil {
					return fmt.Errorf("alarm engine: emit checkpoint: %w", err)
				}
				close(done)
				continue
			}
		case <-timer.C:
			e.c.advance(ctx, time.Now())
		}
		if ev, no := e.c.take(); len(ev)+len(no) > 0 {
			b := Batch{Events: ev, Notifications: no}
			if snap {
				s := e.c.snapshot()
				b.Snapshot = &s
			}
			if err := e.emit(ctx, b); err != nil {
				return fmt.Errorf("alarm engine: emit %d events: %w", len(ev), err)
			}
		}
		if done != nil {
			close(done)
		}
	}
}

// Submit queues a condition for Run. It blocks only while the queue is full.
func (e *Engine) Submit(ctx context.Context, c Condition) error {
	select {
	case e.conds <- c:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("submit alarm condition %s: %w", c.Key(), ctx.Err())
	}
}

// call runs fn on the Run goroutine and waits until the batch it caused has been emitted.
func (e *Engine) call(ctx context.Context, fn func(ctx context.Context, now time.Time)) error {
	return e.callReq(ctx, request{fn: fn})
}

func (e *Engine) callReq(ctx context.Context, req request) error {
	done := make(chan struct{})
	req.done = done
	select {
	case e.reqs <- req:
	case <-e.stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-e.stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errStopped = errors.New("alarm engine stopped")

// Apply hands conditions to Run in order and returns once they have been handled and the
// batch they caused has been emitted (Emit returned), so the caller may then acknowledge their
// source. Unlike Submit it never reorders conditions against commands.
func (e *Engine) Apply(ctx context.Context, cs []Condition) error {
	if len(cs) == 0 {
		return nil
	}
	return e.call(ctx, func(ctx context.Context, _ time.Time) {
		for _, c := range cs {
			e.c.onCondition(ctx, c)
		}
	})
}

// SetPolicies replaces the escalation policies (nil: DefaultPolicies). Alarms announced from
// then on select from ps; alarms already announced keep the policy (and version) they use.
func (e *Engine) SetPolicies(ctx context.Context, ps Policies) error {
	if ps == nil {
		ps = DefaultPolicies()
	}
	return e.call(ctx, func(context.Context, time.Time) { e.c.policies = ps })
}

// ApplyReplayable is Apply for conditions that the caller derives from a log it replays after
// a restart from its own checkpoint (see Checkpoint): their batch carries no snapshot, unless
// timers fired in it, which saves a copy of every open alarm per batch on the hot path.
func (e *Engine) ApplyReplayable(ctx context.Context, cs []Condition) error {
	if len(cs) == 0 {
		return nil
	}
	return e.callReq(ctx, request{replayable: true, fn: func(ctx context.Context, _ time.Time) {
		for _, c := range cs {
			e.c.onCondition(ctx, c)
		}
	}})
}

// Checkpoint makes Run emit a batch with the current state (and whatever timers produced),
// even an empty one, and returns once Emit has returned. With ApplyReplayable the caller
// records, with that snapshot, how far in its log the state goes.
func (e *Engine) Checkpoint(ctx context.Context) error {
	return e.callReq(ctx, request{force: true, fn: func(context.Context, time.Time) {}})
}

// Do applies a user command (acknowledge, decline, escalate, cancel, alarm pause, audio
// pause). Errors wrap ErrForbidden, ErrNotFound, ErrInvalidTransition, ErrReasonRequired or
// ErrInvalid; forbidden and late attempts are audited as ACCESS_DENIED and NO_OP events.
func (e *Engine) Do(ctx context.Context, cmd Command) error {
	var err error
	if cerr := e.call(ctx, func(ctx context.Context, now time.Time) { err = e.c.command(ctx, cmd, now) }); cerr != nil {
		return fmt.Errorf("alarm %s: %w", cmd.Action, cerr)
	}
	return err
}

// CancelSubject cancels every open alarm of a subject on behalf of the system (discharge,
// transfer, device unbind; T14) and returns how many it cancelled. Callers are trusted
// processors, never user requests.
func (e *Engine) CancelSubject(ctx context.Context, tenant, subject, reason string) (int, error) {
	var n int
	err := e.call(ctx, func(_ context.Context, now time.Time) { n = e.c.cancelSubject(tenant, subject, reason, now) })
	return n, err
}

// List returns the open alarms matching f, highest priority first, then oldest.
func (e *Engine) List(ctx context.Context, f Filter) ([]Alarm, error) {
	var out []Alarm
	err := e.call(ctx, func(context.Context, time.Time) { out = e.c.list(f) })
	return out, err
}

// Get returns the open alarm id of tenant with its history; ErrNotFound when it is not open
// (closed alarms are read from the audit store).
func (e *Engine) Get(ctx context.Context, tenant string, id ID) (Alarm, error) {
	var a Alarm
	var ok bool
	if err := e.call(ctx, func(context.Context, time.Time) { a, ok = e.c.get(tenant, id) }); err != nil {
		return Alarm{}, err
	}
	if !ok {
		return Alarm{}, fmt.Errorf("alarm %s: %w", id, ErrNotFound)
	}
	return a, nil
}

// Snapshot returns a copy of the engine's state.
func (e *Engine) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	err := e.call(ctx, func(context.Context, time.Time) { s = e.c.snapshot() })
	return s, err
}
