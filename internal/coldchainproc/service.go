package coldchainproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Store is what the cold chain needs from the query store.
type Store interface {
	store.ColdChainStore
	Readings(ctx context.Context, q store.ReadingQuery) ([]store.Point, error)
	Device(ctx context.Context, tenant, id string) (store.Device, error)
	User(ctx context.Context, tenant, id string) (store.User, error)
	UpdateUser(ctx context.Context, u store.User) error
	Token(ctx context.Context, hash string) (store.Token, error)
	Audit(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditRecord, error)
}

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

// Alarms takes alarm conditions: *alarmproc.Service implements it.
type Alarms interface {
	Apply(ctx context.Context, cs []alarm.Condition) error
}

// Recorder appends to the audit trail: *audit.Trail implements it.
type Recorder interface {
	Record(ctx context.Context, rec store.AuditRecord) error
}

// Consumer is the name of the durable log consumer the cold-chain processor read through
// before it kept its own checkpoint; Run starts after its acknowledged position once, then
// removes it.
const Consumer = "coldchain"

// Batching defaults (Config.FlushEvery, Config.MaxBatch).
const (
	DefaultFlushEvery = 100 * time.Millisecond
	DefaultMaxBatch   = 1000
)

// SystemActor is the audit actor of the processor's own actions.
const SystemActor = "system:coldchain"

// Config configures a Service.
type Config struct {
	Store   Store
	Log     Log            // nil: no processor (API only)
	Alarms  Alarms         // nil: conditions are dropped
	Audit   Recorder       // required
	Keyring *esign.Keyring // signs and verifies e-signatures; required for QA release
	Logger  *slog.Logger
	Now     func() time.Time
	// Lockout: consecutive failed attempts (logins and signings together) that lock an account,
	// and for how long (the auth service's settings; defaults 5 and 15 min).
	MaxFailures     int
	LockoutDuration time.Duration
	Session         esign.SessionPolicy
	Registerer      prometheus.Registerer // nil: no metrics
	// ForecastAlarmWithin raises EXCURSION_PREDICTED when the predicted crossing is this close
	// (default 1 h).
	ForecastAlarmWithin time.Duration
	// FlushEvery bounds how long a processed message waits for its batch's commit (default
	// DefaultFlushEvery): live status, excursions and alarm conditions lag the log by at most
	// this plus one commit. MaxBatch commits earlier, after that many messages (default
	// DefaultMaxBatch).
	FlushEvery time.Duration
	MaxBatch   int
}

// Actor is the person calling the API.
type Actor struct {
	UserID    string
	Username  string
	Tenant    string
	TokenHash string // the session's token (for §11.200 continuity)
}

func (a Actor) audit() string {
	if strings.HasPrefix(a.UserID, "system:") {
		return a.UserID // seeding and other system actions
	}
	return "user:" + a.UserID
}

// Service is the cold-chain service: records, processor, QA release, reports.
type Service struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	proc *processor
	sess *sessions
	// retryBase is Run's first pause after a failed batch (doubling to 30 s while it fails).
	retryBase time.Duration
}

// New returns a Service; it restores the processor's state from the store.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Audit == nil {
		return nil, errors.New("coldchain: a store and an audit recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.LockoutDuration <= 0 {
		cfg.LockoutDuration = 15 * time.Minute
	}
	if cfg.ForecastAlarmWithin <= 0 {
		cfg.ForecastAlarmWithin = time.Hour
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if err := cfg.Session.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, sess: newSessions(cfg.Session.Idle), retryBase: 500 * time.Millisecond}
	p, err := newProcessor(ctx, s)
	if err != nil {
		return nil, err
	}
	s.proc = p
	if cfg.Registerer != nil {
		gauge := func(stage string, v *atomic.Uint64) prometheus.Collector {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "vigil", Subsystem: "coldchain", Name: "log_seq",
				Help:        "Log sequence of the last message the cold-chain processor processed (stage processed) and committed with its checkpoint (stage committed).",
				ConstLabels: prometheus.Labels{"stage": stage}}, func() float64 { return float64(v.Load()) })
		}
		if err := errors.Join(cfg.Registerer.Register(gauge("processed", &p.processed)),
			cfg.Registerer.Register(gauge("committed", &p.committed))); err != nil {
			return nil, fmt.Errorf("coldchain: register metrics: %w", err)
		}
	}
	return s, nil
}

// Run processes the log until ctx ends (nil then): it replays the log from the saved
// checkpoint and commits the effects of the messages with the new checkpoint in one
// transaction per batch (Config.FlushEvery, Config.MaxBatch). When a commit fails it resets
// the live state to the saved one and replays from the checkpoint again, after a pause. Only
// one node may run it at a time (scaled out: under the processors' lease).
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.Log == nil {
		<-ctx.Done()
		return nil
	}
	wait := time.Duration(0)
	for {
		before := s.proc.committed.Load()
		err := s.replay(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ce *errCommit
		if !errors.As(err, &ce) {
			return fmt.Errorf("coldchain processor: %w", err)
		}
		if s.proc.committed.Load() != before {
			wait = 0 // it made progress: not a persistent failure
		}
		wait = min(max(2*wait, s.retryBase), 30*time.Second)
		s.log.Error("cold-chain batch not committed; replaying from the checkpoint", "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// replay runs one pass of Run: from the saved checkpoint (or, the first time, from the old
// durable consumer's acknowledged position) until ctx ends or a batch fails.
func (s *Service) replay(ctx context.Context) error {
	seq, ok, err := s.cfg.Store.ColdCheckpoint(ctx)
	if err != nil {
		return &errCommit{err: err}
	}
	legacy, _ := s.cfg.Log.(legacyLog)
	removeLegacy := func() {
		if legacy == nil {
			return
		}
		if err := legacy.RemoveConsumer(ctx, Consumer); err != nil {
			s.log.Warn("could not remove the old cold-chain consumer", "err", err)
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
			s.log.Warn("could not read the old cold-chain consumer's position; replaying the whole log", "err", err)
		} else if found {
			seq = floor
		}
	}
	// Start from the saved state: after a failed batch, or after the lease moved between
	// nodes and another node's processor advanced it.
	if err := s.proc.reset(ctx); err != nil {
		return &errCommit{err: err}
	}
	s.proc.processed.Store(seq)
	s.proc.committed.Store(seq)
	s.log.Info("cold-chain processor replaying the log", "after_seq", seq, "checkpoint", ok)
	msgs := make(chan message, 256)
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
		return s.proc.loop(gctx, msgs, s.cfg.FlushEvery, s.cfg.MaxBatch, func() {
			if legacy != nil {
				removeLegacy()
			}
		})
	})
	return g.Wait()
}

// ExpectedInterval implements alarm.IntervalSource: the logging interval of the unit or
// shipment a device's metric is a sensor of (Limits.interval_s), negative for a unit's door
// contact (sent on change), 0 when no cold-chain configuration names it. It knows a tenant
// once the processor has indexed it (at its first reading after a start or a change). Safe
// for concurrent use.
func (s *Service) ExpectedInterval(tenant, device, metric string) time.Duration {
	return s.proc.expectedInterval(tenant, device, metric)
}

// metaSetter is implemented by every record type through the embedded Meta.
type metaSetter interface{ setMeta(Meta) }

func (m *Meta) setMeta(x Meta) { *m = x }

func metaOf(r store.ColdRecord) Meta {
	return Meta{Version: r.Version, Created: r.Created, Updated: r.Updated}
}

// load reads one record into v.
func load[T any, P interface {
	*T
	metaSetter
}](ctx context.Context, st Store, tenant, kind, id string) (T, int64, error) {
	var v T
	rec, err := st.ColdRecord(ctx, tenant, kind, id)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(rec.JSON, &v); err != nil {
		return v, 0, fmt.Errorf("decode %s %s: %w", kind, id, err)
	}
	P(&v).setMeta(metaOf(rec))
	return v, rec.Version, nil
}

// list reads records of one kind.
func list[T any, P interface {
	*T
	metaSetter
}](ctx context.Context, st Store, q store.ColdQuery) ([]T, error) {
	recs, err := st.ColdRecords(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(recs))
	for _, rec := range recs {
		var v T
		if err := json.Unmarshal(rec.JSON, &v); err != nil {
			return nil, fmt.Errorf("decode %s %s: %w", rec.Kind, rec.ID, err)
		}
		P(&v).setMeta(metaOf(rec))
		out = append(out, v)
	}
	return out, nil
}

// put writes v (its Meta left out of the document) and returns the stored meta.
func (s *Service) put(ctx context.Context, tenant, kind, id, parent, status string, v any, expect int64) (Meta, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return Meta{}, fmt.Errorf("encode %s %s: %w", kind, id, err)
	}
	rec, err := s.cfg.Store.PutColdRecord(ctx, store.ColdRecord{Tenant: tenant, Kind: kind, ID: id, Parent: parent,
		Status: status, Updated: s.now().UTC(), JSON: doc}, expect)
	if err != nil {
		if errors.Is(err, store.ErrConflict) && expect != 0 {
			return Meta{}, &Error{Kind: KindConflict, Code: "version", Message: "record changed since you read it", Err: err}
		}
		return Meta{}, err
	}
	return metaOf(rec), nil
}

// record appends an audit entry.
func (s *Service) record(ctx context.Context, tenant, actor, action, target, reason string, old, new any) error {
	rec := store.AuditRecord{Tenant: tenant, Actor: actor, Action: action, Target: target, Reason: reason}
	if old != nil {
		b, _ := json.Marshal(old)
		rec.Old = string(b)
	}
	if new != nil {
		b, _ := json.Marshal(new)
		rec.New = string(b)
	}
	if err := s.cfg.Audit.Record(ctx, rec); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

func stripMeta[T any, P interface {
	*T
	metaSetter
}](v T) T {
	P(&v).setMeta(Meta{})
	return v
}

// ---- sites ----

// Sites lists the tenant's sites.
func (s *Service) Sites(ctx context.Context, tenant string) ([]Site, error) {
	return list[Site](ctx, s.cfg.Store, store.ColdQuery{Tenant: tenant, Kind: store.ColdSite})
}

// Site returns one site.
func (s *Service) Site(ctx context.Context, tenant, id string) (Site, error) {
	v, _, err := load[Site](ctx, s.cfg.Store, tenant, store.ColdSite, id)
	return v, err
}

// CreateSite creates a site.
func (s *Service) CreateSite(ctx context.Context, a Actor, tenant string, v Site) (Site, error) {
	if err := v.validate(); err != nil {
		return Site{}, err
	}
	v = stripMeta(v)
	m, err := s.put(ctx, tenant, store.ColdSite, v.ID, "", "", v, 0)
	if err != nil {
		return Site{}, err
	}
	v.Meta = m
	s.proc.invalidate(tenant)
	return v, s.record(ctx, tenant, a.audit(), "site.create", "site:"+v.ID, "", nil, stripMeta(v))
}

// ---- units ----

// UnitView is a unit with its live status.
type UnitView struct {
	Unit
	Status Status `json:"status"`
}

// UnitDetail is a unit with its status, excursions, lots and mapping studies.
type UnitDetail struct {
	UnitView
	Excursions     []Excursion `json:"excursions"`
	Lots           []LotView   `json:"lots"`
	MappingStudies []string    `json:"mapping_studies"`
}

// Units lists the units of a tenant (of one site if site is set) with their live status.
func (s *Service) Units(ctx context.Context, tenant, site string) ([]UnitView, error) {
	us, err := list[Unit](ctx, s.cfg.Store, store.ColdQuery{Tenant: tenant, Kind: store.ColdUnit, Parent: site, Limit: 10000})
	if err != nil {
		return nil, err
	}
	sts, err := s.statuses(ctx, tenant, AtUnit)
	if err != nil {
		return nil, err
	}
	out := make([]UnitView, len(us))
	for i, u := range us {
		out[i] = UnitView{Unit: u, Status: sts[u.ID]}
		if out[i].Status.State == "" {
			out[i].Status.State = StateNoData
		}
	}
	return out, nil
}

func (s *Service) statuses(ctx context.Context, tenant, kind string) (map[string]Status, error) {
	recs, err := s.cfg.Store.ColdRecords(ctx, store.ColdQuery{Tenant: tenant, Kind: store.ColdStatus, Parent: kind, Limit: 100000})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Status, len(recs))
	for _, r := range recs {
		var st Status
		if err := json.Unmarshal(r.JSON, &st); err != nil {
			return nil, fmt.Errorf("decode status of %s: %w", r.ID, err)
		}
		out[r.ID] = st
	}
	return out, nil
}

func (s *Service) status(ctx context.Context, tenant, id string) (Status, error) {
	r, err := s.cfg.Store.ColdRecord(ctx, tenant, store.ColdStatus, id)
	if errors.Is(err, store.ErrNotFound) {
		return Status{State: StateNoData}, nil
	}
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal(r.JSON, &st); err != nil {
		return Status{}, fmt.Errorf("decode status of %s: %w", id, err)
	}
	return st, nil
}

// Unit returns one unit with its status, excursions, lots and mapping studies.
func (s *Service) Unit(ctx context.Context, tenant, id string) (UnitDetail, error) {
	u, _, err := load[Unit](ctx, s.cfg.Store, tenant, store.ColdUnit, id)
	if err != nil {
		return UnitDetail{}, err
	}
	st, err := s.status(ctx, tenant, id)
	if err != nil {
		return UnitDetail{}, err
	}
	d := UnitDetail{UnitView: UnitView{Unit: u, Status: st}, MappingStudies: []string{}}
	if d.Excursions, err = s.excursions(ctx, tenant, id, 100); err != nil {
		return UnitDetail{}, err
	}
	if d.Lots, err = s.Lots(ctx, tenant, id, ""); err != nil {
		return UnitDetail{}, err
	}
	studies, err := s.cfg.Store.ColdRecords(ctx, store.ColdQuery{Tenant: tenant, Kind: store.ColdMapping, Parent: id})
	if err != nil {
		return UnitDetail{}, err
	}
	for _, r := range studies {
		d.MappingStudies = append(d.MappingStudies, r.ID)
	}
	return d, nil
}

// excursions returns a source's excursions with their acknowledgements, newest first.
func (s *Service) excursions(ctx context.Context, tenant, source string, limit int) ([]Excursion, error) {
	recs, err := s.cfg.Store.ColdRecords(ctx, store.ColdQuery{Tenant: tenant, Kind: store.ColdExcursion, Parent: source, Limit: 100000})
	if err != nil {
		return nil, err
	}
	out := make([]Excursion, 0, len(recs))
	for _, r := range recs {
		var e Excursion
		if err := json.Unmarshal(r.JSON, &e); err != nil {
			return nil, fmt.Errorf("decode excursion %s: %w", r.ID, err)
		}
		if ack, err := s.ack(ctx, tenant, e.ID); err != nil {
			return nil, err
		} else {
			e.Ack = ack
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *Service) ack(ctx context.Context, tenant, id string) (*Ack, error) {
	r, err := s.cfg.Store.ColdRecord(ctx, tenant, store.ColdAck, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a Ack
	if err := json.Unmarshal(r.JSON, &a); err != nil {
		return nil, fmt.Errorf("decode acknowledgement of %s: %w", id, err)
	}
	return &a, nil
}

// CreateUnit creates a unit.
func (s *Service) CreateUnit(ctx context.Context, a Actor, tenant string, u Unit) (Unit, error) {
	if err := u.validate(); err != nil {
		return Unit{}, err
	}
	if _, err := s.Site(ctx, tenant, u.Site); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Unit{}, invalidf("site: %q does not exist", u.Site)
		}
		return Unit{}, err
	}
	u = stripMeta(u)
	m, err := s.put(ctx, tenant, store.ColdUnit, u.ID, u.Site, "", u, 0)
	if err != nil {
		return Unit{}, err
	}
	u.Meta = m
	s.proc.invalidate(tenant)
	return u, s.record(ctx, tenant, a.audit(), "unit.create", "unit:"+u.ID, "", nil, stripMeta(u))
}

// UnitPatch changes a unit; nil fields stay. Reason is required.
type UnitPatch struct {
	Name       *string   `json:"name"`
	Limits     *Limits   `json:"limits"`
	Sensors    *[]Sensor `json:"sensors"`
	DoorDevice *string   `json:"door_device"`
	Reason     string    `json:"reason"`
	Version    int64     `json:"version"`
}

// PatchUnit changes a unit's name, limits, sensors or door device (audited with old and new).
func (s *Service) PatchUnit(ctx context.Context, a Actor, tenant, id string, p UnitPatch) (Unit, error) {
	if p.Reason == "" {
		return Unit{}, invalidf("reason: required for a change of a unit")
	}
	u, ver, err := load[Unit](ctx, s.cfg.Store, tenant, store.ColdUnit, id)
	if err != nil {
		return Unit{}, err
	}
	if p.Version != 0 && p.Version != ver {
		return Unit{}, &Error{Kind: KindConflict, Code: "version", Message: "record changed since you read it",
			Detail: map[string]any{"current_version": ver}}
	}
	old := stripMeta(u)
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Limits != nil {
		u.Limits = *p.Limits
	}
	if p.Sensors != nil {
		u.Sensors = *p.Sensors
	}
	if p.DoorDevice != nil {
		u.DoorDevice = *p.DoorDevice
	}
	if err := u.validate(); err != nil {
		return Unit{}, err
	}
	u = stripMeta(u)
	m, err := s.put(ctx, tenant, store.ColdUnit, id, u.Site, "", u, ver)
	if err != nil {
		return Unit{}, err
	}
	u.Meta = m
	s.proc.invalidate(tenant)
	return u, s.record(ctx, tenant, a.audit(), "unit.update", "unit:"+id, p.Reason, old, stripMeta(u))
}

// ---- products ----

// Products lists the tenant's products.
func (s *Service) Products(ctx context.Context, tenant string) ([]Product, error) {
	return list[Product](ctx, s.cfg.Store, store.ColdQuery{Tenant: tenant, Kind: store.ColdProduct, Limit: 10000})
}

// Product returns one product.
func (s *Service) Product(ctx context.Context, tenant, id string) (Product, error) {
	v, _, err := load[Product](ctx, s.cfg.Store, tenant, store.ColdProduct, id)
	return v, err
}

// CreateProduct creates a product.
func (s *Service) CreateProduct(ctx context.Context, a Actor, tenant string, p Product) (Product, error) {
	if err := p.validate(); err != nil {
		return Product{}, err
	}
	p = stripMeta(p)
	m, err := s.put(ctx, tenant, store.ColdProduct, p.ID, "", "", p, 0)
	if err != nil {
		return Product{}, err
	}
	p.Meta = m
	s.proc.invalidate(tenant)
	return p, s.record(ctx, tenant, a.audit(), "product.create", "product:"+p.ID, "", nil, stripMeta(p))
}

// ---- lots ----

// BudgetUse is a lot's use of one budget rule.
type BudgetUse struct {
	Rule       string     `json:"rule"`
	Kind       string     `json:"kind"`
	Band       string     `json:"band"`
	LimitS     int64      `json:"limit_s"`
	ConsumedS  float64    `json:"consumed_s"`
	Fraction   float64    `json:"fraction"`
	RemainingS float64    `json:"remaining_s"`
	Deadline   *time.Time `json:"deadline"`
	Fired      *time.Time `json:"fired"`
}

// LotView is a lot with its budget use.
type LotView struct {
	Lot
	Budget []BudgetUse `json:"budget"`
}

// lotBudget is the processor's budget state of a lot (store.ColdLotBudget).
type lotBudget struct {
	Product string                   `json:"product"`
	State   coldchain.BudgetState    `json:"state"`
	Runs    map[string]time.Duration `json:"runs,omitempty"`
	Meta
}

func (s *Service) budgetOf(ctx context.Context, tenant, lot string) (coldchain.BudgetState, error) {
	if st, ok := s.proc.budgetState(tenant, lot); ok {
		return st, nil
	}
	b, _, err := load[lotBudget](ctx, s.cfg.Store, tenant, store.ColdLotBudget, lot)
	if errors.Is(err, store.ErrNotFound) {
		return coldchain.BudgetState{}, nil
	}
	return b.State, err
}

func (s *Service) lotView(ctx context.Context, tenant string, l Lot) (LotView, error) {
	v := LotView{Lot: l, Budget: []BudgetUse{}}
	p, err := s.Product(ctx, tenant, l.Product)
	if errors.Is(err, store.ErrNotFound) {
		return v, nil
	}
	if err != nil {
		return v, err
	}
	st, err := s.budgetOf(ctx, tenant, l.ID)
	if err != nil {
		return v, err
	}
	v.Budget = budgetUses(p, st)
	return v, nil
}

func budgetUses(p Product, st coldchain.BudgetState) []BudgetUse {
	var out []BudgetUse
	for _, r := range p.profile().Rules {
		u := BudgetUse{Rule: r.ID, Kind: r.Kind.String(), Band: r.Band.String(), LimitS: int64(r.Limit / time.Second)}
		c := st.Consumed[r.ID]
		u.ConsumedS = c.Seconds()
		if r.Limit > 0 {
			u.Fraction = float64(c) / float64(r.Limit)
			u.RemainingS = (r.Limit - c).Seconds()
		}
		if d, ok := st.Deadlines[r.ID]; ok {
			u.Deadline = &d
		}
		if f, ok := st.Fired[r.ID]; ok {
			u.Fired = &f
		}
		out = append(out, u)
	}
	return out
}

// Lots lists lots, optionally only those at location and with status.
func (s *Service) Lots(ctx context.Context, tenant, location, status string) ([]LotView, error) {
	ls, err := list[Lot](ctx, s.cfg.Store, store.ColdQuery{Tenant: tenant, Kind: store.ColdLot, Parent: location, Status: status, Limit: 10000})
	if err != nil {
		return nil, err
	}
	out := make([]LotView, 0, len(ls))
	for _, l := range ls {
		v, err := s.lotView(ctx, tenant, l)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Lot returns one lot with its budget use.
func (s *Service) Lot(ctx context.Context, tenant, id string) (LotView, error) {
	l, _, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
	if err != nil {
		return LotView{}, err
	}
	return s.lotView(ctx, tenant, l)
}

// LotCreate is the body of a lot creation.
type LotCreate struct {
	ID       string  `json:"id"`
	Number   string  `json:"number"`
	Product  string  `json:"product"`
	Quantity float64 `json:"quantity"`
	UOM      string  `json:"uom"`
	Expiry   string  `json:"expiry"`
	Location struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"location"`
}

func (s *Service) checkLocation(ctx context.Context, tenant, kind, id string) error {
	var k string
	switch kind {
	case AtUnit:
		k = store.ColdUnit
	case AtShipment:
		k = store.ColdShipment
	default:
		return invalidf("location.kind: %q is not unit or shipment", kind)
	}
	if _, err := s.cfg.Store.ColdRecord(ctx, tenant, k, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return invalidf("location.id: %s %q does not exist", kind, id)
		}
		return err
	}
	return nil
}

// CreateLot creates a lot in custody of a unit or shipment from now.
func (s *Service) CreateLot(ctx context.Context, a Actor, tenant string, c LotCreate) (LotView, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	l := Lot{ID: c.ID, Number: c.Number, Product: c.Product, Quantity: c.Quantity, UOM: c.UOM, Expiry: c.Expiry, Status: LotAvailable,
		Location:   Location{Kind: c.Location.Kind, ID: c.Location.ID, Since: now},
		Locations:  []Custody{{Kind: c.Location.Kind, ID: c.Location.ID, From: now}},
		Quarantine: []QuarantineReason{}}
	if err := l.validate(); err != nil {
		return LotView{}, err
	}
	if _, err := s.Product(ctx, tenant, l.Product); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return LotView{}, invalidf("product: %q does not exist", l.Product)
		}
		return LotView{}, err
	}
	if err := s.checkLocation(ctx, tenant, l.Location.Kind, l.Location.ID); err != nil {
		return LotView{}, err
	}
	m, err := s.put(ctx, tenant, store.ColdLot, l.ID, l.Location.ID, l.Status, l, 0)
	if err != nil {
		return LotView{}, err
	}
	l.Meta = m
	s.proc.invalidate(tenant)
	if err := s.record(ctx, tenant, a.audit(), "lot.create", "lot:"+l.ID, "", nil, stripMeta(l)); err != nil {
		return LotView{}, err
	}
	return s.lotView(ctx, tenant, l)
}

// LotPatch changes a lot's quantity or expiry; reason required.
type LotPatch struct {
	Quantity *float64 `json:"quantity"`
	Expiry   *string  `json:"expiry"`
	UOM      *string  `json:"uom"`
	Reason   string   `json:"reason"`
	Version  int64    `json:"version"`
}

// PatchLot changes a lot (audited). A change after a signature invalidates it.
func (s *Service) PatchLot(ctx context.Context, a Actor, tenant, id string, p LotPatch) (LotView, error) {
	if p.Reason == "" {
		return LotView{}, invalidf("reason: required for a change of a lot")
	}
	l, ver, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
	if err != nil {
		return LotView{}, err
	}
	if p.Version != 0 && p.Version != ver {
		return LotView{}, &Error{Kind: KindConflict, Code: "version", Message: "record changed since you read it",
			Detail: map[string]any{"current_version": ver}}
	}
	old := stripMeta(l)
	if p.Quantity != nil {
		l.Quantity = *p.Quantity
	}
	if p.Expiry != nil {
		l.Expiry = *p.Expiry
	}
	if p.UOM != nil {
		l.UOM = *p.UOM
	}
	if err := l.validate(); err != nil {
		return LotView{}, err
	}
	l = stripMeta(l)
	m, err := s.put(ctx, tenant, store.ColdLot, id, l.Location.ID, l.Status, l, ver)
	if err != nil {
		return LotView{}, err
	}
	l.Meta = m
	if err := s.record(ctx, tenant, a.audit(), "lot.update", "lot:"+id, p.Reason, old, stripMeta(l)); err != nil {
		return LotView{}, err
	}
	return s.lotView(ctx, tenant, l)
}

// Move is the body of a custody change.
type Move struct {
	To struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"to"`
	Reason string `json:"reason"`
}

// MoveLot moves a lot into the custody of another unit or shipment, now.
func (s *Service) MoveLot(ctx context.Context, a Actor, tenant, id string, mv Move) (LotView, error) {
	if mv.Reason == "" {
		return LotView{}, invalidf("reason: required for a custody change")
	}
	if err := s.checkLocation(ctx, tenant, mv.To.Kind, mv.To.ID); err != nil {
		return LotView{}, err
	}
	l, err := s.moveLot(ctx, a.audit(), tenant, id, mv.To.Kind, mv.To.ID, mv.Reason)
	if err != nil {
		return LotView{}, err
	}
	return s.lotView(ctx, tenant, l)
}

func (s *Service) moveLot(ctx context.Context, actor, tenant, id, kind, to, reason string) (Lot, error) {
	l, ver, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
	if err != nil {
		return Lot{}, err
	}
	if l.Location.Kind == kind && l.Location.ID == to {
		return l, nil
	}
	old := stripMeta(l)
	now := s.now().UTC().Truncate(time.Millisecond)
	if n := len(l.Locations); n > 0 && l.Locations[n-1].To == nil {
		l.Locations[n-1].To = &now
	}
	l.Location = Location{Kind: kind, ID: to, Since: now}
	l.Locations = append(l.Locations, Custody{Kind: kind, ID: to, From: now})
	l = stripMeta(l)
	m, err := s.put(ctx, tenant, store.ColdLot, id, to, l.Status, l, ver)
	if err != nil {
		return Lot{}, err
	}
	l.Meta = m
	s.proc.invalidate(tenant)
	return l, s.record(ctx, tenant, actor, "lot.move", "lot:"+id, reason, old.Location, l.Location)
}

// ---- shipments ----

// ShipmentView is a shipment with its live status and excursions.
type ShipmentView struct {
	Shipment
	Status     Status      `json:"status"`
	Excursions []Excursion `json:"excursions"`
}

// Shipments lists shipments, optionally in one state.
func (s *Service) Shipments(ctx context.Context, tenant, state string) ([]ShipmentView, error) {
	ss, err := list[Shipment](ctx, s.cfg.Store, store.ColdQuery{Tenant: tenant, Kind: store.ColdShipment, Status: state, Limit: 10000})
	if err != nil {
		return nil, err
	}
	sts, err := s.statuses(ctx, tenant, AtShipment)
	if err != nil {
		return nil, err
	}
	out := make([]ShipmentView, len(ss))
	for i, sh := range ss {
		out[i] = ShipmentView{Shipment: sh, Status: sts[sh.ID], Excursions: []Excursion{}}
		if out[i].Status.State == "" {
			out[i].Status.State = StateNoData
		}
	}
	return out, nil
}

// Shipment returns one shipment with status and excursions.
func (s *Service) Shipment(ctx context.Context, tenant, id string) (ShipmentView, error) {
	sh, _, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, id)
	if err != nil {
		return ShipmentView{}, err
	}
	st, err := s.status(ctx, tenant, id)
	if err != nil {
		return ShipmentView{}, err
	}
	ex, err := s.excursions(ctx, tenant, id, 100)
	if err != nil {
		return ShipmentView{}, err
	}
	return ShipmentView{Shipment: sh, Status: st, Excursions: ex}, nil
}

// CreateShipment creates a shipment in state CREATED (or the given initial state, for
// imports and the demo, which must be CREATED, PACKED or IN_TRANSIT).
func (s *Service) CreateShipment(ctx context.Context, a Actor, tenant string, sh Shipment) (ShipmentView, error) {
	if sh.State == "" {
		sh.State = coldchain.Created
	}
	if !slices.Contains([]coldchain.ShipmentState{coldchain.Created, coldchain.Packed, coldchain.InTransit}, sh.State) {
		return ShipmentView{}, invalidf("state: a new shipment is CREATED, PACKED or IN_TRANSIT, not %s", sh.State)
	}
	if err := sh.validate(); err != nil {
		return ShipmentView{}, err
	}
	for _, site := range []string{sh.Lane.Origin, sh.Lane.Destination} {
		if _, err := s.Site(ctx, tenant, site); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ShipmentView{}, invalidf("lane: site %q does not exist", site)
			}
			return ShipmentView{}, err
		}
	}
	if sh.Legs == nil {
		sh.Legs = []Leg{{FromSite: sh.Lane.Origin, ToSite: sh.Lane.Destination}}
	}
	if sh.Lots == nil {
		sh.Lots = []string{}
	}
	sh.Transitions = []Transition{}
	sh = stripMeta(sh)
	m, err := s.put(ctx, tenant, store.ColdShipment, sh.ID, sh.Lane.ID, string(sh.State), sh, 0)
	if err != nil {
		return ShipmentView{}, err
	}
	sh.Meta = m
	s.proc.invalidate(tenant)
	if err := s.record(ctx, tenant, a.audit(), "shipment.create", "shipment:"+sh.ID, "", nil, stripMeta(sh)); err != nil {
		return ShipmentView{}, err
	}
	if sh.State != coldchain.Created {
		for _, lot := range sh.Lots {
			_, err := s.moveLot(ctx, a.audit(), tenant, lot, AtShipment, sh.ID, "shipment created "+string(sh.State))
			if errors.Is(err, store.ErrNotFound) {
				continue // a lot created later, in the shipment's custody
			}
			if err != nil {
				return ShipmentView{}, fmt.Errorf("lot %s: %w", lot, err)
			}
		}
	}
	return s.Shipment(ctx, tenant, sh.ID)
}

// TransitionRequest is the body of a shipment transition.
type TransitionRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// TransitionShipment applies pack, dispatch, receive or cancel.
func (s *Service) TransitionShipment(ctx context.Context, a Actor, tenant, id string, r TransitionRequest) (ShipmentView, error) {
	act := coldchain.ShipmentAction(r.Action)
	switch act {
	case coldchain.Pack, coldchain.Dispatch, coldchain.Receive, coldchain.Cancel:
	case coldchain.Release, coldchain.Reject:
		return ShipmentView{}, conflict("transition", "%s needs an electronic signature: use the sign endpoint", act)
	default:
		return ShipmentView{}, invalidf("action: %q is not pack, dispatch, receive or cancel", r.Action)
	}
	if err := s.transition(ctx, a.audit(), tenant, id, act, r.Reason); err != nil {
		return ShipmentView{}, err
	}
	return s.Shipment(ctx, tenant, id)
}

// transition moves a shipment through act (and the automatic quarantine after receive),
// recording legs' actual times and the lots' custody. It retries on a concurrent change.
func (s *Service) transition(ctx context.Context, actor, tenant, id string, act coldchain.ShipmentAction, reason string) error {
	for attempt := 0; ; attempt++ {
		sh, ver, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, id)
		if err != nil {
			return err
		}
		old := sh.State
		now := s.now().UTC().Truncate(time.Millisecond)
		if act == coldchain.Pack {
			if err := calibrationCheck(sh, now); err != nil {
				return err
			}
		}
		steps := []coldchain.ShipmentAction{act}
		if act == coldchain.Receive {
			steps = append(steps, coldchain.Quarantine)
		}
		for _, step := range steps {
			to, err := coldchain.Transition(sh.State, step, false) // release and reject never come here
			if err != nil {
				var te *coldchain.TransitionError
				if errors.As(err, &te) {
					return &Error{Kind: KindConflict, Code: "transition", Message: err.Error(), Err: err}
				}
				return err
			}
			why := reason
			if step == coldchain.Quarantine {
				why = "quarantined on delivery until QA review (spec 4.5)"
			}
			sh.Transitions = append(sh.Transitions, Transition{From: sh.State, To: to, Action: step, At: now, Actor: actor, Reason: why})
			sh.State = to
		}
		if len(sh.Legs) > 0 {
			switch act {
			case coldchain.Dispatch:
				sh.Legs[0].ActualDeparture = &now
			case coldchain.Receive:
				sh.Legs[len(sh.Legs)-1].ActualArrival = &now
			}
		}
		sh = stripMeta(sh)
		_, err = s.put(ctx, tenant, store.ColdShipment, id, sh.Lane.ID, string(sh.State), sh, ver)
		if e, ok := AsError(err); ok && e.Code == "version" && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		s.proc.invalidate(tenant)
		if err := s.record(ctx, tenant, actor, "shipment."+string(act), "shipment:"+id, reason,
			map[string]any{"state": old}, map[string]any{"state": sh.State}); err != nil {
			return err
		}
		if act == coldchain.Pack {
			for _, lot := range sh.Lots {
				if _, err := s.moveLot(ctx, actor, tenant, lot, AtShipment, id, "packed into shipment "+id); err != nil {
					return fmt.Errorf("pack lot %s: %w", lot, err)
				}
			}
		}
		if act == coldchain.Receive {
			for _, lot := range sh.Lots {
				if err := s.setLotStatus(ctx, actor, tenant, lot, LotQuarantined, "shipment "+id+" delivered: quarantined until QA review", nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// calibrationCheck refuses to pack with a logger whose calibration falls due before the
// planned arrival (spec 4.5; the lane's expected transit from now when no arrival is planned).
func calibrationCheck(sh Shipment, now time.Time) error {
	arrival := now.Add(time.Duration(sh.Lane.ExpectedTransitS) * time.Second)
	if n := len(sh.Legs); n > 0 && sh.Legs[n-1].PlannedArrival != nil {
		arrival = *sh.Legs[n-1].PlannedArrival
	}
	for _, lg := range sh.Loggers {
		if lg.CalibrationDue == "" {
			continue
		}
		due, err := time.Parse(time.DateOnly, lg.CalibrationDue)
		if err != nil {
			return invalidf("loggers: calibration_due %q of %s is not a date", lg.CalibrationDue, lg.Device)
		}
		if due.Before(arrival) {
			return &Error{Kind: KindConflict, Code: "calibration", Message: fmt.Sprintf(
				"logger %s is due for calibration on %s, before the planned arrival %s", lg.Device, lg.CalibrationDue,
				arrival.Format(time.RFC3339)), Detail: map[string]any{"device": lg.Device}}
		}
	}
	return nil
}

// setLotStatus changes a lot's status (retrying on a concurrent change), audited; reasons are
// appended to the lot's quarantine list.
func (s *Service) setLotStatus(ctx context.Context, actor, tenant, id, status, reason string, why []QuarantineReason) error {
	for attempt := 0; ; attempt++ {
		l, ver, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
		if err != nil {
			return err
		}
		if l.Status == status && len(why) == 0 {
			return nil
		}
		old := l.Status
		l.Status = status
		l.Quarantine = append(l.Quarantine, why...)
		l = stripMeta(l)
		_, err = s.put(ctx, tenant, store.ColdLot, id, l.Location.ID, l.Status, l, ver)
		if e, ok := AsError(err); ok && e.Code == "version" && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		action := "lot." + status
		if status == LotQuarantined {
			action = "lot.quarantine"
		}
		return s.record(ctx, tenant, actor, action, "lot:"+id, reason, map[string]any{"status": old},
			map[string]any{"status": status, "reasons": why})
	}
}

// ---- excursions ----

// AckRequest is the body of an excursion acknowledgement.
type AckRequest struct {
	Comment   string `json:"comment"`
	RootCause string `json:"root_cause"`
}

// AckExcursion acknowledges an excursion (audited; not a signature).
func (s *Service) AckExcursion(ctx context.Context, a Actor, tenant, id string, r AckRequest) (Excursion, error) {
	if r.Comment == "" {
		return Excursion{}, invalidf("comment: required to acknowledge an excursion")
	}
	rec, err := s.cfg.Store.ColdRecord(ctx, tenant, store.ColdExcursion, id)
	if err != nil {
		return Excursion{}, err
	}
	var e Excursion
	if err := json.Unmarshal(rec.JSON, &e); err != nil {
		return Excursion{}, fmt.Errorf("decode excursion %s: %w", id, err)
	}
	ack := Ack{By: a.UserID, At: s.now().UTC().Truncate(time.Millisecond), Comment: r.Comment, RootCause: r.RootCause}
	doc, _ := json.Marshal(ack)
	if _, err := s.cfg.Store.PutColdRecord(ctx, store.ColdRecord{Tenant: tenant, Kind: store.ColdAck, ID: id, Parent: e.Source,
		Updated: ack.At, JSON: doc}, 0); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Excursion{}, conflict("state", "excursion %s is already acknowledged", id)
		}
		return Excursion{}, err
	}
	e.Ack = &ack
	return e, s.record(ctx, tenant, a.audit(), "excursion.ack", "excursion:"+id, r.Comment, nil, ack)
}

// ---- mapping studies ----

// MappingStudies lists a tenant's studies (of one unit if unit is set), without readings.
func (s *Service) MappingStudies(ctx context.Context, tenant, unit string) ([]MappingStudy, error) {
	ms, err := list[MappingStudy](ctx, s.cfg.Store, store.ColdQuery{Tenant: tenant, Kind: store.ColdMapping, Parent: unit})
	if err != nil {
		return nil, err
	}
	for i := range ms {
		for j := range ms[i].Loggers {
			ms[i].Loggers[j].Readings = nil
		}
	}
	return ms, nil
}

// MappingStudy returns one study with its statistics (spec 5).
func (s *Service) MappingStudy(ctx context.Context, tenant, id string) (MappingStudy, error) {
	m, _, err := load[MappingStudy](ctx, s.cfg.Store, tenant, store.ColdMapping, id)
	if err != nil {
		return MappingStudy{}, err
	}
	st, err := MappingStatistics(m)
	if err != nil {
		return MappingStudy{}, err
	}
	m.Statistics = &st
	return m, nil
}

// CreateMappingStudy stores a study.
func (s *Service) CreateMappingStudy(ctx context.Context, a Actor, tenant string, m MappingStudy) (MappingStudy, error) {
	if err := m.validate(); err != nil {
		return MappingStudy{}, err
	}
	if _, err := s.cfg.Store.ColdRecord(ctx, tenant, store.ColdUnit, m.Unit); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return MappingStudy{}, invalidf("unit: %q does not exist", m.Unit)
		}
		return MappingStudy{}, err
	}
	m.Statistics = nil
	m = stripMeta(m)
	meta, err := s.put(ctx, tenant, store.ColdMapping, m.ID, m.Unit, "", m, 0)
	if err != nil {
		return MappingStudy{}, err
	}
	if err := s.record(ctx, tenant, a.audit(), "mapping.create", "mapping:"+m.ID, "", nil,
		map[string]any{"unit": m.Unit, "loggers": len(m.Loggers), "protocol_ref": m.ProtocolRef}); err != nil {
		return MappingStudy{}, err
	}
	m.Meta = meta
	return s.MappingStudy(ctx, tenant, m.ID)
}
