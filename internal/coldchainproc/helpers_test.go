package coldchainproc

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// alarmSink records applied conditions.
type alarmSink struct {
	mu    sync.Mutex
	conds []alarm.Condition
}

func (a *alarmSink) Apply(_ context.Context, cs []alarm.Condition) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conds = append(a.conds, cs...)
	return nil
}

func (a *alarmSink) of(code alarm.Code) []alarm.Condition {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []alarm.Condition
	for _, c := range a.conds {
		if c.Code == code {
			out = append(out, c)
		}
	}
	return out
}

type env struct {
	t      testing.TB
	st     *sqlite.Store
	trail  *audit.Trail
	clock  *clock
	alarms *alarmSink
	kr     *esign.Keyring
	svc    *Service
	admin  Actor
}

const tenant = "acme"

var t0 = time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvAt(t, ":memory:")
}

// newEnvAt is newEnv on the SQLite database at path (a file: commits are synced to disk).
func newEnvAt(t testing.TB, path string) *env {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, store.Tenant{ID: tenant, Name: "Acme", Created: t0}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, clock: &clock{t: t0}, alarms: &alarmSink{}, admin: Actor{UserID: "u-admin", Tenant: tenant}}
	st.Now = e.clock.Now
	e.trail = audit.New(st, e.clock.Now, slog.New(slog.DiscardHandler))
	e.kr, err = esign.NewKeyring(esign.Key{ID: "k1", Secret: []byte("vigil-test-key-vigil-test-key-32b")})
	if err != nil {
		t.Fatal(err)
	}
	e.svc = e.open()
	return e
}

// open builds a Service on the env's store (a restart when called again).
func (e *env) open() *Service {
	e.t.Helper()
	s, err := New(e.t.Context(), Config{Store: e.st, Audit: e.trail, Keyring: e.kr, Alarms: e.alarms, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// fridge creates site s1 (ambient 25 °C) and unit u with a 2–8 °C limit set.
func (e *env) unit(id string, l Limits) {
	e.t.Helper()
	ctx := e.t.Context()
	if _, err := e.svc.Site(ctx, tenant, "s1"); err != nil {
		_, err := e.svc.CreateSite(ctx, e.admin, tenant, Site{ID: "s1", Name: "Site 1", Timezone: "Europe/Berlin", AmbientC: 25})
		e.must(err)
	}
	_, err := e.svc.CreateUnit(ctx, e.admin, tenant, Unit{ID: id, Site: "s1", Name: id, Kind: KindFridge, Limits: l,
		Sensors: []Sensor{{Device: id + "-logger"}}, DoorDevice: id + "-logger"})
	e.must(err)
}

func (e *env) gardasil() {
	e.t.Helper()
	const h = 3600
	_, err := e.svc.CreateProduct(e.t.Context(), e.admin, tenant, Product{ID: "GARD9", Name: "Gardasil-9-like",
		Limits: ProductLimits{LowC: 2, HighC: 8}, Risk: RiskHigh, BudgetRules: []BudgetRule{
			{ID: "A", Kind: "cumulative-in-band", Band: Band{LoC: 8, HiC: 25, LoOpen: true}, LimitS: 72 * h},
			{ID: "B", Kind: "cumulative-in-band", Band: Band{LoC: 0, HiC: 2, HiOpen: true}, LimitS: 72 * h}}})
	e.must(err)
}

func (e *env) lot(id, kind, where string) {
	e.t.Helper()
	c := LotCreate{ID: id, Number: "LOT-" + id, Product: "GARD9", Quantity: 100, UOM: "doses"}
	c.Location.Kind, c.Location.ID = kind, where
	_, err := e.svc.CreateLot(e.t.Context(), e.admin, tenant, c)
	e.must(err)
}

func temp(device string, at time.Time, c float64) reading.Reading {
	r := reading.Reading{Tenant: tenant, Device: device, Subject: strings.TrimSuffix(device, "-logger"), Metric: "temp_ambient", Kind: reading.Number, Value: c,
		Unit: "Cel", Measured: at, Received: at}
	r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
	return r
}

func door(device string, at time.Time, open bool) reading.Reading {
	v := 0.0
	if open {
		v = 1
	}
	r := reading.Reading{Tenant: tenant, Device: device, Metric: device + ":door-open", Kind: reading.Bool, Flags: reading.Unmapped, Value: v, Measured: at, Received: at}
	r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
	return r
}

func gps(device, subject string, at time.Time, lat, lon float64) []reading.Reading {
	a := reading.Reading{Tenant: tenant, Device: device, Subject: subject, Metric: "lat", Kind: reading.Number, Value: lat, Measured: at, Received: at}
	b := reading.Reading{Tenant: tenant, Device: device, Subject: subject, Metric: "lon", Kind: reading.Number, Value: lon, Measured: at, Received: at}
	a.ID, b.ID = reading.NewID(tenant, device, "lat", at), reading.NewID(tenant, device, "lon", at)
	return []reading.Reading{a, b}
}

// feed hands each message to the processor (one log message each) and stores its readings.
func (e *env) feed(msgs ...[]reading.Reading) {
	e.t.Helper()
	for _, m := range msgs {
		if _, err := e.st.InsertReadings(e.t.Context(), m); err != nil {
			e.t.Fatal(err)
		}
		if err := e.svc.proc.consume(e.t.Context(), 0, m); err != nil {
			e.t.Fatal(err)
		}
	}
}

func one(r reading.Reading) []reading.Reading { return []reading.Reading{r} }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func (e *env) excursions(source string) []Excursion {
	e.t.Helper()
	exs, err := e.svc.excursions(e.t.Context(), tenant, source, 0)
	e.must(err)
	// oldest first
	for i, j := 0, len(exs)-1; i < j; i, j = i+1, j-1 {
		exs[i], exs[j] = exs[j], exs[i]
	}
	return exs
}

func (e *env) consumed(lot, rule string) time.Duration {
	e.t.Helper()
	st, err := e.svc.budgetOf(e.t.Context(), tenant, lot)
	e.must(err)
	return st.Consumed[rule]
}

// qaUser creates a QA user with password pw and a session token created at the clock's now.
func (e *env) qaUser(name, pw string) Actor {
	e.t.Helper()
	h, err := auth.HashPasswordParams(pw, auth.Params{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16})
	e.must(err)
	id := "u-" + name
	e.must(e.st.CreateUser(e.t.Context(), store.User{ID: id, Tenant: tenant, Username: name, Role: store.QA, PasswordHash: h, Created: t0}))
	tok := "hash-" + name
	e.must(e.st.CreateToken(e.t.Context(), store.Token{Hash: tok, Kind: store.SessionToken, UserID: id, Tenant: tenant,
		Created: e.clock.Now(), Expires: e.clock.Now().Add(12 * time.Hour)}))
	return Actor{UserID: id, Username: name, Tenant: tenant, TokenHash: tok}
}
