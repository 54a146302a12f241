package clinical

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/clinical/baseline"
	"github.com/vigil-iomt/vigil/internal/news2"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Consumer is the name of the durable log consumer the clinical processor read through before
// it kept its own checkpoint; Run starts after its acknowledged position once, then removes it.
const Consumer = "clinical"

// Batching defaults (Config.FlushEvery, Config.MaxBatch). A batch saves the whole processing
// state of every patient it touched (up to a few tens of KB for a 1 Hz monitor's continuous
// windows), so commits are kept to one a second: NEWS2 sets are per minute and their alarms
// can wait that long; the physiological limit alarms do not come from here.
const (
	DefaultFlushEvery = time.Second
	DefaultMaxBatch   = 1000
)

// Assignment kinds.
const (
	KindBedside = "bedside" // a ward device (monitor): continuous monitoring
	KindRPM     = "rpm"     // a home kit device of an RPM enrolment
)

// CodeObsOverdue is the reminder of news2.md §5.2 (also alarm.NEWS2ObsOverdue).
const CodeObsOverdue = alarm.NEWS2ObsOverdue

// Log feeds the processor: *stream.Log implements it. Replay calls fn with every message
// after the stream sequence afterSeq (0: from the oldest held), in order, until ctx ends or fn
// fails; it acknowledges nothing.
type Log interface {
	Replay(ctx context.Context, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error
}

// legacyLog is implemented by a Log (*stream.Log) that can still hold the durable consumer
// the processor read through before it kept its own checkpoint. Without it the first start
// without a checkpoint replays the whole log (harmless: see the package doc).
type legacyLog interface {
	ConsumerAckFloor(ctx context.Context, name string) (seq uint64, ok bool, err error)
	RemoveConsumer(ctx context.Context, name string) error
}

// Alarms takes the alarm conditions the processor raises: *alarmproc.Service implements it.
type Alarms interface {
	Apply(ctx context.Context, cs []alarm.Condition) error
}

// Store is what the clinical service needs of the query store.
type Store interface {
	store.ClinicalStore
	AssignmentSource
	Device(ctx context.Context, tenant, id string) (store.Device, error)
	Devices(ctx context.Context, tenant string) ([]store.Device, error)
}

// Config configures a Service.
type Config struct {
	Store      Store
	Log        Log    // nil: no processor (API only)
	Alarms     Alarms // nil: conditions are dropped
	Attributor *Attributor
	Logger     *slog.Logger
	Now        func() time.Time
	// RefreshEvery reloads the Attributor from the store (default 10 s), for assignments
	// changed by other servers.
	RefreshEvery time.Duration
	// TickEvery is the period of the overdue check (default 30 s).
	TickEvery time.Duration
	// PollEvery is how often the processor looks for manual observations entered through
	// another node's API (default 2 s).
	PollEvery time.Duration
	// FlushEvery bounds how long a processed log message waits for its batch's commit
	// (default DefaultFlushEvery): stored sets, flags and alarm conditions lag the log by at
	// most this plus one commit. MaxBatch commits earlier, after that many messages (default
	// DefaultMaxBatch).
	FlushEvery time.Duration
	MaxBatch   int
}

// Service is the clinical service: the processor and the operations the API calls.
type Service struct {
	cfg  Config
	st   Store
	attr *Attributor
	log  *slog.Logger
	now  func() time.Time

	leading atomic.Bool // Run is running: this node processes the log
	// replayStarted is called by each replay once it has reset the patients (set by Run).
	replayStarted func()
	processed     atomic.Uint64 // the last log sequence processed (committed or pending)
	committed     atomic.Uint64 // the last log sequence committed (Run's progress)
	// retryBase is Run's first pause after a failed batch (doubling to 30 s while it fails).
	retryBase time.Duration

	mu        sync.Mutex               // guards the fields below and the state inside each patient
	patients  map[string]*patientState // tenant + "/" + patient
	saved     map[string]*procState    // saved patient states, loaded at first use (nil: not loaded)
	pend      *batch                   // the log's uncommitted work
	replaying bool                     // Run's replay of the log is running
	broken    bool                     // a commit failed during the replay: it must restart
	seen      map[string]time.Time     // manual observations processed → their time (pollManual)
	polled    bool                     // pollManual has run once
	started   time.Time                // when Run started processing
}

// New returns the Service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = 10 * time.Second
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 30 * time.Second
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = 2 * time.Second
	}
	if cfg.Attributor == nil {
		cfg.Attributor = NewAttributor(cfg.Store)
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	return &Service{cfg: cfg, st: cfg.Store, attr: cfg.Attributor, log: cfg.Logger, now: cfg.Now, patients: map[string]*patientState{},
		pend: newBatch(), seen: map[string]time.Time{}, retryBase: 500 * time.Millisecond}
}

// Attributor returns the service's attributor (for the alarm processor).
func (s *Service) Attributor() *Attributor { return s.attr }

// Run refreshes the attributor, then processes the log, runs the overdue ticker and the
// periodic refresh until ctx ends (nil then) or one fails. It replays the log from the saved
// checkpoint and commits the effects of the messages with the new checkpoint in one
// transaction per batch (Config.FlushEvery, Config.MaxBatch). When a commit fails it resets
// the live state to the saved one and replays from the checkpoint again, after a pause. Only
// one node may run it at a time (scaled out: under the processors' lease).
func (s *Service) Run(ctx context.Context) error {
	if err := s.attr.Refresh(ctx); err != nil {
		return fmt.Errorf("clinical: %w", err)
	}
	s.leading.Store(true)
	defer s.leading.Store(false)
	// State loaded while not leading (API reads) may be stale: start afresh.
	s.mu.Lock()
	s.resetLocked()
	s.seen, s.polled, s.started = map[string]time.Time{}, false, s.now()
	s.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	// The timers below score into the processor's patients, which the replay's first reset
	// (loading the saved states) would drop: they start once it has happened.
	ready := make(chan struct{})
	if s.cfg.Log != nil {
		var once sync.Once
		s.replayStarted = func() { once.Do(func() { close(ready) }) }
		g.Go(func() error { return s.runLog(gctx) })
	} else {
		close(ready)
	}
	g.Go(func() error {
		select {
		case <-ready:
		case <-gctx.Done():
			return gctx.Err()
		}
		tick := time.NewTicker(s.cfg.TickEvery)
		defer tick.Stop()
		refresh := time.NewTicker(s.cfg.RefreshEvery)
		defer refresh.Stop()
		poll := time.NewTicker(s.cfg.PollEvery)
		defer poll.Stop()
		if err := s.pollManual(gctx); err != nil {
			return fmt.Errorf("clinical: manual observations: %w", err)
		}
		for {
			select {
			case <-gctx.Done():
				return gctx.Err()
			case <-refresh.C:
				if err := s.attr.Refresh(gctx); err != nil {
					s.log.Warn("clinical: attributor refresh failed; keeping the previous assignments", "err", err)
				}
				if err := s.refreshPatients(gctx); err != nil && gctx.Err() == nil {
					s.log.Warn("clinical: patient refresh failed", "err", err)
				}
			case <-poll.C:
				if err := s.pollManual(gctx); err != nil && gctx.Err() == nil {
					s.log.Warn("clinical: manual observation poll failed", "err", err)
				}
			case now := <-tick.C:
				// A failed check is retried at the next tick; it must not stop the processor.
				if err := s.CheckOverdue(gctx, now); err != nil && gctx.Err() == nil {
					s.log.Warn("clinical: overdue check failed", "err", err)
				}
			}
		}
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// runLog replays the log until ctx ends, again from the checkpoint after a failed batch.
func (s *Service) runLog(ctx context.Context) error {
	wait := time.Duration(0)
	for {
		before := s.committed.Load()
		err := s.replay(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ce *errCommit
		if !errors.As(err, &ce) {
			return fmt.Errorf("clinical processor: %w", err)
		}
		if s.committed.Load() != before {
			wait = 0 // it made progress: not a persistent failure
		}
		wait = min(max(2*wait, s.retryBase), 30*time.Second)
		s.log.Error("clinical batch not committed; replaying from the checkpoint", "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// replay runs one pass of runLog: from the saved checkpoint (or, the first time, from the old
// durable consumer's acknowledged position) until ctx ends or a batch fails.
func (s *Service) replay(ctx context.Context) error {
	seq, ok, err := s.st.ClinicalCheckpoint(ctx)
	if err != nil {
		return &errCommit{err: err}
	}
	legacy, _ := s.cfg.Log.(legacyLog)
	removeLegacy := func() {
		if legacy == nil {
			return
		}
		if err := legacy.RemoveConsumer(ctx, Consumer); err != nil {
			s.log.Warn("could not remove the old clinical consumer", "err", err)
		}
		legacy = nil
	}
	switch {
	case ok:
		removeLegacy() // a no-op once it is gone
	case legacy != nil:
		// First start since the processor keeps a checkpoint: carry on where the old durable
		// consumer stopped; it is removed once the first checkpoint is saved.
		floor, found, err := legacy.ConsumerAckFloor(ctx, Consumer)
		if err != nil {
			s.log.Warn("could not read the old clinical consumer's position; replaying the whole log", "err", err)
		} else if found {
			seq = floor
		}
	}
	// Start from the saved state: after a failed batch, or after the lease moved between
	// nodes and another node's processor advanced it.
	s.mu.Lock()
	s.replaying, s.broken = false, false
	s.resetLocked()
	s.replaying = true
	s.mu.Unlock()
	if s.replayStarted != nil {
		s.replayStarted()
	}
	defer func() {
		// What is not committed is replayed by whoever runs the processor next.
		s.mu.Lock()
		s.resetLocked()
		s.replaying, s.broken = false, false
		s.mu.Unlock()
	}()
	s.processed.Store(seq)
	s.committed.Store(seq)
	s.log.Info("clinical processor replaying the log", "after_seq", seq, "checkpoint", ok)
	msgs := make(chan message)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return s.cfg.Log.Replay(gctx, seq, func(seq uint64, rs []reading.Reading) error {
			select {
			case msgs <- message{seq: seq, rs: rs}:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	g.Go(func() error {
		return s.loop(gctx, msgs, s.cfg.FlushEvery, s.cfg.MaxBatch, func() {
			if legacy != nil {
				removeLegacy()
			}
		})
	})
	return g.Wait()
}

// hashID is a deterministic record id: 16 bytes of SHA-256 over the parts, in hex.
func hashID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// patientState is the processor's view of one patient. Guarded by Service.mu.
type patientState struct {
	tenant, id string
	scale      news2.Scale
	loc        *time.Location
	dob        time.Time // zero when unknown
	pregnant   news2.Tri // No for male patients, else Unknown (not recorded yet)
	asm        assembler
	lastMinute int64     // minute (Unix) of the last device evaluation
	newest     time.Time // newest measured time of a NEWS2 reading fed
	last       *SetDoc   // last stored set
	complete   *SetDoc   // last stored complete set
	onset      time.Time
	overdue    bool // NEWS2_OBS_OVERDUE raised
	monitorReq bool // NEWS2_CONTINUOUS_MONITORING_REQUIRED raised (last set's MonitorRequired)
	rising     bool // NEWS2_RISING raised (last complete set's Rising)
	monitors   map[baseline.Param]*baseline.Monitor
	days       map[string]*openDay  // baseline param → its open day (procState)
	seen       map[string]time.Time // manual observations scored → their time (procState)
}

func (ps *patientState) key() string { return ps.tenant + "/" + ps.id }

// patient returns the state of a patient, loading it from the store on first use: the
// patient's scale and zone, the last stored and last complete sets, manual observations of the
// last 4 h and the daily values that rebuild its baselines. Called with s.mu held.
func (s *Service) patient(ctx context.Context, tenant, id string) (*patientState, error) {
	if ps := s.patients[tenant+"/"+id]; ps != nil {
		return ps, nil
	}
	saved, err := s.savedLocked(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	ps := &patientState{tenant: tenant, id: id, scale: news2.Scale1, loc: time.UTC, monitors: map[baseline.Param]*baseline.Monitor{},
		days: map[string]*openDay{}, seen: map[string]time.Time{}}
	p, err := s.st.Patient(ctx, tenant, id)
	switch {
	case err == nil:
		ps.applyPatient(p)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	for _, q := range []store.RecordQuery{
		{Tenant: tenant, Kind: store.RecNEWS2Set, Owner: id, Desc: true, Limit: 1},
		{Tenant: tenant, Kind: store.RecNEWS2Set, Owner: id, Tag: tagComplete, Desc: true, Limit: 1},
	} {
		rs, err := s.st.Records(ctx, q)
		if err != nil {
			return nil, err
		}
		if len(rs) == 1 {
			var d SetDoc
			if err := json.Unmarshal(rs[0].JSON, &d); err != nil {
				return nil, fmt.Errorf("set %s: %w", rs[0].ID, err)
			}
			if q.Tag == "" {
				ps.last = &d
				ps.lastMinute = d.EvaluatedAt.Unix() / 60
				ps.monitorReq = d.MonitorRequired && d.Setting == SettingWard
			} else {
				ps.complete = &d
				ps.rising = d.Rising
			}
		}
	}
	now := s.now()
	if saved != nil {
		// Processed before: its saved state is its state at the checkpoint.
		if err := s.rebuildBaselines(ctx, ps, now); err != nil {
			return nil, err
		}
		if err := s.restore(ps, saved); err != nil {
			return nil, err
		}
		s.patients[ps.key()] = ps
		return ps, nil
	}
	obs, err := s.st.Records(ctx, store.RecordQuery{Tenant: tenant, Kind: store.RecManualObs, Owner: id, From: now.Add(-4 * time.Hour)})
	if err != nil {
		return nil, err
	}
	for _, r := range obs {
		var o Observation
		if err := json.Unmarshal(r.JSON, &o); err != nil {
			return nil, fmt.Errorf("manual observation %s: %w", r.ID, err)
		}
		o.addTo(&ps.asm)
		ps.seen[o.ID] = o.At // in the assembler: in the saved state from now on
	}
	if err := s.warmSpot(ctx, ps, now); err != nil {
		return nil, err
	}
	if err := s.rebuildBaselines(ctx, ps, now); err != nil {
		return nil, err
	}
	s.patients[ps.key()] = ps
	return ps, nil
}

// spotMetrics are the NEWS2 metrics read as spot values, reloaded from the store when a
// patient's state is loaded (after a restart): a blood pressure taken every 15–60 minutes
// would otherwise be missing until the next cycle. Continuous streams refill within seconds.
var spotMetrics = []string{"nibp_sys", "pr_nibp", "temp_body"}

// warmSpot feeds the newest stored spot reading of each spot metric within its staleness
// window from the patient's assigned devices. Adding it again when the log redelivers it is
// harmless (a spot value of the same time replaces itself).
func (s *Service) warmSpot(ctx context.Context, ps *patientState, now time.Time) error {
	as, err := s.st.Assignments(ctx, store.AssignmentQuery{Tenant: ps.tenant, Patient: ps.id})
	if err != nil {
		return err
	}
	maxAge := news2.DefaultMaxAge()
	for _, a := range as {
		for _, m := range spotMetrics {
			p, rank, _ := news2.ParamOf(m)
			from := now.Add(-maxAge[p])
			if a.From.After(from) {
				from = a.From
			}
			to := now
			if !a.To.IsZero() && a.To.Before(to) {
				to = a.To
			}
			if !from.Before(to) {
				continue
			}
			pts, err := s.st.DeviceReadings(ctx, store.DeviceReadingQuery{Tenant: ps.tenant, Device: a.Device, Metric: m, From: from, To: to, Desc: true, Limit: 1})
			if err != nil {
				return err
			}
			for _, pt := range pts {
				if pt.Kind == reading.Number && pt.Flags&skipFlags == 0 && news2.Plausible(p, pt.Value, false) {
					ps.asm.Add(p, pt.Value, pt.Measured, sourceOf(p, rank), rank)
				}
			}
		}
	}
	return nil
}

func (ps *patientState) applyPatient(p store.Patient) {
	ps.scale = news2.Scale1
	if p.SpO2Scale == 2 {
		ps.scale = news2.Scale2
	}
	if loc, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
		ps.loc = loc
	}
	ps.dob, _ = time.Parse(time.DateOnly, p.BirthDate)
	ps.pregnant = news2.Unknown
	if p.Sex == "male" {
		ps.pregnant = news2.No
	}
}

// PatientChanged updates the processor's copy of a patient (scale, time zone) after an edit.
func (s *Service) PatientChanged(p store.Patient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps := s.patients[p.Tenant+"/"+p.ID]; ps != nil {
		ps.applyPatient(p)
	}
}

// Rescore re-evaluates the patient's current set now on the patient's current SpO2 scale, after
// a scale change (news2.md §4.3): the result is a new set, source scale_change, that supersedes
// the latest one, and its band change raises or clears alerts like any set. Stored sets are never
// rewritten. It runs on the node that runs the processor (or where none runs, as in tests);
// elsewhere it does nothing and returns nil, and the processor picks the new scale up from the
// store within RefreshEvery. It returns nil when the patient has no set yet.
func (s *Service) Rescore(ctx context.Context, tenant, patient string) (*SetDoc, error) {
	if !s.leading.Load() && s.cfg.Log != nil {
		return nil, nil
	}
	return s.rescore(ctx, tenant, patient, nil)
}

// rescore is Rescore under s.mu, committed at once after the log's pending work; p, when not
// nil, is the patient as stored (a change found by refreshPatients) and is applied first.
func (s *Service) rescore(ctx context.Context, tenant, patient string, p *store.Patient) (*SetDoc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(ctx); err != nil {
		return nil, err
	}
	ps, err := s.patient(ctx, tenant, patient)
	if err != nil {
		return nil, err
	}
	w := newBatch()
	if p != nil {
		ps.applyPatient(*p)
	}
	if ps.last == nil {
		return nil, nil
	}
	// Strictly after the set it supersedes, so that "latest" stays unambiguous.
	t := s.now().UTC()
	if !t.After(ps.last.EvaluatedAt) {
		t = ps.last.EvaluatedAt.Add(time.Millisecond)
	}
	conds, set, err := s.evaluate(ctx, w, ps, t, SourceScaleChange, fmt.Sprintf("%s/%d/%s", ps.last.ID, ps.scale, t.Format(time.RFC3339Nano)))
	if err != nil {
		return nil, err
	}
	w.conds = conds
	w.states[ps] = ps.snapshot()
	if err := s.commitSideLocked(ctx, w); err != nil {
		return nil, err
	}
	return set, nil
}

// refreshPatients finds SpO2 scale changes made through other nodes' APIs for the processor's
// cached patients, applies the stored patient and re-scores the current set.
func (s *Service) refreshPatients(ctx context.Context) error {
	s.mu.Lock()
	scales := map[string]map[string]news2.Scale{} // tenant → patient → cached scale
	for _, ps := range s.patients {
		if scales[ps.tenant] == nil {
			scales[ps.tenant] = map[string]news2.Scale{}
		}
		scales[ps.tenant][ps.id] = ps.scale
	}
	s.mu.Unlock()
	for tenant, cached := range scales {
		list, err := s.st.Patients(ctx, tenant)
		if err != nil {
			return err
		}
		for _, p := range list {
			scale, ok := cached[p.ID]
			if !ok {
				continue
			}
			want := news2.Scale1
			if p.SpO2Scale == 2 {
				want = news2.Scale2
			}
			if want == scale {
				continue
			}
			if _, err := s.rescore(ctx, tenant, p.ID, &p); err != nil {
				return err
			}
		}
	}
	return nil
}

// sourceOf is how the processor treats a NEWS2 metric (news2.md §6.1): rr, spo2 and the pulse
// of an ECG or oximeter as continuous streams (the 5-minute median, or the newest sample when
// it holds fewer than 3); NIBP and temperature as spot readings.
func sourceOf(p news2.Param, rank int) news2.Source {
	switch {
	case p == news2.RR, p == news2.SpO2, p == news2.Pulse && rank < 2:
		return news2.Continuous
	}
	return news2.Spot
}

// skipFlags are readings never scored or counted.
const skipFlags = reading.Implausible | reading.Unmapped | reading.Control

// storeEvery is how long a device set may go unstored while nothing scored changes.
const storeEvery = 15 * time.Minute

// evaluate assembles and scores the patient's set at t. For device readings (source
// SourceDevice) it runs at most once per minute of t and stores the set when it differs from
// the last stored one or that is 15 minutes old; for a manual observation (SourceManual, ref
// the observation id) and a scale change (SourceScaleChange, ref the change's id) it always
// stores (into w). It returns the alarm conditions the set causes (band change, NEWS2_RISING,
// NEWS2_CONTINUOUS_MONITORING_REQUIRED) and the stored set (nil when not stored). Called with
// s.mu held.
func (s *Service) evaluate(ctx context.Context, w *batch, ps *patientState, t time.Time, source, ref string) ([]alarm.Condition, *SetDoc, error) {
	if source == SourceDevice {
		minute := t.Unix() / 60
		if t.Unix() < 0 {
			minute = (t.Unix() - 59) / 60
		}
		if ps.lastMinute != 0 && minute <= ps.lastMinute {
			return nil, nil, nil
		}
		ps.lastMinute = minute
	}
	el := news2.CheckEligibility(ps.dob, ps.pregnant, t, ps.loc)
	if !el.Applicable {
		// news2.md §1.1: no total and no NEWS2 alert; held conditions clear.
		var conds []alarm.Condition
		if ps.last != nil && parseBand(ps.last.BandMin) >= news2.LowMedium && !ps.onset.IsZero() {
			conds = s.bandConditions(ps, news2.Change{Kind: news2.Clear}, t, t, &news2.Result{})
		}
		conds = append(conds, s.advisories(ps, t, false, false)...)
		return conds, nil, nil
	}
	set, from, setTime := ps.asm.Assemble(t, ps.scale)
	res, err := news2.Score(set)
	if err != nil {
		var ie *news2.InputError
		param := "?"
		if errors.As(err, &ie) {
			param = ie.Param.String()
		}
		s.log.Warn("clinical: set not scored", "tenant", ps.tenant, "param", param) // no value: it is a patient's
		return nil, nil, nil
	}
	// Only a HIGH band (possible) asks whether a continuous monitor is assigned (news2.md §5.2).
	continuous := false
	if res.BandMax == news2.High {
		if continuous, err = s.continuousAt(ctx, ps.tenant, ps.id, t); err != nil {
			return nil, nil, err
		}
	}
	due := news2.NextDue(&res, setTime, news2.DueOptions{ContinuousAssigned: continuous})
	doc := newSetDoc(ps.id, t, setTime, source, &res, from, due)
	// The advisory follows the condition band (band, or band_min when incomplete), like the
	// NEWS2 band alerts: an incomplete set that only might be HIGH raises nothing.
	doc.MonitorRequired = news2.ConditionBand(&res) == news2.High && !continuous
	doc.EligibilityUnverified = el.Unverified
	ward := s.attr.WardAt(ps.tenant, ps.id, t)
	doc.Setting = SettingWard
	if ward == "" {
		doc.Setting = SettingCommunity
	}
	switch source {
	case SourceDevice:
		doc.ID = hashID(ps.tenant, ps.id, "device", fmt.Sprint(t.Unix()/60))
		if ps.last != nil && !doc.differs(ps.last) && t.Sub(ps.last.EvaluatedAt) < storeEvery {
			return nil, nil, nil
		}
	case SourceManual:
		doc.ID = hashID(ps.tenant, ps.id, "manual", ref)
		doc.ManualObservation = ref
	default:
		doc.ID = hashID(ps.tenant, ps.id, source, ref)
		if ps.last != nil {
			doc.Supersedes = ps.last.ID
		}
	}
	rising := ps.rising
	if doc.Complete {
		// rpm.md §6.6 is decided on each complete result; an incomplete one leaves it as it was.
		if rising, err = s.risingAt(ctx, w, ps, t, *doc.Total); err != nil {
			return nil, nil, err
		}
		doc.Rising = rising
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	tag := ""
	if doc.Complete {
		tag = tagComplete
	}
	w.put(store.ClinicalRecord{Kind: store.RecNEWS2Set, ID: doc.ID, Tenant: ps.tenant, Owner: ps.id, At: t, Tag: tag, JSON: raw})
	var prev *news2.Result
	if ps.last != nil {
		prev = &news2.Result{BandMin: parseBand(ps.last.BandMin), Complete: ps.last.Complete}
	}
	var conds []alarm.Condition
	onWard := doc.Setting == SettingWard
	if onWard {
		// At home NEWS2 is decision support only (news2.md §1.1): no NEWS2 alerts.
		conds = s.bandConditions(ps, news2.BandChange(prev, &res), t, setTime, &res)
	}
	// NEWS2_RISING is rpm.md's rule (virtual wards included), so it is raised at home too.
	conds = append(conds, s.advisories(ps, t, doc.MonitorRequired && onWard, rising)...)
	ps.last = doc
	if doc.Complete {
		ps.complete = doc
	}
	return conds, doc, nil
}

var news2Codes = [...]alarm.Code{alarm.NEWS2RedScore, alarm.NEWS2Medium, alarm.NEWS2High}

// bandConditions turns a band change into alarm conditions (alarms.md §7).
func (s *Service) bandConditions(ps *patientState, ch news2.Change, t, setTime time.Time, res *news2.Result) []alarm.Condition {
	base := alarm.Condition{Tenant: ps.tenant, Subject: ps.id, Unit: s.attr.WardAt(ps.tenant, ps.id, t), Metric: "news2",
		Kind: alarm.Advisory, Latching: true, At: t, Value: float64(res.ScoreMin)}
	switch ch.Kind {
	case news2.Raise:
		ps.onset = setTime
		if ps.onset.IsZero() {
			ps.onset = t
		}
		fallthrough
	case news2.Escalate, news2.Update:
		if ps.onset.IsZero() {
			ps.onset = t
		}
		c := base
		c.Code, c.Priority, c.Status, c.Onset = alarm.Code(ch.Code), alarm.Priority(ch.Priority), alarm.StatusPresent, ps.onset
		return []alarm.Condition{c}
	case news2.Clear:
		out := make([]alarm.Condition, 0, len(news2Codes))
		for _, code := range news2Codes {
			c := base
			info, _ := code.Info()
			c.Code, c.Priority, c.Status, c.Onset = code, info.Priority, alarm.StatusCleared, ps.onset
			out = append(out, c)
		}
		ps.onset = time.Time{}
		return out
	}
	return nil
}

// advisories returns the NEWS2_CONTINUOUS_MONITORING_REQUIRED and NEWS2_RISING conditions that
// change with a new set: present when the rule now holds and did not, cleared when it held and no
// longer does. Called with s.mu held.
func (s *Service) advisories(ps *patientState, t time.Time, monitorReq, rising bool) []alarm.Condition {
	var out []alarm.Condition
	cond := func(code alarm.Code, metric string, present bool) {
		c := alarm.Condition{Tenant: ps.tenant, Subject: ps.id, Unit: s.attr.WardAt(ps.tenant, ps.id, t), Metric: metric, Code: code,
			Kind: alarm.Advisory, Priority: alarm.Low, At: t, Onset: t, Status: alarm.StatusPresent}
		if !present {
			c.Status = alarm.StatusCleared
		}
		out = append(out, c)
	}
	if monitorReq != ps.monitorReq {
		cond(alarm.NEWS2MonitorRequired, "news2", monitorReq)
		ps.monitorReq = monitorReq
	}
	if rising != ps.rising {
		cond(alarm.NEWS2Rising, "news2", rising)
		ps.rising = rising
	}
	return out
}

// risingWindow is rpm.md §6.6's look-back for NEWS2_RISING.
const risingWindow = 72 * time.Hour

// risingAt applies rpm.md §6.6 to a complete score total evaluated at t: the previous scores
// are the patient's complete sets evaluated in [t − 72 h, t), stored or still uncommitted (in
// the log's pending batch or in w); device sets are stored when their scores change and at
// least every 15 min. Called with s.mu held.
func (s *Service) risingAt(ctx context.Context, w *batch, ps *patientState, t time.Time, total int) (bool, error) {
	if total < 3 {
		return false, nil // no store read for the common case
	}
	from := t.Add(-risingWindow)
	rs, err := s.st.Records(ctx, store.RecordQuery{Tenant: ps.tenant, Kind: store.RecNEWS2Set, Owner: ps.id, Tag: tagComplete,
		From: from, To: t})
	if err != nil {
		return false, fmt.Errorf("previous NEWS2 scores: %w", err)
	}
	ids := make(map[string]bool, len(rs))
	for _, r := range rs {
		ids[r.ID] = true
	}
	for _, b := range []*batch{s.pend, w} {
		for _, r := range b.recs {
			if r.Kind == store.RecNEWS2Set && r.Tenant == ps.tenant && r.Owner == ps.id && r.Tag == tagComplete &&
				!r.At.Before(from) && r.At.Before(t) && !ids[r.ID] {
				ids[r.ID] = true
				rs = append(rs, r)
			}
		}
	}
	prev := make([]int, 0, len(rs))
	for _, r := range rs {
		var d SetDoc
		if err := json.Unmarshal(r.JSON, &d); err != nil {
			return false, fmt.Errorf("set %s: %w", r.ID, err)
		}
		if d.Complete && d.Total != nil && d.EvaluatedAt.Before(t) {
			prev = append(prev, *d.Total)
		}
	}
	return news2.Rising(total, prev), nil
}

// continuousKinds are the device kinds (registry kind, senml.md §4) that count as continuous
// monitoring devices for news2.md §5.2: they stream vital signs at least once a minute
// (news2.md §6.1 CONTINUOUS). Oximeters, cuffs, thermometers, scales and glucometers are
// spot-check devices.
var continuousKinds = map[string]bool{"monitor": true, "wearable": true}

// continuousAt reports whether a continuous monitoring device was assigned to the patient at t:
// an assignment (of any kind) covering t of a device whose kind is in continuousKinds.
func (s *Service) continuousAt(ctx context.Context, tenant, patient string, t time.Time) (bool, error) {
	for _, id := range s.attr.devicesAt(tenant, patient, t) {
		d, err := s.st.Device(ctx, tenant, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("device %s: %w", id, err)
		}
		if continuousKinds[d.Kind] && !d.Revoked {
			return true, nil
		}
	}
	return false, nil
}

// dueOf is when observations are next due for a patient (docs/clinical.md §1.2): after the
// last complete set, or at admission when there is none.
func dueOf(ps *patientState, admitted time.Time) news2.Due {
	if ps.complete != nil && ps.complete.NextDue != nil {
		iv := ps.complete.NextDue.Sub(ps.complete.SetTime)
		return news2.Due{At: *ps.complete.NextDue, Interval: iv}
	}
	if ps.complete != nil {
		return news2.Due{} // HIGH with a continuous monitor: nothing is due
	}
	return news2.Due{At: admitted}
}

// CheckOverdue raises NEWS2_OBS_OVERDUE for admitted patients whose observations are overdue
// at now (news2.md §5.2) and clears it when a complete set has come since.
func (s *Service) CheckOverdue(ctx context.Context, now time.Time) error {
	adm := s.attr.admitted()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(ctx); err != nil {
		return err
	}
	w := newBatch()
	for _, a := range adm {
		ps, err := s.patient(ctx, a.tenant, a.patient)
		if err != nil {
			return err
		}
		d := dueOf(ps, a.enc.Admitted)
		over := news2.Overdue(d, now)
		if over == ps.overdue {
			continue
		}
		c := alarm.Condition{Tenant: ps.tenant, Subject: ps.id, Unit: a.enc.Ward, Metric: "news2_due", Code: CodeObsOverdue,
			Kind: alarm.Advisory, Priority: alarm.Low, At: now, Onset: d.At, Status: alarm.StatusPresent}
		if !over {
			c.Status = alarm.StatusCleared
		}
		ps.overdue = over
		w.conds = append(w.conds, c)
		w.states[ps] = ps.snapshot()
	}
	return s.commitSideLocked(ctx, w)
}

// overdueOf reports a patient's next due time and whether it is overdue at now, from the
// stored sets (so that every node answers alike, not only the one running the processor).
func (s *Service) overdueOf(ctx context.Context, tenant, patient string, admitted, now time.Time) (*time.Time, bool, error) {
	last, err := s.latestSet(ctx, tenant, patient, true)
	if err != nil {
		return nil, false, err
	}
	d := dueOf(&patientState{complete: last}, admitted)
	if d.At.IsZero() {
		return nil, false, nil
	}
	at := d.At
	return &at, news2.Overdue(d, now), nil
}

// SetAlarms sets where alarm conditions go; call it before Run.
func (s *Service) SetAlarms(a Alarms) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Alarms = a
}
