package coldchainproc

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Sensor roles.
const (
	roleTemp = iota
	roleDoor
	roleLat
	roleLon
)

// binding says what a device's metric means for a source.
type binding struct {
	kind, id string // AtUnit or AtShipment, and the id
	role     int
	sensor   int // index into the source's sensors for roleTemp
}

// tenantIndex is the processor's view of one tenant's configuration.
type tenantIndex struct {
	loaded    time.Time
	byDevice  map[string][]binding // device + "\x00" + metric → bindings
	units     map[string]Unit
	shipments map[string]Shipment
	sites     map[string]Site
	products  map[string]Product
	lotsAt    map[string][]Lot // source id → lots there now
}

// sensorState is what the processor keeps per temperature sensor of a source.
type sensorState struct {
	Key     string                  `json:"key"` // device/metric
	WM      time.Time               `json:"wm"`  // newest processed reading
	High    coldchain.DetectorState `json:"high"`
	Low     coldchain.DetectorState `json:"low"`
	Charger coldchain.ChargerState  `json:"charger"`
	Recent  []coldchain.Sample      `json:"recent"`
	Hours   []hourMKT               `json:"hours"`
	Open    map[string]Excursion    `json:"open"` // direction → open excursion record
	Last    *coldchain.Sample       `json:"last"`
	// TrendStart is when the current warming (cooling) trend was first seen; zero without one.
	TrendStart time.Time `json:"trend_start"`
}

// sourceState is the persisted state of one unit or shipment.
type sourceState struct {
	Tenant     string                             `json:"tenant"`
	Kind       string                             `json:"kind"`
	ID         string                             `json:"id"`
	Sensors    map[string]*sensorState            `json:"sensors"`
	Door       coldchain.DoorState                `json:"door"`
	DoorWM     time.Time                          `json:"door_wm"`
	Geo        map[string]coldchain.GeofenceState `json:"geo"`
	GeoWM      time.Time                          `json:"geo_wm"`
	Pending    *pendingFix                        `json:"pending"`
	Conditions map[string]time.Time               `json:"conditions"` // code/metric → onset of a present condition
	Status     Status                             `json:"status"`
}

type pendingFix struct {
	At             time.Time
	Lat, Lon       float64
	HasLat, HasLon bool
}

// sensorRT holds a sensor's live detectors.
type sensorRT struct {
	st        *sensorState
	high, low *coldchain.Detector
	charger   *coldchain.Charger
}

// source is one unit or shipment at run time.
type source struct {
	st      *sourceState
	version int64 // configuration version the detectors were built from
	limits  Limits
	sensors []*sensorRT
	door    coldchain.DoorMonitor
	geo     map[string]*coldchain.Geofence
}

type budgetRT struct {
	b       *coldchain.Budget
	product string
}

// processor turns log messages into cold-chain state (Service.Run feeds it). mu guards
// everything below it; API calls take it briefly to read budget states.
type processor struct {
	s *Service

	invalid sync.Map // tenant → struct{}: configuration changed, reload the index
	// processed and committed are the log sequences of the last message processed into the
	// live state and of the last one whose effects are committed (the checkpoint).
	processed, committed atomic.Uint64
	// intervals: tenant → map[device\x00metric]time.Duration, each map immutable once stored;
	// read by the alarm processor (Service.ExpectedInterval) from its own goroutines.
	intervals sync.Map

	mu      sync.Mutex
	tenants map[string]*tenantIndex
	sources map[string]*source      // tenant/kind/id
	saved   map[string]*sourceState // restored, not yet rebuilt
	budgets map[string]*budgetRT    // tenant/lot
}

const indexTTL = 30 * time.Second

func newProcessor(ctx context.Context, s *Service) (*processor, error) {
	p := &processor{s: s, tenants: map[string]*tenantIndex{}, sources: map[string]*source{},
		saved: map[string]*sourceState{}, budgets: map[string]*budgetRT{}}
	if err := p.reset(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// invalidate makes the next reading of tenant reload its configuration.
func (p *processor) invalidate(tenant string) { p.invalid.Store(tenant, struct{}{}) }

func (p *processor) budgetState(tenant, lot string) (coldchain.BudgetState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.budgets[tenant+"/"+lot]
	if !ok {
		return coldchain.BudgetState{}, false
	}
	return b.b.State.Split(), true
}

func (p *processor) index(ctx context.Context, tenant string, now time.Time) (*tenantIndex, error) {
	_, stale := p.invalid.LoadAndDelete(tenant)
	if ix, ok := p.tenants[tenant]; ok && !stale && now.Sub(ix.loaded) < indexTTL {
		return ix, nil
	}
	st := p.s.cfg.Store
	ix := &tenantIndex{loaded: now, byDevice: map[string][]binding{}, units: map[string]Unit{}, shipments: map[string]Shipment{},
		sites: map[string]Site{}, products: map[string]Product{}, lotsAt: map[string][]Lot{}}
	us, err := list[Unit](ctx, st, store.ColdQuery{Tenant: tenant, Kind: store.ColdUnit, Limit: 1 << 20})
	if err != nil {
		return nil, err
	}
	bind := func(dev, metric string, b binding) {
		k := dev + "\x00" + metric
		ix.byDevice[k] = append(ix.byDevice[k], b)
	}
	every := map[string]time.Duration{} // for the alarm engine's NO_DATA (ExpectedInterval)
	expect := func(dev, metric string, d time.Duration) {
		k := dev + "\x00" + metric
		if old, ok := every[k]; !ok || (d > 0 && (old <= 0 || d > old)) {
			every[k] = d // a sensor on two sources: the longer interval
		}
	}
	for _, u := range us {
		ix.units[u.ID] = u
		for i, sn := range u.Sensors {
			bind(sn.Device, sn.Metric, binding{kind: AtUnit, id: u.ID, role: roleTemp, sensor: i})
			expect(sn.Device, sn.Metric, time.Duration(u.Limits.IntervalS)*time.Second)
		}
		if u.DoorDevice != "" {
			for _, m := range doorMetrics {
				bind(u.DoorDevice, m, binding{kind: AtUnit, id: u.ID, role: roleDoor})
				expect(u.DoorDevice, m, -1) // sent on change
			}
		}
	}
	ss, err := list[Shipment](ctx, st, store.ColdQuery{Tenant: tenant, Kind: store.ColdShipment, Limit: 1 << 20})
	if err != nil {
		return nil, err
	}
	for _, sh := range ss {
		ix.shipments[sh.ID] = sh
		for i, lg := range sh.Loggers {
			bind(lg.Device, lg.Metric, binding{kind: AtShipment, id: sh.ID, role: roleTemp, sensor: i})
			expect(lg.Device, lg.Metric, time.Duration(sh.Limits.IntervalS)*time.Second)
			bind(lg.Device, "lat", binding{kind: AtShipment, id: sh.ID, role: roleLat})
			bind(lg.Device, "lon", binding{kind: AtShipment, id: sh.ID, role: roleLon})
		}
	}
	sites, err := list[Site](ctx, st, store.ColdQuery{Tenant: tenant, Kind: store.ColdSite, Limit: 1 << 20})
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		ix.sites[s.ID] = s
	}
	ps, err := list[Product](ctx, st, store.ColdQuery{Tenant: tenant, Kind: store.ColdProduct, Limit: 1 << 20})
	if err != nil {
		return nil, err
	}
	for _, pr := range ps {
		ix.products[pr.ID] = pr
	}
	ls, err := list[Lot](ctx, st, store.ColdQuery{Tenant: tenant, Kind: store.ColdLot, Limit: 1 << 20})
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		ix.lotsAt[l.Location.ID] = append(ix.lotsAt[l.Location.ID], l)
	}
	p.tenants[tenant] = ix
	p.intervals.Store(tenant, every)
	return ix, nil
}

// expectedInterval is the configured logging interval of a device's metric in tenant (0 when
// no unit or shipment configures it, negative for a door contact).
func (p *processor) expectedInterval(tenant, device, metric string) time.Duration {
	m, ok := p.intervals.Load(tenant)
	if !ok {
		return 0
	}
	return m.(map[string]time.Duration)[device+"\x00"+baseMetric(metric)]
}

// doorMetrics are the metric keys a door contact arrives under ("door-open" from the simulated
// loggers is not in the vocabulary and stays a raw series of that name).
var doorMetrics = []string{"door-open", "door_open", "door"}

// source returns the run-time source for a unit or shipment, (re)building detectors when its
// configuration changed.
func (p *processor) source(tenant, kind, id string, ix *tenantIndex) (*source, error) {
	key := tenant + "/" + kind + "/" + id
	var limits Limits
	var sensors []Sensor
	var version int64
	var fences []Site
	switch kind {
	case AtUnit:
		u := ix.units[id]
		limits, sensors, version = u.Limits, u.Sensors, u.Version
	case AtShipment:
		sh := ix.shipments[id]
		limits, sensors, version = sh.Limits, sh.Loggers, sh.Version
		if len(sensors) == 0 {
			sensors = []Sensor{{Device: "subject", Metric: "temp_ambient"}} // readings by subject
		}
		for _, sid := range []string{sh.Lane.Origin, sh.Lane.Destination} {
			if site, ok := ix.sites[sid]; ok && site.GeofenceRadiusM > 0 {
				fences = append(fences, site)
			}
		}
	}
	src, ok := p.sources[key]
	if ok && src.version == version {
		return src, nil
	}
	var st *sourceState
	switch {
	case ok:
		st = src.snapshot()
	case p.saved[key] != nil:
		st = p.saved[key]
		delete(p.saved, key)
	default:
		st = &sourceState{Tenant: tenant, Kind: kind, ID: id}
	}
	if st.Sensors == nil {
		st.Sensors = map[string]*sensorState{}
	}
	if st.Geo == nil {
		st.Geo = map[string]coldchain.GeofenceState{}
	}
	if st.Conditions == nil {
		st.Conditions = map[string]time.Time{}
	}
	src = &source{st: st, version: version, limits: limits, geo: map[string]*coldchain.Geofence{}}
	tm := limits.timing()
	delay := time.Duration(limits.AlarmDelayS) * time.Second
	tol := time.Duration(limits.DoorToleranceS) * time.Second
	for _, sn := range sensors {
		k := sn.Device + "/" + sn.Metric
		ss := st.Sensors[k]
		if ss == nil {
			ss = &sensorState{Key: k}
			st.Sensors[k] = ss
		}
		if ss.Open == nil {
			ss.Open = map[string]Excursion{}
		}
		rt := &sensorRT{st: ss}
		var err error
		if rt.high, err = coldchain.RestoreDetector(coldchain.DetectorConfig{Direction: coldchain.High, Limit: limits.HighC,
			Hysteresis: limits.HysteresisC, Timing: tm, AlarmDelay: delay, DoorTolerance: tol}, ss.High); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, id, err)
		}
		if rt.low, err = coldchain.RestoreDetector(coldchain.DetectorConfig{Direction: coldchain.Low, Limit: limits.LowC,
			Hysteresis: limits.HysteresisC, Timing: tm, AlarmDelay: delay, DoorTolerance: tol}, ss.Low); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, id, err)
		}
		if rt.charger, err = coldchain.RestoreCharger(id, tm, coldchain.Ranges{{Lo: limits.LowC, Hi: limits.HighC}}, ss.Charger); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, id, err)
		}
		src.sensors = append(src.sensors, rt)
	}
	src.door.LeftOpenAfter = tol
	src.door.Restore(st.Door)
	for _, site := range fences {
		g, err := coldchain.RestoreGeofence(coldchain.GeofenceConfig{Lat: site.Lat, Lon: site.Lon, Radius: site.GeofenceRadiusM,
			Margin: coldchain.DefaultGeofenceMargin, Dwell: coldchain.DefaultGeofenceDwell}, st.Geo[site.ID])
		if err != nil {
			return nil, fmt.Errorf("%s %s: geofence %s: %w", kind, id, site.ID, err)
		}
		src.geo[site.ID] = g
	}
	p.sources[key] = src
	return src, nil
}

// snapshot copies the live detectors' state into the persisted state and returns it.
func (src *source) snapshot() *sourceState {
	for _, rt := range src.sensors {
		rt.st.High, rt.st.Low, rt.st.Charger = rt.high.State(), rt.low.State(), rt.charger.State()
	}
	src.st.Door = src.door.State()
	for id, g := range src.geo {
		src.st.Geo[id] = g.State()
	}
	return src.st
}

// run collects what one message produces.
type run struct {
	ctx     context.Context
	batch   store.ColdBatch
	conds   []alarm.Condition
	touched map[*source]bool
	budgets map[string]*budgetRT
	lots    map[string]Lot // lot key → lot, for budgets touched
	after   []func() error // store and audit side effects once conditions are applied
}

// reset drops the live state and reloads the saved one.
func (p *processor) reset(ctx context.Context) error {
	sts, err := p.s.cfg.Store.ColdStates(ctx)
	if err != nil {
		return fmt.Errorf("coldchain processor: reload state: %w", err)
	}
	saved := map[string]*sourceState{}
	for _, st := range sts {
		var ss sourceState
		if err := json.Unmarshal(st.JSON, &ss); err != nil {
			return fmt.Errorf("coldchain processor: reload state of %s: %w", st.Source, err)
		}
		saved[ss.Tenant+"/"+ss.Kind+"/"+ss.ID] = &ss
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saved, p.sources, p.budgets, p.tenants = saved, map[string]*source{}, map[string]*budgetRT{}, map[string]*tenantIndex{}
	return nil
}

func (p *processor) process(ctx context.Context, rs []reading.Reading) (*run, error) {
	if len(rs) == 0 {
		return &run{}, nil
	}
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	// Device time order; a door signal before the temperature of the same instant (spec X2).
	slices.SortStableFunc(order, func(a, b int) int {
		if c := rs[a].Measured.Compare(rs[b].Measured); c != 0 {
			return c
		}
		return cmp.Compare(doorRank(rs[a].Metric), doorRank(rs[b].Metric))
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.s.now()
	ru := &run{ctx: ctx, touched: map[*source]bool{}, budgets: map[string]*budgetRT{}, lots: map[string]Lot{}}
	for _, i := range order {
		rd := &rs[i]
		ix, err := p.index(ctx, rd.Tenant, now)
		if err != nil {
			return nil, fmt.Errorf("load cold-chain configuration of %s: %w", rd.Tenant, err)
		}
		bs := ix.byDevice[rd.Device+"\x00"+baseMetric(rd.Metric)]
		if len(bs) == 0 && rd.Subject != "" && isTemp(rd.Metric) {
			// A shipment that lists no logger takes the temperatures of its subject.
			if sh, ok := ix.shipments[rd.Subject]; ok && len(sh.Loggers) == 0 {
				bs = []binding{{kind: AtShipment, id: rd.Subject, role: roleTemp, sensor: 0}}
			}
		}
		for _, b := range bs {
			src, err := p.source(rd.Tenant, b.kind, b.id, ix)
			if err != nil {
				return nil, err
			}
			switch b.role {
			case roleTemp:
				k := b.sensor
				if k >= len(src.sensors) {
					continue
				}
				if err := p.temperature(ru, ix, src, k, rd); err != nil {
					return nil, err
				}
			case roleDoor:
				p.doorSignal(ru, ix, src, rd)
			case roleLat, roleLon:
				p.position(ru, ix, src, rd, b.role)
			}
			ru.touched[src] = true
		}
	}
	for src := range ru.touched {
		st := src.snapshot()
		doc, err := json.Marshal(st)
		if err != nil {
			return nil, fmt.Errorf("encode state of %s: %w", st.ID, err)
		}
		ru.batch.States = append(ru.batch.States, store.ColdState{Tenant: st.Tenant, Source: st.Kind + "/" + st.ID, JSON: doc})
		sdoc, err := json.Marshal(st.Status)
		if err != nil {
			return nil, fmt.Errorf("encode status of %s: %w", st.ID, err)
		}
		ru.batch.Records = append(ru.batch.Records, store.ColdRecord{Tenant: st.Tenant, Kind: store.ColdStatus, ID: st.ID,
			Parent: st.Kind, Status: st.Status.State, JSON: sdoc})
	}
	for key, b := range ru.budgets {
		tenant, lot, _ := cut(key)
		doc, err := json.Marshal(lotBudget{Product: b.product, State: b.b.State, Runs: b.b.Runs()})
		if err != nil {
			return nil, fmt.Errorf("encode budget of lot %s: %w", lot, err)
		}
		ru.batch.Records = append(ru.batch.Records, store.ColdRecord{Tenant: tenant, Kind: store.ColdLotBudget, ID: lot,
			Parent: b.product, JSON: doc})
	}
	return ru, nil
}

func cut(key string) (a, b string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}

// baseMetric strips the base name an unmapped SenML record keeps ("dev:door-open" →
// "door-open").
func baseMetric(metric string) string {
	if i := strings.LastIndexAny(metric, ":/"); i >= 0 {
		return metric[i+1:]
	}
	return metric
}

func doorRank(metric string) int {
	if slices.Contains(doorMetrics, baseMetric(metric)) {
		return 0
	}
	return 1
}

func isTemp(metric string) bool { return metric == "temp_ambient" || metric == "temp" }

// risk returns the highest product risk among the lots at a source ("" when empty).
func risk(ix *tenantIndex, id string) string {
	rank := func(r string) int {
		switch r {
		case RiskLow:
			return 1
		case RiskMedium:
			return 2
		case RiskHigh:
			return 3
		}
		return 0
	}
	best := ""
	for _, l := range ix.lotsAt[id] {
		if r := ix.products[l.Product].Risk; rank(r) > rank(best) {
			best = r
		}
	}
	return best
}

func priority(risk string, dflt alarm.Priority) alarm.Priority {
	switch risk {
	case RiskHigh:
		return alarm.High
	case RiskMedium:
		return alarm.Medium
	case RiskLow:
		return alarm.Low
	}
	return dflt
}

// condition adds a present or cleared alarm condition unless it changes nothing.
func (ru *run) condition(src *source, c alarm.Condition) {
	key := string(c.Code) + "/" + c.Metric
	onset, present := src.st.Conditions[key]
	switch c.Status {
	case alarm.StatusPresent:
		if present && onset.Equal(c.Onset) {
			return
		}
		src.st.Conditions[key] = c.Onset
	case alarm.StatusCleared:
		if !present {
			return
		}
		delete(src.st.Conditions, key)
		c.Onset = onset
	}
	info, _ := c.Code.Info()
	c.Kind, c.Latching = info.Kind, info.Latching
	if c.Priority == 0 {
		c.Priority = info.Priority
	}
	ru.conds = append(ru.conds, c)
}

func excursionID(tenant, source, sensor string, dir coldchain.Direction, start time.Time) string {
	h := sha256.Sum256([]byte(esign.Netstrings(tenant, source, sensor, dir.String(), strconv.FormatInt(start.UnixNano(), 10))))
	return "exc-" + hex.EncodeToString(h[:10])
}

func excursionDoc(kind, source, sensor string, id string, e coldchain.Excursion) Excursion {
	x := Excursion{ID: id, SourceKind: kind, Source: source, Sensor: sensor, Direction: e.Direction.String(), LimitC: e.Limit,
		Start: e.Start, Ongoing: e.Ongoing, DurationS: e.Duration.Seconds(), PeakC: e.Peak, PeakAt: e.PeakAt,
		TimeOutOfRangeS: e.OutOfRange.Seconds(), DegreeMinutes: e.DegreeMinutes, Coverage: e.Coverage,
		LowerBound: e.LowerBound, DoorOpen: e.DoorOpen}
	if !e.Ongoing {
		end := e.End
		x.End = &end
	}
	if !e.Notified.IsZero() {
		n := e.Notified
		x.NotifiedAt = &n
	}
	return x
}

// temperature processes one reading of sensor k of src.
func (p *processor) temperature(ru *run, ix *tenantIndex, src *source, k int, rd *reading.Reading) error {
	rt := src.sensors[k]
	ss := rt.st
	at := rd.Measured.UTC()
	if !at.After(ss.WM) {
		return nil // redelivered or out of order: already counted (see the package doc)
	}
	ss.WM = at
	s := coldchain.Sample{At: at, Celsius: rd.Value, Invalid: rd.Flags&reading.Implausible != 0 || rd.Kind != reading.Number}
	st := src.st
	tenant, id := st.Tenant, st.ID
	rk := risk(ix, id)
	st.Status.Risk = rk
	st.Status.Lots = len(ix.lotsAt[id])
	code := map[coldchain.Direction]alarm.Code{coldchain.High: alarm.ExcursionHigh, coldchain.Low: alarm.ExcursionLow}
	for _, det := range []*coldchain.Detector{rt.high, rt.low} {
		evs, err := det.Observe(nil, s)
		if err != nil {
			p.s.log.Warn("cold-chain reading refused", "tenant", tenant, "source", id, "sensor", ss.Key, "err", err)
			return nil
		}
		for _, ev := range evs {
			ex := ev.Excursion
			dir := ex.Direction.String()
			switch ev.Kind {
			case coldchain.ExcursionStarted, coldchain.ExcursionNotify, coldchain.ExcursionEnded:
				eid := excursionID(tenant, id, ss.Key, ex.Direction, ex.Start)
				doc := excursionDoc(st.Kind, id, ss.Key, eid, ex)
				if ev.Kind == coldchain.ExcursionEnded {
					delete(ss.Open, dir)
					ru.condition(src, alarm.Condition{Tenant: tenant, Subject: id, Device: rd.Device, Metric: ss.Key,
						Code: code[ex.Direction], Status: alarm.StatusCleared, At: ev.At, Value: rd.Value, Limit: ex.Limit, UCUM: "Cel"})
				} else {
					ss.Open[dir] = doc
				}
				if ev.Kind == coldchain.ExcursionNotify {
					ru.condition(src, alarm.Condition{Tenant: tenant, Subject: id, Device: rd.Device, Metric: ss.Key,
						Code: code[ex.Direction], Priority: priority(rk, alarm.Medium), Status: alarm.StatusPresent,
						At: ev.At, Onset: ex.Start, Value: ex.Peak, Limit: ex.Limit, UCUM: "Cel", Reading: rd.ID})
				}
				if err := ru.putExcursion(tenant, doc); err != nil {
					return err
				}
			case coldchain.DataGap:
				if det == rt.high {
					ru.condition(src, alarm.Condition{Tenant: tenant, Subject: id, Device: rd.Device, Metric: ss.Key,
						Code: alarm.ColdDataGap, Status: alarm.StatusPresent, At: ev.At, Onset: ev.Gap.From, Reading: rd.ID})
					ru.condition(src, alarm.Condition{Tenant: tenant, Subject: id, Device: rd.Device, Metric: ss.Key,
						Code: alarm.ColdDataGap, Status: alarm.StatusCleared, At: ev.At})
				}
			}
		}
	}
	// Open excursions: refresh their provisional metrics.
	st.Status.State, st.Status.Excursion = StateInRange, nil
	for _, det := range []*coldchain.Detector{rt.high, rt.low} {
		if ex, ok := det.Current(); ok {
			eid := excursionID(tenant, id, ss.Key, ex.Direction, ex.Start)
			doc := excursionDoc(st.Kind, id, ss.Key, eid, ex)
			ss.Open[ex.Direction.String()] = doc
			if err := ru.putExcursion(tenant, doc); err != nil {
				return err
			}
			if k == 0 || st.Status.Excursion == nil {
				st.Status.State = StateExcursion
				st.Status.Excursion = &ExcursionBrief{ID: eid, Direction: ex.Direction.String(), Start: ex.Start, PeakC: ex.Peak,
					DegreeMinutes: ex.DegreeMinutes, Notified: !ex.Notified.IsZero()}
			}
		}
	}
	// Budget and hourly MKT from the first sensor.
	if k == 0 {
		xs, err := rt.charger.Observe(nil, s)
		if err != nil {
			return nil
		}
		for _, x := range xs {
			if x.Basis == coldchain.Measured {
				ss.Hours = addExposure(ss.Hours, x.From, x.To, x.Celsius)
			}
			if err := p.charge(ru, ix, src, x); err != nil {
				return err
			}
		}
		if !s.Invalid {
			c := s.Celsius
			st.Status.TemperatureC, st.Status.At = &c, &at
		}
		if m, cov, ok := mkt24(ss.Hours, at); ok {
			st.Status.MKT24hC, st.Status.MKT24hCoverage = &m, cov
		}
	}
	if !s.Invalid {
		last := s
		ss.Last = &last
		ss.Recent = append(ss.Recent, s)
		if len(ss.Recent) > 12 {
			ss.Recent = append(ss.Recent[:0], ss.Recent[len(ss.Recent)-12:]...)
		}
	}
	if k == 0 {
		p.forecast(ru, ix, src, rt, rd)
	}
	return nil
}

func (ru *run) putExcursion(tenant string, e Excursion) error {
	doc, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode excursion %s: %w", e.ID, err)
	}
	status := "closed"
	if e.Ongoing {
		status = "open"
	}
	// The last version of a record in one batch wins: replace an earlier one.
	for i := range ru.batch.Records {
		r := &ru.batch.Records[i]
		if r.Kind == store.ColdExcursion && r.ID == e.ID && r.Tenant == tenant {
			r.JSON, r.Status = doc, status
			return nil
		}
	}
	ru.batch.Records = append(ru.batch.Records, store.ColdRecord{Tenant: tenant, Kind: store.ColdExcursion, ID: e.ID,
		Parent: e.Source, Status: status, Created: e.Start, JSON: doc})
	return nil
}

// charge applies one exposure to every lot in the source's custody since it arrived there.
func (p *processor) charge(ru *run, ix *tenantIndex, src *source, x coldchain.Exposure) error {
	st := src.st
	for _, l := range ix.lotsAt[st.ID] {
		if l.Location.Kind != st.Kind {
			continue
		}
		prod, ok := ix.products[l.Product]
		if !ok {
			continue
		}
		cx := x
		if cx.From.Before(l.Location.Since) {
			cx.From = l.Location.Since
		}
		if !cx.To.After(cx.From) {
			continue
		}
		key := st.Tenant + "/" + l.ID
		b, err := p.budget(ru.ctx, st.Tenant, l.ID, prod)
		if err != nil {
			return err
		}
		evs := b.b.Apply(nil, cx)
		evs = b.b.Check(evs, cx.To)
		for _, e := range b.b.Ledger {
			doc, err := json.Marshal(ledgerDoc(e))
			if err != nil {
				return err
			}
			h := sha256.Sum256([]byte(esign.Netstrings(st.Tenant, l.ID, e.Rule, e.Source, strconv.FormatInt(e.From.UnixNano(), 10))))
			ru.batch.Ledger = append(ru.batch.Ledger, store.LedgerEntry{ID: "led-" + hex.EncodeToString(h[:12]), Tenant: st.Tenant,
				Lot: l.ID, From: e.From, JSON: doc})
		}
		b.b.Ledger = b.b.Ledger[:0]
		ru.budgets[key] = b
		for _, e := range evs {
			p.budgetEvent(ru, src, l, prod, e)
		}
	}
	return nil
}

// LedgerLine is one budget ledger line as stored and reported.
type LedgerLine struct {
	Rule     string    `json:"rule"`
	Band     string    `json:"band"`
	Source   string    `json:"source"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	ChargedS float64   `json:"charged_s"`
	Basis    string    `json:"basis"`
}

func ledgerDoc(e coldchain.Entry) LedgerLine {
	return LedgerLine{Rule: e.Rule, Band: e.Band.String(), Source: e.Source, From: e.From, To: e.To, ChargedS: e.Charged.Seconds(), Basis: e.Basis.String()}
}

func (p *processor) budget(ctx context.Context, tenant, lot string, prod Product) (*budgetRT, error) {
	key := tenant + "/" + lot
	if b, ok := p.budgets[key]; ok {
		return b, nil
	}
	saved, _, err := load[lotBudget](ctx, p.s.cfg.Store, tenant, store.ColdLotBudget, lot)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	b, err := coldchain.RestoreBudget(prod.profile(), saved.State, saved.Runs)
	if err != nil {
		return nil, fmt.Errorf("budget of lot %s: %w", lot, err)
	}
	rt := &budgetRT{b: b, product: prod.ID}
	p.budgets[key] = rt
	return rt, nil
}

func (p *processor) budgetEvent(ru *run, src *source, l Lot, prod Product, e coldchain.BudgetEvent) {
	tenant := src.st.Tenant
	c := alarm.Condition{Tenant: tenant, Subject: l.ID, Device: src.st.ID, Metric: e.Rule, Status: alarm.StatusPresent,
		At: e.At, Onset: e.At, Value: e.Fraction, Priority: priority(prod.Risk, alarm.High)}
	switch e.Kind {
	case coldchain.BudgetWarning:
		c.Code, c.Priority = alarm.BudgetWarning, alarm.Low
		c.Metric = e.Rule + "@" + strconv.FormatFloat(e.Fraction, 'f', -1, 64)
	case coldchain.BudgetExceeded:
		return // follows BudgetExhausted of a "≤ X" rule, which already quarantined the lot
	case coldchain.BudgetExhausted, coldchain.DeadlinePassed, coldchain.PeriodExceeded:
		c.Code = alarm.BudgetExhausted
	case coldchain.Irreversible, coldchain.OutsideAllowance:
		c.Code, c.Value = alarm.OutsideAllowance, e.Celsius
	default:
		return
	}
	ru.condition(src, c)
	if !e.Quarantines() {
		return
	}
	why := QuarantineReason{Kind: e.Kind.String(), Rule: e.Rule, At: e.At.UTC()}
	reason := fmt.Sprintf("%s %s at %s", e.Kind, e.Rule, e.At.UTC().Format(time.RFC3339))
	ru.after = append(ru.after, func() error {
		return p.s.quarantine(ru.ctx, tenant, l.ID, why, reason)
	})
}

// quarantine puts a lot into quarantine for why, once (replays find the reason recorded).
func (s *Service) quarantine(ctx context.Context, tenant, lot string, why QuarantineReason, reason string) error {
	l, _, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, lot)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, q := range l.Quarantine {
		if q.Kind == why.Kind && q.Rule == why.Rule && q.At.Equal(why.At) {
			return nil
		}
	}
	status := LotQuarantined
	if l.Status == LotRejected {
		status = LotRejected
	}
	return s.setLotStatus(ctx, SystemActor, tenant, lot, status, "automatic quarantine: "+reason, []QuarantineReason{why})
}

// doorSignal processes a door contact reading.
func (p *processor) doorSignal(ru *run, ix *tenantIndex, src *source, rd *reading.Reading) {
	st := src.st
	at := rd.Measured.UTC()
	if !at.After(st.DoorWM) {
		return
	}
	st.DoorWM = at
	open := rd.Value != 0 || rd.Text == "true"
	for _, ev := range src.door.Observe(nil, at, open) {
		switch ev.Kind {
		case coldchain.DoorOpened:
			for _, rt := range src.sensors {
				rt.high.Door(at, true)
				rt.low.Door(at, true)
			}
		case coldchain.DoorClosed:
			for _, rt := range src.sensors {
				rt.high.Door(at, false)
				rt.low.Door(at, false)
			}
			ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: "door",
				Code: alarm.DoorOpen, Status: alarm.StatusCleared, At: at})
		case coldchain.DoorLeftOpen:
			ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: "door",
				Code: alarm.DoorOpen, Priority: priority(risk(ix, st.ID), alarm.Medium), Status: alarm.StatusPresent,
				At: ev.At, Onset: ev.At.Add(-ev.Open), Reading: rd.ID})
		}
	}
	ds := src.door.State()
	st.Status.DoorOpen = ds.Open
	st.Status.DoorOpenSince = nil
	if ds.Open {
		since := ds.Since
		st.Status.DoorOpenSince = &since
	}
}

// forecast predicts the time to excursion of a warming (or cooling) unit (spec 6).
func (p *processor) forecast(ru *run, ix *tenantIndex, src *source, rt *sensorRT, rd *reading.Reading) {
	st := src.st
	ss := rt.st
	clear := func() {
		st.Status.Forecast = nil
		ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: ss.Key,
			Code: alarm.ExcursionPredicted, Status: alarm.StatusCleared, At: rd.Measured})
	}
	if st.Status.State == StateExcursion || len(ss.Recent) < 2 {
		clear()
		return
	}
	// The trend window: the last readings within 30 min (at most the 12 kept), at least 4.
	rec := ss.Recent
	last := rec[len(rec)-1].At
	i := len(rec) - 1
	for i > 0 && last.Sub(rec[i-1].At) <= 30*time.Minute {
		i--
	}
	win := rec[i:]
	dir, trigger := 0, false
	if len(win) >= 4 {
		// Spec 6.2: three consecutive rises (or falls), a slope of at least 0.02 °C/min; and the
		// readings must follow a line (R² ≥ 0.9), so that sensor noise does not count as a trend.
		n := len(win)
		d1 := cmp.Compare(win[n-1].Celsius, win[n-2].Celsius)
		d2 := cmp.Compare(win[n-2].Celsius, win[n-3].Celsius)
		d3 := cmp.Compare(win[n-3].Celsius, win[n-4].Celsius)
		slope, r2 := lineFit(win)
		if d1 != 0 && d1 == d2 && d2 == d3 && math.Abs(slope) >= 0.02 && cmp.Compare(slope, 0) == d1 && r2 >= 0.9 {
			dir, trigger = d1, true
		}
	}
	if st.Status.DoorOpen && st.Status.DoorOpenSince != nil {
		var since []coldchain.Sample
		for _, s := range rec {
			if !s.At.Before(*st.Status.DoorOpenSince) {
				since = append(since, s)
			}
		}
		if len(since) >= 2 && !trigger {
			win, trigger = since, true
			dir = cmp.Compare(since[len(since)-1].Celsius, since[0].Celsius)
		}
	}
	if !trigger || dir == 0 {
		ss.TrendStart = time.Time{}
		clear()
		return
	}
	if ss.TrendStart.IsZero() {
		ss.TrendStart = win[0].At
	}
	runPts := win
	limit := src.limits.HighC
	if dir < 0 {
		limit = src.limits.LowC
	}
	ambient := math.NaN()
	if st.Kind == AtUnit {
		if site, ok := ix.sites[ix.units[st.ID].Site]; ok && site.AmbientC != 0 {
			ambient = site.AmbientC
		}
	}
	pr, err := coldchain.ForecastCrossing(runPts, limit, ambient)
	if err != nil || !pr.Reached || !pr.At.After(rd.Measured) {
		clear()
		return
	}
	rem := pr.At.Sub(rd.Measured)
	st.Status.Forecast = &Forecast{MinutesToExcursion: rem.Minutes(), LimitC: limit, At: pr.At.UTC(), Method: pr.Method.String(),
		R2: pr.R2, Fallback: pr.Fallback}
	if rem <= p.s.cfg.ForecastAlarmWithin {
		ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: ss.Key,
			Code: alarm.ExcursionPredicted, Priority: priority(risk(ix, st.ID), alarm.Medium), Status: alarm.StatusPresent,
			At: rd.Measured, Onset: ss.TrendStart, Value: rem.Minutes(), Limit: limit, Reading: rd.ID})
	} else {
		ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: ss.Key,
			Code: alarm.ExcursionPredicted, Status: alarm.StatusCleared, At: rd.Measured})
	}
}

// position pairs latitude and longitude readings into fixes and runs the shipment's geofences.
func (p *processor) position(ru *run, ix *tenantIndex, src *source, rd *reading.Reading, role int) {
	st := src.st
	at := rd.Measured.UTC()
	if !at.After(st.GeoWM) {
		return
	}
	if st.Pending == nil || !st.Pending.At.Equal(at) {
		st.Pending = &pendingFix{At: at}
	}
	if role == roleLat {
		st.Pending.Lat, st.Pending.HasLat = rd.Value, true
	} else {
		st.Pending.Lon, st.Pending.HasLon = rd.Value, true
	}
	if !st.Pending.HasLat || !st.Pending.HasLon {
		return
	}
	f := *st.Pending
	st.Pending, st.GeoWM = nil, at
	st.Status.Position = &Fix{At: at, Lat: f.Lat, Lon: f.Lon}
	sh := ix.shipments[st.ID]
	for _, code := range []alarm.Code{alarm.GeofenceArrival, alarm.GeofenceDeparture} {
		ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: "gps", Code: code,
			Status: alarm.StatusCleared, At: at})
	}
	ids := make([]string, 0, len(src.geo))
	for id := range src.geo {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, siteID := range ids {
		ev, ok := src.geo[siteID].Observe(coldchain.Fix{At: at, Lat: f.Lat, Lon: f.Lon})
		if !ok {
			continue
		}
		code, act := alarm.GeofenceDeparture, coldchain.Dispatch
		if ev.Arrived {
			code, act = alarm.GeofenceArrival, coldchain.Receive
		}
		ru.condition(src, alarm.Condition{Tenant: st.Tenant, Subject: st.ID, Device: rd.Device, Metric: "gps", Code: code,
			Priority: alarm.Low, Status: alarm.StatusPresent, At: at, Onset: ev.At, Reading: rd.ID})
		want := (act == coldchain.Dispatch && siteID == sh.Lane.Origin && sh.State == coldchain.Packed) ||
			(act == coldchain.Receive && siteID == sh.Lane.Destination && sh.State == coldchain.InTransit)
		if !want {
			continue
		}
		tenant, id := st.Tenant, st.ID
		verb := map[bool]string{true: "arrival at", false: "departure from"}[ev.Arrived]
		reason := fmt.Sprintf("geofence %s %s at %s", verb, siteID, ev.At.UTC().Format(time.RFC3339))
		ru.after = append(ru.after, func() error {
			err := p.s.transition(ru.ctx, SystemActor, tenant, id, act, reason)
			if e, ok := AsError(err); ok && e.Code == "transition" {
				return nil // already moved on (a replay, or a user was quicker)
			}
			return err
		})
	}
}

// lineFit returns the least-squares slope (°C/min) of a series and the R² of the line.
func lineFit(xs []coldchain.Sample) (slope, r2 float64) {
	n := float64(len(xs))
	var mx, my float64
	for _, s := range xs {
		mx += s.At.Sub(xs[0].At).Minutes()
		my += s.Celsius
	}
	mx, my = mx/n, my/n
	var sxx, sxy, syy float64
	for _, s := range xs {
		dx, dy := s.At.Sub(xs[0].At).Minutes()-mx, s.Celsius-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0, 0
	}
	return sxy / sxx, sxy * sxy / (sxx * syy)
}
