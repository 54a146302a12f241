package alarm

import (
	"slices"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Technical-alarm thresholds (spec §8, Vigil decisions).
const (
	NoDataFloor         = 60 * time.Second // NO_DATA never fires before this much silence
	NoDataMargin        = 30 * time.Second // added to 3 × the expected interval
	SensorOffDelay      = 10 * time.Second
	PoorSignalDelay     = 60 * time.Second // SIGNAL_QUALITY_LOW after this long flagged poor
	PoorSignalMedium    = 5 * time.Minute  // … and MEDIUM after this long
	PoorSignalClear     = 30 * time.Second // cleared by this long of good signal
	BatteryLowAt        = 20.0             // ≤ this: BATTERY_LOW
	BatteryLowClear     = 25.0             // ≥ this: cleared
	BatteryCriticalAt   = 10.0             // ≤ this: BATTERY_CRITICAL
	BatteryCritClear    = 15.0             // ≥ this: back to BATTERY_LOW (the open alarm keeps its priority)
	SkewLimitHospital   = 2 * time.Second
	SkewLimitHome       = 60 * time.Second
	SkewConsecutive     = 3
	DefaultDataInterval = time.Second      // expected interval before one is learned or configured
	DeviceOfflineDelay  = 30 * time.Second // DEVICE_OFFLINE once a session has been lost for more than this
)

// NoDataThreshold is spec §8's silence after which a continuous source raises NO_DATA:
// max(3 × expected interval + 30 s, 60 s).
func NoDataThreshold(expected time.Duration) time.Duration {
	return max(3*expected+NoDataMargin, NoDataFloor)
}

// DeviceStatus is a device-reported status flag sample (sensor or lead off, poor signal),
// handed over by the fleet processor.
type DeviceStatus struct {
	Tenant, Device, Subject, Unit string
	SensorOff                     bool
	At                            time.Time
}

// Heartbeat is a live heartbeat carrying the device's current clock (store-and-forward
// uploads must not be passed: spec §8).
type Heartbeat struct {
	Tenant, Device, Subject, Unit string
	DeviceTime, Received          time.Time
	Latency                       time.Duration // median transport latency
	Home                          bool          // home device: 60 s skew limit instead of 2 s
}

// Connectivity is a change of a device's transport session, from the "connected" readings the
// MQTT broker appends (reading.Connectivity).
type Connectivity struct {
	Tenant, Device, Subject, Unit string
	Connected                     bool
	// Lost: the session ended other than by the device's own clean disconnect
	// (reading.ConnLost). A clean disconnect (reading.ConnClosed) starts no DEVICE_OFFLINE.
	Lost bool
	At   time.Time // server time of the change
	Home bool      // home device: DEVICE_OFFLINE is LOW instead of MEDIUM
}

// link is a device's transport session as DEVICE_OFFLINE sees it.
type link struct {
	tenant, device, subject, unit string
	home                          bool
	lostAt                        time.Time // session lost at; zero while connected or closed cleanly
	grace                         time.Time // Rebase: the offline timer counts from here, if later
	open                          bool      // DEVICE_OFFLINE present
}

type signal struct {
	tenant, device, subject, unit, metric string
	last                                  time.Time     // measured/received time of the last valid reading
	expected                              time.Duration // configured, or learned (smallest gap seen)
	configured                            bool
	eventDriven                           bool // sent on change only: never NO_DATA (IntervalSource)
	open                                  bool
	grace                                 time.Time // Rebase: the silence counts from here, if later than last
}

// from is when the signal's silence started counting: its last reading, or a later Rebase.
func (s *signal) from() time.Time {
	if s.grace.After(s.last) {
		return s.grace
	}
	return s.last
}

// IntervalSource says, from configuration, how often a device sends a metric: a cold-chain
// unit's logging interval, say. It returns 0 when configuration does not know (the interval is
// then learned) and a negative duration for a signal sent only on change, such as a door
// contact, which never raises NO_DATA. It is called from the evaluator's owner goroutine and
// must be safe for that.
type IntervalSource interface {
	ExpectedInterval(tenant, device, metric string) time.Duration
}

type devState struct {
	battOpen, battCrit   bool
	offSince             time.Time
	offOpen              bool
	skewRun, okRun       int
	skewOpen             bool
	poorSince, goodSince time.Time
	poorOpen, poorMedium bool
}

// TechEvaluator evaluates technical alarm conditions from readings and device status: NO_DATA
// per signal (device × metric) by the age of its last valid reading, BATTERY_LOW/CRITICAL,
// CLOCK_SKEW, SENSOR_OFF, SIGNAL_QUALITY_LOW and DEVICE_OFFLINE (from connectivity changes).
// Times are passed in (Check's now); it reads no clock, does no I/O and is not safe for
// concurrent use (one owner, e.g. the fleet processor partition).
//
// Expected interval: set by Expect (from the device profile); otherwise learned as the
// smallest gap between consecutive readings of the signal, starting at DefaultDataInterval
// from the very first reading, so a device added a minute ago is covered at once.
type TechEvaluator struct {
	signals map[string]*signal
	devices map[string]*devState
	links   map[string]*link // tenant/device → session state, once a connectivity change was seen
	lost    map[string]*link // the links whose DEVICE_OFFLINE timer runs (lost, not yet open)
	// Intervals, when set, configures a signal's expected interval: asked when the signal is
	// first seen and again before it raises NO_DATA, so that configuration made after the
	// first reading (or loaded after it) still counts, and a 1-minute logger is not judged by
	// the 1 s default before its interval is learned.
	Intervals IntervalSource
}

// NewTechEvaluator returns an empty evaluator.
func NewTechEvaluator() *TechEvaluator {
	return &TechEvaluator{signals: make(map[string]*signal), devices: make(map[string]*devState),
		links: make(map[string]*link), lost: make(map[string]*link)}
}

// Expect configures the expected interval of a signal (0 removes the configuration).
func (x *TechEvaluator) Expect(tenant, device, metric string, every time.Duration) {
	s := x.sig(tenant, device, metric)
	s.expected, s.configured = every, every > 0
	if every <= 0 {
		s.expected = DefaultDataInterval
	}
}

func (x *TechEvaluator) sig(tenant, device, metric string) *signal {
	k := tenant + "/" + device + "/" + metric
	s := x.signals[k]
	if s == nil {
		s = &signal{tenant: tenant, device: device, metric: metric, expected: DefaultDataInterval}
		x.signals[k] = s
		x.configure(s)
		if !s.configured && spotMetrics[metric] {
			s.eventDriven = true
		}
	}
	return s
}

// spotMetrics are measured on demand or on a cycle of many minutes (a blood-pressure cuff, a
// glucose meter, a scale), not continuously: spec §8 raises NO_DATA for continuous sources
// only, and a missed home measurement is an adherence task (rpm.md), not an alarm. An
// IntervalSource that configures an interval for such a signal makes it a data source again.
var spotMetrics = map[string]bool{
	"nibp_sys": true, "nibp_dia": true, "nibp_mean": true, "pr_nibp": true, "glucose": true, "weight": true,
}

// configure applies the IntervalSource's answer for s, if it has one.
func (x *TechEvaluator) configure(s *signal) {
	if x.Intervals == nil {
		return
	}
	switch d := x.Intervals.ExpectedInterval(s.tenant, s.device, s.metric); {
	case d > 0:
		s.expected, s.configured, s.eventDriven = d, true, false
	case d < 0:
		s.eventDriven = true
	}
}

func (x *TechEvaluator) dev(tenant, device string) *devState {
	k := tenant + "/" + device
	d := x.devices[k]
	if d == nil {
		d = &devState{}
		x.devices[k] = d
	}
	return d
}

func techCond(tenant, subject, unit, device, metric string, code Code, st Status, at, onset time.Time, v, lim float64) Condition {
	info, _ := code.Info()
	if subject == "" {
		subject = device
	}
	return Condition{Tenant: tenant, Subject: subject, Unit: unit, Device: device, Metric: metric, Code: code,
		Kind: info.Kind, Priority: info.Priority, Latching: info.Latching, Status: st, At: at, Onset: onset, Value: v, Limit: lim}
}

// Reading records a valid reading (implausible ones are ignored) and appends the conditions
// it decides: NO_DATA cleared, battery transitions. Connectivity readings ("connected", sent
// on change by the server) and device status flags are no data source and never raise
// NO_DATA: pass them to Connectivity, Heartbeat, Status and SignalQuality.
func (x *TechEvaluator) Reading(r *reading.Reading, unit string, out []Condition) []Condition {
	if r.Flags&(reading.Implausible|reading.Control) != 0 || r.Metric == reading.MetricConnected {
		return out
	}
	if m, ok := reading.LookupMetric(r.Metric); ok && m.Flag {
		// Device status flags (heartbeat, sensor_off, signal_poor) may be sent only on change:
		// they are not data sources, and their own evaluators judge them.
		return out
	}
	t := r.Measured
	if t.IsZero() {
		t = r.Received
	}
	s := x.sig(r.Tenant, r.Device, r.Metric)
	s.subject, s.unit = r.Subject, unit
	if !s.configured && !s.last.IsZero() && t.After(s.last) && (t.Sub(s.last) < s.expected || s.expected == DefaultDataInterval) {
		s.expected = t.Sub(s.last)
	}
	if t.After(s.last) {
		s.last = t
	}
	// Only a reading that was fresh when it arrived ends a silence: a store-and-forward upload
	// of old readings fills the gap in the record but is not live data.
	if s.open && (r.Received.IsZero() || r.Received.Sub(t) < NoDataThreshold(s.expected)) {
		s.open = false
		out = append(out, techCond(r.Tenant, r.Subject, unit, r.Device, r.Metric, NoData, StatusCleared, t, t, 0, 0))
	}
	if r.Metric == "battery" && r.Kind == reading.Number {
		out = x.battery(r, unit, t, out)
	}
	return out
}

func (x *TechEvaluator) battery(r *reading.Reading, unit string, t time.Time, out []Condition) []Condition {
	d := x.dev(r.Tenant, r.Device)
	v := r.Value
	mk := func(code Code, st Status) Condition {
		lim := BatteryLowAt
		if code == BatteryCrit {
			lim = BatteryCriticalAt
		}
		return techCond(r.Tenant, r.Subject, unit, r.Device, "battery", code, st, t, t, v, lim)
	}
	if v <= BatteryCriticalAt && !d.battCrit {
		d.battCrit = true
		out = append(out, mk(BatteryCrit, StatusPresent))
	} else if d.battCrit && v >= BatteryCritClear {
		d.battCrit = false
		out = append(out, mk(BatteryCrit, StatusCleared))
	}
	if v <= BatteryLowAt && !d.battOpen {
		d.battOpen = true
		out = append(out, mk(BatteryLow, StatusPresent))
	} else if d.battOpen && v >= BatteryLowClear {
		d.battOpen = false
		out = append(out, mk(BatteryLow, StatusCleared))
	}
	return out
}

// Status records a device status flag sample; SENSOR_OFF is present once the flag has been
// set for more than SensorOffDelay and cleared when the flag clears.
func (x *TechEvaluator) Status(s DeviceStatus, out []Condition) []Condition {
	d := x.dev(s.Tenant, s.Device)
	switch {
	case s.SensorOff && d.offSince.IsZero():
		d.offSince = s.At
	case s.SensorOff && !d.offOpen && s.At.Sub(d.offSince) > SensorOffDelay:
		d.offOpen = true
		out = append(out, techCond(s.Tenant, s.Subject, s.Unit, s.Device, "sensor", SensorOff, StatusPresent, s.At, d.offSince, 1, 0))
	case !s.SensorOff:
		if d.offOpen {
			out = append(out, techCond(s.Tenant, s.Subject, s.Unit, s.Device, "sensor", SensorOff, StatusCleared, s.At, d.offSince, 0, 0))
		}
		d.offSince, d.offOpen = time.Time{}, false
	}
	return out
}

// SignalQuality records a device's poor-signal flag sample (spec §8 SIGNAL_QUALITY_LOW): LOW
// once flagged for more than PoorSignalDelay, MEDIUM after PoorSignalMedium, cleared after
// PoorSignalClear of good signal.
func (x *TechEvaluator) SignalQuality(s DeviceStatus, poor bool, out []Condition) []Condition {
	d := x.dev(s.Tenant, s.Device)
	mk := func(st Status, p Priority) Condition {
		c := techCond(s.Tenant, s.Subject, s.Unit, s.Device, "signal", SignalQuality, st, s.At, d.poorSince, 0, 0)
		c.Priority = p
		return c
	}
	if poor {
		d.goodSince = time.Time{}
		if d.poorSince.IsZero() {
			d.poorSince = s.At
		}
		switch held := s.At.Sub(d.poorSince); {
		case !d.poorOpen && held > PoorSignalDelay:
			d.poorOpen = true
			out = append(out, mk(StatusPresent, Low))
		case d.poorOpen && !d.poorMedium && held > PoorSignalMedium:
			d.poorMedium = true
			out = append(out, mk(StatusPresent, Medium))
		}
		return out
	}
	if !d.poorOpen {
		d.poorSince = time.Time{}
		return out
	}
	if d.goodSince.IsZero() {
		d.goodSince = s.At
	}
	if s.At.Sub(d.goodSince) >= PoorSignalClear {
		p := Low
		if d.poorMedium {
			p = Medium
		}
		out = append(out, mk(StatusCleared, p))
		d.poorSince, d.goodSince, d.poorOpen, d.poorMedium = time.Time{}, time.Time{}, false, false
	}
	return out
}

// SignalPoor reports whether the device's signal is flagged poor now: its physiological limit
// alarms are then not evaluated (spec §8).
func (x *TechEvaluator) SignalPoor(tenant, device string) bool {
	d := x.devices[tenant+"/"+device]
	return d != nil && !d.poorSince.IsZero() && d.goodSince.IsZero()
}

// Heartbeat measures clock skew, |device − received − latency|, and decides CLOCK_SKEW after
// SkewConsecutive heartbeats beyond the limit; it clears after as many below half the limit.
func (x *TechEvaluator) Heartbeat(h Heartbeat, out []Condition) []Condition {
	d := x.dev(h.Tenant, h.Device)
	limit := SkewLimitHospital
	if h.Home {
		limit = SkewLimitHome
	}
	skew := h.DeviceTime.Sub(h.Received) - h.Latency
	if skew < 0 {
		skew = -skew
	}
	if skew > limit {
		d.skewRun++
	} else {
		d.skewRun = 0
	}
	if skew < limit/2 {
		d.okRun++
	} else {
		d.okRun = 0
	}
	switch {
	case !d.skewOpen && d.skewRun >= SkewConsecutive:
		d.skewOpen = true
		out = append(out, techCond(h.Tenant, h.Subject, h.Unit, h.Device, "clock", ClockSkew, StatusPresent, h.Received, h.Received, skew.Seconds(), limit.Seconds()))
	case d.skewOpen && d.okRun >= SkewConsecutive:
		d.skewOpen = false
		out = append(out, techCond(h.Tenant, h.Subject, h.Unit, h.Device, "clock", ClockSkew, StatusCleared, h.Received, h.Received, skew.Seconds(), limit.Seconds()))
	}
	return out
}

// ClockSkewed reports whether the device has an open CLOCK_SKEW: its readings are then
// evaluated by received time (Sample.UseReceived) and flagged time-uncertain.
func (x *TechEvaluator) ClockSkewed(tenant, device string) bool {
	d := x.devices[tenant+"/"+device]
	return d != nil && d.skewOpen
}

// Connectivity records a change of a device's transport session (spec §8 DEVICE_OFFLINE): a
// lost session starts the timer that Check fires once it has been lost for more than
// DeviceOfflineDelay; a reconnect stops it and clears DEVICE_OFFLINE. A clean disconnect
// stops the timer too (the device went away on purpose: not "session lost") but clears
// nothing: only a reconnect does.
//
// The first reconnect of a device this evaluator sees appends a CLEARED even with nothing
// open here: an alarm raised before the checkpoint the processor restarted from is open in
// the engine but unknown to this fresh evaluator, and the engine ignores a CLEARED that
// matches no open alarm.
func (x *TechEvaluator) Connectivity(c Connectivity, out []Condition) []Condition {
	k := c.Tenant + "/" + c.Device
	l, known := x.links[k]
	if !known {
		l = &link{tenant: c.Tenant, device: c.Device}
		x.links[k] = l
	}
	l.subject, l.unit, l.home = c.Subject, c.Unit, c.Home
	switch {
	case c.Connected:
		delete(x.lost, k)
		if l.open || !known {
			out = append(out, l.cond(StatusCleared, c.At, c.At, 0))
		}
		l.lostAt, l.open, l.grace = time.Time{}, false, time.Time{}
	case !c.Lost:
		delete(x.lost, k)
		l.lostAt, l.grace = time.Time{}, time.Time{}
	case l.lostAt.IsZero() && !l.open:
		l.lostAt, l.grace = c.At, time.Time{}
		x.lost[k] = l
	}
	return out
}

func (l *link) cond(st Status, at, onset time.Time, offline time.Duration) Condition {
	c := techCond(l.tenant, l.subject, l.unit, l.device, reading.MetricConnected, DeviceOffline, st, at, onset,
		offline.Seconds(), DeviceOfflineDelay.Seconds())
	if l.home {
		c.Priority = Low
	}
	return c
}

// Check applies the timers at now: NO_DATA for every signal silent for NoDataThreshold of its
// expected interval (At = last + threshold, the exact firing time), then DEVICE_OFFLINE for
// every device whose session has been lost for more than DeviceOfflineDelay (At = lost +
// delay, Onset = lost). Conditions are appended in signal-key order, then device-key order.
func (x *TechEvaluator) Check(now time.Time, out []Condition) []Condition {
	var due []string
	for k, s := range x.signals {
		if s.open || s.eventDriven || s.last.IsZero() || now.Before(s.from().Add(NoDataThreshold(s.expected))) {
			continue
		}
		x.configure(s) // configuration may have changed since the signal was first seen
		if s.eventDriven || now.Before(s.from().Add(NoDataThreshold(s.expected))) {
			continue
		}
		due = append(due, k)
	}
	slices.Sort(due)
	for _, k := range due {
		s := x.signals[k]
		at := s.from().Add(NoDataThreshold(s.expected))
		s.open = true
		out = append(out, techCond(s.tenant, s.subject, s.unit, s.device, s.metric, NoData, StatusPresent, at, at, now.Sub(s.last).Seconds(), NoDataThreshold(s.expected).Seconds()))
	}
	due = due[:0]
	for k, l := range x.lost {
		if now.Sub(l.offFrom()) > DeviceOfflineDelay {
			due = append(due, k)
		}
	}
	slices.Sort(due)
	for _, k := range due {
		l := x.lost[k]
		delete(x.lost, k)
		l.open = true
		out = append(out, l.cond(StatusPresent, l.offFrom().Add(DeviceOfflineDelay), l.lostAt, now.Sub(l.lostAt)))
	}
	return out
}

// offFrom is when the link's offline timer started: the loss, or a later Rebase.
func (l *link) offFrom() time.Time {
	if l.grace.After(l.lostAt) {
		return l.grace
	}
	return l.lostAt
}

// Rebase restarts the silence and offline timers that are running (not those whose alarm is
// open) at now, for an evaluator restored after a restart: a device that does not report again
// raises NO_DATA (DEVICE_OFFLINE) a full threshold after processing resumed, instead of at once
// for the time Vigil itself was down — devices resend what they buffered meanwhile, and a burst
// of alarms for every device after each restart would teach staff to ignore them. Vigil's own
// downtime is an operations matter (its health and metrics), not one alarm per device.
func (x *TechEvaluator) Rebase(now time.Time) {
	for _, s := range x.signals {
		if !s.open {
			s.grace = now
		}
	}
	for _, l := range x.lost {
		l.grace = now
	}
}
