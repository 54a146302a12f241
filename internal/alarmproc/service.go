package alarmproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Log feeds the processor: *stream.Log implements it. Replay calls fn with every message
// after the stream sequence afterSeq (0: from the oldest held), in order, until ctx ends or fn
// fails.
type Log interface {
	Replay(ctx context.Context, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error
}

// checkpoint is what the processor saves as the engine snapshot: the engine state and the last
// log sequence whose conditions it includes. After a restart the processor restores the state
// and replays the log from LogSeq + 1; replayed conditions map onto the same alarm, event and
// notification ids, so nothing is announced or sent twice.
type checkpoint struct {
	LogSeq uint64         `json:"log_seq"`
	Engine alarm.Snapshot `json:"engine"`
	// Tech is the technical evaluator at LogSeq or later (replaying a reading it already saw
	// changes nothing): without it a device silent since before the checkpoint would never
	// raise NO_DATA, as the replayed log holds none of its readings.
	Tech *alarm.TechSnapshot `json:"tech,omitempty"`
}

// Store is what the processor needs from the query store.
type Store interface {
	SaveAlarmBatch(ctx context.Context, b store.AlarmBatch) error
	AlarmSnapshot(ctx context.Context) ([]byte, error)
	Alarms(ctx context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error)
	Alarm(ctx context.Context, tenant, id string) (store.AlarmRecord, error)
	AlarmEvents(ctx context.Context, tenant, alarmID string) ([]store.AlarmEventRecord, error)
	Users(ctx context.Context, tenant string) ([]store.User, error)
	CareAssignments(ctx context.Context, tenant string, at time.Time) ([]store.CareAssignment, error)
	OnCall(ctx context.Context, tenant string, at time.Time) ([]store.OnCallShift, error)
	SaveAlarmPolicies(ctx context.Context, d store.AlarmPolicyDoc) error
	AlarmPolicies(ctx context.Context) ([]store.AlarmPolicyDoc, error)
}

// Config configures a Service.
type Config struct {
	Log        Log
	Store      Store
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	// CheckEvery is the period of the technical no-data check (default 1 s).
	CheckEvery time.Duration
	// CheckpointEvery is how often, at most, the engine state is saved with the log sequence
	// it covers while readings flow (default 2 s): what a restart replays. Commands and timers
	// save the state with their own batch.
	CheckpointEvery time.Duration
	// Subjects attributes a reading to the patient or asset its device was assigned to at the
	// measured time (nil: the subject set at ingest, or the device itself).
	Subjects SubjectResolver
	// Bus connects the nodes of a scaled-out deployment (nil: a single node). Only the node
	// that calls Run (the lease holder) runs the engine; the others forward commands to it and
	// show the changes it broadcasts.
	Bus Bus
}

// SubjectResolver says whom a device's reading belongs to at a time: *clinical.Attributor
// implements it. ok is false when the device was assigned to nobody then.
type SubjectResolver interface {
	SubjectAt(tenant, device string, at time.Time) (subject, unit string, ok bool)
}

// Service is the alarm processor: engine, log consumer, persistence and subscriptions.
type Service struct {
	cfg      Config
	log      *slog.Logger
	eng      atomic.Pointer[alarm.Engine]   // the engine of the current (or last) Run
	policies atomic.Pointer[alarm.Policies] // defaults and every tenant's own
	eval     *alarm.Evaluator               // owned by the consumer goroutine
	tech     *alarm.TechEvaluator           // guarded by techMu (consumer and ticker)
	techMu   sync.Mutex
	// intervals configures signals' expected intervals (SetIntervals); set before Run.
	intervals alarm.IntervalSource

	mu             sync.Mutex     // guards subs, pauses and policyVersions
	policyVersions map[string]int // tenant → saved policy version
	subs           map[string]map[chan View]struct{}
	pauses         map[string]time.Time // tenant/subject → alarm pause end

	node    string      // this Service's id on the bus
	leading atomic.Bool // Run is running: the engine is here
	stopBus func()

	startSeq       uint64        // the log sequence to replay after (from the checkpoint)
	applied        atomic.Uint64 // the last log sequence whose conditions the engine has
	lastCheckpoint time.Time     // consumer goroutine only

	// The log clock: the receive time of the newest reading the consumer has handled and the
	// wall time it handled it. No-data is judged against it, not the wall clock, so a processor
	// that lags behind the log does not take every device for silent.
	clockMu              sync.Mutex
	lastRecv, lastWall   time.Time
	progCh               chan struct{} // closed when lastRecv or remoteRecv advances (pacing)
	remoteRecv, remoteAt time.Time     // the engine node's progress, heard on the bus (standby)
	paced                prometheus.Counter

	raised  *prometheus.CounterVec
	active  prometheus.GaugeFunc
	actives sync.Map // alarm id → struct{} of open, announced alarms (for the gauge)
}

// New returns the Service ready to Run. Until Run runs (on the node holding the processors'
// lease), it answers from the store and forwards commands over the Bus.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = time.Second
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 2 * time.Second
	}
	policies, versions, err := loadPolicies(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("alarm processor: %w", err)
	}
	s := &Service{cfg: cfg, log: cfg.Logger, policyVersions: versions, subs: map[string]map[chan View]struct{}{},
		pauses: map[string]time.Time{}}
	s.policies.Store(&policies)
	var nid [8]byte
	_, _ = rand.Read(nid[:])
	s.node = hex.EncodeToString(nid[:])
	if err := s.listen(); err != nil {
		return nil, err
	}
	if cfg.Registerer != nil {
		s.raised = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vigil", Subsystem: "alarms", Name: "raised_total",
			Help: "Alarms announced, by priority."}, []string{"priority"})
		s.active = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "vigil", Subsystem: "alarms", Name: "active",
			Help: "Open announced alarms (active, latched, acknowledged)."}, func() float64 {
			n := 0
			s.actives.Range(func(any, any) bool { n++; return true })
			return float64(n)
		})
		s.paced = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vigil", Subsystem: "ingest", Name: "paced_seconds_total",
			Help: "Time acknowledgements waited for alarm evaluation to catch up (pacing)."})
		if err := errors.Join(cfg.Registerer.Register(s.raised), cfg.Registerer.Register(s.active), cfg.Registerer.Register(s.paced)); err != nil {
			return nil, fmt.Errorf("alarm processor: register metrics: %w", err)
		}
	}
	return s, nil
}

// start restores the engine from the saved checkpoint with fresh evaluators, for Run.
func (s *Service) start(ctx context.Context) (*alarm.Engine, error) {
	var restore *alarm.Snapshot
	raw, err := s.cfg.Store.AlarmSnapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("alarm processor: %w", err)
	}
	s.startSeq = 0
	s.applied.Store(0)
	s.eval, s.tech = alarm.NewEvaluator(nil), alarm.NewTechEvaluator()
	s.tech.Intervals = s.intervals
	s.clockMu.Lock()
	s.lastRecv, s.lastWall = time.Time{}, time.Time{}
	s.clockMu.Unlock()
	s.actives.Clear()
	s.mu.Lock()
	clear(s.pauses)
	s.mu.Unlock()
	if raw != nil {
		var cp checkpoint
		if err := json.Unmarshal(raw, &cp); err != nil {
			return nil, fmt.Errorf("alarm processor: decode saved snapshot: %w", err)
		}
		if cp.Engine.Version == 0 {
			// A snapshot saved before checkpoints carried the log sequence: the engine state
			// itself, and a replay of everything the log holds (idempotent).
			if err := json.Unmarshal(raw, &cp.Engine); err != nil {
				return nil, fmt.Errorf("alarm processor: decode saved snapshot: %w", err)
			}
		}
		restore, s.startSeq = &cp.Engine, cp.LogSeq
		if cp.Tech != nil {
			s.tech.Restore(*cp.Tech)
			s.tech.Rebase(time.Now()) // running timers count from now (see alarm.TechEvaluator.Rebase)
		}
		s.applied.Store(cp.LogSeq)
		s.mu.Lock()
		for _, p := range restore.Pauses {
			s.pauses[p.Tenant+"/"+p.Subject] = p.Until
		}
		s.mu.Unlock()
		for _, t := range restore.Open {
			if t.Alarm.State != alarm.Pending {
				s.actives.Store(t.Alarm.ID, struct{}{})
			}
		}
	}
	eng, err := alarm.New(alarm.Config{Policies: s.currentPolicies(), Directory: directory{st: s.cfg.Store, now: time.Now, cache: &teamCache{}},
		Emit: s.emit, Logger: s.cfg.Logger, Restore: restore, SnapshotInBatch: true})
	if err != nil {
		return nil, fmt.Errorf("alarm processor: %w", err)
	}
	s.eng.Store(eng)
	return eng, nil
}

// SetIntervals gives the technical evaluator the expected intervals that configuration knows
// (e.g. cold-chain units' logging intervals; alarm.IntervalSource), so NO_DATA judges such a
// signal by its configured interval from its first reading. Call it before Run; src must be
// safe for use from Run's goroutines.
func (s *Service) SetIntervals(src alarm.IntervalSource) { s.intervals = src }

// Leading reports whether Run is running here (this node holds the engine).
func (s *Service) Leading() bool { return s.leading.Load() }

// Run runs the engine, the log consumer and the no-data ticker until ctx ends or one fails.
// It starts from the saved checkpoint each time, so a node that lost and regained the
// processors' lease calls it again.
func (s *Service) Run(ctx context.Context) error {
	eng, err := s.start(ctx)
	if err != nil {
		return err
	}
	stop, err := s.answer()
	if err != nil {
		return fmt.Errorf("alarm processor: %w", err)
	}
	defer stop()
	s.leading.Store(true)
	defer s.leading.Store(false)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return eng.Run(gctx) })
	g.Go(func() error { return s.tellProgress(gctx) })
	g.Go(func() error {
		s.lastCheckpoint = time.Now()
		return s.cfg.Log.Replay(gctx, s.startSeq, func(seq uint64, rs []reading.Reading) error { return s.consume(gctx, seq, rs) })
	})
	g.Go(func() error {
		tick := time.NewTicker(s.cfg.CheckEvery)
		defer tick.Stop()
		var out []alarm.Condition
		for {
			select {
			case <-gctx.Done():
				return gctx.Err()
			case now := <-tick.C:
				now = s.logNow(now)
				s.techMu.Lock()
				out = s.tech.Check(now, out[:0])
				s.techMu.Unlock()
				if err := s.eng.Load().Apply(gctx, out); err != nil {
					return fmt.Errorf("alarm processor: no-data check: %w", err)
				}
			}
		}
	})
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// consume evaluates one log message and applies its conditions; it returns once the engine has
// emitted (and the store committed) what they caused, so the message may be acknowledged.
func (s *Service) consume(ctx context.Context, seq uint64, rs []reading.Reading) error {
	var out []alarm.Condition
	s.techMu.Lock()
	for i := range rs {
		r := &rs[i]
		var unit string
		if s.cfg.Subjects != nil {
			if subj, u, ok := s.cfg.Subjects.SubjectAt(r.Tenant, r.Device, r.Measured); ok {
				r.Subject, unit = subj, u
			}
		}
		if r.Subject == "" {
			r.Subject = r.Device
		}
		skewed := s.tech.ClockSkewed(r.Tenant, r.Device)
		if !s.tech.SignalPoor(r.Tenant, r.Device) {
			out = s.eval.Evaluate(alarm.Sample{Reading: r, Unit: unit, UseReceived: skewed}, out)
		}
		out = s.tech.Reading(r, unit, out)
		switch {
		case r.Metric == "heartbeat" && r.Flags&reading.TimeRelative == 0:
			out = s.tech.Heartbeat(alarm.Heartbeat{Tenant: r.Tenant, Device: r.Device, Subject: r.Subject, Unit: unit,
				DeviceTime: r.Measured, Received: r.Received}, out)
		case r.Metric == "signal_poor":
			out = s.tech.SignalQuality(alarm.DeviceStatus{Tenant: r.Tenant, Device: r.Device, Subject: r.Subject, Unit: unit,
				At: r.Measured}, r.Value == 1, out)
		case r.Metric == "sensor_off":
			out = s.tech.Status(alarm.DeviceStatus{Tenant: r.Tenant, Device: r.Device, Subject: r.Subject, Unit: unit,
				SensorOff: r.Value == 1, At: r.Measured}, out)
		case r.Metric == reading.MetricConnected && r.Flags&reading.Unmapped == 0:
			// The broker's connectivity readings (a device's own "connected" record is Unmapped).
			// Any end but the device's clean disconnect counts as lost. Home is not known here:
			// DEVICE_OFFLINE is MEDIUM for every device.
			out = s.tech.Connectivity(alarm.Connectivity{Tenant: r.Tenant, Device: r.Device, Subject: r.Subject, Unit: unit,
				Connected: r.Value == 1, Lost: r.Text != reading.ConnClosed, At: r.Measured}, out)
		}
	}
	s.techMu.Unlock()
	var recv time.Time
	for i := range rs {
		if rs[i].Received.After(recv) {
			recv = rs[i].Received
		}
	}
	if err := s.eng.Load().ApplyReplayable(ctx, out); err != nil {
		return fmt.Errorf("apply %d alarm conditions of log message %d: %w", len(out), seq, err)
	}
	s.clockMu.Lock()
	if recv.After(s.lastRecv) {
		s.lastRecv, s.lastWall = recv, time.Now()
		s.advanced()
	}
	s.clockMu.Unlock()
	s.applied.Store(seq)
	if now := time.Now(); now.Sub(s.lastCheckpoint) >= s.cfg.CheckpointEvery {
		s.lastCheckpoint = now
		if err := s.eng.Load().Checkpoint(ctx); err != nil {
			return fmt.Errorf("alarm checkpoint at log message %d: %w", seq, err)
		}
	}
	return nil
}

// logNow is the time up to which the log has been handled, as of wall time now: the receive
// time of the newest reading handled plus the wall time since. Caught up, that is now; lagging
// by L, it is now − L. Never later than now.
func (s *Service) logNow(now time.Time) time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	if s.lastWall.IsZero() {
		return now
	}
	if eff := s.lastRecv.Add(now.Sub(s.lastWall)); eff.Before(now) {
		return eff
	}
	return now
}

// applyWait is how long Apply waits for the engine to start here.
const applyWait = 5 * time.Second

// Apply hands alarm conditions from another processor (clinical, cold chain) to the engine and
// returns once what they caused is committed. Conditions are idempotent by their key and onset,
// so a processor that replays its log after a restart may apply them again.
func (s *Service) Apply(ctx context.Context, cs []alarm.Condition) error {
	// Processors that feed the engine run under the same lease and may start a moment
	// before it: give Run a few seconds.
	for wait := time.Duration(0); !s.leading.Load(); wait += 10 * time.Millisecond {
		if wait >= applyWait {
			return fmt.Errorf("apply %d alarm conditions: %w", len(cs), ErrStandby)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := s.eng.Load().Apply(ctx, cs); err != nil {
		return fmt.Errorf("apply %d alarm conditions: %w", len(cs), err)
	}
	return nil
}

// emit writes one engine batch to the store and tells subscribers about the changed alarms.
func (s *Service) emit(ctx context.Context, b alarm.Batch) error {
	var sb store.AlarmBatch
	latest := map[alarm.ID]alarm.Alarm{}
	var order []alarm.ID
	for _, e := range b.Events {
		if e.AlarmID.IsZero() {
			continue // pause events: audited by the API
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode alarm event %s: %w", e.ID, err)
		}
		sb.Events = append(sb.Events, store.AlarmEventRecord{ID: e.ID.String(), AlarmID: e.AlarmID.String(),
			Tenant: e.Alarm.Tenant, Seq: e.Seq, At: e.At, JSON: doc})
		if e.Alarm.Tenant == "" {
			continue // an audit event on a closed alarm carries no alarm
		}
		if _, seen := latest[e.AlarmID]; !seen {
			order = append(order, e.AlarmID)
		}
		a := e.Alarm
		a.Seq = max(a.Seq, e.Seq)
		latest[e.AlarmID] = a
		if e.To == alarm.Active && e.From != alarm.Active && s.raised != nil {
			s.raised.WithLabelValues(strings.ToLower(a.Priority.String())).Inc()
		}
	}
	for _, id := range order {
		a := latest[id]
		doc, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode alarm %s: %w", id, err)
		}
		sb.Alarms = append(sb.Alarms, store.AlarmRecord{ID: id.String(), Tenant: a.Tenant, Subject: a.Subject,
			State: string(a.State), Open: a.State.Open(), Priority: int(a.Priority), RaisedAt: RaisedAt(&a), Seq: a.Seq, JSON: doc})
	}
	for _, n := range b.Notifications {
		doc, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encode notification %s: %w", n.ID, err)
		}
		sb.Outbox = append(sb.Outbox, store.OutboxItem{ID: n.ID.String(), Tenant: n.Tenant, AlarmID: n.AlarmID.String(),
			Status: store.OutboxPending, NextAttempt: n.At, Created: n.At, Payload: doc})
	}
	if b.Snapshot != nil {
		// applied is read after the engine made the snapshot, and is stored only after the
		// engine handled that message: the sequence saved is never ahead of the state.
		seq := s.applied.Load()
		s.techMu.Lock() // after reading seq: the evaluator has handled at least that message
		tech := s.tech.Snapshot()
		s.techMu.Unlock()
		doc, err := json.Marshal(checkpoint{LogSeq: seq, Engine: *b.Snapshot, Tech: &tech})
		if err != nil {
			return fmt.Errorf("encode alarm snapshot: %w", err)
		}
		sb.Snapshot = doc
	}
	// Consoles see the change before the store commits it: an alarm on screen must not wait
	// for the disk (which readings keep busy). That is safe because the engine replays to the
	// same alarm ids after a crash; notifications to people (webhook, e-mail, MQTT) leave only
	// from the committed outbox.
	for _, id := range order {
		s.publish(latest[id])
	}
	if err := s.cfg.Store.SaveAlarmBatch(ctx, sb); err != nil {
		return err
	}
	for _, id := range order {
		a := latest[id]
		if a.State.Open() && a.State != alarm.Pending {
			s.actives.Store(id, struct{}{})
		} else {
			s.actives.Delete(id)
		}
	}
	return nil
}

// publish sends a changed alarm to its tenant's subscribers; a subscriber that is too slow is
// dropped (its channel closed), and reconnects to get the current alarms again.
func (s *Service) publish(a alarm.Alarm) {
	if a.State == alarm.Pending {
		return
	}
	v := ViewOf(a, s.currentPolicies(), s.silenced(a.Tenant, a.Subject))
	s.deliver(v)
	if s.cfg.Bus != nil {
		data, err := json.Marshal(alarmChange{Origin: s.node, View: v})
		if err == nil {
			err = s.cfg.Bus.Broadcast(topicEvents, data)
		}
		if err != nil {
			s.log.Warn("broadcast alarm change", "alarm", v.ID, "err", err)
		}
	}
}

// deliver hands a changed alarm to this node's subscribers of its tenant.
func (s *Service) deliver(v View) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs[v.Tenant] {
		select {
		case ch <- v:
		default:
			delete(s.subs[v.Tenant], ch)
			close(ch)
		}
	}
}

// Subscribe returns a channel of the tenant's changed alarms and a function that ends the
// subscription. The channel is closed when the subscriber falls behind.
func (s *Service) Subscribe(tenant string) (<-chan View, func()) {
	ch := make(chan View, 256)
	s.mu.Lock()
	if s.subs[tenant] == nil {
		s.subs[tenant] = map[chan View]struct{}{}
	}
	s.subs[tenant][ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.subs[tenant][ch]; ok {
			delete(s.subs[tenant], ch)
			close(ch)
		}
	}
}

func (s *Service) silenced(tenant, subject string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pauses[tenant+"/"+subject]
}

// Active returns the tenant's clinically visible open alarms (active, latched, acknowledged)
// from the engine, highest priority first, then oldest; subject "" and minPriority 0 mean any.
func (s *Service) Active(ctx context.Context, tenant, subject string, minPriority alarm.Priority, limit int) ([]View, error) {
	if !s.leading.Load() {
		return s.activeFromStore(ctx, tenant, subject, minPriority, limit)
	}
	as, err := s.eng.Load().List(ctx, alarm.Filter{Tenant: tenant, Subject: subject, MinPriority: minPriority, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list alarms of %s: %w", tenant, err)
	}
	out := make([]View, len(as))
	for i, a := range as {
		out[i] = ViewOf(a, s.currentPolicies(), s.silenced(a.Tenant, a.Subject))
	}
	return out, nil
}

// activeFromStore is Active on a node without the engine: the store's open alarms but pending.
func (s *Service) activeFromStore(ctx context.Context, tenant, subject string, minPriority alarm.Priority, limit int) ([]View, error) {
	if limit <= 0 {
		limit = 1000
	}
	recs, err := s.cfg.Store.Alarms(ctx, store.AlarmQuery{Tenant: tenant, Subject: subject, OpenOnly: true, MinPriority: int(minPriority), Limit: limit + 100})
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(recs))
	for _, r := range recs {
		if r.State == string(alarm.Pending) || len(out) == limit {
			continue
		}
		var a alarm.Alarm
		if err := json.Unmarshal(r.JSON, &a); err != nil {
			return nil, fmt.Errorf("decode alarm %s: %w", r.ID, err)
		}
		out = append(out, ViewOf(a, s.currentPolicies(), s.silenced(a.Tenant, a.Subject)))
	}
	return out, nil
}

// All returns the tenant's alarms of any state from the store, in list order.
func (s *Service) All(ctx context.Context, tenant, subject string, minPriority alarm.Priority, limit int) ([]View, error) {
	recs, err := s.cfg.Store.Alarms(ctx, store.AlarmQuery{Tenant: tenant, Subject: subject, MinPriority: int(minPriority), Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(recs))
	for _, r := range recs {
		var a alarm.Alarm
		if err := json.Unmarshal(r.JSON, &a); err != nil {
			return nil, fmt.Errorf("decode alarm %s: %w", r.ID, err)
		}
		out = append(out, ViewOf(a, s.currentPolicies(), s.silenced(a.Tenant, a.Subject)))
	}
	return out, nil
}

// Get returns one alarm of tenant with its history: from the engine while it is open, else from
// the store. Unknown (or another tenant's): an error wrapping store.ErrNotFound.
func (s *Service) Get(ctx context.Context, tenant string, id alarm.ID) (View, error) {
	var a alarm.Alarm
	err := alarm.ErrNotFound
	if s.leading.Load() {
		a, err = s.eng.Load().Get(ctx, tenant, id)
	}
	if err == nil {
		v := ViewOf(a, s.currentPolicies(), s.silenced(tenant, a.Subject))
		for _, t := range a.History {
			v.History = append(v.History, StepOf(t))
		}
		return v, nil
	}
	if !errors.Is(err, alarm.ErrNotFound) {
		return View{}, err
	}
	rec, err := s.cfg.Store.Alarm(ctx, tenant, id.String())
	if err != nil {
		return View{}, err
	}
	if err := json.Unmarshal(rec.JSON, &a); err != nil {
		return View{}, fmt.Errorf("decode alarm %s: %w", id, err)
	}
	v := ViewOf(a, s.currentPolicies(), time.Time{})
	evs, err := s.cfg.Store.AlarmEvents(ctx, tenant, id.String())
	if err != nil {
		return View{}, err
	}
	for _, er := range evs {
		var e alarm.Event
		if err := json.Unmarshal(er.JSON, &e); err != nil {
			return View{}, fmt.Errorf("decode alarm event %s: %w", er.ID, err)
		}
		if e.Type == alarm.EvNotified || e.Type == alarm.EvUpdate {
			continue // the history shows transitions, as the engine's does
		}
		v.History = append(v.History, StepOf(alarm.Transition{Seq: e.Seq, At: e.At, From: e.From, To: e.To, Type: e.Type,
			Actor: e.Actor, Reason: e.Reason, Note: e.Note}))
	}
	return v, nil
}

// Do applies a user command and returns the alarm afterwards (errors wrap the alarm package's
// ErrForbidden, ErrNotFound, ErrInvalidTransition, ErrReasonRequired, ErrInvalid).
func (s *Service) Do(ctx context.Context, cmd alarm.Command) (View, error) {
	if !s.leading.Load() {
		return s.forward(ctx, cmd)
	}
	tenant := cmd.Actor.Tenant
	if cmd.Action == alarm.ActAlarmPause {
		cur, err := s.Get(ctx, tenant, cmd.AlarmID)
		if err != nil {
			return View{}, err
		}
		cmd.Subject = cur.Subject
	}
	if err := s.eng.Load().Do(ctx, cmd); err != nil {
		return View{}, err
	}
	if cmd.Action == alarm.ActAlarmPause {
		d := cmd.Duration
		if d == 0 {
			d = alarm.DefaultPause
		}
		s.mu.Lock()
		s.pauses[tenant+"/"+cmd.Subject] = time.Now().Add(d)
		s.mu.Unlock()
	}
	return s.Get(ctx, tenant, cmd.AlarmID)
}
