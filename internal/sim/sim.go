// Package sim simulates Vigil's demo fleet: a ward of bedside monitors, home patients with
// wearables and blood-pressure cuffs, cold-chain storage units and refrigerated trucks. Each
// device produces plausible SenML JSON packs — sensor noise, circadian drift, and a few
// scripted events (a patient slowly deteriorating, a fridge door left open, a power cut, a
// truck whose cooling fails) — and sends them with its own credentials through a Sender
// (HTTP ingest or MQTT).
//
// Output is reproducible: a device's values depend only on the seed, the device and the
// measured time, never on scheduling, so two fleets with the same seed and start produce the
// same packs. A Fleet is not safe for concurrent use; Run owns it while it runs.
package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Device is one simulated device.
type Device struct {
	ID       string
	Model    string
	Kind     string // device kind as provisioned: "monitor", "wearable", "bp_monitor", "environment"
	Subject  string // patient or asset the device is bound to
	Secret   string // set by the caller after provisioning
	Interval time.Duration

	model  model
	offset time.Duration // phase of the first send within Interval
}

// model produces a device's records at a time.
type model interface {
	records(f *Fleet, d *Device, at time.Time) []record
}

type record struct {
	name   string
	unit   string
	v      float64
	digits int
	vb     *bool
}

// Scenario times, relative to the fleet's start.
const (
	DeteriorationStart = 10 * time.Minute // bed 07's patient starts to deteriorate
	DeteriorationRamp  = 2 * time.Hour    // … and is at the worst after this long
	DoorOpenAt         = 15 * time.Minute // pharmacy fridge door left open
	DoorOpenFor        = 20 * time.Minute
	PowerCutAt         = 40 * time.Minute // ward fridge 2 loses power
	PowerCutFor        = 45 * time.Minute
	CoolingFailsAt     = 25 * time.Minute // truck 2's refrigeration unit fails
)

// Fleet is the simulated fleet.
type Fleet struct {
	Devices []*Device
	Start   time.Time
	seed    uint64
}

// Config sets the fleet's size and pace.
type Config struct {
	Seed          int64
	Start         time.Time     // scenario clock origin
	Beds          int           // ward monitors (default 12)
	HomePatients  int           // each with a wearable and a BP cuff (default 8)
	MonitorPeriod time.Duration // bedside monitor send interval (default 5 s)
}

// NewFleet returns the fleet: a ward of Beds monitors, HomePatients home patients with a
// wearable and a BP cuff each, six storage units (two 2–8 °C fridges, a −20 °C freezer, a
// −80 °C ULT freezer, a 15–25 °C warehouse zone, a pharmacy fridge) and two refrigerated trucks.
func NewFleet(c Config) *Fleet {
	if c.Beds == 0 {
		c.Beds = 12
	}
	if c.HomePatients == 0 {
		c.HomePatients = 8
	}
	if c.MonitorPeriod == 0 {
		c.MonitorPeriod = 5 * time.Second
	}
	f := &Fleet{Start: c.Start, seed: uint64(c.Seed)}
	for i := 1; i <= c.Beds; i++ {
		f.add(&Device{ID: fmt.Sprintf("ward-a-bed-%02d", i), Model: "SimMonitor MP4", Kind: "monitor",
			Subject: fmt.Sprintf("patient-a%02d", i), Interval: c.MonitorPeriod,
			model: &monitor{deteriorates: i == 7, nibpEvery: 15 * time.Minute}})
	}
	for i := 1; i <= c.HomePatients; i++ {
		p := fmt.Sprintf("patient-h%02d", i)
		drain := WearableDrain
		if i == 3 {
			drain = WearableDrainFast // a band nobody charged: BATTERY_LOW after about 50 min
		}
		f.add(&Device{ID: fmt.Sprintf("home-%02d-band", i), Model: "SimBand 2", Kind: "wearable", Subject: p,
			Interval: time.Minute, model: &wearable{drainPerHour: drain}})
		f.add(&Device{ID: fmt.Sprintf("home-%02d-cuff", i), Model: "SimCuff BP", Kind: "bp_monitor", Subject: p,
			Interval: 30 * time.Minute, model: &cuff{}})
	}
	for _, u := range []struct {
		id, subject string
		set, sd     float64
		event       storageEvent
	}{
		{"fridge-pharmacy", "unit-pharmacy-fridge", 5, 0.15, doorLeftOpen},
		{"fridge-ward-2", "unit-ward-2-fridge", 5, 0.15, powerCut},
		{"fridge-vaccines", "unit-vaccine-fridge", 4.5, 0.12, noEvent},
		{"freezer-20", "unit-freezer-20", -20, 0.4, noEvent},
		{"ult-80", "unit-ult-80", -80, 0.6, noEvent},
		{"warehouse-z1", "zone-warehouse-1", 20, 0.3, noEvent},
	} {
		f.add(&Device{ID: u.id + "-logger", Model: "SimLogger T/H", Kind: "environment", Subject: u.subject,
			Interval: time.Minute, model: &storage{set: u.set, sd: u.sd, event: u.event}})
	}
	for i := 1; i <= 2; i++ {
		f.add(&Device{ID: fmt.Sprintf("truck-%d-logger", i), Model: "SimTrack GPS/T", Kind: "environment",
			Subject: fmt.Sprintf("shipment-%d", i), Interval: time.Minute,
			model: &truck{coolingFails: i == 2, routeOffset: float64(i-1) * 0.35}})
	}
	return f
}

func (f *Fleet) add(d *Device) {
	r := f.rng(d, 0, "offset")
	d.offset = time.Duration(r.Int64N(int64(d.Interval)))
	f.Devices = append(f.Devices, d)
}

// rng returns a generator that depends only on the seed, the device, a time step and a name.
func (f *Fleet) rng(d *Device, step int64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(d.ID))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(f.seed^h.Sum64(), uint64(step)))
}

// noise is a smooth, reproducible random signal of unit variance: a sum of sinusoids with
// seeded periods (minutes to hours) and phases, so consecutive readings are correlated the
// way a physiological signal is, without any state.
func (f *Fleet) noise(d *Device, name string, at time.Time) float64 {
	r := f.rng(d, 0, "noise:"+name)
	t := at.Sub(f.Start).Seconds()
	var sum float64
	for range 4 {
		period := 120 + r.Float64()*3600
		sum += math.Sin(2*math.Pi*t/period + r.Float64()*2*math.Pi)
	}
	return sum / math.Sqrt(2) // four unit sinusoids have variance 2
}

// jitter is independent measurement noise of unit variance for one reading.
func (f *Fleet) jitter(d *Device, name string, at time.Time) float64 {
	return f.rng(d, at.UnixMilli(), "jitter:"+name).NormFloat64()
}

// circadian is a 24 h cycle between −1 (04:00 UTC) and +1 (16:00 UTC).
func circadian(at time.Time) float64 {
	h := float64(at.Unix()%86400) / 3600
	return math.Sin(2 * math.Pi * (h - 10) / 24)
}

// ramp is 0 before start, rising linearly to 1 over d.
func ramp(f *Fleet, at time.Time, start, d time.Duration) float64 {
	x := at.Sub(f.Start.Add(start)).Seconds() / d.Seconds()
	return math.Max(0, math.Min(1, x))
}

// HeartbeatEvery is how often a bedside monitor sends a heartbeat.
const HeartbeatEvery = 30 * time.Second

type monitor struct {
	deteriorates bool
	nibpEvery    time.Duration
}

func (m *monitor) records(f *Fleet, d *Device, at time.Time) []record {
	w := 0.0
	if m.deteriorates {
		w = ramp(f, at, DeteriorationStart, DeteriorationRamp)
	}
	c := circadian(at)
	hr := 74 + 5*c + 4*f.noise(d, "hr", at) + 1.5*f.jitter(d, "hr", at) + 50*w
	spo2 := 97.2 + 0.6*f.noise(d, "spo2", at) + 0.4*f.jitter(d, "spo2", at) - 8*w
	rr := 15 + 1.2*f.noise(d, "rr", at) + 0.8*f.jitter(d, "rr", at) + 12*w
	temp := 36.9 + 0.25*c + 0.1*f.noise(d, "temp", at) + 0.03*f.jitter(d, "temp", at) + 1.9*w
	recs := []record{
		{name: "hr", unit: "beat/min", v: clamp(hr, 30, 220)},
		{name: "spo2", unit: "/", v: clamp(spo2, 70, 100) / 100, digits: 3},
		{name: "rr", unit: "1/min", v: clamp(rr, 4, 60)},
		{name: "temp", unit: "Cel", v: clamp(temp, 34, 42), digits: 1},
	}
	// A live heartbeat (the pack's time is the monitor's clock) every 30 s: CLOCK_SKEW.
	if at.Sub(at.Truncate(HeartbeatEvery)) < d.Interval {
		alive := true
		recs = append(recs, record{name: "heartbeat", vb: &alive})
	}
	// NIBP on its own schedule, in the first send after each multiple of nibpEvery.
	if at.Sub(at.Truncate(m.nibpEvery)) < d.Interval {
		sys := 124 + 6*c + 5*f.noise(d, "sys", at) + 3*f.jitter(d, "sys", at) - 34*w
		dia := 78 + 3*c + 3*f.noise(d, "dia", at) + 2*f.jitter(d, "dia", at) - 18*w
		recs = append(recs,
			record{name: "sys", unit: "Pa", v: math.Round(sys) * mmHgPa, digits: 1},
			record{name: "dia", unit: "Pa", v: math.Round(dia) * mmHgPa, digits: 1},
			record{name: "map", unit: "Pa", v: math.Round((sys+2*dia)/3) * mmHgPa, digits: 1})
	}
	return recs
}

// mmHgPa is one millimetre of mercury in pascal (codes.md §4.1).
const mmHgPa = 133.322387415

// Battery drain of the home wearables, percent per hour from a full charge at the start.
const (
	WearableDrain     = 1.5
	WearableDrainFast = 95.0
)

type wearable struct{ drainPerHour float64 }

func (w wearable) records(f *Fleet, d *Device, at time.Time) []record {
	c := circadian(at)
	battery := clamp(100-w.drainPerHour*at.Sub(f.Start).Hours(), 3, 100)
	return []record{
		{name: "hr", unit: "beat/min", v: clamp(70+8*c+6*f.noise(d, "hr", at)+2*f.jitter(d, "hr", at), 40, 180)},
		{name: "spo2", unit: "/", v: clamp(96.5+0.8*f.noise(d, "spo2", at)+0.5*f.jitter(d, "spo2", at), 80, 100) / 100, digits: 3},
		{name: "battery", unit: "%EL", v: math.Floor(battery)},
	}
}

type cuff struct{}

func (cuff) records(f *Fleet, d *Device, at time.Time) []record {
	sys := 132 + 8*circadian(at) + 6*f.noise(d, "sys", at) + 4*f.jitter(d, "sys", at)
	dia := 84 + 4*circadian(at) + 3*f.noise(d, "dia", at) + 3*f.jitter(d, "dia", at)
	pulse := 72 + 5*f.noise(d, "pr", at) + 2*f.jitter(d, "pr", at)
	return []record{
		{name: "sys", unit: "Pa", v: math.Round(sys) * mmHgPa, digits: 1},
		{name: "dia", unit: "Pa", v: math.Round(dia) * mmHgPa, digits: 1},
		{name: "pr", unit: "beat/min", v: math.Round(pulse)},
	}
}

type storageEvent int

const (
	noEvent storageEvent = iota
	doorLeftOpen
	powerCut
)

type storage struct {
	set, sd float64
	event   storageEvent
}

// approach is the first-order response of a unit's temperature to a change of its surroundings
// at start (toward target with time constant tau), and its recovery after end (back toward the
// set point with time constant recover).
func approach(f *Fleet, at time.Time, set, target float64, start, dur, tau, recover time.Duration) float64 {
	t0 := f.Start.Add(start)
	if at.Before(t0) {
		return set
	}
	peakAt := t0.Add(dur)
	if at.Before(peakAt) {
		x := at.Sub(t0).Seconds() / tau.Seconds()
		return target + (set-target)*math.Exp(-x)
	}
	peak := target + (set-target)*math.Exp(-dur.Seconds()/tau.Seconds())
	x := at.Sub(peakAt).Seconds() / recover.Seconds()
	return set + (peak-set)*math.Exp(-x)
}

func (s *storage) records(f *Fleet, d *Device, at time.Time) []record {
	temp := s.set + s.sd*(f.noise(d, "temp", at)+0.5*f.jitter(d, "temp", at))
	door := false
	switch s.event {
	case doorLeftOpen:
		temp += approach(f, at, 0, 22-s.set, DoorOpenAt, DoorOpenFor, 12*time.Minute, 8*time.Minute)
		door = !at.Before(f.Start.Add(DoorOpenAt)) && at.Before(f.Start.Add(DoorOpenAt+DoorOpenFor))
	case powerCut:
		temp += approach(f, at, 0, 22-s.set, PowerCutAt, PowerCutFor, 90*time.Minute, 15*time.Minute)
	}
	recs := []record{{name: "temp", unit: "Cel", v: temp, digits: 2}}
	if s.set > -30 { // humidity sensors do not survive ULT temperatures
		recs = append(recs, record{name: "rh", unit: "%RH", v: clamp(45+4*f.noise(d, "rh", at), 5, 95)})
	}
	recs = append(recs, record{name: "door-open", vb: &door})
	return recs
}

type truck struct {
	coolingFails bool
	routeOffset  float64 // fraction of the route at the start
}

// route is a road between two depots, as (lat, lon) points.
var route = [][2]float64{
	{52.3676, 4.9041}, {52.2215, 5.1751}, {52.0907, 5.1214}, {51.9244, 4.4777}, {51.8126, 4.6901}, {51.5719, 4.7683},
}

func (t *truck) records(f *Fleet, d *Device, at time.Time) []record {
	temp := 5 + 0.3*f.noise(d, "temp", at) + 0.1*f.jitter(d, "temp", at)
	if t.coolingFails {
		temp += approach(f, at, 0, 25-5, CoolingFailsAt, 1000*time.Hour, 60*time.Minute, time.Hour)
	}
	// Drive there and back at 60 km/h; the route is about 180 km.
	frac := math.Mod(t.routeOffset+at.Sub(f.Start).Hours()*60/180, 2)
	if frac > 1 {
		frac = 2 - frac
	}
	lat, lon := along(frac)
	return []record{
		{name: "temp", unit: "Cel", v: temp, digits: 2},
		{name: "lat", unit: "lat", v: lat, digits: 5},
		{name: "lon", unit: "lon", v: lon, digits: 5},
	}
}

// along returns the point at fraction x (0..1) of the route, by segment count.
func along(x float64) (lat, lon float64) {
	seg := x * float64(len(route)-1)
	i := min(int(seg), len(route)-2)
	u := seg - float64(i)
	a, b := route[i], route[i+1]
	return a[0] + (b[0]-a[0])*u, a[1] + (b[1]-a[1])*u
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// Pack returns d's SenML JSON pack measured at at.
func (f *Fleet) Pack(d *Device, at time.Time) []byte {
	recs := d.model.records(f, d, at)
	b := make([]byte, 0, 64+48*len(recs))
	b = append(b, `[{"bn":"`...)
	b = append(b, d.ID...)
	b = append(b, `:","bt":`...)
	b = strconv.AppendFloat(b, float64(at.UnixMilli())/1000, 'f', 3, 64)
	for i, r := range recs {
		if i == 0 {
			b = append(b, ',')
		} else {
			b = append(b, `},{`...)
		}
		b = append(b, `"n":"`...)
		b = append(b, r.name...)
		b = append(b, '"')
		if r.vb != nil {
			b = append(b, `,"vb":`...)
			b = strconv.AppendBool(b, *r.vb)
			continue
		}
		b = append(b, `,"u":"`...)
		b = append(b, r.unit...)
		b = append(b, `","v":`...)
		b = strconv.AppendFloat(b, r.v, 'f', r.digits, 64)
	}
	return append(b, `}]`...)
}

// Sender delivers one device's pack, authenticated as that device.
type Sender interface {
	Send(ctx context.Context, d *Device, pack []byte) error
}

// Run sends every device's packs on its own schedule until ctx is done. A failed send is
// logged and the device goes on with its next reading (as a real device with no buffer would).
func (f *Fleet) Run(ctx context.Context, s Sender, log *slog.Logger) error {
	next := make([]time.Time, len(f.Devices))
	now := time.Now()
	for i, d := range f.Devices {
		next[i] = now.Truncate(d.Interval).Add(d.offset)
		if next[i].Before(now) {
			next[i] = next[i].Add(d.Interval)
		}
	}
	failures := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		first := 0
		for i := range next {
			if next[i].Before(next[first]) {
				first = i
			}
		}
		timer.Reset(time.Until(next[first]))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		d := f.Devices[first]
		at := next[first]
		next[first] = at.Add(d.Interval)
		if err := s.Send(ctx, d, f.Pack(d, at)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failures++
			if failures <= 10 || failures%100 == 0 {
				log.Warn("simulated device send failed", "device", d.ID, "failures", failures, "err", err)
			}
		}
	}
}
